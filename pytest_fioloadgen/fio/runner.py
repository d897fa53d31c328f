"""Running fio as a client against a set of fio servers.

fio is always run as ``fio --client=<host file> <job file> --output-format=json+``: a host
*file* makes every listed server run the job, whereas ``--client=A job --client=B`` would
run it on A only. fio exits 0 even when it could not reach a server, so the output is
checked for every expected worker.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from ..exceptions import FioRunError, ResultError
from . import timeseries
from .process import fio_environment
from .results import RunResult, parse_result, split_output
from .timeline import TimelineInputs, build_timeline, hist_coarseness, hist_logging

#: Slack on top of the profile's expected runtime before a run is declared hung: fio
#: needs time to lay out files and to collect results from every server.
DEFAULT_SLACK_S = 60.0
#: When a profile gives no runtime (a size-bound job), a run is still bounded by this many
#: seconds of fio.
UNKNOWN_RUNTIME_S = 300.0
STDERR_TAIL_LINES = 6

ProgressCallback = Callable[[float], None]


@dataclass(frozen=True)
class WorkerAddress:
    """Where one fio server listens."""

    host: str
    port: int

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    def hostfile_line(self) -> str:
        # fio's host syntax is "host,port"; IPv6 literals need fio's "ip6:" prefix.
        host = f"ip6:{self.host}" if ":" in self.host else self.host
        return f"{host},{self.port}"


@dataclass(frozen=True)
class FioInvocation:
    """What was run and what came back (kept for records and error messages)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last few non-empty lines of fio's stderr, joined on one line for messages."""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])


def build_argv(fio_binary: str, hostfile: Path, jobfile: Path) -> list[str]:
    return [fio_binary, f"--client={hostfile}", str(jobfile), "--output-format=json+"]


#: fio's client asks every server for its status (SEND_ETA) about once a second and prints
#: "client <host>: timeout on SEND_ETA" when one gives no answer for 5 s: after this many
#: in a row (about 11 s of silence) the worker is declared unresponsive.
UNRESPONSIVE_AFTER_TIMEOUTS = 2
_ETA_TIMEOUT = re.compile(r"client <([^>]+)>: timeout on SEND_ETA")

#: Optional confinement of the client: (argv, working directory) -> the argv to start.
Confine = Callable[[list[str], Path], list[str]]
#: Optional diagnosis of a worker that stopped answering, from the backend that owns it.
Diagnose = Callable[[WorkerAddress], str]


class _OutputWatch:
    """Reads fio's stdout and stderr as they come (so a hung worker is seen while fio
    still runs) and keeps the text for the result."""

    def __init__(self, process: subprocess.Popen[str], started: float) -> None:
        self._started = started
        self._lock = threading.Lock()
        self._open_streams = 2
        #: Set when fio has closed both streams (it is exiting): no polling delay.
        self.finished = threading.Event()
        self._chunks: dict[str, list[str]] = {"stdout": [], "stderr": []}
        #: host -> seconds into the run of each "timeout on SEND_ETA".
        self.eta_timeouts: dict[str, list[float]] = {}
        self._threads = [
            threading.Thread(target=self._read, args=(stream, name), daemon=True)
            for stream, name in ((process.stdout, "stdout"), (process.stderr, "stderr"))
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: IO[str] | None, name: str) -> None:
        try:
            if stream is None:
                return
            for line in stream:
                with self._lock:
                    self._chunks[name].append(line)
                    match = _ETA_TIMEOUT.search(line)
                    if match:
                        when = time.monotonic() - self._started
                        self.eta_timeouts.setdefault(match.group(1), []).append(when)
        finally:
            with self._lock:
                self._open_streams -= 1
                if self._open_streams == 0:
                    self.finished.set()

    def unresponsive(self) -> tuple[str, list[float]] | None:
        with self._lock:
            for host, times in self.eta_timeouts.items():
                if len(times) >= UNRESPONSIVE_AFTER_TIMEOUTS:
                    return host, list(times)
        return None

    def text(self) -> tuple[str, str]:
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            return "".join(self._chunks["stdout"]), "".join(self._chunks["stderr"])


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _wait(
    process: subprocess.Popen[str],
    timeout_s: float,
    on_progress: ProgressCallback | None,
    started: float,
    workers: Sequence[WorkerAddress],
    diagnose: Diagnose | None,
) -> tuple[str, str]:
    """Wait for fio while reporting progress; kill it on timeout or when a worker stops
    answering, naming the worker."""
    watch = _OutputWatch(process, started)
    interval = 0.5
    while True:
        if watch.finished.wait(timeout=interval):
            process.wait()
            return watch.text()
        elapsed = time.monotonic() - started
        if on_progress is not None:
            on_progress(elapsed)
        silent = watch.unresponsive()
        if silent is not None:
            _kill(process)
            stdout, stderr = watch.text()
            raise _unresponsive_error(silent, workers, diagnose, elapsed, stdout + stderr)
        if elapsed > timeout_s:
            _kill(process)
            stdout, stderr = watch.text()
            raise FioRunError(
                f"fio did not finish within {timeout_s:.0f} s (expected runtime plus "
                "slack); killed it",
                stderr_tail=tail(stderr) or tail(stdout),
            )


def _unresponsive_error(
    silent: tuple[str, list[float]],
    workers: Sequence[WorkerAddress],
    diagnose: Diagnose | None,
    elapsed: float,
    output: str,
) -> FioRunError:
    host, times = silent
    matching = [worker for worker in workers if worker.host == host]
    name = matching[0].name if len(matching) == 1 else host
    # fio waits 5 s for an answer before it reports the timeout.
    last_answer = max(0.0, times[0] - 5.0)
    diagnosis = ""
    if diagnose is not None and len(matching) == 1:
        diagnosis = diagnose(matching[0])
    return FioRunError(
        f"worker {name} stopped answering: fio's status requests to it timed out"
        f" {len(times)} times (first at {times[0]:.0f} s); it last answered about"
        f" {last_answer:.0f} s into the run"
        + (f"; {diagnosis}" if diagnosis else "")
        + f"; killed the run after {elapsed:.0f} s",
        stderr_tail=tail(output),
        worker=name,
    )


def run_fio(
    job_text: str,
    workers: Sequence[WorkerAddress],
    *,
    expected_runtime_s: float,
    fio_binary: str = "fio",
    slack_s: float = DEFAULT_SLACK_S,
    on_progress: ProgressCallback | None = None,
    confine: Confine | None = None,
    workdir: Path | None = None,
    diagnose: Diagnose | None = None,
    timeline: bool = True,
    same_clock: bool = False,
    on_start: Callable[[float], None] | None = None,
    lost_ok: frozenset[str] = frozenset(),
) -> tuple[RunResult, FioInvocation]:
    """Run ``job_text`` on every worker and return the merged result.

    ``confine`` starts the client in a sandbox where only its temporary directory (made
    under ``workdir`` when given) is writable. ``timeline`` asks fio for histogram logs
    and keeps the run's exact timeline (fio/timeline.py); ``same_clock`` says the workers
    run on this machine's clock. ``on_start`` is told the client's start (epoch seconds,
    the moment it was started: injected faults count from it). Workers in ``lost_ok``
    (host:port) may be missing from the output: a fault took them out on purpose. Raises
    FioRunError naming the worker for a server that is missing from the output, reported
    an error or stopped answering, and carrying fio's stderr tail for any failure.
    """
    if not workers:
        raise FioRunError("no workers to run on")
    with tempfile.TemporaryDirectory(prefix="fioloadgen-run-", dir=workdir) as made:
        # Absolute: fio runs in it and reads the host file by this path.
        tmp = str(Path(made).resolve())
        hostfile = Path(tmp) / "hosts"
        hostfile.write_text("".join(w.hostfile_line() + "\n" for w in workers))
        jobfile = Path(tmp) / "job.fio"
        interval_ms = timeseries.log_interval_ms(expected_runtime_s)
        extra = hist_logging(interval_ms, hist_coarseness(len(workers))) if timeline else ""
        jobfile.write_text(timeseries.with_logging(job_text, interval_ms, extra))
        argv = build_argv(fio_binary, hostfile, jobfile)
        started = time.monotonic()
        client_start_ms = time.time() * 1000.0
        try:
            process = subprocess.Popen(
                confine(argv, Path(tmp)) if confine is not None else argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                cwd=tmp,
                # fio in client mode writes per-client logs relative to its cwd; keep
                # them out of the user's tree. Nothing of the harness's environment.
                env=fio_environment(),
            )
        except FileNotFoundError as err:
            raise FioRunError(f"fio binary {fio_binary!r} not found") from err
        if on_start is not None:
            on_start(client_start_ms / 1000.0)
        try:
            stdout, stderr = _wait(
                process, expected_runtime_s + slack_s, on_progress, started, workers, diagnose
            )
        except BaseException:
            # Ctrl-C (or a failing progress callback): never leave a fio client behind.
            _kill(process)
            raise
        client_span_ms = (client_start_ms, time.time() * 1000.0)
        series = timeseries.collect(
            Path(tmp),
            [(w.host, w.name) for w in workers],
            interval_ms,
            client_start_ms=client_start_ms,
        )
        invocation = FioInvocation(
            tuple(argv), process.returncode, stdout, stderr, time.monotonic() - started
        )
        result = with_timeseries(check_invocation(invocation, workers, lost_ok), series)
        if timeline:
            inputs = TimelineInputs(
                interval_ms=interval_ms,
                client_span_ms=client_span_ms,
                workers=hosts_of(workers),
                same_clock=frozenset(w.host for w in workers) if same_clock else frozenset(),
            )
            result = with_timeline(result, build_timeline(Path(tmp), result.raw, inputs))
    return result, invocation


def hosts_of(workers: Sequence[WorkerAddress]) -> dict[str, str]:
    """host -> worker name for hosts with one worker: fio names its logs by host only, so
    two servers on one address (static hosts on several ports) would mix their logs."""
    by_host: dict[str, list[str]] = {}
    for worker in workers:
        by_host.setdefault(worker.host, []).append(worker.name)
    return {host: names[0] for host, names in by_host.items() if len(names) == 1}


def with_timeline(result: RunResult, timeline: dict[str, Any] | None) -> RunResult:
    """The result with the run's timeline kept in its raw document (see fio/timeline)."""
    if timeline is None:
        return result
    raw = dict(result.raw)
    raw[timeseries.RAW_KEY] = {**dict(raw.get(timeseries.RAW_KEY) or {}), "timeline": timeline}
    return replace(result, raw=raw)


def with_timeseries(result: RunResult, series: dict[str, Any] | None) -> RunResult:
    """The result with the run's time series kept in its raw document (see timeseries)."""
    if series is None:
        return result
    raw = dict(result.raw)
    raw[timeseries.RAW_KEY] = {**dict(raw.get(timeseries.RAW_KEY) or {}), "timeseries": series}
    return replace(result, raw=raw)


def _missing_reason(worker: WorkerAddress, stderr: str) -> str:
    for line in stderr.splitlines():
        if worker.host in line and (str(worker.port) in line or "connect" in line):
            return line.strip()
    return "not in fio's output"


def check_invocation(
    invocation: FioInvocation,
    workers: Sequence[WorkerAddress],
    lost_ok: frozenset[str] = frozenset(),
) -> RunResult:
    """Turn a finished fio invocation into a result, or the error that names the culprit.
    Workers in ``lost_ok`` may be missing (a fault killed them on purpose): fio then exits
    1 with the survivors' results, which stand."""
    try:
        document, before_json = split_output(invocation.stdout, source="fio's stdout")
    except ResultError as err:
        # No document at all: fio failed before running anything (bad job, no server).
        raise FioRunError(
            f"fio exited with status {invocation.returncode} and printed no result ({err})",
            stderr_tail=tail(invocation.stderr) or tail(invocation.stdout),
        ) from err
    # fio prints job errors on stdout ahead of the JSON and connection errors on stderr.
    said = tail(before_json + "\n" + invocation.stderr)
    try:
        result = parse_result(document)
    except ResultError as err:
        raise FioRunError(
            f"fio exited with status {invocation.returncode}: {err}", stderr_tail=said
        ) from err
    reported = {(w.host, w.port) for w in result.workers}
    lost = {w.name for w in workers if (w.host, w.port) not in reported and w.name in lost_ok}
    for worker in workers:
        if (worker.host, worker.port) not in reported and worker.name not in lost:
            reason = _missing_reason(worker, invocation.stderr)
            raise FioRunError(
                f"worker {worker.name} did not report: {reason}",
                stderr_tail=said,
                worker=worker.name,
            )
    for worker_result in result.workers:
        if worker_result.error:
            raise FioRunError(
                f"worker {worker_result.name} reported fio error {worker_result.error} "
                f"({os.strerror(worker_result.error)})",
                stderr_tail=said,
                worker=worker_result.name,
            )
    if invocation.returncode != 0 and not lost:
        raise FioRunError(f"fio exited with status {invocation.returncode}", stderr_tail=said)
    return result
