"""Credentials through real boto3 clients: IAM roles and their trust policies, STS
AssumeRoleWithWebIdentity and GetCallerIdentity, and GetCredentialsForIdentity's role
selection (spec §7.3, §8, §10, §11)."""

import json
import time

import jwt
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import DEV, FACEBOOK_APP, error_code, served_by, standard_trust_policy

ACCOUNT = "000000000000"
COGNITO = "cognito-identity.amazonaws.com"
FB = "graph.facebook.com"
USER_POOL = "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
USER_POOL_CLIENT = "userpoolclient1"
OIDC_HOST = "login.example.com"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC_HOST}"
INVALID_CONFIGURATION = "Invalid identity pool configuration. Check assigned IAM roles for this pool."
ENHANCED_SESSION = "CognitoIdentityCredentials"


def refused(call, code, message=None):
    with pytest.raises(ClientError) as excinfo:
        call()
    assert error_code(excinfo) == code
    if message is not None:
        assert message in excinfo.value.response["Error"]["Message"]
    return excinfo.value.response


def role_arn(name):
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def make_role(iam, name, policy, **kwargs):
    document = policy if isinstance(policy, str) else json.dumps(policy)
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=document, **kwargs)["Role"]["Arn"]


def statement(pool_id, effect="Allow", **conditions):
    """A trust statement for Cognito's principal; `conditions` are operator -> {key suffix: value}."""
    condition = {"StringEquals": {f"{COGNITO}:aud": pool_id}}
    for operator, tests in conditions.items():
        condition.setdefault(operator.replace("_", ":"), {}).update({f"{COGNITO}:{k}": v for k, v in tests.items()})
    return {"Effect": effect, "Principal": {"Federated": COGNITO}, "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition}


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def developer_token(cognito, pool, user="alice", **kwargs):
    issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: user}, **kwargs)
    return issued["IdentityId"], issued["Token"]


def session_name(identity_id):
    """Our choice for the basic flow's RoleSessionName: the identity id's guid part, since
    RoleSessionName ([\\w+=,.@-]*) cannot hold the ':' of an identity id."""
    return identity_id.split(":", 1)[1]


def whoami(make_client, credentials):
    """GetCallerIdentity signed with these temporary credentials (STS or Cognito shaped)."""
    secret = credentials.get("SecretAccessKey") or credentials["SecretKey"]
    sts = make_client("sts", aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=secret,
                      aws_session_token=credentials["SessionToken"])
    return sts.get_caller_identity()


def enhanced_role(local, cognito, identity_id, **kwargs):
    """The role name GetCredentialsForIdentity's credentials act as, checked via GetCallerIdentity."""
    got = cognito.get_credentials_for_identity(IdentityId=identity_id, **kwargs)
    arn = whoami(local, got["Credentials"])["Arn"]
    prefix = f"arn:aws:sts::{ACCOUNT}:assumed-role/"
    assert arn.startswith(prefix) and arn.endswith(f"/{ENHANCED_SESSION}")
    return arn[len(prefix):-len(ENHANCED_SESSION) - 1]


# -- the seed flow, end to end ------------------------------------------------------------------


def test_seed_flow_end_to_end(cognito, sts, local, pool, pool_roles):
    """Console-standard roles -> alice's developer token -> credentials, by the basic flow
    (AssumeRoleWithWebIdentity) and by the enhanced one (GetCredentialsForIdentity)."""
    roles = pool_roles(pool)
    identity, token = developer_token(cognito, pool)

    # Basic flow: the caller names the session; we name it after the identity (its guid part).
    session = session_name(identity)
    got = sts.assume_role_with_web_identity(RoleArn=roles["authenticated"], RoleSessionName=session,
                                            WebIdentityToken=token)
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/Cognito_appAuth_Role/{session}"
    assert got["AssumedRoleUser"]["Arn"] == arn
    role_id, _, name = got["AssumedRoleUser"]["AssumedRoleId"].partition(":")
    assert role_id.startswith("AROA") and len(role_id) == 21 and name == session
    assert (got["SubjectFromWebIdentityToken"], got["Audience"], got["Provider"]) == (identity, pool, COGNITO)
    assert "PackedPolicySize" not in got  # spec Q28: no session policies were passed
    credentials = got["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretAccessKey"]) == 40
    assert abs(credentials["Expiration"].timestamp() - (time.time() + 3600)) < 60
    me = whoami(local, credentials)
    assert (me["Arn"], me["UserId"], me["Account"]) == (arn, got["AssumedRoleUser"]["AssumedRoleId"], ACCOUNT)
    assert me["Arn"].endswith("/" + identity.split(":")[1])  # the identity, as the session
    # The identity id itself is not a valid RoleSessionName ([\w+=,.@-]*).
    refused(lambda: sts.assume_role_with_web_identity(RoleArn=roles["authenticated"], RoleSessionName=identity,
                                                      WebIdentityToken=token), "ValidationError")

    # Enhanced flow: Cognito assumes the default authenticated role as "CognitoIdentityCredentials".
    got = cognito.get_credentials_for_identity(IdentityId=identity, Logins={COGNITO: token})
    assert got["IdentityId"] == identity
    assert set(got["Credentials"]) == {"AccessKeyId", "SecretKey", "SessionToken", "Expiration"}
    me = whoami(local, got["Credentials"])
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Cognito_appAuth_Role/{ENHANCED_SESSION}"
    assert me["UserId"] == f"{role_id}:{ENHANCED_SESSION}"


def test_enhanced_credentials_last_one_hour_and_then_expire(clocked):
    cognito, iam = clocked.client(), clocked.client("iam")
    pool = cognito.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
                                        DeveloperProviderName=DEV)["IdentityPoolId"]
    auth = make_role(iam, "Auth", standard_trust_policy(pool))
    cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": auth})
    identity, token = developer_token(cognito, pool)
    credentials = cognito.get_credentials_for_identity(IdentityId=identity, Logins={COGNITO: token})["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretKey"]) == 40
    assert credentials["Expiration"].timestamp() == clocked.clock.now + 3600
    clocked.clock.advance(3599)
    assert whoami(clocked.client, credentials)["Arn"].endswith(f"/Auth/{ENHANCED_SESSION}")
    clocked.clock.advance(1)
    response = refused(lambda: whoami(clocked.client, credentials), "ExpiredToken")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_basic_credentials_expire_after_the_requested_duration(clocked):
    cognito, iam, sts = clocked.client(), clocked.client("iam"), clocked.client("sts")
    pool = cognito.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
                                        DeveloperProviderName=DEV)["IdentityPoolId"]
    auth = make_role(iam, "Auth", standard_trust_policy(pool))
    identity, token = developer_token(cognito, pool)
    got = sts.assume_role_with_web_identity(RoleArn=auth, RoleSessionName="s1", WebIdentityToken=token,
                                            DurationSeconds=900)
    assert got["Credentials"]["Expiration"].timestamp() == clocked.clock.now + 900
    clocked.clock.advance(899)
    assert whoami(clocked.client, got["Credentials"])["Arn"].endswith("/Auth/s1")
    clocked.clock.advance(1)
    refused(lambda: whoami(clocked.client, got["Credentials"]), "ExpiredToken")


@pytest.mark.parametrize("door", ["inprocess"], indirect=True)  # a second Service on the test's own store
def test_issued_credentials_are_stored_for_other_processes(isolated, cognito, pool, pool_roles):
    from cogid.local.service import Service

    pool_roles(pool)
    identity, token = developer_token(cognito, pool)
    credentials = cognito.get_credentials_for_identity(IdentityId=identity, Logins={COGNITO: token})["Credentials"]
    fresh = Service(isolated / "local.sqlite3")  # what another process opening the store sees
    me = whoami(lambda name, **kwargs: served_by(fresh, name, **kwargs), credentials)
    assert me["Arn"].endswith(f"/Cognito_appAuth_Role/{ENHANCED_SESSION}")


@pytest.mark.parametrize("door", ["inprocess"], indirect=True)  # a second Service on the test's own store
def test_cognito_tokens_verified_by_a_process_that_did_not_issue_them(isolated, cognito, pool, pool_roles):
    """A fresh Service reads the signing key while GetCredentialsForIdentity's transaction is open."""
    from cogid.local.service import Service

    pool_roles(pool)
    identity, token = developer_token(cognito, pool)
    fresh = served_by(Service(isolated / "local.sqlite3"))
    got = fresh.get_credentials_for_identity(IdentityId=identity, Logins={COGNITO: token})
    assert got["IdentityId"] == identity


@pytest.mark.parametrize("door", ["inprocess", "direct"], indirect=True)  # unsigned calls are the account's
def test_caller_identity_of_unknown_or_mismatched_credentials(cognito, local, pool, pool_roles):
    pool_roles(pool)
    identity, token = developer_token(cognito, pool)
    good = cognito.get_credentials_for_identity(IdentityId=identity, Logins={COGNITO: token})["Credentials"]
    for credentials in ({**good, "SessionToken": "bm90IHRoZSB0b2tlbg=="},
                        {**good, "AccessKeyId": "ASIA" + "A" * 16}):
        response = refused(lambda: whoami(local, credentials), "InvalidClientTokenId")
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert local("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"  # unsigned, in-process


def test_guest_flow_then_a_developer_login_upgrades_the_same_identity(cognito, local, pool, pool_roles):
    pool_roles(pool)
    guest = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    assert enhanced_role(local, cognito, guest) == "Cognito_appUnauth_Role"
    identity, token = developer_token(cognito, pool, IdentityId=guest)
    assert identity == guest  # E14 / D6: upgraded in place
    assert enhanced_role(local, cognito, guest, Logins={COGNITO: token}) == "Cognito_appAuth_Role"
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=guest), "NotAuthorizedException",
            "Logins don't match")


# -- STS: the token -------------------------------------------------------------------------------


@pytest.fixture
def basic(cognito, pool, pool_roles):
    """A pool with the console's roles and alice's developer token."""
    roles = pool_roles(pool)
    identity, token = developer_token(cognito, pool)
    return {"pool": pool, "roles": roles, "identity": identity, "token": token}


def forged(token, change):
    head, body, signature = token.split(".")
    claims = jwt.utils.base64url_decode(body)
    return f"{head}.{jwt.utils.base64url_encode(change(claims)).decode()}.{signature}"


@pytest.mark.parametrize("case", ["tampered", "alg none", "other key, same kid", "test idp token", "not a jwt"])
def test_sts_refuses_tokens_it_cannot_verify(basic, sts, social, rsa_key, case):
    token = basic["token"]
    head = jwt.get_unverified_header(token)
    bad = {
        "tampered": lambda: forged(token, lambda claims: claims.replace(b"alice", b"mallo")),
        "alg none": lambda: jwt.encode(jwt.decode(token, options={"verify_signature": False}), None, algorithm="none",
                                       headers={"kid": head["kid"]}),
        "other key, same kid": lambda: jwt.encode(jwt.decode(token, options={"verify_signature": False}), rsa_key,
                                                  algorithm="RS512", headers={"kid": head["kid"], "typ": "JWS"}),
        "test idp token": lambda: social("fb-1"),
        "not a jwt": lambda: "definitely-not-a-jwt",
    }[case]()
    refused(lambda: sts.assume_role_with_web_identity(RoleArn=basic["roles"]["authenticated"], RoleSessionName="s1",
                                                      WebIdentityToken=bad), "InvalidIdentityToken")


def test_sts_refuses_a_token_with_another_issuer(home, basic, sts):
    from cogid.local.service import open_service

    claims = jwt.decode(basic["token"], options={"verify_signature": False})
    token = open_service(home).keys.sign({**claims, "iss": "https://cognito-identity.example.com"})
    refused(lambda: sts.assume_role_with_web_identity(RoleArn=basic["roles"]["authenticated"], RoleSessionName="s1",
                                                      WebIdentityToken=token), "InvalidIdentityToken")


def test_sts_refuses_a_token_of_a_deleted_pool(basic, cognito, sts):
    cognito.delete_identity_pool(IdentityPoolId=basic["pool"])
    refused(lambda: sts.assume_role_with_web_identity(RoleArn=basic["roles"]["authenticated"], RoleSessionName="s1",
                                                      WebIdentityToken=basic["token"]),
            "InvalidIdentityToken", "Incorrect token audience")


def test_sts_expired_token_is_its_own_error(clocked):
    cognito, iam, sts = clocked.client(), clocked.client("iam"), clocked.client("sts")
    pool = cognito.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
                                        DeveloperProviderName=DEV)["IdentityPoolId"]
    auth = make_role(iam, "Auth", standard_trust_policy(pool))
    _, token = developer_token(cognito, pool, TokenDuration=60)
    issued = clocked.clock.now
    clocked.clock.advance(59)
    sts.assume_role_with_web_identity(RoleArn=auth, RoleSessionName="s1", WebIdentityToken=token)
    clocked.clock.advance(1)
    expiry = int(issued) + 60
    refused(lambda: sts.assume_role_with_web_identity(RoleArn=auth, RoleSessionName="s1", WebIdentityToken=token),
            "ExpiredTokenException",
            f"Token expired: current date/time {expiry} must be before the expiration date/time{expiry}")


def test_sts_duration_within_900_to_43200_and_the_role_maximum(basic, sts, iam, local):
    raw_sts = local("sts", config=Config(parameter_validation=False))
    long = make_role(iam, "LongSessions", standard_trust_policy(basic["pool"]), MaxSessionDuration=43200)

    def assume(role, seconds, client=sts):
        got = client.assume_role_with_web_identity(RoleArn=role, RoleSessionName="s1",
                                                   WebIdentityToken=basic["token"], DurationSeconds=seconds)
        return got["Credentials"]["Expiration"].timestamp() - time.time()

    assert abs(assume(basic["roles"]["authenticated"], 900) - 900) < 60
    assert abs(assume(long, 43200) - 43200) < 60
    refused(lambda: assume(basic["roles"]["authenticated"], 3601), "ValidationError", "MaxSessionDuration")
    for seconds in (899, 43201):
        refused(lambda: assume(long, seconds, raw_sts), "ValidationError", "durationSeconds")


# -- STS: trust policies ----------------------------------------------------------------------


def assume_with(sts, role, token):
    return sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="s1", WebIdentityToken=token)


def denied(sts, role, token):
    response = refused(lambda: assume_with(sts, role, token), "AccessDenied",
                       "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.fixture
def trust(cognito, fb_pool, social, pool_roles):
    """Tokens of several kinds for a pool with Facebook, guests and the classic flow."""
    roles = pool_roles(fb_pool)
    alice, alice_token = developer_token(cognito, fb_pool, "alice")
    _, bob_token = developer_token(cognito, fb_pool, "bob")
    guest = cognito.get_id(IdentityPoolId=fb_pool)["IdentityId"]
    facebook = cognito.get_id(IdentityPoolId=fb_pool, Logins={FB: social("fb-1")})["IdentityId"]
    return {
        "pool": fb_pool, "roles": roles, "alice": alice, "alice_token": alice_token, "bob_token": bob_token,
        "guest_token": cognito.get_open_id_token(IdentityId=guest)["Token"],
        "facebook_token": cognito.get_open_id_token(IdentityId=facebook, Logins={FB: social("fb-1")})["Token"],
    }


def test_get_open_id_token_takes_a_cognito_token_for_its_identity(trust, cognito, sts, social):
    """Spec §1.1, §2.1: a token call may prove an authenticated identity with a Cognito token for
    it, which is how a developer identity reaches the basic flow's GetOpenIdToken."""
    alice, token = trust["alice"], trust["alice_token"]
    renewed = cognito.get_open_id_token(IdentityId=alice, Logins={COGNITO: token})
    claims = jwt.decode(renewed["Token"], options={"verify_signature": False})
    assert (renewed["IdentityId"], claims["sub"]) == (alice, alice)
    assert claims["amr"] == jwt.decode(token, options={"verify_signature": False})["amr"]
    assert claims["exp"] - claims["iat"] == 600
    assert assume_with(sts, trust["roles"]["authenticated"], renewed["Token"])
    refused(lambda: cognito.get_open_id_token(IdentityId=alice, Logins={COGNITO: trust["bob_token"]}),
            "NotAuthorizedException", "Logins don't match")
    refused(lambda: cognito.get_open_id_token(IdentityId=alice, Logins={COGNITO: token, FB: social("fb-9")}),
            "InvalidParameterException")
    tampered = forged(token, lambda c: c.replace(b"alice", b"mallo"))
    refused(lambda: cognito.get_open_id_token(IdentityId=alice, Logins={COGNITO: tampered}),
            "NotAuthorizedException", "Invalid login token.")


def test_trust_standard_policies_accept_their_kind_only(trust, sts):
    auth, unauth = trust["roles"]["authenticated"], trust["roles"]["unauthenticated"]
    assert assume_with(sts, auth, trust["alice_token"])["SubjectFromWebIdentityToken"] == trust["alice"]
    assert assume_with(sts, auth, trust["facebook_token"])
    assert assume_with(sts, unauth, trust["guest_token"])
    denied(sts, auth, trust["guest_token"])  # a guest token against the authenticated role
    denied(sts, unauth, trust["alice_token"])


def test_trust_wrong_audience(trust, cognito, sts, iam):
    other = cognito.create_identity_pool(IdentityPoolName="other", AllowUnauthenticatedIdentities=True,
                                         AllowClassicFlow=True)["IdentityPoolId"]
    stranger = cognito.get_id(IdentityPoolId=other)["IdentityId"]
    stranger_token = cognito.get_open_id_token(IdentityId=stranger)["Token"]
    denied(sts, trust["roles"]["unauthenticated"], stranger_token)
    either = make_role(iam, "EitherPool", policy(statement([trust["pool"], other])))
    assert assume_with(sts, either, stranger_token)
    assert assume_with(sts, either, trust["guest_token"])


def test_trust_deny_statement_wins(trust, sts, iam):
    no_facebook = make_role(iam, "NoFacebook", policy(
        statement(trust["pool"]),
        {"Effect": "Deny", "Principal": {"Federated": COGNITO}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"ForAnyValue:StringLike": {f"{COGNITO}:amr": FB}}},
    ))
    assert assume_with(sts, no_facebook, trust["alice_token"])
    assert assume_with(sts, no_facebook, trust["guest_token"])
    denied(sts, no_facebook, trust["facebook_token"])
    everyone_denied = make_role(iam, "Closed", policy(
        statement(trust["pool"]), {"Effect": "Deny", "Principal": "*", "Action": "sts:*"}))
    denied(sts, everyone_denied, trust["alice_token"])


def test_trust_conditions_on_amr_sub_and_wildcards(trust, sts, iam):
    pool = trust["pool"]
    developer_only = make_role(iam, "DeveloperOnly", policy(statement(pool, ForAnyValue_StringLike={"amr": DEV})))
    assert assume_with(sts, developer_only, trust["alice_token"])
    denied(sts, developer_only, trust["facebook_token"])
    alice_only = make_role(iam, "AliceOnly", policy(statement(pool, StringEquals={"sub": trust["alice"]})))
    assert assume_with(sts, alice_only, trust["alice_token"])
    denied(sts, alice_only, trust["bob_token"])
    not_alice = make_role(iam, "NotAlice", policy(statement(pool, StringNotEquals={"sub": trust["alice"]})))
    denied(sts, not_alice, trust["alice_token"])
    assert assume_with(sts, not_alice, trust["bob_token"])
    alice_user = make_role(iam, "AliceUser", policy(statement(pool, ForAnyValue_StringLike={"amr": f"{DEV}:*:alice"})))
    assert assume_with(sts, alice_user, trust["alice_token"])
    denied(sts, alice_user, trust["bob_token"])
    region_pools = make_role(iam, "RegionPools", policy({
        "Effect": "Allow", "Principal": {"Federated": [COGNITO, "accounts.google.com"]},
        "Action": ["STS:AssumeRoleWithWebIdentity"],
        "Condition": {"StringLike": {f"{COGNITO}:aud": "us-east-1:*"},
                      "ForAnyValue:StringNotLike": {f"{COGNITO}:amr": "unauthenticated"}}}))
    assert assume_with(sts, region_pools, trust["alice_token"])
    denied(sts, region_pools, trust["guest_token"])
    # ForAnyValue with a negated operator: some amr value matches none of the listed ones
    any_other = make_role(iam, "AnyOther",
                          policy(statement(pool, ForAnyValue_StringNotEquals={"amr": "authenticated"})))
    assert assume_with(sts, any_other, trust["alice_token"])
    no_value = make_role(iam, "NoValue", policy(statement(pool, ForAnyValue_StringNotLike={"amr": "*"})))
    denied(sts, no_value, trust["alice_token"])
    all_values = make_role(iam, "AllValues", policy(statement(
        pool, ForAllValues_StringLike={"amr": ["authenticated", DEV, f"{DEV}:*"]})))
    assert assume_with(sts, all_values, trust["alice_token"])
    denied(sts, all_values, trust["facebook_token"])


def test_trust_other_principals_and_actions_do_not_let_cognito_in(trust, sts, iam):
    ec2 = make_role(iam, "Ec2", policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                        "Action": "sts:AssumeRole"}))
    tag_only = make_role(iam, "TagOnly", policy({**statement(trust["pool"]), "Action": "sts:TagSession"}))
    for role in (ec2, tag_only, role_arn("NoSuchRole"), "arn:aws:iam::123456789012:role/Cognito_appAuth_Role"):
        denied(sts, role, trust["alice_token"])


def test_trust_principal_tags_need_tag_session(trust, cognito, sts, iam, local):
    """A token's principal tags become session tags: the role must allow sts:TagSession too (spec §8.1)."""
    pool = trust["pool"]
    identity, tagged = developer_token(cognito, pool, "alice", PrincipalTags={"team": "blue"})
    response = refused(lambda: assume_with(sts, trust["roles"]["authenticated"], tagged), "AccessDenied",
                       "Not authorized to perform sts:TagSession")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=identity, Logins={COGNITO: tagged}),
            "InvalidIdentityPoolConfigurationException", INVALID_CONFIGURATION)
    iam.update_assume_role_policy(RoleName="Cognito_appAuth_Role", PolicyDocument=json.dumps(policy(
        {**statement(pool, ForAnyValue_StringLike={"amr": "authenticated"}),
         "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]})))
    assert assume_with(sts, trust["roles"]["authenticated"], tagged)
    assert enhanced_role(local, cognito, identity, Logins={COGNITO: tagged}) == "Cognito_appAuth_Role"


def test_update_assume_role_policy_changes_who_may_assume(trust, sts, iam):
    auth = trust["roles"]["authenticated"]
    iam.update_assume_role_policy(RoleName="Cognito_appAuth_Role",
                                  PolicyDocument=standard_trust_policy(trust["pool"], "unauthenticated"))
    denied(sts, auth, trust["alice_token"])
    assert assume_with(sts, auth, trust["guest_token"])


# -- IAM -----------------------------------------------------------------------------------------


def test_role_lifecycle(iam, pool):
    document = standard_trust_policy(pool)
    made = iam.create_role(RoleName="Cognito_appAuth_Role", AssumeRolePolicyDocument=document,
                           Description="signed-in users", Path="/cognito/")["Role"]
    assert made["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/cognito/Cognito_appAuth_Role"
    assert made["RoleId"].startswith("AROA") and len(made["RoleId"]) == 21
    got = iam.get_role(RoleName="Cognito_appAuth_Role")["Role"]
    assert got["AssumeRolePolicyDocument"] == json.loads(document)  # botocore decodes it
    assert (got["Path"], got["Description"], got["MaxSessionDuration"]) == ("/cognito/", "signed-in users", 3600)
    assert got["RoleId"] == made["RoleId"] and got["CreateDate"] == made["CreateDate"]
    refused(lambda: iam.create_role(RoleName="cognito_appauth_role", AssumeRolePolicyDocument=document),
            "EntityAlreadyExists")
    iam.update_assume_role_policy(RoleName="Cognito_appAuth_Role",
                                  PolicyDocument=standard_trust_policy(pool, "unauthenticated"))
    updated = iam.get_role(RoleName="Cognito_appAuth_Role")["Role"]["AssumeRolePolicyDocument"]
    assert updated["Statement"][0]["Condition"]["ForAnyValue:StringLike"] == {f"{COGNITO}:amr": "unauthenticated"}
    iam.delete_role(RoleName="Cognito_appAuth_Role")
    for call in (lambda: iam.get_role(RoleName="Cognito_appAuth_Role"),
                 lambda: iam.delete_role(RoleName="Cognito_appAuth_Role"),
                 lambda: iam.update_assume_role_policy(RoleName="Cognito_appAuth_Role", PolicyDocument=document)):
        response = refused(call, "NoSuchEntity")
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_roles_paged_and_by_path(iam, pool):
    names = [f"Role{i}" for i in range(5)]
    for i, name in enumerate(names):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=standard_trust_policy(pool),
                        Path="/app/" if i % 2 else "/")
    seen, marker = [], None
    while True:
        page = iam.list_roles(MaxItems=2, **({"Marker": marker} if marker else {}))
        assert len(page["Roles"]) <= 2
        seen += [role["RoleName"] for role in page["Roles"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == names
    app = iam.list_roles(PathPrefix="/app/", MaxItems=1)
    assert [role["RoleName"] for role in app["Roles"]] == ["Role1"] and app["IsTruncated"]
    rest = iam.list_roles(PathPrefix="/app/", MaxItems=1, Marker=app["Marker"])
    assert [role["RoleName"] for role in rest["Roles"]] == ["Role3"] and not rest["IsTruncated"]
    assert isinstance(app["Roles"][0]["AssumeRolePolicyDocument"], dict)


def _unsupported_policies(pool):
    base = statement(pool)
    return {
        "not json": "{not json",
        "no statement": json.dumps({"Version": "2012-10-17"}),
        "empty statement": json.dumps(policy()),
        "unknown top-level element": json.dumps({**policy(base), "Extra": 1}),
        "bad version": json.dumps({**policy(base), "Version": "2020-01-01"}),
        "NotPrincipal": json.dumps(policy({**base, "NotPrincipal": {"AWS": "x"}})),
        "NotAction": json.dumps(policy({**base, "NotAction": "sts:AssumeRole"})),
        "Resource": json.dumps(policy({**base, "Resource": "*"})),
        "bad effect": json.dumps(policy({**base, "Effect": "Maybe"})),
        "no principal": json.dumps(policy({k: v for k, v in base.items() if k != "Principal"})),
        "action not a string": json.dumps(policy({**base, "Action": 5})),
        "condition not an object": json.dumps(policy({**base, "Condition": ["StringEquals"]})),
        "unsupported operator": json.dumps(policy(statement(pool, IpAddress={"aud": "x"}))),
        "IfExists operator": json.dumps(policy(statement(pool, StringEqualsIfExists={"amr": "x"}))),
        "unsupported key": json.dumps(policy({**base, "Condition": {
            "StringEquals": {f"{COGNITO}:aud": pool, "aws:SourceIp": "10.0.0.1"}}})),
        "condition value not a string": json.dumps(policy(statement(pool, StringEquals={"amr": {"a": 1}}))),
        "no aud condition": json.dumps(policy({**base, "Condition": {
            "ForAnyValue:StringLike": {f"{COGNITO}:amr": "authenticated"}}})),
    }


@pytest.mark.parametrize("case", list(_unsupported_policies("us-east-1:x")))
def test_policies_the_service_would_not_evaluate_are_refused(iam, pool, case):
    document = _unsupported_policies(pool)[case]
    refused(lambda: iam.create_role(RoleName="R", AssumeRolePolicyDocument=document), "MalformedPolicyDocument")
    refused(lambda: iam.get_role(RoleName="R"), "NoSuchEntity")
    iam.create_role(RoleName="R", AssumeRolePolicyDocument=standard_trust_policy(pool))
    refused(lambda: iam.update_assume_role_policy(RoleName="R", PolicyDocument=document), "MalformedPolicyDocument")
    assert iam.get_role(RoleName="R")["Role"]["AssumeRolePolicyDocument"] == json.loads(standard_trust_policy(pool))


def test_policies_for_other_principals_are_kept_as_written(iam, pool):
    ec2 = {"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole",
           "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    document = policy(statement(pool), ec2)
    make_role(iam, "Mixed", document)
    assert iam.get_role(RoleName="Mixed")["Role"]["AssumeRolePolicyDocument"] == document


# -- GetCredentialsForIdentity: role selection (spec §11.1) ---------------------------------------


@pytest.fixture
def mapped(cognito, iam, issuer):
    """A pool with Facebook, a user pool and an OIDC provider, the default roles and three
    more roles (Admin, Editor, Reader) whose trust accepts the pool's signed-in users."""
    pool = cognito.create_identity_pool(
        IdentityPoolName="mapped", AllowUnauthenticatedIdentities=True, DeveloperProviderName=DEV,
        SupportedLoginProviders={FB: FACEBOOK_APP}, OpenIdConnectProviderARNs=[OIDC_ARN],
        CognitoIdentityProviders=[{"ProviderName": USER_POOL, "ClientId": USER_POOL_CLIENT}],
    )["IdentityPoolId"]
    roles = {name: make_role(iam, name, standard_trust_policy(pool)) for name in ("Auth", "Admin", "Editor", "Reader")}
    roles["Unauth"] = make_role(iam, "Unauth", standard_trust_policy(pool, "unauthenticated"))
    defaults = {"authenticated": roles["Auth"], "unauthenticated": roles["Unauth"]}
    cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles=defaults)
    user_pool, oidc = issuer(f"https://{USER_POOL}"), issuer(f"https://{OIDC_HOST}")

    def set_mappings(mappings, roles_map=defaults):
        cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles=roles_map, RoleMappings=mappings)

    return {"pool": pool, "roles": roles, "defaults": defaults, "set": set_mappings,
            "user_pool_token": lambda **claims: user_pool.token("sub-1", aud=USER_POOL_CLIENT, token_use="id",
                                                                **claims),
            "oidc_token": lambda **claims: oidc.token("oidc-1", aud="my-client", **claims)}


def credentials_role(local, cognito, pool, logins, **kwargs):
    identity = cognito.get_id(IdentityPoolId=pool, Logins=logins)["IdentityId"]
    return enhanced_role(local, cognito, identity, Logins=logins, **kwargs)


def rules(*rules_list, ambiguous="AuthenticatedRole"):
    return {"Type": "Rules", "AmbiguousRoleResolution": ambiguous,
            "RulesConfiguration": {"Rules": [{"Claim": c, "MatchType": m, "Value": v, "RoleARN": role_arn(r)}
                                             for c, m, v, r in rules_list]}}


def test_role_guest_gets_the_unauthenticated_role(mapped, cognito, local):
    guest = cognito.get_id(IdentityPoolId=mapped["pool"])["IdentityId"]
    assert enhanced_role(local, cognito, guest) == "Unauth"
    mapped["set"]({}, {"authenticated": mapped["roles"]["Auth"]})
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=guest), "InvalidIdentityPoolConfigurationException",
            INVALID_CONFIGURATION)
    mapped["set"]({}, {"authenticated": mapped["roles"]["Auth"], "unauthenticated": mapped["roles"]["Reader"]})
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=guest), "InvalidIdentityPoolConfigurationException",
            INVALID_CONFIGURATION)  # the Reader role does not trust guests


def test_role_cognito_token_gets_the_default_authenticated_role(mapped, cognito, local):
    identity, token = developer_token(cognito, mapped["pool"])
    mapped["set"]({FB: rules(("sub", "Equals", "x", "Admin"))})
    # spec Q27: role mappings and CustomRoleArn do not apply to a Cognito token
    assert enhanced_role(local, cognito, identity, Logins={COGNITO: token}, CustomRoleArn=role_arn("Admin")) == "Auth"
    mapped["set"]({}, {"unauthenticated": mapped["roles"]["Unauth"]})
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=identity, Logins={COGNITO: token}),
            "InvalidIdentityPoolConfigurationException", INVALID_CONFIGURATION)


def test_role_cognito_token_of_a_guest_keeps_the_unauthenticated_role(trust, cognito, local):
    guest = jwt.decode(trust["guest_token"], options={"verify_signature": False})["sub"]
    assert enhanced_role(local, cognito, guest, Logins={COGNITO: trust["guest_token"]}) == "Cognito_appUnauth_Role"


def test_role_cognito_token_must_be_this_pools_for_this_identity(mapped, cognito, social):
    pool = mapped["pool"]
    alice, alice_token = developer_token(cognito, pool, "alice")
    bob, _ = developer_token(cognito, pool, "bob")
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=bob, Logins={COGNITO: alice_token}),
            "NotAuthorizedException", "Logins don't match")
    refused(lambda: cognito.get_credentials_for_identity(
        IdentityId=alice, Logins={COGNITO: alice_token, FB: social("fb-1")}), "InvalidParameterException")
    refused(lambda: cognito.get_credentials_for_identity(
        IdentityId=alice, Logins={COGNITO: forged(alice_token, lambda c: c.replace(b"alice", b"mallo"))}),
        "NotAuthorizedException", "Invalid login token.")
    refused(lambda: cognito.get_id(IdentityPoolId=pool, Logins={COGNITO: alice_token}), "NotAuthorizedException",
            "Can't pass in a Cognito token.")
    claims = jwt.decode(alice_token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(alice_token)["kid"]
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=alice, Logins={COGNITO: unsigned}),
            "NotAuthorizedException", "Invalid login token.")
    other = cognito.create_identity_pool(IdentityPoolName="other", AllowUnauthenticatedIdentities=False,
                                         DeveloperProviderName="login.other.app")["IdentityPoolId"]
    stranger = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=other,
                                                                Logins={"login.other.app": "alice"})
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=alice, Logins={COGNITO: stranger["Token"]}),
            "NotAuthorizedException", "Logins don't match")  # wrong audience


def test_role_cognito_token_expired(clocked):
    cognito, iam = clocked.client(), clocked.client("iam")
    pool = cognito.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
                                        DeveloperProviderName=DEV)["IdentityPoolId"]
    cognito.set_identity_pool_roles(IdentityPoolId=pool,
                                    Roles={"authenticated": make_role(iam, "Auth", standard_trust_policy(pool))})
    identity, token = developer_token(cognito, pool)
    clocked.clock.advance(900)
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=identity, Logins={COGNITO: token}),
            "NotAuthorizedException", "Invalid login token. Token expired.")


def test_role_external_login_without_mapping_gets_the_default_role(mapped, cognito, local, social):
    assert credentials_role(local, cognito, mapped["pool"], {FB: social("fb-1")}) == "Auth"
    mapped["set"]({}, {"unauthenticated": mapped["roles"]["Unauth"]})
    refused(lambda: credentials_role(local, cognito, mapped["pool"], {FB: social("fb-1")}),
            "InvalidIdentityPoolConfigurationException", INVALID_CONFIGURATION)


def test_role_token_mapping(mapped, cognito, local):
    pool, token = mapped["pool"], mapped["user_pool_token"]
    key = f"{USER_POOL}:{USER_POOL_CLIENT}"  # a user pool's mapping is keyed provider:clientId
    granted = [role_arn("Editor"), role_arn("Reader")]
    preferring_editor = {"cognito:roles": granted, "cognito:preferred_role": role_arn("Editor")}

    def role(custom=None, **claims):
        logins = {USER_POOL: token(**claims)}
        return credentials_role(local, cognito, pool, logins, **({"CustomRoleArn": custom} if custom else {}))

    mapped["set"]({key: {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}})
    assert role(**preferring_editor) == "Editor"
    assert role(role_arn("Reader"), **preferring_editor) == "Reader"  # CustomRoleArn over the preference
    assert role(**{"cognito:roles": [role_arn("Reader")]}) == "Reader"
    assert role(**{"cognito:roles": granted}) == "Auth"  # ambiguous -> AuthenticatedRole
    assert role() == "Auth"
    refused(lambda: role(role_arn("Admin"), **{"cognito:roles": granted}), "NotAuthorizedException", "CustomRoleArn")
    mapped["set"]({key: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}})
    assert role(**preferring_editor) == "Editor"
    refused(lambda: role(**{"cognito:roles": granted}), "NotAuthorizedException",
            "The ambiguous role mapping rules denied this request.")


def test_role_rules_mapping(mapped, cognito, local, social):
    pool = mapped["pool"]

    def role(custom=None, **claims):
        logins = {FB: social("fb-1", claims=claims)}
        return credentials_role(local, cognito, pool, logins, **({"CustomRoleArn": custom} if custom else {}))

    mapped["set"]({FB: rules(("dept", "Equals", "eng", "Admin"), ("email", "Contains", "@example.", "Editor"),
                             ("email", "StartsWith", "reader", "Reader"), ("tier", "NotEqual", "free", "Reader"))})
    assert role(dept="eng", email="reader@example.com") == "Admin"  # first match wins
    assert role(dept="ops", email="reader@example.com") == "Editor"
    assert role(email="reader@elsewhere.org") == "Reader"
    assert role(tier="gold") == "Reader"  # NotEqual
    assert role(tier="free") == "Auth"  # no rule matches -> AuthenticatedRole
    assert role() == "Auth"  # a NotEqual rule whose claim is absent is skipped
    assert role(dept=["ops", "eng"]) == "Admin"  # spec Q20: any element of a multi-valued claim
    assert role(dept="ENG") == "Auth"  # case-sensitive
    assert role(role_arn("Reader"), dept="eng", email="reader@x.org") == "Reader"  # CustomRoleArn picks a match
    assert role(role_arn("Editor"), dept="eng") == "Auth"  # not among the matches: ambiguous
    mapped["set"]({FB: rules(("dept", "Equals", "eng", "Admin"), ambiguous="Deny")})
    assert role(dept="eng") == "Admin"
    refused(lambda: role(dept="ops"), "NotAuthorizedException", "The ambiguous role mapping rules denied this request.")
    mapped["set"]({FB: rules(("email_verified", "Equals", "true", "Admin"), ("level", "Equals", "3", "Editor"))})
    assert role(email_verified=True) == "Admin"  # a JSON true is the text "true", not Python's "True"
    assert role(level=3) == "Editor"


def test_role_mapping_of_an_oidc_provider_by_arn_or_host(mapped, cognito, local):
    pool, token = mapped["pool"], mapped["oidc_token"]
    for key in (OIDC_ARN, OIDC_HOST):  # spec Q22: either names the provider
        mapped["set"]({key: rules(("group", "Equals", "admins", "Admin"))})
        assert credentials_role(local, cognito, pool, {OIDC_HOST: token(group="admins")}) == "Admin"
        assert credentials_role(local, cognito, pool, {OIDC_HOST: token(group="users")}) == "Auth"


def test_role_mapped_role_sts_refuses_is_a_configuration_error(mapped, cognito, local, social, iam):
    pool = mapped["pool"]
    make_role(iam, "OtherPool", standard_trust_policy("us-east-1:11111111-2222-3333-4444-555555555555"))
    for target in ("OtherPool", "NotARoleHere"):
        mapped["set"]({FB: rules(("sub", "Equals", "fb-1", target))})
        refused(lambda: credentials_role(local, cognito, pool, {FB: social("fb-1")}),
                "InvalidIdentityPoolConfigurationException", INVALID_CONFIGURATION)


def test_role_refused_by_sts_leaves_the_identity_unchanged(mapped, cognito, social):
    """STS's refusal is known before the call commits: a guest presenting a new login stays a guest."""
    guest = cognito.get_id(IdentityPoolId=mapped["pool"])["IdentityId"]
    mapped["set"]({}, {"authenticated": mapped["roles"]["Unauth"], "unauthenticated": mapped["roles"]["Unauth"]})
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=guest, Logins={FB: social("fb-1")}),
            "InvalidIdentityPoolConfigurationException", INVALID_CONFIGURATION)
    assert "Logins" not in cognito.describe_identity(IdentityId=guest)
    assert cognito.get_id(IdentityPoolId=mapped["pool"], Logins={FB: social("fb-1")})["IdentityId"] != guest


def test_vended_credentials_cannot_administer(local, cognito, pool, pool_roles):
    """Temporary credentials act as their role, which has no rights but GetCallerIdentity."""
    pool_id = pool
    pool_roles(pool_id)
    guest = cognito.get_id(IdentityPoolId=pool_id)["IdentityId"]
    creds = cognito.get_credentials_for_identity(IdentityId=guest)["Credentials"]
    keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretKey"],
            "aws_session_token": creds["SessionToken"]}
    assert local("sts", **keys).get_caller_identity()["Arn"].endswith("/CognitoIdentityCredentials")
    with pytest.raises(ClientError) as excinfo:
        local("cognito-identity", **keys).delete_identity_pool(IdentityPoolId=pool_id)
    assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as excinfo:
        local("iam", **keys).create_access_key()
    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"
    assert cognito.describe_identity_pool(IdentityPoolId=pool_id)["IdentityPoolId"] == pool_id
    # Unsigned operations stay open to them, signed or not.
    assert local("cognito-identity", **keys).get_id(IdentityPoolId=pool_id)["IdentityId"]


def test_an_old_guest_token_stops_working_once_the_identity_is_upgraded(local, cognito, pool, pool_roles):
    pool_roles(pool)
    cognito.update_identity_pool(IdentityPoolId=pool, IdentityPoolName="app", AllowUnauthenticatedIdentities=True,
                                 AllowClassicFlow=True)
    guest = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    guest_token = cognito.get_open_id_token(IdentityId=guest)["Token"]
    logins = {"cognito-identity.amazonaws.com": guest_token}
    assert cognito.get_credentials_for_identity(IdentityId=guest, Logins=logins)["Credentials"]["AccessKeyId"]
    cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, IdentityId=guest, Logins={DEV: "alice"})
    with pytest.raises(ClientError) as excinfo:
        cognito.get_credentials_for_identity(IdentityId=guest, Logins=logins)
    assert error_code(excinfo) == "NotAuthorizedException"


def test_principal_tag_maps_become_session_tags_needing_tag_session(local, cognito, fb_pool, social, iam):
    role = iam.create_role(RoleName="FbRole", AssumeRolePolicyDocument=standard_trust_policy(fb_pool, "authenticated"))
    cognito.set_identity_pool_roles(IdentityPoolId=fb_pool, Roles={"authenticated": role["Role"]["Arn"]})
    fb = social("fb-tagged")
    identity = cognito.get_id(IdentityPoolId=fb_pool, Logins={"graph.facebook.com": fb})["IdentityId"]
    assert cognito.get_credentials_for_identity(IdentityId=identity, Logins={"graph.facebook.com": fb})
    cognito.set_principal_tag_attribute_map(IdentityPoolId=fb_pool, IdentityProviderName="graph.facebook.com",
                                            UseDefaults=True)
    with pytest.raises(ClientError) as excinfo:  # the role's trust policy lacks sts:TagSession
        cognito.get_credentials_for_identity(IdentityId=identity, Logins={"graph.facebook.com": fb})
    assert error_code(excinfo) == "InvalidIdentityPoolConfigurationException"
    policy = json.loads(standard_trust_policy(fb_pool, "authenticated"))
    policy["Statement"][0]["Action"] = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
    iam.update_assume_role_policy(RoleName="FbRole", PolicyDocument=json.dumps(policy))
    assert cognito.get_credentials_for_identity(IdentityId=identity, Logins={"graph.facebook.com": fb})

    # STS's limits on session tags hold for tags taken from claims too (spec §8.1)
    cognito.set_principal_tag_attribute_map(IdentityPoolId=fb_pool, IdentityProviderName="graph.facebook.com",
                                            UseDefaults=False, PrincipalTags={"name": "name"})
    assert cognito.get_credentials_for_identity(
        IdentityId=identity, Logins={"graph.facebook.com": social("fb-tagged", claims={"name": "x" * 256})})
    long_name = social("fb-tagged", claims={"name": "x" * 257})
    with pytest.raises(ClientError) as excinfo:
        cognito.get_credentials_for_identity(IdentityId=identity, Logins={"graph.facebook.com": long_name})
    assert error_code(excinfo) == "InvalidIdentityPoolConfigurationException"


def test_sts_session_policy_must_be_a_json_object(basic, sts):
    for bad in ("this is not json", "[1, 2]"):
        refused(lambda: sts.assume_role_with_web_identity(RoleArn=basic["roles"]["authenticated"],
                                                          RoleSessionName="s1", WebIdentityToken=basic["token"],
                                                          Policy=bad),
                "MalformedPolicyDocument")
    assert sts.assume_role_with_web_identity(RoleArn=basic["roles"]["authenticated"], RoleSessionName="s1",
                                             WebIdentityToken=basic["token"], Policy='{"Version": "2012-10-17"}')


def test_a_disabled_identity_is_forbidden_before_its_cognito_token_is_judged(local, cognito, pool, pool_roles):
    a_id, _ = developer_token(cognito, pool, "a")
    b_id, b_token = developer_token(cognito, pool, "b")
    cognito.merge_developer_identities(SourceUserIdentifier="a", DestinationUserIdentifier="b",
                                       DeveloperProviderName=DEV, IdentityPoolId=pool)  # a is disabled
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=a_id, Logins={COGNITO: b_token}),
            "NotAuthorizedException", f"Access to Identity '{a_id}' is forbidden.")
