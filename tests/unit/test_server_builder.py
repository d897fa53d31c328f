"""The profile builder: every job file it can make passes fio's parser (real fio on the
extremes), a preview runs no fio process, and previews are rate-bounded per client."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest
from fioloadgen_server.app import build_context, create_app
from fioloadgen_server.builder import build_job_file
from fioloadgen_server.http import RateLimiter
from fioloadgen_server.jobsdb import JobError
from werkzeug.test import Client

from pytest_fioloadgen.profiles import parse_profile, validate
from pytest_fioloadgen.settings import resolve
from tests.conftest import server_config

EXTREMES = {
    "pattern": ("random", "sequential"),
    "read_pct": (0, 50, 100),
    "block_size": ("512", "64m"),
    "iodepth": (1, 1024),
    "runtime": (1, 86400),
    "size": ("64m", "65536g"),
}


def test_every_extreme_spec_is_a_job_file_fio_accepts():
    # Each value at least once, each pair of pattern and read mix: fio's own parser judges.
    specs = [
        {"pattern": p, "read_pct": r, "block_size": b, "iodepth": d, "runtime": t, "size": s}
        for (p, r), b, d, t, s in zip(
            itertools.product(EXTREMES["pattern"], EXTREMES["read_pct"]),
            itertools.cycle(EXTREMES["block_size"]),
            itertools.cycle(EXTREMES["iodepth"]),
            itertools.cycle(EXTREMES["runtime"]),
            itertools.cycle(EXTREMES["size"]),
        )
    ]
    for spec in specs:
        text = build_job_file(spec)
        validate(parse_profile(text, name="custom", env={}))  # raises ProfileError if not


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"block_size": "0"}, "block_size '0' must be from 512 to 64m"),
        ({"block_size": "128m"}, "must be from 512 to 64m"),
        ({"block_size": "4 k"}, "not like 4k or 1m"),
        ({"block_size": ["4k"]}, "not like 4k or 1m"),
        ({"size": "0m"}, "size '0m' must be from 1m to 64t"),
        ({"size": "1024t"}, "not like 256m or 1g"),
        ({"block_size": "64m", "size": "1m"}, "block_size 64m is larger than size 1m"),
        ({"read_pct": "\u0661"}, "read_pct"),
        ({"iodepth": 1.5}, "iodepth must be an integer"),
        ({"pattern": ["random"]}, "pattern"),
    ],
)
def test_out_of_range_specs_are_refused_naming_the_parameter(fields, text):
    with pytest.raises(JobError) as caught:
        build_job_file({"pattern": "random", **fields})
    assert text in str(caught.value)


def test_a_block_size_may_be_a_number_of_bytes():
    assert "bs=4096" in build_job_file({"block_size": 4096})


@pytest.fixture
def no_fio_server(tmp_path):
    """A server whose fio binary does not exist: anything that runs fio fails."""
    base = server_config(tmp_path)
    settings = resolve(
        rootdir=tmp_path,
        cli={"runtime": "1", "size": "4m", "workers": "2", "binary": str(tmp_path / "no-fio")},
        env={},
        ini={},
    )
    context = build_context(replace(base, settings=settings))
    yield context, Client(create_app(context))
    context.store.close()
    context.jobs.close()


def test_a_preview_needs_no_token_and_runs_no_fio(no_fio_server):
    ctx, client = no_fio_server
    spec = {"pattern": "random", "read_pct": 70, "block_size": "16k", "iodepth": 8}
    preview = client.post("/api/v1/profile-builder", json=spec)
    assert preview.status_code == 200, preview.get_data(as_text=True)
    assert "rwmixread=70" in json.loads(preview.get_data(as_text=True))["data"]["text"]
    # Saving the same spec does run fio (and so fails here): the check really is skipped.
    saved = client.put(
        "/api/v1/profiles/built",
        json={"spec": spec},
        headers={"Authorization": f"Bearer {ctx.token}"},
    )
    assert saved.status_code == 400
    assert "no-fio" in json.loads(saved.get_data(as_text=True))["message"]


def test_previews_are_rate_bounded_per_client(no_fio_server):
    _ctx, client = no_fio_server
    spec = {"pattern": "random"}
    answers = [
        client.post("/api/v1/profile-builder", json=spec, environ_base={"REMOTE_ADDR": "192.0.2.1"})
        for _ in range(25)
    ]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:20] == [200] * 20  # the burst
    assert 429 in statuses[20:]
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert "too many profile-builder requests from 192.0.2.1" in refused.get_data(as_text=True)
    # Another client has its own share.
    other = client.post(
        "/api/v1/profile-builder", json=spec, environ_base={"REMOTE_ADDR": "192.0.2.2"}
    )
    assert other.status_code == 200


def test_rate_limiter_refills_and_forgets_old_clients():
    now = [0.0]
    limiter = RateLimiter(2.0, 3, max_clients=2, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.acquire("a") == 0.0  # one token back after 1/rate seconds
    limiter.acquire("b")
    limiter.acquire("c")  # "a" is the least recently seen of three: forgotten
    assert limiter.acquire("a") == 0.0  # a fresh bucket
