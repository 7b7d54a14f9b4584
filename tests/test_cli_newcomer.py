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
