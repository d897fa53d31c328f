"""strace as the oracle of what fio really did to the file system.

Commands are started under ``strace -f -y`` (file descriptors decoded to paths; with
``-z``, only successful calls, unless the tracer keeps failures to see what was *tried*);
the parser follows every process that is fio or was started by fio (exec_prerun's shell
included) and reports

* writes (violations_in): each successful call that opened a file for writing, created,
  renamed, linked, unlinked or changed one, or mounted anything, outside the allowed
  directories;
* reads (accesses_in): each call, successful or not, that named a path under given roots
  (a canary directory, /etc/shadow, /root...): a read that got through is a successful
  one, a sandbox that held answers ENOENT.

bwrap's own set-up calls are not fio's and are not counted: the sandbox is judged by what
the processes inside it manage to do.
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

_LINE = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)(?:<([^>]*)>)?(?:\s+(E[A-Z0-9]+))?")
# strace -f splits a call another process interrupts: "PID call(args <unfinished ...>",
# later "PID <... call resumed>rest". Joined again, or the call (its path) would be lost.
_UNFINISHED = re.compile(r"^(\d+)\s+(.*?)\s*<unfinished \.\.\.>\s*$")
_RESUMED = re.compile(r"^(\d+)\s+<\.\.\. \w+ resumed>\s*(.*)$")
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
#: Calls that name a path to read it, look at it or run it.
_LOOKS = frozenset(
    {
        *("open", "openat", "openat2", "creat", "stat", "lstat", "newfstatat", "statx"),
        *("access", "faccessat", "faccessat2", "readlink", "readlinkat", "execve"),
        *("execveat", "statfs", "truncate", "chdir", "getxattr", "lgetxattr"),
    }
)
#: Character devices any process may write (they hold nothing).
DEVICE_SINKS = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")


@dataclass(frozen=True)
class Violation:
    pid: int
    syscall: str
    path: str
    line: str


@dataclass(frozen=True)
class Access:
    """A call of a fio process that named a path under the watched roots."""

    pid: int
    syscall: str
    path: str
    result: int
    errno: str
    line: str

    @property
    def succeeded(self) -> bool:
        return self.result >= 0


@dataclass
class Tracer:
    """Hands out strace-wrapped commands, each tracing into its own file. With
    ``failures`` the traces keep failed calls too (what was tried, and its errno)."""

    directory: Path
    failures: bool = False
    files: list[Path] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def wrap(self, argv: list[str]) -> list[str]:
        assert STRACE is not None
        output = self.directory / f"trace.{next(self._counter)}"
        self.files.append(output)
        return [
            STRACE,
            "-f",
            *([] if self.failures else ["-z"]),
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

    def accesses(self, roots: Sequence[Path | str], allowed: Sequence[Path] = ()) -> list[Access]:
        """Every call of the traced fio processes naming a path under ``roots`` (and not
        under ``allowed``)."""
        found: list[Access] = []
        for path in self.files:
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()
                found += accesses_in(lines, roots, allowed)
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


@dataclass(frozen=True)
class _Call:
    pid: int
    syscall: str
    args: str
    result: int
    result_path: str
    errno: str
    line: str
    cwd: str


def _joined(lines: Iterable[str]) -> Iterable[str]:
    """strace's lines with every interrupted call joined to its resumption."""
    pending: dict[str, str] = {}
    for line in lines:
        unfinished = _UNFINISHED.match(line)
        if unfinished is not None:
            pending[unfinished.group(1)] = unfinished.group(2)
            continue
        resumed = _RESUMED.match(line)
        if resumed is not None and resumed.group(1) in pending:
            yield f"{resumed.group(1)} {pending.pop(resumed.group(1))}{resumed.group(2)}"
            continue
        yield line


def _fio_calls(lines: Iterable[str]) -> Iterable[_Call]:
    """The calls of fio and of what it started, each with its process's working
    directory (for relative paths)."""
    # Inside a sandbox fork() returns pids of the sandbox's PID namespace, which strace
    # does not map to the host pids it prefixes lines with. So: fio's processes are the
    # one that exec'd fio and every process first seen after that (bwrap's own processes
    # all exist before it starts fio).
    fio_started = False
    seen: set[int] = set()
    fio_pids: set[int] = set()
    cwd: dict[int, str] = {}
    for line in _joined(lines):
        match = _LINE.match(line)
        if match is None:
            continue
        pid, syscall, args = int(match.group(1)), match.group(2), match.group(3)
        result, result_path = int(match.group(4)), match.group(5) or ""
        if pid not in seen:
            seen.add(pid)
            if fio_started:
                fio_pids.add(pid)
        for at, at_path, _ in _PATH_ARG.findall(args):
            if at == "AT_FDCWD" and at_path:
                cwd[pid] = at_path
        if syscall in _FORKS:
            continue
        if syscall == "execve" and result >= 0:
            program = _PATH_ARG.search(args)
            if program and os.path.basename(_unescape(program.group(3))) == "fio":
                fio_pids.add(pid)
                fio_started = True
        if syscall == "chdir" and result >= 0:
            target = _PATH_ARG.search(args)
            if target:
                cwd[pid] = os.path.join(cwd.get(pid, "/"), _unescape(target.group(3)))
        if pid in fio_pids:
            yield _Call(
                pid,
                syscall,
                args,
                result,
                result_path,
                match.group(6) or "",
                line,
                cwd.get(pid, "<unknown cwd>"),
            )


def violations_in(
    lines: Iterable[str], allowed: Sequence[Path], prefixes: Sequence[str] = ()
) -> list[Violation]:
    """Every write-like call of a fio process (or its children) outside ``allowed``."""
    roots = [Path(os.path.realpath(root)) for root in allowed]
    found: list[Violation] = []
    for call in _fio_calls(lines):
        if call.result < 0 or call.syscall in ("execve", "chdir"):
            continue
        if call.syscall in _NEVER:
            found.append(Violation(call.pid, call.syscall, call.args[:120], call.line))
            continue
        if call.syscall in _OPENS:
            if not any(flag in call.args for flag in _WRITE_FLAGS):
                continue
            if call.result_path and not _inside(call.result_path, roots, prefixes):
                found.append(Violation(call.pid, call.syscall, call.result_path, call.line))
            continue
        if call.syscall in _CHANGES:
            for _at, at_path, raw in _PATH_ARG.findall(call.args):
                name = _unescape(raw)
                base = at_path or call.cwd
                path = name if name.startswith("/") else os.path.join(base, name)
                if not _inside(path, roots, prefixes):
                    found.append(Violation(call.pid, call.syscall, path, call.line))
    return found


def accesses_in(
    lines: Iterable[str], roots: Sequence[Path | str], allowed: Sequence[Path] = ()
) -> list[Access]:
    """Every call of a fio process (or its children) naming a path under ``roots`` and
    not under ``allowed``, successful or not."""
    watched = [os.path.realpath(root) for root in roots]
    exempt = [Path(os.path.realpath(root)) for root in allowed]
    found: list[Access] = []
    for call in _fio_calls(lines):
        if call.syscall not in _LOOKS:
            continue
        paths = [call.result_path] if call.result_path else []
        for _at, at_path, raw in _PATH_ARG.findall(call.args)[:1]:
            name = _unescape(raw)
            paths.append(name if name.startswith("/") else os.path.join(at_path or call.cwd, name))
        for path in paths:
            normalized = os.path.normpath(path)
            under = any(
                normalized == root or normalized.startswith(root.rstrip("/") + "/")
                for root in watched
            )
            if under and not _inside(normalized, exempt, ()):
                found.append(
                    Access(call.pid, call.syscall, normalized, call.result, call.errno, call.line)
                )
                break
    return found
