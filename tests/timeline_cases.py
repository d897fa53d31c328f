"""Real fio runs with their histogram logs (tests/data/timeline/<case>): fio's document,
the run's span, and the timeline the harness builds from them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from pytest_fioloadgen.fio.timeline import TimelineInputs, build_timeline
from pytest_fioloadgen.fio.timeseries import RAW_KEY

CASES = Path(__file__).parent / "data" / "timeline"


def unpack(case: str, directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case's logs written into ``directory``; (fio's document, span.json)."""
    for packed in (CASES / case).glob("*.gz"):
        (directory / packed.name[: -len(".gz")]).write_bytes(gzip.decompress(packed.read_bytes()))
    document = json.loads((CASES / case / "output.json").read_text())
    return document, json.loads((CASES / case / "span.json").read_text())


def built_timeline(case: str, directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the stored timeline, fio's document) of the case, built as a session builds it."""
    document, span = unpack(case, directory)
    inputs = TimelineInputs(
        interval_ms=span["interval_ms"],
        client_span_ms=tuple(span["client_span_ms"]),
        workers=span["workers"],
        same_clock=frozenset(span["workers"]),
    )
    timeline = build_timeline(directory, document, inputs)
    assert timeline is not None
    return timeline, document


def raw_with_timeline(case: str, directory: Path) -> dict[str, Any]:
    """fio's document of the case with its timeline, as a run stores it."""
    timeline, document = built_timeline(case, directory)
    return {**document, RAW_KEY: {"timeline": timeline}}
