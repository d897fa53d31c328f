"""The http store: runs recorded and read through a results server's REST API.

``--fio-store http://server:8080`` lets many CI runners share one history. The token for
writes comes from FIO_API_TOKEN (or FIO_API_TOKEN_FILE / the client config file); reads
need none. ``https://`` servers have their certificate verified, against a private CA
when FIO_API_CA_FILE (or ``ca_file`` in the client config) names one. Every failure is a
StoreError naming the server, like the sqlite store's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..apiclient import ApiClient, ApiError, resolve_ca_file, resolve_token
from ..exceptions import StoreError
from .base import Baseline, RunRecord, check_baseline_name
from .query import Cursor, RunPage, RunQuery, to_params
from .wire import baseline_from_json, run_from_json, run_json_text, run_to_json


class HTTPStore:
    """A Store whose history lives on a results server."""

    def __init__(self, uri: str, *, token: str | None = None, ca_file: str | None = None) -> None:
        self.uri = uri.rstrip("/")
        try:
            self._client: ApiClient | None = ApiClient(
                self.uri,
                token if token is not None else resolve_token(),
                ca_file=resolve_ca_file(ca_file),
            )
        except ApiError as err:
            raise StoreError(f"history store {self.uri}: {err}") from err

    def __repr__(self) -> str:
        return f"HTTPStore({self.uri!r})"

    def _call(
        self,
        action: str,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        expect: tuple[int, ...] = (200,),
    ) -> Any:
        if self._client is None:
            raise StoreError(f"history store {self.uri} is closed; cannot {action}")
        try:
            response = self._client.request(
                method, path, params=params, body=body, write=method != "GET", expect=expect
            )
        except ApiError as err:
            # The server's own message already names the run or baseline.
            raise StoreError(f"history store {self.uri}: cannot {action}: {err}") from err
        return response.json() if response.content else None

    def record(self, run: RunRecord) -> None:
        self._call(
            f"record run {run.run_id!r}", "POST", "/runs", body=run_to_json(run), expect=(201,)
        )

    def get(self, run_id: str) -> RunRecord:
        document = self._call(f"read run {run_id!r}", "GET", f"/runs/{ApiClient.quote(run_id)}")
        return run_from_json(document["data"], where=f"history store {self.uri} run")

    def query(self, query: RunQuery | None = None, /, **filters: Any) -> list[RunRecord]:
        params = to_params(RunQuery.of(query, filters))
        document = self._call("query runs", "GET", "/runs", params=params)
        return self._runs(document)

    def run_ids(self, query: RunQuery | None = None, /, **filters: Any) -> list[str]:
        return [run.run_id for run in self.query(RunQuery.of(query, filters), with_raw=False)]

    def runs_json(self, run_ids: Sequence[str], *, with_raw: bool = True) -> list[tuple[str, str]]:
        found = []
        for run_id in dict.fromkeys(run_ids):
            document = self._call(
                f"read run {run_id!r}",
                "GET",
                f"/runs/{ApiClient.quote(run_id)}",
                expect=(200, 404),
            )
            if document and "data" in document:
                run = run_from_json(document["data"], where=f"history store {self.uri} run")
                found.append((run_id, run_json_text(run, with_raw=with_raw)))
        return found

    def search(self, query: RunQuery) -> RunPage:
        document = self._call("search runs", "GET", "/runs/search", params=to_params(query))
        after = document.get("next_cursor")
        try:
            cursor = None if after is None else Cursor.decode(after)
        except ValueError as err:
            raise StoreError(f"history store {self.uri}: next_cursor {after!r}: {err}") from err
        return RunPage(self._runs(document), int(document["total"]), cursor)

    def _runs(self, document: Any) -> list[RunRecord]:
        return [
            run_from_json(item, where=f"history store {self.uri} run") for item in document["data"]
        ]

    def delete(self, run_id: str) -> bool:
        document = self._call(
            f"delete run {run_id!r}",
            "DELETE",
            f"/runs/{ApiClient.quote(run_id)}",
            expect=(200, 404),
        )
        return bool(document and document.get("data", {}).get("deleted"))

    def pin_baseline(self, name: str, run_ids: Sequence[str], *, note: str = "") -> Baseline:
        # Checked here too: a name like "../x" must not become another URL.
        check_baseline_name(name)
        document = self._call(
            f"pin baseline {name!r}",
            "PUT",
            f"/baselines/{ApiClient.quote(name)}",
            body={"run_ids": list(run_ids), "note": note},
        )
        return baseline_from_json(document["data"])

    def get_baseline(self, name: str) -> Baseline:
        document = self._call(
            f"read baseline {name!r}", "GET", f"/baselines/{ApiClient.quote(name)}"
        )
        return baseline_from_json(document["data"])

    def baselines(self) -> list[Baseline]:
        document = self._call("read baselines", "GET", "/baselines")
        return [baseline_from_json(item) for item in document["data"]]

    def delete_baseline(self, name: str) -> bool:
        document = self._call(
            f"delete baseline {name!r}",
            "DELETE",
            f"/baselines/{ApiClient.quote(name)}",
            expect=(200, 404),
        )
        return bool(document and document.get("data", {}).get("deleted"))

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
