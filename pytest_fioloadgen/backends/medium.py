"""What a local target's data actually lives on: a device, or memory.

A benchmark on tmpfs measures memory copies, and buffered I/O on any file system measures
the page cache. So every local target is classified at deploy:

* its file system type, from statfs(2) (the truth for the path, bind mounts included)
  and /proc/self/mountinfo (names, and an overlay's upper directory);
* memory-backed: tmpfs, ramfs, or an overlay whose upper layer is one of those. An
  O_DIRECT probe alone cannot tell: tmpfs accepts O_DIRECT since Linux 6.6;
* whether it accepts O_DIRECT (a 4 KiB aligned write with O_DIRECT).

A target that is memory-backed or refuses O_DIRECT stops the run with one line naming
the target, its file system and how to choose, unless the user opted in; the opt-in is
recorded in every run (fingerprint and notes) and shown next to its figures.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import BackendError

#: statfs f_type magic numbers (linux/magic.h).
TMPFS_MAGIC = 0x01021994
RAMFS_MAGIC = 0x858458F6
OVERLAYFS_MAGIC = 0x794C7630
_MAGIC_NAMES = {TMPFS_MAGIC: "tmpfs", RAMFS_MAGIC: "ramfs", OVERLAYFS_MAGIC: "overlay"}
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "devtmpfs", "shm"})
#: The option that lets a memory-backed or O_DIRECT-refusing target run anyway.
OPT_IN = "--fio-allow-memory-target"
_PROBE_NAME = ".fioloadgen-odirect-probe"
_BLOCK = 4096


class _Statfs(ctypes.Structure):
    # struct statfs on 64-bit Linux: f_type comes first, which is all we read.
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_byte * 120)]


def _statfs_type(path: Path) -> int | None:
    """statfs(2) f_type of ``path``, or None where it cannot be had (not Linux glibc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    buffer = _Statfs()
    if libc.statfs(os.fsencode(str(path)), ctypes.byref(buffer)) != 0:
        return None
    return int(buffer.f_type) & 0xFFFFFFFF


@dataclass(frozen=True)
class Mount:
    """One line of /proc/self/mountinfo."""

    mount_point: str
    fstype: str
    source: str
    super_options: str

    def option(self, name: str) -> str | None:
        for part in self.super_options.split(","):
            key, _sep, value = part.partition("=")
            if key == name:
                return value
        return None


def _unescape(text: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
    return (
        text.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def mount_of(path: Path, mountinfo: str | None = None) -> Mount | None:
    """The mount holding ``path`` (the longest matching mount point; the last one mounted
    there wins, as it hides the others)."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return None
    resolved = str(path.resolve())
    best: Mount | None = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 2:
            continue
        point = _unescape(fields[4])
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.mount_point)):
            best = Mount(point, tail[0], _unescape(tail[1]), tail[2] if len(tail) > 2 else "")
    return best


@dataclass(frozen=True)
class Medium:
    """What a target directory's data lives on."""

    path: str
    fstype: str
    mount_point: str
    #: tmpfs, ramfs, or an overlay on one of them: every figure is a memory figure.
    memory: bool
    #: The file system behind an overlay's upper directory, when there is one.
    upper_fstype: str = ""
    #: Whether an O_DIRECT write of one aligned 4 KiB block succeeded (None: not probed).
    o_direct: bool | None = None
    o_direct_error: str = ""

    @property
    def describe_fs(self) -> str:
        if self.upper_fstype:
            return f"{self.fstype} over {self.upper_fstype}"
        return self.fstype

    def as_dict(self, *, allowed: bool = False) -> dict[str, Any]:
        """The facts recorded in every run's fingerprint (part of the history key)."""
        facts: dict[str, Any] = {
            "fstype": self.describe_fs,
            "memory": self.memory,
            "o_direct": self.o_direct,
        }
        if allowed and self.problem:
            facts["allowed_by"] = OPT_IN
        return facts

    @property
    def problem(self) -> str:
        """Why this target cannot measure a device ('' when it can)."""
        if self.memory:
            return f"is on {self.describe_fs} (memory-backed: figures would measure RAM)"
        if self.o_direct is False:
            return (
                f"is on {self.describe_fs}, which refuses O_DIRECT ({self.o_direct_error}):"
                " direct=1 profiles cannot run there"
            )
        return ""

    def refusal(self, target: str) -> str:
        """The one line that stops a run on this target."""
        return (
            f"target {target!r} ({self.path}) {self.problem}; choose a directory on a real"
            f" device with --fio-target [NAME=]DIR, or pass {OPT_IN} to measure it anyway"
            " (recorded in every run)"
        )

    def note(self, target: str) -> str:
        """What every run on an allowed problem target says next to its figures."""
        return f"target {target!r} {self.problem}; run anyway because of {OPT_IN}"


def _fs_name(path: Path, mount: Mount | None) -> str:
    magic = _statfs_type(path)
    if magic in _MAGIC_NAMES:
        return _MAGIC_NAMES[magic]
    return mount.fstype if mount is not None else "unknown"


def probe_o_direct(directory: Path) -> tuple[bool, str]:
    """Write one aligned block with O_DIRECT in ``directory``; (accepted, why not)."""
    probe = directory / _PROBE_NAME
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_DIRECT", 0)
    if not getattr(os, "O_DIRECT", 0):
        return False, "this platform has no O_DIRECT"
    try:
        descriptor = os.open(probe, flags, 0o600)
    except OSError as err:
        return False, f"open: {os.strerror(err.errno or errno.EINVAL)}"
    try:
        # An anonymous mapping is page aligned, as O_DIRECT wants its buffers.
        with mmap.mmap(-1, _BLOCK) as buffer:
            os.write(descriptor, buffer)
        return True, ""
    except OSError as err:
        return False, f"write: {os.strerror(err.errno or errno.EINVAL)}"
    finally:
        os.close(descriptor)
        probe.unlink(missing_ok=True)


def classify(directory: Path, *, mountinfo: str | None = None, probe: bool = True) -> Medium:
    """Classify the file system holding ``directory`` (which must exist)."""
    mount = mount_of(directory, mountinfo)
    fstype = _fs_name(directory, mount)
    upper = ""
    memory = fstype in MEMORY_FILESYSTEMS
    if fstype == "overlay" and mount is not None:
        upper_dir = mount.option("upperdir")
        if upper_dir:
            upper_mount = mount_of(Path(upper_dir), mountinfo)
            upper = upper_mount.fstype if upper_mount is not None else "unknown"
            memory = upper in MEMORY_FILESYSTEMS
    accepted: bool | None = None
    why = ""
    if probe:
        accepted, why = probe_o_direct(directory)
    return Medium(
        path=str(directory),
        fstype=fstype,
        mount_point=mount.mount_point if mount is not None else "/",
        memory=memory,
        upper_fstype=upper,
        o_direct=accepted,
        o_direct_error=why,
    )


def check_target(name: str, directory: Path, *, allow: bool) -> Medium:
    """Classify a target; refuse it (BackendError on setting ``target``) when it cannot
    measure a device and the user did not opt in."""
    medium = classify(directory)
    if medium.problem and not allow:
        raise BackendError(medium.refusal(name), setting="target")
    return medium
