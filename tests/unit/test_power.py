"""fioloadgen power: what the gate can detect, checked against the gate's own decisions
replayed on recorded A/A runs (benchmarks/data/gate-samples.json, real fio runs)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pytest_fioloadgen.cli import main
from pytest_fioloadgen.store import RunRecord, open_store
from pytest_fioloadgen.verdicts.regression import REGRESSION, compare, detectable_slowdown_pct

SAMPLES = Path(__file__).parents[2] / "benchmarks" / "data" / "gate-samples.json"
KEY = "00000000000000aa"


def recorded_iops() -> list[float]:
    return [run["iops"] for run in json.loads(SAMPLES.read_text())["samples"]["A"]]


@pytest.mark.parametrize("repeat", [1, 3, 5])
def test_the_claimed_slowdown_is_what_the_gate_flags_on_recorded_noise(repeat: int) -> None:
    runs = recorded_iops()
    rng = random.Random(repeat)
    flagged = {1.0: 0, 0.6: 0}
    draws = 200
    for _ in range(draws):
        chosen = set(rng.sample(range(len(runs)), 20))
        baseline = [runs[i] for i in chosen]
        others = [runs[i] for i in range(len(runs)) if i not in chosen]
        claimed = detectable_slowdown_pct(baseline, repeat, 10.0, alpha=0.01)
        assert claimed is not None
        current = rng.sample(others, repeat)
        for share in flagged:
            slowed = [value * (1 - share * claimed / 100) for value in current]
            verdict = compare("iops", slowed, baseline, history_key=KEY, baseline_description="")
            flagged[share] += verdict.status == REGRESSION
    # 80% power claimed: the gate flags at least that (the estimate is conservative)...
    assert flagged[1.0] / draws >= 0.8
    # ...and clearly less below it: the claim is not a loose upper bound.
    assert flagged[0.6] / draws <= 0.4


def test_power_prints_noise_detection_and_repeats(tmp_path, capsys) -> None:
    uri = str(tmp_path / "h.db")
    store = open_store(uri)
    for number, iops in enumerate(recorded_iops()[:20]):
        store.record(
            RunRecord(
                run_id=f"r{number}", session_id=f"s{number}", profile_name="randread-4k",
                profile_hash="h", profile_text="[x]\n", workers=1, backend="local",
                target="local", started_at=1e9 + number, finished_at=1e9 + number + 1,
                metrics={"iops": iops}, history_key=KEY,
            )
        )  # fmt: skip
    store.close()
    assert main(["power", "randread-4k", "--store", uri, "--repeat", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"key {KEY}: randread-4k w1 local/local, last 20 runs"
    assert out[1].startswith("  iops: n=20, CV ")
    assert "with --fio-repeat 3 the gate detects significant changes of " in out[1]
    assert "% slowdown 80% of the time (tolerance 10%, alpha 0.01); --fio-repeat " in out[1]
    assert main(["power", "nosuch", "--store", uri]) == 2
    assert "has no completed run of profile 'nosuch'" in capsys.readouterr().err
