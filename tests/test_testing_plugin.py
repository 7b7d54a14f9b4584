"""The pytest plugin (cogid.testing.plugin, entry point `cogid`): each fixture in a generated test
suite run by pytester, isolation between tests, `-p no:cogid`, and set-up failures that name their
cause (issue 16). The fixtures themselves are also used directly below: installing cogid is
enough for them to exist in this suite too."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError

import cogid.testing

pytest_plugins = ["pytester"]

DEV = "login.example.app"
COGNITO = "cognito-identity.amazonaws.com"

# A suite as a project using cogid would write it; every test of a pair sees nothing of the
# other's state (the second of each pair runs after the first: pytest keeps file order).
SUITE = '''
import os

import boto3
import pytest
from botocore.exceptions import ClientError

import cogid.testing
from cogid.testing import current_backend, mock_cognito

DEV = "login.example.app"


def pools(cognito):
    return cognito.list_identity_pools(MaxResults=60)["IdentityPools"]


def test_local_writes(cogid_local):
    pool = cogid_local.pool(facebook="1234567890")
    cognito = cogid_local.client("cognito-identity")
    issued = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool["IdentityPoolId"],
        Logins={DEV: "alice", "graph.facebook.com": cogid_local.social_token("facebook", "10001")})
    assert cogid_local.decode(issued["Token"])["sub"] == issued["IdentityId"]
    credentials = cognito.get_credentials_for_identity(
        IdentityId=issued["IdentityId"], Logins={"cognito-identity.amazonaws.com": issued["Token"]})["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert len(pools(cognito)) == 1


def test_local_sees_none_of_it(cogid_local):
    assert pools(cogid_local.client("cognito-identity")) == []
    assert cogid_local.client("iam").list_roles()["Roles"] == []
    cogid_local.pool()  # the same developer provider name again


def test_server_writes(cogid_server):
    pool = cogid_server.pool(guests=True)
    cognito = cogid_server.client("cognito-identity")
    issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool["IdentityPoolId"], Logins={DEV: "alice"})
    assert cogid_server.decode(issued["Token"])["aud"] == pool["IdentityPoolId"]
    cogid_server.client("iam").create_access_key()
    assert len(pools(cognito)) == 1


def test_server_sees_none_of_it(cogid_server):
    assert pools(cogid_server.client("cognito-identity")) == []
    iam = cogid_server.client("iam")
    assert iam.list_roles()["Roles"] == []
    assert [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]] == [cogid_server.access_key_id]
    cogid_server.pool()


def test_env_writes(cogid_env, cogid_server):
    cognito = boto3.client("cognito-identity")  # unmodified application code
    pool = cognito.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=True,
                                        DeveloperProviderName=DEV)["IdentityPoolId"]
    identity = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    assert boto3.client("sts").get_caller_identity()["Account"] == "000000000000"
    assert os.environ["AWS_ENDPOINT_URL_COGNITO_IDENTITY"] == cogid_env["AWS_ENDPOINT_URL_COGNITO_IDENTITY"] == cogid_server.url
    assert identity.startswith("us-east-1:")


def test_env_sees_none_of_it(cogid_env):
    assert pools(boto3.client("cognito-identity")) == []


def test_no_env_left_behind():
    assert "AWS_ENDPOINT_URL_COGNITO_IDENTITY" not in os.environ


@mock_cognito()
def test_mock_writes():
    current_backend().pool()
    assert len(pools(boto3.client("cognito-identity", region_name="us-east-1"))) == 1


@mock_cognito()
def test_mock_sees_none_of_it(tmp_path):  # the decorated test still gets its fixtures
    assert tmp_path.is_dir()
    assert pools(boto3.client("cognito-identity", region_name="us-east-1")) == []
'''


def test_each_fixture_in_a_generated_suite_and_no_state_leaks(pytester):
    pytester.makepyfile(test_app=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=9)


def test_no_cogid_turns_the_plugin_off(pytester):
    pytester.makepyfile(test_app="def test_local(cogid_local):\n    cogid_local.pool()\n")
    assert pytester.runpytest().ret == 0
    off = pytester.runpytest("-p", "no:cogid")
    off.assert_outcomes(errors=1)
    off.stdout.fnmatch_lines(["*fixture 'cogid_local' not found*"])


def test_no_writable_temporary_directory_is_a_pytest_error_naming_it(pytester):
    # From the start of the run (the session's server is set up before any function's fixture),
    # every temporary directory is asked of a path that is a file.
    pytester.makeconftest('''
import tempfile

saved = tempfile.tempdir


def pytest_configure(config):
    blocker = config.rootpath / "not-a-directory"
    blocker.write_text("")
    tempfile.tempdir = str(blocker)


def pytest_unconfigure(config):
    tempfile.tempdir = saved
''')
    pytester.makepyfile(test_app='''
def test_local(cogid_local):
    pass


def test_server(cogid_server):
    pass
''')
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*cogid_local: no writable temporary directory (*not-a-directory: Not a directory); set TMPDIR*",
        "*cogid_server: no writable temporary directory (*not-a-directory: Not a directory); set TMPDIR*",
    ])
    assert "Traceback" not in result.stdout.str()


def test_a_port_that_cannot_be_bound_is_a_pytest_error_naming_it(pytester):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        pytester.makeini(f"[pytest]\ncogid_server_port = {port}\n")
        pytester.makepyfile(test_app="def test_one(cogid_server):\n    pass\n\ndef test_two(cogid_env):\n    pass\n")
        started = time.monotonic()
        result = pytester.runpytest()
        took = time.monotonic() - started
    result.assert_outcomes(errors=2)  # the session's server is tried once; both tests say why
    result.stdout.fnmatch_lines([
        f"*cogid_server: `cogid serve --host 127.0.0.1 --port {port}` did not start:"
        f" cogid: error: cannot serve on 127.0.0.1:{port}: Address already in use* (exit code 6)",
    ])
    assert took < 15
    assert "During handling" not in result.stdout.str()


def test_a_bad_port_setting_is_a_pytest_error(pytester):
    pytester.makeini("[pytest]\ncogid_server_port = eighty\n")
    pytester.makepyfile(test_app="def test_one(cogid_server):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cogid_server: ini option cogid_server_port = 'eighty': expected a port*"])


def test_an_old_moto_is_a_pytest_error_naming_it(pytester):
    pytester.makeconftest('''
import sys
import types

import pytest


@pytest.fixture(autouse=True)
def old_moto(monkeypatch):
    monkeypatch.setitem(sys.modules, "moto", types.SimpleNamespace(__version__="4.2.14"))
''')
    pytester.makepyfile(test_app="def test_local(cogid_local):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cogid.testing: moto 4.2.14 is loaded*upgrade moto (pip install 'moto>=5')*"])


def test_the_plugin_imports_nothing_heavy():
    probe = ("import sys, cogid.testing.plugin; print(','.join(m for m in ('boto3', 'botocore', 'cryptography',"
             " 'jwt', 'moto', 'cogid.local', 'cogid.testing.backend') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


# -- the fixtures, used directly ------------------------------------------------------------


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_pool_is_pool_create_with_roles(cogid_local):
    pool = cogid_local.pool("shop", guests=True, google="client-1.apps.googleusercontent.com")
    pool_id = pool["IdentityPoolId"]
    assert pool["IdentityPoolName"] == "shop" and pool["DeveloperProviderName"] == DEV
    assert pool["SupportedLoginProviders"] == {"accounts.google.com": "client-1.apps.googleusercontent.com"}
    assert set(pool["Roles"]) == {"authenticated", "unauthenticated"}
    cognito, iam = cogid_local.client("cognito-identity"), cogid_local.client("iam")
    assert cognito.get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"] == pool["Roles"]
    role = iam.get_role(RoleName=pool["Roles"]["authenticated"].rsplit("/", 1)[1])["Role"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Condition"]["StringEquals"] == {f"{COGNITO}:aud": pool_id}
    # A guest gets the unauthenticated role's credentials; without guests, AWS's refusal.
    guest = cognito.get_id(IdentityPoolId=pool_id)["IdentityId"]
    assert cognito.get_credentials_for_identity(IdentityId=guest)["Credentials"]["AccessKeyId"].startswith("ASIA")
    closed = cogid_local.pool("closed", developer_provider="login.other.app", roles=False)
    assert closed["Roles"] == {}
    with pytest.raises(ClientError) as refused:
        cognito.get_id(IdentityPoolId=closed["IdentityPoolId"])
    assert code(refused) == "NotAuthorizedException"


def test_social_tokens_link_logins(cogid_local):
    pool_id = cogid_local.pool(facebook="1234567890")["IdentityPoolId"]
    cognito = cogid_local.client("cognito-identity")
    alice = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={DEV: "alice"})["IdentityId"]
    facebook = cogid_local.social_token("facebook", "10001")
    linked = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, IdentityId=alice, Logins={DEV: "alice", "graph.facebook.com": facebook})
    assert linked["IdentityId"] == alice
    assert cognito.get_id(IdentityPoolId=pool_id, Logins={"graph.facebook.com": facebook})["IdentityId"] == alice
    assert cogid_local.decode(facebook)["aud"] == "1234567890"
    with pytest.raises(ValueError, match="no pool made by pool\\(\\) trusts accounts.google.com: pass audience="):
        cogid_local.social_token("google", "g-1")
    wrong_app = cogid_local.social_token("facebook", "10002", audience="999")
    with pytest.raises(ClientError) as refused:
        cognito.get_id(IdentityPoolId=pool_id, Logins={"graph.facebook.com": wrong_app})
    assert code(refused) == "NotAuthorizedException"


def test_the_clock_moves_token_and_credential_expiry(cogid_local):
    pool_id = cogid_local.pool()["IdentityPoolId"]
    cognito = cogid_local.client("cognito-identity")
    issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={DEV: "alice"},
                                                              TokenDuration=600)
    logins = {COGNITO: issued["Token"]}
    credentials = cognito.get_credentials_for_identity(IdentityId=issued["IdentityId"], Logins=logins)["Credentials"]
    sts = cogid_local.client("sts", aws_access_key_id=credentials["AccessKeyId"],
                             aws_secret_access_key=credentials["SecretKey"],
                             aws_session_token=credentials["SessionToken"])
    assert ":assumed-role/" in sts.get_caller_identity()["Arn"]
    started = time.monotonic()
    cogid_local.clock.advance(601)
    with pytest.raises(jwt.ExpiredSignatureError):
        cogid_local.decode(issued["Token"])
    # Cognito allows 5 minutes of clock skew on a token's expiry, as AWS does.
    cogid_local.clock.advance(300)
    with pytest.raises(ClientError) as token_expired:
        cognito.get_credentials_for_identity(IdentityId=issued["IdentityId"], Logins=logins)
    cogid_local.clock.advance(3600)
    with pytest.raises(ClientError) as credentials_expired:
        sts.get_caller_identity()
    assert time.monotonic() - started < 5  # moved, not slept
    assert code(token_expired) == "NotAuthorizedException"
    assert code(credentials_expired) == "ExpiredToken"


def test_decode_refuses_a_forged_token(cogid_local):
    pool_id = cogid_local.pool()["IdentityPoolId"]
    token = cogid_local.client("cognito-identity").get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, Logins={DEV: "alice"})["Token"]
    header, claims, signature = token.split(".")
    forged = jwt.utils.base64url_encode(json.dumps({**cogid_local.decode(token), "sub": "mallory"}).encode())
    with pytest.raises(jwt.InvalidSignatureError):
        cogid_local.decode(f"{header}.{forged.decode()}.{signature}")


def test_the_server_publishes_the_sessions_jwks(cogid_server):
    pool_id = cogid_server.pool()["IdentityPoolId"]
    token = cogid_server.client("cognito-identity").get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, Logins={DEV: "alice"})["Token"]
    with urllib.request.urlopen(cogid_server.jwks_url, timeout=10) as reply:
        published = json.load(reply)
    assert published == cogid.testing.jwks() == cogid_server.jwks()
    key = jwt.PyJWKSet.from_dict(published)[jwt.get_unverified_header(token)["kid"]]
    assert jwt.decode(token, key.key, algorithms=["RS512"], audience=pool_id)["aud"] == pool_id


def test_the_servers_dashboard_shows_the_tests_pool(cogid_server):
    pool_id = cogid_server.pool("seen-in-the-dashboard")["IdentityPoolId"]
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # as a browser: key -> cookie
    with opener.open(cogid_server.dashboard_url, timeout=10) as reply:
        page = reply.read().decode()
    assert reply.url == cogid_server.url + "/_cogid/" and "seen-in-the-dashboard" in page and pool_id in page


def test_cogid_env_reaches_the_server_from_another_process(cogid_env, cogid_server):
    cogid_server.pool("from-the-test")
    child = ("import boto3; print(boto3.client('cognito-identity')"
             ".list_identity_pools(MaxResults=5)['IdentityPools'][0]['IdentityPoolName'])")
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=os.environ, timeout=60)
    assert done.stdout.strip() == "from-the-test", done.stderr
    assert boto3.client("cognito-sync").list_identity_pool_usage()["IdentityPoolUsages"][0]["IdentityPoolId"]


def _a_device_writes(backend, pool, user="alice"):
    cognito = backend.client("cognito-identity")
    issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: user})
    credentials = cognito.get_credentials_for_identity(
        IdentityId=issued["IdentityId"], Logins={COGNITO: issued["Token"]})["Credentials"]
    device = backend.client("cognito-sync", aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretKey"], aws_session_token=credentials["SessionToken"])
    token = device.list_records(IdentityPoolId=pool, IdentityId=issued["IdentityId"], DatasetName="d")[
        "SyncSessionToken"]
    written = device.update_records(IdentityPoolId=pool, IdentityId=issued["IdentityId"], DatasetName="d",
                                    SyncSessionToken=token,
                                    RecordPatches=[{"Op": "replace", "Key": "theme", "Value": "dark", "SyncCount": 0}])
    return written["Records"][0]["Value"]


TRIGGER = "arn:aws:lambda:us-east-1:123456789012:function:upper"


def _upper(event):
    for record in event["datasetRecords"].values():
        record["newValue"] = record["newValue"].upper()
    return event


@pytest.mark.parametrize("how", ["method", "cogid.local"])
def test_a_sync_trigger_runs_for_a_test_backends_pool(cogid_local, how):
    """README: register_sync_trigger(function_arn, handler, home=None) runs handler(event) in this
    process where a pool's Sync Trigger names it: for a test backend too (its home, or its method)."""
    if how == "method":
        cogid_local.register_sync_trigger(TRIGGER, _upper)
    else:
        import cogid.local

        cogid.local.register_sync_trigger(TRIGGER, _upper, home=cogid_local.home)
    pool = cogid_local.pool()["IdentityPoolId"]
    cogid_local.client("cognito-sync").set_cognito_events(IdentityPoolId=pool, Events={"SyncTrigger": TRIGGER})
    assert _a_device_writes(cogid_local, pool) == "DARK"
    (event,) = cogid_local.sync_outbox(kind="event")
    assert event["handled"] is True


def test_a_mocks_outbox_is_its_backends(monkeypatch, tmp_path):
    from cogid.testing import mock_cognito

    monkeypatch.setenv("COGID_HOME", str(tmp_path / "never"))
    with mock_cognito() as backend:
        pool = backend.pool()["IdentityPoolId"]
        backend.client("cognito-sync").set_cognito_events(IdentityPoolId=pool, Events={"SyncTrigger": TRIGGER})
        _a_device_writes(backend, pool)  # no handler registered: the event waits in the outbox
        assert [(entry["kind"], entry["handled"]) for entry in backend.sync_outbox()] == [("event", False)]
        import cogid.local

        assert cogid.local.sync_outbox(home=backend.home) == backend.sync_outbox()
    assert not (tmp_path / "never").exists()


def test_a_mocks_pools_are_in_the_processs_region(monkeypatch):
    """Where boto3 makes the code's clients (botocore reads AWS_DEFAULT_REGION, not AWS_REGION)."""
    from cogid.testing import mock_cognito

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_cognito() as backend:
        pool = backend.pool()["IdentityPoolId"]
        assert pool.startswith("eu-west-1:") and backend.region == "eu-west-1"
        cognito = boto3.client("cognito-identity")  # the app's own client, in the process's region
        assert cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "alice"})["Token"]


def test_the_server_and_its_environment_bypass_a_proxy(monkeypatch, cogid_server):
    """A proxy for the machine's outgoing HTTP must not take the calls to a local server."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.setenv("no_proxy", "example.internal")
    assert cogid_server.pool()["IdentityPoolId"]
    assert cogid_server.client("sts").get_caller_identity()["Arn"]


def test_cogid_env_bypasses_a_proxy_for_the_server(pytester):
    pytester.makepyfile(
        """
        import boto3

        def test_app_calls_the_server(cogid_env):
            assert boto3.client("sts").get_caller_identity()["Arn"]
        """
    )
    proxied = {"HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "no_proxy": "example.internal"}
    for name, value in proxied.items():
        pytester._monkeypatch.setenv(name, value)
    pytester._monkeypatch.delenv("NO_PROXY", raising=False)
    pytester.runpytest_subprocess("-q").assert_outcomes(passed=1)
