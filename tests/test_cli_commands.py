"""Every command through Typer's CliRunner on the local backend: exact JSON, stderr, exit codes."""

import json
import os
import stat
import time

import jwt
import pytest
from conftest import DEV, FACEBOOK_APP


def ok(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else result.stdout


# -- profiles --------------------------------------------------------------------------------

def test_fresh_machine_has_the_local_profile(cli, isolated):
    assert ok(cli("profile", "list")) == [{"name": "local", "default": True, "backend": "local", "region": "us-east-1"}]
    assert ok(cli("profile", "show")) == {"name": "local", "backend": "local", "region": "us-east-1"}
    assert ok(cli("profile", "path")) == {"config": str(isolated / "config.toml"), "data": str(isolated)}
    assert ok(cli("profile", "path", "-o", "text")) == f"config\t{isolated / 'config.toml'}\ndata\t{isolated}\n"


def test_profile_add_set_use_show_remove(cli, isolated, tmp_path, monkeypatch):
    (tmp_path / "aws-config").write_text("[profile admin]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    result = cli("profile", "add", "prod", "--backend", "aws", "--aws-profile", "admin", "--region", "eu-west-1")
    assert result.exit_code == 0 and "Added profile 'prod'" in result.stderr and result.stdout == ""
    assert stat.S_IMODE((isolated / "config.toml").stat().st_mode) == 0o600
    assert ok(cli("profile", "set", "identity_pool_id", "eu-west-1:abc", "--profile", "prod")) == ""
    assert ok(cli("profile", "show", "prod")) == {"name": "prod", "backend": "aws", "region": "eu-west-1",
                                                   "identity_pool_id": "eu-west-1:abc", "aws_profile": "admin"}
    ok(cli("profile", "use", "prod"))
    assert [p["name"] for p in ok(cli("profile", "list")) if p["default"]] == ["prod"]
    assert ok(cli("profile", "show", env={"COGID_REGION": "ap-south-1"}))["region"] == "ap-south-1"
    assert ok(cli("profile", "show", env={"COGID_PROFILE": "local"}))["name"] == "local"
    ok(cli("profile", "remove", "prod", "--yes"))
    assert [p["name"] for p in ok(cli("profile", "list"))] == ["local"]


def test_profile_changes_made_at_once_are_all_kept(isolated):
    """Each command reads, changes and writes config.toml under a lock: none loses another's."""
    import subprocess
    import sys

    names = [f"p{i}" for i in range(8)]
    runs = [subprocess.Popen([sys.executable, "-m", "cogid", "profile", "add", name], stderr=subprocess.PIPE)
            for name in names]
    assert [run.wait(60) for run in runs] == [0] * len(names)
    listed = subprocess.run([sys.executable, "-m", "cogid", "profile", "list", "-o", "json"],
                            capture_output=True, check=True).stdout
    assert {p["name"] for p in json.loads(listed)} == {"local", *names}


def test_a_symlinked_config_is_written_where_it_points(cli, isolated, tmp_path):
    dotfiles = tmp_path / "dotfiles" / "cogid.toml"
    dotfiles.parent.mkdir()
    dotfiles.write_text("version = 1\n")
    isolated.mkdir(exist_ok=True)
    (isolated / "config.toml").symlink_to(dotfiles)
    ok(cli("profile", "add", "linked"))
    assert (isolated / "config.toml").is_symlink() and "[profiles.linked]" in dotfiles.read_text()


# -- pools and providers ---------------------------------------------------------------------

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


def test_text_output_is_one_line_per_row_with_json_for_nested_values(cli, cli_pool):
    ok(cli("pool", "update", "--name", "tab\there\nnew\rline",
           "--user-pool", "cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc:client1"))
    assert ok(cli("pool", "list", "-o", "text")) == f"{cli_pool}\ttab\\there\\nnew\\rline\n"
    alice = ok(cli("token", "issue", "--user", "a\\tb"))["IdentityId"]  # a backslash, then "t"
    assert ok(cli("identity", "lookup", "--user", "a\\tb", "-o", "text")) == f"{alice}\ta\\\\tb\n"
    fields = dict(line.split("\t", 1) for line in ok(cli("pool", "show", "-o", "text")).splitlines())
    assert json.loads(fields["CognitoIdentityProviders"]) == [{
        "ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc", "ClientId": "client1",
        "ServerSideTokenCheck": False}]


def test_pool_roles_show_and_set(cli, cli_pool):
    roles = ok(cli("pool", "roles"))
    assert set(roles["Roles"]) == {"authenticated", "unauthenticated"} and roles["RoleMappings"] == {}
    arn = "arn:aws:iam::000000000000:role/Other"
    assert ok(cli("pool", "roles", "--auth-role", arn))["Roles"] == {**roles["Roles"], "authenticated": arn}
    assert ok(cli("pool", "show"))["Roles"]["authenticated"] == arn


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


# -- tokens ----------------------------------------------------------------------------------

def test_token_issue_json_text_and_same_identity(cli, cli_pool):
    first = ok(cli("token", "issue", "--user", "alice"))
    assert set(first) == {"IdentityId", "Token"} and first["IdentityId"].startswith("us-east-1:")
    identity, token = ok(cli("token", "issue", "--user", "alice", "-o", "text")).rstrip("\n").split("\t")
    assert identity == first["IdentityId"] and token.count(".") == 2
    via_env = ok(cli("token", "issue", env={"COGID_USER": "alice"}))
    assert via_env["IdentityId"] == first["IdentityId"]


def test_token_issue_options(cli, cli_pool, social):
    issued = ok(cli("token", "issue", "--user", "alice", "--duration", "3600", "--tag", "team=blue",
                    "--link", f"facebook={social('fb-alice')}"))
    claims = jwt.decode(issued["Token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}
    assert "graph.facebook.com" in claims["amr"]
    guest = ok(cli("identity", "list"))
    assert guest[0]["Logins"] == [DEV, "graph.facebook.com"]


def test_token_issue_upgrades_a_guest(cli, cli_pool, cognito):
    guest = cognito.get_id(IdentityPoolId=cli_pool)["IdentityId"]
    assert ok(cli("token", "issue", "--user", "bob", "--identity-id", guest))["IdentityId"] == guest


def test_token_decode_explains_and_verifies(cli, cli_pool):
    token = ok(cli("token", "issue", "--user", "alice"))["Token"]
    decoded = ok(cli("token", "decode", token))
    assert decoded["Header"]["alg"] == "RS512" and decoded["Claims"]["aud"] == cli_pool
    verified = cli("token", "decode", "-", "--verify", input=token + "\n")
    assert verified.exit_code == 0 and json.loads(verified.stdout)["Verified"] is True
    assert "Verified: RS512 signature" in verified.stderr
    text = ok(cli("token", "decode", token, "-o", "text"))
    assert f"identity pool (aud)\t{cli_pool}\n" in text and "authentication (amr)\tauthenticated via " + DEV in text


@pytest.mark.parametrize("mangle, why", [
    (lambda t: t[:-6] + ("AAAAAA" if not t.endswith("AAAAAA") else "BBBBBB"), "Signature verification failed"),
    (lambda t: ".".join([jwt.utils.base64url_encode(b'{"alg":"none","kid":"cognito-1"}').decode()] + t.split(".")[1:2])
     + ".", "algorithm 'none' is not RS512"),
])
def test_token_verify_failures_exit_5(cli, cli_pool, mangle, why):
    token = ok(cli("token", "issue", "--user", "alice"))["Token"]
    result = cli("token", "decode", mangle(token), "--verify")
    assert result.exit_code == 5 and result.stdout == ""
    assert result.stderr.startswith("cogid: error: token verification failed: ") and why in result.stderr


def test_token_verify_wrong_audience_exit_5(cli, cli_pool):
    token = ok(cli("token", "issue", "--user", "alice"))["Token"]
    result = cli("token", "decode", token, "--verify", "--audience", "us-east-1:00000000-0000-0000-0000-000000000000")
    assert result.exit_code == 5 and "Audience doesn't match" in result.stderr


def test_users_from_streams_json_lines_and_reports_bad_lines(cli, cli_pool, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("alice\nbob\n\n" + "x" * 1025 + "\ncarol\n")
    result = cli("token", "issue", "--users-from", users)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["User"] for line in lines] == ["alice", "bob", "carol"]
    assert all(set(line) == {"User", "IdentityId", "Token"} for line in lines)
    assert result.stderr.splitlines()[0].startswith("cogid: error: line 4: ValidationException: ")
    assert result.stderr.splitlines()[-1] == "cogid: error: 1 user(s) failed"
    from_stdin = cli("token", "issue", "--users-from", "-", input="alice\n")
    assert from_stdin.exit_code == 0 and json.loads(from_stdin.stdout)["IdentityId"] == lines[0]["IdentityId"]


# -- links and identities --------------------------------------------------------------------

def test_link_and_unlink_social_login(cli, cli_pool, social):
    alice = ok(cli("token", "issue", "--user", "alice"))["IdentityId"]
    fb = social("fb-alice")
    linked = cli("link", "--facebook", fb, env={"COGID_USER": "alice"})
    assert ok(linked) == {"IdentityId": alice, "Logins": [DEV, "graph.facebook.com"]}
    assert f"Linked graph.facebook.com to alice's identity {alice}" in linked.stderr
    assert ok(cli("unlink", "--user", "alice", "--facebook", fb)) == {"IdentityId": alice, "Logins": [DEV]}
    assert ok(cli("unlink", "--user", "alice")) == {"IdentityId": alice, "Logins": []}
    assert ok(cli("token", "issue", "--user", "alice"))["IdentityId"] != alice


def test_identity_lookup_show_list_merge_delete(cli, cli_pool):
    alice = ok(cli("token", "issue", "--user", "alice"))["IdentityId"]
    bob = ok(cli("token", "issue", "--user", "bob"))["IdentityId"]
    assert ok(cli("identity", "lookup", "--user", "alice")) == {"IdentityId": alice, "DeveloperUserIdentifierList": ["alice"]}
    assert ok(cli("identity", "merge", "--from", "bob", "--into", "alice")) == {"IdentityId": alice}
    assert ok(cli("identity", "lookup", alice))["DeveloperUserIdentifierList"] == ["alice", "bob"]
    shown = ok(cli("identity", "show", "--user", "bob"))
    assert shown["IdentityId"] == alice and shown["Logins"] == [DEV]
    assert shown["DeveloperUserIdentifierList"] == ["alice", "bob"]
    assert shown["CreationDate"].endswith("Z")
    listed = ok(cli("identity", "list"))
    assert [i["IdentityId"] for i in listed] == [alice, bob]
    assert [i["IdentityId"] for i in ok(cli("identity", "list", "--hide-disabled"))] == [alice]
    assert ok(cli("identity", "delete", bob, "--yes")) == {"Deleted": [bob], "UnprocessedIdentityIds": [], "NotFound": []}
    again = cli("identity", "delete", bob, "--yes")
    assert again.exit_code == 4 and json.loads(again.stdout)["NotFound"] == [bob]
    assert again.stderr.splitlines()[-1] == f"cogid: error: not found: {bob}"
    assert [i["IdentityId"] for i in ok(cli("identity", "list"))] == [alice]


# -- credentials -----------------------------------------------------------------------------

def test_creds_json_is_the_credential_process_object_and_is_cached(cli, cli_pool, isolated):
    first = ok(cli("creds", "--user", "alice", "-o", "json"))
    assert list(first) == ["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]
    assert first["Version"] == 1 and first["AccessKeyId"].startswith("ASIA") and first["Expiration"].endswith("Z")
    assert ok(cli("creds", "--user", "alice", "-o", "json")) == first
    cached = list((isolated / "cache").iterdir())
    assert len(cached) == 1 and stat.S_IMODE(cached[0].stat().st_mode) == 0o600
    assert ok(cli("creds", "--user", "alice", "-o", "json", "--no-cache"))["AccessKeyId"] != first["AccessKeyId"]


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


def test_a_twitter_test_token_links_with_the_twitter_option(cli, cli_pool):
    ok(cli("pool", "update", "--twitter", "consumer;secret"))
    token = ok(cli("social", "token", "twitter", "--subject", "t-1", "-o", "text")).strip()
    linked = ok(cli("link", "--user", "alice", "--twitter", token))
    assert "api.twitter.com" in linked["Logins"]


def test_social_token_is_accepted_as_that_provider(cli, cli_pool, cognito):
    minted = ok(cli("social", "token", "facebook", "--subject", "10001"))
    assert minted["Provider"] == "graph.facebook.com" and minted["Subject"] == "10001"
    identity = cognito.get_id(IdentityPoolId=cli_pool, Logins={"graph.facebook.com": minted["Token"]})["IdentityId"]
    assert cognito.describe_identity(IdentityId=identity)["Logins"] == ["graph.facebook.com"]
    assert jwt.decode(minted["Token"], options={"verify_signature": False})["aud"] == FACEBOOK_APP


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


def test_exec_passes_credentials_and_exit_code(isolated, cli, cli_pool):
    import subprocess
    import sys

    probe = ("import os, sys; ok = os.environ['AWS_ACCESS_KEY_ID'].startswith('ASIA') and 'AWS_PROFILE' not in os.environ;"
             " sys.exit(7 if ok else 1)")
    env = {**os.environ, "AWS_PROFILE": "someone-else"}
    done = subprocess.run([sys.executable, "-m", "cogid", "exec", "--user", "alice", "--", sys.executable, "-c", probe],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 7, done.stderr


def _cogid(*args):
    """cogid as a process of its own, in a new session so a test can signal its whole group."""
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "cogid", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def _first_line(process, timeout=20):
    """The first line the process writes, failing (not hanging) if none comes in time."""
    import select

    assert select.select([process.stdout], [], [], timeout)[0], "no output in time"
    return process.stdout.readline()


def _interrupt_group_when(process, ready, timeout=20):
    import signal

    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    return process.communicate(timeout=timeout)


def test_exec_leaves_ctrl_c_to_the_command_and_reports_how_it_ended(cli_pool, tmp_path):
    started = tmp_path / "started"
    script = (f"trap 'echo got-INT >&2' INT; touch {started}; sleep 2 & wait; echo finished; exit 3")
    child = _cogid("exec", "--user", "alice", "--", "sh", "-c", script)
    out, err = _interrupt_group_when(child, started.exists)
    assert (child.returncode, out, err) == (3, b"finished\n", b"got-INT\n")

    terminated = _cogid("exec", "--user", "alice", "--", "sh", "-c", "kill -TERM $$")
    assert terminated.wait(20) == 143  # 128 + SIGTERM, as a shell says it


def test_exec_options_after_the_command_are_the_commands(cli_pool):
    child = _cogid("exec", "--user", "alice", "printf", "%s|", "--region", "--help")
    out, err = child.communicate(timeout=20)
    assert (child.returncode, out) == (0, b"--region|--help|"), err


def test_users_from_a_slow_pipe_streams_each_token_as_its_line_comes(cli_pool):
    child = _cogid("token", "issue", "--users-from", "-")
    child.stdin.write(b"first\n")
    child.stdin.flush()
    assert json.loads(_first_line(child))["User"] == "first"  # while stdin is still open
    child.stdin.write(b"\xff\xfe\nsecond\n")
    out, err = child.communicate(timeout=20)
    assert json.loads(out)["User"] == "second" and child.returncode == 1
    assert err.decode().splitlines() == ["cogid: error: line 2: not UTF-8 text (byte 1)",
                                         "cogid: error: 1 user(s) failed"]


def test_users_from_exits_with_nothing_but_its_messages_on_stderr(cli_pool):
    # Python 3.11's process pool could race its own exit hook and print a traceback there.
    for _ in range(12):
        child = _cogid("token", "issue", "--users-from", "-")
        out, err = child.communicate(b"first\n\xff\nsecond\n", timeout=20)
        assert [json.loads(line)["User"] for line in out.splitlines()] == ["first", "second"]
        assert err.decode().splitlines() == ["cogid: error: line 2: not UTF-8 text (byte 1)",
                                             "cogid: error: 1 user(s) failed"]


def test_users_from_reports_an_overlong_line_and_goes_on(cli_pool):
    child = _cogid("token", "issue", "--users-from", "-")
    out, err = child.communicate(b"alice\n" + b"b" * 10_000_000 + b"\n" + b"c" * 65536 + b"\r\nbob\n", timeout=20)
    assert [json.loads(line)["User"] for line in out.splitlines()] == ["alice", "bob"]
    assert err.decode().splitlines()[0] == "cogid: error: line 2: longer than 65536 bytes"
    assert err.decode().splitlines()[1].startswith("cogid: error: line 3: ValidationException")  # 65536: kept whole
    assert err.decode().splitlines()[2:] == ["cogid: error: 2 user(s) failed"]


def test_ctrl_c_while_cogid_starts_exits_130_without_a_traceback():
    """Ctrl-C lands in the imports of the first ~100 ms as often as in a command."""
    import subprocess
    import sys

    starting = (
        "import sys, cogid.cli\n"
        "class Interrupted:\n"
        "    def find_spec(self, name, *args):\n"
        "        if name == 'cogid.cli.app':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupted())\n"
        "sys.argv = ['cogid', 'pool', 'list']\n"
        "cogid.cli.main()\n"
    )
    run = subprocess.run([sys.executable, "-c", starting], capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stderr) == (130, "")


def test_users_from_stops_quietly_on_ctrl_c_and_on_a_closed_pipe_while_input_waits(cli_pool):
    import signal
    import subprocess

    interrupted = _cogid("token", "issue", "--users-from", "-")
    interrupted.stdin.write(b"alice\n")
    interrupted.stdin.flush()
    assert json.loads(_first_line(interrupted))["User"] == "alice"
    os.killpg(interrupted.pid, signal.SIGINT)  # stdin stays open: no more input is coming
    try:
        assert interrupted.wait(20) == 130
    finally:
        interrupted.stdin.close()
    assert interrupted.stderr.read() == b""

    reader_gone = _cogid("token", "issue", "--users-from", "-")
    reader_gone.stdout.close()
    reader_gone.stdin.write(b"".join(b"user%d\n" % n for n in range(200)))
    reader_gone.stdin.flush()  # and stays open
    try:
        assert reader_gone.wait(30) == 141
    except subprocess.TimeoutExpired:
        reader_gone.kill()
        raise
    finally:
        reader_gone.stdin.close()
    assert reader_gone.stderr.read() == b""


def test_users_from_fails_cleanly_when_a_worker_process_is_killed(cli_pool):
    import signal

    child = _cogid("token", "issue", "--users-from", "-")
    child.stdin.write(b"alice\n")
    child.stdin.flush()
    assert json.loads(_first_line(child))["User"] == "alice"  # the workers are up
    from pathlib import Path

    (worker, *_) = map(int, Path(f"/proc/{child.pid}/task/{child.pid}/children").read_text().split())
    os.kill(worker, signal.SIGKILL)  # as the kernel's OOM killer would
    try:
        child.stdin.write(b"".join(b"user%d\n" % n for n in range(100)))
        child.stdin.flush()
    except BrokenPipeError:
        pass  # cogid may already have stopped
    try:
        assert child.wait(30) == 1
    finally:
        child.stdin.close()
    assert child.stderr.read().decode().splitlines()[-1] == (
        "cogid: error: a worker process stopped unexpectedly (killed, or out of memory?)")


def test_a_table_to_a_closed_pipe_stops_quietly(cli_pool):
    reader_gone = _cogid("identity", "list", "-o", "table")
    reader_gone.stdout.close()
    assert reader_gone.wait(20) == 141 and reader_gone.stderr.read() == b""


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_long_output_to_a_pipe_closed_midway_is_exit_141(cli_pool, cognito, monkeypatch, unbuffered):
    for n in range(800):  # ~120 KB of JSON: more than a pipe holds
        cognito.get_open_id_token_for_developer_identity(IdentityPoolId=cli_pool, Logins={DEV: f"u{n}"})
    monkeypatch.setenv("PYTHONUNBUFFERED", unbuffered)  # under -u a write can take part of the data
    reader_gone = _cogid("identity", "list", "-o", "json")
    assert reader_gone.stdout.read(6) == b'[\n  {\n'
    reader_gone.stdout.close()
    assert reader_gone.wait(20) == 141 and reader_gone.stderr.read() == b""


def test_users_from_an_unknown_pool_fails_once_before_reading(cli, cli_pool, cognito):
    cognito.delete_identity_pool(IdentityPoolId=cli_pool)  # the profile still names it
    result = cli("token", "issue", "--users-from", "-", input="alice\nbob\n")
    assert result.exit_code == 4 and result.stderr.count("\n") == 1 and result.stdout == ""


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


def test_quickstart_repairs_missing_roles(cli, local):
    first = ok(cli("quickstart"))
    iam = local("iam")
    iam.delete_role(RoleName=first["Roles"]["authenticated"].rsplit("/", 1)[1])
    again = ok(cli("quickstart"))
    assert again["IdentityPoolId"] == first["IdentityPoolId"] and again["CallerArn"].endswith("/CognitoIdentityCredentials")


def test_pool_override_uses_that_pools_developer_provider(cli, cli_pool):
    other = ok(cli("pool", "create", "other", "--developer-provider", "login.other"))["IdentityPoolId"]
    issued = ok(cli("token", "issue", "--user", "x", "--pool", other))
    claims = jwt.decode(issued["Token"], options={"verify_signature": False})
    assert claims["aud"] == other and claims["amr"][1] == "login.other"
    assert ok(cli("identity", "lookup", "--user", "x", env={"COGID_IDENTITY_POOL_ID": other}))["IdentityId"] == issued["IdentityId"]


def test_the_profile_follows_the_pool_it_is_pointed_at(cli, cli_pool, isolated):
    import tomllib

    def stored():
        return tomllib.loads((isolated / "config.toml").read_text())["profiles"]["local"]

    other = ok(cli("pool", "create", "other", "--developer-provider", "login.other"))["IdentityPoolId"]
    ok(cli("provider", "show", "--pool", other))
    assert ok(cli("provider", "set", "login.other", "--pool", other))["DeveloperProviderName"] == "login.other"
    assert stored()["identity_pool_id"] == cli_pool and stored()["developer_provider"] == DEV  # not its pool

    europe = ok(cli("pool", "create", "eu", "--developer-provider", "login.eu", "--region", "eu-west-1", "--use"))
    assert stored() == {**stored(), "identity_pool_id": europe["IdentityPoolId"], "region": "eu-west-1",
                        "developer_provider": "login.eu"}
    assert ok(cli("pool", "show"))["IdentityPoolId"] == europe["IdentityPoolId"]

    cli("profile", "set", "identity_pool_id", europe["IdentityPoolId"])  # the same pool: nothing changes
    assert stored()["developer_provider"] == "login.eu"
    cli("profile", "set", "identity_pool_id", other)
    assert stored()["region"] == "us-east-1" and "developer_provider" not in stored()
    claims = jwt.decode(ok(cli("token", "issue", "--user", "x"))["Token"], options={"verify_signature": False})
    assert claims["aud"] == other and claims["amr"][1] == "login.other"
    cli("profile", "set", "identity_pool_id", "")
    assert "identity_pool_id" not in stored()


def test_every_aws_region_shape_is_a_region(cli):
    for region in ("us-gov-west-1", "cn-north-1", "eusc-de-east-1", "ap-southeast-5"):
        assert cli("profile", "add", f"p-{region}", "--backend", "aws", "--region", region).exit_code == 0


def test_the_built_in_profile_cannot_be_removed(cli):
    result = cli("profile", "remove", "local", "--yes")
    assert result.exit_code == 2 and "profile 'local' is built in and not stored" in result.stderr


def test_a_config_that_is_not_utf8_is_a_config_error(cli, isolated):
    isolated.mkdir(parents=True, exist_ok=True)
    (isolated / "config.toml").write_bytes(b"\xff\xfe")
    result = cli("profile", "list")
    assert result.exit_code == 3 and "not valid TOML" in result.stderr and result.stderr.count("\n") == 1


def _unsigned_token(claims):
    import base64

    def part(document):
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS512', 'kid': 'k'})}.{part(claims)}.c2ln"


@pytest.mark.parametrize("claims", [
    {"amr": 5}, {"amr": "authenticated"}, {"https://aws.amazon.com/tags": "x"},
    {"https://aws.amazon.com/tags": {"principal_tags": [1]}}, {"https://aws.amazon.com/tags": {"principal_tags": {"a": []}}},
    {"iat": 1e20, "exp": 1e20}, {"exp": -1e12}, {"exp": "soon"},
])
def test_token_decode_shows_claims_of_any_shape(cli, claims):
    for fmt in ("json", "table"):
        result = cli("token", "decode", _unsigned_token(claims), "-o", fmt)
        assert result.exit_code == 0 and result.stderr == "", result.stderr


def test_token_decode_refuses_nan_which_json_has_not(cli):
    result = cli("token", "decode", _unsigned_token({"exp": float("nan")}), "-o", "json")
    assert result.exit_code == 2 and "not a JWT (its JSON holds NaN or Infinity)" in result.stderr


def test_terminal_control_characters_in_data_are_shown_as_escapes(cli, cli_pool):
    """A token to decode may come from anywhere: its claims never drive the terminal."""
    token = _unsigned_token({"sub": "\x1b]0;pwned\x07\x1b[31mred", "aud": "a\tb"})
    for fmt in ("table", "text"):
        shown = cli("token", "decode", token, "-o", fmt, env={"COLUMNS": "200"}).stdout
        assert "\x1b" not in shown and "\x07" not in shown and "\\x1b]0;pwned\\x07\\x1b[31mred" in shown
    assert "a\\tb" in cli("token", "decode", token, "-o", "text").stdout


def test_token_decode_of_binary_input_is_a_usage_error(cli):
    result = cli("token", "decode", "-", input=b"\xff\xfe.x.y")
    assert result.exit_code == 2 and "not a JWT" in result.stderr


@pytest.mark.parametrize("jwks, says", [
    ({"keys": "x"}, "has no list of keys"),
    ({"keys": [{"kid": "cognito-1"}]}, "key 'cognito-1' of the issuer's JWKS is malformed"),
    ({"keys": [{"kid": "cognito-1", "e": "AQAB", "n": "!!"}]}, "is malformed"),
])
def test_verifying_against_a_malformed_jwks_is_a_failed_verification(cli, cli_pool, monkeypatch, jwks, says):
    from cogid import clients

    token = ok(cli("token", "issue", "--user", "alice"))["Token"]
    monkeypatch.setattr(clients, "jwks", lambda profile, refresh=False: jwks)
    result = cli("token", "decode", token, "--verify", "--audience", cli_pool)
    assert result.exit_code == 5 and says in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("damage", ["[1, 2]", '"text"', '{"Expiration": "2099-01-01T00:00:00Z"}', "{not json"])
def test_a_damaged_credentials_cache_entry_is_a_miss(cli, cli_pool, isolated, damage):
    first = ok(cli("creds", "--user", "alice", "-o", "json"))
    (entry,) = (isolated / "cache").glob("*.json")
    entry.write_text(damage)
    again = ok(cli("creds", "--user", "alice", "-o", "json"))
    assert again["AccessKeyId"].startswith("ASIA") and again["AccessKeyId"] != first["AccessKeyId"]
    assert json.loads(entry.read_text())["AccessKeyId"] == again["AccessKeyId"]  # rewritten whole


def test_a_damaged_store_is_a_config_error_naming_it(cli, cli_pool, isolated):
    store = isolated / "local.sqlite3"
    for extra in ("-wal", "-shm"):
        (isolated / f"local.sqlite3{extra}").unlink(missing_ok=True)
    from cogid.local.service import close_services

    close_services()
    store.write_bytes(b"not a database at all" * 100)
    result = cli("pool", "list")
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert f"local store: {store}: file is not a database" in result.stderr


def test_a_store_damaged_past_its_first_page_is_a_config_error_naming_it(cli, cli_pool, isolated):
    """Damage found mid-call (not on opening) is the store's, not a service fault to retry."""
    from cogid.local.service import close_services

    close_services()  # checkpoints the WAL into the file
    store = isolated / "local.sqlite3"
    intact = store.read_bytes()[:4096]  # the header and the schema
    store.write_bytes(intact + b"\xff" * (store.stat().st_size - 4096))
    result = cli("pool", "list")
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert f"local store: {store}: database disk image is malformed" in result.stderr


def test_errors_show_control_characters_as_escapes(cli, cli_pool):
    result = cli("identity", "lookup", "--user", "\x1b[31mred\x07")
    assert result.exit_code == 4 and "\\x1b[31mred\\x07" in result.stderr and "\x1b" not in result.stderr


def test_tables_show_data_verbatim_and_whole(cli, cli_pool):
    ok(cli("token", "issue", "--user", "[bold]eve[/bold]"))
    table = cli("identity", "lookup", "--user", "[bold]eve[/bold]", "-o", "table", env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "[bold]eve[/bold]" in table.stdout
    shown = cli("token", "issue", "--user", "alice", "-o", "table", env={"COLUMNS": "80"}).stdout.splitlines()
    assert any(line.startswith("│ Token") and "(below)" in line for line in shown)
    assert shown[-2] == "Token:"  # then the token whole, on a line of its own: copied from a terminal, it works
    assert ok(cli("token", "decode", shown[-1], "--verify"))["Verified"] is True


def test_confirmations_need_yes_off_a_terminal(cli):
    key = ok(cli("keys", "create"))["AccessKeyId"]
    refused = cli("keys", "delete", key)
    assert refused.exit_code == 2 and "needs --yes when not run from a terminal" in refused.stderr
    assert [k["AccessKeyId"] for k in ok(cli("keys", "list"))] == [key]


def test_bulk_issue_applies_tags_and_refuses_single_user_options(cli, cli_pool):
    tagged = cli("token", "issue", "--users-from", "-", "--tag", "team=blue", input="alice\nbob\n")
    assert tagged.exit_code == 0
    for line in tagged.stdout.splitlines():
        claims = jwt.decode(json.loads(line)["Token"], options={"verify_signature": False})
        assert claims["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}
    refused = cli("token", "issue", "--users-from", "-", "--identity-id", "us-east-1:abc", input="alice\n")
    assert refused.exit_code == 2 and refused.stdout == ""


def test_verify_needs_an_audience(cli, cli_pool):
    token = ok(cli("token", "issue", "--user", "alice"))["Token"]
    ok(cli("profile", "add", "nopool"))
    refused = cli("token", "decode", token, "--verify", "-p", "nopool")
    assert refused.exit_code == 2 and "--verify checks the audience too" in refused.stderr
    assert ok(cli("token", "decode", token, "--verify", "-p", "nopool", "--audience", cli_pool))["Verified"] is True
