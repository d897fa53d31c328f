"""fio's time-series logs back from the client Job: a framed section after the JSON.

A pod's log is the only channel a finished Job has (no exec, no copy from a pod that is
gone). The client pod runs fio, then packs the averaged logs fio wrote in its working
directory (``fioloadgen_iops.1.log.<host>``...) as a gzipped tar, base64 encoded, between
two marker lines. The section is bounded: above ``LIMIT_BYTES`` compressed it is replaced
by one line saying so (kubelets rotate container logs at 10 MiB by default, and a rotated
log would lose fio's JSON too). Reading it back is bounded the same way, and only regular
files named like fio's logs are taken from the archive.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import tarfile
from pathlib import Path

from ...fio.timeseries import LOG_PREFIX

BEGIN = "#fioloadgen-logs-begin v1"
END = "#fioloadgen-logs-end"
SKIPPED = "#fioloadgen-logs-skipped"
#: Compressed size above which the logs are not put in the pod's log.
LIMIT_BYTES = 4 * 1024 * 1024
#: What the archive may unpack to (averaged logs are small; this only stops a bomb).
UNPACKED_LIMIT_BYTES = 64 * 1024 * 1024

_NAME = re.compile(rf"^{LOG_PREFIX}_(iops|lat)(\.\d+)?\.log\.[A-Za-z0-9.:_-]+$")


def client_script() -> str:
    """The client pod's shell script: ``$1`` is the job directory (the ConfigMap), fio's
    exit status is the pod's. Runs in the pod's working directory, where fio writes logs."""
    return (
        'fio --client="$1/hosts" "$1/job.fio" --output-format=json+\n'
        "rc=$?\n"
        f"if ls {LOG_PREFIX}_*.log.* >/dev/null 2>&1; then\n"
        f"  tar -czf {LOG_PREFIX}-logs.tgz {LOG_PREFIX}_*.log.*\n"
        f'  size=$(wc -c < {LOG_PREFIX}-logs.tgz | tr -d " ")\n'
        f'  if [ "$size" -le {LIMIT_BYTES} ]; then\n'
        f'    echo; echo "{BEGIN} $size"; base64 {LOG_PREFIX}-logs.tgz; echo "{END}"\n'
        "  else\n"
        f'    echo; echo "{SKIPPED} $size bytes > {LIMIT_BYTES}"\n'
        "  fi\n"
        "fi\n"
        'exit "$rc"\n'
    )


def split_log(log: str) -> tuple[str, str | None, str]:
    """(fio's own output, the base64 section or None, a note when it was skipped/bad)."""
    begin = log.rfind(f"\n{BEGIN} ")
    if begin < 0:
        skipped = log.rfind(f"\n{SKIPPED} ")
        if skipped < 0:
            return log, None, ""
        line_end = log.find("\n", skipped + 1)
        note = log[skipped + 1 : line_end if line_end >= 0 else None].strip()
        return log[:skipped], None, f"time series not returned: {note.removeprefix(SKIPPED)}"
    end = log.find(f"\n{END}", begin + 1)
    if end < 0:
        return log[:begin], None, "time series not returned: the log section is truncated"
    header_end = log.find("\n", begin + 1)
    body = log[header_end + 1 : end]
    return log[:begin] + log[end + len(END) + 1 :], body, ""


def unpack(body: str, directory: Path) -> list[Path]:
    """Write the logs of a section into ``directory``; the files written."""
    if len(body) > LIMIT_BYTES * 4 // 3 + 4096:
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
