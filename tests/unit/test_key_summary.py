"""A key's summary (change points, baseline band): computed once, recomputed on change."""

from __future__ import annotations

import random

import pytest
from test_store_contract import make_run

from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.verdicts import summaries as key_summary
from pytest_fioloadgen.verdicts.summaries import SeriesSummary, key_trend, series_summary

KEY = "0123456789abcdef"


def shifted(number: int, rng: random.Random):
    level = 1000.0 if number < 30 else 800.0
    return make_run(
        f"r{number:03d}",
        history_key=KEY,
        started_at=1000.0 + number,
        metrics={"iops": rng.gauss(level, 10.0)},
        labels={"git_commit": f"c{number}"},
    )


@pytest.fixture(params=["sqlite", "tinydb"])
def store(request, tmp_path):
    suffix = "db" if request.param == "sqlite" else "json"
    opened = open_store(str(tmp_path / f"history.{suffix}"))
    rng = random.Random(1)
    for number in range(50):
        opened.record(shifted(number, rng))
    opened.record(make_run("failed", history_key=KEY, started_at=2000.0, status="failed"))
    yield opened
    opened.close()


@pytest.fixture
def computed(monkeypatch):
    """Counts how often a summary is really computed."""
    calls = []
    real = key_summary.summarize

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(key_summary, "summarize", counting)
    return calls


def test_summary_has_the_shift_and_the_band(store):
    summary = series_summary(store, KEY, "iops")
    (change,) = summary.change_points
    assert (change.index, change.run_id, dict(change.labels)) == (30, "r030", {"git_commit": "c30"})
    assert change.before == pytest.approx(1000, abs=10)
    assert change.after == pytest.approx(800, abs=10)
    assert summary.runs == 50 and summary.newest_run_id == "r049"
    band = summary.baseline_band
    assert band is not None and band.runs == 20 and band.tolerance_pct == 10.0
    assert band.center == pytest.approx(800, abs=10)
    assert band.low == pytest.approx(band.center * 0.9)
    assert SeriesSummary.from_json(summary.to_json()) == summary


def test_sqlite_computes_once_until_the_key_changes(tmp_path, computed):
    store = open_store(str(tmp_path / "h.db"))
    rng = random.Random(2)
    for number in range(40):
        store.record(shifted(number, rng))
    first = series_summary(store, KEY, "iops")
    assert series_summary(store, KEY, "iops") == first
    assert len(computed) == 1
    store.record(shifted(40, rng))
    assert series_summary(store, KEY, "iops").runs == 41
    assert len(computed) == 2
    # Another way of summarising is its own entry; the first stays cached.
    series_summary(store, KEY, "iops", tolerance_pct=2.0)
    series_summary(store, KEY, "iops")
    assert len(computed) == 3
    store.close()
    # The cache lives in the file: another process (here, another store) reads it.
    reopened = open_store(str(tmp_path / "h.db"))
    assert series_summary(reopened, KEY, "iops").runs == 41
    assert len(computed) == 3
    reopened.close()


def test_a_store_without_a_cache_computes_every_time(tmp_path, computed):
    store = open_store(str(tmp_path / "h.json"))
    store.record(shifted(0, random.Random(3)))
    series_summary(store, KEY, "iops")
    series_summary(store, KEY, "iops")
    assert len(computed) == 2
    store.close()


def test_a_damaged_cache_entry_is_computed_again(tmp_path, computed):
    store = open_store(str(tmp_path / "h.db"))
    rng = random.Random(4)
    for number in range(40):
        store.record(shifted(number, rng))
    first = series_summary(store, KEY, "iops")
    store._conn.execute("UPDATE key_summaries SET document = '{\"runs\": 1}'")
    assert series_summary(store, KEY, "iops") == first
    assert len(computed) == 2
    store.close()


def test_trend_window_shows_the_whole_historys_change_points(store):
    whole = key_trend(store, KEY, "iops")
    assert [p.run_id for p in whole.points][:2] == ["r000", "r001"] and len(whole.points) == 50
    assert [(c.index, c.run_id) for c in whole.change_points] == [(30, "r030")]
    assert (whole.profile_name, whole.workers) == ("randread-4k", 4)
    window = key_trend(store, KEY, "iops", limit=25)
    assert len(window.points) == 25 and window.points[0].run_id == "r025"
    assert [(c.index, c.run_id) for c in window.change_points] == [(5, "r030")]
    assert key_trend(store, KEY, "iops", limit=10).change_points == ()
