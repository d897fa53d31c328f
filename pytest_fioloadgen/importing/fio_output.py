"""Plain fio output files as a source of runs: runs by hand or by other harnesses.

Each file holds fio's JSON document (``--output-format=json`` or ``json+``; text fio
prints before it, such as warnings, is skipped): client/server output (``client_stats``,
one entry per worker and job) or standalone output (``jobs``: one worker). A directory
stands for its ``*.json`` files, in name order.

Without ``workers`` every file is one run. With ``workers=N`` files are taken in order
until they hold N workers between them (a standalone file holds one, a client/server
file its clients): one run per worker file, as ``fioloadgen db export --format fio-json``
writes them. A file that is not fio output refuses the run it belongs to, and only that
run. Files are read when their run is built, so memory holds one run's files at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ResultError, SourceError
from ..fio.results import split_output
from .ids import content_digest
from .sources import Refused, SourceDocument, SourceItem, SourceRun

#: The origin imported runs of this source carry (label imported-from).
FIO_JSON = "fio-json"


@dataclass(frozen=True)
class _File:
    path: Path
    position: int

    def where(self, total: int) -> str:
        return f"{self.path} (file {self.position} of {total})"


@dataclass(frozen=True)
class _Read:
    file: _File
    data: bytes
    document: Mapping[str, Any]
    workers: int


def worker_count(document: Mapping[str, Any]) -> int:
    """How many workers a fio document holds: its clients, or one for standalone output."""
    entries = document.get("client_stats")
    if not isinstance(entries, list):
        return 1  # standalone (or malformed: the builder refuses it)
    clients = {
        (entry.get("hostname"), entry.get("port"))
        for entry in entries
        if isinstance(entry, Mapping) and entry.get("jobname") != "All clients"
    }
    return max(len(clients), 1)


def expand(paths: Sequence[Path]) -> list[Path]:
    """The files ``paths`` name (a directory: its ``*.json`` files, by name)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
            if not found:
                raise SourceError(f"fio output directory {path} holds no .json file")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise SourceError(f"fio output {path}: no such file or directory")
    return files


class FioOutputFiles:
    """Runs from fio output files (see the module's docstring for the grouping)."""

    unit = "files"

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        profile_name: str,
        target: str,
        workers: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise SourceError(f"--workers {workers}: a run has at least one worker")
        self.files = [_File(path, n) for n, path in enumerate(expand(paths), start=1)]
        self.profile_name = profile_name
        self.target = target
        self.workers = workers
        self.labels = dict(labels or {})

    def count(self) -> int:
        return len(self.files)

    def close(self) -> None:
        pass

    def items(self) -> Iterator[SourceItem]:
        total = len(self.files)
        group: list[_Read] = []
        members: list[str] = []  # every file of the run, readable or not, in order
        problems: list[str] = []
        held = 0
        for file in self.files:
            read = self._read(file, total)
            members.append(file.where(total))
            if isinstance(read, Refused):
                problems.append(
                    read.reason if len(members) == 1 else f"{read.where}: {read.reason}"
                )
                held += 1  # unreadable: counted as one worker
            else:
                group.append(read)
                held += read.workers
            wanted = self.workers or held
            if held < wanted:
                continue
            where = _where(members)
            if problems:
                yield Refused(where, problems[0], units=len(members))
            elif held > wanted:
                yield Refused(
                    where,
                    f"these files hold {held} workers, --workers {wanted} asks for runs of"
                    f" {wanted}",
                    units=len(members),
                )
            else:
                yield self._run(group, where)
            group, members, problems, held = [], [], [], 0
        if members:
            yield Refused(
                _where(members),
                f"the last file(s) hold {held} worker(s), fewer than --workers {self.workers}",
                units=len(members),
            )

    def _read(self, file: _File, total: int) -> _Read | Refused:
        where = file.where(total)
        try:
            data = file.path.read_bytes()
        except OSError as err:
            return Refused(where, f"cannot read it ({err.strerror or err})")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            return Refused(where, f"not UTF-8 text (byte {err.start})")
        try:
            document, _before = split_output(text, source=str(file.path))
        except ResultError as err:
            return Refused(where, str(err))
        except RecursionError:
            return Refused(where, "nests JSON too deeply to read")
        return _Read(file, data, document, worker_count(document))

    def _run(self, group: Sequence[_Read], where: str) -> SourceRun:
        names = _worker_names([read.file.path for read in group])
        documents = tuple(
            SourceDocument(name if len(group) > 1 else "", read.document)
            for name, read in zip(names, group, strict=True)
        )
        listed = ", ".join(str(read.file.path) for read in group)
        return SourceRun(
            where=where,
            origin=FIO_JSON,
            digest=content_digest(FIO_JSON, [read.data for read in group]),
            documents=documents,
            profile_name=self.profile_name,
            profile_text=None,
            target=self.target,
            labels=self.labels,
            source_facts={"files": [read.file.path.name for read in group]},
            notes=(f"imported from fio output {listed}",),
            declared_workers=self.workers,
            units=len(group),
        )


def _where(members: Sequence[str]) -> str:
    return members[0] if len(members) == 1 else "run of " + ", ".join(members)


def _worker_names(paths: Sequence[Path]) -> list[str]:
    """Each file's worker name: its stem, made unique (two directories' w1.json)."""
    names: list[str] = []
    for path in paths:
        name = path.stem
        while name in names:
            name += "+"
        names.append(name)
    return names
