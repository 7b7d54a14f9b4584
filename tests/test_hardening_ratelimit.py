"""Issue 15, item 11: unsigned floods are throttled per client address; CORS origins are configurable.

Each test runs a real `cogid serve` (one worker, so one bucket per client address) with a low
limit; the whole file takes a few seconds.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import cogid.local
from cogid.local.transport.server import running_server

PROVIDER = "login.example.app"
RATE, BURST = 2, 5  # a token every 0.5 s: the burst below usually ends before one comes back


def remote(url: str, key: dict[str, str] | None = None):
    credentials = {}
    if key is not None:
        credentials = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    config = Config(retries={"total_max_attempts": 1}, signature_version=None if key else UNSIGNED)
    return boto3.client("cognito-identity", endpoint_url=url, region_name="us-east-1", config=config, **credentials)


def raw(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def signed_get_id(url: str, key: dict[str, str], pool_id: str) -> int:
    """GetId signed with a developer key (botocore never signs it; another SDK might)."""
    headers = {"X-Amz-Target": "AWSCognitoIdentityService.GetId", "Content-Type": "application/x-amz-json-1.1"}
    request = AWSRequest("POST", url + "/", data=json.dumps({"IdentityPoolId": pool_id}).encode(), headers=headers)
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "cognito-identity", "us-east-1").add_auth(request)
    return raw(url, "POST", "/", request.body, dict(request.headers.items()))[0]


def identities(home: Path, pool_id: str) -> int:
    listed = cogid.local.client("cognito-identity", home=home).list_identities(IdentityPoolId=pool_id, MaxResults=60)
    return len(listed["Identities"])


@pytest.fixture
def home_with_pool(tmp_path):
    key = cogid.local.client("iam", home=tmp_path).create_access_key()["AccessKey"]
    pool = cogid.local.client("cognito-identity", home=tmp_path).create_identity_pool(
        IdentityPoolName="app", AllowUnauthenticatedIdentities=True, DeveloperProviderName=PROVIDER
    )
    return tmp_path, key, pool["IdentityPoolId"]


def test_unsigned_calls_past_the_burst_are_throttled_signed_ones_are_not(home_with_pool):
    home, key, pool_id = home_with_pool
    with running_server(home, unsigned_rate=RATE, unsigned_burst=BURST) as url:
        guest, developer = remote(url), remote(url, key)
        started = time.monotonic()
        for _ in range(BURST):
            guest.get_id(IdentityPoolId=pool_id)
        refused = 0
        for n in range(6):
            try:
                guest.get_id(IdentityPoolId=pool_id)
            except ClientError as error:
                assert error.response["Error"]["Code"] == "TooManyRequestsException"
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
                refused += 1
            # Signed calls in the same burst, from the same address, are not limited: a
            # developer operation, and GetId itself when validly signed.
            developer.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={PROVIDER: f"u{n}"})
            assert signed_get_id(url, key, pool_id) == 200
        # Past the burst, only the tokens that came back meanwhile pass (none, unless this machine
        # is very slow).
        assert refused >= 1 and 6 - refused <= (time.monotonic() - started) * RATE

        # STS's open operation shares the address's bucket, and says so in Query's own format.
        form = urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                          "RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "s",
                          "WebIdentityToken": "x"}).encode()
        status, _, body = raw(url, "POST", "/", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 400 and b"<Code>Throttling</Code>" in body, body

        # A throttled request never reached the store: only the calls that passed made identities.
        made = identities(home, pool_id)
        assert made == BURST + (6 - refused) + 6 + 6

        time.sleep(1.2 / RATE)  # a token comes back
        assert guest.get_id(IdentityPoolId=pool_id)["IdentityId"]
        assert identities(home, pool_id) == made + 1


CORS_REQUEST = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-amz-target"}


def test_only_a_listed_origin_is_echoed_and_zero_turns_the_limit_off(home_with_pool):
    home, _, pool_id = home_with_pool
    origins = ["https://app.example", "http://localhost:3000"]
    with running_server(home, unsigned_rate=0, unsigned_burst=1, cors_origins=origins) as url:
        guest = remote(url)
        for _ in range(10):
            guest.get_id(IdentityPoolId=pool_id)
        for origin in ("https://app.example", "http://localhost:3000"):
            for method in ("OPTIONS", "GET"):
                status, headers, _ = raw(url, method, "/.well-known/jwks_uri", headers={"Origin": origin, **CORS_REQUEST})
                assert status == 200
                assert headers["Access-Control-Allow-Origin"] == origin
                assert "Origin" in headers["Vary"]
        status, headers, _ = raw(url, "OPTIONS", "/", headers={"Origin": "https://evil.example", **CORS_REQUEST})
        assert headers["Access-Control-Allow-Origin"] is None and "Origin" in headers["Vary"]
        status, headers, _ = raw(url, "GET", "/.well-known/jwks_uri")
        assert headers["Access-Control-Allow-Origin"] is None


def test_the_cli_passes_the_options_on(home_with_pool):
    home, _, pool_id = home_with_pool
    env = {**os.environ, "COGID_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "cogid", "serve", "--port", "0", "--workers", "1", "--unsigned-rate", "1",
         "--unsigned-burst", "1", "--cors-origin", "https://app.example"],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        headers = {"X-Amz-Target": "AWSCognitoIdentityService.GetId", "Content-Type": "application/x-amz-json-1.1",
                   "Origin": "https://app.example"}
        body = json.dumps({"IdentityPoolId": pool_id}).encode()
        replies = [raw(url, "POST", "/", body, headers) for _ in range(2)]
        assert replies[0][0] == 200
        status, reply_headers, reply = replies[1]
        assert status == 400 and json.loads(reply)["__type"] == "TooManyRequestsException"
        assert reply_headers["Access-Control-Allow-Origin"] == "https://app.example"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


@pytest.mark.parametrize("args", [["--unsigned-rate", "-1"], ["--unsigned-rate", "nan"], ["--unsigned-rate", "inf"],
                                  ["--cors-origin", "app.example/path"], ["--host", ""],
                                  ["--public-url", "http://x y"], ["--public-url", "http://x/\x01"]])
def test_bad_values_are_usage_errors(tmp_path, args):
    env = {**os.environ, "COGID_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "cogid", "serve", "--port", "0", *args],
                          env=env, text=True, capture_output=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and f"Invalid value for '{args[0]}'" in done.stderr


def test_the_cli_defaults_are_the_servers():
    import inspect

    from cogid.cli.serve import serve
    from cogid.local.transport.server import DEFAULT_UNSIGNED_BURST, DEFAULT_UNSIGNED_RATE

    parameters = inspect.signature(serve).parameters
    assert parameters["unsigned_rate"].default == DEFAULT_UNSIGNED_RATE
    assert parameters["unsigned_burst"].default == DEFAULT_UNSIGNED_BURST
