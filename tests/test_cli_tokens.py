"""Tokens: issue (one user and --users-from), decode and --verify."""

import json

import jwt
import pytest
from conftest import DEV, ok


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
    (lambda t: t[:-1], "signature is malformed"),  # a character short: no base64url at all
    (lambda t: t.rpartition(".")[0] + ".", "Signature verification failed"),
    (lambda t: ".".join([jwt.utils.base64url_encode(b'{"alg":"none","kid":"cognito-1"}').decode()] + t.split(".")[1:2])
     + ".", "algorithm 'none' is not RS512"),
])
def test_token_verify_failures_exit_5(cli, cli_pool, mangle, why):
    token = ok(cli("token", "issue", "--user", "alice"))["Token"]
    assert ok(cli("token", "decode", mangle(token)))["Claims"]["aud"] == cli_pool  # what it says, unverified
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
    for fmt in ("jsonl", "json"):  # JSON lines either way; a table cannot stream
        again = cli("token", "issue", "--users-from", "-", "-o", fmt, input="alice\n")
        assert again.exit_code == 0 and json.loads(again.stdout)["IdentityId"] == lines[0]["IdentityId"], fmt
    refused = cli("token", "issue", "--users-from", "-", "-o", "table", input="alice\n")
    assert refused.exit_code == 2 and "--output table: this command writes jsonl, json" in refused.stderr

def test_users_from_an_unknown_pool_fails_once_before_reading(cli, cli_pool, cognito):
    cognito.delete_identity_pool(IdentityPoolId=cli_pool)  # the profile still names it
    result = cli("token", "issue", "--users-from", "-", input="alice\nbob\n")
    assert result.exit_code == 4 and result.stderr.count("\n") == 1 and result.stdout == ""

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

def test_verify_needs_an_audience(cli, cli_pool):
    token = ok(cli("token", "issue", "--user", "alice"))["Token"]
    ok(cli("profile", "add", "nopool"))
    refused = cli("token", "decode", token, "--verify", "-p", "nopool")
    assert refused.exit_code == 2 and "--verify checks the audience too" in refused.stderr
    assert ok(cli("token", "decode", token, "--verify", "-p", "nopool", "--audience", cli_pool))["Verified"] is True

def test_bulk_issue_applies_tags_and_refuses_single_user_options(cli, cli_pool):
    tagged = cli("token", "issue", "--users-from", "-", "--tag", "team=blue", input="alice\nbob\n")
    assert tagged.exit_code == 0
    for line in tagged.stdout.splitlines():
        claims = jwt.decode(json.loads(line)["Token"], options={"verify_signature": False})
        assert claims["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}
    refused = cli("token", "issue", "--users-from", "-", "--identity-id", "us-east-1:abc", input="alice\n")
    assert refused.exit_code == 2 and refused.stdout == ""


def test_a_well_signed_token_with_a_bad_claim_is_not_said_to_have_a_bad_signature(rsa_key):
    from cogid.local.tokens import ISSUER, Unverified, verify

    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwks = {"keys": [{**public, "kid": "k1"}]}
    claims = {"iss": ISSUER, "sub": "us-east-1:x", "aud": "us-east-1:p", "exp": 4102444800, "nbf": "x"}
    token = jwt.encode(claims, rsa_key, algorithm="RS512", headers={"kid": "k1"})
    with pytest.raises(Unverified) as refused:
        verify(token, jwks, "us-east-1:p")
    assert str(refused.value) == "Not Before claim (nbf) must be an integer."


def test_an_empty_audience_to_verify_against_is_refused(cli, cli_pool):
    token = ok(cli("token", "issue", "--user", "alice"))["Token"]
    refused = cli("token", "decode", token, "--verify", "--audience", "")
    assert refused.exit_code == 2 and "'--audience': the value is empty" in refused.stderr


def test_an_output_format_from_the_environment_is_named_so(cli, cli_pool):
    refused = cli("pool", "list", env={"COGID_OUTPUT": "bogus"})
    assert refused.exit_code == 2 and refused.stderr.startswith("cogid: error: COGID_OUTPUT bogus: this command writes")
    refused = cli("pool", "list", "-o", "bogus")
    assert refused.exit_code == 2 and refused.stderr.startswith("cogid: error: --output bogus: this command writes")
