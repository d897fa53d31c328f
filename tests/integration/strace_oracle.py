"""strace as the oracle of what fio really did to the file system.

Commands are started under ``strace -f -z -y`` (only successful calls, file descriptors
decoded to paths); the parser follows every process that is fio or was started by fio
(exec_prerun's shell included) and reports each call that opened a file for writing,
created, renamed, linked, unlinked or changed one, or mounted anything, outside the
allowed directories. bwrap's own set-up calls are not fio's and are not counted: the
sandbox is judged by what the processes inside it manage to do.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STRACE = shutil.which("strace")
TRACED = "%file,%process,mount,umount2,pivot_root,chroot"

_LINE = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)(?:<([^>]*)>)?")
_PATH_ARG = re.compile(r'(?:(AT_FDCWD|\d+)<([^>]*)>,\s*)?"((?:[^"\\]|\\.)*)"')
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
_OPENS = frozenset({"open", "openat", "openat2", "creat"})
_CHANGES = frozenset(
    {
        "mkdir",
        "mkdirat",
        "rmdir",
        "unlink",
        "unlinkat",
        "rename",
        "renameat",
        "renameat2",
        "link",
        "linkat",
        "symlink",
        "symlinkat",
        "mknod",
        "mknodat",
        "truncate",
        "chmod",
        "fchmodat",
        "chown",
        "lchown",
        "fchownat",
        "utimensat",
        "setxattr",
        "lsetxattr",
        "removexattr",
        "lremovexattr",
    }
)
_NEVER = frozenset({"mount", "umount2", "pivot_root", "chroot"})
_FORKS = frozenset({"clone", "clone3", "fork", "vfork"})  # their results are namespace pids
#: Character devices any process may write (they hold nothing).
DEVICE_SINKS = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")


@dataclass(frozen=True)
class Violation:
    pid: int
    syscall: str
    path: str
    line: str


@dataclass
class Tracer:
    """Hands out strace-wrapped commands, each tracing into its own file."""

    directory: Path
    files: list[Path] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def wrap(self, argv: list[str]) -> list[str]:
        assert STRACE is not None
        output = self.directory / f"trace.{next(self._counter)}"
        self.files.append(output)
        return [
            STRACE,
            "-f",
            "-z",
            "-y",
            "-s",
            "512",
            "--seccomp-bpf",
            "-e",
            f"trace={TRACED}",
            "-o",
            str(output),
            "--",
            *argv,
        ]

    def violations(self, allowed: Sequence[Path], prefixes: Sequence[str] = ()) -> list[Violation]:
        """What the traced fio processes wrote outside ``allowed`` (directories) and
        outside paths starting with one of ``prefixes`` (e.g. the clients' temp dirs)."""
        found: list[Violation] = []
        for path in self.files:
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()
                found += violations_in(lines, allowed, prefixes)
        return found


def _unescape(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _inside(path: str, allowed: Sequence[Path], prefixes: Sequence[str]) -> bool:
    normalized = os.path.normpath(path)
    if normalized in DEVICE_SINKS or normalized.startswith(tuple(prefixes)):
        return True
    return any(
        normalized == str(root) or normalized.startswith(str(root).rstrip("/") + "/")
        for root in allowed
    )


def violations_in(
    lines: Iterable[str], allowed: Sequence[Path], prefixes: Sequence[str] = ()
) -> list[Violation]:
    """Every write-like call of a fio process (or its children) outside ``allowed``."""
    roots = [Path(os.path.realpath(root)) for root in allowed]
    # Inside a sandbox fork() returns pids of the sandbox's PID namespace, which strace
    # does not map to the host pids it prefixes lines with. So: fio's processes are the
    # one that exec'd fio and every process first seen after that (bwrap's own processes
    # all exist before it starts fio).
    fio_started = False
    seen: set[int] = set()
    fio_pids: set[int] = set()
    cwd: dict[int, str] = {}
    found: list[Violation] = []
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        pid, syscall, args, _result, result_path = (
            int(match.group(1)),
            match.group(2),
            match.group(3),
            int(match.group(4)),
            match.group(5),
        )
        if pid not in seen:
            seen.add(pid)
            if fio_started:
                fio_pids.add(pid)
        for at, at_path, _ in _PATH_ARG.findall(args):
            if at == "AT_FDCWD" and at_path:
                cwd[pid] = at_path
        if syscall in _FORKS:
            continue
        if syscall == "execve":
            program = _PATH_ARG.search(args)
            if program and os.path.basename(_unescape(program.group(3))) == "fio":
                fio_pids.add(pid)
                fio_started = True
            continue
        if syscall == "chdir":
            target = _PATH_ARG.search(args)
            if target:
                cwd[pid] = os.path.join(cwd.get(pid, "/"), _unescape(target.group(3)))
            continue
        if pid not in fio_pids:
            continue
        if syscall in _NEVER:
            found.append(Violation(pid, syscall, args[:120], line))
            continue
        if syscall in _OPENS:
            if not any(flag in args for flag in _WRITE_FLAGS):
                continue
            path = result_path or ""
            if not path:
                continue
            if not _inside(path, roots, prefixes):
                found.append(Violation(pid, syscall, path, line))
            continue
        if syscall in _CHANGES:
            for _at, at_path, raw in _PATH_ARG.findall(args):
                name = _unescape(raw)
                base = at_path or cwd.get(pid, "<unknown cwd>")
                path = name if name.startswith("/") else os.path.join(base, name)
                if not _inside(path, roots, prefixes):
                    found.append(Violation(pid, syscall, path, line))
    return found
