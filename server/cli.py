"""``fioloadgen serve`` and ``fioloadgen server start|stop|status``.

Plugged into the ``fioloadgen`` command through the ``fioloadgen.commands`` entry point,
because the package never imports the server. bottle and cheroot are imported only when
a server really starts.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.handlers
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import requests
import urllib3

from pytest_fioloadgen.exceptions import ConfigError
from pytest_fioloadgen.settings import resolve
from pytest_fioloadgen.store import default_store_uri

from .config import (
    DEFAULT_HOST,
    DEFAULT_MAX_WORKERS,
    DEFAULT_METRICS_MAX_KEYS,
    DEFAULT_PORT,
    DEFAULT_THREADS,
    ServerConfig,
    default_state_dir,
)

EXIT_OK = 0
EXIT_NOT_RUNNING = 1
EXIT_USAGE = 2
START_TIMEOUT_S = 20.0
SWITCH_INTERVAL_S = 0.001
STOP_TIMEOUT_S = 20.0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _config(args: argparse.Namespace) -> ServerConfig:
    rootdir = Path.cwd()
    cli: dict[str, Any] = {
        "backend": args.backend,
        "workers": args.workers,
        "target": args.target or None,
        "hosts": args.hosts,
        "runtime": args.runtime,
        "size": args.size,
        "profiles_dir": args.profiles_dir,
        "binary": args.fio_binary,
        "label": args.label or None,
        "thresholds": args.thresholds,
    }
    settings = resolve(rootdir=rootdir, cli=cli, env=os.environ, ini={})
    store = args.store or settings.store or default_store_uri(rootdir)
    if "://" not in store and not store.startswith("sqlite:"):
        store = str(Path(store).expanduser().absolute())
    state_dir = (
        Path(args.state_dir).expanduser().absolute() if args.state_dir else default_state_dir()
    )
    return ServerConfig(
        state_dir=state_dir,
        store_uri=store,
        settings=settings,
        host=args.host or DEFAULT_HOST,
        port=DEFAULT_PORT if args.port is None else args.port,
        cors_origins=tuple(args.cors_origin or ()),
        tls_cert=_path(args.tls_cert),
        tls_key=_path(args.tls_key),
        insecure=args.insecure,
        executor=not args.no_executor,
        debug=args.debug,
        threads=args.threads,
        max_workers=args.max_workers,
        metrics_max_keys=args.metrics_max_keys,
    )


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser().absolute() if value else None


def _url(config: ServerConfig, port: int | None = None) -> str:
    return f"{config.scheme}://{config.host}:{config.port if port is None else port}"


def _setup_logging(config: ServerConfig, to_files: bool) -> logging.handlers.QueueListener:
    """The error and access logs; the access log's lines are written by a thread of its
    own (the listener returned, started): written by the request threads, every line
    held the handler's lock through a write and a flush, and under 200 clients a third
    of the worker threads' time was waiting for that lock (py-spy)."""
    root = logging.getLogger("fioloadgen_server")
    root.setLevel(logging.INFO)
    access = logging.getLogger("fioloadgen_server.access")
    access.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    errors: logging.Handler
    accesses: logging.Handler
    if to_files:
        config.state_dir.mkdir(parents=True, exist_ok=True)
        errors = logging.FileHandler(config.error_log)
        accesses = logging.FileHandler(config.access_log)
    else:
        errors = logging.StreamHandler(sys.stderr)
        accesses = logging.StreamHandler(sys.stderr)
    errors.setFormatter(fmt)
    accesses.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    root.addHandler(errors)
    # Unbounded: a line is ~100 bytes and the writer only ever falls behind by a burst.
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    access.addHandler(logging.handlers.QueueHandler(lines))
    listener = logging.handlers.QueueListener(lines, accesses)
    listener.start()
    return listener


def _serve(args: argparse.Namespace) -> int:
    config = _config(args)
    access_writer = _setup_logging(config, to_files=args.daemon_logs)
    try:
        return _serve_logged(args, config)
    finally:
        access_writer.stop()  # writes the lines still queued


def _serve_logged(args: argparse.Namespace, config: ServerConfig) -> int:
    try:
        from .wsgi import Server  # bottle and cheroot only when serving
    except ImportError as err:
        raise ConfigError(
            f"fioloadgen serve needs the server extra ({err.name} is missing): "
            "pip install 'pytest-fioloadgen[server]'"
        ) from err

    server = Server(config)
    # A request thread waiting for the interpreter lock while computed and bulk reads hold
    # it gets it after 1 ms instead of Python's 5: under benchmarks/server_load.py /status
    # p99 was 99-174 ms with 1 ms, 237-277 ms with 5 ms (two 20 s runs each).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    if server.warning:
        print(f"fioloadgen: WARNING: {server.warning}", file=sys.stderr, flush=True)
    if args.pid_file:
        # The URL it really serves (a --port 0 picks one) on the second line, so that
        # `server status` and `stop` find it without the options repeated.
        Path(args.pid_file).write_text(f"{os.getpid()}\n{_url(config, server.port)}\n")

    def stop(signum: int, _frame: Any) -> None:
        # cheroot's stop joins its worker threads: not from inside the signal handler.
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(
        f"fioloadgen results server on {_url(config, server.port)} "
        f"(store {config.store_uri}, state {config.state_dir})",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve()
    except KeyboardInterrupt:
        server.stop()
    finally:
        if args.pid_file:
            with contextlib.suppress(OSError):
                Path(args.pid_file).unlink()
    return EXIT_OK


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still "exists" to kill(0): a child of ours is reaped, anyone's is read
    # from /proc (an init that never reaps leaves dead daemons as zombies forever).
    with contextlib.suppress(ChildProcessError):
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _read_pid(path: Path) -> int | None:
    return _read_pid_file(path)[0]


def _read_pid_file(path: Path) -> tuple[int | None, str | None]:
    """The pid and the URL the server recorded (None for a pid file of older versions)."""
    try:
        lines = path.read_text().split()
    except FileNotFoundError:
        return None, None
    text = lines[0] if lines else ""
    try:
        pid = int(text)
    except ValueError:
        raise ConfigError(f"pid file {path} holds {text!r}, not a process id; remove it") from None
    return pid, (lines[1] if len(lines) > 1 else None)


def _start(args: argparse.Namespace) -> int:
    config = _config(args)
    pid_path = config.pid_path
    pid = _read_pid(pid_path)
    if pid is not None:
        if _pid_alive(pid):
            print(
                f"fioloadgen: the server is already running (pid {pid}, pid file {pid_path})",
                file=sys.stderr,
            )
            return EXIT_NOT_RUNNING
        print(f"fioloadgen: removing stale pid file {pid_path} (pid {pid} is not running)")
        pid_path.unlink()
    busy = _port_in_use(config.host, config.port)
    if busy:
        print(
            f"fioloadgen: port {config.port} on {config.host} is already in use ({busy}); "
            "choose --port",
            file=sys.stderr,
        )
        return EXIT_USAGE
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    argv = [sys.executable, "-m", "fioloadgen_server", "serve", "--daemon-logs"]
    argv += ["--pid-file", str(pid_path), *_forwarded(args, config)]
    with config.error_log.open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd=Path.cwd(),
        )
    url = _url(config)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"fioloadgen: the server did not start: {_last_error(config)}", file=sys.stderr)
            return EXIT_USAGE
        if _answers(url, pid=process.pid):
            print(f"fioloadgen: server started on {url} (pid {process.pid})")
            print(f"  token: {config.token_path}  logs: {config.error_log}, {config.access_log}")
            return EXIT_OK
        time.sleep(0.1)
    print(
        f"fioloadgen: the server did not answer on {url} within {START_TIMEOUT_S:.0f} s; "
        f"see {config.error_log}",
        file=sys.stderr,
    )
    return EXIT_USAGE


def _forwarded(args: argparse.Namespace, config: ServerConfig) -> list[str]:
    argv = ["--host", config.host, "--port", str(config.port), "--store", config.store_uri]
    argv += ["--state-dir", str(config.state_dir)]
    for flag, value in (
        ("--backend", args.backend),
        ("--workers", args.workers),
        ("--max-workers", args.max_workers),
        ("--metrics-max-keys", args.metrics_max_keys),
        ("--thresholds", args.thresholds),
        ("--hosts", args.hosts),
        ("--runtime", args.runtime),
        ("--size", args.size),
        ("--profiles-dir", args.profiles_dir),
        ("--fio-binary", args.fio_binary),
    ):
        if value:
            argv += [flag, str(value)]
    for target in args.target or ():
        argv += ["--target", target]
    for label in args.label or ():
        argv += ["--label", label]
    for origin in args.cors_origin or ():
        argv += ["--cors-origin", origin]
    for flag, path in (("--tls-cert", config.tls_cert), ("--tls-key", config.tls_key)):
        if path is not None:
            argv += [flag, str(path)]
    if args.insecure:
        argv.append("--insecure")
    if args.no_executor:
        argv.append("--no-executor")
    argv += ["--threads", str(config.threads)]
    return argv


def _last_error(config: ServerConfig) -> str:
    try:
        lines = [line for line in config.error_log.read_text().splitlines() if line.strip()]
    except OSError:
        return f"see {config.error_log}"
    return lines[-1].removeprefix("fioloadgen: error: ") if lines else f"see {config.error_log}"


def _answers(url: str, pid: int | None = None) -> bool:
    """Whether the server answers at ``url`` (and is the process ``pid``, when given).

    Our own server on the address we gave it: its certificate is not verified here (it may
    name a host other than the bound address), no token is sent, and the pid it reports
    says whether it is the process we started.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            response = requests.get(f"{url}/api/v1/status", timeout=1, verify=False)
    except requests.RequestException:
        return False
    if response.status_code != 200:
        return False
    return pid is None or response.json().get("data", {}).get("pid") == pid


def _port_in_use(host: str, port: int) -> str:
    """Why the address cannot be bound, or "" when it can."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            return err.strerror or str(err)
    return ""


def _stop(args: argparse.Namespace) -> int:
    config = _config(args)
    pid = _read_pid(config.pid_path)
    if pid is None:
        print(f"fioloadgen: the server is not running (no pid file {config.pid_path})")
        return EXIT_NOT_RUNNING
    if not _pid_alive(pid):
        config.pid_path.unlink()
        print(f"fioloadgen: removed stale pid file {config.pid_path} (pid {pid} was not running)")
        return EXIT_NOT_RUNNING
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            with contextlib.suppress(FileNotFoundError):
                config.pid_path.unlink()
            print(f"fioloadgen: server stopped (pid {pid})")
            return EXIT_OK
        time.sleep(0.1)
    print(
        f"fioloadgen: the server (pid {pid}) did not stop within {STOP_TIMEOUT_S:.0f} s",
        file=sys.stderr,
    )
    return EXIT_USAGE


def _status(args: argparse.Namespace) -> int:
    config = _config(args)
    pid, recorded = _read_pid_file(config.pid_path)
    if pid is None:
        print("fioloadgen: the server is not running")
        return EXIT_NOT_RUNNING
    if not _pid_alive(pid):
        print(
            f"fioloadgen: the server is not running (stale pid file {config.pid_path}, pid {pid})"
        )
        return EXIT_NOT_RUNNING
    # The state dir names the server: its recorded URL, unless --host/--port ask elsewhere.
    explicit = args.host is not None or args.port is not None
    url = _url(config) if explicit or not recorded else recorded
    answering = "answering" if _answers(url) else "NOT answering"
    print(f"fioloadgen: the server is running (pid {pid}) on {url}, {answering}")
    print(f"  state: {config.state_dir}  logs: {config.error_log}, {config.access_log}")
    return EXIT_OK if answering == "answering" else EXIT_NOT_RUNNING


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    # No argparse defaults: `server status` tells a --port given from none given.
    parser.add_argument("--host", help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--store", help="history store URI (default: the plugin's default store)")
    parser.add_argument(
        "--state-dir",
        help="token, job queue, pid and log files (default: "
        "$FIO_SERVER_STATE_DIR or ~/.local/state/fioloadgen-server)",
    )
    parser.add_argument("--backend", help="local, static or kubernetes (default: local)")
    parser.add_argument(
        "--workers", help="workers to deploy per target at the first job (default 1)"
    )
    parser.add_argument(
        "--max-workers",
        type=_positive,
        default=DEFAULT_MAX_WORKERS,
        help="the most workers per target a job may ask for; more are deployed on demand "
        f"(default {DEFAULT_MAX_WORKERS})",
    )
    parser.add_argument(
        "--metrics-max-keys",
        type=_positive,
        default=DEFAULT_METRICS_MAX_KEYS,
        help="the most history keys GET /metrics exports, those with the newest runs "
        f"(default {DEFAULT_METRICS_MAX_KEYS})",
    )
    parser.add_argument("--target", action="append", help="[NAME=]DIR storage target; repeatable")
    parser.add_argument("--hosts", help="HOST[:PORT],... fio servers (static backend)")
    parser.add_argument("--runtime", help="override every job's runtime (seconds)")
    parser.add_argument("--size", help="override every job's size (fio syntax)")
    parser.add_argument("--profiles-dir", help="profiles offered (default: the shipped ones)")
    parser.add_argument("--fio-binary", help="the fio executable")
    parser.add_argument("--label", action="append", help="KEY=VALUE on every run; repeatable")
    parser.add_argument(
        "--thresholds",
        help="thresholds file: jobs are checked against it (as pytest -m benchmark is) and "
        "history charts show its limits",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        help="allow browser calls from this origin (default: CORS off)",
    )
    parser.add_argument(
        "--tls-cert", metavar="FILE", help="PEM certificate (chain): serve HTTPS (with --tls-key)"
    )
    parser.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow plain HTTP on a non-loopback --host (the token then crosses the network "
        "in clear; FIOLoadGen 1.5's fiocli speaks only plain HTTP)",
    )
    parser.add_argument("--no-executor", action="store_true", help="serve without running jobs")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help=f"worker threads ({DEFAULT_THREADS})"
    )


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the results server (REST API and web UI)")
    _add_server_options(serve)
    serve.add_argument("--pid-file", help=argparse.SUPPRESS)
    serve.add_argument("--daemon-logs", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)
    server = commands.add_parser("server", help="start, stop or check the results server daemon")
    actions = server.add_subparsers(dest="server_command", metavar="ACTION", required=True)
    for name, handler, text in (
        ("start", _start, "start the server in the background (pid and log files)"),
        ("stop", _stop, "stop the background server"),
        ("status", _status, "is the background server running?"),
    ):
        action = actions.add_parser(name, help=text)
        _add_server_options(action)
        action.set_defaults(handler=handler, daemon_logs=False, pid_file=None)
