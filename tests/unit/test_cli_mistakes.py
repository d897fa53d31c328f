"""User mistakes at the command line (issue 19): one line on stderr and an exit status,
never a traceback, and never a file the command did not write removed.

Each test is a reproduction from the issue that failed before the fix.
"""

from __future__ import annotations

import json

import pytest

from pytest_fioloadgen.cli import main
from pytest_fioloadgen.report.site import MANIFEST, SITE_FORMAT, run_data_path
from pytest_fioloadgen.store import open_store
from tests.unit.test_report_site import run

LONG = "a" * 300  # a path component longer than any file system takes (255 bytes)


@pytest.fixture
def store_uri(tmp_path):
    uri = str(tmp_path / "history.db")
    store = open_store(uri)
    for index in range(3):
        store.record(run(f"a{index}", "a" * 16, 100.0 + index))
    store.close()
    return uri


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("fioloadgen: error: ")
    return lines[0]


# -- report --out: only its own files ---------------------------------------------------


def test_report_refuses_a_directory_with_files_it_did_not_write(store_uri, tmp_path, capsys):
    out = tmp_path / "thesis"
    (out / "runs").mkdir(parents=True)
    (out / "keys").mkdir()
    (out / "runs" / "thesis.txt").write_text("four years of work")
    (out / "keys" / "id_backup").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert main(["report", "--store", store_uri, "--out", str(out)]) == 2
    line = one_line_error(capsys)
    assert f"report output {out} is not empty" in line and MANIFEST in line
    assert (out / "runs" / "thesis.txt").read_text() == "four years of work"
    assert (out / "keys" / "id_backup").exists()
    assert sorted(p.name for p in out.rglob("*")) == ["id_backup", "keys", "runs", "thesis.txt"]


def test_report_out_empty_is_an_error_not_the_working_directory(
    store_uri, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["report", "--store", store_uri, "--out", ""]) == 2
    assert "--out is empty" in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_report_into_a_path_that_cannot_be_a_directory_is_one_line(store_uri, capsys):
    assert main(["report", "--store", store_uri, "--out", "/proc/self/x"]) == 2
    assert "report output /proc/self/x cannot be made a directory" in one_line_error(capsys)


def test_a_rebuild_removes_the_sites_files_and_nothing_else(store_uri, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["report", "--store", store_uri, "--out", str(out)]) == 0
    mine = out / "runs" / "notes.txt"
    mine.write_text("mine")
    (out / "keys" / "todo.md").write_text("mine too")
    (out / "README").write_text("and this")
    manifest = json.loads((out / MANIFEST).read_text())
    assert run_data_path("a0") in manifest["files"] and "index.html" in manifest["files"]
    # Another store's site is rebuilt (every file of the old site goes), --full too.
    other = str(tmp_path / "other.db")
    store = open_store(other)
    store.record(run("z0", "c" * 16, 1.0))
    store.close()
    assert main(["report", "--store", other, "--out", str(out)]) == 0
    assert not (out / run_data_path("a0")).exists()
    assert (out / run_data_path("z0")).exists()
    assert main(["report", "--store", other, "--out", str(out), "--full"]) == 0
    assert mine.read_text() == "mine"
    assert (out / "keys" / "todo.md").read_text() == "mine too"
    assert (out / "README").read_text() == "and this"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"format": FORMAT, "store": "x", "inputs": ""}', "no keys"),  # was KeyError
        ('{"format": FORMAT, "store": "x", "inputs": "", "keys": {"k": 5}}', "key 'k'"),
        ('{"format": FORMAT, "store": "x", "inputs": "", "keys": {}, "files": ["../x"]}', "inside"),
        ('{"format": "3"}', "no format number"),
    ],
)
def test_a_damaged_manifest_is_one_line_and_nothing_is_removed(
    store_uri, tmp_path, capsys, text, problem
):
    out = tmp_path / "site"
    assert main(["report", "--store", store_uri, "--out", str(out)]) == 0
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.name != MANIFEST)
    # With the store's URI in it, the shapes past the first checks are read too.
    # (FORMAT: the site format of this version; another one's manifest is simply rebuilt.)
    text = text.replace("FORMAT", str(SITE_FORMAT))
    (out / MANIFEST).write_text(text.replace('"x"', json.dumps(f"sqlite://{store_uri}")))
    assert main(["report", "--store", store_uri, "--out", str(out), "--full"]) == 2
    line = one_line_error(capsys)
    assert f"{out / MANIFEST} is damaged" in line and problem in line
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.name != MANIFEST) == files


def test_a_build_stopped_half_way_leaves_a_site_the_next_build_takes(
    store_uri, tmp_path, monkeypatch
):
    """The first build claims its directory (the manifest) before it writes anything else:
    the directory it leaves is the site's, not a stranger's the next build refuses."""
    from pytest_fioloadgen.report import site

    out = tmp_path / "site"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(site, "key_page", interrupted)
        with pytest.raises(KeyboardInterrupt):
            site.build_site(open_store(store_uri), out)
    assert (out / MANIFEST).exists() and (out / "run.html").exists()
    summary = site.build_site(open_store(store_uri), out)
    assert (summary.keys, summary.runs) == (1, 3)


# -- stores with impossible paths ---------------------------------------------------------


@pytest.mark.parametrize("command", [["sessions"], ["compare", "latest", "previous"]])
def test_a_store_path_component_over_255_characters_is_one_line(tmp_path, capsys, command):
    store = tmp_path / LONG / "history.db"
    assert main([*command, "--store", str(store)]) == 2
    assert "File name too long" in one_line_error(capsys)


# -- db import of a file ----------------------------------------------------------------


def test_db_import_of_deeply_nested_json_is_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    # The file is read before any server is asked: no server is needed to show it.
    assert main(["db", "import", str(deep), "--url", "http://127.0.0.1:9"]) == 2
    assert "nests JSON too deeply" in one_line_error(capsys)


def test_db_import_of_a_directory_is_one_line(tmp_path, capsys):
    assert main(["db", "import", str(tmp_path), "--url", "http://127.0.0.1:9"]) == 2
    assert f"cannot read export {tmp_path}" in one_line_error(capsys)


# -- what reaches the terminal ----------------------------------------------------------


def test_profile_ls_shows_a_comments_terminal_escapes_as_text(tmp_path, capsys):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "evil.fio").write_text(
        "# \x1b]0;pwned\x07\x1b[2J\x1b[1;1Hall good \u202egnp.exe\r\n"
        "[global]\nioengine=psync\nsize=4m\n[j]\nrw=read\n"
    )
    assert main(["profile", "ls", "--dir", str(profiles)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\r" not in out
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out and "\\u202egnp.exe" in out


def test_printable_keeps_text_newlines_and_tabs():
    from pytest_fioloadgen.cli.common import printable

    assert printable("a\tb\nc ü ✓") == "a\tb\nc ü ✓"
    assert printable("\x00\x1b\x7f\x9b\u2066") == "\\x00\\x1b\\x7f\\x9b\\u2066"
