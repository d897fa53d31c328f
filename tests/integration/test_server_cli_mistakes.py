"""User mistakes with the results server's commands (issue 19): one line and an exit
status, and an impossible run id never enters the history (after which the site could no
longer be built)."""

from __future__ import annotations

import json

import pytest
import requests

from pytest_fioloadgen.cli import main
from pytest_fioloadgen.store.wire import run_to_json
from tests.unit.test_cli_mistakes import one_line_error
from tests.unit.test_store_contract import make_run


@pytest.fixture
def live(start_server, monkeypatch):
    server = start_server()
    monkeypatch.setenv("FIO_API_URL", server.url)
    monkeypatch.setenv("FIO_API_TOKEN", server.token)
    server.server.ctx.store.record(make_run("kept"))
    return server


def test_db_export_into_a_directory_is_one_line(live, tmp_path, capsys):
    assert main(["db", "export", "--out", str(tmp_path)]) == 2
    assert f"{tmp_path}: Is a directory" in one_line_error(capsys)


def test_an_import_with_a_100000_character_run_id_is_refused_and_the_site_still_builds(
    live, tmp_path, capsys
):
    document = {
        "format": "fioloadgen-runs",
        "version": 1,
        "runs": [run_to_json(make_run("ok-1")), run_to_json(make_run("r" * 100_000))],
    }
    export = tmp_path / "export.json"
    export.write_text(json.dumps(document))
    assert main(["db", "import", str(export)]) == 2
    line = one_line_error(capsys)
    assert "runs[1]: run id 'rrrrrrrr" in line and "(100000 characters) is not a run id" in line
    assert len(line) < 400
    assert live.server.ctx.store.run_ids() == ["kept"]  # nothing of the document went in
    site = tmp_path / "site"
    assert main(["report", "--store", str(live.store_path), "--out", str(site)]) == 0


def test_recording_a_run_with_an_impossible_id_is_400(live):
    document = run_to_json(make_run("a/../b"))
    answer = requests.post(live.url + "/api/v1/runs", json=document, headers=live.auth, timeout=30)
    assert answer.status_code == 400
    assert "is not a run id" in answer.json()["message"]
