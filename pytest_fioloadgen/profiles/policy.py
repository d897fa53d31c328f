"""The safety policy: what a profile may do on a worker.

Checked on the rendered profile (what fio will run), after every override, and again
with what the backend grants (see Allowance).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..exceptions import ProfileError
from .model import Option, Profile, _canonical

__all__ = ["NO_ALLOWANCE", "Allowance", "check_safety"]


@dataclass(frozen=True)
class Allowance:
    """What a backend (or the user, explicitly) grants a profile beyond file I/O in the
    worker directory.

    ``devices``: device paths a job's ``filename`` may name (a Kubernetes block-mode pod's
    one volume device); nothing else may ever open a device. ``engines``: ioengines the
    user trusts by an explicit setting (``fio_allow_engines = rbd``), never from the
    server API.
    """

    devices: tuple[str, ...] = ()
    engines: tuple[str, ...] = ()


NO_ALLOWANCE = Allowance()

# What a profile may do on a worker: I/O on files inside the directory the backend gives it,
# nothing else. So the engines are an allow-list: fio dlopen()s any name it does not know,
# which makes every unknown engine name a way to load code.
_FILE_ENGINES = frozenset(
    {
        "sync",
        "psync",
        "vsync",
        "pvsync",
        "pvsync2",
        "libaio",
        "io_uring",
        "posixaio",
        "windowsaio",
        "solarisaio",
        "mmap",
        "splice",
        "null",
        "cpuio",
        "falloc",
        "ftruncate",
        "filecreate",
        "filestat",
        "filedelete",
        "dircreate",
        "dirstat",
        "dirdelete",
    }
)
# These only talk to block or character devices (SCSI generic, MTD, NVMe char devices, DAX).
_DEVICE_ENGINES = frozenset(
    {"sg", "mtd", "io_uring_cmd", "dev-dax", "pmemblk", "libpmem", "xnvme", "spdk", "libblkio"}
)
# These do their I/O over the network. rbd/rados/gfapi/nfs are real storage, but they write
# into whatever pool, image or export the profile names, on a cluster others share; a storage
# target in this harness is a directory on the worker.
_NETWORK_ENGINES = frozenset(
    {
        "net",
        "netsplice",
        "rdma",
        "rados",
        "rbd",
        "gfapi",
        "gfapi_async",
        "http",
        "nfs",
        "nbd",
        "libiscsi",
        "dfs",
    }
)
# Options whose values are paths fio opens or creates. filename is relative to the worker's
# directory; the others are relative to fio's working directory, so only keeping them
# relative and free of '..' keeps them out of other people's files.
_PATH_OPTIONS = frozenset(
    {
        "filename",
        "filename_format",
        "opendir",
        "write_iolog",
        "read_iolog",
        "replay_redirect",
        "merge_blktrace_file",
        "write_bw_log",
        "write_lat_log",
        "write_iops_log",
        "write_hist_log",
        "donorname",
    }
)
_PATTERN_OPTIONS = frozenset({"buffer_pattern", "verify_pattern"})
_UNESCAPED_COLON = re.compile(r"(?<!\\):")


def _refusal(profile: Profile, option: Option, shown: str, reason: str) -> ProfileError:
    return ProfileError(
        f"profile '{profile.label}' {option.where}: option {shown} is not allowed ({reason})"
    )


def _engine_refusal(engine: str) -> str | None:
    if engine == "exec":
        return "runs a command on the worker"
    if engine.startswith("external") or "/" in engine:
        return "loads an external engine library on the worker"
    if engine in _FILE_ENGINES:
        return None
    if engine in _DEVICE_ENGINES:
        return "talks to devices directly"
    if engine in _NETWORK_ENGINES:
        return "does its I/O over the network, outside the worker's target directory"
    return f"only file I/O engines are allowed: {', '.join(sorted(_FILE_ENGINES))}"


def _path_refusal(value: str) -> str | None:
    for part in _UNESCAPED_COLON.split(value):
        path = part.replace("\\:", ":").strip()
        if not path:
            continue
        if path == "/dev" or path.startswith("/dev/"):
            return "device nodes are not allowed"
        if path.startswith("/"):
            return "absolute paths leave the worker's target directory"
        if ".." in PurePosixPath(path).parts:
            return "'..' leaves the worker's target directory"
    return None


def _option_refusal(key: str, value: str | None) -> str | None:
    if key.startswith("exec_") or key.startswith("trigger"):
        return "runs a command on the worker"
    if key == "profile":
        return "a built-in fio profile generates jobs this policy cannot check"
    if key == "cgroup":
        return "creates a cgroup on the worker, outside its target directory"
    if value is None:
        return None
    if key == "ioengine":
        return _engine_refusal(value)
    if key in _PATH_OPTIONS:
        return _path_refusal(value)
    if key == "mem" and ":" in value and value.split(":", 1)[1].strip():
        return "backs I/O buffers with a file outside the target directory, which fio unlinks"
    if key in _PATTERN_OPTIONS and "'" in value:
        return "a quoted pattern reads a file on the worker"
    return None


def check_safety(profile: Profile, allowance: Allowance = NO_ALLOWANCE) -> None:
    """Refuse what may not run on a worker: commands, code loading, devices, network engines
    and paths that leave the worker's target directory. ``directory=`` is not refused: it is
    removed (see :meth:`Profile.without_directory`)."""
    if not profile.jobs():
        raise ProfileError(f"profile '{profile.label}': defines no job section")
    for option in profile.options():
        # fio only accepts underscores, but a check must not be fooled by spelling.
        key = _canonical(option.key.strip().lower().replace("-", "_"))
        if key == "filename" and option.value in allowance.devices:
            continue
        reason = _option_refusal(key, option.value)
        if reason is not None:
            shown = option.key
            if key in ("ioengine", "mem") or key in _PATH_OPTIONS | _PATTERN_OPTIONS:
                shown = option.render()
            raise _refusal(profile, option, shown, reason)
