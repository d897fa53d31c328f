"""This machine's processes, read from /proc: the one place that parses it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def process_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if len(fields) > 2:
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def descendants(roots: Iterable[int]) -> set[int]:
    """Every process below ``roots``. fio's job processes call setsid(), so they leave
    their server's process group: only the parent links still find them."""
    table = process_table()
    found: set[int] = set()
    frontier = set(roots)
    while frontier:
        children = {pid for pid, (ppid, _g, _s) in table.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return found


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state first); [] when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    # The command name may contain spaces and parentheses: parse after the last ')'.
    return text[text.rfind(")") + 2 :].split()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie is gone for every purpose here)."""
    fields = _stat(pid)
    return bool(fields) and fields[0] not in ("Z", "X")


def start_time(pid: int) -> str | None:
    """A process's start time (clock ticks since boot): with the pid, it names a process
    even after the pid is reused."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else None


def working_in(directories: Iterable[Path]) -> set[int]:
    """Processes whose working directory is one of ``directories`` (or below): fio job
    processes keep their server's directory, wherever they were reparented."""
    prefixes = tuple(str(directory) for directory in directories)
    found: set[int] = set()
    if not prefixes:
        return found
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(prefixes):
            found.add(int(entry.name))
    return found


def carrying(variable: str) -> set[int]:
    """Live processes whose environment holds ``variable`` (``NAME=VALUE``, exactly): how
    a run's marker finds what it started wherever it was reparented."""
    needle = variable.encode()
    found: set[int] = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environment.split(b"\0") and alive(int(entry.name)):
            found.add(int(entry.name))
    return found
