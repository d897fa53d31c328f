"""Where emulated pods really run: a network namespace and a process per pod.

As root every pod gets its own network namespace with an address from 198.18.0.0/15
(reserved for benchmarking, never routed) on a bridge of this emulator's own; the host
gets no address on it, so nothing here can send traffic anywhere but between pods. DNS
names of headless Services are written to /etc/netns/<netns>/hosts, which
``ip netns exec`` binds over /etc/hosts. Without root the pods share the loopback
interface with addresses from 127.0.x.y and names are resolved by rewriting the files the
pod is given (documented fallback, less faithful).

A raw block claim is a loop device over a sparse file; a pod that asks for it as a
``volumeDevice`` runs under bubblewrap with a fresh /dev holding that device at its
devicePath (as a container runtime does), so fio opens a real block device.

Everything created is recorded and removed by ``close``: processes by PID (their process
groups), namespaces, the bridge, the hosts files and loop devices.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NETWORK = ipaddress.ip_network("198.18.0.0/15")
LOOPBACK_BASE = ipaddress.ip_address("127.0.16.1")


def _ip(*args: str, stdin: str | None = None) -> None:
    completed = subprocess.run(
        ["ip", *args], input=stdin, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {completed.stderr.strip()}")


class PodGone(Exception):
    """The pod was stopped while its sandbox or process was being made."""


@dataclass
class PodSandbox:
    """One pod's network identity."""

    netns: str | None
    ip: str
    veth: str | None = None


@dataclass
class Runtime:
    """Network namespaces, addresses and processes of one emulator instance."""

    workdir: Path
    use_netns: bool = field(default_factory=lambda: os.geteuid() == 0)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:5])
    _next: int = 2
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sandboxes: dict[str, PodSandbox] = field(default_factory=dict)
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _bridge: str | None = None
    _stopped: set[str] = field(default_factory=set)
    _pending: list[list[Any]] = field(default_factory=list)
    _batching: bool = False
    #: loop device -> its backing file
    _loops: dict[str, Path] = field(default_factory=dict)
    #: sandboxes made ahead (prewarm) and given back by stopped pods, for reuse
    _free: list[PodSandbox] = field(default_factory=list)
    _pooling: bool = False

    def __post_init__(self) -> None:
        if self.use_netns:
            self.use_netns = self._netns_work()

    def _netns_work(self) -> bool:
        """Root without CAP_SYS_ADMIN/CAP_NET_ADMIN (an unprivileged container) cannot make
        network namespaces: find out once, and fall back to loopback addresses."""
        if shutil.which("ip") is None:
            return False
        probe = f"fk{self.tag}-probe"
        try:
            _ip("netns", "add", probe)
        except RuntimeError:
            return False
        with contextlib.suppress(RuntimeError):
            _ip("netns", "delete", probe)
        return True

    @property
    def bridge(self) -> str:
        with self._lock:
            if self._bridge is None:
                name = f"fk{self.tag}br"
                _ip("link", "add", name, "type", "bridge")
                _ip("link", "set", name, "up")
                self._bridge = name
            return self._bridge

    def _allocate(self) -> tuple[int, str]:
        with self._lock:
            index = self._next
            self._next += 1
        if self.use_netns:
            return index, str(NETWORK.network_address + index)
        return index, str(LOOPBACK_BASE + index)

    def prewarm(self, count: int) -> None:
        """Make ``count`` sandboxes ahead and reuse those of stopped pods from now on.

        Creating a network namespace costs the kernel several milliseconds under one lock,
        so 256 pods starting at once spend seconds on it on a small machine, which is the
        emulator's cost, not the emulated pod start's. A node's CNI is ready before pods
        arrive; a prewarmed emulator is too (the deploy benchmark uses it)."""
        self._pooling = True
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            made = list(pool.map(lambda i: self._new_sandbox(), range(count)))
        with self._lock:
            self._free.extend(made)

    def create_sandbox(self, key: str) -> PodSandbox:
        with self._lock:
            reused = self._free.pop() if self._free else None
        sandbox = reused or self._new_sandbox()
        with self._lock:
            self._sandboxes[key] = sandbox
            stopped = key in self._stopped
        if stopped:
            self.stop(key)
            raise PodGone(key)
        return sandbox

    def _new_sandbox(self) -> PodSandbox:
        index, ip = self._allocate()
        if not self.use_netns:
            sandbox = PodSandbox(None, ip)
        else:
            bridge = self.bridge
            netns = f"fk{self.tag}-{index}"
            veth = f"fk{self.tag}v{index}"
            self._host_batch(
                f"netns add {netns}\n"
                f"link add {veth} type veth peer name eth0 netns {netns}\n"
                f"link set {veth} master {bridge} up\n"
            )
            _ip(
                "-n",
                netns,
                "-batch",
                "-",
                stdin=f"addr add {ip}/{NETWORK.prefixlen} dev eth0\nlink set eth0 up\n"
                "link set lo up\n",
            )
            sandbox = PodSandbox(netns, ip, veth)
        return sandbox

    def _host_batch(self, lines: str) -> None:
        """Host-side setup of pods starting together, in one ``ip -batch`` process.

        A StatefulSet of 128 pods starts them at once; one process for all their host
        commands instead of one per pod keeps the emulated start near constant.
        """
        slot: list[Any] = [lines, threading.Event(), None]
        with self._lock:
            self._pending.append(slot)
            lead = not self._batching
            self._batching = True
        if lead:
            time.sleep(0.01)  # let the pods starting with this one join the batch
            while True:
                with self._lock:
                    batch, self._pending = self._pending, []
                    if not batch:
                        self._batching = False
                        break
                try:
                    _ip("-batch", "-", stdin="".join(item[0] for item in batch))
                except RuntimeError as err:
                    for item in batch:
                        item[2] = err
                for item in batch:
                    item[1].set()
        slot[1].wait()
        if slot[2] is not None:
            raise slot[2]

    def write_hosts(self, key: str, entries: dict[str, str]) -> None:
        """Names this pod resolves (name -> IP), as its /etc/hosts."""
        sandbox = self._sandboxes.get(key)
        if sandbox is None or sandbox.netns is None:
            return
        directory = Path("/etc/netns") / sandbox.netns
        directory.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost"] + [f"{ip} {name}" for name, ip in entries.items()]
        (directory / "hosts").write_text("\n".join(lines) + "\n")

    def attach_loop(self, backing: Path, size_bytes: int) -> str:
        """A loop device over a new sparse file of ``size_bytes``: a raw block volume."""
        backing.parent.mkdir(parents=True, exist_ok=True)
        with backing.open("wb") as handle:
            handle.truncate(size_bytes)
        done = subprocess.run(
            ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"losetup {backing}: {done.stderr.strip()}")
        device = done.stdout.strip()
        with self._lock:
            self._loops[device] = backing
        return device

    def detach_loop(self, device: str) -> None:
        with self._lock:
            backing = self._loops.pop(device, None)
        subprocess.run(["losetup", "--detach", device], capture_output=True, check=False)
        if backing is not None:
            backing.unlink(missing_ok=True)

    def start(
        self,
        key: str,
        argv: list[str],
        *,
        cwd: Path,
        log: Path,
        env: dict[str, str] | None = None,
        devices: dict[str, str] | None = None,
        identity: tuple[int, int, list[int]] | None = None,
    ) -> subprocess.Popen[bytes]:
        sandbox = self._sandboxes.get(key)
        if sandbox is None:
            raise PodGone(key)
        prefix = ["ip", "netns", "exec", sandbox.netns] if sandbox.netns else []
        if devices:
            # A mount namespace of the pod's own: the host's tree, a fresh /dev, and each
            # device at its devicePath (nothing appears in the host's /dev).
            binds = [arg for path, dev in devices.items() for arg in ("--dev-bind", dev, path)]
            prefix += ["bwrap", "--dev-bind", "/", "/", "--dev", "/dev", *binds]
            prefix += ["--die-with-parent", "--"]
        if identity is not None:
            # The pod's user, group and supplementary groups (fsGroup), set last: the
            # namespace and mount set-up above need root, the container's process does not.
            uid, gid, groups = identity
            joined = ",".join(str(group) for group in groups)
            prefix += ["setpriv", f"--reuid={uid}", f"--regid={gid}"]
            prefix += [f"--groups={joined}" if groups else "--clear-groups", "--"]
        with log.open("ab") as out:
            process = subprocess.Popen(
                prefix + argv,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Own group: fio forks per job; stopping the pod signals the whole group.
                start_new_session=True,
                env={**os.environ, "LC_ALL": "C", **(env or {})},
            )
        with self._lock:
            self._processes[key] = process
            stopped = key in self._stopped
        if stopped:
            self.stop(key)
            raise PodGone(key)
        return process

    def http_ok(self, key: str, ip: str, port: int, path: str) -> bool:
        """Does the pod answer GET ``path`` with a 2xx, asked from inside its sandbox?"""
        sandbox = self._sandboxes.get(key)
        if sandbox is None:
            return False
        script = (
            "import sys, urllib.request\n"
            "try:\n"
            f"    urllib.request.urlopen('http://{ip}:{port}{path}', timeout=2).read()\n"
            "except Exception:\n"
            "    sys.exit(1)\n"
        )
        prefix = ["ip", "netns", "exec", sandbox.netns] if sandbox.netns else []
        try:
            done = subprocess.run(
                [*prefix, sys.executable, "-c", script], capture_output=True, timeout=10
            )
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    def kill(self, key: str) -> int | None:
        """SIGKILL the pod's processes, keeping its sandbox (an OOM kill); the exit code."""
        with self._lock:
            process = self._processes.get(key)
        if process is None:
            return None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        return 128 + signal.SIGKILL

    def stop(self, key: str) -> None:
        """Stop the pod's process group and remove its sandbox."""
        with self._lock:
            self._stopped.add(key)
            process = self._processes.pop(key, None)
            sandbox = self._sandboxes.pop(key, None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        elif process is not None:
            # The leader exited; forked job processes may still hold the group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if sandbox is not None and self._pooling:
            if sandbox.netns is not None:
                shutil.rmtree(Path("/etc/netns") / sandbox.netns, ignore_errors=True)
            with self._lock:
                self._free.append(sandbox)
            return
        self._remove_sandbox(sandbox)

    def _remove_sandbox(self, sandbox: PodSandbox | None) -> None:
        if sandbox is not None and sandbox.netns is not None:
            # The host end first: the kernel tears a namespace's devices down lazily.
            with contextlib.suppress(RuntimeError):
                _ip("link", "delete", sandbox.veth or "")
            with contextlib.suppress(RuntimeError):
                _ip("netns", "delete", sandbox.netns)
            shutil.rmtree(Path("/etc/netns") / sandbox.netns, ignore_errors=True)

    def close(self) -> None:
        for key in list(self._sandboxes) + list(self._processes):
            self.stop(key)
        self._pooling = False
        with self._lock:
            free, self._free = self._free, []
        for sandbox in free:
            self._remove_sandbox(sandbox)
        for device in list(self._loops):
            self.detach_loop(device)
        if self._bridge is not None:
            with contextlib.suppress(RuntimeError):
                _ip("link", "delete", self._bridge)
            self._bridge = None

    def leftovers(self) -> list[str]:
        """Namespaces and links of this instance that still exist (for tests)."""
        found = []
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        found += [
            line.split()[0] for line in netns.splitlines() if line.startswith(f"fk{self.tag}")
        ]
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        found += [
            line.split(":")[1].strip().split("@")[0]
            for line in links.splitlines()
            if f"fk{self.tag}" in line
        ]
        loops = subprocess.run(
            ["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"],
            capture_output=True,
            text=True,
        ).stdout
        found += [line.split()[0] for line in loops.splitlines() if str(self.workdir) in line]
        return found
