"""Adversarial profiles through real fio, judged by strace: nothing outside the worker
directory (client: its temp dir) is opened for writing, created, renamed or unlinked, and
nothing outside it is read — with only the safety policy on, and again with only the
sandbox on.

Every escape the confinement issues reported is in the corpus, plus traversal in each path
option, a planted symbolic link, includes, environment splices, argument smuggling and
commands run as root (exec_prerun, the exec engine) for the sandbox-only run. The read
corpus is the verify-read that leaked a file outside the sandbox 12 bytes at a time
(``verify: bad magic header 4f54 ...``), through fio's bc arithmetic and plainly, and its
variants: inside the sandbox every such path is ENOENT. The escapes aim at a canary
directory of the test's own (and at /etc/shadow and /root, which root can read), never
write the system's files; control runs with both defences off prove the oracle sees an
escape, a write or a read, when there is one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from pytest_fioloadgen.backends.base import Environment
from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.backends.sandbox import UNCONFINED, choose_sandbox
from pytest_fioloadgen.backends.static import StaticBackend, StaticTarget
from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.exceptions import FioLoadgenError, ProfileError
from pytest_fioloadgen.fio.runner import WorkerAddress
from pytest_fioloadgen.profiles import allowed_variables, parse_profile
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.verdicts.gating import GatingPolicy
from pytest_fioloadgen.verdicts.thresholds import Thresholds
from tests.integration.strace_oracle import STRACE, Tracer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(STRACE is None, reason="needs strace (Debian package strace)"),
]

#: Enough '../' to climb from any worker directory to the root.
UP = "../" * 24

# Profiles as templates: OUT is the canary directory (absolute), OUTREL the same without
# its leading '/', EVIL a shell script that tries what root could do.
CORPUS: dict[str, str] = {
    # The reported escapes.
    "jobname-as-file": "[{UP}OUTREL/pwn.sh]\nfilename_format=$jobname\nrw=write\nbs=4k\n"
    "size=4k\nbuffer_pattern=0x23212f62696e2f73680a6563686f206f776e65640a\n",
    "jobname-client-log": "[{UP}OUTREL/clientlog]\nrw=read\nsize=64k\nwrite_bw_log\n",
    "double-expansion": "[j]\nfilename=$${UNSET_VAR}{CANARY_DIR}/double\nrw=write\nsize=4k\n",
    "env-splice-exec": "[j]\n${SPLICE}=touch OUT/spliced\nrw=read\nsize=64k\n",
    "ioscheduler": "[j]\nrw=read\nsize=64k\nioscheduler=none\n",
    # fio's arithmetic through sh and bc: bc prints the path (dash's echo makes \n a break).
    "bc-opendir": '[j]\nrw=write\nsize=4k\nopendir=x=$ncpus/1\\n"OUT\\n"\n',
    "bc-filename": '[j]\nrw=write\nsize=4k\nfilename=x=$ncpus/1\\n"OUT/victim\\n"\n',
    "bc-mem-file": '[j]\nrw=read\nsize=64k\nmem=x=$ncpus/1\\n"mmap:OUT/victim\\n"\n',
    # Traversal in every path option.
    "filename-absolute": "[j]\nfilename=OUT/abs\nrw=write\nsize=4k\n",
    "filename-dotdot": "[j]\nfilename={UP}OUTREL/up\nrw=write\nsize=4k\n",
    "filename-list": "[j]\nfilename=inside:OUT/listed\nrw=write\nsize=4k\n",
    "filename-format-dotdot": "[j]\nfilename_format={UP}OUTREL/fmt.$jobnum\nrw=write\nsize=4k\n",
    "directory": "[j]\ndirectory=OUT\nrw=write\nsize=4k\n",
    "opendir": "[j]\nopendir=OUT\nrw=write\nsize=4k\n",
    "name-option": "[j]\nname={UP}OUTREL/named\nrw=write\nsize=4k\n",
    "write-iolog": "[j]\nwrite_iolog=OUT/iolog\nrw=write\nsize=4k\n",
    "write-lat-log": "[j]\nwrite_lat_log=OUT/lat\nrw=read\nsize=64k\n",
    "write-iops-log": "[j]\nwrite_iops_log={UP}OUTREL/iops\nrw=read\nsize=64k\n",
    "write-hist-log": "[j]\nwrite_hist_log=OUT/hist\nlog_hist_msec=10\nrw=read\nsize=64k\n",
    "mem-mmap-file": "[j]\nmem=mmap:OUT/membuf\nrw=read\nsize=64k\n",
    "read-iolog": "[j]\nread_iolog=IOLOG\n",
    "replay-redirect": "[j]\nread_iolog=IOLOG\nreplay_redirect=OUT/redirected\n",
    "merge-blktrace": "[j]\nread_iolog=IOLOG\nmerge_blktrace_file=OUT/merged\n",
    "cgroup": "[j]\ncgroup=fioloadgen-oracle\nrw=read\nsize=64k\n",
    "planted-symlink": "[j]\nfilename=link\nrw=write\nsize=4k\n",
    # Argument smuggling: fio's argv is ours; a profile can only pretend.
    "argv-smuggling": "[--output=OUT/smuggled]\nrw=read\nsize=64k\n--output=OUT/smuggled2\n",
    # Commands as root: only the sandbox can hold these (the policy refuses them).
    "exec-prerun-as-root": "[j]\nrw=read\nsize=64k\nexec_prerun=sh EVIL\n",
    "exec-postrun-as-root": "[j]\nrw=read\nsize=64k\nexec_postrun=sh EVIL\n",
    "exec-engine": "[j]\nioengine=exec\nprogram=/bin/sh\narguments=EVIL\ntime_based\nruntime=1\n",
}

#: Reads of a file outside the worker directory: fio reports the bytes it verifies
#: ("bad magic header 4f54" is "TO" of TOPSECRET-xy), 12 bytes a run, offset= the window.
VERIFY_READ = (
    "rw=read\nbs=2\noffset=0\nsize=12\nverify=crc32c\nverify_only=1\ncontinue_on_error=all\n"
)
READ_CORPUS: dict[str, str] = {
    # The reported one: bc prints the path (dash's echo turns \n into a line break).
    "verify-read-bc": "[j]\n" + VERIFY_READ + 'opendir=x=$ncpus/1\\n"OUT\\n"\n',
    "verify-read-filename-bc": "[j]\n" + VERIFY_READ + 'filename=x=$ncpus/1\\n"OUT/secret\\n"\n',
    "verify-read-opendir": "[j]\n" + VERIFY_READ + "opendir=OUT\n",
    "verify-read-absolute": "[j]\n" + VERIFY_READ + "filename=OUT/secret\n",
    "verify-read-dotdot": "[j]\n" + VERIFY_READ + "filename={UP}OUTREL/secret\n",
    "verify-read-shadow": "[j]\n" + VERIFY_READ + "filename=/etc/shadow\n",
    "verify-read-root": "[j]\n" + VERIFY_READ + "opendir=/root\n",
    # A quoted pattern names a file fio reads into its buffers.
    "pattern-file": "[j]\nrw=write\nsize=4k\nbuffer_pattern='OUT/secret'\n",
    "verify-pattern-file": "[j]\nrw=write\nsize=4k\nverify=pattern\nverify_pattern='OUT/secret'\n",
    # \0047 is a quote once dash's echo has read it: a quoted pattern, from bc.
    "pattern-file-bc": '[j]\nrw=write\nsize=4k\nbuffer_pattern=x=$ncpus/1\\n"\\0047OUT/secret\\0047"\n',
}
#: What root can read on the host and a profile must not: the canary is added per test.
READ_ROOTS = ("/etc/shadow", "/root", "/home", "/var")
SECRET = "TOPSECRET-xy"

EVIL_SCRIPT = """\
mount -o remount,rw / 2>/dev/null
mount -t tmpfs none OUT 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
touch OUT/root-was-here 2>/dev/null
echo owned > OUT/victim 2>/dev/null
rm -f OUT/victim 2>/dev/null
mknod OUT/blk b 7 0 2>/dev/null
mkdir OUT-escaped 2>/dev/null
exit 0
"""


def _render(template: str, out: Path, iolog: Path, evil: Path) -> str:
    return (
        template.replace("{UP}", UP)
        .replace("OUTREL", str(out).lstrip("/"))
        .replace("OUT", str(out))
        .replace("IOLOG", str(iolog))
        .replace("EVIL", str(evil))
    )


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """A directory outside every worker directory, with a file in it to attack."""
    out = Path(f"/tmp/fioloadgen-oracle-{uuid.uuid4().hex[:8]}")
    out.mkdir()
    (out / "victim").write_text("untouched\n")
    (out / "secret").write_text(SECRET)
    monkeypatch.setenv("CANARY_DIR", str(out))
    monkeypatch.delenv("UNSET_VAR", raising=False)
    yield out
    # Should a defence ever fail, the root script's tmpfs must not outlive the test.
    while os.path.ismount(out):
        subprocess.run(["umount", str(out)], check=False)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(f"{out}-escaped", ignore_errors=True)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes() if path.is_file() else b"<dir>"
        for path in sorted(directory.rglob("*"))
    }


def _tools(tmp_path: Path, out: Path) -> tuple[Path, Path]:
    """The iolog naming the victim, and the root script, both outside the worker dirs."""
    iolog = tmp_path / "replay.iolog"
    victim = out / "victim"
    iolog.write_text(
        f"fio version 2 iolog\n{victim} add\n{victim} open\n{victim} write 0 4096\n{victim} close\n"
    )
    evil = tmp_path / "evil.sh"
    evil.write_text(EVIL_SCRIPT.replace("OUT", str(out)))
    return iolog, evil


def _parse(name: str, text: str) -> object:
    # Every variable allowed: the sandbox alone must hold whatever the profile expands.
    environ = {**os.environ, "SPLICE": "exec_prerun"}
    names = [*environ, "UNSET_VAR"]
    return parse_profile(text, name=name, env=allowed_variables(names, environ))


def _plant_link(worker_dir: Path, out: Path) -> None:
    link = worker_dir / "link"
    if not link.is_symlink():
        # fio may have replaced it by a file of its own (inside the worker dir).
        link.unlink(missing_ok=True)
        link.symlink_to(out / "victim")


def _client_prefix(session_dir: Path) -> str:
    return str(session_dir / "fioloadgen-run-")


def _assert_clean(tracer: Tracer, allowed: list[Path], prefixes: list[str], out: Path, before):
    violations = tracer.violations(allowed, prefixes)
    assert violations == [], "\n".join(f"{v.syscall} {v.path}: {v.line}" for v in violations)
    assert _snapshot(out) == before, "the canary directory changed"
    assert not Path(f"{out}-escaped").exists()


def _read_roots(canary: Path) -> list[Path | str]:
    return [canary, *READ_ROOTS]


def _environments_of(directory: Path) -> list[bytes]:
    """The environments of the processes working in ``directory`` (the fio servers)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(entry / "cwd").startswith(str(directory)):
                found.append((entry / "environ").read_bytes())
        except OSError:
            continue
    return found


def test_sandbox_alone_holds_against_every_profile(tmp_path, canary, monkeypatch):
    monkeypatch.setenv("FAKE_SECRET", "hunter2-in-the-harness")
    sandbox = choose_sandbox("bwrap", where="test")
    iolog, evil = _tools(tmp_path, canary)
    # Failed calls too: a read the sandbox stopped shows as ENOENT.
    tracer = Tracer(tmp_path, failures=True)
    base = tmp_path / "target"
    base.mkdir()
    backend = LocalBackend(
        [LocalTarget("t", base)],
        session_id=uuid.uuid4().hex,
        sandbox=sandbox,
        wrap_command=tracer.wrap,
    )
    env = backend.deploy(["t"], 1)
    before = _snapshot(canary)
    ran = {}
    try:
        worker_dir = Path(env.details["directories"]["t"]) / "w0"
        # The server holds nothing of the harness's environment to read back.
        environments = _environments_of(worker_dir)
        assert environments
        assert not any(b"hunter2" in environ for environ in environments)
        _plant_link(worker_dir, canary)
        for name, template in {**CORPUS, **READ_CORPUS}.items():
            profile = _parse(name, _render(template, canary, iolog, evil))
            (worker := env.workers["t"][0])
            try:
                # Straight to the backend: no policy between the profile and fio.
                backend.run_job(env, profile.render(), [worker], expected_runtime_s=2)
                ran[name] = "ok"
            except FioLoadgenError as err:
                ran[name] = f"{err} {getattr(err, 'stderr_tail', '')}"
            _plant_link(worker_dir, canary)  # fio may have unlinked it
        session_dir = worker_dir.parent
    finally:
        backend.teardown(env)
    _assert_clean(tracer, [worker_dir], [_client_prefix(session_dir)], canary, before)
    assert len(ran) == len(CORPUS) + len(READ_CORPUS)
    # Reads: every path outside was tried and none was there to open.
    accesses = tracer.accesses(_read_roots(canary), allowed=[worker_dir])
    assert [a.line for a in accesses if a.succeeded] == []
    assert {a.errno for a in accesses} == {"ENOENT"}
    tried = {a.path for a in accesses}
    assert {str(canary / "secret"), str(canary), "/etc/shadow", "/root"} <= tried, ran
    # fio could not run bc: the arithmetic tricks failed before naming any path.
    assert "bc is needed" in ran["verify-read-bc"]
    assert not any("4f54" in outcome for outcome in ran.values())


def test_policy_alone_holds_against_every_profile(tmp_path, canary):
    iolog, evil = _tools(tmp_path, canary)
    tracer = Tracer(tmp_path)
    base = tmp_path / "target"
    base.mkdir()
    backend = LocalBackend(
        [LocalTarget("t", base)],
        session_id=uuid.uuid4().hex,
        sandbox=UNCONFINED,
        wrap_command=tracer.wrap,
    )
    session = BenchmarkSession(
        backend=backend,
        targets=["t"],
        max_workers=1,
        store=None,
        thresholds=Thresholds.empty(),
        gating=GatingPolicy(baseline="none"),
    )
    before = _snapshot(canary)
    outcomes: dict[str, str] = {}
    try:
        env = session.environment()
        worker_dir = Path(env.details["directories"]["t"]) / "w0"
        for name, template in {**CORPUS, **READ_CORPUS}.items():
            if name == "planted-symlink":
                _plant_link(worker_dir, canary)
            try:
                profile = _parse(name, _render(template, canary, iolog, evil))
                session.run(Case(profile, 1, "t"))
                outcomes[name] = "ran"
            except ProfileError:
                outcomes[name] = "refused"
            except FioLoadgenError as err:
                outcomes[name] = f"failed: {err}"
            (worker_dir / "link").unlink(missing_ok=True)
        session_dir = worker_dir.parent
    finally:
        session.close()
    _assert_clean(tracer, [worker_dir], [_client_prefix(session_dir)], canary, before)
    assert tracer.accesses(_read_roots(canary), allowed=[worker_dir]) == []
    # Everything is refused before fio starts, but: a profile's directory= is replaced by
    # the worker's (the job runs, inside), and a planted link is refused by the backend at
    # resolve time (the policy cannot see a worker's file system).
    assert outcomes.pop("planted-symlink").startswith("failed: worker directory")
    assert outcomes.pop("directory") == "ran"
    assert outcomes == {name: "refused" for name in outcomes}


def _static_server(tracer: Tracer, host: str, home: Path) -> tuple[subprocess.Popen, int]:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        tracer.wrap(["fio", f"--server=ip:{host},{port}"]),
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return process, port
        time.sleep(0.05)
    raise AssertionError("static fio server did not start")


STATIC_PROFILES = {
    # Relative paths fio resolves against the server's cwd land in the target instead.
    "write-iolog-bashrc": "[j]\nwrite_iolog=.bashrc\nrw=write\nsize=4k\n",
    "mem-file": "[j]\nmem=mmap:membuf\nrw=read\nsize=64k\n",
    "opendir-relative": "[j]\nopendir=sub\nrw=read\nsize=4k\n",
    "verify-state": "[j]\nrw=write\nsize=64k\nverify=md5\nverify_state_save=1\n",
}


def test_static_backend_resolves_relative_paths_against_the_target(tmp_path, canary):
    tracer = Tracer(tmp_path)
    home = tmp_path / "server-home"
    home.mkdir()
    (home / ".bashrc").write_text("# the server user's own\n")
    target = tmp_path / "static-target"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "data").write_bytes(b"x" * 4096)
    process, port = _static_server(tracer, "127.0.0.5", home)
    client_tmp = tmp_path / "client"
    client_tmp.mkdir()
    backend = StaticBackend([WorkerAddress("127.0.0.5", port)], [StaticTarget("s", str(target))])
    backend.wrap_command = tracer.wrap
    backend.client_workdir = lambda env: client_tmp  # type: ignore[method-assign]
    session = BenchmarkSession(
        backend=backend,
        targets=["s"],
        max_workers=1,
        store=None,
        thresholds=Thresholds.empty(),
        gating=GatingPolicy(baseline="none"),
    )
    before = _snapshot(home)
    try:
        for name, text in STATIC_PROFILES.items():
            outcome = session.run(Case(parse_profile(text, name=name, env={}), 1, "s"))
            assert outcome.result.workers
    finally:
        session.close()
        os.killpg(process.pid, signal.SIGKILL)  # strace and the fio server it traces
        process.wait(timeout=10)
    assert (target / ".bashrc").exists()
    _assert_clean(tracer, [target], [str(client_tmp)], home, before)


def test_the_oracle_sees_an_escape_when_both_defences_are_off(tmp_path, canary):
    """The control: without the sandbox and the policy, the reported escapes write the
    canary and read the secret next to it, and strace says so; the tests above could
    fail."""
    tracer = Tracer(tmp_path)
    backend = LocalBackend(
        [LocalTarget("t", tmp_path)],
        session_id=uuid.uuid4().hex,
        sandbox=UNCONFINED,
        wrap_command=tracer.wrap,
    )
    env = backend.deploy(["t"], 1)
    text = _render(CORPUS["jobname-as-file"], canary, tmp_path, tmp_path)
    read = _render(READ_CORPUS["verify-read-absolute"], canary, tmp_path, tmp_path)
    try:
        worker_dir = Path(env.details["directories"]["t"]) / "w0"
        backend.run_job(
            env, _parse("x", text).render(), env.workers["t"][0:1], expected_runtime_s=2
        )
        with pytest.raises(FioLoadgenError) as leaked:
            backend.run_job(
                env, _parse("y", read).render(), env.workers["t"][0:1], expected_runtime_s=2
            )
    finally:
        backend.teardown(Environment("local", {}))
    assert (canary / "pwn.sh").read_bytes().startswith(b"#!/bin/sh\necho owned\n")
    violations = tracer.violations([worker_dir])
    assert any(v.path == str(canary / "pwn.sh") for v in violations)
    # "TO" of TOPSECRET-xy, as the worker reported it.
    assert "bad magic header 4f54" in f"{leaked.value} {leaked.value.stderr_tail}"
    reads = tracer.accesses(_read_roots(canary), allowed=[worker_dir])
    assert any(a.succeeded and a.path == str(canary / "secret") for a in reads)


def test_the_sandbox_refuses_root_what_root_can_do_outside(tmp_path, canary):
    """The sandbox's promises checked one by one from inside it, as root would try."""
    sandbox = choose_sandbox("bwrap", where="test")
    work = tmp_path / "w"
    work.mkdir()
    (tmp_path / "sibling").write_text("another worker's\n")
    script = textwrap.dedent(
        f"""\
        mount -o remount,rw / 2>/dev/null && echo remount-worked
        echo 3 > /proc/sys/vm/drop_caches 2>/dev/null && echo drop-caches-worked
        touch {canary}/x 2>/dev/null && echo outside-write-worked
        touch {work}/inside && echo inside-write-worked
        ls /dev | grep -E '^(sd|vd|nvme|loop|xvd)' && echo block-devices-visible
        grep CapEff /proc/self/status
        echo pid=$$
        for path in {canary} {tmp_path}/sibling /root /home /var /srv /etc/shadow /etc/passwd; do
            [ -e "$path" ] && echo "visible:$path"
        done
        command -v bc >/dev/null && echo bc-visible
        [ -e /etc/ld.so.cache ] && echo loader-cache-visible
        """
    )
    completed = subprocess.run(
        sandbox.command(
            ["sh", "-c", script],
            writable=[work],
            cwd=work,
            programs=["mount", "touch", "ls", "grep"],
        ),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = completed.stdout.splitlines()
    assert "inside-write-worked" in lines
    for forbidden in (
        "remount-worked",
        "drop-caches-worked",
        "outside-write-worked",
        "block-devices-visible",
        "bc-visible",
    ):
        assert forbidden not in lines
    # Only what fio needs is there: the worker directory's parents are empty shells.
    assert [line for line in lines if line.startswith("visible:")] == []
    assert "loader-cache-visible" in lines
    assert "CapEff:\t0000000000000000" in lines
    # Its own PID namespace: the shell is not a host pid.
    assert any(line in ("pid=1", "pid=2") for line in lines)
