"""cogid sync through Typer's CliRunner on the local backend: records, identities, conflicts, exit codes."""

import json
import os
import subprocess
import sys

import pytest

from cogid import flows


def ok(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else result.stdout


def failed(result, code):
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("cogid: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.fixture
def alice(cli, cli_pool):
    """alice's identity id (a developer user of the profile's pool)."""
    return ok(cli("token", "issue", "--user", "alice"))["IdentityId"]


@pytest.fixture
def bob(cli, cli_pool):
    return ok(cli("token", "issue", "--user", "bob"))["IdentityId"]


def records(cli, *args):
    return {r["Key"]: r for r in ok(cli("sync", "show", *args, "-o", "json"))["Records"]}


def test_put_get_show_rm_datasets_delete(cli, alice):
    written = ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark", "lang=en", "empty="))
    assert [(r["Key"], r["Value"], r["SyncCount"], r["LastModifiedBy"]) for r in written["Records"]] == [
        ("theme", "dark", 1, "000000000000"), ("lang", "en", 1, "000000000000"), ("empty", "", 1, "000000000000")]
    assert written["Records"][0]["LastModifiedDate"].endswith("Z")  # timestamps as the other commands write them
    assert cli("sync", "get", "--user", "alice", "settings", "theme").stdout == "dark\n"
    assert cli("sync", "get", "--user", "alice", "settings", "empty").stdout == "\n"
    assert ok(cli("sync", "get", "--user", "alice", "settings", "lang", "-o", "json"))["Value"] == "en"

    removed = ok(cli("sync", "rm", "--user", "alice", "settings", "lang", "--device-id", "phone-1"))
    assert [(r["Key"], r["SyncCount"], "Value" in r) for r in removed["Records"]] == [("lang", 2, False)]
    shown = ok(cli("sync", "show", "--identity-id", alice, "settings", "-o", "json"))
    assert shown["Dataset"]["DatasetName"] == "settings" and shown["Dataset"]["NumRecords"] == 2
    assert shown["DatasetSyncCount"] == 2
    assert [(r["Key"], r.get("Value")) for r in shown["Records"]] == [("empty", ""), ("lang", None), ("theme", "dark")]
    text = ok(cli("sync", "show", "--user", "alice", "settings", "-o", "text")).splitlines()
    assert [line.split("\t")[:4] for line in text] == [
        ["empty", "live", "", "1"], ["lang", "removed", "", "2"], ["theme", "live", "dark", "1"]]
    assert "removed" in cli("sync", "show", "--user", "alice", "settings", "-o", "table").stdout
    failed(cli("sync", "get", "--user", "alice", "settings", "lang"), 4)  # removed: not found
    assert "no record 'nope' in dataset 'settings'" in failed(cli("sync", "get", "-u", "alice", "settings", "nope"), 4)
    failed(cli("sync", "rm", "--user", "alice", "settings", "lang"), 4)  # already removed: nothing written
    assert records(cli, "--user", "alice", "settings")["lang"]["SyncCount"] == 2

    ok(cli("sync", "put", "--user", "alice", "game", "level=7"))
    listed = ok(cli("sync", "datasets", "--user", "alice"))
    assert [(d["DatasetName"], d["NumRecords"], d["IdentityId"]) for d in listed] == [
        ("game", 1, alice), ("settings", 2, alice)]
    assert ok(cli("sync", "datasets", "--user", "alice", "-o", "text")).splitlines()[0].startswith("game\t1\t")
    usage = ok(cli("sync", "usage", "--user", "alice"))
    assert usage["IdentityId"] == alice and usage["DatasetCount"] == 2
    assert ok(cli("sync", "usage"))["DataStorage"] == usage["DataStorage"]

    assert "needs --yes" in failed(cli("sync", "delete", "--user", "alice", "game"), 2)
    deleted = ok(cli("sync", "delete", "--user", "alice", "game", "--yes"))
    assert deleted["Dataset"]["DatasetName"] == "game"
    failed(cli("sync", "show", "--user", "alice", "game"), 4)
    failed(cli("sync", "delete", "--user", "alice", "game", "--yes"), 4)
    failed(cli("sync", "get", "--user", "alice", "game", "level"), 4)


def test_json_input_is_merged_with_the_arguments(cli, alice, tmp_path):
    document = tmp_path / "values.json"
    document.write_text(json.dumps({"theme": "light", "font": "serif"}))
    written = ok(cli("sync", "put", "--user", "alice", "settings", "--json", str(document), "theme=dark"))
    assert {r["Key"]: r["Value"] for r in written["Records"]} == {"theme": "dark", "font": "serif"}
    ok(cli("sync", "put", "--user", "alice", "settings", "--json", "-", input='{"font": "mono"}'))
    assert records(cli, "--user", "alice", "settings")["font"]["Value"] == "mono"


def test_any_text_round_trips_in_json_and_is_escaped_in_tables(cli, alice):
    value = "line1\nline2\t\x1b[31mred\x00 é 😀 \\"
    ok(cli("sync", "put", "--user", "alice", "d", "--json", "-", input=json.dumps({"k\x07": value, "plain": "x"})))
    assert records(cli, "--user", "alice", "d")["k\x07"]["Value"] == value
    assert cli("sync", "get", "--user", "alice", "d", "k\x07").stdout == value + "\n"  # raw, for scripts
    text = ok(cli("sync", "show", "--user", "alice", "d", "-o", "text"))
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text
    assert "k\\x07\tlive\tline1\\nline2\\t\\x1b[31mred\\x00 é 😀 \\\\\t" in text
    table = ok(cli("sync", "show", "--user", "alice", "d", "-o", "table"))
    assert "\x1b" not in table and "\\x1b" in table


def test_as_identity_dry_runs_plan_the_identitys_calls(cli, alice):
    """A dry run has no credentials of the identity to call with (their exchange is not made):
    its calls are planned, the reads with them answered by stand-ins."""
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark"))
    for args in (["put", "settings", "theme=light"], ["rm", "settings", "theme"], ["delete", "settings", "--yes"]):
        result = cli("sync", *args, "--user", "alice", "--as-identity", "--dry-run")
        assert result.exit_code == 0, (args, result.stderr)
        operations = [json.loads(line)["Operation"] for line in result.stdout.splitlines()]
        assert operations[-1] in ("UpdateRecords", "DeleteDataset"), operations
    assert cli("sync", "get", "-u", "alice", "settings", "theme").stdout == "dark\n"  # nothing changed


def test_as_identity_calls_with_the_identitys_own_credentials(cli, alice, bob, cognito, cli_pool):
    written = ok(cli("sync", "put", "--user", "alice", "--as-identity", "settings", "theme=dark"))
    assert written["Records"][0]["LastModifiedBy"] == alice  # an identity caller, not the account
    assert ok(cli("sync", "datasets", "--user", "alice", "--as-identity"))[0]["DatasetName"] == "settings"
    assert cli("sync", "get", "-u", "alice", "--as-identity", "settings", "theme").stdout == "dark\n"
    # Pool-level Sync operations are the developer's.
    assert "--as-identity" in failed(cli("sync", "usage", "--as-identity"), 2)
    # A guest: --identity-id, credentials from GetCredentialsForIdentity with no logins.
    guest = cognito.get_id(IdentityPoolId=cli_pool)["IdentityId"]
    written = ok(cli("sync", "put", "--identity-id", guest, "--as-identity", "notes", "a=1"))
    assert written["Records"][0]["LastModifiedBy"] == guest
    assert ok(cli("sync", "usage", "--identity-id", guest, "--as-identity"))["DatasetCount"] == 1
    # An authenticated identity's credentials need its login: a bare --identity-id is refused.
    failed(cli("sync", "datasets", "--identity-id", bob, "--as-identity"), 5)


def test_an_identity_touching_another_identitys_data_is_denied(cli, alice, bob, monkeypatch):
    ok(cli("sync", "put", "--user", "bob", "settings", "theme=blue"))
    alices = flows.identity_credentials
    with monkeypatch.context() as patched:  # alice's phone, asking for bob's data
        patched.setattr(flows, "identity_credentials", lambda profile, identity_id, user=None: alices(
            profile, alice, "alice"))
        error = failed(cli("sync", "get", "--identity-id", bob, "--as-identity", "settings", "theme"), 5)
        assert "NotAuthorizedException" in error
        failed(cli("sync", "put", "--identity-id", bob, "--as-identity", "settings", "theme=red"), 5)
    assert cli("sync", "get", "--user", "bob", "settings", "theme").stdout == "blue\n"


def _interfere(monkeypatch, times, writes):
    """Make each of the next `times` reads of the command move the dataset first, as another
    device syncing between the command's ListRecords and its UpdateRecords would."""
    real = flows.sync_records
    left = [times]

    def read(sync, pool_id, identity_id, dataset):
        listed = real(sync, pool_id, identity_id, dataset)
        if left[0] > 0:
            left[0] -= 1
            now = {r["Key"]: r for r in real(sync, pool_id, identity_id, dataset)["Records"]}
            patches = [{"Op": "remove" if value is None else "replace", "Key": key, "Value": value or "",
                        "SyncCount": now.get(key, {}).get("SyncCount", 0)} for key, value in writes.items()]
            sync.update_records(IdentityPoolId=pool_id, IdentityId=identity_id, DatasetName=dataset,
                                SyncSessionToken=listed["SyncSessionToken"], RecordPatches=patches)
        return listed

    monkeypatch.setattr(flows, "sync_records", read)


def test_a_stale_write_is_a_conflict_exit_7(cli, alice, monkeypatch):
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark", "lang=en"))
    with monkeypatch.context() as patched:
        _interfere(patched, 1, {"theme": "blue"})
        error = failed(cli("sync", "put", "--user", "alice", "settings", "theme=green", "lang=fr"), 7)
    assert error == ("cogid: error: sync put: conflict: someone else synced first: theme is at sync count 2"
                     " with value 'blue' (--force overwrites)\n")
    now = records(cli, "--user", "alice", "settings")
    assert (now["theme"]["Value"], now["lang"]["Value"]) == ("blue", "en")  # nothing of ours was written

    _interfere(monkeypatch, 1, {"lang": None})  # `rm lang theme` while another device removes lang
    error = failed(cli("sync", "rm", "--user", "alice", "settings", "lang", "theme"), 7)
    assert "lang is at sync count 3, removed" in error


def test_force_reads_again_and_overwrites(cli, alice, monkeypatch):
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark"))
    _interfere(monkeypatch, 2, {"theme": "blue"})
    written = ok(cli("sync", "put", "--user", "alice", "settings", "theme=green", "--force"))
    assert [(r["Key"], r["Value"], r["SyncCount"]) for r in written["Records"]] == [("theme", "green", 4)]
    _interfere(monkeypatch, 3, {"theme": "blue"})  # still moving after 3 attempts: give up
    assert "still moving after 3 attempts" in failed(cli("sync", "put", "-u", "alice", "settings", "theme=x",
                                                         "--force"), 7)


def test_resource_conflict_keeps_its_exit_code_outside_sync(cli, cli_pool):
    # Cognito Identity's ResourceConflictException (a developer provider name taken) is not exit 7.
    result = cli("pool", "create", "other", "--developer-provider", "login.example.app")
    assert result.exit_code == 1 and "ResourceConflictException" in result.stderr


def test_conflict_exit_code_from_a_real_process(cli, alice, isolated):
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark"))
    script = """
import sys
from cogid import flows
real = flows.sync_records
def read(sync, *where):
    listed = real(sync, *where)
    if not hasattr(read, "done"):
        read.done = True
        flows.sync_write(sync, *where, {"theme": "blue"}, verb="x")
    return listed
flows.sync_records = read
sys.argv = ["cogid", "sync", "put", "--user", "alice", "settings", "theme=red"]
from cogid.cli import main
main()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "COGID_HOME": str(isolated)}, timeout=60)
    assert done.returncode == 7, done.stderr
    assert done.stderr == ("cogid: error: sync put: conflict: someone else synced first: theme is at sync count 2"
                           " with value 'blue' (--force overwrites)\n")


@pytest.mark.parametrize("args, message", [
    (["put", "--user", "alice", "s", "theme"], "KEY=VALUE argument 'theme': expected a non-empty KEY"),
    (["put", "--user", "alice", "s", "=dark"], "KEY=VALUE argument '=dark': expected a non-empty KEY"),
    (["put", "--user", "alice", "s", "a=1", "a=2"], "given twice"),
    (["put", "--user", "alice", "s"], "give KEY=VALUE... or --json FILE"),
    (["put", "--user", "alice", "s", "--json", "-"], "--json -: not JSON"),
    (["put", "--user", "alice", "s", "--json", "/nonexistent/x.json"], "--json /nonexistent/x.json: cannot read"),
    (["rm", "--user", "alice", "s", ""], "KEY argument: a key is empty"),
    (["get", "--user", "alice", "--identity-id", "us-east-1:x", "s", "k"], "--user and --identity-id"),
    (["datasets"], "give --user USER or --identity-id ID"),
    (["datasets", "--user", ""], "--user"),
    (["get", "--user", "alice", "s", "k", "-o", "table"], "--output table"),
    (["config", "--streams", "maybe"], "--streams 'maybe': expected enabled or disabled"),
    (["config", "--no-push", "--push-role", "arn:aws:iam::000000000000:role/r"], "--no-push"),
    (["outbox", "--kind", "sms"], "--kind 'sms'"),
])
def test_bad_input_is_a_usage_error(cli, cli_pool, args, message):
    result = cli("sync", *args, input="{oops" if "-" in args else "")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr and result.stderr.count("\n") == 1 and result.stdout == ""


@pytest.mark.parametrize("document, message", [
    ("[]", "expected a JSON object of string values, got an array"),
    ('{"a": 1}', "the value of 'a' is a number: values must be strings"),
    ('{"a": true}', "the value of 'a' is true: values must be strings"),
    ('{"b": null}', "the value of 'b' is null: values must be strings (`cogid sync rm` removes a record)"),
    ('{"": "x"}', "a key is empty"),
    ('{"a": "\\ud800"}', "not text"),
])
def test_json_must_be_an_object_of_strings(cli, alice, document, message):
    result = cli("sync", "put", "--user", "alice", "s", "--json", "-", input=document)
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_user_from_the_environment_gives_way_to_identity_id(cli, alice, bob):
    ok(cli("sync", "put", "--user", "bob", "settings", "who=bob"))
    ok(cli("sync", "put", "settings", "who=alice", env={"COGID_USER": "alice"}))
    assert cli("sync", "get", "settings", "who", env={"COGID_USER": "alice"}).stdout == "alice\n"
    assert cli("sync", "get", "--identity-id", bob, "settings", "who", env={"COGID_USER": "alice"}).stdout == "bob\n"
    failed(cli("sync", "datasets", "--user", "nobody"), 4)  # an unknown user: LookupDeveloperIdentity


def test_config_and_outbox(cli, alice, cli_pool):
    assert ok(cli("sync", "config")) == {"IdentityPoolId": cli_pool, "Events": {}}
    role = "arn:aws:iam::000000000000:role/sync"
    app_arn = "arn:aws:sns:us-east-1:000000000000:app/GCM/phone"
    function = "arn:aws:lambda:us-east-1:000000000000:function:trigger"
    shown = ok(cli("sync", "config", "--stream", "changes", "--stream-role", role, "--streams", "enabled",
                   "--push-app", app_arn, "--push-role", role, "--sync-trigger", function))
    assert shown == {"IdentityPoolId": cli_pool,
                     "PushSync": {"ApplicationArns": [app_arn], "RoleArn": role},
                     "CognitoStreams": {"StreamName": "changes", "RoleArn": role, "StreamingStatus": "ENABLED"},
                     "Events": {"SyncTrigger": function}}
    # Each option changes only what it names.
    shown = ok(cli("sync", "config", "--no-push", "--streams", "disabled", "--sync-trigger", ""))
    assert shown == {"IdentityPoolId": cli_pool,
                     "CognitoStreams": {"StreamName": "changes", "RoleArn": role, "StreamingStatus": "DISABLED"},
                     "Events": {}}
    ok(cli("sync", "config", "--streams", "ENABLED"))

    assert ok(cli("sync", "outbox")) == []
    ok(cli("sync", "put", "--user", "alice", "settings", "theme=dark"))
    entries = ok(cli("sync", "outbox", "--kind", "stream"))
    assert [(e["kind"], e["streamName"], e["data"]["dataSetName"]) for e in entries] == [
        ("stream", "changes", "settings")]
    assert entries[0]["data"]["kinesisSyncRecords"][0]["value"] == "dark"
    assert ok(cli("sync", "outbox", "--kind", "push")) == []
    assert "stream" in ok(cli("sync", "outbox", "-o", "table"))
    assert ok(cli("sync", "outbox", "--clear", "--dry-run")) == {
        "Service": "cogid-local", "Operation": "ClearOutbox",
        "Parameters": {"IdentityPoolId": cli_pool, "Kind": None, "Entries": 1}}
    assert len(ok(cli("sync", "outbox"))) == 1
    assert len(ok(cli("sync", "outbox", "--clear"))) == 1
    assert ok(cli("sync", "outbox")) == []


def test_outbox_belongs_to_the_local_backend(cli, cli_pool):
    ok(cli("profile", "add", "remote", "--backend", "aws", "--region", "us-east-1", "--pool", cli_pool))
    error = failed(cli("sync", "outbox", "-p", "remote"), 2)
    assert "the Cognito Sync outbox belongs to the local backend" in error


def test_quickstart_syncs_as_the_identity_and_runs_twice(cli):
    for run, count in ((1, 1), (2, 2)):  # the second run writes at the current count: no conflict
        result = cli("quickstart")
        document = ok(result)
        assert document["Sync"]["DatasetName"] == "settings", run
        [record] = document["Sync"]["Records"]
        assert (record["Key"], record["Value"], record["SyncCount"]) == ("theme", "dark", count)
        assert record["LastModifiedBy"] == document["IdentityId"]  # written with alice's own credentials
        assert f"6. Cognito Sync: as the identity, put theme=dark in dataset settings (sync count {count})" in (
            result.stderr)


# -- from an adversarial sweep (each failed before its fix) -------------------------------------


def run_cogid(isolated, *args, close=(), stderr=None):
    """cogid in a real process, with some of its standard streams closed (`<&-`, `>&-`)."""
    def closing():
        for fd in close:
            os.close(fd)
    return subprocess.run([sys.executable, "-m", "cogid", *args], preexec_fn=closing, capture_output=stderr is None,
                          stderr=stderr, text=True, env={**os.environ, "COGID_HOME": str(isolated)}, timeout=60)


def test_a_closed_stdin_reads_as_empty_and_not_a_terminal(isolated, alice):
    done = run_cogid(isolated, "sync", "delete", "--user", "alice", "settings", close=(0,))
    assert done.returncode == 2 and "needs --yes when not run from a terminal" in done.stderr, done.stderr
    done = run_cogid(isolated, "sync", "put", "--user", "alice", "settings", "--json", "-", close=(0,))
    assert done.returncode == 2 and done.stderr.startswith("cogid: error: --json -: "), done.stderr


def test_a_closed_stdout_is_refused_before_anything_is_done(isolated, alice):
    done = subprocess.run(f"{sys.executable} -m cogid sync put --user alice settings k=v >&-", shell=True,
                          capture_output=False, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "COGID_HOME": str(isolated)}, timeout=60)
    assert done.returncode == 1 and done.stderr == (
        "cogid: error: stdout is closed: cogid writes its results there (redirect it, to /dev/null if unwanted)\n")
    assert done.returncode == 1


def test_a_status_line_that_cannot_be_written_does_not_fail_a_done_write(cli, isolated, alice):
    with open("/dev/full", "w") as full:
        done = run_cogid(isolated, "sync", "put", "--user", "alice", "settings", "k=v", stderr=full)
    assert done.returncode == 0
    assert records(cli, "--user", "alice", "settings")["k"]["Value"] == "v"


def test_a_json_document_naming_a_key_twice_is_refused(cli, alice):
    result = cli("sync", "put", "--user", "alice", "s", "--json", "-", input='{"a": "1", "a": "2"}')
    assert result.exit_code == 2 and "--json -: the key 'a' is given twice" in result.stderr, result.stderr
    result = cli("sync", "put", "--user", "alice", "s", "--json", "-", input="{}")
    assert result.exit_code == 2 and "--json -: the object is empty" in result.stderr, result.stderr


def test_usage_without_options_is_the_pools_even_with_cogid_user_set(cli, alice):
    ok(cli("sync", "put", "--user", "alice", "settings", "k=v"))
    usage = ok(cli("sync", "usage", "-o", "json", env={"COGID_USER": "alice"}))
    assert "IdentityPoolId" in usage and "IdentityId" not in usage
    assert ok(cli("sync", "usage", "--user", "alice", "-o", "json"))["IdentityId"] == alice


def test_as_identity_with_an_identity_id_says_only_guests_can(cli, alice):
    message = failed(cli("sync", "get", "--identity-id", alice, "--as-identity", "settings", "k"), 5)
    assert "--as-identity with --identity-id works for guest identities only" in message
    assert "--user" in message


def test_get_of_a_key_that_is_not_text_is_a_usage_error(cli, alice):
    assert "not text" in failed(cli("sync", "get", "--user", "alice", "settings", "\udcff"), 2)
