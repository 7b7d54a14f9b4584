"""Real clients other than boto3 against `cogid serve`: the AWS CLI and the AWS SDK for JavaScript v3.

Each test skips (with the reason) only when its tool is missing; CI installs both
(`npm ci --prefix tests/js` for the JavaScript SDK).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
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
