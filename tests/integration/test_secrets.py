"""No environment variable's value reaches a record, with real fio and a real store.

The reproduction: with ``description=${FAKE_SECRET}`` the stored profile text and the raw
JSON's job options held the secret, and ``GET /api/v1/runs/<id>`` returned them without a
token. Now ``${VAR}`` expands only for variables the user named (``--fio-env``), the
stored text keeps ``${VAR}``, and fio's echo of the options (and its errors) is scrubbed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid

import pytest

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.backends.sandbox import choose_sandbox
from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.exceptions import FioLoadgenError, ProfileError
from pytest_fioloadgen.profiles import allowed_variables, parse_profile
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.verdicts.thresholds import Thresholds

pytestmark = pytest.mark.slow

SECRET = f"hunter2-{uuid.uuid4().hex[:8]}"
#: Letters only: fio reads a size from any digits it finds (bs=x-1a is a block of 1).
BAD_SIZE = "bogus" + "".join(chr(ord("g") + int(digit, 16)) for digit in uuid.uuid4().hex[:10])
PROFILE = (
    "[global]\nioengine=psync\nsize=1m\nruntime=1\n"
    "[r]\nrw=read\nbs=4k\ndescription=${FAKE_SECRET}\n"
)


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SECRET", SECRET)
    monkeypatch.setenv("BAD_SIZE", BAD_SIZE)
    backend = LocalBackend(
        [LocalTarget("t", tmp_path)],
        session_id=uuid.uuid4().hex,
        sandbox=choose_sandbox("auto", where="test"),
    )
    store = open_store(str(tmp_path / "h.db"))
    bench = BenchmarkSession(
        backend=backend,
        targets=["t"],
        max_workers=1,
        store=store,
        thresholds=Thresholds.empty(),
    )
    yield bench
    bench.close()
    store.close()


def test_a_variable_nobody_allowed_never_expands():
    with pytest.raises(ProfileError, match="allow it with --fio-env FAKE_SECRET"):
        parse_profile(PROFILE, name="p", env=allowed_variables([], os.environ))


def test_an_allowed_variables_value_is_neither_stored_nor_echoed(session):
    variables = allowed_variables(["FAKE_SECRET", "BAD_SIZE"], os.environ)
    ran = session.run(Case(parse_profile(PROFILE, name="p", env=variables), 1, "t"))
    # fio really ran with the value (its json+ output in memory says so).
    assert ran.result.raw["client_stats"][0]["desc"] == SECRET
    failing = PROFILE + "bs=${BAD_SIZE}\n"
    with pytest.raises(FioLoadgenError) as failed:
        session.run(Case(parse_profile(failing, name="q", env=variables), 1, "t"))
    # fio's error quotes the option (one line, the last of its output); the test report
    # shows the reference, not the value.
    assert "bs=${BAD_SIZE}" in str(failed.value), str(failed.value)
    assert BAD_SIZE not in str(failed.value)
    stored = session.store.query(limit=10)
    assert len(stored) == 2
    for record in stored:
        assert "${FAKE_SECRET}" in record.profile_text
        document = json.dumps(dataclasses.asdict(record))
        assert SECRET not in document and BAD_SIZE not in document
    failure = next(record for record in stored if record.status == "failed")
    assert "${BAD_SIZE}" in failure.error
