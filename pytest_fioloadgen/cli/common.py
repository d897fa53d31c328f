"""Exit statuses and small helpers shared by the command modules."""

from __future__ import annotations

EXIT_OK = 0
#: A check failed (a profile refused, a regression found): the command itself worked.
EXIT_CHECK_FAILED = 1
#: The user asked for something impossible (bad argument, unknown name, unreachable store).
EXIT_USAGE = 2
#: The results server cannot be reached (or did not answer in time).
EXIT_UNREACHABLE = 3
#: The results server refused the token (missing or wrong).
EXIT_AUTH = 4
