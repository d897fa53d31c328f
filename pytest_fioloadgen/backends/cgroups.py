"""Linux cgroups as fault actions: cap a device's I/O for some processes, or freeze them.

Both work on a cgroup the harness makes under ``/sys/fs/cgroup/<controller>/fioloadgen``
(v1) or ``/sys/fs/cgroup[/unified]/fioloadgen`` (v2): the processes are moved in (their
children inherit it), the limit or the freeze is set, and undoing it lifts the limit or
thaws, moves every process back to the cgroup it came from and removes the directory.

* I/O caps: cgroup v1 ``blkio.throttle.{read,write}_{iops,bps}_device`` (this machine:
  it caps direct I/O and reads; v1 cannot cap buffered writes, which the kernel writes
  back outside the cgroup), or v2 ``io.max`` (implemented from the kernel's
  documentation; this machine's unified hierarchy has no io controller, so it is
  untested here).
* Freezing: v1 ``freezer.state`` or v2 ``cgroup.freeze``. A frozen process ignores even
  SIGKILL until thawed: whatever cleans up must thaw first (the reaper does).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import FaultError

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The directory every cgroup of the harness lives under (per controller).
PARENT = "fioloadgen"
#: How long a freeze may take to settle (tasks in uninterruptible sleep delay it).
FREEZE_WAIT_S = 5.0


@dataclass(frozen=True)
class Controller:
    """Where a kind of control lives: a cgroup v1 hierarchy, or the v2 unified one."""

    version: int
    root: Path
    kind: str  # "io" or "freezer"

    def describe(self) -> str:
        return f"cgroup v{self.version} {self.kind} ({self.root})"


def _unified_roots(root: Path) -> list[Path]:
    return [path for path in (root, root / "unified") if (path / "cgroup.controllers").exists()]


def io_controller(root: Path = CGROUP_ROOT) -> Controller | None:
    """The controller that can cap a device's I/O here, v1 blkio first."""
    v1 = root / "blkio"
    if (v1 / "blkio.throttle.read_iops_device").exists():
        return Controller(1, v1, "io")
    for unified in _unified_roots(root):
        if "io" in (unified / "cgroup.controllers").read_text().split():
            return Controller(2, unified, "io")
    return None


def freezer_controller(root: Path = CGROUP_ROOT) -> Controller | None:
    """The controller that can freeze processes here, v1 freezer first."""
    v1 = root / "freezer"
    if (v1 / "cgroup.procs").exists():
        return Controller(1, v1, "freezer")
    for unified in _unified_roots(root):
        return Controller(2, unified, "freezer")
    return None


def block_device_of(path: Path) -> tuple[int, int]:
    """(major, minor) of the disk a file system path lives on: a partition's whole disk
    (v1 throttles apply to whole disks only). A path on no block device (tmpfs,
    overlay) is a FaultError."""
    try:
        device = os.stat(path).st_dev
    except OSError as err:
        raise FaultError(f"cannot find the device of {path}: {err.strerror}") from err
    major, minor = os.major(device), os.minor(device)
    sysfs = Path(f"/sys/dev/block/{major}:{minor}")
    if major == 0 or not sysfs.exists():
        raise FaultError(
            f"{path} is on no block device ({major}:{minor}: tmpfs, overlay or a network file"
            " system): there is no disk to throttle"
        )
    if (sysfs / "partition").exists():
        parent = (sysfs.resolve().parent / "dev").read_text().strip()
        major_text, minor_text = parent.split(":")
        return int(major_text), int(minor_text)
    return major, minor


def _cgroup_of(pid: int, controller: Controller) -> str | None:
    """The cgroup (path in the hierarchy) ``pid`` is in for ``controller``."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _number, names, path = line.split(":", 2)
        if controller.version == 2 and names == "":
            return path
        if controller.version == 1 and controller.root.name in names.split(","):
            return path
    return None


@dataclass
class Group:
    """One cgroup of the harness: processes moved in and back out to where they were."""

    controller: Controller
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    _origins: dict[int, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.controller.root / PARENT / self.name

    def create(self) -> None:
        try:
            if self.controller.version == 2:
                _enable(self.controller.root, self.controller.kind)
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise FaultError(
                f"cannot make a cgroup in {self.controller.describe()}: {err.strerror}"
                " (faults that use cgroups need root)"
            ) from err

    def add(self, pids: Iterable[int]) -> list[int]:
        """Move ``pids`` in (their future children follow); those already gone are
        skipped. Returns the pids moved."""
        moved = []
        for pid in sorted(set(pids)):
            origin = _cgroup_of(pid, self.controller)
            try:
                (self.path / "cgroup.procs").write_text(str(pid))
            except ProcessLookupError:
                continue
            except OSError as err:
                if not Path(f"/proc/{pid}").exists():
                    continue
                raise FaultError(f"cannot move process {pid} into {self.path}: {err}") from err
            if origin is not None:
                self._origins.setdefault(pid, origin)
            moved.append(pid)
        return moved

    def pids(self) -> set[int]:
        try:
            text = (self.path / "cgroup.procs").read_text()
        except OSError:
            return set()
        return {int(line) for line in text.split()}

    def remove(self) -> None:
        """Move every process back where it came from (the hierarchy's root when unknown)
        and remove the cgroup; raise FaultError if it cannot be removed."""
        for _attempt in range(50):
            remaining = self.pids()
            if not remaining:
                break
            for pid in remaining:
                origin = self._origins.get(pid, "/")
                target = self.controller.root / origin.lstrip("/") / "cgroup.procs"
                with contextlib.suppress(OSError):
                    target.write_text(str(pid))
            time.sleep(0.02)
        try:
            self.path.rmdir()
        except FileNotFoundError:
            pass
        except OSError as err:
            raise FaultError(
                f"cannot remove cgroup {self.path}: {err.strerror}"
                f" (processes still in it: {sorted(self.pids())})"
            ) from err
        # The harness's parent goes with its last child (another fault may still use it).
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()


def _enable(root: Path, kind: str) -> None:
    """v2: let the harness's parent cgroup hand ``kind`` to its children."""
    parent = root / PARENT
    parent.mkdir(exist_ok=True)
    for directory in (root, parent):
        control = directory / "cgroup.subtree_control"
        if kind == "io" and "io" not in control.read_text().split():
            control.write_text("+io")


@dataclass(frozen=True)
class IoLimits:
    """Caps on one device; None: not capped."""

    read_iops: int | None = None
    write_iops: int | None = None
    read_bps: int | None = None
    write_bps: int | None = None

    def describe(self) -> str:
        parts = [
            f"{name.replace('_', ' ')} {value:,}"
            for name, value in (
                ("read_iops", self.read_iops),
                ("write_iops", self.write_iops),
                ("read_bps", self.read_bps),
                ("write_bps", self.write_bps),
            )
            if value is not None
        ]
        return ", ".join(parts) or "no cap"


_V1_FILES = {
    "read_iops": "blkio.throttle.read_iops_device",
    "write_iops": "blkio.throttle.write_iops_device",
    "read_bps": "blkio.throttle.read_bps_device",
    "write_bps": "blkio.throttle.write_bps_device",
}
_V2_KEYS = {"read_iops": "riops", "write_iops": "wiops", "read_bps": "rbps", "write_bps": "wbps"}


@dataclass
class IoThrottle:
    """A cap on one device's I/O for the processes moved into it."""

    controller: Controller
    device: tuple[int, int]
    limits: IoLimits
    group: Group = field(init=False)

    def __post_init__(self) -> None:
        self.group = Group(self.controller)

    def apply(self, pids: Iterable[int]) -> None:
        self.group.create()
        self._write(self.limits)
        self.group.add(pids)

    def add(self, pids: Iterable[int]) -> None:
        self.group.add(pids)

    def lift(self) -> None:
        """Lift the cap, move the processes back, remove the cgroup."""
        if self.group.path.exists():
            with contextlib.suppress(OSError):
                self._write(None)
        self.group.remove()

    def _write(self, limits: IoLimits | None) -> None:
        major, minor = self.device
        device = f"{major}:{minor}"
        try:
            if self.controller.version == 1:
                for name, filename in _V1_FILES.items():
                    value = getattr(limits, name) if limits is not None else None
                    if limits is None or value is not None:
                        (self.group.path / filename).write_text(f"{device} {value or 0}")
            else:
                fields = " ".join(
                    f"{key}={getattr(limits, name) or 'max' if limits else 'max'}"
                    for name, key in _V2_KEYS.items()
                )
                (self.group.path / "io.max").write_text(f"{device} {fields}")
        except OSError as err:
            raise FaultError(
                f"cannot set I/O limits on {device} in {self.group.path}: {err.strerror}"
            ) from err


@dataclass
class Freeze:
    """Processes frozen together (SIGSTOP would be seen and could be undone by them)."""

    controller: Controller
    group: Group = field(init=False)

    def __post_init__(self) -> None:
        self.group = Group(self.controller)

    def _state_file(self) -> Path:
        if self.controller.version == 1:
            return self.group.path / "freezer.state"
        return self.group.path / "cgroup.freeze"

    def freeze(self, pids: Iterable[int]) -> None:
        self.group.create()
        self.group.add(pids)
        frozen = "FROZEN" if self.controller.version == 1 else "1"
        self._state_file().write_text(frozen)
        deadline = time.monotonic() + FREEZE_WAIT_S
        while not self.frozen():
            if time.monotonic() > deadline:
                raise FaultError(f"processes in {self.group.path} did not freeze in 5 s")
            time.sleep(0.01)

    def frozen(self) -> bool:
        if self.controller.version == 1:
            return self._state_file().read_text().strip() == "FROZEN"
        events = (self.group.path / "cgroup.events").read_text()
        return "frozen 1" in events

    def thaw(self) -> None:
        """Thaw, move the processes back, remove the cgroup."""
        if self.group.path.exists():
            with contextlib.suppress(OSError):
                self._state_file().write_text("THAWED" if self.controller.version == 1 else "0")
        self.group.remove()


def release(path: Path) -> None:
    """Undo whatever a harness cgroup at ``path`` holds, knowing only its path (the
    reaper, after the harness died): thaw, lift every cap, move the processes to the
    hierarchy's root, remove it."""
    if not path.exists():
        return
    with contextlib.suppress(OSError):
        if (path / "freezer.state").exists():
            (path / "freezer.state").write_text("THAWED")
        if (path / "cgroup.freeze").exists():
            (path / "cgroup.freeze").write_text("0")
    for filename in _V1_FILES.values():
        rules = path / filename
        with contextlib.suppress(OSError):
            for line in rules.read_text().split("\n"):
                if line.strip():
                    rules.write_text(f"{line.split()[0]} 0")
    with contextlib.suppress(OSError):
        for line in (path / "io.max").read_text().split("\n"):
            if line.strip():
                device = line.split()[0]
                (path / "io.max").write_text(f"{device} riops=max wiops=max rbps=max wbps=max")
    root = path.parent.parent
    for _attempt in range(50):
        try:
            pids = (path / "cgroup.procs").read_text().split()
        except OSError:
            break
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                (root / "cgroup.procs").write_text(pid)
        time.sleep(0.02)
    with contextlib.suppress(OSError):
        path.rmdir()
    with contextlib.suppress(OSError):
        path.parent.rmdir()
