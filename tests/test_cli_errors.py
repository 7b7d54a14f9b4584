"""Bad invocations: one clear line on stderr, the documented exit code, no traceback, nothing changed."""

import hashlib

import pytest
from conftest import DEV

NO_POOL = "us-east-1:00000000-0000-0000-0000-000000000000"

CASES = [
    # (arguments, exit code, what stderr says)
    (["token", "issue", "--user", "alice", "--pool", "bad"], 2, "--pool: identity_pool_id 'bad' is not REGION:UUID"),
    (["pool", "list", "--region", "mars"], 2, "--region: region 'mars' is not an AWS region such as us-east-1"),
    (["profile", "add", ""], 2, "profile name '': use 1 to 64 letters, digits"),
    (["profile", "add", "p" * 65], 2, "use 1 to 64 letters, digits"),
    (["profile", "add", "e", "--endpoint-url", "notaurl"], 2, "endpoint_url 'notaurl' is not an http:// or https://"),
    (["token", "issue", "--user", "alice", "--pool", NO_POOL], 4, f"IdentityPool '{NO_POOL}' not found."),
    (["token", "issue", "--user", "alice", "-p", "nope"], 3, "profile 'nope' does not exist"),
    (["token", "issue", "--user", "alice", "--duration", "0"], 2, "'--duration': 0 is not in the range 1<=x<=86400"),
    (["token", "issue", "--user", "alice", "--duration", "86401"], 2, "--duration"),
    (["token", "issue", "--user", "alice", "--duration", "soon"], 2, "'soon' is not a valid int"),
    (["token", "issue", "--user", "x" * 1025], 1, "Member must have length less than or equal to 1024"),
    (["token", "issue"], 2, "give --user USER or --users-from FILE"),
    (["token", "issue", "--user", "alice", "--users-from", "-"], 2, "give --user USER or --users-from FILE"),
    (["token", "issue", "--users-from", "/no/such/file"], 2, "'--users-from'"),
    # A malformed login is not quoted: what it holds may be a provider's token.
    (["token", "issue", "--user", "alice", "--link", "facebook:EAAGsecret"], 2, "--link: expected PROVIDER=TOKEN"),
    (["token", "issue", "--user", "alice", "--link", "facebook=garbage"], 5, "cannot verify real graph.facebook.com"),
    (["token", "issue", "--user", "alice", "--identity-id", NO_POOL], 4, "not found"),
    (["token", "issue", "--user", "alice", "--tag", "novalue"], 2, "--tag 'novalue': expected KEY=VALUE"),
    (["token", "issue", "--user", "alice", "-o", "xml"], 2, "--output xml: this command writes json, table, text"),
    (["token", "decode", "not-a-token"], 2, "TOKEN: not a JWT"),
    (["token", "decode", "-"], 2, "TOKEN: not a JWT"),
    (["link", "--user", "alice"], 2, "give a login to link"),
    (["link", "--user", "alice", "--myspace", "x"], 2, "No such option: --myspace"),
    (["link", "--user", "alice", "--login", "EAAGsecret"], 2, "--login: expected PROVIDER=TOKEN"),
    (["link", "--facebook", "x"], 2, "Missing option '--user'"),
    (["unlink", "--user", "nobody"], 4, "Developer user 'nobody' not found."),
    (["creds"], 2, "give --user USER (a developer user) or --guest"),
    (["creds", "--user", "alice", "--flow", "sideways"], 2, "--flow sideways: expected enhanced or basic"),
    (["creds", "--user", "alice", "--flow", "basic", "--duration", "100"], 2, "100 is not in the range 900<=x<=43200"),
    (["creds", "--user", "alice", "--role-arn", "arn:aws:iam::000000000000:role/Nope", "--flow", "basic"], 5,
     "AccessDenied"),
    (["exec", "--user", "alice"], 2, "give the command to run after --"),
    (["creds", "--user", "newbie", "--duration", "900"], 2, "--duration applies to --flow basic only"),
    (["creds", "--user", "newbie", "--role-arn", "arn:aws:iam::000000000000:role/R"], 2,
     "--role-arn applies to --flow basic only"),
    (["creds", "--user", "newbie", "--flow", "basic", "--role-arn", "notanarn"], 2, "expected an IAM role ARN"),
    (["token", "decode", "x.y.z", "--verify", "-p", "empty"], 2, "not a JWT"),
    (["profile", "remove", "empty"], 2, "needs --yes when not run from a terminal"),
    (["exec", "--user", "alice", "--", "/no/such/program"], 2, "command not found: /no/such/program"),
    (["pool", "list", "-o", "env"], 2, "--output env: this command writes json, jsonl, table, text"),
    (["pool", "show", NO_POOL], 4, f"IdentityPool '{NO_POOL}' not found."),
    (["pool", "show", "-p", "empty"], 3, "profile 'empty' has no identity pool"),
    (["pool", "create", "bad/name"], 1, "at 'identityPoolName' failed to satisfy constraint"),
    (["pool", "create", "x", "--tag", "novalue"], 2, "--tag 'novalue': expected KEY=VALUE"),
    (["pool", "create", "x", "--user-pool", "nocolon"], 2, "--user-pool 'nocolon'"),
    (["pool", "create", "x", "--create-roles", "--auth-role", "arn:aws:iam::000000000000:role/R"], 2,
     "--create-roles makes the roles"),
    (["pool", "create", "x", "--developer-provider", DEV], 1, "ResourceConflictException"),
    (["pool", "delete", "--yes", "--pool", NO_POOL], 4, "not found"),
    (["pool", "update", "--remove-provider", "google"], 2, "--remove-provider google: the pool has no such provider"),
    (["pool", "update", "--remove-provider", "google", "--google", "newid"], 2,
     "--remove-provider google: that provider is also being added; give one or the other"),
    (["provider", "set", "login.other"], 2, "AWS never lets it change"),
    (["identity", "show", NO_POOL], 4, "not found"),
    (["identity", "show"], 2, "give an IDENTITY_ID or --user USER"),
    (["identity", "lookup", "--user", "nobody"], 4, "Developer user 'nobody' not found."),
    (["identity", "merge", "--from", "nobody", "--into", "alice"], 4, "Developer user 'nobody' not found."),
    (["identity", "delete"], 2, "give IDENTITY_ID... or --user USER"),
    (["social", "token", "myspace", "--subject", "1"], 2, "PROVIDER 'myspace': expected one of facebook"),
    (["social", "token", "google", "--subject", "1"], 3, "has no google app id"),
    (["keys", "create", "-p", "empty"], 2, "profile 'empty' uses the aws backend: keys are made by"),
    (["keys", "list", "-p", "remote"], 2, "profile 'remote' reaches the local service at http://127.0.0.1:9"),
    (["social", "token", "facebook", "--subject", "s", "-p", "remote", "--audience", "a"], 3,
     "profile 'remote': no AWS credentials to call http://127.0.0.1:9 with"),
    (["profile", "add", "empty"], 2, "profile 'empty' already exists"),
    (["profile", "add", "other", "--backend", "azure"], 2, "backend must be one of local, aws"),
    (["profile", "use", "nope"], 3, "profile 'nope' does not exist"),
    (["profile", "set", "colour", "blue"], 2, "unknown setting 'colour'"),
    (["profile", "set", "developer_provider", "bad name!"], 2, "is not a name of 1 to 128 letters, digits"),
    (["profile", "set", "aws_profile", "x\ny"], 2, "aws_profile 'x\\ny' holds a character that cannot be printed"),
    (["profile", "add", "uu", "--backend", "aws", "--aws-profile", "\udcff"], 2, "holds a character that cannot"),
    # Empty values given (a script's unset variable) are refused, never taken as "not given".
    (["pool", "delete", "", "--yes"], 2, "POOL_ID: identity_pool_id must be a non-empty string"),
    (["pool", "delete", "--pool", "", "--yes"], 2, "--pool: identity_pool_id must be a non-empty string"),
    (["pool", "show", "--region", ""], 2, "--region: region must be a non-empty string"),
    (["unlink", "--user", "alice", "--facebook", ""], 2, "--facebook: the token is empty"),
    (["link", "--user", "alice", "--google", ""], 2, "--google: the token is empty"),
    (["pool", "create", "x", "--facebook", ""], 2, "--facebook: the app id is empty"),
    (["social", "token", "facebook", "--subject", ""], 2, "--subject: the user's id at the provider is empty"),
    (["token", "issue", "--user", ""], 2, "Invalid value for '--user' / '-u' (env var: 'COGID_USER'): the value is empty"),
    (["creds", "--user", ""], 2, "Invalid value for '--user' / '-u' (env var: 'COGID_USER'): the value is empty"),
    (["identity", "lookup", "--user", ""], 2, "Invalid value for '--user'"),
    (["pool", "create", "x", "--developer-provider", ""], 2, "Invalid value for '--developer-provider': the value is"),
    (["pool", "roles", "--auth-role", ""], 2, "Invalid value for '--auth-role': the value is empty"),
    (["social", "token", "facebook", "--subject", "1", "--audience", ""], 2, "Invalid value for '--audience'"),
    (["token", "issue", "--users-from", "/proc/self/mem"], 2, "--users-from /proc/self/mem: cannot read:"),
    (["pool", "roles", "--mappings", "/proc/self/mem"], 2, "--mappings /proc/self/mem: cannot read:"),
    (["token", "issue", "--user", "alice", "--region", "eu-west-1"], 3, "is in us-east-1, but the region is eu-west-1"),
    (["profile", "set", "region", "eu-west-1"], 2, "is in us-east-1, but the region is eu-west-1"),
    (["profile", "add", "x", "--region", "eu-west-1", "--pool", NO_POOL], 2, "is in us-east-1, but the region is"),
    (["exec", "--user", "alice", "-o", "json", "--", "true"], 2, "No such option: -o (the command to run goes after"),
    (["pool", "create", "x", "--twitter", "onlykey"], 2, "--twitter: expected CONSUMER_KEY;CONSUMER_SECRET"),
    (["token", "issue", "--user", "alice", "--tag", "k=1", "--tag", "k=2"], 2, "--tag 'k': k is given twice"),
    (["link", "--user", "alice", "--login", "facebook=A", "--login", "graph.facebook.com=B"], 2,
     "--login 'graph.facebook.com': graph.facebook.com is given twice"),
    (["link", "--user", "alice", "--facebook", "A", "--login", "facebook=B"], 2,
     "--login 'facebook': graph.facebook.com is given twice"),
    (["pool", "show", "-p", ""], 2, "--profile: the profile name is empty"),
    (["pool", "show", "-o", ""], 2, "--output: the format is empty; this command writes json, table, text"),
    (["nosuch"], 2, "No such command 'nosuch'."),
    (["--bogus"], 2, "No such option: --bogus"),
]


@pytest.fixture
def world(cli, cli_pool, isolated):
    """A pool with alice, a profile with no pool (aws backend, never contacted) and one that
    reaches a local service over HTTP (never contacted)."""
    assert cli("token", "issue", "--user", "alice").exit_code == 0
    assert cli("profile", "add", "empty", "--backend", "aws").exit_code == 0
    assert cli("profile", "add", "remote", "--endpoint-url", "http://127.0.0.1:9").exit_code == 0
    return isolated


def state(local, home, pool):
    cognito = local("cognito-identity")
    config = hashlib.sha256((home / "config.toml").read_bytes()).hexdigest()
    identities = cognito.list_identities(IdentityPoolId=pool, MaxResults=60)["Identities"]
    pools = cognito.list_identity_pools(MaxResults=60)["IdentityPools"]
    return config, pools, [(i["IdentityId"], i.get("Logins")) for i in identities]


@pytest.mark.parametrize("args, code, says", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_invocation(cli, world, local, cli_pool, args, code, says):
    before = state(local, world, cli_pool)
    result = cli(*args)
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("cogid: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert state(local, world, cli_pool) == before


def test_there_are_at_least_thirty_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("text, says", [
    ("version = 1\n[profiles.local\n", "not valid TOML"),
    ("colour = 'blue'\n", "unknown key 'colour'"),
    ("[profiles.local]\nbackend = 'azure'\n", "backend must be one of local, aws"),
    ("[profiles.local]\nregion = 'bad region!'\n", "region 'bad region!' is not an AWS region"),
    ("default_profile = 'nope'\n", "default_profile 'nope' is not one of its profiles"),
    ("default_profile = 5\n", "default_profile 5 is not one of its profiles"),
    ("[profiles.local]\nregion = 5\n", "region must be a non-empty string"),
    ("version = 9\n", "version 9 is not supported"),
])
def test_broken_config_is_a_config_error_and_is_left_alone(cli, isolated, text, says):
    isolated.mkdir(parents=True, exist_ok=True)
    (isolated / "config.toml").write_text(text)
    result = cli("token", "issue", "--user", "alice")
    assert result.exit_code == 3 and says in result.stderr and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"cogid: error: {isolated / 'config.toml'}: ")
    assert (isolated / "config.toml").read_text() == text


def test_unexpected_errors_are_one_line_unless_debugging(cli, cli_pool, monkeypatch):
    from cogid import flows

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(flows, "issue_token", broken)
    result = cli("token", "issue", "--user", "alice")
    assert result.exit_code == 1
    assert result.stderr == "cogid: error: unexpected RuntimeError: boom (run with COGID_DEBUG=1 for details)\n"
    debugged = cli("token", "issue", "--user", "alice", env={"COGID_DEBUG": "1"})
    assert debugged.exit_code == 1 and "Traceback" in debugged.stderr and "RuntimeError: boom" in debugged.stderr


def test_debugging_keeps_the_exit_code(cli, cli_pool):
    missing = "us-east-1:00000000-0000-0000-0000-000000000000"
    result = cli("--debug", "pool", "show", "--pool", missing)
    assert result.exit_code == 4 and "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("cogid: error: ResourceNotFoundException")
