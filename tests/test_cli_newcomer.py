"""Issue 18: what a new user trips over. One test (or a few) per numbered item, through the CLI."""

import json

import pytest
from conftest import DEV, FACEBOOK_APP


def ok(result):
    assert result.exit_code == 0, result.stderr
    text = result.stdout.strip()
    return json.loads(text) if text.startswith(("{", "[")) else result.stdout


# -- 10. the basic flow on a pool created without AllowClassicFlow ---------------------------

def test_a_pool_without_the_classic_flag_allows_the_basic_flow(cli, cognito):
    pool = ok(cli("pool", "create", "default", "--developer-provider", DEV, "--allow-guests"))
    assert "AllowClassicFlow" not in pool
    assert "AllowClassicFlow" not in ok(cli("pool", "show", pool["IdentityPoolId"]))
    guest = cognito.get_id(IdentityPoolId=pool["IdentityPoolId"])["IdentityId"]
    assert cognito.get_open_id_token(IdentityId=guest)["IdentityId"] == guest
    off = ok(cli("pool", "create", "off", "--no-classic-flow", "--allow-guests"))
    assert off["AllowClassicFlow"] is False
    guest = cognito.get_id(IdentityPoolId=off["IdentityPoolId"])["IdentityId"]
    with pytest.raises(cognito.exceptions.InvalidParameterException, match="Basic \\(classic\\) flow is not enabled"):
        cognito.get_open_id_token(IdentityId=guest)


# -- 8. --dry-run ------------------------------------------------------------------------------

def _state(local, isolated):
    """Everything a command could change: config.toml, pools, identities, roles, keys, Sync data."""
    cognito, sync, iam = local("cognito-identity"), local("cognito-sync"), local("iam")

    def answer(response):
        response.pop("ResponseMetadata", None)
        return response

    state = {"config": (isolated / "config.toml").read_text(), "pools": []}
    for pool in cognito.list_identity_pools(MaxResults=60)["IdentityPools"]:
        pool_id = pool["IdentityPoolId"]
        identities = cognito.list_identities(IdentityPoolId=pool_id, MaxResults=60)["Identities"]
        state["pools"].append([
            answer(cognito.describe_identity_pool(IdentityPoolId=pool_id)),
            answer(cognito.get_identity_pool_roles(IdentityPoolId=pool_id)),
            identities,
            [sync.list_datasets(IdentityPoolId=pool_id, IdentityId=i["IdentityId"]).get("Datasets")
             for i in identities],
            answer(sync.get_identity_pool_configuration(IdentityPoolId=pool_id)),
        ])
    state["roles"] = iam.list_roles()["Roles"]
    state["keys"] = iam.list_access_keys()["AccessKeyMetadata"]
    return json.dumps(state, default=str, sort_keys=True)


DRY_RUNS = [
    ["pool", "create", "shop", "--developer-provider", "login.shop", "--create-roles", "--allow-guests", "--use"],
    ["pool", "update", "--name", "renamed", "--no-guests"],
    ["pool", "roles", "--auth-role", "arn:aws:iam::000000000000:role/Other"],
    ["token", "issue", "--user", "carol"],
    ["token", "issue", "--users-from", "-"],
    ["link", "--user", "alice", "--login", "graph.facebook.com=SOCIAL"],
    ["unlink", "--user", "alice"],
    ["identity", "delete", "--user", "bob"],
    ["sync", "put", "--user", "alice", "settings", "theme=light"],
    ["sync", "rm", "--user", "alice", "settings", "theme"],
    ["sync", "delete", "--user", "alice", "settings"],
    ["sync", "config", "--sync-trigger", "arn:aws:lambda:us-east-1:000000000000:function:f"],
    ["keys", "create"],
    ["profile", "add", "other"],
    ["profile", "set", "aws_profile", "admin", "--profile", "spare"],
    ["profile", "remove", "spare"],
]


@pytest.mark.parametrize("args", DRY_RUNS, ids=lambda args: " ".join(args[:2]))
def test_dry_run_prints_the_calls_and_changes_nothing(cli, cli_pool, local, isolated, social, args):
    ok(cli("token", "issue", "--user", "alice"))
    ok(cli("token", "issue", "--user", "bob"))
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark"))
    ok(cli("profile", "add", "spare"))
    token = social("fb-alice")
    args = [token if arg == "graph.facebook.com=SOCIAL" else arg for arg in args]
    args = [f"graph.facebook.com={token}" if arg == token else arg for arg in args]
    before = _state(local, isolated)
    result = cli(*args, "--dry-run", input="dave\nerin\n")
    assert result.exit_code == 0, result.stderr
    assert _state(local, isolated) == before
    planned = [json.loads(line) for line in result.stdout.splitlines()]
    assert planned and all("Operation" in line or "File" in line for line in planned)
    assert token not in result.stdout
    assert "dry run: nothing changed" in result.stderr


def test_dry_run_masks_secrets(cli, cli_pool, social):
    token = social("fb-alice")
    result = cli("token", "issue", "--user", "alice", "--link", f"facebook={token}", "--dry-run")
    planned = ok(result)
    assert planned == {"Service": "cognito-identity", "Operation": "GetOpenIdTokenForDeveloperIdentity",
                       "Parameters": {"IdentityPoolId": cli_pool,
                                      "Logins": {DEV: "****", "graph.facebook.com": "****"}}}
