"""How the API modules declare their routes: a table of module-level handlers that becomes
one bottle app per server, mounted under the API's prefix by server.app.

A handler is a module-level function that takes the ServerContext first and the URL's
wildcards after, and returns a dict (sent as JSON) or an HTTPResponse. What every route
shares is applied once, by bottle plugins reading the route's config, never by hand in a
handler:

* errors: the package's errors become JSON answers with their status (http.handled);
* ``write=True``: the request needs the server's token (401 otherwise), checked before
  the handler reads anything;
* the context: handed to the handler as its first argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import bottle

from .http import Handler, handled, json_app, require_token

if TYPE_CHECKING:
    from .context import ServerContext


@dataclass(frozen=True)
class _Route:
    path: str
    method: str
    handler: Handler
    write: bool


class WriteToken:
    """The bottle plugin that refuses a route declared ``write=True`` without the token."""

    name = "fioloadgen-write-token"
    api = 2

    def __init__(self, token: str) -> None:
        self.token = token

    def apply(self, callback: Handler, route: bottle.Route) -> Handler:
        if not route.config.get("write"):
            return callback
        token = self.token

        def guarded(*args: Any, **kwargs: Any) -> Any:
            require_token(token)
            return callback(*args, **kwargs)

        return guarded


class WithContext:
    """The bottle plugin that hands every handler the server's context first."""

    name = "fioloadgen-context"
    api = 2

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    def apply(self, callback: Handler, route: bottle.Route) -> Handler:
        ctx = self.ctx

        def with_context(*args: Any, **kwargs: Any) -> Any:
            return callback(ctx, *args, **kwargs)

        return with_context


class Routes:
    """The routes of one API, declared with decorators next to their handlers."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def route(
        self, path: str, method: str = "GET", *, write: bool = False
    ) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            self._routes.append(_Route(path, method, handler, write))
            return handler

        return declare

    def get(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path)

    def post(self, path: str, *, write: bool = False) -> Callable[[Handler], Handler]:
        return self.route(path, "POST", write=write)

    def put(self, path: str, *, write: bool = False) -> Callable[[Handler], Handler]:
        return self.route(path, "PUT", write=write)

    def delete(self, path: str, *, write: bool = False) -> Callable[[Handler], Handler]:
        return self.route(path, "DELETE", write=write)

    def app(self, ctx: ServerContext) -> bottle.Bottle:
        """A bottle app of these routes serving ``ctx`` (mount it: ``app.mount``)."""
        app = json_app()
        # Applied innermost last: errors wrap the token check, which wraps the handler.
        app.install(handled)
        app.install(WriteToken(ctx.token))
        app.install(WithContext(ctx))
        for route in self._routes:
            app.route(route.path, route.method, route.handler, write=route.write)
        return app
