"""Repeatability with real fio: a noisy repeat makes the case unstable; --fio-until-stable
re-runs it until the latest repeats agree; fio's steady state is recorded."""

from __future__ import annotations

import uuid

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.verdicts.gating import GatingPolicy
from pytest_fioloadgen.verdicts.status import Status
from pytest_fioloadgen.verdicts.thresholds import Thresholds

# A cap far below what the disk does: the figures are the cap's, steady from run to run.
STEADY = (
    "[global]\nioengine=psync\ndirect=1\nsize=8m\nruntime=1\ntime_based\nrate_iops=300\n"
    "[r]\nrw=randread\nbs=4k\n"
)


class NoisyBackend(LocalBackend):
    """The local backend; the measured runs named in ``noisy`` (0-based) get a third of
    the rate, like a neighbour stealing the device during one repeat. The layout round
    before the first read (no rate, no measurement) is not counted."""

    def __init__(self, *args, noisy: set[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.noisy = noisy
        self.runs = 0

    def run_job(self, env, job_text, workers, **kwargs):
        if "rate_iops=300" not in job_text:
            return super().run_job(env, job_text, workers, **kwargs)
        if self.runs in self.noisy:
            job_text = job_text.replace("rate_iops=300", "rate_iops=100")
        self.runs += 1
        return super().run_job(env, job_text, workers, **kwargs)


def session_with(tmp_path, noisy: set[int], until_stable: int = 0) -> BenchmarkSession:
    backend = NoisyBackend([LocalTarget("t", tmp_path)], session_id=uuid.uuid4().hex, noisy=noisy)
    return BenchmarkSession(
        backend=backend,
        targets=["t"],
        max_workers=1,
        store=None,
        thresholds=Thresholds.empty(),
        # IOPS only: a 1 s run has too few samples beyond its p99 for a stable tail.
        gating=GatingPolicy(baseline="none", metrics=("iops",), until_stable=until_stable),
    )


def run_repeats(bench: BenchmarkSession, repeats: int):
    profile = parse_profile(STEADY, name="steady")
    return [bench.run(Case(profile, 1, "t", repeat, repeats)) for repeat in range(repeats)]


def test_an_injected_noisy_repeat_makes_the_case_unstable(tmp_path):
    bench = session_with(tmp_path, noisy={1})
    try:
        outcomes = run_repeats(bench, 3)
    finally:
        bench.close()
    last = outcomes[-1]
    assert [o.status for o in outcomes[:2]] == [Status.NONE, Status.NONE]
    assert last.status is Status.UNSTABLE
    assert last.status.fails_the_test
    iops = next(v for v in last.verdict.variations if v.metric == "iops")
    assert iops.samples == 3 and iops.cv_pct > 40 and iops.limit_pct == 30.0
    assert last.verdict.reason.startswith("repeats disagree: iops CV ")
    stored = last.record.evidence["variation"]
    assert {"metric": "iops", "limit_pct": 30.0, "samples": 3}.items() <= stored[0].items()


def test_steady_repeats_pass_the_variation_limit(tmp_path):
    bench = session_with(tmp_path, noisy=set())
    try:
        last = run_repeats(bench, 2)[-1]
    finally:
        bench.close()
    assert last.status is Status.NONE  # nothing else checked, and not unstable
    iops = next(v for v in last.verdict.variations if v.metric == "iops")
    assert iops.cv_pct < 5 and not iops.exceeds


def test_until_stable_reruns_until_the_latest_repeats_agree(tmp_path):
    bench = session_with(tmp_path, noisy={1}, until_stable=3)
    try:
        last = run_repeats(bench, 3)[-1]
    finally:
        bench.close()
    # 300 100 300 | 300 (100 300 300 still disagree) | 300: the latest three agree.
    assert bench.backend.runs == 5
    assert last.status is not Status.UNSTABLE
    assert last.case.repeat == 4
    assert any("stability re-run 2 of up to 3" in note for note in last.record.notes)


def test_fio_steady_state_is_recorded_and_a_miss_is_flagged(tmp_path):
    # Uncapped: IOPS per second move by a few percent, never by 0.01%.
    uncapped = STEADY.replace("rate_iops=300\n", "").replace("runtime=1", "runtime=3")
    reached = uncapped.replace("[r]", "steadystate=iops:50%\nss_dur=2\n[r]")
    missed = uncapped.replace("[r]", "steadystate=iops:0.01%\nss_dur=2\n[r]")
    bench = session_with(tmp_path, noisy=set())
    try:
        good = bench.run(Case(parse_profile(reached, name="ok"), 1, "t"))
        bad = bench.run(Case(parse_profile(missed, name="moving"), 1, "t"))
    finally:
        bench.close()
    assert any(note.startswith("steady state reached (iops:50") for note in good.record.notes)
    assert good.status is not Status.UNSTABLE
    assert bad.status is Status.UNSTABLE
    assert bad.verdict.reason.startswith("steady state not reached (iops:0.01")
