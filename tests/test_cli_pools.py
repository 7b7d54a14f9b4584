"""Pools and developer providers: create (with roles), update, roles, delete, provider."""


import json

import jwt
import pytest
from conftest import DEV, FACEBOOK_APP, ok


def test_pool_create_with_roles_and_use(cli, isolated):
    result = cli("pool", "create", "shop", "--developer-provider", DEV, "--facebook", FACEBOOK_APP,
                 "--allow-guests", "--create-roles", "--tag", "team=blue", "--use")
    pool = ok(result)
    pool_id = pool["IdentityPoolId"]
    suffix = pool_id.split(":")[1][:8]
    assert pool == {
        "IdentityPoolId": pool_id, "IdentityPoolName": "shop", "AllowUnauthenticatedIdentities": True,
        "SupportedLoginProviders": {"graph.facebook.com": FACEBOOK_APP},
        "DeveloperProviderName": DEV, "IdentityPoolTags": {"team": "blue"},
        "Roles": {"authenticated": f"arn:aws:iam::000000000000:role/Cognito_shopAuth_Role_{suffix}",
                  "unauthenticated": f"arn:aws:iam::000000000000:role/Cognito_shopUnauth_Role_{suffix}"},
    }
    assert f"Created identity pool {pool_id} (shop)" in result.stderr
    assert ok(cli("profile", "show"))["identity_pool_id"] == pool_id
    assert ok(cli("pool", "show")) == pool
    assert ok(cli("pool", "list")) == [{"IdentityPoolId": pool_id, "IdentityPoolName": "shop"}]
    assert ok(cli("pool", "list", "-o", "text")) == f"{pool_id}\tshop\n"

def test_pool_update_keeps_what_is_left_out(cli, cli_pool):
    updated = ok(cli("pool", "update", "--name", "renamed", "--google", "client.apps", "--no-guests"))
    assert updated["IdentityPoolName"] == "renamed" and updated["AllowUnauthenticatedIdentities"] is False
    assert updated["SupportedLoginProviders"] == {"graph.facebook.com": FACEBOOK_APP, "accounts.google.com": "client.apps"}
    assert updated["DeveloperProviderName"] == DEV and updated["AllowClassicFlow"] is True
    removed = ok(cli("pool", "update", "--remove-provider", "google"))
    assert removed["SupportedLoginProviders"] == {"graph.facebook.com": FACEBOOK_APP}
    user_pool = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc:client1"
    ok(cli("pool", "update", "--user-pool", user_pool))
    twice = ok(cli("pool", "update", "--user-pool", user_pool))
    assert [(p["ProviderName"], p["ClientId"]) for p in twice["CognitoIdentityProviders"]] == [
        ("cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc", "client1")]

def test_pool_roles_show_and_set(cli, cli_pool):
    roles = ok(cli("pool", "roles"))
    assert set(roles["Roles"]) == {"authenticated", "unauthenticated"} and roles["RoleMappings"] == {}
    arn = "arn:aws:iam::000000000000:role/Other"
    assert ok(cli("pool", "roles", "--auth-role", arn))["Roles"] == {**roles["Roles"], "authenticated": arn}
    assert ok(cli("pool", "show"))["Roles"]["authenticated"] == arn

@pytest.mark.parametrize("document, says", [
    ("[]", "--mappings: expected a JSON object of login provider: mapping, got an array"),
    ("null", "--mappings: expected a JSON object of login provider: mapping, got null"),
    ('""', "--mappings: expected a JSON object of login provider: mapping, got a string"),
    ("0", "--mappings: expected a JSON object of login provider: mapping, got a number"),
    ('{"graph.facebook.com": "s"}', "--mappings: the mapping of 'graph.facebook.com' must be a JSON object, not a string"),
])
def test_role_mappings_that_are_no_mappings_are_refused_and_change_nothing(cli, cli_pool, document, says):
    mapping = {"graph.facebook.com": {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}}
    ok(cli("pool", "roles", "--mappings", "-", input=json.dumps(mapping)))
    refused = cli("pool", "roles", "--mappings", "-", input=document)
    assert refused.exit_code == 2 and refused.stderr == f"cogid: error: {says}\n"
    assert ok(cli("pool", "roles"))["RoleMappings"] == mapping  # not wiped
    assert ok(cli("pool", "roles", "--mappings", "-", input="{}"))["RoleMappings"] == {}  # asked for: cleared


def test_pool_delete_asks_unless_yes(cli, cli_pool):
    refused = cli("pool", "delete")
    assert refused.exit_code == 2 and "needs --yes" in refused.stderr
    assert ok(cli("pool", "delete", "--yes")) == ""
    gone = cli("pool", "show", cli_pool)
    assert gone.exit_code == 4 and f"IdentityPool '{cli_pool}' not found." in gone.stderr

def test_provider_show_and_set_once(cli):
    pool_id = ok(cli("pool", "create", "bare", "--use"))["IdentityPoolId"]
    assert ok(cli("provider", "show")) == {"IdentityPoolId": pool_id, "DeveloperProviderName": None}
    assert ok(cli("provider", "set", "login.first")) == {"IdentityPoolId": pool_id, "DeveloperProviderName": "login.first"}
    assert ok(cli("provider", "show", "-o", "text")) == "login.first\n"
    refused = cli("provider", "set", "login.second")
    assert refused.exit_code == 2
    assert refused.stderr == ("cogid: error: the pool's developer provider is already 'login.first'; AWS never "
                              "lets it change (create a new pool for a new name)\n")

def test_pool_create_rolls_back_when_roles_fail(cli, local, monkeypatch):
    from cogid.local.iam.iam import IAM

    def refuse(*_args, **_kwargs):
        from cogid.local.errors import LimitExceeded

        raise LimitExceeded("no more roles")

    made = []
    original = IAM.create_role

    def second_fails(self, caller, **kwargs):
        if made:
            refuse()
        made.append(kwargs["role_name"])
        return original(self, caller, **kwargs)

    monkeypatch.setattr(IAM, "create_role", second_fails)
    failed = cli("pool", "create", "x" * 60, "--developer-provider", DEV, "--allow-guests", "--create-roles")
    assert failed.exit_code == 1 and "no more roles" in failed.stderr
    assert ok(cli("pool", "list")) == []
    assert local("iam").list_roles()["Roles"] == []
    monkeypatch.setattr(IAM, "create_role", original)
    retried = ok(cli("pool", "create", "x" * 60, "--developer-provider", DEV, "--allow-guests", "--create-roles"))
    assert all(len(arn.rsplit("/", 1)[1]) <= 64 for arn in retried["Roles"].values())

def test_pool_override_uses_that_pools_developer_provider(cli, cli_pool):
    other = ok(cli("pool", "create", "other", "--developer-provider", "login.other"))["IdentityPoolId"]
    issued = ok(cli("token", "issue", "--user", "x", "--pool", other))
    claims = jwt.decode(issued["Token"], options={"verify_signature": False})
    assert claims["aud"] == other and claims["amr"][1] == "login.other"
    assert ok(cli("identity", "lookup", "--user", "x", env={"COGID_IDENTITY_POOL_ID": other}))["IdentityId"] == issued["IdentityId"]

def test_confirmations_need_yes_off_a_terminal(cli):
    key = ok(cli("keys", "create"))["AccessKeyId"]
    refused = cli("keys", "delete", key)
    assert refused.exit_code == 2 and "needs --yes when not run from a terminal" in refused.stderr
    assert [k["AccessKeyId"] for k in ok(cli("keys", "list"))] == [key]
