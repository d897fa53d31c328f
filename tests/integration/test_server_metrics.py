"""``GET /metrics`` scraped over real HTTP and read by prometheus_client's own parsers.

A real sqlite history of several sessions (a steady key, a regressed one, one with a level
shift, one whose newest run failed, runs without a key) and a real job queue; what the
endpoint exposes is checked against the store and against what the read API answers
without the token for the same keys.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from pytest_fioloadgen.store.base import RunRecord
from pytest_fioloadgen.verdicts.regression import DEFAULT_GATED_METRICS
from pytest_fioloadgen.verdicts.status import Status
from tests.conftest import server_config

STEADY, REGRESSED, SHIFTED, FAILED = "a" * 16, "b" * 16, "c" * 16, "d" * 16
T0 = 1_700_000_000.0


def run(key: str, number: int, iops: float, **changes) -> RunRecord:
    """Run ``number`` of a key, in session ``s<number // 10>`` (a suite run of every key)."""
    fields = dict(
        run_id=f"{key[0]}-{number:03d}",
        session_id=f"s{number // 10}",
        profile_name=f"profile-{key[0]}",
        profile_hash="h" * 64,
        profile_text="[job]\nrw=randrw\n",
        workers=2,
        backend="local",
        target="fast" if key != FAILED else "slow",
        started_at=T0 + number * 60 + ord(key[0]),
        finished_at=T0 + number * 60 + ord(key[0]) + 30,
        metrics={
            "iops": iops,
            "read_lat_mean_ms": 1000.0 / iops,
            "read_lat_p99_ms": 3000.0 / iops,
            "write_lat_mean_ms": 1100.0 / iops,
            "write_lat_p99_ms": 3300.0 / iops,
            "bw_mib_s": iops * 4 / 1024,
        },
        labels={"git_commit": f"c{number}"},
        test_id=f"tests/test_io.py::test_io[{key[0]}]",
        verdict="pass",
        history_key=key,
    )
    return RunRecord(**{**fields, **changes})


def record_history(store) -> None:
    rng = random.Random(7)
    for number in range(40):
        store.record(run(STEADY, number, rng.gauss(1000.0, 10.0)))
        # A level shift from 1000 to 800 IOPS at run 20 (a change point), each run judged.
        level = 1000.0 if number < 20 else 800.0
        store.record(run(SHIFTED, number, rng.gauss(level, 10.0)))
    for number in range(12):
        regressed = number == 11
        store.record(
            run(
                REGRESSED,
                number,
                700.0 if regressed else rng.gauss(1000.0, 10.0),
                verdict="regression" if regressed else "pass",
            )
        )
        failed = number == 11
        store.record(
            run(
                FAILED,
                number,
                rng.gauss(500.0, 5.0),
                **({"status": "failed", "verdict": "error", "metrics": {}} if failed else {}),
            )
        )
    # Runs without a key (as imported documents of unknown cases) have no history.
    store.record(run(STEADY, 99, 1.0, run_id="unkeyed", history_key=""))


def scrape(url: str, **headers: str) -> dict[str, list]:
    response = requests.get(f"{url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {f.name: f.samples for f in text_string_to_metric_families(response.text)}


def by_key(samples: list, *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels[name] for name in labels): s.value for s in samples}


def single(families: dict[str, list], name: str) -> float:
    (sample,) = families[name]
    return sample.value


@pytest.fixture
def live(start_server):
    server = start_server()
    record_history(server.server.ctx.store)
    return server


def test_scrape_matches_the_store_and_the_read_api(live):
    for _ in range(3):
        requests.post(
            f"{live.url}/api/v1/jobs",
            json={"profile": "randread-4k", "workers": 1, "title": "queued run"},
            headers=live.auth,
            timeout=10,
        ).raise_for_status()
    live.server.ctx.jobs.claim_next()  # as the executor does when it starts one

    families = scrape(live.url)  # without the token: what any reader of the API may see
    from fioloadgen_server.metrics import METRIC_NAMES

    assert sorted(families) == sorted(METRIC_NAMES)
    keys = [STEADY, REGRESSED, SHIFTED, FAILED]
    assert single(families, "fioloadgen_history_keys") == 4
    assert single(families, "fioloadgen_history_keys_exported") == 4
    assert single(families, "fioloadgen_history_keys_dropped") == 0
    assert single(families, "fioloadgen_history_keys_pending") == 0
    assert single(families, "fioloadgen_history_keys_max") == 2000
    assert by_key(families["fioloadgen_jobs"], "state") == {("queued",): 2, ("running",): 1}
    assert single(families, "fioloadgen_executor_alive") == 0  # served with the executor off

    store = live.server.ctx.store
    info = {s.labels["history_key"]: s.labels for s in families["fioloadgen_key_info"]}
    latest = by_key(families["fioloadgen_key_latest_value"], "history_key", "metric")
    baseline = by_key(families["fioloadgen_key_baseline_value"], "history_key", "metric")
    changes = by_key(families["fioloadgen_key_change_points"], "history_key", "metric")
    verdicts = by_key(families["fioloadgen_key_verdict"], "history_key", "verdict")
    severity = by_key(families["fioloadgen_key_verdict_severity"], "history_key")
    newest_at = by_key(families["fioloadgen_key_newest_run_timestamp_seconds"], "history_key")
    assert sorted(info) == sorted(keys)
    for key in keys:
        (newest,) = store.query(history_key=key, limit=1)
        (completed,) = store.query(history_key=key, status="complete", limit=1)
        assert info[key] == {
            "history_key": key,
            "test": newest.test_id,
            "profile": newest.profile_name,
            "workers": "2",
            "backend": "local",
            "target": newest.target,
        }
        assert newest_at[(key,)] == newest.started_at
        assert verdicts[(key, newest.verdict)] == 1.0
        assert severity[(key,)] == Status(newest.verdict).severity
        for metric in DEFAULT_GATED_METRICS:
            assert latest[(key, metric)] == pytest.approx(completed.metrics[metric], rel=1e-12)
            # The History view's answer for the key, asked without the token.
            answer = requests.get(
                f"{live.url}/api/v1/history/{key}",
                params={"metric": metric, "limit": 5000},
                timeout=10,
            )
            assert answer.status_code == 200
            document = answer.json()["data"]
            assert latest[(key, metric)] == pytest.approx(document["points"][-1]["value"])
            assert changes[(key, metric)] == len(document["change_points"])
            band = document["baseline_band"]
            assert baseline[(key, metric)] == pytest.approx(band["center"])
    # One series per key (and metric), one verdict each.
    assert len(verdicts) == len(keys)
    assert {k: v for k, v in verdicts.items() if k[0] in (REGRESSED, FAILED)} == {
        (REGRESSED, "regression"): 1.0,
        (FAILED, "error"): 1.0,
    }
    assert changes[(SHIFTED, "iops")] == 1
    assert changes[(STEADY, "iops")] == 0
    # The failed newest run has no figures: the latest value is the run before it.
    assert latest[(FAILED, "iops")] == store.get("d-010").metrics["iops"]


def test_a_new_run_shows_at_the_next_scrape(live):
    before = scrape(live.url)
    store = live.server.ctx.store
    store.record(run(STEADY, 40, 640.0, verdict="regression"))
    after = scrape(live.url)
    latest = by_key(after["fioloadgen_key_latest_value"], "history_key", "metric")
    assert latest[(STEADY, "iops")] == 640.0
    verdicts = by_key(after["fioloadgen_key_verdict"], "history_key", "verdict")
    assert (STEADY, "regression") in verdicts and (STEADY, "pass") not in verdicts
    assert by_key(before["fioloadgen_key_verdict"], "history_key", "verdict")[(STEADY, "pass")]
    # A key whose runs are all deleted is gone from the next scrape.
    for number in range(12):
        live.server.ctx.delete_job(f"b-{number:03d}")
    gone = scrape(live.url)
    assert REGRESSED not in {s.labels["history_key"] for s in gone["fioloadgen_key_info"]}
    assert single(gone, "fioloadgen_history_keys") == 3


def test_the_cap_keeps_the_keys_with_the_newest_runs(start_server, tmp_path):
    config = dataclasses.replace(server_config(tmp_path / "capped"), metrics_max_keys=2)
    live = start_server(config=config)
    record_history(live.server.ctx.store)
    families = scrape(live.url)
    exported = {s.labels["history_key"] for s in families["fioloadgen_key_info"]}
    # STEADY and SHIFTED have 40 runs, the others 12: theirs are the newest.
    assert exported == {STEADY, SHIFTED}
    assert single(families, "fioloadgen_history_keys") == 4
    assert single(families, "fioloadgen_history_keys_exported") == 2
    assert single(families, "fioloadgen_history_keys_dropped") == 2
    assert single(families, "fioloadgen_history_keys_max") == 2
    for name in ("fioloadgen_key_latest_value", "fioloadgen_key_verdict"):
        assert {s.labels["history_key"] for s in families[name]} == exported


def test_prometheus_accept_header_gets_the_text_format(live):
    # What Prometheus asks for by default: it takes the text format among others.
    accept = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    families = scrape(live.url, Accept=accept)
    assert single(families, "fioloadgen_history_keys_exported") == 4


def test_only_get_and_no_token_needed_nor_taken(live):
    # Reads of the history need no token on this server; /metrics is one of them, and a
    # token changes nothing it shows.
    assert scrape(live.url) == scrape(live.url, **live.auth)
    refused = requests.post(f"{live.url}/metrics", headers=live.auth, timeout=10)
    assert refused.status_code == 405
    assert "not allowed" in refused.json()["message"]
