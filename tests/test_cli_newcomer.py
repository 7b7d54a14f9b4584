"""Issue 18: what a new user trips over. One test (or a few) per numbered item, through the CLI."""

import json

import pytest
from conftest import DEV, FACEBOOK_APP


@pytest.fixture
def svc(isolated):
    """boto3 clients of the local service the CLI uses (COGID_HOME), in process."""
    from cogid.local import client

    return lambda name="cognito-identity": client(name, home=isolated)


@pytest.fixture
def facebook(isolated):
    """A test Facebook token for `subject` that the CLI's local service accepts."""
    from cogid.local import mint_social_token

    return lambda subject: mint_social_token("graph.facebook.com", subject, FACEBOOK_APP, home=isolated)


def ok(result):
    assert result.exit_code == 0, result.stderr
    text = result.stdout.strip()
    return json.loads(text) if text.startswith(("{", "[")) else result.stdout


# -- 10. the basic flow on a pool created without AllowClassicFlow ---------------------------

def test_a_pool_without_the_classic_flag_allows_the_basic_flow(cli, svc):
    cognito = svc()
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
    ["pool", "delete", "--delete-roles"],
    ["token", "issue", "--user", "carol"],
    ["token", "issue", "--users-from", "-"],
    ["link", "--user", "alice", "--login", "graph.facebook.com=SOCIAL"],
    ["unlink", "--user", "alice"],
    ["identity", "create", "--guest"],
    ["identity", "merge", "--from", "bob", "--into", "alice"],
    ["identity", "delete", "--user", "bob"],
    ["sync", "put", "--user", "alice", "settings", "theme=light"],
    ["sync", "rm", "--user", "alice", "settings", "theme"],
    ["sync", "delete", "--user", "alice", "settings"],
    ["sync", "config", "--sync-trigger", "arn:aws:lambda:us-east-1:000000000000:function:f"],
    ["keys", "create"],
    ["profile", "add", "other"],
    ["profile", "set", "endpoint_url", "http://127.0.0.1:8800", "--profile", "spare"],
    ["profile", "remove", "spare"],
]


@pytest.mark.parametrize("args", DRY_RUNS, ids=lambda args: " ".join(args[:2]))
def test_dry_run_prints_the_calls_and_changes_nothing(cli, cli_pool, svc, isolated, facebook, args):
    ok(cli("token", "issue", "--user", "alice"))
    ok(cli("token", "issue", "--user", "bob"))
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark"))
    ok(cli("profile", "add", "spare"))
    token = facebook("fb-alice")
    args = [token if arg == "graph.facebook.com=SOCIAL" else arg for arg in args]
    args = [f"graph.facebook.com={token}" if arg == token else arg for arg in args]
    before = _state(svc, isolated)
    result = cli(*args, "--dry-run", input="dave\nerin\n")
    assert result.exit_code == 0, result.stderr
    assert _state(svc, isolated) == before
    planned = [json.loads(line) for line in result.stdout.splitlines()]
    assert planned and all("Operation" in line or "File" in line for line in planned)
    assert token not in result.stdout
    assert "dry run: nothing changed" in result.stderr


def test_dry_run_masks_secrets(cli, cli_pool, facebook):
    token = facebook("fb-alice")
    result = cli("token", "issue", "--user", "alice", "--link", f"facebook={token}", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        # who has that login (see item 1): GetId would make an identity if nobody has
        {"Service": "cognito-identity", "Operation": "GetId",
         "Parameters": {"IdentityPoolId": cli_pool, "Logins": {"graph.facebook.com": "****"}}},
        {"Service": "cognito-identity", "Operation": "GetOpenIdTokenForDeveloperIdentity",
         "Parameters": {"IdentityPoolId": cli_pool, "Logins": {DEV: "****", "graph.facebook.com": "****"}}}]


def test_a_dry_run_masks_a_twitter_consumer_secret(cli, cli_pool):
    for args in (["pool", "create", "tw", "--developer-provider", "login.tw.example", "--twitter", "ck;TOPSECRET"],
                 ["pool", "update", "--twitter", "ck;TOPSECRET"]):
        result = cli(*args, "--dry-run")
        assert result.exit_code == 0, result.stderr
        assert "TOPSECRET" not in result.stdout and '"api.twitter.com": "ck;****"' in result.stdout


def test_a_dry_run_reading_a_stand_in_ends(cli_pool, isolated):
    """A read naming what a dry run would have made is answered with a stand-in: one page, no
    NextToken to follow (a stand-in token led the paging loop round for ever)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COGID_HOME": str(isolated)}
    done = subprocess.run([sys.executable, "-m", "cogid", "sync", "put", "--identity-id", "us-east-1:<new-id>",
                           "settings", "a=b", "--dry-run"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["Operation"] for line in done.stdout.splitlines()] == ["UpdateRecords"]


def test_a_dry_run_link_says_it_cannot_know_of_a_merge(cli, cli_pool, facebook):
    """Who holds a login is asked with GetId, which makes an identity when nobody does: a dry run
    cannot ask, so it says that the real run may refuse (or, allowed, make) a merge."""
    token = facebook("fb-shared")
    ok(cli("link", "--user", "a", "--facebook", token))
    ok(cli("token", "issue", "--user", "b"))
    dry = cli("link", "--user", "b", "--facebook", token, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    unknown = "dry run: whether the graph.facebook.com login belongs to another identity is not known (GetId would ask)"
    assert f"{unknown}; if it does, the real run refuses to merge unless --allow-merge" in dry.stderr
    allowed = cli("link", "--user", "b", "--facebook", token, "--dry-run", "--allow-merge")
    assert f"{unknown}; if it does, the real run merges\n" in allowed.stderr
    assert cli("link", "--user", "b", "--facebook", token).exit_code == 2  # as said


def test_dry_run_masks_a_sync_session_token(cli, cli_pool):
    """AWS's model does not mark SyncSessionToken sensitive; it is a credential all the same."""
    ok(cli("token", "issue", "--user", "alice"))
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark"))
    for args in (("put", "--user", "alice", "settings", "theme=light"), ("rm", "--user", "alice", "settings", "theme")):
        result = cli("sync", *args, "--dry-run")
        assert result.exit_code == 0, result.stderr
        (planned,) = [json.loads(line) for line in result.stdout.splitlines()]
        assert planned["Operation"] == "UpdateRecords" and planned["Parameters"]["SyncSessionToken"] == "****"


def test_a_dry_run_pool_create_shows_the_profile_and_roles_it_would_write(cli, isolated):
    result = cli("pool", "create", "shop", "--developer-provider", "login.shop.example", "--allow-guests",
                 "--create-roles", "--use", "--region", "eu-west-1", "--dry-run")
    assert result.exit_code == 0, result.stderr
    planned = [json.loads(line) for line in result.stdout.splitlines()]
    roles = [line["Parameters"]["RoleName"] for line in planned if line.get("Operation") == "CreateRole"]
    assert roles == ["Cognito_shopAuth_Role_<new-id>", "Cognito_shopUnauth_Role_<new-id>"]
    (written,) = [line["Content"]["profiles"]["local"] for line in planned if "File" in line]
    assert written["region"] == "eu-west-1" and written["identity_pool_id"] == "eu-west-1:<new-id>"
    assert not (isolated / "config.toml").exists() or "shop" not in (isolated / "config.toml").read_text()


# -- 2. what an identity is ----------------------------------------------------------------------

def test_identity_show_says_what_the_identity_is(cli, cli_pool, facebook):
    alice = ok(cli("token", "issue", "--user", "alice"))["IdentityId"]
    ok(cli("link", "--user", "alice", "--facebook", facebook("fb-alice")))
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark"))
    shown = ok(cli("identity", "show", "--user", "alice"))
    assert shown["IdentityId"] == alice and shown["Authenticated"] is True and shown["Enabled"] is True
    assert shown["Logins"] == [DEV, "graph.facebook.com"] and shown["DeveloperUserIdentifierList"] == ["alice"]
    assert shown["CreationDate"] <= shown["LastModifiedDate"]
    assert [(d["DatasetName"], d["NumRecords"]) for d in shown["Datasets"]] == [("settings", 1)]
    guest = ok(cli("identity", "create", "--guest"))["IdentityId"]
    shown = ok(cli("identity", "show", guest))
    assert (shown["Authenticated"], shown["Enabled"], shown["Logins"], shown["Datasets"]) == (False, True, [], [])
    ok(cli("unlink", "--user", "alice", "--facebook", facebook("fb-alice")))
    ok(cli("unlink", "--user", "alice"))
    shown = ok(cli("identity", "show", alice))
    assert (shown["Authenticated"], shown["Enabled"], shown["DeveloperUserIdentifierList"]) == (False, False, [])
    table = cli("identity", "show", guest, "-o", "table")
    assert "Authenticated" in table.stdout and "false" in table.stdout


# -- 3. guests -----------------------------------------------------------------------------------

def test_guest_identity_credentials_and_upgrade(cli, cli_pool):
    guest = ok(cli("identity", "create", "--guest"))["IdentityId"]
    assert ok(cli("identity", "create", "--guest", "-o", "text")).strip() != guest  # GetId: a new guest each time
    creds = ok(cli("creds", "--guest", "--identity-id", guest, "-o", "json"))
    assert set(creds) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert ok(cli("creds", "--guest", "--identity-id", guest, "-o", "json")) == creds  # cached
    env = ok(cli("creds", "--guest", "--identity-id", guest, "-o", "env"))
    assert f"export AWS_ACCESS_KEY_ID={creds['AccessKeyId']}" in env
    basic = ok(cli("creds", "--guest", "--identity-id", guest, "--flow", "basic", "--no-cache", "-o", "json"))
    assert basic["AccessKeyId"] != creds["AccessKeyId"]
    # The guest's user signs in: the same identity becomes alice's.
    assert ok(cli("token", "issue", "--user", "alice", "--identity-id", guest))["IdentityId"] == guest
    shown = ok(cli("identity", "show", "--user", "alice"))
    assert shown["IdentityId"] == guest and shown["Authenticated"] is True


def test_a_new_guest_is_made_once_and_its_credentials_renewed(cli, cli_pool, isolated):
    first = ok(cli("creds", "--guest", "-o", "json"))
    assert ok(cli("creds", "--guest", "-o", "json")) == first
    for cached in (isolated / "cache").glob("*.json"):  # expired: renewed for the same guest
        document = json.loads(cached.read_text())
        cached.write_text(json.dumps({**document, "Expiration": "2000-01-01T00:00:00Z"}))
    renewed = ok(cli("creds", "--guest", "-o", "json"))
    assert renewed["AccessKeyId"] != first["AccessKeyId"]
    identities = ok(cli("identity", "list"))
    assert len(identities) == 1


def test_guest_options_refused(cli, cli_pool):
    assert "give --user USER (a developer user) or --guest" in cli("creds").stderr
    both = cli("creds", "--guest", "--user", "alice")
    assert both.exit_code == 2 and "--user and --guest: give one of them" in both.stderr
    assert cli("creds", "--guest", env={"COGID_USER": "alice"}).exit_code == 0
    alone = cli("creds", "--identity-id", "us-east-1:x")
    assert alone.exit_code == 2 and "give it with --guest" in alone.stderr
    plain = cli("identity", "create")
    assert plain.exit_code == 2 and "pass --guest" in plain.stderr


def test_exec_with_guest_credentials(cli_pool, isolated):
    import os
    import subprocess
    import sys

    env = {**os.environ, "COGID_HOME": str(isolated)}
    done = subprocess.run([sys.executable, "-m", "cogid", "exec", "--guest", "--", sys.executable, "-c",
                           "import os; print(os.environ['AWS_ACCESS_KEY_ID'])"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ASIA")


# -- 1. no silent merges -------------------------------------------------------------------------

def test_a_login_of_another_identity_is_not_merged_unless_asked(cli, cli_pool, facebook):
    alice = ok(cli("link", "--user", "alice", "--facebook", facebook("fb-alice")))["IdentityId"]
    bob = ok(cli("token", "issue", "--user", "bob"))["IdentityId"]
    before = ok(cli("identity", "list"))
    for command in (["link", "--user", "bob", "--facebook", facebook("fb-alice")],
                    ["token", "issue", "--user", "bob", "--link", f"facebook={facebook('fb-alice')}"]):
        refused = cli(*command)
        assert refused.exit_code == 2 and refused.stdout == ""
        assert f"belongs to identity {alice} (developer user 'alice')" in refused.stderr
        assert f"to 'bob''s identity {bob} would merge the two; pass --allow-merge" in refused.stderr
    assert ok(cli("identity", "list")) == before
    merged = cli("link", "--user", "bob", "--facebook", facebook("fb-alice"), "--allow-merge")
    assert ok(merged)["IdentityId"] == bob
    assert f"merged: identity {alice} went into {bob}" in merged.stderr
    assert ok(cli("identity", "show", alice))["Enabled"] is False


@pytest.mark.parametrize("answer, merged", [("n", False), ("y", True)])
def test_at_a_terminal_a_merge_is_asked_about(cli, cli_pool, facebook, isolated, answer, merged):
    import os
    import pty
    import subprocess
    import sys

    alice = ok(cli("link", "--user", "alice", "--facebook", facebook("fb-alice")))["IdentityId"]
    bob = ok(cli("token", "issue", "--user", "bob"))["IdentityId"]
    primary, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "cogid", "link", "--user", "bob", "--facebook",
                                facebook("fb-alice")], stdin=secondary, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "COGID_HOME": str(isolated)}, text=True)
    os.close(secondary)
    os.write(primary, f"{answer}\n".encode())
    out, err = process.communicate(timeout=60)
    os.close(primary)
    assert f"belongs to identity {alice}" in err and "would merge the two. Go on? [y/N]" in err
    assert process.returncode == (0 if merged else 2), err
    assert (ok(cli("identity", "lookup", "--user", "alice"))["IdentityId"] == bob) is merged


def test_a_login_nobody_has_is_linked_without_a_merge_or_a_leftover(cli, cli_pool, facebook):
    bob = ok(cli("token", "issue", "--user", "bob"))["IdentityId"]
    linked = cli("link", "--user", "bob", "--facebook", facebook("fb-bob"))
    assert ok(linked)["IdentityId"] == bob and "merged" not in linked.stderr
    assert [i["IdentityId"] for i in ok(cli("identity", "list"))] == [bob]
    carol = cli("token", "issue", "--user", "carol", "--link", f"facebook={facebook('fb-carol')}")
    assert "merged" not in carol.stderr
    assert ok(cli("identity", "show", "--user", "carol"))["Logins"] == [DEV, "graph.facebook.com"]
    # A login of a user's own identity: nothing to ask.
    assert ok(cli("link", "--user", "bob", "--facebook", facebook("fb-bob")))["IdentityId"] == bob


def test_a_new_user_does_not_join_another_users_identity_unless_asked(cli, cli_pool, facebook):
    alice = ok(cli("link", "--user", "alice", "--facebook", facebook("fb-alice")))["IdentityId"]
    refused = cli("link", "--user", "dave", "--facebook", facebook("fb-alice"))
    assert refused.exit_code == 2 and "would make 'dave' a user of that identity too" in refused.stderr
    assert cli("identity", "lookup", "--user", "dave").exit_code == 4
    assert ok(cli("link", "--user", "dave", "--facebook", facebook("fb-alice"), "--allow-merge"))["IdentityId"] == alice


def test_self_merge_is_a_usage_error(cli, cli_pool):
    ok(cli("token", "issue", "--user", "alice"))
    refused = cli("identity", "merge", "--from", "alice", "--into", "alice")
    assert refused.exit_code == 2 and "cannot be merged into itself" in refused.stderr


# -- 6. leftovers of a deleted pool ------------------------------------------------------------

def test_pool_delete_forgets_the_pool_and_deletes_the_roles_cogid_made(cli, cli_pool, svc):
    iam = svc("iam")
    from cogid.flows import trust_policy

    other = iam.create_role(RoleName="Mine", AssumeRolePolicyDocument=trust_policy(cli_pool, "unauthenticated"))
    other = other["Role"]["Arn"]
    ok(cli("pool", "roles", "--unauth-role", other))
    ok(cli("profile", "add", "second", "--pool", cli_pool))
    result = cli("pool", "delete", "--yes", "--delete-roles")
    assert result.exit_code == 0, result.stderr
    suffix = cli_pool.split(":")[1][:8]
    assert f"Deleted roles: Cognito_appAuth_Role_{suffix}" in result.stderr
    assert "Kept roles cogid did not create for this pool: Mine" in result.stderr
    assert "Profile 'local' no longer names a pool" in result.stderr
    assert "Profile 'second' no longer names a pool" in result.stderr
    # The unauthenticated role cogid made was no longer the pool's (Mine replaced it): left alone.
    assert sorted(role["RoleName"] for role in iam.list_roles()["Roles"]) == [f"Cognito_appUnauth_Role_{suffix}",
                                                                              "Mine"]
    assert "identity_pool_id" not in ok(cli("profile", "show"))
    gone = cli("token", "issue", "--user", "alice")
    assert gone.exit_code == 3 and "has no identity pool" in gone.stderr


def test_pool_delete_keeps_roles_unless_asked(cli, cli_pool, svc):
    ok(cli("pool", "delete", cli_pool, "--yes"))
    assert len(svc("iam").list_roles()["Roles"]) == 2


# -- 9. small things -----------------------------------------------------------------------------

def test_readme_credential_process_example_has_a_region():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme[readme.index("[profile alice]"):].split("```")[0]
    assert "region = " in example and "credential_process = cogid creds --user alice -o json" in example


def test_json_output_where_a_token_belongs_is_refused_naming_the_field(cli, cli_pool):
    social = cli("social", "token", "facebook", "--subject", "10001").stdout  # JSON: not a terminal
    for args in (["link", "--user", "alice", "--facebook", social],
                 ["token", "issue", "--user", "alice", "--link", f"facebook={social}"],
                 ["link", "--user", "alice", "--login", f"graph.facebook.com={social}"]):
        refused = cli(*args)
        assert refused.exit_code == 2, refused.stderr
        assert "got a JSON document where a token belongs: pass its Token field alone (`| jq -r .Token`)" in refused.stderr
    issued = cli("token", "issue", "--user", "alice").stdout  # whose -o text is IdentityId<TAB>Token: not a hint
    refused = cli("token", "decode", issued)
    assert refused.exit_code == 2 and "TOKEN: got a JSON document" in refused.stderr
    assert "pass its Token field alone (`| jq -r .Token`)" in refused.stderr
    text = cli("social", "token", "facebook", "--subject", "10001", "-o", "text").stdout.strip()
    assert ok(cli("link", "--user", "alice", "--facebook", text))["Logins"] == [DEV, "graph.facebook.com"]


def test_unlinking_twice_names_the_login_and_the_identity(cli, cli_pool, facebook):
    alice = ok(cli("link", "--user", "alice", "--facebook", facebook("fb-alice")))["IdentityId"]
    ok(cli("unlink", "--user", "alice", "--facebook", facebook("fb-alice")))
    again = cli("unlink", "--user", "alice", "--facebook", facebook("fb-alice"))
    assert again.exit_code == 5
    assert (f"unlink: graph.facebook.com is not linked to alice's identity {alice} (its logins: {DEV};"
            in again.stderr), again.stderr


@pytest.mark.parametrize("args", [["--link", "myspace="], ["--link", "myspace=x"]])
def test_an_unknown_provider_is_a_usage_error_listing_the_providers(cli, cli_pool, args):
    refused = cli("token", "issue", "--user", "alice", *args)
    assert refused.exit_code == 2
    assert "--link 'myspace': not a login provider: use facebook, google, amazon, apple, twitter" in refused.stderr
    refused = cli("link", "--user", "alice", "--login", "myspace=x")
    assert refused.exit_code == 2 and "--login 'myspace': not a login provider" in refused.stderr


def test_profile_add_refuses_an_aws_profile_that_does_not_exist(cli, tmp_path, monkeypatch):
    (tmp_path / "aws-config").write_text("[default]\nregion = us-east-1\n[profile admin]\n")
    (tmp_path / "aws-credentials").write_text("[ci]\naws_access_key_id = AKIAX\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    refused = cli("profile", "add", "prod", "--backend", "aws", "--aws-profile", "nobody")
    assert refused.exit_code == 2
    assert "--aws-profile 'nobody': no such AWS profile (AWS profiles: admin, ci, default)" in refused.stderr
    assert "prod" not in [p["name"] for p in ok(cli("profile", "list"))]
    assert cli("profile", "set", "aws_profile", "nobody").exit_code == 2
    for name in ("admin", "ci", "default"):
        assert cli("profile", "add", f"p-{name}", "--backend", "aws", "--aws-profile", name).exit_code == 0


# -- 5. bulk issuance's progress -----------------------------------------------------------------

def _progress_seen(isolated, tmp_path, stdin_data=None, users_file=None):
    """Run bulk issuing with stderr on a terminal (a pty): what it drew there, decoded."""
    import os
    import pty
    import subprocess
    import sys

    primary, secondary = pty.openpty()
    env = {**os.environ, "COGID_HOME": str(isolated), "TERM": "xterm", "COLUMNS": "120"}
    source = users_file or "-"
    out = (tmp_path / "tokens.jsonl").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "cogid", "token", "issue", "--users-from", str(source)],
                               stdin=subprocess.PIPE, stdout=out, stderr=secondary, env=env)
    os.close(secondary)
    if stdin_data is not None:
        process.stdin.write(stdin_data.encode())
    process.stdin.close()
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    assert process.wait(60) == 0
    out.close()
    issued = (tmp_path / "tokens.jsonl").read_text().splitlines()
    os.close(primary)
    return issued, drawn.decode("utf-8", "replace")


def test_progress_of_a_file_has_a_bar_and_time_left(cli, cli_pool, isolated, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("".join(f"user{n}\n" for n in range(1500)) + "\n\n")
    issued, drawn = _progress_seen(isolated, tmp_path, users_file=users)
    assert len(issued) == 1500
    assert "/1500" in drawn and "tokens/s" in drawn and "left" in drawn and "━" in drawn


def test_progress_of_a_pipe_has_count_rate_and_elapsed(cli, cli_pool, isolated, tmp_path):
    import re

    issued, drawn = _progress_seen(isolated, tmp_path, stdin_data="".join(f"user{n}\n" for n in range(1500)))
    assert len(issued) == 1500
    assert re.search(r"[\d,]+ tokens", drawn) and "tokens/s" in drawn and "0:00:0" in drawn
    assert "left" not in drawn and "/1500" not in drawn


# -- 4. lists stream -----------------------------------------------------------------------------

def _identities(svc, pool_id, count):
    cognito = svc()
    return [cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={DEV: f"u{n:03}"})[
        "IdentityId"] for n in range(count)]


LISTS = [
    ["identity", "list"],
    ["pool", "list"],
    ["keys", "list"],
    ["sync", "datasets", "--user", "alice"],
    ["profile", "list"],
    ["sync", "outbox"],
]


@pytest.mark.parametrize("command", LISTS, ids=" ".join)
def test_every_list_writes_json_lines(cli, cli_pool, command):
    ok(cli("token", "issue", "--user", "alice"))
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark"))
    ok(cli("keys", "create"))
    as_json = ok(cli(*command, "-o", "json"))
    lines = cli(*command, "-o", "jsonl")
    assert lines.exit_code == 0, lines.stderr
    assert [json.loads(line) for line in lines.stdout.splitlines()] == as_json


def test_max_items_page_size_and_starting_token(cli, cli_pool, svc):
    everyone = _identities(svc, cli_pool, 7)
    seen, token, calls = [], None, 0
    while True:
        args = ["identity", "list", "-o", "jsonl", "--max-items", "3", "--page-size", "2"]
        result = cli(*args, *(["--starting-token", token] if token else []))
        assert result.exit_code == 0, result.stderr
        seen += [json.loads(line)["IdentityId"] for line in result.stdout.splitlines()]
        calls += 1
        if "--starting-token" not in result.stderr:
            break
        assert result.stderr.startswith("3 identities; the next with --starting-token ")
        token = result.stderr.split("--starting-token ")[1].strip()
    assert seen == everyone and calls == 3
    text = ok(cli("identity", "list", "-o", "text", "--max-items", "2"))
    assert [line.split("\t")[0] for line in text.splitlines()] == everyone[:2]
    bad = cli("identity", "list", "--starting-token", "not-a-token")
    assert bad.exit_code == 2 and "--starting-token: not a token this list gave" in bad.stderr


def test_a_table_caps_its_rows_and_says_how_to_see_all(cli, cli_pool, svc):
    everyone = _identities(svc, cli_pool, 103)
    wide = {"COLUMNS": "200"}
    table = cli("identity", "list", "-o", "table", env=wide)
    assert table.exit_code == 0, table.stderr
    assert everyone[99] in table.stdout and everyone[100] not in table.stdout
    assert "The first 100 identities of more: all with -o jsonl or -o text, the next with --starting-token" in (
        table.stderr)
    assert everyone[102] in ok(cli("identity", "list", "-o", "table", "--max-items", "200", env=wide))


@pytest.mark.parametrize("args, most", [
    (["pool", "list"], 60), (["identity", "list"], 60), (["keys", "list"], 1000)])  # sync's larger ones are capped (SQ6)
def test_a_page_size_past_the_operations_limit_is_a_usage_error(cli, cli_pool, args, most):
    for size in (str(most + 1), "9" * 30):
        refused = cli(*args, "--page-size", size)
        assert refused.exit_code == 2, refused.stderr
        assert refused.stderr == f"cogid: error: --page-size {size[:40]}: at most {most} a page\n"
    assert cli(*args, "--page-size", str(most)).exit_code == 0


def test_a_list_writes_each_page_as_it_comes(cli, cli_pool, svc, monkeypatch):
    """Each page is written before the next is asked for: a reader gone after the first line
    (`| head -1`) stops the list there, not after all of it was read."""
    from cogid import clients, output

    _identities(svc, cli_pool, 12)
    events = []
    real_client, real_write = clients.client, output._write_all

    class Counting:
        def __init__(self, client):
            self.client, self.meta = client, client.meta

        def list_identities(self, **params):
            events.append("ask")
            return self.client.list_identities(**params)

    def write(text):
        events.append(f"write {text.count(chr(10))}")
        real_write(text)

    monkeypatch.setattr(clients, "client", lambda *args: Counting(real_client(*args)))
    monkeypatch.setattr(output, "_write_all", write)
    assert cli("identity", "list", "-o", "jsonl", "--page-size", "5").exit_code == 0
    assert events == ["ask", "write 5", "ask", "write 5", "ask", "write 2"]


def test_head_of_a_long_list_over_a_pipe(cli, cli_pool, svc, isolated):
    import os
    import subprocess
    import sys

    everyone = _identities(svc, cli_pool, 150)
    env = {**os.environ, "COGID_HOME": str(isolated)}
    done = subprocess.run(f"{sys.executable} -m cogid identity list -o jsonl --page-size 10 | head -1", shell=True,
                          env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout)["IdentityId"] == everyone[0] and done.stderr == ""


def test_a_dry_run_on_a_fresh_machine_writes_no_file(cli, isolated):
    for args in (["profile", "add", "other"], ["pool", "create", "shop", "--create-roles", "--use"],
                 ["keys", "create"]):
        result = cli(*args, "--dry-run")
        assert result.exit_code == 0, result.stderr
        assert not isolated.exists() or list(isolated.rglob("*")) == [], list(isolated.rglob("*"))


def test_guest_basic_flow_on_a_default_pool_through_the_cli(cli):
    ok(cli("pool", "create", "default", "--allow-guests", "--create-roles", "--use"))
    creds = ok(cli("creds", "--guest", "--flow", "basic", "-o", "json"))
    assert creds["AccessKeyId"].startswith("ASIA")
    ok(cli("pool", "update", "--no-classic-flow"))
    refused = cli("creds", "--guest", "--flow", "basic", "--no-cache")
    assert refused.exit_code == 1 and "Basic (classic) flow is not enabled" in refused.stderr


def test_help_paragraphs_wrap_at_the_terminals_width_not_the_sources(cli):
    """Rich help keeps a docstring's line breaks: each paragraph is one line for the terminal to
    wrap, and an example stays a line of its own."""
    wide = {"COLUMNS": "200"}
    listing = cli("identity", "-h", env=wide).stdout
    assert "authenticated or guest, enabled or disabled, logins, developer user ids, dates" in listing
    assert "(COGID_USER does not count here)" in cli("sync", "-h", env=wide).stdout
    own = cli("serve", "-h", env=wide).stdout
    assert "Developer operations need SigV4 with a key from `cogid keys create`; GetId" in own
    (example,) = [line for line in own.splitlines() if "cogid keys create -o env" in line]
    assert "aws --endpoint-url" not in example  # an example's lines stay lines
