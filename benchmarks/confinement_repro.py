"""The reproductions of the confinement issue (19, items 1-6), against the code on the
path (a script, not a test): prints HARM or SAFE for each, and how many did harm.

    .venv/bin/python benchmarks/confinement_repro.py
    PYTHONPATH=/path/to/older/checkout .venv/bin/python benchmarks/confinement_repro.py

Run it with a FAKE_SECRET in the environment to check the linked profile (a process's
/proc/self/environ is the environment it started with). Needs fio, bc and bwrap; every
file it makes is under a fresh temporary directory, removed at the end. The tests under
tests/ are what guards each case; this only puts them side by side for a before/after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest_fioloadgen
from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.backends.sandbox import choose_sandbox
from pytest_fioloadgen.exceptions import FioLoadgenError, ProfileError
from pytest_fioloadgen.profiles import check_safety, check_with_fio, load_profile, parse_profile

VERIFY_READ = (
    "rw=read\nbs=2\noffset=0\nsize=12\nverify=crc32c\nverify_only=1\ncontinue_on_error=all\n"
)
SPIN = "[j]\nrw=read\nsize=$ncpus*0+1m\\ni=0\\nwhile(i<3*10^8){i=i+1}\n"


def accepted(text: str) -> bool:
    """Whether the safety policy (and, where the code has them, the resource caps) let
    ``text`` through."""
    try:
        profile = parse_profile(text, name="p")
        check_safety(profile)
        with contextlib.suppress(ImportError):
            from pytest_fioloadgen.profiles.caps import DEFAULT_CAPS, check_caps

            check_caps(profile, DEFAULT_CAPS)
    except ProfileError:
        return False
    return True


def verify_read_leaks(scratch: Path) -> bool:
    """The verify-read of a file outside the worker directory, in the default sandbox."""
    canary = scratch / "canary"
    canary.mkdir()
    (canary / "secret").write_text("TOPSECRET-xy")
    target = scratch / "target"
    target.mkdir()
    backend = LocalBackend(
        [LocalTarget("t", target)],
        session_id=uuid.uuid4().hex,
        sandbox=choose_sandbox("bwrap", where="repro"),
    )
    env = backend.deploy(["t"], 1)
    said = ""
    try:
        job = f"[j]\n{VERIFY_READ}filename={canary}/secret\n"
        backend.run_job(env, job, env.workers["t"], expected_runtime_s=2)
    except FioLoadgenError as err:
        said = f"{err} {getattr(err, 'stderr_tail', '')}"
    finally:
        backend.teardown(env)
    return "4f54" in said  # "TO", as fio's verify reported it


def parse_leaves_bc_running() -> bool:
    """fio --parse-only of a value fio hands to bc, stopped by its timeout."""
    tag = f"repro-{uuid.uuid4().hex}"
    os.environ["REPRO_TAG"] = tag
    with contextlib.suppress(ProfileError):
        check_with_fio(parse_profile(SPIN, name="spin"), timeout_s=3)
    time.sleep(0.5)
    left = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            ours = tag.encode() in (entry / "environ").read_bytes()
            if ours and (entry / "comm").read_text().strip() in ("sh", "dash", "bc", "fio"):
                left.append(int(entry.name))
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return bool(left)


def linked_profile_prints_the_environment(scratch: Path) -> bool:
    secret = os.environ.get("FAKE_SECRET")
    if not secret:
        raise SystemExit("run with FAKE_SECRET=... in the environment")
    profiles = scratch / "profiles"
    profiles.mkdir()
    (profiles / "env.fio").symlink_to("/proc/self/environ")
    try:
        load_profile(profiles / "env.fio")
    except ProfileError as err:
        return secret in str(err)
    return True


def secret_in_the_stored_text() -> bool:
    try:
        profile = parse_profile("[j]\nrw=read\ndescription=${FAKE_SECRET}\n", name="p")
    except ProfileError:
        return False
    stored: Callable[[], str] = getattr(profile, "stored_text", profile.render)
    return os.environ["FAKE_SECRET"] in stored()


def main() -> int:
    print(f"code from {Path(pytest_fioloadgen.__file__).parent}")
    with tempfile.TemporaryDirectory(prefix="fioloadgen-repro-") as tmp:
        scratch = Path(tmp)
        cases: dict[str, Callable[[], bool]] = {
            "1 bc opendir passes the policy": lambda: accepted(
                '[j]\nrw=write\nsize=4k\nopendir=x=$ncpus/1\\n"/srv/canary\\n"\n'
            ),
            "1 bc size passes the policy": lambda: accepted("[j]\nrw=read\nsize=$ncpus*0+1m\n"),
            "1 verify-read leaks through the sandbox": lambda: verify_read_leaks(scratch),
            "1 parse-only leaves sh/bc running": parse_leaves_bc_running,
            "2 a linked profile prints the environment": lambda: (
                linked_profile_prints_the_environment(scratch)
            ),
            "3 a secret reaches the stored text": secret_in_the_stored_text,
            "4 log_avg_msec=0 passes": lambda: accepted(
                "[global]\nlog_avg_msec=0\nioengine=null\ntime_based\nruntime=1\nnumjobs=2\n[j]\n"
            ),
            "5 numjobs=400 passes": lambda: accepted("[j]\nrw=read\nsize=1m\nnumjobs=400\n"),
            "5 iodepth=128 bs=16m passes": lambda: accepted(
                "[j]\nioengine=libaio\niodepth=128\nbs=16m\nrw=read\nsize=1g\n"
            ),
            "5 ramp_time=30d passes": lambda: accepted(
                "[j]\nrw=read\nsize=1m\nramp_time=30d\nruntime=1\n"
            ),
            "6 a NUL byte passes": lambda: accepted("[j]\nrw=read\ndescription=a\x00b\n[k]\n"),
        }
        harms = 0
        for name, case in cases.items():
            harm = case()
            harms += harm
            print(f"{name:44} {'HARM' if harm else 'SAFE'}")
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{harms} of {len(cases)} did harm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
