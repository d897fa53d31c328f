"""fioloadgen history and fioloadgen baseline against a real store."""

from __future__ import annotations

import random

import pytest

from pytest_fioloadgen.cli import main
from pytest_fioloadgen.store import RunRecord, open_store

KEY = "0123456789abcdef"


def make(number: int, iops: float, *, key: str = KEY, session: str | None = None) -> RunRecord:
    return RunRecord(
        run_id=f"run-{number:03d}",
        session_id=session or f"session-{number}",
        profile_name="randread-4k",
        profile_hash="h",
        profile_text="[x]\n",
        workers=2,
        backend="local",
        target="local",
        started_at=1_700_000_000 + number * 3600,
        finished_at=1_700_000_060 + number * 3600,
        metrics={"iops": iops, "read_lat_p99_ms": 1.0},
        labels={"git_commit": f"{number:040x}", "branch": "main"},
        history_key=key,
    )


@pytest.fixture
def store_uri(tmp_path):
    uri = str(tmp_path / "history.db")
    store = open_store(uri)
    rng = random.Random(7)
    for number in range(30):
        level = 1000 if number < 18 else 820
        store.record(make(number, rng.gauss(level, 12)))
    store.record(make(99, 500, key="fedcba9876543210"))
    store.close()
    return uri


def test_history_of_a_key_names_the_run_where_the_shift_started(store_uri, capsys):
    assert main(["history", KEY, "--store", store_uri]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"key {KEY}: randread-4k w2 local/local, 30 runs, iops"
    assert len(out) == 2
    assert out[1].startswith("  change point at run run-018 (")
    assert f"git_commit={18:040x}"[:23] in out[1]
    assert "-> " in out[1]
    assert "(-18." in out[1] or "(-17." in out[1] or "(-19." in out[1]


def test_history_of_a_profile_lists_each_key(store_uri, capsys):
    assert main(["history", "randread-4k", "--store", store_uri, "--series", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert f"key {KEY}: randread-4k w2 local/local, 5 runs, iops" in out
    assert "key fedcba9876543210: randread-4k w2 local/local, 1 runs, iops" in out
    assert out.count("run-0") >= 5


def test_history_of_unknown_things(store_uri, capsys):
    assert main(["history", "nosuch", "--store", store_uri]) == 2
    assert "has no completed run of profile 'nosuch'" in capsys.readouterr().err
    assert main(["history", "aaaaaaaaaaaaaaaa", "--store", store_uri]) == 2
    assert "has no completed run of key 'aaaaaaaaaaaaaaaa'" in capsys.readouterr().err


def test_baseline_set_list_rm(store_uri, capsys):
    assert (
        main(
            [
                "baseline",
                "set",
                "golden",
                "--session",
                "session-3",
                "--store",
                store_uri,
                "--note",
                "v1",
            ]
        )
        == 0
    )
    pinned = capsys.readouterr().out
    assert "baseline 'golden': 1 runs of 1 session(s) pinned" in pinned
    # One run of a key cannot gate: said when pinning, not at the first session using it.
    assert "1 of 1 key(s) have fewer than 3 runs in it and cannot gate yet" in pinned
    assert main(["baseline", "set", "newest", "--latest-session", "--store", store_uri]) == 0
    assert main(["baseline", "list", "--store", store_uri]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[-2].startswith("golden ") and listing[-2].endswith("v1")
    assert listing[-1].startswith("newest ")
    store = open_store(store_uri)
    assert store.get_baseline("newest").run_ids == ("run-099",)
    store.close()
    assert main(["baseline", "rm", "golden", "--store", store_uri]) == 0
    assert main(["baseline", "rm", "golden", "--store", store_uri]) == 2
    assert "has no baseline 'golden'" in capsys.readouterr().err


def test_baseline_errors_are_one_line(store_uri, capsys):
    assert main(["baseline", "set", "x", "--store", store_uri]) == 2
    assert capsys.readouterr().err.strip() == (
        "fioloadgen: error: baseline set needs --session ID, --sessions A,B,C, --label K=V "
        "[--last N], --latest-session or --run ID"
    )
    assert main(["baseline", "set", "x", "--run", "nope", "--store", store_uri]) == 2
    assert "has no run 'nope' to pin in baseline 'x'" in capsys.readouterr().err
    assert main(["baseline", "set", "../x", "--run", "run-001", "--store", store_uri]) == 2
    assert "baseline name '../x'" in capsys.readouterr().err


def test_store_from_environment(store_uri, capsys, monkeypatch):
    monkeypatch.setenv("FIO_STORE", store_uri)
    assert main(["baseline", "list"]) == 0
    assert "no baselines in sqlite://" in capsys.readouterr().out
