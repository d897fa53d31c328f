"""Confinement of the fio processes the harness starts (bubblewrap).

The first line of defence against a hostile profile (the safety policy in
profiles/policy.py is the second; each holds on its own). Every fio process the harness
starts runs inside ``bwrap``: every local ``fio --server``, every fio client, and every
``fio --parse-only`` (profiles/validation.py, ``fioloadgen profile check``). Inside:

* a file system of its own that holds only what fio needs, read-only: the fio binary and
  the libraries it loads (found with ``ldd``; the library directories when ldd cannot
  tell), a minimal ``/etc`` (the loader's cache, the time zone, name resolution: see
  FIO_ETC), ``/sys``, and whatever the user's settings grant (``/etc/ceph`` for an
  allowed rbd engine). No ``/root``, ``/home``, ``/tmp``, ``/var``, ``/srv``,
  ``/etc/shadow``, no shell, no ``bc``, no other worker's directory: a path outside
  exists only as ENOENT. The root itself is read-only;
* the one directory the process works in (a worker's directory; the client's temp
  directory) bound read-write;
* a private ``/dev`` without block devices (``--dev``: null, zero, random, tty, its own
  ``/dev/shm``), a private ``/proc`` of its own PID namespace whose ``sys``,
  ``sysrq-trigger``, ``bus``, ``fs`` and ``irq`` are read-only;
* no capabilities (``--cap-drop ALL``), even as root: without it, root in the sandbox could
  remount or write ``/proc/sys/vm/drop_caches``;
* its own PID, IPC, UTS and cgroup namespaces, its own session (``--new-session``: no
  TIOCSTI into the caller's terminal), and ``--die-with-parent``: when the harness dies,
  even by SIGKILL, the whole namespace (server, job processes) dies with it;
* the environment fio/process.py gives every fio process: nothing of the harness's.

The network is shared: a confined ``fio --server`` on 127.0.0.x serves a client outside.

``--fio-sandbox auto`` confines when bwrap can start and otherwise runs fio unconfined,
saying so once; in CI (``CI`` set) and on the results server it never falls back: a
sandbox that cannot start is a one-line error there (choose_sandbox ``strict``).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ConfigError

SANDBOX_MODES = ("auto", "bwrap", "none")
#: /proc entries a process with no capabilities could still write as uid 0.
_READ_ONLY_PROC = ("/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq")
#: What fio (client, server, parse-only) reads of /etc, from strace: the loader's cache,
#: the time zone of its timestamps, name resolution for hosts given by name (static
#: backend), libnl's class ids (libnl is linked for the rdma engines).
FIO_ETC = (
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/gai.conf",
    "/etc/libnl/classid",
)
#: Where libraries live when ldd cannot list a program's (bound whole then).
_LIBRARY_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32")
#: Top-level links of a merged-/usr system (/lib -> usr/lib), recreated in the sandbox.
_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
#: Extra read-only paths an allowed network engine needs (its configuration, keyring).
ENGINE_FILES: Mapping[str, tuple[str, ...]] = {
    "rbd": ("/etc/ceph",),
    "rados": ("/etc/ceph",),
    "gfapi": ("/etc/glusterfs",),
    "gfapi_async": ("/etc/glusterfs",),
}
_LDD_LINE = re.compile(r"^\s*(?:\S+\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)\s*$")


def _in_sandbox(path: str) -> str:
    """Where a host path goes in the sandbox: its directory resolved (the sandbox's
    /lib is a link to usr/lib as on the host), its own name kept (libfoo.so.1)."""
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def _interpreters(path: str) -> list[str]:
    """The programs a ``#!`` script needs to start (``#!/usr/bin/env sh``: env and sh)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(256)
    except OSError:
        return []
    if not first.startswith(b"#!"):
        return []
    words = first[2:].decode(errors="replace").split()
    if not words:
        return []
    if os.path.basename(words[0]) == "env" and len(words) > 1:
        return [words[0], words[1]]
    return [words[0]]


@functools.lru_cache(maxsize=16)
def program_files(program: str) -> tuple[str, tuple[str, ...], bool]:
    """(where ``program`` is, the files it needs to start, whether ldd listed them):
    the program and every library ldd lists. Without ldd (or when it fails) the library
    directories are bound instead. A script (a wrapper of fio given as --fio-binary) gets
    its interpreter and the fio on PATH too, nothing else it might call."""
    found = shutil.which(program)
    if found is None:
        raise FileNotFoundError(program)
    path = _in_sandbox(os.path.abspath(found))
    files: list[str] = [path]
    listed = True
    interpreters = _interpreters(found)
    if interpreters:
        fio = shutil.which("fio")
        helpers = [
            *interpreters,
            *([fio] if fio and os.path.realpath(fio) != os.path.realpath(found) else []),
        ]
        for helper in helpers:
            _helper_path, helper_files, helper_listed = program_files(helper)
            files += helper_files
            listed = listed and helper_listed
        return path, tuple(files), listed
    ldd = shutil.which("ldd")
    if ldd is None:
        return path, (path,), False
    try:
        listed_by = subprocess.run(
            [ldd, path], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return path, (path,), False
    if "not a dynamic executable" in listed_by.stdout + listed_by.stderr:
        return path, (path,), True
    if listed_by.returncode != 0 or "not found" in listed_by.stdout:
        return path, (path,), False
    libraries = [
        match.group(1) for line in listed_by.stdout.splitlines() if (match := _LDD_LINE.match(line))
    ]
    return path, (path, *libraries), True


def fio_view(programs: Sequence[str], readable: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(bwrap arguments that build a read-only file system with ``programs``, their
    libraries, FIO_ETC, /sys and ``readable``; the programs' paths in it)."""
    arguments: list[str] = []
    paths: list[str] = []
    bound: set[str] = set()
    whole_dirs = False
    for program in programs:
        path, files, listed = program_files(program)
        paths.append(path)
        whole_dirs = whole_dirs or not listed
        for file in files:
            target = _in_sandbox(file)
            if target not in bound:
                bound.add(target)
                arguments += ["--ro-bind", file, target]
    if whole_dirs:
        for directory in _LIBRARY_DIRS:
            if os.path.isdir(directory) and not os.path.islink(directory):
                arguments += ["--ro-bind", directory, directory]
    for name in _ROOT_LINKS:
        link = f"/{name}"
        if os.path.islink(link):
            arguments += ["--symlink", os.readlink(link), link]
    for path in (*FIO_ETC, *readable):
        arguments += ["--ro-bind-try", path, path]
    arguments += ["--ro-bind", "/sys", "/sys"]
    return arguments, paths


@dataclass(frozen=True)
class Sandbox:
    """How the harness starts fio: inside bwrap, or as it is (``kind`` "none")."""

    kind: str
    executable: str | None = None
    version: str = ""
    #: Why the processes are not confined (kind "none"), for the session's notice.
    reason: str = ""
    #: Read-only paths the user's settings grant beyond what fio needs (ENGINE_FILES).
    readable: tuple[str, ...] = ()

    @property
    def confined(self) -> bool:
        return self.kind == "bwrap"

    def describe(self) -> str:
        """What each run records about its confinement."""
        if self.confined:
            return f"bwrap {self.version}".strip()
        return f"none ({self.reason})" if self.reason else "none"

    def command(
        self,
        argv: Sequence[str],
        *,
        writable: Sequence[Path],
        cwd: Path,
        programs: Sequence[str] = (),
    ) -> list[str]:
        """``argv`` as it must be started: inside bwrap with only ``writable`` writable and
        only ``argv[0]`` (and ``programs``) to run."""
        if not self.confined:
            return list(argv)
        assert self.executable is not None
        return bwrap_argv(
            self.executable,
            argv,
            writable=writable,
            cwd=cwd,
            programs=programs,
            readable=self.readable,
        )


UNCONFINED = Sandbox("none", reason="--fio-sandbox none")


def bwrap_argv(
    executable: str,
    argv: Sequence[str],
    *,
    writable: Sequence[Path],
    cwd: Path,
    programs: Sequence[str] = (),
    readable: Sequence[str] = (),
) -> list[str]:
    """The bwrap command line that confines ``argv`` (see the module docstring)."""
    view, paths = fio_view([argv[0], *programs], readable)
    command = [executable, *view, "--dev", "/dev", "--proc", "/proc"]
    for entry in _READ_ONLY_PROC:
        command += ["--ro-bind-try", entry, entry]
    for directory in writable:
        resolved = str(Path(directory).resolve())
        command += ["--bind", resolved, resolved]
    command += [
        "--remount-ro",
        "/",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--chdir",
        str(Path(cwd).resolve()),
        "--",
        paths[0],
        *argv[1:],
    ]
    return command


@functools.lru_cache(maxsize=4)
def probe_bwrap(executable: str = "bwrap") -> tuple[str | None, str, str]:
    """(path, version, problem): whether bwrap is installed and can start a sandbox here
    (user namespaces may be off for non-root users, or a container may forbid them)."""
    path = shutil.which(executable)
    if path is None:
        return None, "", f"{executable} is not installed (Debian: apt-get install bubblewrap)"
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.split()[-1:]
        probe = subprocess.run(
            bwrap_argv(path, ["true"], writable=(), cwd=Path("/")),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, "", f"{path} cannot run: {err}"
    if probe.returncode != 0:
        said = probe.stderr.strip().splitlines()
        reason = said[-1] if said else f"exit status {probe.returncode}"
        return None, "", f"{path} cannot start a sandbox here: {reason}"
    return path, version[0] if version else "", ""


def in_ci(environ: Mapping[str, str]) -> bool:
    """Whether this runs in CI: ``CI`` set (GitHub Actions, GitLab CI and most others set
    it to true), and not to a false value."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def choose_sandbox(
    mode: str,
    *,
    where: str,
    executable: str = "bwrap",
    strict: str | None = None,
    readable: Sequence[str] = (),
) -> Sandbox:
    """The sandbox ``mode`` asks for. ``auto``: bwrap when it can start, else none with the
    reason (the session says so once), unless ``strict`` names why it may not fall back
    ("CI is set", "the results server") - then, like ``bwrap``, a ConfigError naming
    ``where``; ``none``: explicitly unconfined. ``readable``: see Sandbox."""
    if mode == "none":
        return Sandbox("none", reason=f"{where} none")
    path, version, problem = probe_bwrap(executable)
    if path is not None:
        return Sandbox("bwrap", path, version, readable=tuple(readable))
    if mode == "bwrap":
        raise ConfigError(f"{where} bwrap: {problem}")
    if strict is not None:
        raise ConfigError(
            f"{where} auto: {problem}; fio never runs unconfined when {strict} (--fio-sandbox"
            " none says you mean it)"
        )
    return Sandbox("none", reason=problem)
