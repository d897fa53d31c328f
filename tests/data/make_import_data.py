"""Capture the fio outputs in tests/data/imports from real fio runs, as other tools wrote
them: what FIOLoadGen kept (``fio --client=<hosts> job --output-format=json``, everything
from the first ``{``), and plain standalone fio output in json and json+.

Run from the checkout: ``python tests/data/make_import_data.py``. The job files are kept
beside the outputs (``*.fio``) so the tests can store them as FIOLoadGen's profiles.
"""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from pathlib import Path

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget

HERE = Path(__file__).parent / "imports"

#: FIOLoadGen's profiles name one job section "workload" and write under /mnt; here the
#: fio servers' own directory is used instead (fio serves the job from its cwd).
RANDREAD = (
    "[global]\nioengine=psync\nsize=8m\nruntime=1\ntime_based\n\n[workload]\nrw=randread\nbs=4k\n"
)
RANDRW = (
    "[global]\nioengine=psync\nsize=8m\nruntime=1\ntime_based\n\n"
    "[workload]\nrw=randrw\nrwmixread=70\nbs=4k\n"
)


def _client_run(job: str, hosts: list[str], output_format: str) -> str:
    with tempfile.TemporaryDirectory() as made:
        hostfile = Path(made) / "hosts"
        hostfile.write_text("".join(line + "\n" for line in hosts))
        jobfile = Path(made) / "job.fio"
        jobfile.write_text(job)
        done = subprocess.run(
            ["fio", f"--client={hostfile}", str(jobfile), f"--output-format={output_format}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    # FIOLoadGen's run_job kept the output from its first '{' (fio may warn before it).
    return done.stdout[done.stdout.index("{") :]


def _standalone_run(job: str, output_format: str) -> str:
    with tempfile.TemporaryDirectory() as made:
        jobfile = Path(made) / "job.fio"
        jobfile.write_text(job.replace("[global]\n", f"[global]\ndirectory={made}\n"))
        done = subprocess.run(
            ["fio", str(jobfile), f"--output-format={output_format}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            cwd=made,
        )
    return done.stdout


def main() -> None:
    HERE.mkdir(exist_ok=True)
    (HERE / "randread.fio").write_text(RANDREAD)
    (HERE / "randrw.fio").write_text(RANDRW)
    backend = LocalBackend([LocalTarget("imports")], session_id=uuid.uuid4().hex)
    env = backend.deploy(["imports"], 2)
    try:
        hosts = [w.address.hostfile_line() for w in backend.resolve(env, "imports", 2)]
        outputs = {
            "fioloadgen-randread-w1.json": _client_run(RANDREAD, hosts[:1], "json"),
            "fioloadgen-randread-w2.json": _client_run(RANDREAD, hosts, "json"),
            "fioloadgen-randrw-w2.json": _client_run(RANDRW, hosts, "json"),
            "client-jsonplus-w2.json": _client_run(RANDREAD, hosts, "json+"),
        }
    finally:
        backend.teardown(env)
    outputs["standalone-json.json"] = _standalone_run(RANDREAD, "json")
    outputs["standalone-jsonplus.json"] = _standalone_run(RANDREAD, "json+")
    outputs["standalone-jsonplus-b.json"] = _standalone_run(RANDREAD, "json+")
    for name, text in outputs.items():
        (HERE / name).write_text(text)
        print(f"{name}: {len(text)} characters")


if __name__ == "__main__":
    main()
