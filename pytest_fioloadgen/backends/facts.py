"""Facts about the machine and its storage that make benchmark runs comparable."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=8)
def fio_version(fio_binary: str = "fio") -> str:
    """``fio --version`` (e.g. "fio-3.33"), or "unknown" when fio cannot be run."""
    try:
        completed = subprocess.run(
            [fio_binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return completed.stdout.strip() or "unknown"


def _memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def host_facts() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
    }


def filesystem_of(path: Path) -> dict[str, str]:
    """Mount point, device and filesystem type holding ``path`` (from /proc/self/mounts)."""
    resolved = str(path.resolve())
    best: tuple[str, str, str] = ("/", "unknown", "unknown")
    try:
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                device, mount_point, fstype = line.split()[:3]
                # /proc/self/mounts escapes spaces as \040.
                mount_point = mount_point.replace("\\040", " ")
                inside = resolved == mount_point or resolved.startswith(
                    mount_point.rstrip("/") + "/"
                )
                if inside and len(mount_point) >= len(best[0]):
                    best = (mount_point, device, fstype)
    except OSError:
        pass
    return {"mount": best[0], "device": best[1], "type": best[2]}
