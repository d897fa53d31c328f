"""What a reader yields for each run of a source, before it becomes a record."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .ids import run_id_of


@dataclass(frozen=True)
class SourceDocument:
    """One fio JSON document of a run: ``name`` tells its workers apart when a run comes
    as several documents (one file per worker); empty when the run is one document."""

    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class SourceRun:
    """A run as the source has it: fio's output and what the source says about it.

    ``where`` names it for messages (``fioservice.db jobs row 4 (job 1c2d...)``, a file
    name); ``digest`` is the content hash its run id comes from; ``units`` how many of
    the source's units (rows, files) it took, for progress.
    """

    where: str
    origin: str
    digest: str
    documents: tuple[SourceDocument, ...]
    profile_name: str
    #: The job file as it ran; None: rebuilt from the options fio echoes in its output.
    profile_text: str | None
    target: str
    backend: str = "unknown"
    title: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Where exactly it came from (file, row, job id): kept in the run's fingerprint.
    source_facts: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: The worker count the source states (FIOLoadGen's column, --workers), if any.
    declared_workers: int | None = None
    units: int = 1

    @property
    def run_id(self) -> str:
        return run_id_of(self.digest)


@dataclass(frozen=True)
class Skipped:
    """A run the source holds that did not finish (failed, incomplete, queued): listed,
    not imported."""

    where: str
    reason: str
    units: int = 1


@dataclass(frozen=True)
class Refused:
    """A row or file that cannot be imported (truncated JSON, not fio output): one line
    naming it and its position; nothing of it is written."""

    where: str
    reason: str
    units: int = 1


SourceItem = SourceRun | Skipped | Refused


class Source(Protocol):
    """A reader: ``items`` yields one item per run, reading one row or file at a time."""

    #: What ``count`` counts, for the progress bar ("jobs", "files").
    unit: str

    def count(self) -> int:
        """How many units the source holds (known before reading them)."""

    def items(self) -> Iterator[SourceItem]:
        """The source's runs, in the source's order."""

    def close(self) -> None:
        """Release the source (a database connection)."""
