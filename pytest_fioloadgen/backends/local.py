"""The local backend: N ``fio --server`` processes on this machine.

Each worker listens on its own loopback address (127.0.0.2, 127.0.0.3, ...) so that fio's
per-client output tells workers apart, and works in its own directory under the target:
the server's working directory is where fio lays out its files, which is how one shared
job file gives every worker a private directory.

Every server runs in the backend's sandbox (backends/sandbox.py: only its directory is
writable, no capabilities, its own PID namespace that dies with the harness), and so does
the fio client (only its temp directory, under the session directory, is writable). A
reaper that outlives the harness removes the session's data if the harness is killed
outright (backends/reaper.py). A worker found dead before a run is started again in its
directory (the case runs; the run's notes say so), and a worker that stops answering
during a run is named with what its process is doing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import BackendError
from ..fio.process import fio_environment
from ..fio.runner import WorkerAddress, tail
from ..processes import descendants, process_table, working_in
from .base import Environment, FreeSpace, RunsClientHere, Worker, first_workers
from .cgroups import release
from .facts import filesystem_of, fio_version, host_facts
from .medium import Medium, check_target
from .reaper import Reaper, sweep_stale, write_owner
from .sandbox import UNCONFINED, Sandbox

FIRST_HOST_OCTET = 2
#: Loopback addresses used per /24: 127.0.K.2 .. 127.0.K.251 (all of 127/8 is loopback).
HOSTS_PER_BLOCK = 250
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
PORT_ATTEMPTS = 5
#: More local fio servers than this is a mistake, not a benchmark.
MAX_LOCAL_WORKERS = 4096
#: What one local worker takes while it runs a job: the proportional set size (PSS) of
#: its sandbox, server and job processes with the timeline's histogram logs was 9.3 MiB at
#: 256 workers (benchmarks/timeline_cost.py --part memory); 16 MiB leaves room for a
#: profile's own buffers.
MEMORY_PER_WORKER_BYTES = 16 * 1024 * 1024
#: The share of the machine's available memory the workers may plan to use.
MEMORY_SHARE = 0.8


def worker_host(index: int) -> str:
    """The loopback address of the ``index``-th local worker (0-based)."""
    block, offset = divmod(index, HOSTS_PER_BLOCK)
    return f"127.0.{block}.{FIRST_HOST_OCTET + offset}"


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


SESSION_DIR_PREFIX = "fioloadgen-"
_PR_SET_PDEATHSIG = 1
_PROCESS_STATES = {
    "T": "stopped (SIGSTOP or a debugger)",
    "t": "stopped by a debugger",
    "D": "in uninterruptible I/O wait (D state)",
    "Z": "a zombie (exited)",
}


def _prepare_server_process() -> None:
    """Runs in the child before exec.

    The server (or the bwrap around it) leads its own process group: fio forks a process
    per job, and teardown signals the whole group so no job process outlives its server.
    The group also keeps a terminal's Ctrl-C away from the servers, so teardown stops them
    in order. And a server must not outlive a pytest that was killed outright
    (PR_SET_PDEATHSIG; inside bwrap, --die-with-parent then takes the whole namespace).
    """
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        # Not glibc Linux: teardown by PID still stops the servers in every normal exit.
        pass


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _answers(address: WorkerAddress, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _signal_group(pgid: int, signum: int) -> None:
    """Signal a server's process group (its pid is the group id, see setsid above)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _refuse_links_out(directory: Path) -> None:
    """A symbolic link in a worker's directory that leads out of it would take fio's
    writes with it: refuse the run. fio cannot create links itself, so one can only have
    been planted from outside."""
    root = directory.resolve()
    for parent, dirnames, filenames in os.walk(directory):
        for name in (*dirnames, *filenames):
            path = Path(parent) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise BackendError(
                    f"worker directory {directory} holds a symbolic link {path} that leads out"
                    f" of it (to {path.resolve()}); refusing to run fio there"
                )


def _live(pids: set[int], groups: set[int]) -> set[int]:
    """Which of ``pids`` (or members of ``groups``) still run. Zombies count as gone: PID 1
    in some containers never reaps the orphans it adopts."""
    return {
        pid
        for pid, (_ppid, group, state) in process_table().items()
        if (pid in pids or group in groups) and state not in ("Z", "X")
    }


@dataclass
class _Server:
    worker: Worker
    directory: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    restarts: int = 0

    def log_tail(self) -> str:
        try:
            return tail(self.log_path.read_text(errors="replace"))
        except OSError:
            return ""


@dataclass(frozen=True)
class LocalTarget:
    """A storage target on this machine: a name and a base directory (None: the backend's
    default directory)."""

    name: str
    directory: Path | None = None


class LocalBackend(RunsClientHere):
    """fio servers as local processes, one loopback address and directory each."""

    name = "local"

    def __init__(
        self,
        targets: Sequence[LocalTarget],
        *,
        session_id: str,
        fio_binary: str = "fio",
        keep: bool = False,
        sandbox: Sandbox = UNCONFINED,
        wrap_command: Callable[[list[str]], list[str]] | None = None,
        default_dir: Path | None = None,
        allow_memory_target: bool = False,
    ) -> None:
        self._targets = {target.name: target for target in targets}
        #: Where targets without a directory work (the plugin: .fioloadgen/local in the
        #: rootdir, on the disk the project lives on; None: the temp directory).
        self._default_dir = default_dir
        self._allow_memory = allow_memory_target
        self._media: dict[str, Medium] = {}
        self.wrap_command = wrap_command
        self._session_id = session_id
        self.fio_binary = fio_binary
        self._keep = keep
        self.sandbox = sandbox
        self._servers: list[_Server] = []
        self._cleanup_dirs: list[Path] = []
        self._reaper = Reaper()
        #: Cgroups a fault made (frozen or throttled workers) not yet undone.
        self._guarded_cgroups: set[Path] = set()

    # -- checks before anything runs ---------------------------------------------------
    def preflight(self, targets: Sequence[str], workers: int) -> None:
        """Settings problems, found before the session deploys anything."""
        needed = len(targets) * workers
        if needed > MAX_LOCAL_WORKERS:
            raise BackendError(
                f"{needed} local workers ({len(targets)} target(s) x {workers}) exceed the"
                f" {MAX_LOCAL_WORKERS} the local backend starts",
                setting="workers",
            )
        available = available_memory_bytes()
        memory = needed * MEMORY_PER_WORKER_BYTES
        if available is not None and memory > MEMORY_SHARE * available:
            raise BackendError(
                f"{needed} local workers ({len(targets)} target(s) x {workers}) need about"
                f" {memory / 2**30:.1f} GiB while they run ({MEMORY_PER_WORKER_BYTES // 2**20}"
                f" MiB each), but this machine has {available / 2**30:.1f} GiB available;"
                f" use fewer workers or a machine with more memory",
                setting="workers",
            )
        for name in targets:
            target = self._targets.get(name)
            if target is not None and target.directory is not None:
                if not target.directory.is_dir():
                    raise BackendError(
                        f"target {name!r}: directory {target.directory} does not exist",
                        setting="target",
                    )
                if not os.access(target.directory, os.W_OK | os.X_OK):
                    raise BackendError(
                        f"target {name!r}: directory {target.directory} is not writable",
                        setting="target",
                    )
            if target is not None:
                self.medium(target)

    def _base_dir(self, target: LocalTarget) -> Path:
        """The directory a target's session directories go in (created when it is the
        default one)."""
        if target.directory is not None:
            return target.directory
        if self._default_dir is None:
            return Path(tempfile.gettempdir())
        try:
            self._default_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise BackendError(
                f"target {target.name!r}: cannot create the default directory"
                f" {self._default_dir}: {err.strerror} (choose one with --fio-target)",
                setting="target",
            ) from err
        return self._default_dir

    def medium(self, target: LocalTarget) -> Medium:
        """What the target's data lives on, checked once: a memory-backed file system or
        one refusing O_DIRECT stops here unless the user opted in (backends/medium.py)."""
        if target.name not in self._media:
            self._media[target.name] = check_target(
                target.name, self._base_dir(target), allow=self._allow_memory
            )
        return self._media[target.name]

    # -- deploy --------------------------------------------------------------------
    def _session_dir(self, target: LocalTarget) -> Path:
        """A new directory for this session's workers on ``target``, marked as ours and
        watched by the reaper; stale ones of killed sessions are swept first."""
        if target.directory is None:
            parent = self._base_dir(target)
            sweep_stale(parent, f"{SESSION_DIR_PREFIX}{target.name}-*")
            session_dir = Path(
                tempfile.mkdtemp(prefix=f"{SESSION_DIR_PREFIX}{target.name}-", dir=parent)
            )
        else:
            if not target.directory.is_dir():
                raise BackendError(
                    f"target {target.name!r}: directory {target.directory} does not exist",
                    setting="target",
                )
            sweep_stale(target.directory, f"{SESSION_DIR_PREFIX}*")
            session_dir = target.directory / f"{SESSION_DIR_PREFIX}{self._session_id[:8]}"
            try:
                session_dir.mkdir()
            except OSError as err:
                raise BackendError(
                    f"target {target.name!r}: cannot create {session_dir}: {err.strerror}",
                    setting="target",
                ) from err
        self._cleanup_dirs.append(session_dir)
        if not self._keep:
            write_owner(session_dir)
            self._reaper.watch(session_dir)
        return session_dir

    def _spawn(self, worker_name: str, target: str, host: str, directory: Path) -> _Server:
        log_path = directory.parent / f"{worker_name}.log"
        port = _free_port(host)
        address = WorkerAddress(host, port)
        argv = [self.fio_binary, f"--server=ip:{host},{port}"]
        with log_path.open("ab") as log:
            try:
                command = self.sandbox.command(argv, writable=[directory], cwd=directory)
                if self.wrap_command is not None:
                    command = self.wrap_command(command)
                process = subprocess.Popen(
                    command,
                    cwd=directory,
                    # Nothing of the harness's environment (a profile could read it back
                    # through /proc/self/environ).
                    env=fio_environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_prepare_server_process,
                )
            except FileNotFoundError as err:
                raise BackendError(
                    f"fio binary {self.fio_binary!r} not found (install the fio package)",
                    setting="binary",
                ) from err
        self._reaper.add_pid(process.pid)
        worker = Worker(name=worker_name, address=address, target=target)
        return _Server(worker, directory, log_path, process)

    def _wait_until_up(self, pending: list[_Server]) -> list[_Server]:
        """Wait for every server to accept connections; return those that died early."""
        deadline = time.monotonic() + START_TIMEOUT_S
        died: list[_Server] = []
        while pending:
            still_pending = []
            for server in pending:
                if server.process.poll() is not None:
                    died.append(server)
                elif not _answers(server.worker.address):
                    still_pending.append(server)
            pending = still_pending
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.worker.address.name for s in pending)
                raise BackendError(
                    f"local fio servers did not answer within {START_TIMEOUT_S:.0f} s: {names}"
                )
            if pending:
                time.sleep(0.05)
        return died

    def deploy(self, targets: Sequence[str], workers: int) -> Environment:
        if workers < 1:
            raise BackendError(f"cannot deploy {workers} workers")
        unknown = [name for name in targets if name not in self._targets]
        if unknown:
            raise BackendError(f"local backend has no target named {unknown[0]!r}")
        self.preflight(targets, workers)
        env = Environment(backend=self.name, workers={name: [] for name in targets})
        for name in targets:
            medium = self.medium(self._targets[name])
            if medium.problem:
                env.target_notes[name] = [medium.note(name)]
        try:
            # Start every server first, then wait for all of them: startup is parallel.
            batch: list[_Server] = []
            index = 0
            for name in targets:
                session_dir = self._session_dir(self._targets[name])
                for number in range(workers):
                    directory = session_dir / f"w{number}"
                    directory.mkdir()
                    host = worker_host(index)
                    batch.append(self._spawn(f"{name}-w{number}", name, host, directory))
                    index += 1
            self._servers.extend(batch)
            for _attempt in range(PORT_ATTEMPTS):
                died = self._wait_until_up(batch)
                if not died:
                    break
                # Most likely the probed port was taken in between: retry on a new port.
                batch = []
                for server in died:
                    self._servers.remove(server)
                    replacement = self._spawn(
                        server.worker.name,
                        server.worker.target,
                        server.worker.address.host,
                        server.directory,
                    )
                    self._servers.append(replacement)
                    batch.append(replacement)
            else:
                first = died[0]
                raise BackendError(
                    f"local fio server {first.worker.name} on {first.worker.address.name} "
                    f"exited with status {first.process.returncode}: {first.log_tail()}"
                )
        except BaseException:
            self.teardown(env)
            raise
        for server in self._servers:
            env.workers[server.worker.target].append(server.worker)
        for name in targets:
            env.workers[name].sort(key=lambda worker: int(worker.name.rsplit("-w", 1)[1]))
        env.details = {
            "directories": {
                name: str(self._servers_of(name)[0].directory.parent) for name in targets
            },
            "logs": [str(server.log_path) for server in self._servers],
        }
        return env

    def _servers_of(self, target: str) -> list[_Server]:
        return [server for server in self._servers if server.worker.target == target]

    # -- per run -------------------------------------------------------------------
    def resolve(self, env: Environment, target: str, count: int) -> list[Worker]:
        """The first ``count`` workers, each running: a dead one is started again in its
        directory on a new port (its address in ``env`` changes), so one killed worker
        does not fail every later case. Its directory must hold no symbolic link that leads
        out of it (fio would follow it)."""
        chosen = first_workers(env, target, count)
        by_name = {server.worker.name: server for server in self._servers}
        resolved = []
        for worker in chosen:
            server = by_name.get(worker.name)
            if server is None:
                raise BackendError(f"local fio server {worker.name} is not one of this backend's")
            if server.process.poll() is not None:
                server = self._restart(env, server)
            _refuse_links_out(server.directory)
            resolved.append(server.worker)
        return resolved

    def _restart(self, env: Environment, dead: _Server) -> _Server:
        status = dead.process.returncode
        log = dead.log_tail()
        self._reaper.remove_pid(dead.process.pid)
        _signal_group(dead.process.pid, signal.SIGKILL)
        for _attempt in range(PORT_ATTEMPTS):
            server = self._spawn(
                dead.worker.name, dead.worker.target, dead.worker.address.host, dead.directory
            )
            if not self._wait_until_up([server]):
                break
            self._reaper.remove_pid(server.process.pid)
        else:
            raise BackendError(
                f"local fio server {dead.worker.name} ({dead.worker.address.name}) exited with"
                f" status {status} and could not be started again: {server.log_tail()}"
            )
        server.restarts = dead.restarts + 1
        self._servers[self._servers.index(dead)] = server
        workers = env.workers[server.worker.target]
        workers[[w.name for w in workers].index(server.worker.name)] = server.worker
        env.events.append(
            f"worker {dead.worker.name} ({dead.worker.address.name}) had exited with status"
            f" {status}{' (' + log + ')' if log else ''}; started again on"
            f" {server.worker.address.name}"
        )
        return server

    def measurement_resource(self, env: Environment, target: str) -> str:
        """The device the target's directory is on: two targets on one disk share it."""
        directory = env.details.get("directories", {}).get(target)
        try:
            device = os.stat(directory).st_dev if directory else None
        except OSError:
            device = None
        if device is None:
            return f"local-{target}"
        return f"local-dev-{os.major(device)}_{os.minor(device)}"

    def free_space(self, env: Environment, target: str) -> FreeSpace | None:
        """The file system of the target's session directory: free bytes, its size, and
        what the session's files already take (a profile rewrites its own files)."""
        directory = env.details.get("directories", {}).get(target)
        if not directory:
            return None
        try:
            stats = os.statvfs(directory)
        except OSError:
            return None
        used = 0
        for parent, _dirs, files in os.walk(directory):
            for name in files:
                with contextlib.suppress(OSError):
                    used += os.lstat(os.path.join(parent, name)).st_blocks * 512
        return FreeSpace(
            path=str(directory),
            free=stats.f_bavail * stats.f_frsize,
            total=stats.f_blocks * stats.f_frsize,
            used=used,
        )

    def client_workdir(self, env: Environment) -> Path | None:
        # Under the first session directory: the reaper removes it with the rest.
        return self._cleanup_dirs[0] if self._cleanup_dirs else None

    def diagnose(self, address: WorkerAddress) -> str:
        """The state of the processes of the server listening on ``address``."""
        server = next((s for s in self._servers if s.worker.address == address), None)
        if server is None:
            return ""
        if server.process.poll() is not None:
            return f"its fio server has exited with status {server.process.returncode}"
        table = process_table()
        tree = {server.process.pid} | descendants({server.process.pid})
        states = sorted({table[pid][2] for pid in tree if pid in table})
        described = [_PROCESS_STATES[state] for state in states if state in _PROCESS_STATES]
        if described:
            return f"its fio processes are {', '.join(described)}"
        return f"its fio processes are running (states {', '.join(states) or 'unknown'})"

    # -- teardown ------------------------------------------------------------------
    def teardown(self, env: Environment) -> None:
        # A frozen process ignores even SIGKILL: thaw and lift what a fault left first.
        for cgroup in sorted(self._guarded_cgroups):
            release(cgroup)
            self._reaper.remove_cgroup(cgroup)
        self._guarded_cgroups.clear()
        roots = {server.process.pid for server in self._servers}
        # Taken before anything dies: once a server exits its job processes are adopted
        # by PID 1 and nothing links them to us any more.
        tree = descendants(roots)
        for server in self._servers:
            if server.process.poll() is None:
                _signal_group(server.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for server in self._servers:
            try:
                server.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
            _signal_group(server.process.pid, signal.SIGKILL)
        # Job processes fio forked may still be running after their server exited. Some
        # were orphaned before teardown began (fio's per-connection process exits when
        # the client goes, e.g. on Ctrl-C): their working directory still names them.
        strays = tree | descendants(tree) | working_in({s.directory for s in self._servers})
        strays.discard(os.getpid())
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _live(strays, roots) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._servers.clear()
        if self._keep:
            env.kept = True
        else:
            for directory in self._cleanup_dirs:
                shutil.rmtree(directory, ignore_errors=True)
                self._reaper.forget(directory)
        self._cleanup_dirs.clear()
        self._reaper.close()

    def running_pids(self) -> list[int]:
        """PIDs of servers still alive (empty after teardown); used by leak checks."""
        return [s.process.pid for s in self._servers if s.process.poll() is None]

    # -- faults (faults/base.py LocalFaultSupport) ---------------------------------
    def worker_pids(self, worker: Worker) -> set[int]:
        """Every process of ``worker``: its sandbox, server and the job processes below."""
        for server in self._servers:
            if server.worker.name == worker.name and server.process.poll() is None:
                return {server.process.pid} | descendants({server.process.pid})
        return set()

    def target_directory(self, env: Environment, target: str) -> Path:
        return Path(env.details["directories"][target])

    def guard(self, *, cgroup: Path | None = None, pid: int | None = None) -> None:
        if cgroup is not None:
            self._guarded_cgroups.add(cgroup)
            self._reaper.add_cgroup(cgroup)
        if pid is not None:
            self._reaper.add_pid(pid)

    def unguard(self, *, cgroup: Path | None = None, pid: int | None = None) -> None:
        if cgroup is not None:
            self._guarded_cgroups.discard(cgroup)
            self._reaper.remove_cgroup(cgroup)
        if pid is not None:
            self._reaper.remove_pid(pid)

    def sandboxed(self, argv: list[str], directory: Path) -> list[str]:
        command = self.sandbox.command(argv, writable=[directory], cwd=directory)
        return self.wrap_command(command) if self.wrap_command is not None else command

    # -- facts ---------------------------------------------------------------------
    def fingerprint(self, env: Environment) -> dict[str, Any]:
        directories: Mapping[str, str] = env.details.get("directories", {})
        return {
            **host_facts(),
            "fio_version": fio_version(self.fio_binary),
            "backend": self.name,
            "python": platform.python_version(),
            "confinement": {"client": self.sandbox.describe(), "workers": self.sandbox.describe()},
            "targets": {
                name: {
                    "workers": env.capacity(name),
                    "filesystem": filesystem_of(Path(path)),
                    # Only a target that cannot measure a device says so: its runs get
                    # a history of their own, and other targets keep their keys.
                    **(
                        {"medium": self._media[name].as_dict(allowed=self._allow_memory)}
                        if name in self._media and self._media[name].problem
                        else {}
                    ),
                }
                for name, path in directories.items()
            },
        }
