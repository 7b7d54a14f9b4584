"""The aws backend's requests, without leaving the machine: the CLI with a boto3 profile and an
endpoint_url pointing at a running `cogid serve`."""

import json
import os

import pytest
from conftest import DEV


@pytest.fixture
def remote(cli, isolated, tmp_path, monkeypatch, local):
    """Profile `remote`: backend aws, boto3 profile `dev` holding a key the server accepts."""
    from cogid.local.transport.server import running_server

    key = local("iam").create_access_key()["AccessKey"]
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(f"[dev]\naws_access_key_id = {key['AccessKeyId']}\n"
                           f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    with running_server(isolated) as url:
        result = cli("profile", "add", "remote", "--backend", "aws", "--aws-profile", "dev", "--endpoint-url", url,
                     "--region", "us-east-1", "--use")
        assert result.exit_code == 0, result.stderr
        yield url


def ok(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_whole_flow_against_an_endpoint(cli, remote, isolated):
    from cogid.local import mint_social_token

    pool = ok(cli("pool", "create", "remote", "--developer-provider", DEV, "--facebook", "app1",
                  "--create-roles", "--use"))
    assert set(pool["Roles"]) == {"authenticated"}
    assert ok(cli("pool", "list")) == [{"IdentityPoolId": pool["IdentityPoolId"], "IdentityPoolName": "remote"}]
    issued = ok(cli("token", "issue", "--user", "alice"))
    verified = ok(cli("token", "decode", issued["Token"], "--verify"))
    assert verified["Verified"] is True and verified["Claims"]["aud"] == pool["IdentityPoolId"]
    assert list((isolated / "cache").glob("jwks-*.json")), "the endpoint's JWKS is cached"
    facebook = mint_social_token("graph.facebook.com", "fb-alice", "app1", home=isolated)
    assert ok(cli("link", "--user", "alice", "--facebook", facebook))["Logins"] == [DEV, "graph.facebook.com"]
    creds = ok(cli("creds", "--user", "alice", "-o", "json"))
    assert creds["AccessKeyId"].startswith("ASIA") and creds["Version"] == 1
    basic = ok(cli("creds", "--user", "alice", "-o", "json", "--flow", "basic", "--no-cache"))
    assert basic["AccessKeyId"] != creds["AccessKeyId"]
    assert ok(cli("identity", "lookup", "--user", "alice"))["IdentityId"] == issued["IdentityId"]


def test_a_wrong_key_is_denied(cli, remote, tmp_path, monkeypatch):
    (tmp_path / "aws-credentials").write_text("[dev]\naws_access_key_id = AKIAWRONGWRONGWRONG1\n"
                                              "aws_secret_access_key = " + "x" * 40 + "\n")
    result = cli("pool", "list")
    assert result.exit_code == 5
    assert result.stderr.startswith("cogid: error: UnrecognizedClientException: ")


def test_missing_aws_profile_and_unreachable_endpoint(cli, isolated):
    assert cli("profile", "add", "gone", "--backend", "aws").exit_code == 0
    missing = cli("pool", "list", "-p", "gone", env={"COGID_AWS_PROFILE": "nobody"})
    assert missing.exit_code == 3 and "AWS profile 'nobody' does not exist" in missing.stderr
    assert cli("profile", "add", "down", "--backend", "aws", "--endpoint-url", "http://127.0.0.1:9").exit_code == 0
    down = cli("pool", "list", "-p", "down", env={"AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": "y"})
    assert down.exit_code == 6 and "Could not connect to the endpoint URL" in down.stderr


def test_bulk_issuing_against_an_endpoint_keeps_input_order(cli, remote):
    ok(cli("pool", "create", "remote", "--developer-provider", DEV, "--use"))
    users = [f"user{n}" for n in range(150)]
    first = cli("token", "issue", "--users-from", "-", input="".join(f"{user}\n" for user in users))
    assert first.exit_code == 0, first.stderr
    issued = [json.loads(line) for line in first.stdout.splitlines()]
    assert [line["User"] for line in issued] == users
    again = cli("token", "issue", "--users-from", "-", input="".join(f"{user}\n" for user in reversed(users)))
    assert [json.loads(line)["IdentityId"] for line in again.stdout.splitlines()] == [
        line["IdentityId"] for line in reversed(issued)]


def test_bulk_issuing_stops_at_the_first_failure_that_is_not_the_lines(cli, remote, tmp_path):
    ok(cli("pool", "create", "remote", "--developer-provider", DEV, "--use"))  # the profile knows the provider
    (tmp_path / "aws-credentials").write_text("[dev]\naws_access_key_id = AKIAWRONGWRONGWRONG1\n"
                                              "aws_secret_access_key = " + "x" * 40 + "\n")
    denied = cli("token", "issue", "--users-from", "-", input="".join(f"user{n}\n" for n in range(30)))
    assert denied.exit_code == 5 and denied.stdout == ""
    assert denied.stderr.count("\n") == 1 and "UnrecognizedClientException" in denied.stderr


@pytest.fixture
def failing_endpoint():
    """An endpoint answering every request with a proxy's 503 page, no AWS error in it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Unavailable(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            page = b"<html><body>503 Service Unavailable</body></html>"
            self.send_response(503)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_service_fault_without_an_aws_error_is_unavailable(cli, failing_endpoint):
    assert cli("profile", "add", "proxy", "--backend", "aws", "--endpoint-url", failing_endpoint,
               "--pool", "us-east-1:00000000-0000-0000-0000-000000000000").exit_code == 0
    env = {"AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": "y", "AWS_MAX_ATTEMPTS": "1"}
    result = cli("pool", "show", "-p", "proxy", env=env)
    assert result.exit_code == 6 and result.stderr.count("\n") == 1, result.stderr


def test_aws_calls_give_up_on_a_silent_endpoint(cli, isolated, monkeypatch):
    import socket
    import time

    from cogid import clients

    monkeypatch.setattr(clients, "READ_TIMEOUT", 1)  # 15 s here: too long for a test
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    assert cli("profile", "add", "silent", "--backend", "aws",
               "--endpoint-url", f"http://127.0.0.1:{silent.getsockname()[1]}").exit_code == 0
    began = time.monotonic()
    result = cli("pool", "list", "-p", "silent",
                 env={"AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": "y", "AWS_MAX_ATTEMPTS": "1"})
    silent.close()
    assert result.exit_code == 6 and "Read timeout" in result.stderr
    assert time.monotonic() - began < 10


def test_ctrl_c_stops_bulk_issuing_while_calls_hang(cli, isolated):
    import signal
    import socket
    import subprocess
    import sys
    import time

    silent = socket.create_server(("127.0.0.1", 0), backlog=64)  # accepts, never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    assert cli("profile", "add", "silent", "--backend", "aws", "--endpoint-url", url, "--use",
               "--pool", "us-east-1:00000000-0000-0000-0000-000000000000",
               "--developer-provider", DEV).exit_code == 0
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": "y"}
    child = subprocess.Popen([sys.executable, "-m", "cogid", "token", "issue", "--users-from", "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, start_new_session=True)
    try:
        child.stdin.write(b"".join(b"user%d\n" % n for n in range(40)))
        child.stdin.close()
        silent.settimeout(30)
        connection, _ = silent.accept()  # a call is in flight, waiting for a reply that never comes
        began = time.monotonic()
        os.killpg(child.pid, signal.SIGINT)
        assert child.wait(10) == 130
        assert time.monotonic() - began < 5
        connection.close()
    finally:
        child.kill()
        silent.close()


def test_cognito_sync_against_an_endpoint(cli, remote):
    """cogid sync on the aws backend: boto3's cognito-sync client, signed, over HTTP."""
    ok(cli("pool", "create", "sync", "--developer-provider", DEV, "--create-roles", "--use"))
    identity = ok(cli("token", "issue", "--user", "alice"))["IdentityId"]
    written = ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark", "lang=en"))
    assert [(r["Key"], r["SyncCount"]) for r in written["Records"]] == [("theme", 1), ("lang", 1)]
    result = cli("sync", "get", "--user", "alice", "--as-identity", "settings", "theme")  # as alice's phone
    assert (result.exit_code, result.stdout) == (0, "dark\n"), result.stderr
    ok(cli("sync", "rm", "--user", "alice", "--as-identity", "settings", "lang"))
    shown = ok(cli("sync", "show", "--user", "alice", "settings", "-o", "json"))
    assert {r["Key"]: r.get("Value") for r in shown["Records"]} == {"theme": "dark", "lang": None}
    assert ok(cli("sync", "usage", "--identity-id", identity, "-o", "json"))["DatasetCount"] == 1
    assert cli("sync", "outbox").exit_code == 2  # the outbox belongs to the local backend


def test_no_silent_merge_on_the_aws_backend(cli, remote, isolated):
    from cogid.local import mint_social_token

    ok(cli("pool", "create", "remote", "--developer-provider", DEV, "--facebook", "app1", "--use"))
    facebook = mint_social_token("graph.facebook.com", "fb-alice", "app1", home=isolated)
    alice = ok(cli("link", "--user", "alice", "--facebook", facebook))["IdentityId"]
    bob = ok(cli("token", "issue", "--user", "bob"))["IdentityId"]
    refused = cli("link", "--user", "bob", "--facebook", facebook)
    assert refused.exit_code == 2 and f"belongs to identity {alice}" in refused.stderr
    assert ok(cli("identity", "lookup", "--user", "alice"))["IdentityId"] == alice
    merged = cli("link", "--user", "bob", "--facebook", facebook, "--allow-merge")
    assert ok(merged)["IdentityId"] == bob and f"merged: identity {alice} went into {bob}" in merged.stderr


def test_social_tokens_come_from_the_endpoints_own_test_idp(cli, remote, isolated):
    ok(cli("pool", "create", "social", "--developer-provider", DEV, "--facebook", "app1", "--use"))
    minted = ok(cli("social", "token", "facebook", "--subject", "fb-9"))
    assert minted["Provider"] == "graph.facebook.com"
    assert ok(cli("link", "--user", "alice", "--facebook", minted["Token"]))["Logins"] == [DEV, "graph.facebook.com"]
    # The endpoint's own test IdP says why it refuses, as the local backend would.
    refused = cli("social", "token", "myspace", "--subject", "x", "--audience", "a")
    assert refused.exit_code == 2 and "PROVIDER 'myspace'" in refused.stderr


def test_the_test_idp_answers_developers_only(remote, local):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(remote + "/_cogid/test-idp/token", data=b'{"Provider": "facebook"}',
                                     method="POST")
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(request, timeout=10)
    assert unsigned.value.code in (400, 403)
    assert json.loads(unsigned.value.read())["__type"] == "MissingAuthenticationTokenException"


def test_social_token_on_real_aws_says_why_not(cli, isolated):
    assert cli("profile", "add", "real", "--backend", "aws", "--pool", "us-east-1:abc").exit_code == 0
    result = cli("social", "token", "facebook", "--subject", "x", "--audience", "a", "-p", "real",
                 env={"AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": "y"})
    assert result.exit_code == 3 and "test tokens come from the local backend or a `cogid serve`" in result.stderr


def test_cached_credentials_over_a_serve_endpoint_follow_the_user(cli, isolated, monkeypatch, local):
    """The local backend through `cogid serve`: the cache is checked as in process."""
    from cogid.local.transport.server import running_server

    key = local("iam").create_access_key()["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    with running_server(isolated) as url:
        assert cli("profile", "add", "srv", "--endpoint-url", url, "--region", "us-east-1", "--use").exit_code == 0
        ok(cli("pool", "create", "served", "--developer-provider", DEV, "--create-roles", "--use"))
        first = ok(cli("creds", "--user", "bob", "-o", "json"))
        assert ok(cli("creds", "--user", "bob", "-o", "json")) == first  # cached
        ok(cli("unlink", "--user", "bob"))
        assert ok(cli("creds", "--user", "bob", "-o", "json"))["AccessKeyId"] != first["AccessKeyId"]
