"""The cache judgement: only buffered reads are flagged by bandwidth; a direct read beyond
the ceiling gets the weaker host-cache note, whatever the margin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_fioloadgen.fio.results import RunResult, parse_result
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.read_ceiling import ReadCeilings

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "randread-w1.json"
BUFFERED = parse_profile("[global]\nrw=randread\n[j]\n", name="buffered")
DIRECT = parse_profile("[global]\nrw=randread\ndirect=1\n[j]\n", name="direct")
SEQUENTIAL = parse_profile("[j]\nrw=read\ndirect=1\n", name="seq")
WRITE = parse_profile("[j]\nrw=write\n", name="write")


def reading(mib_s: float) -> RunResult:
    result = parse_result(json.loads(GOLDEN.read_text()))
    return result.with_metric("read_bw_mib_s", mib_s)


def probed(bandwidth: float) -> ReadCeilings:
    ceilings = ReadCeilings(probe=True)
    ceilings.record_probe("disk", 1, reading(bandwidth))
    return ceilings


def test_a_buffered_read_beyond_the_probe_is_flagged() -> None:
    suspicion = probed(1000).judge("disk", 1, BUFFERED, reading(1600))
    assert suspicion.flag.startswith("likely cache hit: read 1600.0 MiB/s exceeds the direct-I/O")
    assert not suspicion.host_note


def test_a_buffered_read_within_the_margin_is_not() -> None:
    assert probed(1000).judge("disk", 1, BUFFERED, reading(1400)).flag == ""


@pytest.mark.parametrize("factor", [1.6, 10, 1000])
def test_a_direct_read_is_never_flagged_by_bandwidth_alone(factor: float) -> None:
    suspicion = probed(1000).judge("disk", 1, DIRECT, reading(1000 * factor))
    assert suspicion.flag == ""
    assert suspicion.host_note.startswith("host cache? direct read")
    assert "not flagged" in suspicion.host_note


def test_a_configured_ceiling_flags_buffered_reads_only() -> None:
    ceilings = ReadCeilings(configured=100.0)
    assert "configured ceiling 100.0" in ceilings.judge("disk", 2, BUFFERED, reading(200)).flag
    assert ceilings.judge("disk", 2, DIRECT, reading(200)).flag == ""


def test_a_sequential_read_raises_the_session_ceiling_and_is_not_judged() -> None:
    ceilings = ReadCeilings()
    assert ceilings.judge("disk", 1, SEQUENTIAL, reading(500)) == ceilings.judge(
        "other", 1, SEQUENTIAL, reading(10)
    )
    assert (
        "this session's sequential read" in ceilings.judge("disk", 4, BUFFERED, reading(800)).flag
    )
    assert ceilings.judge("other", 4, BUFFERED, reading(11)).flag


def test_only_a_buffered_read_wants_the_probe_once_per_target_and_worker_count() -> None:
    ceilings = ReadCeilings(probe=True)
    assert not ceilings.wants_probe("disk", 1, DIRECT)
    assert not ceilings.wants_probe("disk", 1, WRITE)
    assert ceilings.wants_probe("disk", 1, BUFFERED)
    ceilings.record_probe("disk", 1, reading(1000))
    assert not ceilings.wants_probe("disk", 1, BUFFERED)
    assert ceilings.wants_probe("disk", 2, BUFFERED)
    assert not ReadCeilings(probe=False).wants_probe("disk", 1, BUFFERED)
    assert not ReadCeilings(probe=True, configured=5.0).wants_probe("disk", 1, BUFFERED)


@pytest.mark.parametrize(
    ("text", "buffered"),
    [
        ("[j]\nrw=read\n", True),
        ("[j]\nrw=randread\ndirect=1\n", False),
        ("[global]\ndirect=1\nbuffered=1\n[j]\nrw=read\n", True),
        ("[global]\ndirect=1\n[j]\nrw=read\ndirect=0\n", True),
        ("[global]\nbuffered=0\n[j]\nrw=randrw\n", False),
        ("[global]\nrw=write\n[j]\n", False),
        ("[j]\nrw=write\n[k]\nrw=randread\ndirect=1\n", False),
    ],
)
def test_which_profiles_read_through_the_page_cache(text: str, buffered: bool) -> None:
    assert parse_profile(text, name="p").reads_buffered is buffered
