"""The `-o json` contract: for each command, the keys and JSON types a script's jq path relies
on. A key renamed, dropped or retyped fails here before it breaks someone's pipeline; adding a
key is allowed only where a schema says so ("*" maps, "?" optional keys).

Schema language: "str", "int", "bool"; [item] for a list (checked per item); {"Key": schema}
for an object with exactly those keys ("Key?" may be absent); {"*": schema} for a map whose
keys are data (providers, tags)."""

import json

import pytest
from conftest import DEV, FACEBOOK_APP

TYPES = {"str": str, "int": int, "bool": bool}
CREDENTIALS = {"Version": "int", "AccessKeyId": "str", "SecretAccessKey": "str", "SessionToken": "str",
               "Expiration": "str"}
POOL = {"IdentityPoolId": "str", "IdentityPoolName": "str", "AllowUnauthenticatedIdentities": "bool",
        "AllowClassicFlow?": "bool", "SupportedLoginProviders?": {"*": "str"}, "DeveloperProviderName?": "str",
        "OpenIdConnectProviderARNs?": ["str"], "CognitoIdentityProviders?": [{"*": "str"}],
        "SamlProviderARNs?": ["str"], "IdentityPoolTags?": {"*": "str"}, "Roles?": {"*": "str"},
        "RoleMappings?": {"*": {"*": "str"}}}
CONTRACTS = [
    (("pool", "list"), [{"IdentityPoolId": "str", "IdentityPoolName": "str"}]),
    (("pool", "show"), POOL),
    (("pool", "roles"), {"IdentityPoolId": "str", "Roles": {"*": "str"}, "RoleMappings": {"*": {"*": "str"}}}),
    (("provider", "show"), {"IdentityPoolId": "str", "DeveloperProviderName": "str"}),
    (("token", "issue", "--user", "alice"), {"IdentityId": "str", "Token": "str"}),
    (("identity", "lookup", "--user", "alice"), {"IdentityId": "str", "DeveloperUserIdentifierList": ["str"]}),
    (("identity", "show", "--user", "alice"),
     {"IdentityId": "str", "Authenticated": "bool", "Enabled": "bool", "Logins": ["str"],
      "DeveloperUserIdentifierList": ["str"], "CreationDate": "str", "LastModifiedDate": "str",
      "Datasets": [{"DatasetName": "str", "NumRecords": "int", "DataStorage": "int", "LastModifiedDate": "str"}]}),
    (("identity", "list"), [{"IdentityId": "str", "Logins": ["str"], "CreationDate": "str",
                             "LastModifiedDate": "str"}]),
    (("identity", "create", "--guest"), {"IdentityId": "str"}),
    (("creds", "--user", "alice"), CREDENTIALS),
    (("creds", "--guest"), CREDENTIALS),
    (("social", "token", "facebook", "--subject", "fb-1"), {"Provider": "str", "Subject": "str", "Token": "str"}),
    (("keys", "list"), [{"AccessKeyId": "str", "Status": "str", "CreateDate": "str", "UserName?": "str"}]),
    (("profile", "list"), [{"name": "str", "default": "bool", "backend": "str", "region": "str",
                            "identity_pool_id?": "str", "developer_provider?": "str", "endpoint_url?": "str",
                            "aws_profile?": "str"}]),
    (("sync", "usage"), {"IdentityPoolId": "str", "SyncSessionsCount": "int", "DataStorage": "int",
                         "LastModifiedDate?": "str"}),
    (("sync", "config"), {"IdentityPoolId": "str", "Events": {"*": "str"}, "PushSync?": {"*": "str"},
                          "CognitoStreams?": {"*": "str"}}),
]


def conforms(value, schema, where="$"):
    """The paths at which `value` breaks `schema`."""
    if isinstance(schema, str):
        wanted = TYPES[schema]
        ok = isinstance(value, wanted) and not (wanted is int and isinstance(value, bool))
        return [] if ok else [f"{where}: {type(value).__name__}, not {schema}"]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [fault for index, item in enumerate(value) for fault in conforms(item, schema[0], f"{where}[{index}]")]
    if not isinstance(value, dict):
        return [f"{where}: not an object"]
    if "*" in schema:
        return [fault for key, item in value.items() for fault in conforms(item, schema["*"], f"{where}.{key}")]
    keys = {key.rstrip("?"): key.endswith("?") for key in schema}
    faults = [f"{where}: unexpected key {key}" for key in value if key not in keys]
    faults += [f"{where}: missing {key}" for key, optional in keys.items() if not optional and key not in value]
    for key, item in value.items():
        if key in keys:
            faults += conforms(item, schema[key + "?" if keys[key] else key], f"{where}.{key}")
    return faults


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """One local home with a pool (roles, Facebook, guests), alice with a dataset, and a key,
    shared by the module's tests (each test's own COGID_HOME is overridden for the CLI)."""
    from typer.testing import CliRunner

    from cogid.cli.app import app

    runner = CliRunner(env={"COGID_HOME": str(tmp_path_factory.mktemp("contract"))})

    def run(*args, check=True):
        result = runner.invoke(app, [*args, "-o", "json"], catch_exceptions=False)
        assert result.exit_code == 0 or not check, (args, result.stderr)
        return result.stdout

    run("pool", "create", "app", "--developer-provider", DEV, "--facebook", FACEBOOK_APP, "--allow-guests",
        "--create-roles", "--use")
    run("token", "issue", "--user", "alice")
    run("sync", "put", "--user", "alice", "settings", "theme=dark")
    run("keys", "create")
    return run


@pytest.mark.parametrize(("args", "schema"), CONTRACTS, ids=[" ".join(args[:2]) for args, _ in CONTRACTS])
def test_json_output_keeps_its_contract(populated, args, schema):
    document = json.loads(populated(*args))
    assert conforms(document, schema) == []
    if isinstance(document, list):
        assert document, "an empty list pins nothing: the fixture should give this command something to list"


def test_the_contract_checker_catches_a_renamed_or_retyped_key():
    schema = {"IdentityId": "str", "Token": "str"}
    assert conforms({"IdentityId": "x", "Token": "y"}, schema) == []
    assert conforms({"IdentityID": "x", "Token": "y"}, schema) == ["$: unexpected key IdentityID", "$: missing IdentityId"]
    assert conforms({"IdentityId": 1, "Token": "y"}, schema) == ["$.IdentityId: int, not str"]
