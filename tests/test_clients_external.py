"""Real clients other than boto3 against `cogid serve`: the AWS CLI, the AWS SDK for JavaScript v3, and
amazon-cognito-js (Cognito Sync's `CognitoSyncManager`, on the AWS SDK for JavaScript v2).

Each test skips (with the reason) only when its tool is missing; CI installs them
(`npm ci --prefix tests/js` for the JavaScript packages).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from conftest import standard_trust_policy

import cogid.local
from cogid.local.transport.server import running_server

PROVIDER = "login.example.app"
JS_HARNESS = Path(__file__).parent / "js"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("external-home")
    key = cogid.local.client("iam", home=home).create_access_key()["AccessKey"]
    with running_server(home) as url:
        yield SimpleNamespace(url=url, home=home, key=key)


def make_role(server, pool_id: str, name: str) -> str:
    iam = cogid.local.client("iam", home=server.home)
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=standard_trust_policy(pool_id))["Role"]["Arn"])


# -- AWS CLI -----------------------------------------------------------------------------------


def test_aws_cli(server, tmp_path):
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI (`aws`) is not installed")
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": server.key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": server.key["SecretAccessKey"],
        **{name: os.environ[name] for name in ("PYENV_ROOT", "PYENV_VERSION") if name in os.environ},
    }

    def cli(*args: str) -> dict:
        done = subprocess.run([aws, *args, "--endpoint-url", server.url, "--output", "json"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    pool = cli("cognito-identity", "create-identity-pool", "--identity-pool-name", "cli",
               "--no-allow-unauthenticated-identities", "--developer-provider-name", PROVIDER)
    pool_id = pool["IdentityPoolId"]
    issued = cli("cognito-identity", "get-open-id-token-for-developer-identity", "--identity-pool-id", pool_id,
                 "--logins", f"{PROVIDER}=alice")
    found = cli("cognito-identity", "lookup-developer-identity", "--identity-pool-id", pool_id,
                "--developer-user-identifier", "alice")
    assert found["IdentityId"] == issued["IdentityId"]

    role_arn = make_role(server, pool_id, "cli-auth")
    assumed = cli("sts", "assume-role-with-web-identity", "--role-arn", role_arn, "--role-session-name", "alice",
                  "--web-identity-token", issued["Token"])
    assert assumed["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/cli-auth/alice"
    assert assumed["SubjectFromWebIdentityToken"] == issued["IdentityId"]
    assert assumed["Credentials"]["AccessKeyId"].startswith("ASIA")


# -- AWS SDK for JavaScript v3 ----------------------------------------------------------------


def test_javascript_sdk(server):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (JS_HARNESS / "node_modules" / "@aws-sdk" / "credential-providers").is_dir():
        pytest.skip("the JavaScript SDK is not installed: run `npm ci --prefix tests/js`")
    cognito = cogid.local.client("cognito-identity", home=server.home)
    pool_id = cognito.create_identity_pool(IdentityPoolName="js", AllowUnauthenticatedIdentities=False,
                                           DeveloperProviderName="login.js.app")["IdentityPoolId"]
    role_arn = make_role(server, pool_id, "js-auth")
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role_arn})
    issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={"login.js.app": "bob"})

    env = {
        "PATH": os.environ["PATH"], "HOME": str(server.home), "COGID_ENDPOINT": server.url, "COGID_POOL_ID": pool_id,
        "COGID_IDENTITY_ID": issued["IdentityId"], "COGID_TOKEN": issued["Token"], "COGID_USER": "bob",
        "COGID_KEY_ID": server.key["AccessKeyId"], "COGID_KEY_SECRET": server.key["SecretAccessKey"],
    }
    done = subprocess.run([node, str(JS_HARNESS / "credentials.mjs")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["LookedUpIdentityId"] == issued["IdentityId"]
    assert result["AccessKeyId"].startswith("ASIA")
    assert result["Arn"] == "arn:aws:sts::000000000000:assumed-role/js-auth/CognitoIdentityCredentials"
    assert result["Account"] == "000000000000"


# -- Cognito Sync: amazon-cognito-js (SDK v2) and @aws-sdk/client-cognito-sync (SDK v3) --------


def _sync_calls(wire: list[dict], step: str, operation: str) -> list[dict]:
    return [entry for entry in wire if entry["step"] == step and entry.get("operation") == operation]


def _epoch_seconds_ms(value: object) -> bool:
    """S8: a JSON number of epoch seconds with at most millisecond precision (never a string)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and abs(value * 1000 - round(value * 1000)) < 1e-3)


def test_amazon_cognito_js_sync_manager_and_sdk_v3(server):
    """cognito-sync.md §9.1 with the real library: two devices of one developer-authenticated identity
    (separate local storage) sync a dataset through `cogid serve`, meet a conflict and resolve it; then the
    SDK v3 client does a ListRecords/UpdateRecords/ListRecords round trip. tests/js/sync.mjs drives the
    clients and logs every request; the server's state is then read back with boto3 over HTTP."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (JS_HARNESS / "node_modules" / "amazon-cognito-js").is_dir():
        pytest.skip("amazon-cognito-js is not installed: run `npm ci --prefix tests/js`")
    provider = "login.sync.app"
    cognito = cogid.local.client("cognito-identity", home=server.home)
    pool_id = cognito.create_identity_pool(IdentityPoolName="jssync", AllowUnauthenticatedIdentities=False,
                                           DeveloperProviderName=provider)["IdentityPoolId"]
    role_arn = make_role(server, pool_id, "jssync-auth")
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role_arn})
    issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={provider: "carol"})
    identity_id = issued["IdentityId"]

    env = {
        "PATH": os.environ["PATH"], "HOME": str(server.home), "COGID_ENDPOINT": server.url,
        "COGID_REGION": "us-east-1", "COGID_POOL_ID": pool_id, "COGID_IDENTITY_ID": identity_id,
        "COGID_TOKEN": issued["Token"],
    }
    done = subprocess.run([node, str(JS_HARNESS / "sync.mjs")], env=env, capture_output=True, text=True,
                          timeout=200)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    wire = result["wire"]

    # What the issue asks: B sees A's values; the conflict ran onConflict; the resolution reached A; v3 works.
    assert result["deviceBSync1"]["seen"] == {"theme": "dark", "level": "7"}
    assert result["final"]["onConflictRan"] is True
    assert result["deviceBSync2"]["conflicts"] == [
        {"key": "theme", "local": "blue", "remote": "light", "remoteSyncCount": 2}]
    assert result["final"]["deviceA"] == {"theme": "blue", "level": "7"}
    assert result["final"]["deviceB"] == {"theme": "blue", "level": "7"}
    assert result["v3"]["firstList"]["DatasetExists"] is False
    assert result["v3"]["updated"] == [{"Key": "k", "Value": "v", "SyncCount": 1}]
    assert result["v3"]["secondList"] == {"Count": 1, "DatasetSyncCount": 1, "DatasetExists": True,
                                          "Records": [{"Key": "k", "Value": "v", "SyncCount": 1}]}

    # Protocol facts from the wire log. No push races a pull here (the conflict is found in ListRecords,
    # §9.1 step 5), so every Sync request succeeds: a 409 would mean the emulator miscounted.
    sync = [entry for entry in wire if entry["path"].startswith("/identitypools/")]
    assert len(sync) == len(wire) - 2  # the rest: each device's GetCredentialsForIdentity
    assert [(entry["step"], entry.get("operation"), entry["status"], entry.get("error")) for entry in wire
            if entry["status"] != 200] == []
    lists = [entry for entry in sync if entry.get("operation") == "listRecords"]
    updates = [entry for entry in sync if entry.get("operation") == "updateRecords"]
    for entry in lists:  # S33: always-present members with their JSON types
        body = entry["responseBody"]
        assert isinstance(body["Records"], list) and body["Count"] == len(body["Records"]), entry
        assert isinstance(body["DatasetSyncCount"], int) and not isinstance(body["DatasetSyncCount"], bool)
        assert isinstance(body["DatasetExists"], bool), entry
        assert body["DatasetDeletedAfterRequestedSyncCount"] is False, entry
        assert isinstance(body["SyncSessionToken"], str) and body["SyncSessionToken"], entry
        assert "MergedDatasetNames" not in body and "NextToken" not in body, entry
    for entry in updates:  # S64: every push of patches gets its records back
        assert len(entry["responseBody"]["Records"]) == len(entry["requestBody"]["RecordPatches"]), entry
    for entry in lists + updates:  # S7 for an identity caller; S8 timestamps
        for record in entry["responseBody"]["Records"]:
            assert record["LastModifiedBy"] == identity_id, record
            assert _epoch_seconds_ms(record["LastModifiedDate"]), record
            assert _epoch_seconds_ms(record["DeviceLastModifiedDate"]), record

    b_pull = _sync_calls(wire, "deviceB.sync1", "listRecords")[0]
    assert [(r["Key"], r["SyncCount"]) for r in b_pull["responseBody"]["Records"]] == [("level", 1), ("theme", 1)]
    [a_push] = _sync_calls(wire, "deviceA.sync2", "updateRecords")
    assert [(p["Op"], p["Key"], p["Value"], p["SyncCount"]) for p in a_push["requestBody"]["RecordPatches"]] == [
        ("replace", "theme", "light", 1)]
    assert result["deviceBSync2"]["operations"] == ["listRecords", "updateRecords", "listRecords"]
    b_conflict_pull = _sync_calls(wire, "deviceB.sync2", "listRecords")[0]["responseBody"]
    assert b_conflict_pull["DatasetSyncCount"] == 2
    assert [(r["Key"], r["Value"], r["SyncCount"]) for r in b_conflict_pull["Records"]] == [("theme", "light", 2)]
    [b_push] = _sync_calls(wire, "deviceB.sync2", "updateRecords")
    assert [(p["Op"], p["Key"], p["Value"], p["SyncCount"]) for p in b_push["requestBody"]["RecordPatches"]] == [
        ("replace", "theme", "blue", 2)]
    assert [(r["Key"], r["Value"], r["SyncCount"]) for r in b_push["responseBody"]["Records"]] == [
        ("theme", "blue", 3)]
    assert result["deviceASync3"]["operations"] == ["listRecords", "listRecords"]  # T67: nothing to push
    assert result["deviceASync3"]["lastSyncCount"] == result["deviceBSync2"]["lastSyncCount"] == 3

    # The server's state, read by a developer over HTTP. Every ListRecords above came without a token, so
    # each one opened a session (S31); read the usage before this test's own ListRecords adds more.
    sync_client = boto3.client(
        "cognito-sync", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id=server.key["AccessKeyId"], aws_secret_access_key=server.key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}))
    pool_usage = sync_client.describe_identity_pool_usage(IdentityPoolId=pool_id)["IdentityPoolUsage"]
    assert pool_usage["SyncSessionsCount"] == sum(1 for entry in sync if entry["method"] == "GET")
    assert pool_usage["DataStorage"] == len("theme" "blue" "level" "7" "k" "v")
    usage = sync_client.describe_identity_usage(IdentityPoolId=pool_id, IdentityId=identity_id)["IdentityUsage"]
    assert (usage["DatasetCount"], usage["DataStorage"]) == (2, 17)
    where = {"IdentityPoolId": pool_id, "IdentityId": identity_id, "DatasetName": "settings"}
    dataset = sync_client.describe_dataset(**where)["Dataset"]
    assert (dataset["NumRecords"], dataset["DataStorage"], dataset["LastModifiedBy"]) == (2, 15, identity_id)
    listed = sync_client.list_records(**where, LastSyncCount=0)
    assert [(r["Key"], r["Value"], r["SyncCount"]) for r in listed["Records"]] == [("level", "7", 1),
                                                                                   ("theme", "blue", 3)]
    assert (listed["Count"], listed["DatasetSyncCount"], listed["DatasetExists"]) == (2, 3, True)
    names = [d["DatasetName"] for d in sync_client.list_datasets(IdentityPoolId=pool_id,
                                                                 IdentityId=identity_id)["Datasets"]]
    assert names == ["settings", "v3data"]
