"""The static history site: ``fioloadgen report --store URI --out DIR``.

Plain files that work from ``file://`` with no server and no network:

* ``index.html``: the overview (report/overview.py, drawn by ``assets/overview.js`` as
  the results server's UI draws its home): the latest sessions, what regressed, shifted
  or changed level lately, and every history key with its IOPS sparkline, last value,
  delta against its baseline and latest verdict;
* ``keys/<key>.html``: the key page (report/key_history.py, drawn by
  ``assets/keypage.js`` as the UI draws its key pages): the trend of any metric of the
  key's runs (a picker; the metric is in the page's hash) with its baseline band,
  thresholds and the change points of the key's whole history (its cached summaries,
  pytest_fioloadgen.verdicts.summaries), each point a link to its run, and the runs
  listed to tick two or more for the compare page;
* ``run.html#<run id>``: one page for every run; it loads that run's data file
  ``runs/<shard>/<name>.js`` (report/run_document.py: the stored record and what is
  derived from its fio document) and renders it with ``assets/run.js``.

Data travels in ``<script>`` elements (``type="application/json"`` blocks, and the run
data files, which call ``fioloadgenRun(...)``): browsers do not let a ``file://`` page
fetch files, but they run scripts from next to it.

Builds are incremental: ``.fioloadgen-site.json`` remembers each key's version
(store.history_index) and runs, so a build writes only the pages of keys with new or
deleted runs, the data of new runs and the index. Anything else (another store, another
site format, ``full=True``) rebuilds everything; changed thresholds rewrite key pages.

A build never removes a file it did not write: the manifest lists every file of the
site, and only those are removed (a rebuild, a deleted run). A directory without a
manifest must be empty (or new): the first build claims it by writing the manifest
before anything else. A manifest that cannot be read stops the build, since nothing
then says which files are the site's.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import multiprocessing
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..exceptions import FioLoadgenError
from ..store import open_store
from ..store.base import RunRecord, Store
from ..store.history_index import key_versions
from ..verdicts.thresholds import Thresholds
from .html import page_styles
from .key_history import key_title, site_key_document
from .overview import KeyRow, SessionCounts, cached_key_row, latest_sessions, overview_document
from .run_document import RUN_DOCUMENT_FORMAT, run_document

ASSETS = (
    "site.css",
    "run.css",
    "keypage.js",
    "run.js",
    "charts.js",
    "compare.js",
    "overview.js",
    "overview.css",
)
CHARTJS = "chart.umd.min.js"
MANIFEST = ".fioloadgen-site.json"
#: The directories a site makes: removed by a rebuild only when nothing else is left in
#: them (deepest first).
SITE_DIRECTORIES = ("assets", "keys", "runs")
#: Bumped when pages or data files change shape: every site is then rebuilt once.
#: 5: run documents carry the run's flags and sweep (report/run_document.py).
#: 6: key pages embed every metric of the key (report/key_history.py).
#: 7: pages link run.css (the run page's styles shared with the UI).
SITE_FORMAT = 7
#: Runs to write before the work is spread over processes (their start costs a second).
PARALLEL_RUNS = 2000
#: Page name of the runs recorded without a history key.
UNKEYED = "unkeyed"
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class SiteSummary:
    """What the site holds and what a build wrote."""

    out: Path
    keys: int
    runs: int
    seconds: float
    keys_written: int = 0
    runs_written: int = 0
    full: bool = True


def file_name(identifier: str) -> str:
    """A file name for a key or run id, the same for every id and unique to it.

    Plain ids (hex digests, uuids) are used as they are; anything else becomes ``~`` and
    the hex of its UTF-8 bytes (no dots, slashes or case games). assets/run.js does the
    same for run ids.
    """
    if _PLAIN_NAME.match(identifier):
        return identifier
    return "~" + identifier.encode("utf-8").hex()


def run_data_path(run_id: str) -> str:
    """Where a run's data file lives, relative to the site: ``runs/<shard>/<name>.js``.

    Shards keep directories to a few hundred files even with 100k runs.
    """
    name = file_name(run_id)
    shard = (name.lstrip("~")[:2] or "_").ljust(2, "_")
    return f"runs/{shard}/{name}.js"


def run_link(run_id: str, *, up: str = "") -> str:
    return f"{up}run.html#{quote(run_id, safe='')}"


def key_page_name(history_key: str) -> str:
    return f"keys/{file_name(history_key or UNKEYED)}.html"


def _json_block(element_id: str, data: Any) -> str:
    # "</" inside a script element would end it early; JSON allows "<\/".
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def _page(title: str, body: str, *, depth: int, scripts: Sequence[str] = ()) -> str:
    up = "../" * depth
    tags = "".join(f'<script src="{up}assets/{name}"></script>' for name in scripts)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{up}assets/site.css">'
        f'<link rel="stylesheet" href="{up}assets/overview.css">'
        f'<link rel="stylesheet" href="{up}assets/run.css">{page_styles()}</head>'
        f'<body><nav><a href="{up}index.html">fioloadgen history</a></nav>{body}{tags}'
        "</body></html>"
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def title_of(run: RunRecord) -> str:
    """A key's title (its newest run's test, profile, workers and target)."""
    return key_title(run.test_id, run.profile_name, run.workers, run.target)


def index_row(store: Store, history_key: str, version: int) -> dict[str, Any]:
    """What the index shows of a key (kept in the manifest for unchanged keys): its
    overview row (report.overview, from the key's cached summaries) and its page."""
    row = cached_key_row(store, history_key, version)
    if row is None:
        raise FioLoadgenError(f"history key {history_key!r} lost its runs during the build")
    return {**row.to_json(), "page": key_page_name(history_key)}


def index_page(rows: Sequence[Mapping[str, Any]], sessions: Sequence[SessionCounts]) -> str:
    """The overview (report.overview) as the site's home: assets/overview.js draws it
    from the JSON block, as the results server's UI draws its home."""
    pages = {row["history_key"]: row["page"] for row in rows}
    document = overview_document([KeyRow.from_json(row) for row in rows], sessions, now=time.time())
    for row in document["rows"]:
        row["page"] = pages[row["history_key"]]
    for events in document["recent"].values():
        for event in events:
            event["page"] = pages[event["history_key"]]
    body = (
        '<main id="overview"><noscript><p>The overview is drawn by JavaScript; every key '
        "has its own page under keys/.</p></noscript></main>"
        + _json_block("overview-data", document)
    )
    return _page("fio benchmark history", body, depth=0, scripts=("charts.js", "overview.js"))


def key_page(
    store: Store,
    history_key: str,
    runs: Sequence[RunRecord],
    thresholds: Thresholds | None,
    *,
    version: int | None,
) -> str:
    """A key's page (``runs`` oldest first): assets/keypage.js draws the trend of the
    metric in the page's hash from the key's document (report.key_history), as the
    results server's UI draws its key pages."""
    document = site_key_document(store, history_key, runs, version=version, thresholds=thresholds)
    links = "".join(
        f'<li><a href="{escape(run_link(run.run_id, up="../"))}">{_when(run.started_at)}</a></li>'
        for run in reversed(runs)
    )
    body = (
        f'<main id="key"><h1>{escape(document["title"])}</h1><noscript><p>The trend is '
        f"drawn by JavaScript; the runs of this key:</p><ul>{links}</ul></noscript></main>"
        + _json_block("key-data", document)
    )
    return _page(document["title"], body, depth=1, scripts=(CHARTJS, "charts.js", "keypage.js"))


def run_page() -> str:
    """The one page that shows any run: assets/run.js fills it from the run's data."""
    body = (
        '<main id="run" data-format="' + str(RUN_DOCUMENT_FORMAT) + '">'
        "<p>Loading the run… (this page needs JavaScript)</p></main>"
    )
    return _page("fio run", body, depth=0, scripts=(CHARTJS, "charts.js", "run.js"))


def compare_page() -> str:
    """Runs side by side (compare.html#<id>,<id>...): assets/compare.js loads each run's
    data file as run.html does and shows metrics with deltas and overlaid charts."""
    body = (
        '<main id="compare" data-format="' + str(RUN_DOCUMENT_FORMAT) + '">'
        "<p>Loading the runs… (this page needs JavaScript)</p></main>"
    )
    return _page(
        "compare runs", body, depth=0, scripts=(CHARTJS, "charts.js", "run.js", "compare.js")
    )


def run_data_file(document: Mapping[str, Any]) -> str:
    # A script, not JSON: file:// pages may load scripts but not fetch data.
    return "fioloadgenRun(" + json.dumps(document, separators=(",", ":")) + ");\n"


def copy_assets(out: Path) -> list[str]:
    """Copy the site's scripts and styles into ``out/assets``; the paths written."""
    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    package = resources.files("pytest_fioloadgen") / "assets"
    for name in ASSETS:
        (assets / name).write_bytes((package / name).read_bytes())
    vendored = package / "vendor" / "chartjs"
    (assets / CHARTJS).write_bytes((vendored / CHARTJS).read_bytes())
    (assets / "chartjs-LICENSE.md").write_bytes((vendored / "LICENSE.md").read_bytes())
    return [f"assets/{name}" for name in (*ASSETS, CHARTJS, "chartjs-LICENSE.md")]


# -- building ----------------------------------------------------------------------------


def _inputs_digest(thresholds: Thresholds | None) -> str:
    """What key pages depend on besides the runs: a change rewrites every key page."""
    inputs = {
        "thresholds": None if thresholds is None else [thresholds.source, thresholds.document],
    }
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of the site in ``out``, None when there is none.

    FioLoadgenError when it cannot be read or is not a manifest: it is what says which
    files are the site's, so without it no build may remove anything.
    """
    path = out / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        problem = getattr(err, "strerror", None) or str(err)
        raise _damaged(path, problem) from err
    try:
        manifest = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _damaged(path, f"not JSON: {str(err)[:80]}") from err
    problem = _manifest_problem(manifest)
    if problem is not None:
        raise _damaged(path, problem)
    return dict(manifest)


def _damaged(path: Path, problem: str) -> FioLoadgenError:
    return FioLoadgenError(
        f"{path} is damaged ({problem}); it lists the files of the site, so nothing is "
        f"built or removed while it is unreadable: delete {path.parent} (or the site's "
        "files and this manifest) and build the site again"
    )


def _manifest_problem(manifest: Any) -> str | None:
    """What makes ``manifest`` unusable, or None (the shapes build_site relies on)."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    if not isinstance(manifest.get("format"), int) or isinstance(manifest["format"], bool):
        return "no format number"
    if manifest["format"] != SITE_FORMAT:
        # Another version's site: rebuilt, removing only what its manifest lists.
        return None
    if not isinstance(manifest.get("store"), str) or not isinstance(manifest.get("inputs"), str):
        return "no store or inputs"
    keys = manifest.get("keys")
    if not isinstance(keys, dict):
        return "no keys"
    for key, entry in keys.items():
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("version"), int)
            and isinstance(entry.get("runs"), list)
            and all(isinstance(run_id, str) for run_id in entry["runs"])
            and isinstance(entry.get("row"), dict)
        ):
            return f"key {str(key)[:40]!r} is not a version, runs and an index row"
    files = manifest.get("files", [])
    if not isinstance(files, list) or not all(_inside(name) for name in files):
        return "its files are not paths inside the site"
    return None


def _inside(name: Any) -> bool:
    """Whether ``name`` is a relative path that stays inside the site directory."""
    if not isinstance(name, str) or not name or "\x00" in name:
        return False
    parts = Path(name).parts
    return not Path(name).is_absolute() and ".." not in parts and "." not in name.split("/")


def _listed_files(manifest: Mapping[str, Any]) -> set[str]:
    """Every file a manifest says the site wrote. Manifests from before the list was kept
    (and other formats) give what their keys and runs name, and the fixed pages."""
    files = manifest.get("files")
    if isinstance(files, list) and all(_inside(name) for name in files):
        return set(files)
    listed = {"index.html", "run.html", "compare.html", *(f"assets/{n}" for n in ASSETS)}
    listed |= {f"assets/{CHARTJS}", "assets/chartjs-LICENSE.md"}
    keys = manifest.get("keys")
    for key, entry in keys.items() if isinstance(keys, dict) else ():
        listed.add(key_page_name(str(key)))
        runs = entry.get("runs") if isinstance(entry, dict) else None
        for run_id in runs if isinstance(runs, list) else ():
            listed.add(run_data_path(str(run_id)))
    return {name for name in listed if _inside(name)}


def _remove_site_files(out: Path, files: Iterable[str]) -> None:
    """Remove the files a site wrote, then its directories left empty: nothing else."""
    for name in files:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            continue  # someone put a directory where the site had a file: not ours
        path.unlink(missing_ok=True)
    for top in SITE_DIRECTORIES:
        root = out / top
        if not root.is_dir() or root.is_symlink():
            continue
        for directory in sorted(root.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty: something not ours is in it
                directory.rmdir()


def _save_manifest(out: Path, manifest: Mapping[str, Any]) -> None:
    # Written last and atomically: a build that stops half way leaves the previous
    # manifest, and the next build redoes whatever it had not finished.
    handle, temporary = tempfile.mkstemp(dir=out, prefix=".manifest.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(manifest, stream, separators=(",", ":"))
    os.replace(temporary, out / MANIFEST)


@dataclass(frozen=True)
class _RunJob:
    """The runs of one key whose data files a build writes."""

    history_key: str
    title: str
    run_ids: tuple[str, ...]


def _write_run_files(store: Store, out: Path, jobs: Sequence[_RunJob]) -> int:
    written = 0
    # A swept run's page draws its siblings' response curve: its session's runs (without
    # their raw documents), read once per session.
    sessions: dict[str, list[RunRecord]] = {}
    for job in jobs:
        page = key_page_name(job.history_key)
        # One run at a time: only one raw fio document is in memory, whatever the key.
        for run_id in job.run_ids:
            run = store.get(run_id)
            if run.sweep and run.session_id not in sessions:
                sessions[run.session_id] = store.query(session_id=run.session_id)
            document = run_document(
                run,
                key_title=job.title,
                key_page=page,
                session_runs=sessions.get(run.session_id, ()),
            )
            _write(out / run_data_path(run.run_id), run_data_file(document))
            written += 1
    return written


def _sibling_jobs(
    store: Store, sessions: Iterable[str], queued: Sequence[_RunJob], known: Mapping[str, Any]
) -> list[_RunJob]:
    """The swept runs of ``sessions`` whose data files are not being written already: a
    new sibling changes their response curve."""
    writing = {run_id for job in queued for run_id in job.run_ids}
    by_key: dict[str, list[str]] = {}
    for session in sorted(sessions):
        for run in store.query(session_id=session):
            if run.sweep and run.run_id not in writing and run.history_key in known:
                by_key.setdefault(run.history_key, []).append(run.run_id)
    return [
        _RunJob(key, title_of(store.query(history_key=key, limit=1)[0]), tuple(run_ids))
        for key, run_ids in sorted(by_key.items())
    ]


def _write_run_files_in_process(store_uri: str, out: str, jobs: Sequence[_RunJob]) -> int:
    """One worker process's share: its own store connection, its own keys."""
    store = open_store(store_uri)
    try:
        return _write_run_files(store, Path(out), jobs)
    finally:
        store.close()


def _write_all_run_files(
    store: Store, out: Path, jobs: list[_RunJob], processes: int | None
) -> int:
    total = sum(len(job.run_ids) for job in jobs)
    workers = processes if processes is not None else (os.cpu_count() or 1)
    if workers <= 1 or (processes is None and total < PARALLEL_RUNS):
        return _write_run_files(store, out, jobs)
    # Deriving a run's document (json+ parsing) is CPU-bound: spread keys over processes,
    # largest first so the shares come out even.
    shares: list[list[_RunJob]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for job in sorted(jobs, key=lambda job: len(job.run_ids), reverse=True):
        lightest = loads.index(min(loads))
        shares[lightest].append(job)
        loads[lightest] += len(job.run_ids)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [
            pool.submit(_write_run_files_in_process, store.uri, str(out), share)
            for share in shares
            if share
        ]
        return sum(future.result() for future in futures)


def build_site(
    store: Store,
    out: Path,
    *,
    thresholds: Thresholds | None = None,
    full: bool = False,
    processes: int | None = None,
) -> SiteSummary:
    """Bring the site in ``out`` up to date with ``store`` (see the module doc).

    Change points and baseline bands are the keys' cached summaries.
    ``processes`` sets how many processes write run data (default: one per CPU when
    there are many runs to write).
    """
    started = time.monotonic()
    if out.exists() and not out.is_dir():
        raise FioLoadgenError(f"report output {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FioLoadgenError(
            f"report output {out} cannot be made a directory: {err.strerror or err}"
        ) from err
    previous = _read_manifest(out)
    if previous is None and any(out.iterdir()):
        raise FioLoadgenError(
            f"report output {out} is not empty and holds no site of fioloadgen report (no "
            f"{MANIFEST}): a build may remove its own files later, so it goes to a new or "
            "empty directory"
        )
    reusable = (
        previous is not None
        and not full
        and previous["format"] == SITE_FORMAT
        and previous.get("store") == store.uri
    )
    files: set[str]
    if reusable and previous is not None:
        manifest = previous
        files = _listed_files(previous)
    else:
        if previous is not None:
            _remove_site_files(out, _listed_files(previous))
        manifest = {"format": SITE_FORMAT, "store": store.uri, "inputs": "", "keys": {}}
        files = set()
        # The directory is the site's from now on, even if this build stops half way.
        _save_manifest(out, {**manifest, "files": []})
    rebuilt = not reusable

    def write(name: str, text: str) -> None:
        _write(out / name, text)
        files.add(name)

    def remove(name: str) -> None:
        (out / name).unlink(missing_ok=True)
        files.discard(name)

    inputs = _inputs_digest(thresholds)
    rewrite_all_keys = manifest["inputs"] != inputs
    known: dict[str, Any] = manifest["keys"]
    versions = key_versions(store)
    files.update(copy_assets(out))
    write("run.html", run_page())
    write("compare.html", compare_page())

    for gone in set(known) - set(versions):
        for run_id in known.pop(gone)["runs"]:
            remove(run_data_path(run_id))
        remove(key_page_name(gone))

    jobs: list[_RunJob] = []
    keys_written = 0
    # Sessions with a new swept run: the pages of its siblings (other keys) draw their
    # response curve with it, so they are written again too.
    swept_sessions: set[str] = set()
    for key, version in sorted(versions.items()):
        before = known.get(key)
        if before is not None and before["version"] == version and not rewrite_all_keys:
            continue
        runs = store.query(history_key=key)
        runs.reverse()  # oldest first
        if not runs:
            known.pop(key, None)
            continue
        write(key_page_name(key), key_page(store, key, runs, thresholds, version=version))
        keys_written += 1
        shown = set(before["runs"]) if before is not None else set()
        current = [run.run_id for run in runs]
        for run_id in shown - set(current):
            remove(run_data_path(run_id))
        new = [run_id for run_id in current if run_id not in shown]
        if new:
            jobs.append(_RunJob(key, title_of(runs[-1]), tuple(new)))
            fresh = set(new)
            swept_sessions |= {r.session_id for r in runs if r.run_id in fresh and r.sweep}
        known[key] = {"version": version, "runs": current, "row": index_row(store, key, version)}
    jobs += _sibling_jobs(store, swept_sessions, jobs, known)
    files.update(run_data_path(run_id) for job in jobs for run_id in job.run_ids)
    runs_written = _write_all_run_files(store, out, jobs, processes)
    rows = [entry["row"] for entry in known.values()]
    write("index.html", index_page(rows, latest_sessions(store)))
    manifest["inputs"] = inputs
    manifest["files"] = sorted(files)
    _save_manifest(out, manifest)
    return SiteSummary(
        out,
        keys=len(rows),
        runs=sum(row["runs"] for row in rows),
        seconds=time.monotonic() - started,
        keys_written=keys_written,
        runs_written=runs_written,
        full=rebuilt,
    )
