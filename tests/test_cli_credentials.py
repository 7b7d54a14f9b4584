"""Credentials: creds (json, env, basic flow, cache), credential_process, exec, developer keys."""

import json
import os
import stat

import jwt
import pytest
from conftest import ok


def test_creds_json_is_the_credential_process_object_and_is_cached(cli, cli_pool, isolated):
    first = ok(cli("creds", "--user", "alice", "-o", "json"))
    assert list(first) == ["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]
    assert first["Version"] == 1 and first["AccessKeyId"].startswith("ASIA") and first["Expiration"].endswith("Z")
    assert ok(cli("creds", "--user", "alice", "-o", "json")) == first
    cached = list((isolated / "cache").iterdir())
    assert len(cached) == 1 and stat.S_IMODE(cached[0].stat().st_mode) == 0o600
    assert ok(cli("creds", "--user", "alice", "-o", "json", "--no-cache"))["AccessKeyId"] != first["AccessKeyId"]

def test_cached_credentials_follow_the_user_to_its_identity_now(cli, cli_pool):
    """A user unlinked, or its identity deleted, has a new identity at its next token: the
    credentials cached for the old one are not it."""
    first = ok(cli("creds", "--user", "alice", "-o", "json"))
    ok(cli("unlink", "--user", "alice"))
    second = ok(cli("creds", "--user", "alice", "-o", "json"))
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert ok(cli("creds", "--user", "alice", "-o", "json")) == second  # cached again
    ok(cli("identity", "delete", "--user", "alice", "--yes"))
    assert ok(cli("creds", "--user", "alice", "-o", "json"))["AccessKeyId"] != second["AccessKeyId"]


def test_a_cached_guest_that_has_signed_in_is_refused_as_without_the_cache(cli, cli_pool):
    guest = ok(cli("identity", "create", "--guest"))["IdentityId"]
    ok(cli("creds", "--guest", "--identity-id", guest, "-o", "json"))
    ok(cli("token", "issue", "--user", "bob", "--identity-id", guest))
    for cache in ([], ["--no-cache"]):
        refused = cli("creds", "--guest", "--identity-id", guest, *cache)
        assert refused.exit_code == 5 and "Logins don't match" in refused.stderr, (cache, refused.stderr)


def test_creds_env_and_basic_flow(cli, cli_pool):
    env = ok(cli("creds", "--user", "alice", "-o", "env", "--flow", "basic", "--duration", "1800"))
    names = [line.split("=")[0] for line in env.splitlines()]
    assert names == ["export AWS_ACCESS_KEY_ID", "export AWS_SECRET_ACCESS_KEY", "export AWS_SESSION_TOKEN",
                     "export AWS_CREDENTIAL_EXPIRATION"]
    refused = cli("creds", "--user", "alice", "--duration", "1800")
    assert refused.exit_code == 2 and "--duration applies to --flow basic only" in refused.stderr

def test_credential_process_in_a_boto3_profile(cli, cli_pool, isolated, tmp_path, monkeypatch, local):
    import sys

    import boto3

    config = tmp_path / "aws-config"
    config.write_text(f"[profile app]\ncredential_process = {sys.executable} -m cogid creds --user alice -o json\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    frozen = boto3.session.Session(profile_name="app").get_credentials().get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA")
    sts = local("sts", aws_access_key_id=frozen.access_key, aws_secret_access_key=frozen.secret_key,
                aws_session_token=frozen.token)
    assert "assumed-role/Cognito_appAuth_Role" in sts.get_caller_identity()["Arn"]

def test_keys_create_list_delete(cli):
    key = ok(cli("keys", "create"))
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    assert [k["AccessKeyId"] for k in ok(cli("keys", "list"))] == [key["AccessKeyId"]]
    assert ok(cli("keys", "delete", key["AccessKeyId"], "--yes")) == ""
    assert ok(cli("keys", "list")) == []
    exports = ok(cli("keys", "create", "-o", "env")).splitlines()
    assert exports[0].startswith("export AWS_ACCESS_KEY_ID=AKIA") and exports[1].startswith("export AWS_SECRET")
    assert exports[2] == "unset AWS_SESSION_TOKEN"  # one left from `cogid creds -o env` would spoil the key

def test_tagged_tokens_exchange_with_created_roles(cli, cli_pool):
    env = ok(cli("creds", "--user", "tagged", "-o", "json", "--no-cache"))
    assert env["AccessKeyId"].startswith("ASIA")
    issued = ok(cli("token", "issue", "--user", "tagged", "--tag", "team=blue"))
    assert jwt.decode(issued["Token"], options={"verify_signature": False})["https://aws.amazon.com/tags"]
    from cogid.local import client

    sts = client("sts", home=os.environ["COGID_HOME"])
    role = ok(cli("pool", "show"))["Roles"]["authenticated"]
    assumed = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="tagged",
                                                WebIdentityToken=issued["Token"])
    assert assumed["AssumedRoleUser"]["Arn"].endswith("/tagged")

@pytest.mark.parametrize("damage", ["[1, 2]", '"text"', '{"Expiration": "2099-01-01T00:00:00Z"}', "{not json"])
def test_a_damaged_credentials_cache_entry_is_a_miss(cli, cli_pool, isolated, damage):
    first = ok(cli("creds", "--user", "alice", "-o", "json"))
    (entry,) = (isolated / "cache").glob("*.json")
    entry.write_text(damage)
    again = ok(cli("creds", "--user", "alice", "-o", "json"))
    assert again["AccessKeyId"].startswith("ASIA") and again["AccessKeyId"] != first["AccessKeyId"]
    assert json.loads(entry.read_text())["AccessKeyId"] == again["AccessKeyId"]  # rewritten whole

def test_exec_passes_credentials_and_exit_code(isolated, cli, cli_pool):
    import subprocess
    import sys

    probe = ("import os, sys; ok = os.environ['AWS_ACCESS_KEY_ID'].startswith('ASIA') and 'AWS_PROFILE' not in os.environ;"
             " sys.exit(7 if ok else 1)")
    env = {**os.environ, "AWS_PROFILE": "someone-else"}
    done = subprocess.run([sys.executable, "-m", "cogid", "exec", "--user", "alice", "--", sys.executable, "-c", probe],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 7, done.stderr
