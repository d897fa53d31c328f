"""Which planned reads join a layout round (layout.DataLayout): within the file system's
room, one layout per job name, none twice. The rounds themselves run with real fio in
tests/integration/test_session.py."""

from __future__ import annotations

import pytest

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.layout import DataLayout, LayoutRoom
from pytest_fioloadgen.profiles import parse_profile

MIB = 2**20


def read(name: str, size_mib: int, rw: str = "randread"):
    text = f"[global]\nioengine=psync\nsize={size_mib}m\nruntime=1\ntime_based\n[{name}]\nrw={rw}\n"
    return parse_profile(text, name=name)


@pytest.fixture
def layout():
    # Never deployed: choosing the round runs nothing.
    return DataLayout(LocalBackend([LocalTarget("t")], session_id="unit"))


def test_reads_join_while_the_room_lasts(layout):
    first = read("a", 8).as_layout()
    upcoming = [read("b", 8), read("c", 8), read("d", 4)]
    # Two workers: a takes 16 MiB, b 16, then c (16) no longer fits in 40 but d (8) does.
    chosen = layout._joining("t", first, upcoming, LayoutRoom(40 * MIB, 2))
    assert [profile.name for _key, profile in chosen] == ["b-layout", "d-layout"]


def test_writes_shared_job_names_and_repeats_stay_out(layout):
    first = read("a", 8).as_layout()
    upcoming = [
        read("w", 8, rw="randwrite"),  # a write lays out nothing before it runs
        read("a", 4),  # the same job name: the same files, another size
        read("b", 8),
        read("b", 8),  # planned twice (two worker counts): laid out once
    ]
    chosen = layout._joining("t", first, upcoming, LayoutRoom(10**12, 4))
    assert [profile.name for _key, profile in chosen] == ["b-layout"]


def test_a_size_the_file_system_decides_never_joins(layout):
    first = read("a", 8).as_layout()
    fills = parse_profile("[fill]\nrw=randread\nfill_fs=1\n", name="fill")
    assert layout._joining("t", first, [fills], LayoutRoom(10**12, 1)) == []
