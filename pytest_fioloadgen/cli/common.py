"""Exit statuses and the helpers every command module shares: what reaches the terminal
and how a user's files are read."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ..exceptions import FioLoadgenError

EXIT_OK = 0
#: A check failed (a profile refused, a regression found): the command itself worked.
EXIT_CHECK_FAILED = 1
#: The user asked for something impossible (bad argument, unknown name, unreachable store).
EXIT_USAGE = 2
#: The results server cannot be reached (or did not answer in time).
EXIT_UNREACHABLE = 3
#: The results server refused the token (missing or wrong).
EXIT_AUTH = 4

#: Characters a terminal acts on instead of showing: C0 and C1 controls (escape
#: sequences change titles, clear screens, fake prompts) and the bidirectional overrides
#: that reorder what is shown. Newlines and tabs are kept.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``)."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


class PrintableStream:
    """A text stream that writes ``printable(text)``: profiles and stores hold text from
    anyone (a profile's comment, a run's labels), and a terminal must only show it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def unfiltered(stream: TextIO) -> TextIO:
    """The stream under a PrintableStream: for the CLI's own control sequences (a
    progress bar's carriage return), never for text that came from profiles or stores."""
    return stream._stream if isinstance(stream, PrintableStream) else stream


@contextlib.contextmanager
def printable_output() -> Iterator[None]:
    """Everything the command prints, on stdout and stderr, goes through printable()."""
    saved = sys.stdout, sys.stderr
    sys.stdout = PrintableStream(saved[0])
    sys.stderr = PrintableStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def os_error_line(err: OSError) -> str:
    """An OSError as one line naming its file (a very long name shortened)."""
    reason = err.strerror or str(err)
    if err.filename is None:
        return reason
    name = os.fsdecode(err.filename)
    if len(name) > 120:
        name = f"{name[:60]}...{name[-40:]} ({len(name)} characters)"
    return f"{name}: {reason}"


def read_json_file(path: Path, what: str) -> Any:
    """The JSON document in ``path`` (a file the user named); FioLoadgenError otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise FioLoadgenError(f"cannot read {what} {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise FioLoadgenError(f"{what} {path} is not UTF-8 text ({err.reason})") from err
    try:
        return json.loads(text)
    except ValueError as err:
        raise FioLoadgenError(f"{what} {path} is not JSON ({err})") from err
    except RecursionError as err:
        # json recurses per level: a deep enough document exhausts the stack.
        raise FioLoadgenError(f"{what} {path} nests JSON too deeply to read") from err
