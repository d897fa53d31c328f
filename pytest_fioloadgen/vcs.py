"""What the project's version control says about a session: its git commit and branch,
stored as labels with every run."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_labels(rootdir: Path) -> dict[str, str]:
    """git commit and branch of the rootdir, when it is a git work tree."""
    labels: dict[str, str] = {}
    for label, argv in (
        ("git_commit", ["git", "rev-parse", "HEAD"]),
        ("git_branch", ["git", "rev-parse", "--abbrev-ref", "HEAD"]),
    ):
        try:
            completed = subprocess.run(
                argv, cwd=rootdir, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return labels
        if completed.returncode == 0 and completed.stdout.strip():
            labels[label] = completed.stdout.strip()
    return labels
