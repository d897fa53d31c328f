"""The client Job's framed time-series section: packed by the pod's shell script (run here
with the real sh, tar and base64), split off fio's output, unpacked with bounds."""

from __future__ import annotations

import base64
import io
import subprocess
import tarfile

import pytest

from pytest_fioloadgen.backends.kubernetes import logframe


def run_script(tmp_path, files: dict[str, bytes], fio_output: str = '{"fio version": "x"}'):
    jobdir = tmp_path / "job"
    jobdir.mkdir()
    workdir = tmp_path / "work"
    workdir.mkdir()
    for name, data in files.items():
        (workdir / name).write_bytes(data)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # A stand-in fio: prints its output and exits 3, as a failed run would.
    (bindir / "fio").write_text(f"#!/bin/sh\necho '{fio_output}'\nexit 3\n")
    (bindir / "fio").chmod(0o755)
    return subprocess.run(
        ["sh", "-c", logframe.client_script(), "fio-client", str(jobdir)],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={"PATH": f"{bindir}:/usr/bin:/bin"},
        check=False,
    )


def test_logs_round_trip_through_the_pod_log(tmp_path):
    logs = {"fioloadgen_iops.1.log.w0.svc": b"0, 100, 0, 4096, 0\n"}
    done = run_script(tmp_path, logs)
    assert done.returncode == 3, "fio's exit status is the pod's"
    pod_log = logframe.split_log(done.stdout)
    assert pod_log.output.strip() == '{"fio version": "x"}' and pod_log.notes == ()
    assert pod_log.histograms is None
    out = tmp_path / "out"
    out.mkdir()
    written = logframe.unpack(pod_log.averaged, out)
    assert [p.name for p in written] == list(logs)
    assert written[0].read_bytes() == logs["fioloadgen_iops.1.log.w0.svc"]


def test_histogram_logs_come_back_in_a_section_of_their_own(tmp_path):
    logs = {
        "fioloadgen_clat_hist.1.log.w0.svc": b"1796634987768, 0, 4096, 0, 3\n",
        "fioloadgen_lat.1.log.w0.svc": b"0, 1, 0, 4096, 0\n",
    }
    pod_log = logframe.split_log(run_script(tmp_path, logs).stdout)
    assert pod_log.output.strip() == '{"fio version": "x"}'
    averaged, histograms = tmp_path / "averaged", tmp_path / "histograms"
    averaged.mkdir()
    histograms.mkdir()
    assert [p.name for p in logframe.unpack(pod_log.averaged, averaged)] == [
        "fioloadgen_lat.1.log.w0.svc"
    ]
    assert [p.name for p in logframe.unpack(pod_log.histograms, histograms)] == [
        "fioloadgen_clat_hist.1.log.w0.svc"
    ]


def test_a_timeline_too_large_never_costs_the_averaged_series(tmp_path, monkeypatch):
    monkeypatch.setattr(logframe, "LIMIT_BYTES", 200)
    logs = {
        "fioloadgen_clat_hist.1.log.w0": bytes(range(256)) * 50,
        "fioloadgen_iops.1.log.w0": b"0, 1, 0, 4096, 0\n",
    }
    pod_log = logframe.split_log(run_script(tmp_path, logs).stdout)
    assert pod_log.histograms is None and pod_log.averaged is not None
    assert len(pod_log.notes) == 1 and pod_log.notes[0].startswith("timeline not returned: ")
    assert "#fioloadgen" not in pod_log.output


def test_no_logs_no_section(tmp_path):
    pod_log = logframe.split_log(run_script(tmp_path, {}).stdout)
    assert pod_log.averaged is None and pod_log.notes == () and "fio version" in pod_log.output


def test_an_oversized_section_is_skipped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(logframe, "LIMIT_BYTES", 10)
    done = run_script(tmp_path, {"fioloadgen_lat.1.log.w0": b"0, 1, 0, 4096, 0\n" * 100})
    pod_log = logframe.split_log(done.stdout)
    (note,) = pod_log.notes
    assert pod_log.averaged is None and note.startswith("time series not returned: ")
    assert "bytes > 10" in note and "#fioloadgen" not in pod_log.output


def test_a_truncated_section_is_noted():
    log = f'{{"a": 1}}\n{logframe.BEGIN} 100\nH4sIAAAA'
    pod_log = logframe.split_log(log)
    (note,) = pod_log.notes
    assert pod_log.averaged is None and "truncated" in note and pod_log.output == '{"a": 1}'


def archive(members: dict[str, bytes], *, link: str | None = None) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return base64.b64encode(buffer.getvalue()).decode()


def test_only_flat_log_files_are_taken(tmp_path):
    body = archive(
        {
            "fioloadgen_iops.1.log.w0": b"1\n",
            "../escape": b"x",
            "sub/fioloadgen_iops.1.log.w0": b"x",
            "other.txt": b"x",
        },
        link="fioloadgen_lat.1.log.w1",
    )
    written = logframe.unpack(body, tmp_path)
    assert [p.name for p in written] == ["fioloadgen_iops.1.log.w0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fioloadgen_iops.1.log.w0"]


def test_garbage_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="not base64"):
        logframe.unpack("!!!", tmp_path)
    with pytest.raises(ValueError, match="not a readable archive"):
        logframe.unpack(base64.b64encode(b"plain").decode(), tmp_path)


@pytest.mark.parametrize(
    ("workers", "runtime_s", "plan"),
    [(1, 60, (500, 0)), (48, 60, (500, 1)), (64, 60, (500, 2)), (256, 60, (1000, 3))],
)
def test_the_timeline_is_planned_to_fit_the_pod_log(workers, runtime_s, plan):
    from pytest_fioloadgen.backends.kubernetes.client_job import (
        HIST_BUDGET_SHARE,
        HIST_ROW_BYTES,
        framed_histogram_logging,
    )
    from pytest_fioloadgen.fio.timeseries import log_interval_ms

    interval = log_interval_ms(runtime_s)
    assert framed_histogram_logging(workers, runtime_s, interval) == plan
    hist_interval, coarseness = plan
    rows = workers * 2 * runtime_s * 1000 / hist_interval
    assert rows * HIST_ROW_BYTES[coarseness] <= logframe.LIMIT_BYTES * HIST_BUDGET_SHARE
