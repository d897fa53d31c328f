"""BenchmarkSession with real fio: prefill, history keys, scaling."""

from __future__ import annotations

import uuid

import pytest

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.verdicts.thresholds import Thresholds

READ = "[global]\nioengine=psync\nsize=8m\nruntime=1\ntime_based\nrate_iops=300\n[r]\nrw=randread\nbs=4k\n"


class RecordingBackend(LocalBackend):
    """The local backend, noting every job text it is asked to run."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.jobs: list[str] = []

    def run_job(self, env, job_text, workers, **kwargs):
        self.jobs.append(job_text)
        return super().run_job(env, job_text, workers, **kwargs)


@pytest.fixture
def session(tmp_path):
    backend = RecordingBackend([LocalTarget("t")], session_id=uuid.uuid4().hex)
    store = open_store(str(tmp_path / "h.db"))
    bench = BenchmarkSession(
        backend=backend,
        targets=["t"],
        max_workers=2,
        store=store,
        thresholds=Thresholds.empty(),
        prefill=True,
    )
    yield bench
    bench.close()
    store.close()


def test_prefill_writes_a_read_profiles_files_once(session):
    profile = parse_profile(READ, name="r")
    case = Case(profile, 1, "t")
    session.run(case)
    session.run(case)
    jobs = session.backend.jobs
    assert len(jobs) == 3  # one prefill, two reads
    prefill = jobs[0]
    assert "rw=write" in prefill and "bs=1m" in prefill
    assert "time_based" not in prefill and "rate_iops" not in prefill and "runtime" not in prefill
    assert "[r]" in prefill  # same job name: fio lays out the same file name
    assert "rw=randread" in jobs[1] and jobs[1] == jobs[2]


def test_write_profiles_are_not_prefilled(session):
    profile = parse_profile(READ.replace("randread", "randwrite"), name="w")
    session.run(Case(profile, 1, "t"))
    assert len(session.backend.jobs) == 1


def test_runs_share_a_history_key_per_case_and_scale(session):
    profile = parse_profile(READ, name="r")
    one = session.run(Case(profile, 1, "t"))
    two = session.run(Case(profile, 2, "t"))
    again = session.run(Case(profile, 1, "t"))
    assert one.record.history_key == again.record.history_key
    assert one.record.history_key != two.record.history_key
    assert one.result.metrics["scaling_efficiency"] == 1.0
    assert two.result.metrics["scaling_efficiency"] == pytest.approx(1.0, abs=0.15)  # rate-limited
    stored = session.store.query(history_key=one.record.history_key)
    assert {run.run_id for run in stored} == {one.record.run_id, again.record.run_id}
