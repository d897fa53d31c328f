"""Pieces of the results-server client: the progress bar, URL and token resolution."""

from __future__ import annotations

import pytest

from pytest_fioloadgen.apiclient import ApiError, resolve_token, resolve_url
from pytest_fioloadgen.cli.common import printable_output
from pytest_fioloadgen.cli.remote import progress_line, wait_for


def test_progress_bar_shows_elapsed_against_expected_runtime():
    job = {"status": "running", "started": 100.0, "expected_runtime": 30.0}
    assert progress_line(job, 115.0, width=10) == "[#####.....] 15s / 30s running"
    assert progress_line(job, 200.0, width=10) == "[##########] 100s / 30s running"
    queued = {"status": "queued", "started": None, "expected_runtime": 30.0}
    assert progress_line(queued, 115.0, width=4) == "[....] queued"
    unknown = {"status": "running", "started": 100.0, "expected_runtime": 0}
    assert progress_line(unknown, 101.0, width=4) == "[....] 1s / ? running"


def test_wait_draws_its_bar_in_place_on_a_terminal(monkeypatch):
    """`job run --wait`: the bar's carriage return reaches the terminal as one (the CLI's
    printable filter once showed it as the text \\r), what the server said stays filtered."""
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(
        [
            {"status": "running\x1b[31m", "started": 1.0, "expected_runtime": 30},
            {"status": "complete"},
        ]
    )

    class Server:
        def get(self, path):
            return {"data": next(answers)}

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with printable_output():
        assert wait_for(Server(), "j1", poll_s=0)["status"] == "complete"
    drawn = terminal.getvalue()
    assert drawn.startswith("\r[") and drawn.endswith("\r\x1b[K")
    assert "\\r" not in drawn and "\x1b[31m" not in drawn


def test_url_comes_from_the_option_the_environment_or_the_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("FIO_API_URL", raising=False)
    with pytest.raises(ApiError, match="no results server given"):
        resolve_url(None)
    (tmp_path / "fioloadgen").mkdir()
    (tmp_path / "fioloadgen" / "client.toml").write_text(
        'url = "http://cfg:1"\ntoken = "from-config"\n'
    )
    assert resolve_url(None) == "http://cfg:1"
    monkeypatch.setenv("FIO_API_URL", "http://env:2/")
    assert resolve_url(None) == "http://env:2"
    assert resolve_url("http://opt:3") == "http://opt:3"
    with pytest.raises(ApiError, match="must look like"):
        resolve_url("ftp://x")
    with pytest.raises(ApiError, match="carries credentials") as info:
        resolve_url("http://secret-token:@host:8080")
    assert "secret-token" not in str(info.value)


def test_token_from_environment_file_or_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("FIO_API_TOKEN", raising=False)
    monkeypatch.delenv("FIO_API_TOKEN_FILE", raising=False)
    assert resolve_token() is None
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.setenv("FIO_API_TOKEN_FILE", str(token_file))
    assert resolve_token() == "from-file"
    monkeypatch.setenv("FIO_API_TOKEN", "from-env")
    assert resolve_token() == "from-env"
