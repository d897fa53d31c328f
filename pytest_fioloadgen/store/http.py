"""The http store: runs recorded and read through a results server's REST API.

``--fio-store http://server:8080`` lets many CI runners share one history. The token for
writes comes from FIO_API_TOKEN (or FIO_API_TOKEN_FILE / the client config file); reads
need none. ``https://`` servers have their certificate verified, against a private CA
when FIO_API_CA_FILE (or ``ca_file`` in the client config) names one. Every failure is a
StoreError naming the server, like the sqlite store's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..apiclient import ApiClient, ApiError, resolve_ca_file, resolve_token
from ..exceptions import StoreError
from .base import Baseline, RunPage, RunQuery, RunRecord, check_baseline_name
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

    def query(
        self,
        *,
        profile_name: str | None = None,
        profile_hash: str | None = None,
        workers: int | None = None,
        backend: str | None = None,
        target: str | None = None,
        session_id: str | None = None,
        history_key: str | None = None,
        labels: Mapping[str, str] | None = None,
        status: str | None = None,
        limit: int | None = None,
        with_raw: bool = False,
    ) -> list[RunRecord]:
        if limit is not None and limit < 0:
            raise StoreError(f"history store {self.uri}: query limit {limit} is negative")
        params: list[tuple[str, str]] = [
            (name, str(value))
            for name, value in (
                ("profile_name", profile_name),
                ("profile_hash", profile_hash),
                ("workers", workers),
                ("backend", backend),
                ("target", target),
                ("session_id", session_id),
                ("history_key", history_key),
                ("status", status),
                ("limit", limit),
            )
            if value is not None
        ]
        params += [("label", f"{key}={value}") for key, value in (labels or {}).items()]
        if with_raw:
            params.append(("with_raw", "true"))
        document = self._call("query runs", "GET", "/runs", params=params)
        return [
            run_from_json(item, where=f"history store {self.uri} run") for item in document["data"]
        ]

    def run_ids(
        self,
        *,
        profile_name: str | None = None,
        profile_hash: str | None = None,
        workers: int | None = None,
        backend: str | None = None,
        target: str | None = None,
        session_id: str | None = None,
        history_key: str | None = None,
        labels: Mapping[str, str] | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[str]:
        found = self.query(
            profile_name=profile_name,
            profile_hash=profile_hash,
            workers=workers,
            backend=backend,
            target=target,
            session_id=session_id,
            history_key=history_key,
            labels=labels,
            status=status,
            limit=limit,
        )
        return [run.run_id for run in found]

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

    def search(self, query: RunQuery, *, offset: int = 0, limit: int = 50) -> RunPage:
        params: list[tuple[str, str]] = [
            (name, str(value))
            for name, value in (
                ("profile_name", query.profile_name),
                ("history_key", query.history_key),
                ("test", query.test),
                ("session_id", query.session_id),
                ("verdict", query.verdict),
                ("status", query.status),
                ("target", query.target),
                ("since", query.since),
                ("until", query.until),
                ("q", query.text),
                ("offset", offset),
                ("limit", limit),
            )
            if value is not None
        ]
        params += [("label", f"{key}={value}") for key, value in (query.labels or {}).items()]
        document = self._call("search runs", "GET", "/runs/search", params=params)
        runs = [
            run_from_json(item, where=f"history store {self.uri} run") for item in document["data"]
        ]
        return RunPage(runs, int(document["total"]))

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
