"""fio --parse-only is a fio process like the others: confined, limited, and nothing of it
outlives the check.

The reproduction: ``size=$ncpus*0+1m\\ni=0\\nwhile(i<3*10^8){i=i+1}`` made fio's parse run
``sh -c "echo '...' | bc"``; collection failed after 30 s, pytest exited, and ``sh`` and
``bc`` kept running under PID 1 at 100 % CPU. Here the policy is bypassed on purpose (it
refuses the line): the process handling alone must hold.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest

from pytest_fioloadgen.backends.sandbox import UNCONFINED, choose_sandbox
from pytest_fioloadgen.exceptions import ProfileError
from pytest_fioloadgen.fio.process import MARKER_VARIABLE
from pytest_fioloadgen.profiles import check_with_fio, parse_profile

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("fio") is None or shutil.which("bc") is None, reason="needs fio and bc"
    ),
]

SPINNING_BC = "[j]\nrw=read\nsize=$ncpus*0+1m\\ni=0\\nwhile(i<3*10^8){i=i+1}\n"


def _left_behind(tag: str) -> list[str]:
    """fio, sh and bc processes that carry the test's tag or the harness's marker in
    their environment: what a parse left running."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            name = (entry / "comm").read_text().strip()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z" or name not in ("fio", "sh", "dash", "bc"):
            continue
        if tag.encode() in environ or f"{MARKER_VARIABLE}=".encode() in environ:
            found.append(f"{entry.name} {name}")
    return found


@pytest.fixture
def tag(monkeypatch):
    """A variable of the test's own: a process that inherited the harness's environment
    carries it (the harness must give fio none of it)."""
    value = f"fioloadgen-parse-{uuid.uuid4().hex}"
    monkeypatch.setenv("FIOLOADGEN_TEST_TAG", value)
    yield value
    for line in _left_behind(value):  # never leave a spinning bc to the next test
        os.kill(int(line.split()[0]), signal.SIGKILL)


def test_a_parse_that_spins_bc_is_killed_with_everything_it_started(tag):
    profile = parse_profile(SPINNING_BC, name="spin")
    started = time.monotonic()
    with pytest.raises(ProfileError) as info:
        check_with_fio(profile, sandbox=UNCONFINED, timeout_s=3)
    assert str(info.value) == (
        "profile 'spin': fio --parse-only did not finish in 3 s; it and everything it started"
        " were killed"
    )
    assert time.monotonic() - started < 15
    assert _left_behind(tag) == []


def test_in_the_sandbox_there_is_no_bc_to_spin(tag):
    profile = parse_profile(SPINNING_BC, name="spin")
    with pytest.raises(ProfileError) as info:
        check_with_fio(profile, sandbox=choose_sandbox("bwrap", where="test"), timeout_s=30)
    assert "fio --parse-only refused it: fio: bc is needed for performing math" in str(info.value)
    assert _left_behind(tag) == []
