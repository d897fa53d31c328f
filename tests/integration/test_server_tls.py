"""HTTPS with a private CA made here (trustme), over real loopback TLS: the server on
cheroot's built-in adapter, the API client, the CLI and the http store verifying its
certificate; plain HTTP beyond loopback only with --insecure, saying why."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from dataclasses import replace

import pytest

from pytest_fioloadgen.apiclient import ApiClient, ApiError
from pytest_fioloadgen.cli import main
from pytest_fioloadgen.exceptions import ConfigError, StoreError
from pytest_fioloadgen.store import open_store
from tests.conftest import server_config
from tests.unit.test_store_contract import make_run

trustme = pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and localhost, and a CA nobody uses."""
    base = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = {
        "ca": base / "ca.pem",
        "cert": base / "server.pem",
        "key": base / "server.key",
        "other_ca": base / "other-ca.pem",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    leaf.cert_chain_pems[0].write_to_path(str(files["cert"]))
    for extra in leaf.cert_chain_pems[1:]:
        extra.write_to_path(str(files["cert"]), append=True)
    leaf.private_key_pem.write_to_path(str(files["key"]))
    trustme.CA().cert_pem.write_to_path(str(files["other_ca"]))
    return files


@pytest.fixture
def tls_server(start_server, pki, tmp_path):
    config = replace(server_config(tmp_path / "tls"), tls_cert=pki["cert"], tls_key=pki["key"])
    live = start_server(config=config)
    live.url = live.url.replace("http://", "https://")
    return live


def test_the_api_over_https_with_the_private_ca(tls_server, pki):
    api = ApiClient(tls_server.url, tls_server.token, ca_file=str(pki["ca"]))
    assert api.get("/status")["data"]["backend"] == "local"
    profile = "[global]\nioengine=psync\nsize=4m\nruntime=1\ntime_based\n[rr]\nrw=randread\n"
    api.request("PUT", "/profiles/tls", body={"text": profile}, write=True, expect=(201,))
    # The handshake really is TLS 1.2 or later, with the certificate the server was given.
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    port = int(tls_server.url.rpartition(":")[2])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert ("IP Address", "127.0.0.1") in tls.getpeercert()["subjectAltName"]


@pytest.mark.parametrize("ca", [None, "other_ca"])
def test_an_untrusted_certificate_is_one_line_naming_the_fix(tls_server, pki, ca):
    api = ApiClient(tls_server.url, tls_server.token, ca_file=str(pki[ca]) if ca else None)
    with pytest.raises(ApiError) as caught:
        api.get("/status")
    message = str(caught.value)
    assert "certificate verify failed" in message
    assert "--ca-file" in message and "FIO_API_CA_FILE" in message
    assert tls_server.token not in message and "\n" not in message
    assert not caught.value.unreachable


def test_plain_http_to_the_tls_port_gets_no_api(tls_server):
    from benchmarks.server_input_probe import send

    port = int(tls_server.url.rpartition(":")[2])
    request = b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    status, body = send("127.0.0.1", port, request)
    assert status in (0, 400)  # cheroot answers 400 in plain text, or just closes
    assert b'"data"' not in body


def test_the_cli_verifies_with_ca_file(tls_server, pki, capsys, monkeypatch):
    monkeypatch.setenv("FIO_API_TOKEN", tls_server.token)
    monkeypatch.delenv("FIO_API_CA_FILE", raising=False)
    assert main(["job", "ls", "--url", tls_server.url, "--ca-file", str(pki["ca"])]) == 0
    capsys.readouterr()
    assert main(["job", "ls", "--url", tls_server.url]) == 2
    # (cheroot, on this process's other thread, logs the refused handshake there too)
    error = [line for line in capsys.readouterr().err.splitlines() if "fioloadgen:" in line]
    assert len(error) == 1 and "certificate verify failed" in error[0]
    monkeypatch.setenv("FIO_API_CA_FILE", str(pki["ca"]))
    assert main(["status", "--url", tls_server.url]) == 0
    assert "server      : https://" in capsys.readouterr().out
    assert main(["job", "ls", "--url", tls_server.url, "--ca-file", "/nonexistent.pem"]) == 2
    assert "CA file /nonexistent.pem" in capsys.readouterr().err


def test_the_https_history_store_verifies_too(tls_server, pki, monkeypatch):
    monkeypatch.setenv("FIO_API_TOKEN", tls_server.token)
    monkeypatch.setenv("FIO_API_CA_FILE", str(pki["ca"]))
    store = open_store(tls_server.url)
    try:
        store.record(make_run("over-tls"))
        assert store.get("over-tls").run_id == "over-tls"
    finally:
        store.close()
    monkeypatch.delenv("FIO_API_CA_FILE")
    untrusting = open_store(tls_server.url)
    try:
        with pytest.raises(StoreError, match="certificate verify failed"):
            untrusting.get("over-tls")
    finally:
        untrusting.close()


def test_plain_http_beyond_loopback_needs_insecure(tmp_path, caplog):
    from fioloadgen_server.wsgi import Server

    config = replace(server_config(tmp_path), host="0.0.0.0")
    with pytest.raises(ConfigError) as caught:
        Server(config)
    assert "--insecure" in str(caught.value) and "--tls-cert" in str(caught.value)
    assert not config.token_path.exists()  # refused before anything was opened
    server = Server(replace(config, insecure=True))
    try:
        assert "in clear" in (server.warning or "")
        assert "in clear" in caplog.text
    finally:
        server.close()


@pytest.mark.parametrize(
    ("cert", "key", "text"),
    [
        ("cert", None, "go together"),
        ("cert", "missing", "is not a readable file"),
        ("key", "cert", "cannot be used together"),
    ],
)
def test_bad_tls_files_are_one_line(tmp_path, pki, cert, key, text):
    from fioloadgen_server.wsgi import Server

    config = replace(
        server_config(tmp_path),
        tls_cert=pki[cert],
        tls_key=(tmp_path / "missing.key") if key == "missing" else (pki[key] if key else None),
    )
    with pytest.raises(ConfigError, match=text):
        Server(config)


def test_serve_says_why_it_refuses_plain_http_on_every_interface(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "fioloadgen_server", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"FIO_SERVER_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("fioloadgen: error: refusing to serve plain HTTP on 0.0.0.0")


@pytest.mark.slow
def test_the_daemon_serves_https_and_refuses_plain_http_beyond_loopback(tmp_path, pki):
    from tests.integration.test_server_daemon import fioloadgen, free_port

    port = free_port()
    common = ["--port", str(port), "--state-dir", str(tmp_path / "state")]
    common += ["--store", str(tmp_path / "h.db"), "--no-executor"]
    refused = fioloadgen("server", "start", *common, "--host", "0.0.0.0", cwd=tmp_path)
    assert refused.returncode == 2
    assert "did not start: refusing to serve plain HTTP on 0.0.0.0" in refused.stderr
    tls = ["--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"])]
    started = fioloadgen("server", "start", *common, *tls, cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stderr
        assert f"server started on https://127.0.0.1:{port}" in started.stdout
        status = fioloadgen("server", "status", *common, *tls, cwd=tmp_path)
        assert f"on https://127.0.0.1:{port}, answering" in status.stdout
        listed = fioloadgen(
            "job",
            "ls",
            "--url",
            f"https://127.0.0.1:{port}",
            "--ca-file",
            str(pki["ca"]),
            cwd=tmp_path,
        )
        assert listed.returncode == 0, listed.stderr
    finally:
        stopped = fioloadgen("server", "stop", *common, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
