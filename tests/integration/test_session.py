"""BenchmarkSession with real fio: prefill, history keys, scaling."""

from __future__ import annotations

import uuid
from pathlib import Path

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


def _planned_session(tmp_path, planned_texts):
    backend = RecordingBackend([LocalTarget("t")], session_id=uuid.uuid4().hex)
    bench = BenchmarkSession(
        backend=backend,
        targets=["t"],
        max_workers=2,
        store=None,
        thresholds=Thresholds.empty(),
    )
    profiles = {name: parse_profile(text, name=name) for name, text in planned_texts.items()}
    bench.planned = [Case(profile, count, "t") for profile in profiles.values() for count in (1, 2)]
    return bench, profiles


def test_the_planned_reads_are_laid_out_in_one_round(tmp_path):
    """A fio client round costs a second or two whatever it does: the first read lays out
    the files of every read the session has planned (each once, all workers), and later
    reads run no layout round of their own. A write lays out nothing; a read whose job
    name another layout of the round uses waits for its own round (same file names)."""
    other = READ.replace("[r]", "[other]").replace("size=8m", "size=4m")
    same_name = READ.replace("rate_iops=300", "rate_iops=200").replace("size=8m", "size=6m")
    writes = READ.replace("randread", "randwrite").replace("[r]", "[w]")
    bench, profiles = _planned_session(
        tmp_path, {"r": READ, "other": other, "same-name": same_name, "w": writes}
    )
    try:
        bench.run(Case(profiles["r"], 1, "t"))
        layouts = [job for job in bench.backend.jobs if "create_only=1" in job]
        assert len(layouts) == 2 and len(bench.backend.jobs) == 3
        assert {"[r]" in job for job in layouts} == {True, False}
        assert any("[other]" in job and "size=4m" in job for job in layouts)
        assert "create_only" not in bench.backend.jobs[-1]  # the measured run comes last
        directories = bench.environment().details["directories"]["t"]
        for worker in ("w0", "w1"):
            laid_out = Path(directories, worker, "other.0.0")
            assert laid_out.stat().st_size == 4 * 2**20
        bench.backend.jobs.clear()
        bench.run(Case(profiles["other"], 2, "t"))
        assert ["create_only=1" in job for job in bench.backend.jobs] == [False]
        bench.backend.jobs.clear()
        bench.run(Case(profiles["same-name"], 1, "t"))
        assert ["create_only=1" in job for job in bench.backend.jobs] == [True, False]
    finally:
        bench.close()
