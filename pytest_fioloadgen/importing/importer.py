"""The import loop: one source run at a time, skipped when the store has its id, recorded
whole or not at all (a store records one run in one transaction), with progress and a
summary of what was imported, skipped and refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..exceptions import FioLoadgenError
from ..store.base import Store
from .builder import build_record
from .ids import content_digest
from .same_as import SameAs
from .sources import Refused, Skipped, Source, SourceRun

#: What a document of fio's keys but not its types makes the builder raise.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError)
#: Told (units done, units in all) after each source run.
Progress = Callable[[int, int], None]


@dataclass
class ImportSummary:
    """What an import did: counts of the runs imported and already present (a count, not
    a list: memory must not grow with the source), and a line per skipped or refused run
    naming it by its source and position."""

    imported: int = 0
    present: int = 0
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"imported {self.imported} run(s), {self.present} already present,"
            f" skipped {len(self.skipped)} unfinished, refused {len(self.refused)}"
        )


def import_session_id(origin: str, source_name: str) -> str:
    """The session imported runs belong to: one per source (the same on every import)."""
    return f"import-{origin}-{content_digest('session', [source_name])[:12]}"


def _present(store: Store, run_id: str) -> bool:
    return bool(store.runs_json([run_id], with_raw=False))


def import_runs(
    source: Source,
    store: Store,
    *,
    session_id: str,
    same_as: SameAs | None = None,
    labels: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import every run of ``source`` into ``store``; the summary says what happened."""
    summary = ImportSummary()
    total = source.count()
    done = 0
    for item in source.items():
        done += item.units
        if isinstance(item, Skipped):
            summary.skipped.append(f"{item.where}: {item.reason}")
        elif isinstance(item, Refused):
            summary.refused.append(f"{item.where}: {item.reason}")
        else:
            _import_one(item, store, summary, session_id, same_as, labels)
        if progress is not None:
            progress(done, total)
    return summary


def _import_one(
    item: SourceRun,
    store: Store,
    summary: ImportSummary,
    session_id: str,
    same_as: SameAs | None,
    labels: Mapping[str, str] | None,
) -> None:
    if _present(store, item.run_id):
        summary.present += 1
        return
    try:
        record = build_record(item, session_id=session_id, same_as=same_as, extra_labels=labels)
    except FioLoadgenError as err:
        summary.refused.append(f"{item.where}: {err}")
        return
    except _MALFORMED as err:
        # JSON of fio's shape in part (a string where fio writes a number...): this run
        # is refused, the import goes on.
        summary.refused.append(f"{item.where}: not fio output of a known shape ({err!r})")
        return
    store.record(record)
    summary.imported += 1
