"""fio's logs back from the client Job: framed sections after the JSON.

A pod's log is the only channel a finished Job has (no exec, no copy from a pod that is
gone). The client pod runs fio, then packs the logs fio wrote in its working directory as
gzipped tars, base64 encoded, each between two marker lines: first the averaged logs
(``fioloadgen_iops.1.log.<host>``...), then the histogram logs of the timeline
(``fioloadgen_clat_hist.1.log.<host>``), so a timeline too large to return never costs
the averaged series. Each section is bounded: above ``LIMIT_BYTES`` compressed it is
replaced by one line saying so (kubelets rotate container logs at 10 MiB by default, and a
rotated log would lose fio's JSON too). Reading back is bounded the same way, and only
regular files named like fio's logs are taken from an archive.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ...fio.timeseries import LOG_PREFIX

BEGIN = "#fioloadgen-logs-begin v1"
END = "#fioloadgen-logs-end"
SKIPPED = "#fioloadgen-logs-skipped"
HIST_BEGIN = "#fioloadgen-hist-begin v1"
HIST_END = "#fioloadgen-hist-end"
HIST_SKIPPED = "#fioloadgen-hist-skipped"
#: Compressed size above which a section is not put in the pod's log.
LIMIT_BYTES = 4 * 1024 * 1024
#: What an archive may unpack to (averaged logs are small, histogram logs compress about
#: 40:1; this only stops a bomb).
UNPACKED_LIMIT_BYTES = 256 * 1024 * 1024

_NAME = re.compile(rf"^{LOG_PREFIX}_(iops|lat|clat|slat|clat_hist)(\.\d+)?\.log\.[A-Za-z0-9.:_-]+$")
# The averaged logs: fioloadgen_{iops,lat,clat,slat}.N.log.host (not clat_hist).
_AVERAGED_GLOB = " ".join(
    f"{LOG_PREFIX}_{kind}.*.log.*" for kind in ("iops", "lat", "clat", "slat")
)
_HIST_GLOB = f"{LOG_PREFIX}_clat_hist.*.log.*"


def _section_script(name: str, glob: str, begin: str, end: str, skipped: str) -> str:
    # ls of a pattern that matches nothing fails: list what exists, then pack only that.
    return (
        f"files=$(ls -d {glob} 2>/dev/null)\n"
        'if [ -n "$files" ]; then\n'
        f"  tar -czf {name}.tgz $files\n"
        f'  size=$(wc -c < {name}.tgz | tr -d " ")\n'
        f'  if [ "$size" -le {LIMIT_BYTES} ]; then\n'
        f'    echo; echo "{begin} $size"; base64 {name}.tgz; echo "{end}"\n'
        "  else\n"
        f'    echo; echo "{skipped} $size bytes > {LIMIT_BYTES}"\n'
        "  fi\n"
        f"  rm -f {name}.tgz\n"
        "fi\n"
    )


def client_script() -> str:
    """The client pod's shell script: ``$1`` is the job directory (the ConfigMap), fio's
    exit status is the pod's. Runs in the pod's working directory, where fio writes logs."""
    return (
        'fio --client="$1/hosts" "$1/job.fio" --output-format=json+\n'
        "rc=$?\n"
        + _section_script(f"{LOG_PREFIX}-logs", _AVERAGED_GLOB, BEGIN, END, SKIPPED)
        + _section_script(f"{LOG_PREFIX}-hist", _HIST_GLOB, HIST_BEGIN, HIST_END, HIST_SKIPPED)
        + 'exit "$rc"\n'
    )


@dataclass(frozen=True)
class PodLog:
    """A client pod's log taken apart."""

    #: fio's own output.
    output: str
    #: The base64 sections (None when absent, skipped or broken).
    averaged: str | None = None
    histograms: str | None = None
    #: Why a section did not come back (one line each).
    notes: tuple[str, ...] = ()


def _cut(log: str, begin: str, end: str, skipped: str, what: str) -> tuple[str, str | None, str]:
    """(the log without the section, the section's body or None, a note)."""
    start = log.rfind(f"\n{begin} ")
    if start < 0:
        skip = log.rfind(f"\n{skipped} ")
        if skip < 0:
            return log, None, ""
        line_end = log.find("\n", skip + 1)
        note = log[skip + 1 : line_end if line_end >= 0 else None].strip()
        rest = log[:skip] + (log[line_end:] if line_end >= 0 else "")
        return rest, None, f"{what} not returned: {note.removeprefix(skipped).strip()}"
    stop = log.find(f"\n{end}", start + 1)
    if stop < 0:
        return log[:start], None, f"{what} not returned: the log section is truncated"
    header_end = log.find("\n", start + 1)
    body = log[header_end + 1 : stop]
    return log[:start] + log[stop + len(end) + 1 :], body, ""


def split_log(log: str) -> PodLog:
    """fio's own output and the sections after it (the histogram section comes last)."""
    rest, histograms, hist_note = _cut(log, HIST_BEGIN, HIST_END, HIST_SKIPPED, "timeline")
    rest, averaged, note = _cut(rest, BEGIN, END, SKIPPED, "time series")
    notes = tuple(line for line in (note, hist_note) if line)
    return PodLog(rest, averaged, histograms, notes)


def unpack(body: str, directory: Path) -> list[Path]:
    """Write the logs of a section into ``directory``; the files written."""
    # base64 wraps its lines at 76 characters: one newline per 57 bytes of archive.
    if len(body) > LIMIT_BYTES * 4 // 3 + LIMIT_BYTES // 50 + 4096:
        raise ValueError(f"the log section is larger than {LIMIT_BYTES} bytes")
    try:
        packed = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"the log section is not base64 ({err})") from err
    written: list[Path] = []
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as archive:
            for member in archive:
                # Only fio's log files, flat: never a path, link or device from the pod.
                if not member.isfile() or not _NAME.match(member.name):
                    continue
                total += member.size
                if total > UNPACKED_LIMIT_BYTES:
                    raise ValueError(f"the logs unpack to more than {UNPACKED_LIMIT_BYTES} bytes")
                source = archive.extractfile(member)
                if source is None:
                    continue
                path = directory / member.name
                path.write_bytes(source.read(member.size))
                written.append(path)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"the log section is not a readable archive ({err})") from err
    return written
