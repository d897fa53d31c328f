"""What the API shows of a run: per-worker figures and the latency distribution, derived
from the stored fio document with the package's own result parser (merged histograms,
never averaged percentiles)."""

from __future__ import annotations

from typing import Any

from pytest_fioloadgen.report.run_document import derived
from pytest_fioloadgen.store.base import RunRecord


def run_detail(run: RunRecord) -> dict[str, Any]:
    """Per-worker metrics and latency histograms of a run (empty when it has no output),
    derived as the static site's run pages derive them (report.run_document)."""
    detail = derived(run.raw)
    return {
        "per_worker": detail["per_worker"],
        "latency": detail["latency"],
        "fio_version": detail.get("fio_version", ""),
    }
