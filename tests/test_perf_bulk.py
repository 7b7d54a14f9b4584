"""Bulk issuance's own call (issue 17, target 5): CognitoIdentity.developer_tokens answers a
batch of developer users as GetOpenIdTokenForDeveloperIdentity answers each, makes the batch's
new users in one transaction (whole or not at all), and leaves to the user's own call whatever
that call would refuse; `token issue --users-from` through it prints what it printed before."""

import base64
import json
import sqlite3

import jwt
import pytest

from cogid.local.identity.pool import Caller
from cogid.local.service import Service

DEV = "login.example.app"
CALLER = Caller(region="us-east-1")


@pytest.fixture
def service(tmp_path):
    made = Service(tmp_path / "store.sqlite3")
    yield made
    made.store.close()


@pytest.fixture
def pool(service):
    made = service.cognito.create_identity_pool(
        CALLER, identity_pool_name="bulk", allow_unauthenticated_identities=False, developer_provider_name=DEV
    )
    return made["IdentityPoolId"]


def _claims(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def _identities(service):
    with service.store.read():
        return service.store.db.execute("SELECT count(*) AS n FROM identities").fetchone()["n"]


def _verified(service, token, pool):
    key = jwt.PyJWKSet.from_dict(service.jwks()).keys[0].key
    return jwt.decode(token, key, algorithms=["RS512"], audience=pool)


def test_a_batch_answers_as_the_call_answers_each_user(service, pool):
    known = service.cognito.get_open_id_token_for_developer_identity(CALLER, pool, {DEV: "known"})
    users = ["new-1", "known", "new-2", "new-1", "x" * 1025]
    answers = service.cognito.developer_tokens(CALLER, pool, DEV, users, {"team": "blue"}, 3600)
    assert answers[4] is None  # refused: the user's own call reports it
    assert answers[1]["IdentityId"] == known["IdentityId"]
    assert answers[0]["IdentityId"] == answers[3]["IdentityId"] != answers[2]["IdentityId"]
    assert _identities(service) == 3  # known, new-1, new-2
    single = service.cognito.get_open_id_token_for_developer_identity(
        CALLER, pool, {DEV: "new-2"}, principal_tags={"team": "blue"}, token_duration=3600
    )
    assert single["IdentityId"] == answers[2]["IdentityId"]
    for user, answer in zip(users[:4], answers[:4], strict=True):
        claims = _verified(service, answer["Token"], pool)
        alone = _claims(single["Token"])
        assert claims["sub"] == answer["IdentityId"] and claims["exp"] - claims["iat"] == 3600
        assert claims["amr"] == ["authenticated", DEV, f"{DEV}:{pool}:{user}"]
        assert {k: v for k, v in claims.items() if k not in ("sub", "amr", "iat", "exp")} == {
            k: v for k, v in alone.items() if k not in ("sub", "amr", "iat", "exp")
        }
        assert jwt.get_unverified_header(answer["Token"]) == jwt.get_unverified_header(single["Token"])


def test_a_batch_the_call_would_refuse_is_left_to_it(service, pool):
    other_region = Caller(region="eu-west-1")
    assert service.cognito.developer_tokens(other_region, pool, DEV, ["a", "b"]) == [None, None]
    assert service.cognito.developer_tokens(CALLER, pool, "login.other", ["a"]) == [None]
    assert _identities(service) == 0


def test_a_batch_is_stored_whole_or_not_at_all(service, pool, monkeypatch):
    service.cognito.developer_tokens(CALLER, pool, DEV, ["before"])
    real, calls = service.store.add_login, []

    def failing(*args):
        calls.append(args)
        if len(calls) == 3:
            raise sqlite3.OperationalError("disk I/O error")
        return real(*args)

    monkeypatch.setattr(service.store, "add_login", failing)
    with pytest.raises(sqlite3.OperationalError):
        service.cognito.developer_tokens(CALLER, pool, DEV, ["a", "b", "c", "d"])
    assert _identities(service) == 1  # the two users made before the failure are gone with it
    monkeypatch.setattr(service.store, "add_login", real)
    answers = service.cognito.developer_tokens(CALLER, pool, DEV, ["a", "b", "c", "d", "before"])
    assert all(answers) and _identities(service) == 5


def test_users_from_prints_what_each_call_would(cli, cli_pool, cognito, tmp_path, monkeypatch):
    # More users than a batch (flows.BATCH), a user twice, one too long: the first goes through
    # the call itself, the rest through the bulk call, the long one's error from its own call.
    from cogid.local.identity.model import CognitoIdentity

    bulk, answered = CognitoIdentity.developer_tokens, tmp_path / "bulk-calls"

    def counted(self, caller, pool_id, provider, users, *args):
        with answered.open("a") as calls:  # written by the worker processes
            calls.write("".join(f"{user}\n" for user in users))
        return bulk(self, caller, pool_id, provider, users, *args)

    monkeypatch.setattr(CognitoIdentity, "developer_tokens", counted)
    users = [f"user{n}" for n in range(150)] + ["user7", "x" * 1025, "last"]
    result = cli("token", "issue", "--users-from", "-", "--tag", "team=blue", "--duration", "120",
                 input="".join(f"{user}\n" for user in users))
    assert result.exit_code == 1
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    expected = [user for user in users if len(user) <= 1024]
    assert [line["User"] for line in printed] == expected
    assert all(set(line) == {"User", "IdentityId", "Token"} for line in printed)
    ids = {}
    for line in printed:
        assert ids.setdefault(line["User"], line["IdentityId"]) == line["IdentityId"]
        claims = _claims(line["Token"])
        assert claims["sub"] == line["IdentityId"] and claims["exp"] - claims["iat"] == 120
        assert claims["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}
    assert len(set(ids.values())) == len(expected) - 1
    assert result.stderr.splitlines() == [
        f"cogid: error: line {len(users) - 1}: " + result.stderr.splitlines()[0].split(": ", 3)[3],
        "cogid: error: 1 user(s) failed",
    ]
    assert "ValidationException" in result.stderr
    assert len(answered.read_text().splitlines()) >= len(users) - 10  # all but a first call per worker
    single = json.loads(cli("token", "issue", "--user", "user42").stdout)
    assert single["IdentityId"] == ids["user42"]
    again = cli("token", "issue", "--users-from", "-", input="".join(f"{user}\n" for user in expected))
    assert {json.loads(line)["User"]: json.loads(line)["IdentityId"] for line in again.stdout.splitlines()} == ids
