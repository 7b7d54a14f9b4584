"""Issue 18, item 7: `cogid serve` logs one line per request on stderr (time, client,
service.Operation, status, ms), never a secret; --quiet silences it, --log-format json."""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

import cogid.local

SECRET_TOKEN = "eyJhbGciOiJSUzUxMiJ9.c2VjcmV0LXRva2VuLXZhbHVl.c2lnbmF0dXJl"


def serve_requests(home, *args):
    """Run `cogid serve ARGS`, send GetId, a refused AssumeRoleWithWebIdentity carrying a token,
    and a JWKS GET; stop it: its stderr lines after the dashboard's URL."""
    pool_id = cogid.local.client("cognito-identity", home=home).create_identity_pool(
        IdentityPoolName="log", AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    env = {**os.environ, "COGID_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-m", "cogid", "serve", "--port", "0", "--workers", "1", *args],
                               env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = process.stdout.readline().strip()
        config = Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1})
        session = boto3.session.Session(region_name="us-east-1")
        session.client("cognito-identity", endpoint_url=url, config=config).get_id(IdentityPoolId=pool_id)
        with pytest.raises(ClientError):
            session.client("sts", endpoint_url=url, config=config).assume_role_with_web_identity(
                RoleArn="arn:aws:iam::000000000000:role/R", RoleSessionName="session", WebIdentityToken=SECRET_TOKEN)
        urllib.request.urlopen(url + "/.well-known/jwks_uri", timeout=10).read()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if line]
    assert lines[0].startswith(f"cogid serve: dashboard at {url}/_cogid/?key=")  # said at start, --quiet or not
    return lines[1:]


def test_one_line_per_request_without_secrets(tmp_path):
    lines = serve_requests(tmp_path)
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ 127\.0\.0\.1"
    assert len(lines) == 3, lines
    assert re.fullmatch(stamp + r" cognito-identity\.GetId 200 \d+\.\d", lines[0]), lines[0]
    assert re.fullmatch(stamp + r" sts\.AssumeRoleWithWebIdentity 400 \d+\.\d", lines[1]), lines[1]
    assert re.fullmatch(stamp + r" GET /\.well-known/jwks_uri 200 \d+\.\d", lines[2]), lines[2]
    assert "c2VjcmV0" not in "\n".join(lines)


def test_json_log_format(tmp_path):
    records = [json.loads(line) for line in serve_requests(tmp_path, "--log-format", "json")]
    assert [(r["operation"], r["status"], r["client"]) for r in records] == [
        ("cognito-identity.GetId", 200, "127.0.0.1"), ("sts.AssumeRoleWithWebIdentity", 400, "127.0.0.1"),
        ("GET /.well-known/jwks_uri", 200, "127.0.0.1")]
    assert all(isinstance(r["ms"], float) and r["time"].endswith("Z") for r in records)


def test_quiet_logs_nothing(tmp_path):
    assert serve_requests(tmp_path, "--quiet") == []


def test_an_unknown_log_format_is_a_usage_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cogid", "serve", "--port", "0", "--log-format", "xml"],
                          env={**os.environ, "COGID_HOME": str(tmp_path)}, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--log-format 'xml': expected text or json" in done.stderr
