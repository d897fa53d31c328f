"""Thresholds file validation and evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_fioloadgen.exceptions import ThresholdError
from pytest_fioloadgen.fio.results import parse_result
from pytest_fioloadgen.verdicts.thresholds import Thresholds, evaluate, validate_level

GOLDEN = Path(__file__).parent.parent / "data" / "golden"


@pytest.fixture
def result():
    return parse_result(json.loads((GOLDEN / "randread-w2.json").read_text()))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thresholds.toml"
    path.write_text(text)
    return path


def test_bare_numbers_follow_the_metric_direction(tmp_path):
    thresholds = Thresholds.load(write(tmp_path, "[defaults]\niops = 100\nread_lat_p99_ms = 5\n"))
    limits = {limit.metric: limit for limit in thresholds.limits_for("any", 1)}
    assert limits["iops"].bound == "min"
    assert limits["read_lat_p99_ms"].bound == "max"


def test_most_specific_level_wins(tmp_path):
    path = write(
        tmp_path,
        """
[defaults]
iops = 1
[defaults.workers.4]
iops = 2
[profile.rr]
iops = 3
[profile.rr.workers.4]
iops = { min = 4, max = 1000000 }
""",
    )
    thresholds = Thresholds.load(path)

    def iops_limits(profile, workers, inline=None):
        return sorted(
            (limit.bound, limit.value, limit.source)
            for limit in thresholds.limits_for(profile, workers, inline)
            if limit.metric == "iops"
        )

    assert iops_limits("other", 1) == [("min", 1.0, f"{path} [defaults]")]
    assert iops_limits("other", 4) == [("min", 2.0, f"{path} [defaults.workers.4]")]
    assert iops_limits("rr", 2) == [("min", 3.0, f"{path} [profile.rr]")]
    assert iops_limits("rr", 4) == [
        ("max", 1000000.0, f"{path} [profile.rr.workers.4]"),
        ("min", 4.0, f"{path} [profile.rr.workers.4]"),
    ]
    assert iops_limits("rr", 4, {"iops": 5}) == [("min", 5.0, "marker fio(thresholds=...)")]


def test_violation_message_shows_metric_limit_value_and_source(tmp_path, result):
    path = write(tmp_path, "[profile.rr]\niops = 1e9\nread_lat_p99_ms = 1000\n")
    verdict = evaluate(result, Thresholds.load(path).limits_for("rr", 2))
    assert verdict.status == "fail"
    assert len(verdict.failures) == 1
    message = verdict.failure_message()
    assert f"iops {result.iops:.6g} < min 1e+09 ({path} [profile.rr])" in message
    assert "read_lat_p99_ms" not in message


def test_per_worker_limits_check_each_worker(tmp_path, result):
    path = write(tmp_path, "[defaults.per_worker]\niops = 1e9\n")
    verdict = evaluate(result, Thresholds.load(path).limits_for("rr", 2))
    assert [check.worker for check in verdict.failures] == [w.name for w in result.workers]
    assert verdict.failures[0].message().startswith(f"worker {result.workers[0].name} iops ")


def test_passing_and_unmeasured(tmp_path, result):
    path = write(tmp_path, "[defaults]\niops = 1\nwrite_lat_p99_ms = 1\n")
    verdict = evaluate(result, Thresholds.load(path).limits_for("rr", 2))
    assert verdict.status == "pass"
    unmeasured = [check for check in verdict.checks if not check.applicable]
    assert [check.limit.metric for check in unmeasured] == ["write_lat_p99_ms"]
    assert evaluate(result, []).status == "none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[defaults]\niopz = 1\n", r"key defaults\.iopz: unknown name 'iopz'"),
        ("[profile.rr]\niopz = 1\n", r"key profile\.rr\.iopz: unknown name 'iopz'"),
        ("[profile.rr.workers.4]\niopz = 1\n", r"key profile\.rr\.workers\.4\.iopz"),
        ("[profile.rr]\niops = 'fast'\n", r"key profile\.rr\.iops: 'fast' is not valid"),
        ("[profile.rr.workers.x]\niops = 1\n", r"key profile\.rr\.workers\.x: worker counts"),
        ("[defaults]\niops = { least = 1 }\n", r"key defaults\.iops"),
        ("[limits]\n", r"unknown name 'limits'"),
        ("[defaults\n", r"is not valid TOML"),
    ],
)
def test_bad_files_name_file_and_key_path(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ThresholdError, match=message) as info:
        Thresholds.load(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ThresholdError, match="does not exist"):
        Thresholds.load(tmp_path / "nope.toml")


def test_unknown_profile_is_a_typo(tmp_path):
    thresholds = Thresholds.load(write(tmp_path, "[profile.randreed]\niops = 1\n"))
    with pytest.raises(ThresholdError, match=r"key profile\.randreed: no such profile"):
        thresholds.check_profiles(["randread"])


def test_inline_level_validation():
    validate_level({"iops": 5, "workers": {"2": {"iops": 9}}}, "marker")
    with pytest.raises(ThresholdError, match=r"marker: key iopz"):
        validate_level({"iopz": 5}, "marker")
