"""Trust-policy matching under hostile patterns (issue 15, item 5): IAM's StringLike matches in
linear time, whatever the number of wildcards, and no policy is evaluated while the store's
write lock is held."""

import json
import random
import subprocess
import sys
import textwrap

import pytest
from botocore.exceptions import ClientError
from conftest import DEV, error_code

from cogid.local.iam import policy as policy_module
from cogid.local.iam.policy import _condition_holds, wildcard_match

COGNITO = "cognito-identity.amazonaws.com"
AUD = f"{COGNITO}:aud"
AMR = f"{COGNITO}:amr"
# Thirty stars, and a "c" that the values below never hold: a regex of `.*` chains tries every
# way of spreading the a's over the stars before giving up (ten stars took 22 s).
HOSTILE = "*a" * 30 + "*c*b"
TIMEOUT = 10  # seconds; the fixed code answers in well under one, process start included


def trust(pool_id, amr_pattern):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": COGNITO}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {AUD: pool_id}, "ForAnyValue:StringLike": {AMR: amr_pattern}},
    }]})


def run_python(code, *args):
    """Run `code` in a fresh interpreter, killed after TIMEOUT seconds (a failure, not a hang)."""
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                              timeout=TIMEOUT, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {TIMEOUT} s: wildcard matching backtracks")


# -- (a) the real flow ---------------------------------------------------------------------------

def test_a_hostile_string_like_condition_is_refused_at_once(isolated, cognito, pool, iam):
    role = iam.create_role(RoleName="Hostile", AssumeRolePolicyDocument=trust(pool, HOSTILE))["Role"]["Arn"]
    cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": role})
    # The amr's developer entry ends with the user id: a long run of a's and a b, but no c.
    victim = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "a" * 80 + "b"})
    # The same pattern matches once the c is there: the fix refuses no more than it should.
    friend = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool,
                                                              Logins={DEV: "a" * 40 + "c" + "a" * 40 + "b"})
    answer = run_python("""
        import json, sys
        from botocore.exceptions import ClientError
        from cogid.local import client

        home, role, *identities = sys.argv[1:]
        cognito, sts = client("cognito-identity", home=home), client("sts", home=home)
        codes = []
        for identity_id, token in zip(identities[::2], identities[1::2]):
            for call in (
                lambda: cognito.get_credentials_for_identity(
                    IdentityId=identity_id, Logins={"cognito-identity.amazonaws.com": token}),
                lambda: sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="session", WebIdentityToken=token),
            ):
                try:
                    call()
                    codes.append("granted")
                except ClientError as error:
                    codes.append(error.response["Error"]["Code"])
        print(json.dumps(codes))
    """, str(isolated), role, victim["IdentityId"], victim["Token"], friend["IdentityId"], friend["Token"])
    assert json.loads(answer.stdout) == ["InvalidIdentityPoolConfigurationException", "AccessDenied",
                                         "granted", "granted"]


# -- (b) correctness against a reference ---------------------------------------------------------

def reference(pattern, value):
    """StringLike by dynamic programming: `*` any run (empty too), `?` one character, the rest
    literally, case-sensitive; no character classes."""
    # matches[j]: does pattern[:i] match value[:j]
    matches = [True] + [False] * len(value)
    for p in pattern:
        if p == "*":
            for j in range(1, len(value) + 1):
                matches[j] = matches[j] or matches[j - 1]
        else:
            matches = [False] + [matches[j - 1] and (p == "?" or p == value[j - 1])
                                 for j in range(1, len(value) + 1)]
    return matches[len(value)]


EXAMPLES = [
    ("", "", True), ("", "a", False), ("*", "", True), ("**", "", True), ("?", "", False), ("*?", "", False),
    ("?*", "a", True), ("*?", "ab", True), ("a*", "a", True), ("*a", "ba", True), ("*a", "ab", False),
    ("a?c", "abc", True), ("a?c", "ac", False), ("a**b", "ab", True), ("a*?*b", "ab", False),
    ("a*?*b", "axb", True), ("?", "\n", True), ("*", "line\nbreak", True), (".*", "ab", False),
    (".*", ".anything", True), ("[ab]", "a", False), ("[ab]", "[ab]", True), ("a\\*", "a\\xyz", True),
    ("ABC", "abc", False), ("abc", "ABC", False), ("a*b*c", "aXbYc", True), ("a*b*c", "aXcYb", False),
    ("*ab*ab*", "abab", True), ("*ab*ab*", "aba", False), ("*aab", "aaab", True), ("a*a", "a", False),
    ("??*??", "abc", False), ("??*??", "abcd", True), ("*?x?*", "..x..", True), ("*?x?*", "x", False),
]


@pytest.mark.parametrize(("pattern", "value", "expected"), EXAMPLES)
def test_b_examples(pattern, value, expected):
    assert reference(pattern, value) is expected
    assert wildcard_match(pattern, value) is expected
    assert _condition_holds("StringLike", pattern, [value]) is expected
    assert _condition_holds("StringNotLike", pattern, [value]) is not expected


@pytest.mark.parametrize("alphabet", ["ab", "ab.\\[]\n", "aA"])
def test_b_random_patterns_agree_with_the_reference(alphabet):
    rng = random.Random(f"policy-{alphabet}")
    for _ in range(6000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        pattern = "".join(rng.choice(alphabet + "**??") for _ in range(rng.randint(0, 9)))
        if value and rng.random() < 0.3:  # a pattern made from the value, so that many match
            pattern = "".join(rng.choice("*?") if rng.random() < 0.3 else c for c in value)
        assert wildcard_match(pattern, value) is reference(pattern, value), (pattern, value)


def test_b_actions_match_case_insensitively_as_before():
    document = {"Statement": [{"Effect": "Allow", "Principal": {"Federated": COGNITO},
                               "Action": "STS:AssumeRole*", "Condition": {}}]}
    assert policy_module._allows(document, {}, "sts:AssumeRoleWithWebIdentity")
    document["Statement"][0]["Action"] = "sts:?ssumeRoleWithWebIdentit?"
    assert policy_module._allows(document, {}, "sts:AssumeRoleWithWebIdentity")
    document["Statement"][0]["Action"] = "sts:TagSession"
    assert not policy_module._allows(document, {}, "sts:AssumeRoleWithWebIdentity")


# -- (c) a hundred wildcards against a thousand characters ---------------------------------------

def test_c_hundred_wildcards_against_a_thousand_characters():
    answer = run_python("""
        import json
        from cogid.local.iam.policy import _condition_holds

        value = "a" * 999 + "b"
        cases = [
            ("*a" * 99 + "*c", False),            # 100 stars, fails at the very end
            ("*?" * 99 + "*c", False),
            ("a*" * 99 + "c", False),
            ("*a?" * 50 + "*" * 49 + "c", False),
            ("*a" * 99 + "*b", True),
            ("?*" * 100, True),
            ("*" + "a?" * 40 + "*" + "?a" * 40 + "*" * 98 + "b", True),
        ]
        print(json.dumps([_condition_holds("StringLike", pattern, [value]) is expected for pattern, expected in cases]))
    """)
    assert json.loads(answer.stdout) == [True] * 7


# -- evaluation outside the write lock ----------------------------------------------------------

def test_trust_policies_are_evaluated_with_the_store_unlocked(clocked, monkeypatch):
    cognito, iam, sts = clocked.client(), clocked.client("iam"), clocked.client("sts")
    pool = cognito.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=True,
                                        DeveloperProviderName=DEV)["IdentityPoolId"]
    role = iam.create_role(RoleName="Auth", AssumeRolePolicyDocument=trust(pool, "auth*"))["Role"]["Arn"]
    guests = iam.create_role(RoleName="Unauth", AssumeRolePolicyDocument=trust(pool, "unauth*"))["Role"]["Arn"]
    cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": role, "unauthenticated": guests})
    store = clocked.service.store
    locked = []
    real = policy_module._allows
    monkeypatch.setattr(policy_module, "_allows",
                        lambda *args: locked.append(store.db.in_transaction) or real(*args))
    for user in ("alice", "bob"):
        issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: user})
        cognito.get_credentials_for_identity(IdentityId=issued["IdentityId"], Logins={COGNITO: issued["Token"]})
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="session", WebIdentityToken=issued["Token"])
        cognito.get_credentials_for_identity(IdentityId=cognito.get_id(IdentityPoolId=pool)["IdentityId"])
    assert len(locked) >= 3 and not any(locked)


def test_a_role_changed_after_its_evaluation_is_checked_again(clocked, monkeypatch):
    """The verdict reached outside the lock is for the policy then; a policy replaced before the
    session is stored is the one that counts."""
    cognito, iam, sts = clocked.client(), clocked.client("iam"), clocked.client("sts")
    pool = cognito.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=False,
                                        DeveloperProviderName=DEV)["IdentityPoolId"]
    role = iam.create_role(RoleName="Auth", AssumeRolePolicyDocument=trust(pool, "auth*"))["Role"]["Arn"]
    cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": role})
    issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "alice"})
    verdicts = clocked.service.sts.verdicts
    real = type(verdicts).evaluate

    def evaluate_then_replace(self, text, claims):
        refused = real(self, text, claims)
        if '"nobody"' not in text:  # meanwhile, another writer narrows the policy
            iam.update_assume_role_policy(RoleName="Auth", PolicyDocument=trust(pool, "nobody"))
        return refused

    monkeypatch.setattr(type(verdicts), "evaluate", evaluate_then_replace)
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="session", WebIdentityToken=issued["Token"])
    assert error_code(excinfo) == "AccessDenied"
    iam.update_assume_role_policy(RoleName="Auth", PolicyDocument=trust(pool, "authenticated"))
    with pytest.raises(ClientError) as excinfo:
        cognito.get_credentials_for_identity(IdentityId=issued["IdentityId"], Logins={COGNITO: issued["Token"]})
    assert error_code(excinfo) == "InvalidIdentityPoolConfigurationException"
