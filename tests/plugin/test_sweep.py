"""Sweeps: fio-option axes of the matrix, ids with identity tags, a history key per point,
and the response curve with its knee (pytester, real fio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fioloadgen.exceptions import ConfigError
from pytest_fioloadgen.profiles.model import OVERRIDABLE_OPTIONS
from pytest_fioloadgen.report.response_curve import sweep_document
from pytest_fioloadgen.settings import parse_sweep, resolve
from pytest_fioloadgen.store import open_store

INI = """[pytest]
filterwarnings =
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""
TEST = "def test_storage(fio_case, fio_run):\n    fio_run(fio_case)\n"
PROFILE = (
    "# random read\n[global]\nioengine=libaio\ndirect=1\nsize=64m\nruntime=1\nramp_time=0\n"
    "time_based\n[rr]\nrw=randread\nbs=4k\n"
)


def test_sweep_axes_from_every_source() -> None:
    cli = resolve(rootdir=Path("."), cli={"sweep": ["iodepth=1,4,16", "bs=4k,64k"]}, env={}, ini={})
    env = resolve(rootdir=Path("."), cli={}, env={"FIO_SWEEP": "iodepth=1,4,16,bs=4k,64k"}, ini={})
    ini = resolve(rootdir=Path("."), cli={}, env={}, ini={"sweep": "iodepth=1,4,16, bs=4k,64k"})
    expected = (("iodepth", ("1", "4", "16")), ("bs", ("4k", "64k")))
    assert cli.sweep == env.sweep == ini.sweep == expected
    assert env.source_of("sweep") == "FIO_SWEEP"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["exec=1,2"], "--fio-sweep: cannot sweep 'exec' (sweepable: runtime"),
        (["1,2"], "--fio-sweep: '1,2' is not OPTION=VALUE,VALUE"),
        (["iodepth=1", "iodepth=2"], "--fio-sweep: iodepth is swept twice"),
        (["iodepth=1,1"], "--fio-sweep: iodepth=1 is listed twice"),
    ],
)
def test_bad_sweeps_are_one_line(values: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        parse_sweep(values, "--fio-sweep", OVERRIDABLE_OPTIONS)


@pytest.fixture
def profiles(pytester: pytest.Pytester) -> tuple[str, str]:
    pytester.makeini(INI)
    directory = pytester.mkdir("myprofiles")
    (directory / "rr.fio").write_text(PROFILE)
    return ("--fio-profiles-dir", str(directory))


def test_sweep_points_are_cases_with_identity_tags(pytester, profiles) -> None:
    pytester.makepyfile(
        test_storage=TEST
        + "\nimport pytest\n\n@pytest.mark.fio(sweep={'bs': ['4k', '64k']}, workers=2)\n"
        "def test_marked(fio_case):\n    pass\n"
    )
    result = pytester.runpytest(
        "--collect-only", "-q", *profiles, "--fio-sweep", "iodepth=1,16", "-p", "no:cacheprovider"
    )
    result.stdout.fnmatch_lines(
        [
            "test_storage.py::test_storage[rr-qd1-w1-local]",
            "test_storage.py::test_storage[rr-qd16-w1-local]",
            # The marker's axis joins the session's; tags in the identity scheme's order.
            "test_storage.py::test_marked[rr-qd1-bs4k-w2-local]",
            "test_storage.py::test_marked[rr-qd1-bs64k-w2-local]",
            "test_storage.py::test_marked[rr-qd16-bs4k-w2-local]",
            "test_storage.py::test_marked[rr-qd16-bs64k-w2-local]",
        ]
    )


def test_an_iodepth_sweep_gives_keyed_cases_and_a_curve_with_a_knee(pytester, profiles) -> None:
    pytester.makepyfile(test_storage=TEST)
    result = pytester.runpytest(
        *profiles, "--fio-sweep", "iodepth=1,8,32", "--fio-store", "h.db",
        "--html", "report.html", "--self-contained-html", "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["response rr w1 local: qd1 * IOPS */* ms  qd8 * qd32 * (knee at qd*)"]
    )
    store = open_store(str(pytester.path / "h.db"))
    try:
        runs = store.query()
    finally:
        store.close()
    assert sorted(run.test_id.split("[")[1] for run in runs) == [
        "rr-qd1-w1-local]",
        "rr-qd32-w1-local]",
        "rr-qd8-w1-local]",
    ]
    assert len({run.history_key for run in runs}) == 3
    # Each run stores its sweep: the run pages draw the same curve from the store.
    for run in runs:
        depth = run.test_id.split("-qd")[1].split("-")[0]
        assert run.sweep == {"axes": {"iodepth": ["1", "8", "32"]}, "point": {"iodepth": depth},
                             "fixed": {}}  # fmt: skip
    curve = sweep_document(runs[0], runs)["curve"]
    assert [point["value"] for point in curve["points"]] == ["1", "8", "32"]
    assert curve["describe"] in result.stdout.str()  # the terminal's line, from the store
    report = (pytester.path / "report.html").read_text()
    assert "<h2>Response curves</h2>" in report
    assert "response curve: rr w1 local" in report
    assert "knee (qd" in report
