"""cogid quickstart: re-runnable, leaves a working profile, repairs what is missing."""


from conftest import ok


def test_quickstart_runs_twice(cli):
    first = ok(cli("quickstart"))
    assert first["CallerArn"].endswith("/CognitoIdentityCredentials")
    assert first["Logins"] == ["login.quickstart.cogid", "graph.facebook.com"]
    again = ok(cli("quickstart"))
    assert again["IdentityPoolId"] == first["IdentityPoolId"] and again["IdentityId"] == first["IdentityId"]
    assert ok(cli("token", "issue", "--user", "bob"))["IdentityId"] != first["IdentityId"]  # profile adopted
    ok(cli("pool", "delete", "--yes"))  # the profile's pool, gone: the next quickstart's is adopted
    third = ok(cli("quickstart"))
    assert third["IdentityPoolId"] != first["IdentityPoolId"]
    assert ok(cli("profile", "show"))["identity_pool_id"] == third["IdentityPoolId"]
    assert ok(cli("token", "issue", "--user", "bob"))["Token"]

def test_quickstart_leaves_a_profile_with_its_own_pool_and_says_so(cli, cli_pool, isolated):
    refused = cli("quickstart", "--user", "")
    assert refused.exit_code == 2 and "--user '': give a user id of 1 to 1024 characters" in refused.stderr
    assert "cogid-quickstart" not in cli("pool", "list").stdout  # refused before anything was made
    run = cli("quickstart")
    quickstart_pool = ok(run)["IdentityPoolId"]
    assert f"Next: cogid token issue --user bob --pool {quickstart_pool}" in run.stderr
    assert ok(cli("pool", "show"))["IdentityPoolId"] == cli_pool
    assert ok(cli("token", "issue", "--user", "bob", "--pool", quickstart_pool))["Token"]
    ok(cli("profile", "set", "backend", "aws"))  # its pool is then not this machine's: left alone
    run = cli("quickstart")
    assert "Profile 'local' uses the aws backend: left as it is" in run.stderr
    assert f"Next: cogid profile add quickstart --pool {quickstart_pool} --use;" in run.stderr

def test_quickstart_repairs_missing_roles(cli, local):
    first = ok(cli("quickstart"))
    iam = local("iam")
    iam.delete_role(RoleName=first["Roles"]["authenticated"].rsplit("/", 1)[1])
    again = ok(cli("quickstart"))
    assert again["IdentityPoolId"] == first["IdentityPoolId"] and again["CallerArn"].endswith("/CognitoIdentityCredentials")


def test_quickstart_runs_again_after_its_pool_was_changed(cli):
    """The profile it adopted points at its pool: a newcomer's next step is `pool update`."""
    first = ok(cli("quickstart"))
    ok(cli("pool", "update", "--facebook", "1234"))  # its Facebook app, changed: used as it now is
    again = cli("quickstart")
    assert ok(again)["Logins"] == first["Logins"]
    assert ok(cli("pool", "show"))["SupportedLoginProviders"] == {"graph.facebook.com": "1234"}
    ok(cli("pool", "update", "--remove-provider", "facebook"))  # gone: put back, saying so
    again = cli("quickstart")
    assert ok(again)["Logins"] == first["Logins"]
    assert "Facebook logins taken again" in again.stderr
    assert ok(cli("pool", "show"))["SupportedLoginProviders"] == {"graph.facebook.com": "quickstart-facebook-app"}
