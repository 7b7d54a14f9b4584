"""`cogid serve` under hostile neighbours and bad luck (issue 15, items 7, 10 and 13's serve parts):
a read-only store, huge bodies, a network-wide bind, a forged Host header, and issuer keys that
point at anything but HTTP(S)."""

from __future__ import annotations

import ctypes
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from conftest import Issuer, served_by

import cogid.local
from cogid.local.identity.federation import fetch_json
from cogid.local.service import STORE_FILE, Service
from cogid.local.transport.server import MAX_BODY, MAX_SYNC_BODY, running_server

SYNC_PATH = "/identitypools/us-east-1:00000000-0000-0000-0000-000000000000/identities/x/datasets/d"
OIDC_HOST = "login.example.com"


def cogid_command(home: Path, *args: str, **kwargs) -> subprocess.Popen[str]:
    env = {**os.environ, "COGID_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "cogid", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def serve_and_stop(home: Path, *args: str) -> tuple[str, str, int]:
    """Start `cogid serve --port 0 ARGS`, read its URL, stop it: (url, stderr, exit code)."""
    process = cogid_command(home, "serve", "--port", "0", "--workers", "1", *args)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        discovery(url)  # answered: the server is up, and stops on SIGTERM as it should
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    return url, stderr, process.returncode


# -- 7. a read-only store -------------------------------------------------------------------

CAPABILITIES_THAT_IGNORE_MODES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
PR_CAPBSET_DROP = 24


def _as_an_ordinary_user() -> None:
    """For a child of root: drop the capabilities that let root write a file whatever its mode,
    so that a file without write permission is read-only to it, as to any other user."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in CAPABILITIES_THAT_IGNORE_MODES:
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_read_only_store_is_named_not_the_address(tmp_path):
    cogid.local.client("iam", home=tmp_path).create_access_key()  # a store, with its key
    store = tmp_path / STORE_FILE
    store.chmod(0o400)
    try:
        probe = subprocess.run([sys.executable, "-c", "import sys; open(sys.argv[1], 'r+b')", str(store)],
                               preexec_fn=_as_an_ordinary_user, capture_output=True, timeout=20)
    except subprocess.SubprocessError as error:
        pytest.skip(f"cannot make a file read-only for this user: {error}")
    if probe.returncode == 0:
        pytest.skip("cannot make a file read-only for this user (capabilities cannot be dropped)")
    process = cogid_command(tmp_path, "serve", "--port", "0", preexec_fn=_as_an_ordinary_user)
    try:
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 3, stderr
    assert stdout == ""
    assert "cannot serve on" not in stderr
    assert str(store) in stderr and "permission denied" in stderr.lower() and "local store" in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


# -- 10. huge bodies, announced or chunked, on every kind of path -----------------------------

JSON11 = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSCognitoIdentityService.ListIdentityPools"}
QUERY = {"Content-Type": "application/x-www-form-urlencoded"}
REST_JSON = {"Content-Type": "application/json"}
KINDS = {  # path, headers, limit, the error's format
    "cognito-identity": ("/", JSON11, MAX_BODY, "json"),
    "sts-iam-query": ("/", QUERY, MAX_BODY, "xml"),
    "cognito-sync": (SYNC_PATH, REST_JSON, MAX_SYNC_BODY, "json"),
    "unknown-path": ("/nothing/here", REST_JSON, MAX_BODY, "json"),
}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("hardening-serve")) as url:
        yield url


def send(url: str, head: bytes, body_parts) -> tuple[int, str, bytes]:
    """Send a request on a raw socket (the body may be cut short by the server's reply)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(head)
        try:
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the body was all sent: the reply is waiting
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.getheader("Content-Type") or "", response.read()


def head(method: str, path: str, headers: dict[str, str], framing: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in headers.items()), framing]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(size: int, chunk: int = 65536):
    sent = 0
    while sent < size:
        yield f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
        sent += chunk
    yield b"0\r\n\r\n"


def error_code(content_type: str, body: bytes, kind: str) -> str:
    if kind == "json":
        assert "json" in content_type
        return str(json.loads(body)["__type"])
    assert content_type == "text/xml"
    return body.decode().split("<Code>")[1].split("</Code>")[0]


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("framing", ["announced", "chunked"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_body_over_the_limit_is_413_in_the_paths_format(server_url, kind, framing, method):
    path, headers, limit, form = KINDS[kind]
    if framing == "announced":
        request = head(method, path, headers, f"Content-Length: {limit + 1}"), [b"x" * 65536]
    else:
        request = head(method, path, headers, "Transfer-Encoding: chunked"), chunked(limit + 65536)
    status, content_type, body = send(server_url, *request)
    assert (status, error_code(content_type, body, form)) == (413, "RequestEntityTooLarge")
    assert str(limit) in body.decode()


@pytest.mark.parametrize("framing", ["announced", "chunked"])
def test_a_cognito_sync_body_between_the_limits_is_read(server_url, framing):
    """Cognito Sync's values may be 1 MiB of JSON escapes: 2 MiB reaches the service, which asks
    for a signature, where any other service would refuse it as too large."""
    size = 2 * MAX_BODY
    if framing == "announced":
        request = head("POST", SYNC_PATH, REST_JSON, f"Content-Length: {size}"), [b"x" * size]
    else:
        request = head("POST", SYNC_PATH, REST_JSON, "Transfer-Encoding: chunked"), chunked(size)
    status, content_type, body = send(server_url, *request)
    assert (status, error_code(content_type, body, "json")) == (403, "MissingAuthenticationTokenException")


# -- 13a. a bind other machines can reach is said aloud -----------------------------------------


def test_serving_on_every_address_warns_on_stderr(tmp_path):
    url, stderr, code = serve_and_stop(tmp_path, "--host", "0.0.0.0")
    assert url.startswith("http://0.0.0.0:") and code == 0
    warnings = [line for line in stderr.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1, stderr
    assert "0.0.0.0" in warnings[0] and "network" in warnings[0]


def test_serving_on_loopback_does_not_warn(tmp_path):
    url, stderr, code = serve_and_stop(tmp_path, "--host", "127.0.0.1")
    assert url.startswith("http://127.0.0.1:") and code == 0
    assert "warning" not in stderr.lower(), stderr


# -- 13b. the discovery document names the service's own URL, not the Host header -----------------


def discovery(url: str, host: str = "evil.example") -> dict:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", "/.well-known/openid-configuration", headers={"Host": host})
        response = connection.getresponse()
        assert response.status == 200
        return dict(json.loads(response.read()))
    finally:
        connection.close()


def test_discovery_ignores_the_host_header(server_url):
    assert discovery(server_url)["jwks_uri"] == server_url + "/.well-known/jwks_uri"


def test_discovery_names_the_public_url(tmp_path):
    with running_server(tmp_path, public_url="https://id.example.test/cogid/") as url:
        assert discovery(url)["jwks_uri"] == "https://id.example.test/cogid/.well-known/jwks_uri"


@pytest.mark.parametrize("bad", ["ftp://id.example.test", "id.example.test", "https://", "file:///etc/passwd",
                                 "https://id.example.test:99999"])
def test_a_public_url_must_be_an_http_url(tmp_path, bad):
    process = cogid_command(tmp_path, "serve", "--port", "0", "--public-url", bad)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 2, stderr
    assert stdout == "" and "Invalid value for '--public-url'" in stderr and "http" in stderr
    assert not (tmp_path / STORE_FILE).exists()


def test_the_cli_passes_the_public_url_on(tmp_path):
    process = cogid_command(tmp_path, "serve", "--port", "0", "--workers", "1",
                            "--public-url", "http://cogid.internal:9000")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert discovery(url)["jwks_uri"] == "http://cogid.internal:9000/.well-known/jwks_uri"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


# -- 13c. an issuer's keys come over HTTP(S) only ---------------------------------------------


@pytest.fixture
def jwks_file(tmp_path, rsa_key):
    issuer = Issuer(f"https://{OIDC_HOST}", rsa_key)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(issuer.jwks))
    return issuer, path


@pytest.mark.parametrize("scheme", ["file", "data"])
def test_fetch_json_refuses_other_schemes(jwks_file, scheme):
    issuer, path = jwks_file
    url = path.as_uri() if scheme == "file" else "data:application/json," + json.dumps(issuer.jwks)
    with pytest.raises((OSError, ValueError)) as refused:
        fetch_json(url)
    assert "http" in str(refused.value) and scheme in str(refused.value)


class _Redirect(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):  # noqa: N802
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_fetch_json_refuses_a_redirect_to_another_scheme():
    listener = socket.create_server(("127.0.0.1", 0))  # an FTP server that never answers
    handler = type("Redirect", (_Redirect,), {"target": f"ftp://127.0.0.1:{listener.getsockname()[1]}/jwks.json"})
    redirector = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=redirector.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises((OSError, ValueError)) as refused:
            fetch_json(f"http://127.0.0.1:{redirector.server_address[1]}/.well-known/openid-configuration")
        assert "ftp" in str(refused.value) and "http" in str(refused.value)
        assert time.monotonic() - started < 4
    finally:
        redirector.shutdown()
        redirector.server_close()
        listener.close()


def test_a_login_whose_issuer_points_at_a_file_is_refused(tmp_path, jwks_file):
    """An issuer's discovery document naming a file:// jwks_uri must not read this machine's files."""
    issuer, path = jwks_file
    discovery_url = f"https://{OIDC_HOST}/.well-known/openid-configuration"

    def fetch(url):  # the issuer's discovery document, then the real fetch for what it names
        return {"jwks_uri": path.as_uri()} if url == discovery_url else fetch_json(url)

    cognito = served_by(Service(tmp_path / "home" / STORE_FILE, fetch=fetch))
    pool = cognito.create_identity_pool(
        IdentityPoolName="oidc", AllowUnauthenticatedIdentities=False,
        OpenIdConnectProviderARNs=[f"arn:aws:iam::000000000000:oidc-provider/{OIDC_HOST}"])["IdentityPoolId"]
    with pytest.raises(ClientError) as refused:
        cognito.get_id(IdentityPoolId=pool, Logins={OIDC_HOST: issuer.token("u-1")})
    error = refused.value.response["Error"]
    assert error["Code"] == "ExternalServiceException"
    assert "file" in error["Message"] and OIDC_HOST in error["Message"]


@pytest.mark.parametrize("framing", ["announced", "chunked"])
def test_a_path_that_only_decodes_to_cognito_syncs_has_the_common_limit(server_url, framing):
    """The limit follows the protocol that answers, which reads the path as sent: an escaped
    `/%69dentitypools` is no Cognito Sync path, so its body may not reach 8 MiB."""
    path, size = "/%69dentitypools/x/identities/y/datasets/d", 2 * MAX_BODY
    if framing == "announced":
        request = head("POST", path, REST_JSON, f"Content-Length: {size}"), [b"x" * size]
    else:
        request = head("POST", path, REST_JSON, "Transfer-Encoding: chunked"), chunked(size)
    status, content_type, body = send(server_url, *request)
    assert (status, error_code(content_type, body, "json")) == (413, "RequestEntityTooLarge")
    assert str(MAX_BODY) in body.decode()
