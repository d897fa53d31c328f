"""Repeatability lines of the terminal summary: each repeated case's CV per gated metric,
as stored with its last run's verdict (evidence "variation"), and its limit."""

from __future__ import annotations

from collections.abc import Sequence

from ..cases import CaseOutcome


def repeatability_lines(outcomes: Sequence[CaseOutcome]) -> list[str]:
    """One line per case whose verdict carries a variation (its last repeat)."""
    lines = []
    for outcome in outcomes:
        found = outcome.record.evidence.get("variation") or []
        if not found:
            continue
        cells = ", ".join(
            f"{item['metric']} {item['cv_pct']:.1f}%"
            f"{' > ' if item['cv_pct'] > item['limit_pct'] else ' <= '}{item['limit_pct']:g}%"
            for item in found
        )
        name = outcome.case.id.rsplit("-r", 1)[0] if outcome.case.repeats > 1 else outcome.case.id
        samples = max(int(item["samples"]) for item in found)
        lines.append(f"CV {name} over {samples} runs: {cells} [{outcome.status}]")
    return lines
