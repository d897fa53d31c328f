"""Fault specs, the schedule that fires them, and the phases of a run around one."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from pytest_fioloadgen import faults
from pytest_fioloadgen.exceptions import FaultError
from pytest_fioloadgen.faults.registry import lookup, parse
from pytest_fioloadgen.faults.schedule import FaultSchedule
from pytest_fioloadgen.faults.spec import FaultSpec
from pytest_fioloadgen.fio.timeline import Timeline
from pytest_fioloadgen.verdicts.phases import analyse, phase_line


def test_the_command_line_form_and_the_python_form_are_one_spec():
    parsed = parse("throttle-target:iops=200,at=3s,for=3s", "--fio-fault", lookup())
    assert parsed == faults.throttle_target(iops=200, at=3, duration=3)
    assert parsed.canonical() == "throttle-target:at=3s,for=3s,iops=200"
    assert parsed.tag == "fault-throttle"
    assert parsed.describe() == "throttle-target@3s for 3s (iops=200)"


def test_quoted_values_keep_their_commas_and_spaces():
    spec = parse(
        'command:run="oc -n s rsh deploy/tools ceph osd out 3",undo="ceph osd in 3",at=30s',
        "--fio-fault",
        lookup(),
    )
    assert spec.get("run") == "oc -n s rsh deploy/tools ceph osd out 3"
    assert spec.for_s is None and spec.at_s == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope:at=1s", "--fio-fault: unknown fault 'nope' (known: "),
        ("throttle-target:iops=200", "--fio-fault: throttle-target: at= is missing"),
        (
            "throttle-target:at=1s,speed=2",
            "throttle-target: unknown key 'speed' (keys: at, for, bw",
        ),
        ("pause-worker:at=soon", "pause-worker: at: 'soon' is not a duration"),
        ("pause-worker:at=1s,at=2s", "pause-worker: at given twice"),
        ("pause-worker:at", "'at' is not key=value"),
        ("Bad Name:at=1", "is not a fault name"),
    ],
)
def test_a_bad_spec_is_one_line_naming_it(text, message):
    with pytest.raises(FaultError) as raised:
        parse(text, "--fio-fault", lookup())
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_registered_fault_parses_like_a_builtin_one():
    from pytest_fioloadgen.faults.builtin import BUILTIN, FaultType

    mine = FaultType("osd-out", frozenset({"osd"}), BUILTIN["command"].make)
    find = lookup(lambda name: mine if name == "osd-out" else None)
    spec = parse("osd-out:osd=3,at=10s,for=20s", "--fio-fault", find)
    assert spec.canonical() == "osd-out:at=10s,for=20s,osd=3" and spec.tag == "fault-osd-out"


@dataclass
class Recording:
    """A fault that records when it was injected and undone, or fails on demand."""

    spec: FaultSpec
    fail_undo: bool = False
    scope: str = "target"
    lost_workers: frozenset[str] = frozenset()
    reversible: bool = True
    calls: list[tuple[str, float]] = field(default_factory=list)

    def inject(self) -> str:
        self.calls.append(("inject", time.time()))
        return "injected"

    def undo(self) -> str:
        self.calls.append(("undo", time.time()))
        if self.fail_undo:
            raise FaultError("undo refused")
        return "undone"

    def cleared(self) -> bool:
        return not self.fail_undo


def test_faults_fire_on_time_from_the_client_start_plus_ramp():
    fault = Recording(FaultSpec("call", at_s=0.3, for_s=0.2))
    schedule = FaultSchedule([fault], ramp_s=0.1)
    start = time.time()
    schedule.start(start)
    time.sleep(0.8)
    (event,) = schedule.finish()
    assert [name for name, _ in fault.calls] == ["inject", "undo"]
    assert event.injected_at - start == pytest.approx(0.4, abs=0.08)
    assert event.undone_at - start == pytest.approx(0.6, abs=0.08)
    assert event.as_dict(start)["injected_s"] == pytest.approx(0.4, abs=0.08)


def test_a_run_that_ends_early_still_undoes_its_fault():
    fault = Recording(FaultSpec("call", at_s=0.0, for_s=60))
    schedule = FaultSchedule([fault])
    schedule.start(time.time())
    time.sleep(0.2)
    (event,) = schedule.finish()  # the run failed, or Ctrl-C: finish() runs in a finally
    assert [name for name, _ in fault.calls] == ["inject", "undo"]
    assert event.undone_at is not None


def test_a_fault_never_reached_is_never_injected():
    fault = Recording(FaultSpec("call", at_s=30, for_s=1))
    schedule = FaultSchedule([fault])
    schedule.start(time.time())
    (event,) = schedule.finish()
    assert fault.calls == [] and event.injected_at is None


def test_a_failed_undo_is_reported_and_the_fault_uncleared():
    fault = Recording(FaultSpec("call", at_s=0.0, for_s=0.1), fail_undo=True)
    schedule = FaultSchedule([fault])
    schedule.start(time.time())
    time.sleep(0.4)
    (event,) = schedule.finish()
    assert event.error == "undo: undo refused" and event.uncleared
    assert schedule.uncleared() == [(fault, event)]


INTERVAL = 0.25


def phased_timeline(iops: list[int], p99: list[float | None] | None = None) -> Timeline:
    count = len(iops)
    return Timeline(
        {
            "interval_ms": 250,
            "intervals": count,
            "start_s": 0.0,
            "merged": {
                "read": {
                    "ios": [int(v * INTERVAL) for v in iops],
                    "bytes": [int(v * INTERVAL) * 4096 for v in iops],
                    "p99": p99 or [None] * count,
                }
            },
            "workers": {"w": {"first": 0, "last": count - 1, "final": []}},
            "bins": {},
        }
    )


def event(injected: float, undone: float | None, **more: object) -> dict:
    return {"describe": "throttle-target@3s for 2s", "injected_s": injected,
            "undone_s": undone, "planned_for_s": 2.0, "reversible": True, **more}  # fmt: skip


def test_phases_split_a_run_at_the_fault_and_find_the_recovery():
    # 3 s steady at 2000, a 2 s dip to 200 from 3.1 s, back at 5.1 s after one slow interval.
    iops = [2000] * 12 + [200] * 8 + [1200] + [2000] * 12
    analysis = analyse(phased_timeline(iops), event(3.1, 5.1), measured=(1, 32))
    spans = {phase.name: phase.span for phase in analysis.phases}
    # The intervals holding the injection (3.0-3.25) and the undo (5.0-5.25) are in none.
    assert spans["before"] == (1, 11) and spans["during"] == (13, 19)
    assert analysis.phase("during").metrics["iops"] == 200
    assert analysis.phase("before").metrics["iops"] == 2000
    # Recovered at the first of three in-band intervals after the undo's (5.25-5.5 s).
    assert spans["recovery"] == (21, 21) and spans["after"] == (22, 32)
    assert analysis.recovery_s == pytest.approx(5.5 - 5.1)
    assert analysis.dip_pct == pytest.approx(90.0)
    metrics = analysis.metrics()
    assert metrics["during_iops"] == 200 and metrics["recovery_s"] == pytest.approx(0.4)


def test_a_run_that_never_recovers_says_so():
    iops = [2000] * 12 + [200] * 21
    analysis = analyse(phased_timeline(iops), event(3.1, 5.1), measured=(1, 32))
    assert analysis.recovery_s is None and "recovery_s" not in analysis.metrics()
    assert analysis.notes[-1].startswith("not recovered within 3.2 s")
    stored = analysis.evidence(phased_timeline(iops))
    assert phase_line(stored).endswith("IOPS -90 %, not recovered within 3.2 s (3 intervals"
                                       " in the before phase's p5-p95 range)")  # fmt: skip


def test_latency_must_come_back_into_its_band_too():
    iops = [2000] * 33
    p99 = [0.1] * 12 + [50.0] * 8 + [0.1, 5.0, 0.1, 0.1, 0.1] + [0.1] * 8
    analysis = analyse(phased_timeline(iops, p99), event(3.1, 5.1), measured=(1, 32))
    # 5.25-5.5 is out of band (p99 5 ms): the three in band start at 5.5-5.75.
    assert analysis.recovery_s == pytest.approx(5.75 - 5.1)


def test_an_irreversible_fault_spans_its_for_window():
    iops = [2000] * 12 + [1000] * 21
    killed = event(3.1, 9.0, reversible=False)
    analysis = analyse(phased_timeline(iops), killed, measured=(1, 32))
    # Its for window (3.1 + 2 s, the interval holding 5.1 s left out), not the run's end.
    assert analysis.phase("during").span == (13, 19)


def test_cluster_faults_never_overlap_across_sessions(tmp_path):
    """Two sessions (pytest-xdist workers) each with a cluster-wide fault: the second
    waits for the first's lock before it makes its run."""
    import threading

    from pytest_fioloadgen.faults.builtin import FaultType
    from pytest_fioloadgen.faults.case import CaseFaults

    spans: list[tuple[str, float, float]] = []

    def make(spec, context):
        return Recording(spec, scope="cluster")

    find = lookup(lambda name: FaultType("mine", frozenset(), make) if name == "mine" else None)

    def session(name: str) -> None:
        spec = FaultSpec("mine", at_s=0.0, for_s=0.1)
        with CaseFaults([spec], context=None, find=find, lock_dir=tmp_path) as schedule:
            start = time.time()
            schedule.start(start)
            time.sleep(0.3)
        spans.append((name, start, time.time()))

    threads = [threading.Thread(target=session, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (_a, _start_a, end_a), (_b, start_b, _end_b) = sorted(spans, key=lambda s: s[1])
    assert start_b >= end_a - 0.01
