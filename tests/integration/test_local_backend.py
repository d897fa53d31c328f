"""The local and static backends and the fio runner, with real fio servers."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest

from pytest_fioloadgen.backends.base import Environment
from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.backends.static import StaticBackend, StaticTarget, parse_host
from pytest_fioloadgen.exceptions import BackendError, FioRunError
from pytest_fioloadgen.fio.runner import WorkerAddress, run_fio

JOB = "[global]\nioengine=psync\nsize=4m\nruntime=1\ntime_based\n[rr]\nrw=randread\nbs=4k\n"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (the parent reaped it in teardown).
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
def local():
    """Make local backends that are torn down even when a test fails half-way."""
    backends = []

    def make(targets, **kwargs):
        backend = LocalBackend(targets, session_id=uuid.uuid4().hex, **kwargs)
        backends.append(backend)
        return backend

    yield make
    for backend in backends:
        backend.teardown(Environment(backend.name, {}))


def test_each_worker_has_its_own_address_and_directory(local, tmp_path):
    backend = local([LocalTarget("a", tmp_path), LocalTarget("b")])
    env = backend.deploy(["a", "b"], 2)
    workers = env.workers["a"] + env.workers["b"]
    assert len({w.address.host for w in workers}) == 4
    assert [w.name for w in env.workers["a"]] == ["a-w0", "a-w1"]
    pids = backend.running_pids()
    assert len(pids) == 4
    chosen = backend.resolve(env, "a", 2)
    result, invocation = run_fio(JOB, [w.address for w in chosen], expected_runtime_s=1)
    assert {w.host for w in result.workers} == {w.address.host for w in chosen}
    assert invocation.argv[1].startswith("--client=")
    session_dir = Path(env.details["directories"]["a"])
    assert session_dir.parent == tmp_path
    assert sorted(p.name for p in (session_dir / "w0").iterdir()) == ["rr.0.0"]
    assert sorted(p.name for p in (session_dir / "w1").iterdir()) == ["rr.0.0"]
    temp_dir = Path(env.details["directories"]["b"])
    backend.teardown(env)
    assert backend.running_pids() == []
    assert not any(alive(pid) for pid in pids)
    assert not session_dir.exists()
    assert not temp_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_keep_leaves_the_data_but_stops_the_servers(local, tmp_path):
    backend = local([LocalTarget("a", tmp_path)], keep=True)
    env = backend.deploy(["a"], 1)
    pids = backend.running_pids()
    run_fio(JOB, [w.address for w in backend.resolve(env, "a", 1)], expected_runtime_s=1)
    backend.teardown(env)
    assert env.kept
    assert not any(alive(pid) for pid in pids)
    assert (Path(env.details["directories"]["a"]) / "w0" / "rr.0.0").exists()


def test_missing_target_directory(local, tmp_path):
    backend = local([LocalTarget("a", tmp_path / "nope")])
    with pytest.raises(BackendError, match=r"target 'a': directory .*nope does not exist"):
        backend.deploy(["a"], 1)


def test_missing_fio_binary(local):
    backend = local([LocalTarget("a")], fio_binary="/nonexistent/fio")
    with pytest.raises(BackendError, match="fio binary '/nonexistent/fio' not found"):
        backend.deploy(["a"], 1)


def test_a_dead_worker_is_started_again_at_resolve(local):
    backend = local([LocalTarget("a")])
    env = backend.deploy(["a"], 2)
    before = env.workers["a"][1]
    victim = backend.running_pids()[1]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(victim) and time.monotonic() < deadline:
        time.sleep(0.05)
    chosen = backend.resolve(env, "a", 2)
    assert chosen[1].name == "a-w1" and chosen[1].address.host == before.address.host
    assert env.workers["a"][1] == chosen[1]
    notes = env.take_events()
    assert len(notes) == 1 and notes[0].startswith(
        f"worker a-w1 ({before.address.name}) had exited"
    )
    result, _ = run_fio(JOB, [w.address for w in chosen], expected_runtime_s=1)
    assert len(result.workers) == 2
    assert env.take_events() == []
    backend.teardown(env)
    assert backend.running_pids() == []


def test_asking_for_more_workers_than_deployed(local):
    backend = local([LocalTarget("a")])
    env = backend.deploy(["a"], 1)
    with pytest.raises(BackendError, match="target 'a' has 1 workers, the case needs 2"):
        backend.resolve(env, "a", 2)
    with pytest.raises(BackendError, match="target 'z' is not deployed"):
        backend.resolve(env, "z", 1)
    backend.teardown(env)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_runner_names_a_missing_worker(local):
    backend = local([LocalTarget("a")])
    env = backend.deploy(["a"], 1)
    present = backend.resolve(env, "a", 1)[0].address
    missing = WorkerAddress("127.0.0.1", _closed_port())
    with pytest.raises(FioRunError) as info:
        run_fio(JOB, [present, missing], expected_runtime_s=1)
    assert info.value.worker == missing.name
    assert f"worker {missing.name} did not report" in str(info.value)
    assert "fio stderr:" in str(info.value)
    backend.teardown(env)


def test_runner_times_out_and_kills_fio(local):
    backend = local([LocalTarget("a")])
    env = backend.deploy(["a"], 1)
    job = JOB.replace("runtime=1", "runtime=30")
    progress = []
    with pytest.raises(FioRunError, match=r"did not finish within 2 s"):
        run_fio(
            job,
            [w.address for w in backend.resolve(env, "a", 1)],
            expected_runtime_s=1,
            slack_s=1,
            on_progress=progress.append,
        )
    assert progress and progress[-1] > 2
    backend.teardown(env)


def test_runner_reports_a_job_error_with_stderr(local):
    backend = local([LocalTarget("a")])
    env = backend.deploy(["a"], 1)
    bad = JOB + "bogus_option=1\n"
    with pytest.raises(FioRunError) as info:
        run_fio(bad, [w.address for w in backend.resolve(env, "a", 1)], expected_runtime_s=1)
    assert "no job results" in str(info.value)
    assert "bogus_option" in info.value.stderr_tail
    backend.teardown(env)


def test_runner_reports_an_io_error_by_worker(local):
    backend = local([LocalTarget("a")])
    env = backend.deploy(["a"], 1)
    worker = backend.resolve(env, "a", 1)[0]
    # Verifying data that was never written with verify headers fails with EILSEQ (84),
    # which fio reports per client on stdout, ahead of the JSON document.
    job = JOB.replace("time_based\n", "") + "verify=crc32c\n"
    with pytest.raises(FioRunError) as info:
        run_fio(job, [worker.address], expected_runtime_s=1)
    assert info.value.worker == worker.address.name
    assert f"worker {worker.address.name} reported fio error 84" in str(info.value)
    assert "bad magic header" in info.value.stderr_tail
    backend.teardown(env)


def test_static_backend_uses_existing_servers(local):
    backend = local([LocalTarget("a")])
    env = backend.deploy(["a"], 2)
    addresses = [w.address for w in env.workers["a"]]
    static = StaticBackend(addresses, [StaticTarget("static")])
    static_env = static.deploy(["static"], 2)
    chosen = static.resolve(static_env, "static", 2)
    assert [w.address for w in chosen] == addresses
    result, _ = run_fio(JOB, [w.address for w in chosen], expected_runtime_s=1)
    assert len(result.workers) == 2
    static.teardown(static_env)
    assert len(backend.running_pids()) == 2  # the static backend stopped nothing
    backend.teardown(env)


def test_static_backend_refuses_unreachable_hosts():
    static = StaticBackend([WorkerAddress("127.0.0.1", _closed_port())], [StaticTarget("s")])
    with pytest.raises(BackendError, match=r"static fio server 127\.0\.0\.1:\d+ is not reachable"):
        static.deploy(["s"], 1)
    with pytest.raises(
        BackendError, match="the cases need 2 workers but the host list has 1"
    ) as info:
        static.deploy(["s"], 2)
    assert info.value.setting == "hosts"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("host", ("host", 8765)),
        ("host:9000", ("host", 9000)),
        ("10.0.0.1:1", ("10.0.0.1", 1)),
        ("[::1]:8765", ("::1", 8765)),
    ],
)
def test_parse_host(spec, expected):
    address = parse_host(spec, source="--fio-hosts")
    assert (address.host, address.port) == expected


@pytest.mark.parametrize("spec", ["host:0", "host:x", ":80", "host:70000"])
def test_parse_host_errors_name_the_source(spec):
    with pytest.raises(BackendError, match=r"^FIO_HOSTS: "):
        parse_host(spec, source="FIO_HOSTS")


def test_runs_keep_per_worker_time_series(local):
    backend = local([LocalTarget("a")])
    env = backend.deploy(["a"], 2)
    chosen = backend.resolve(env, "a", 2)
    result, _invocation = run_fio(JOB, [w.address for w in chosen], expected_runtime_s=1)
    series = result.raw["fioloadgen"]["timeseries"]
    assert series["interval_ms"] == 250
    assert set(series["workers"]) == {w.name for w in result.workers}
    for per_worker in series["workers"].values():
        assert len(per_worker["read_iops"]) >= 2
        assert all(value > 0 for _t, value in per_worker["read_iops"])
        assert per_worker["read_lat_ms"][0][1] > 0
