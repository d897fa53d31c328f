"""The WSGI application: the REST API, the legacy API, the web UI and their plumbing."""

from __future__ import annotations

import logging
from pathlib import Path

import bottle

import pytest_fioloadgen
from pytest_fioloadgen.backend_factory import sandbox_of
from pytest_fioloadgen.planning import load_thresholds
from pytest_fioloadgen.profiles import shipped_profiles_dir
from pytest_fioloadgen.store import open_store

from . import api_v1, legacy, metrics
from .auth import load_or_create_token
from .config import ServerConfig
from .context import ServerContext
from .executor import Executor
from .http import header, json_app
from .jobsdb import JobDB
from .profiles_repo import ProfileRepository

log = logging.getLogger("fioloadgen_server")

UI_DIR = Path(__file__).resolve().parent / "ui"
PACKAGE_ASSETS = Path(pytest_fioloadgen.__file__).resolve().parent / "assets"
CHARTJS_DIR = PACKAGE_ASSETS / "vendor" / "chartjs"
#: Files of the package's static site the UI shares (one run renderer, one overview).
SHARED_ASSETS = ("run.js", "run.css", "charts.js", "overview.js", "overview.css", "keypage.js")
#: Scripts and styles only from this server: user text can never become markup or code.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def build_context(config: ServerConfig) -> ServerContext:
    """Open everything the server needs (token, queue, history store, executor)."""
    token = load_or_create_token(config.token_path)
    jobs = JobDB(config.db_path)
    store = open_store(config.store_uri, rootdir=config.settings.rootdir)
    profiles_dir = config.settings.profiles_dir or shipped_profiles_dir()
    # Every fio process of the server (jobs, --parse-only of added profiles) is confined.
    sandbox = sandbox_of(config.settings, require=True)
    profiles = ProfileRepository(
        profiles_dir, jobs, fio_binary=config.settings.fio_binary, sandbox=sandbox
    )
    # One resolution for the executor's gating and the history charts: the plugin's rule
    # (--thresholds, else benchmarks/thresholds.toml in the rootdir when present).
    thresholds = load_thresholds(config.settings)
    executor = Executor(config, jobs, store, thresholds, sandbox=sandbox)
    return ServerContext(config, token, jobs, store, profiles, executor, thresholds=thresholds)


def create_app(ctx: ServerContext) -> bottle.Bottle:
    app = json_app()
    origins = frozenset(ctx.config.cors_origins)

    def headers() -> None:
        response = bottle.response
        response.set_header("X-Content-Type-Options", "nosniff")
        response.set_header("Referrer-Policy", "no-referrer")
        response.set_header("Content-Security-Policy", CSP)
        # Kept answers (answer_cache) say no-cache with their ETag; nothing else is kept.
        if "Cache-Control" not in response.headers:
            response.set_header("Cache-Control", "no-store")
        origin = header("Origin")
        # CORS stays off unless an origin was configured; never "*", never any origin.
        if origin and origin in origins and bottle.request.path.startswith("/api/"):
            response.set_header("Access-Control-Allow-Origin", origin)
            response.set_header("Vary", "Origin")
            response.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
            response.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")

    app.add_hook("after_request", headers)

    def preflight(path: str) -> bottle.HTTPResponse:
        return bottle.HTTPResponse(status=204)

    if origins:
        app.route("/api/<path:path>", "OPTIONS", preflight)

    # Sub-apps, each with its own plugins (errors, the write token, the context).
    app.mount(api_v1.PREFIX + "/", api_v1.ROUTES.app(ctx))
    app.mount(legacy.PREFIX + "/", legacy.ROUTES.app(ctx))
    metrics.register(app, ctx)
    _register_ui(app)
    return app


def _register_ui(app: bottle.Bottle) -> None:
    def index() -> bottle.HTTPResponse:
        return bottle.static_file("index.html", root=str(UI_DIR), mimetype="text/html")

    def vendor(name: str) -> bottle.HTTPResponse:
        if name not in ("chart.umd.min.js", "LICENSE.md"):
            return bottle.HTTPError(404, "no such file")
        return bottle.static_file(
            name,
            root=str(CHARTJS_DIR),
            mimetype="text/plain" if name == "LICENSE.md" else "text/javascript",
        )

    def asset(name: str) -> bottle.HTTPResponse:
        return bottle.static_file(name, root=str(UI_DIR))

    def shared(name: str) -> bottle.HTTPResponse:
        if name not in SHARED_ASSETS:
            return bottle.HTTPError(404, "no such file")
        mimetype = "text/css" if name.endswith(".css") else "text/javascript"
        return bottle.static_file(name, root=str(PACKAGE_ASSETS), mimetype=mimetype)

    app.route("/", "GET", index)
    app.route("/ui/vendor/<name>", "GET", vendor)
    app.route("/ui/shared/<name>", "GET", shared)
    app.route("/ui/<name:re:[a-z0-9_-]+\\.(?:js|css)>", "GET", asset)
