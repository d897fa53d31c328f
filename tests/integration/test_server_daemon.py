"""fioloadgen server start|stop|status as real processes, and the queue across a crash."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

pytestmark = pytest.mark.slow

LONG = "[global]\nioengine=psync\nsize=4m\nruntime=60\ntime_based\n[rr]\nrw=randread\nbs=4k\n"


def free_port() -> int:
    """A free port below the ephemeral range, so that no outgoing connection takes it
    between the stop and the restart of a server."""
    for port in random.sample(range(30000, 32000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 30000-31999")


def fioloadgen(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "pytest_fioloadgen.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def daemon(tmp_path):
    port = free_port()
    state = tmp_path / "state"
    common = ["--port", str(port), "--state-dir", str(state), "--store", str(tmp_path / "h.db")]
    yield port, state, common
    pid_file = state / "server.pid"
    if pid_file.exists():
        fioloadgen("server", "stop", *common, cwd=tmp_path)


def test_start_twice_status_stop_stale_pid_and_busy_port(tmp_path, daemon):
    port, state, common = daemon
    started = fioloadgen("server", "start", *common, "--no-executor", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert f"server started on http://127.0.0.1:{port}" in started.stdout
    assert oct((state / "token").stat().st_mode & 0o777) == "0o600"
    again = fioloadgen("server", "start", *common, cwd=tmp_path)
    assert again.returncode == 1
    assert "already running" in again.stderr
    status = fioloadgen("server", "status", *common, cwd=tmp_path)
    assert status.returncode == 0 and "answering" in status.stdout
    # The state dir alone finds it: the pid file records the URL (the port is not 8080).
    found = fioloadgen("server", "status", "--state-dir", str(state), cwd=tmp_path)
    assert found.returncode == 0, found.stdout
    assert f"on http://127.0.0.1:{port}, answering" in found.stdout
    assert (state / "server.pid").read_text().split()[1] == f"http://127.0.0.1:{port}"
    # An explicit --port still wins (nothing answers there).
    elsewhere = fioloadgen(
        "server", "status", "--state-dir", str(state), "--port", str(free_port()), cwd=tmp_path
    )
    assert elsewhere.returncode == 1 and "NOT answering" in elsewhere.stdout
    # Another state directory, same port: the port is busy, and it says so.
    other = ["--port", str(port), "--state-dir", str(tmp_path / "other")]
    busy = fioloadgen("server", "start", *other, "--store", str(tmp_path / "o.db"), cwd=tmp_path)
    assert busy.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in busy.stderr
    stopped = fioloadgen("server", "stop", *common, cwd=tmp_path)
    assert stopped.returncode == 0 and "server stopped" in stopped.stdout
    assert not (state / "server.pid").exists()
    assert fioloadgen("server", "status", *common, cwd=tmp_path).returncode == 1
    # A pid file left behind by a process that is gone.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (state / "server.pid").write_text(f"{dead.pid}\n")
    stale = fioloadgen("server", "status", *common, cwd=tmp_path)
    assert stale.returncode == 1 and "stale pid file" in stale.stdout
    restarted = fioloadgen("server", "start", *common, "--no-executor", cwd=tmp_path)
    assert restarted.returncode == 0
    assert "removing stale pid file" in restarted.stdout
    assert (state / "access.log").exists() and (state / "error.log").exists()


def test_a_crash_interrupts_the_running_job_and_the_queue_resumes(tmp_path, daemon):
    port, state, common = daemon
    url = f"http://127.0.0.1:{port}"
    assert fioloadgen("server", "start", *common, "--size", "4m", cwd=tmp_path).returncode == 0
    auth = {"Authorization": f"Bearer {(state / 'token').read_text().strip()}"}
    assert (
        requests.put(
            f"{url}/api/v1/profiles/long", json={"text": LONG}, headers=auth, timeout=30
        ).status_code
        == 201
    )
    ids = [
        requests.post(
            f"{url}/api/v1/jobs",
            json={"profile": "long", "workers": 1, "title": f"long {n}"},
            headers=auth,
            timeout=10,
        ).json()["data"]["id"]
        for n in (1, 2)
    ]
    deadline = time.time() + 30
    while (
        requests.get(f"{url}/api/v1/jobs/{ids[0]}", timeout=10).json()["data"]["status"]
        != "running"
    ):
        assert time.time() < deadline
        time.sleep(0.2)
    pid = int((state / "server.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)  # a crash: no cleanup of any kind
    time.sleep(0.5)
    # Restarted with a short runtime so that the resumed job finishes quickly.
    again = fioloadgen("server", "start", *common, "--size", "4m", "--runtime", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    first = requests.get(f"{url}/api/v1/jobs/{ids[0]}", timeout=10).json()["data"]
    assert first["status"] == "interrupted"
    assert "stopped while the job was running" in first["error"]
    deadline = time.time() + 60
    while (second := requests.get(f"{url}/api/v1/jobs/{ids[1]}", timeout=10).json()["data"])[
        "status"
    ] in ("queued", "running"):
        assert time.time() < deadline
        time.sleep(0.3)
    assert second["status"] == "complete", second["error"]
