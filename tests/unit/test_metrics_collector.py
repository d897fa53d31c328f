"""The /metrics exporter on a real sqlite history: derived once per key version, kept in
the store's summary cache, within a time budget per scrape."""

from __future__ import annotations

import random

import pytest
from fioloadgen_server import metrics as exporter
from fioloadgen_server.jobsdb import JobDB
from fioloadgen_server.metrics import MetricsExporter
from prometheus_client.parser import text_string_to_metric_families
from test_store_contract import make_run

from pytest_fioloadgen.store import open_store

KEYS = [f"{number:016x}" for number in range(6)]


@pytest.fixture
def store(tmp_path):
    opened = open_store(str(tmp_path / "history.db"))
    rng = random.Random(3)
    for key in KEYS:
        for number in range(8):
            opened.record(
                make_run(
                    f"{key[-2:]}-{number}",
                    history_key=key,
                    started_at=1000.0 + number * 10 + int(key, 16),
                    metrics={"iops": rng.gauss(1000.0, 10.0), "read_lat_p99_ms": 1.0},
                )
            )
    yield opened
    opened.close()


@pytest.fixture
def jobs(tmp_path):
    db = JobDB(tmp_path / "server.db")
    yield db
    db.close()


@pytest.fixture
def derived(monkeypatch):
    """The keys whose state is really derived (not read back from a cache)."""
    calls: list[str] = []
    real = exporter.key_state

    def counting(store, key, *args, **kwargs):
        calls.append(key)
        return real(store, key, *args, **kwargs)

    monkeypatch.setattr(exporter, "key_state", counting)
    return calls


def scrape(exporter: MetricsExporter) -> dict[str, list]:
    text = exporter.scrape().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def gauge(families: dict[str, list], name: str) -> float:
    (sample,) = families[name]
    return sample.value


def collector(store, jobs, **options) -> MetricsExporter:
    return MetricsExporter(store, jobs, lambda: True, metrics=("iops",), **options)


def test_derived_once_per_key_version_and_read_back_after_a_restart(store, jobs, derived):
    first = scrape(collector(store, jobs))
    assert sorted(derived) == KEYS
    same = collector(store, jobs)
    assert scrape(same) == first  # a new server: every state read from the store's cache
    assert scrape(same) == first
    assert sorted(derived) == KEYS
    store.record(make_run("new", history_key=KEYS[2], started_at=5000.0, metrics={"iops": 1.0}))
    changed = scrape(same)
    assert derived[len(KEYS) :] == [KEYS[2]]
    latest = {s.labels["history_key"]: s.value for s in changed["fioloadgen_key_latest_value"]}
    assert latest[KEYS[2]] == 1.0


def test_a_cold_cache_fills_over_scrapes_within_the_budget(store, jobs, derived):
    # No time at all: one key's first summary per scrape, never more (progress all the same).
    slow = MetricsExporter(store, jobs, lambda: True, budget_s=0.0)
    pending = []
    for _ in range(len(KEYS) * len(slow.metrics)):
        families = scrape(slow)
        pending.append(gauge(families, "fioloadgen_history_keys_pending"))
        exported = gauge(families, "fioloadgen_history_keys_exported")
        assert exported + pending[-1] == len(KEYS)
        if not pending[-1]:
            break
    # One summary per scrape: each key needs one per gated metric.
    assert len(pending) == len(KEYS) * len(slow.metrics)
    assert pending[0] == len(KEYS)
    assert pending[-1] == 0
    assert pending == sorted(pending, reverse=True)
    # A key postponed between its metrics goes on from the summaries cached so far.
    assert len(derived) == len(KEYS) * len(slow.metrics)


def test_damaged_cache_entries_are_derived_again(store, jobs, derived):
    warm = collector(store, jobs)
    expected = scrape(warm)
    for key in KEYS:
        version, _ = store.cached_summary(key, warm.states.cache_name)
        assert store.store_summary(key, warm.states.cache_name, version, {"not": "a state"})
    assert scrape(collector(store, jobs)) == expected
    assert sorted(derived) == sorted(KEYS * 2)


def test_executor_and_queue(store, jobs):
    families = scrape(MetricsExporter(store, jobs, lambda: False))
    assert gauge(families, "fioloadgen_executor_alive") == 0
    assert {s.labels["state"]: s.value for s in families["fioloadgen_jobs"]} == {
        "queued": 0,
        "running": 0,
    }


def test_a_store_without_a_version_index(tmp_path, jobs, derived):
    # TinyDB: versions are digests of the runs (read at each scrape), states kept in memory.
    store = open_store(str(tmp_path / "history.json"))
    try:
        for number in range(4):
            store.record(make_run(f"t{number}", started_at=float(number), metrics={"iops": 10.0}))
        exporter = collector(store, jobs)
        first = scrape(exporter)
        assert scrape(exporter) == first
        assert derived == ["0123456789abcdef"]
        store.record(make_run("t4", started_at=9.0, metrics={"iops": 20.0}))
        latest = scrape(exporter)["fioloadgen_key_latest_value"]
        assert [(s.labels["metric"], s.value) for s in latest] == [("iops", 20.0)]
        assert len(derived) == 2
    finally:
        store.close()
