"""The package's own error hierarchy.

Every error a user can cause carries a one-line message that names the value and where it
came from; the pytest boundary turns them into usage errors or short test failures, the CLI
into one line on stderr and an exit status.
"""

from __future__ import annotations


class FioLoadgenError(Exception):
    """Base of every error raised on purpose by pytest-fioloadgen."""


class ConfigError(FioLoadgenError):
    """A setting (CLI option, FIO_* variable, ini key) or a config file is wrong."""


class ThresholdError(ConfigError):
    """The thresholds file or an inline threshold is malformed."""


class ProfileError(FioLoadgenError):
    """A fio job profile cannot be read, is invalid, or breaks the safety policy."""


class BackendError(FioLoadgenError):
    """Workers could not be deployed, reached or torn down.

    ``setting`` names the setting the problem comes from (e.g. "hosts", "workers") when it
    is a configuration problem, so the pytest boundary can report it as a usage error
    naming the option and where its value came from.
    """

    def __init__(self, message: str, *, setting: str | None = None):
        self.setting = setting
        super().__init__(message)


class FioRunError(FioLoadgenError):
    """fio failed: non-zero exit, a worker missing from the output, or a timeout."""

    def __init__(self, message: str, *, stderr_tail: str = "", worker: str | None = None):
        self.stderr_tail = stderr_tail
        self.worker = worker
        full = message
        if stderr_tail:
            full = f"{message}; fio stderr: {stderr_tail}"
        super().__init__(full)


class ResultError(FioLoadgenError):
    """fio's output could not be understood as a result."""


class StoreError(FioLoadgenError):
    """The history store cannot be opened, read or written."""


class FaultError(FioLoadgenError):
    """A fault could not be set up, injected or undone (a bad spec, no cgroup controller,
    an undo that failed)."""


class SourceError(FioLoadgenError):
    """A source of runs to import (a FIOLoadGen database, a fio output file) cannot be read
    or holds something that is not a run."""
