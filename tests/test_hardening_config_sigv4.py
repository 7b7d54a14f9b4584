"""Issue 15, items 9 and 12: a hostile config.toml is a config error naming the file (never a
traceback, a hang or a read without end), and a SigV4 signature must cover X-Amz-Date and,
for AWS JSON 1.1, X-Amz-Target, so a captured request cannot be replayed as another operation."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import cogid.local
from cogid.local.transport.server import running_server

# -- item 9: config.toml ----------------------------------------------------------------------


def _refused(result, path, says: str) -> None:
    assert result.exit_code == 3, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith(f"cogid: error: {path}: "), result.stderr
    assert says in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and result.stdout == ""


def _deep(key: str, levels: int = 40) -> str:
    value = "1"
    for _ in range(levels):
        value = "{" + key + " = " + value + "}"
    return value + "\n"


@pytest.mark.parametrize("text, says", [
    ("a = " + "[" * 10_000 + "]" * 10_000 + "\n", "nested too deeply (line 1)"),
    ("version = 1\n\nb = " + "{x = " * 10_000 + "}" * 10_000 + "\n", "nested too deeply (line 3)"),
    # Dotted keys take tomllib time quadratic in their length (this one: 20 s)...
    ("x." * 20_000 + "y = 1\n", "a dotted key of more than 32 parts (line 1)"),
    ("[profiles]\n[" + "a." * 20_000 + "b]\n", "a dotted key of more than 32 parts (line 2)"),
    # ...and shorter ones in nested inline tables build a table 1,240 deep, which no message
    # may repr.
    ("default_profile = " + _deep("a." * 30 + "b"), "default_profile a table is not one of its profiles"),
    ("version = " + _deep("a." * 30 + "b"), "version a table is not supported"),
    ("[profiles.local]\nregion = " + "9" * 5000 + "\n", "not valid TOML"),
    ("version = true\n", "version true is not supported"),
    ("version = 1.0\n", "version 1.0 is not supported"),
    ("[profiles.\"a\\u001b[2Jb\"]\n", "profile name 'a\\x1b[2Jb' holds a character that cannot be printed"),
    ("[profiles.\"\"]\n", "a profile name is empty"),
    ("# fine\n[profiles.local]\nregion = 'us-east-1'\n# caf\xe9\n", "not UTF-8 (line 4)"),
])
def test_a_hostile_config_is_a_config_error_naming_the_file(cli, isolated, text, says):
    isolated.mkdir(parents=True, exist_ok=True)
    path = isolated / "config.toml"
    path.write_bytes(text.encode("latin-1") if "caf\xe9" in text else text.encode())
    _refused(cli("profile", "list"), path, says)


def test_a_100_mb_config_is_refused_without_reading_it(cli, isolated):
    isolated.mkdir(parents=True, exist_ok=True)
    path = isolated / "config.toml"
    with path.open("wb") as out:
        out.truncate(100 * 1024 * 1024)  # sparse: no disk used
    started = time.monotonic()
    _refused(cli("profile", "list"), path, "is larger than 1 MiB")
    assert time.monotonic() - started < 2


def test_a_directory_where_the_config_should_be_is_named(cli, isolated):
    (isolated / "config.toml").mkdir(parents=True)
    _refused(cli("profile", "list"), isolated / "config.toml", "is a directory, not a file")


def test_a_fifo_where_the_config_should_be_does_not_hang(cli, isolated):
    isolated.mkdir(parents=True, exist_ok=True)
    path = isolated / "config.toml"
    os.mkfifo(path)
    results = []
    worker = threading.Thread(target=lambda: results.append(cli("profile", "list")), daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # opened for reading and waiting for a writer: give it one, and EOF
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail("reading a FIFO config.toml hung")
    _refused(results[0], path, "is a FIFO, not a file")


def test_a_good_config_still_loads(cli, isolated):
    isolated.mkdir(parents=True, exist_ok=True)
    (isolated / "config.toml").write_text(
        "version = 1\ndefault_profile = 'dev'\n[profiles.dev]\nbackend = 'local'\nregion = 'eu-west-1'\n"
    )
    result = cli("profile", "list", "--output", "json")
    assert result.exit_code == 0, result.stderr
    assert [p["name"] for p in json.loads(result.stdout) if p["default"]] == ["dev"]


# -- item 12: what a signature must cover ------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("signed-headers")
    key = cogid.local.client("iam", home=home).create_access_key()["AccessKey"]
    with running_server(home) as url:
        yield url, home, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _pools(home) -> list[str]:
    listed = cogid.local.client("cognito-identity", home=home).list_identity_pools(MaxResults=60)
    return sorted(p["IdentityPoolId"] for p in listed["IdentityPools"])


class _Leaving(SigV4Auth):
    """botocore's signer, signing every header it would but `left_out`: a correct signature over
    fewer headers, as a client that forgot them (or an attacker who hopes so) would send."""

    def __init__(self, credentials, service, region, left_out: str):
        super().__init__(credentials, service, region)
        self._left_out = left_out

    def headers_to_sign(self, request):
        headers = super().headers_to_sign(request)
        del headers[self._left_out]
        return headers


def _send(url: str, operation: str, body: dict, credentials, left_out: str | None, send_as: str | None = None):
    request = AWSRequest("POST", url + "/", data=json.dumps(body).encode(), headers={
        "X-Amz-Target": f"AWSCognitoIdentityService.{operation}", "Content-Type": "application/x-amz-json-1.1"})
    signer = _Leaving(credentials, "cognito-identity", "us-east-1", left_out) if left_out else SigV4Auth(
        credentials, "cognito-identity", "us-east-1")
    signer.add_auth(request)
    headers = dict(request.headers.items())
    if left_out:
        assert left_out not in headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    if send_as:
        headers["X-Amz-Target"] = f"AWSCognitoIdentityService.{send_as}"
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("POST", "/", body=request.body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_a_signature_without_x_amz_target_cannot_be_replayed_as_another_operation(server):
    url, home, credentials = server
    pool = cogid.local.client("cognito-identity", home=home).create_identity_pool(
        IdentityPoolName="kept", AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
    before = _pools(home)
    # A harmless DescribeIdentityPool, signed without its target, sent as DeleteIdentityPool.
    status, reply = _send(url, "DescribeIdentityPool", {"IdentityPoolId": pool}, credentials, "x-amz-target",
                          send_as="DeleteIdentityPool")
    assert (status, reply["__type"]) == (400, "IncompleteSignatureException")
    assert "'X-Amz-Target' must be a 'SignedHeader'" in reply["message"]
    assert _pools(home) == before and pool in before


def test_a_signature_without_x_amz_date_is_refused(server):
    url, home, credentials = server
    before = _pools(home)
    status, reply = _send(url, "CreateIdentityPool", {"IdentityPoolName": "undated",
                                                      "AllowUnauthenticatedIdentities": True},
                          credentials, "x-amz-date")
    assert (status, reply["__type"]) == (400, "IncompleteSignatureException")
    assert "'X-Amz-Date' must be a 'SignedHeader'" in reply["message"]
    assert _pools(home) == before


def test_a_request_signing_both_still_passes(server):
    url, home, credentials = server
    status, reply = _send(url, "ListIdentityPools", {"MaxResults": 5}, credentials, None)
    assert status == 200 and "IdentityPools" in reply
