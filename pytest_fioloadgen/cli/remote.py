"""What the results-server client commands share: --url, the client, output helpers."""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Mapping
from typing import Any

from ..apiclient import ApiClient
from ..importing.marks import imported_from
from .common import printable, unfiltered

#: Figures `run --wait` and `job show` print, in this order, when measured.
SUMMARY_METRICS = (
    "iops",
    "bw_mib_s",
    "read_lat_p50_ms",
    "read_lat_p99_ms",
    "write_lat_p50_ms",
    "write_lat_p99_ms",
)
FINAL = ("complete", "failed", "cancelled", "interrupted")


def add_url_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        help="results server, e.g. http://127.0.0.1:8080 (default: $FIO_API_URL); "
        "the token comes from $FIO_API_TOKEN, $FIO_API_TOKEN_FILE or the client config",
    )
    parser.add_argument(
        "--ca-file",
        metavar="FILE",
        help="PEM file of the CA that signed an https server's certificate (default: "
        "$FIO_API_CA_FILE, ca_file in the client config, else the system's CAs)",
    )


def client(args: argparse.Namespace) -> ApiClient:
    return ApiClient.from_environment(getattr(args, "url", None), getattr(args, "ca_file", None))


def when(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def print_job(job: Mapping[str, Any]) -> None:
    for label, value in (
        ("id", job["id"]),
        ("title", job["title"]),
        ("status", job["status"]),
        ("profile", job["profile"]),
        ("workers", job["workers"]),
        ("target", job["target"]),
        ("created", when(job.get("created"))),
        ("started", when(job.get("started"))),
        ("ended", when(job.get("ended"))),
        ("test", job.get("test_id") or "-"),
        ("verdict", job.get("verdict") or "-"),
    ):
        print(f"{label:<9}: {value}")
    origin = imported_from(job.get("labels") or {})
    if origin:
        print(f"{'imported':<9}: yes, from {origin}")
    # The stored verdict's reason, as every other view shows it.
    reason = ((job.get("run") or {}).get("run") or {}).get("evidence", {}).get("reason")
    if reason:
        print(f"{'reason':<9}: {reason}")
    if job.get("error"):
        print(f"{'error':<9}: {job['error']}")
    summary = job.get("summary") or {}
    if summary:
        print("summary  :")
        for name in SUMMARY_METRICS:
            if summary.get(name) is not None:
                print(f"  {name:<18} {summary[name]:,.3f}")


def progress_line(job: Mapping[str, Any], now: float, width: int = 30) -> str:
    """'[########......] 12s / 30s running' (elapsed against the expected runtime)."""
    expected = float(job.get("expected_runtime") or 0.0)
    started = job.get("started")
    elapsed = max(0.0, now - started) if started else 0.0
    if job["status"] == "queued":
        return f"[{'.' * width}] queued"
    fraction = min(elapsed / expected, 1.0) if expected > 0 else 0.0
    filled = int(fraction * width)
    total = f"{expected:.0f}s" if expected > 0 else "?"
    return f"[{'#' * filled}{'.' * (width - filled)}] {elapsed:.0f}s / {total} {job['status']}"


def wait_for(api: ApiClient, job_id: str, *, poll_s: float = 1.0) -> dict[str, Any]:
    """Poll a job until it ends, drawing the progress bar on a terminal."""
    # The bar's \r and erase go to the terminal as they are (the printable filter would
    # show them as text); what the server said is still filtered.
    stream = unfiltered(sys.stderr)
    tty = stream.isatty()
    while True:
        job: dict[str, Any] = api.get(f"/jobs/{ApiClient.quote(job_id)}")["data"]
        if job["status"] in FINAL:
            if tty:
                stream.write("\r\033[K")
            return job
        line = printable(progress_line(job, time.time()))
        if tty:
            stream.write(f"\r{line}")
            stream.flush()
        time.sleep(poll_s)
