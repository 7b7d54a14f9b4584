"""External logins through real boto3 clients: GetId, GetOpenIdToken, GetCredentialsForIdentity
and UnlinkIdentity (spec §7.1-7.3, §7.8), every linking case of §12.2 (E1-E14), the developer
call's external-login cases (D4, D5), and how the local backend verifies logins: its test
identity provider, OpenID Connect issuers and Cognito user pools (spec §2.1, §9.3)."""

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from botocore.exceptions import ClientError
from conftest import DEV, FACEBOOK_APP, Clock, Issuer, error_code, served_by

FB = "graph.facebook.com"
GOOGLE = "accounts.google.com"
AMAZON = "www.amazon.com"
APPLE = "appleid.apple.com"
TWITTER = "api.twitter.com"
APPS = {
    FB: FACEBOOK_APP,
    GOOGLE: "1234-abcd.apps.googleusercontent.com",
    AMAZON: "amzn1.application.0123456789",
    APPLE: "com.example.app",
    TWITTER: "consumerkey;consumersecret",
}
USER_POOL = "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
USER_POOL_CLIENT = "userpoolclient1"
OIDC_HOST = "login.example.com"
OIDC_ARN = f"arn:aws:iam::000000000000:oidc-provider/{OIDC_HOST}"
NO_SUCH_IDENTITY = "us-east-1:00000000-0000-0000-0000-000000000000"


@pytest.fixture
def social_pool(cognito):
    """Guests, the classic flow, a developer provider and all five public providers."""
    made = cognito.create_identity_pool(
        IdentityPoolName="social", AllowUnauthenticatedIdentities=True, AllowClassicFlow=True,
        DeveloperProviderName=DEV, SupportedLoginProviders=APPS,
    )
    return made["IdentityPoolId"]


@pytest.fixture
def login(social):
    """`login(GOOGLE, "g-1")`: a Logins entry with a test-IdP token for that provider's app."""

    def make(provider, subject, audience=None, **kwargs):
        audience = audience or APPS[provider].split(";")[0]
        return {provider: social(subject, provider=provider, audience=audience, **kwargs)}

    return make


def get_id(cognito, pool, *logins):
    merged = {k: v for entry in logins for k, v in entry.items()}
    return cognito.get_id(IdentityPoolId=pool, **({"Logins": merged} if merged else {}))["IdentityId"]


def open_id_token(cognito, identity_id, *logins):
    merged = {k: v for entry in logins for k, v in entry.items()}
    return cognito.get_open_id_token(IdentityId=identity_id, **({"Logins": merged} if merged else {}))


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def logins_of(cognito, identity_id):
    return cognito.describe_identity(IdentityId=identity_id).get("Logins", [])


def live_ids(cognito, pool):
    """Identities not disabled."""
    listed = cognito.list_identities(IdentityPoolId=pool, MaxResults=60, HideDisabled=True)
    return {i["IdentityId"] for i in listed["Identities"]}


def all_ids(cognito, pool):
    return {i["IdentityId"] for i in cognito.list_identities(IdentityPoolId=pool, MaxResults=60)["Identities"]}


def refused(call, code="NotAuthorizedException", message=None):
    with pytest.raises(ClientError) as excinfo:
        call()
    assert error_code(excinfo) == code
    if message is not None:
        assert message in excinfo.value.response["Error"]["Message"]
    return excinfo.value.response["Error"]["Message"]


FORBIDDEN = "Access to Identity '{}' is forbidden."
LOGINS_DONT_MATCH = "Logins don't match. Please include at least one valid login for this identity or identity pool."
NOT_SUPPORTED = "Token is not from a supported provider of this identity pool."


# -- E1-E5: GetId ------------------------------------------------------------------------------


def test_e1_get_id_without_logins_makes_a_new_guest_every_time(cognito, social_pool):
    first, second = get_id(cognito, social_pool), get_id(cognito, social_pool)
    assert first != second and first.startswith("us-east-1:")
    assert logins_of(cognito, first) == []


def test_e1_guests_refused_where_the_pool_does_not_allow_them(cognito):
    bare = cognito.create_identity_pool(IdentityPoolName="noguests", AllowUnauthenticatedIdentities=False)
    refused(lambda: get_id(cognito, bare["IdentityPoolId"]),
            message="Unauthenticated access is not supported for this identity pool.")
    assert all_ids(cognito, bare["IdentityPoolId"]) == set()


def test_e2_one_bad_login_fails_the_whole_call_and_changes_nothing(cognito, social_pool, login):
    alice = get_id(cognito, social_pool, login(FB, "fb-1"))
    before = all_ids(cognito, social_pool)
    forged = login(GOOGLE, "g-1")[GOOGLE][:-4] + "AAAA"
    refused(lambda: get_id(cognito, social_pool, login(FB, "fb-1"), {GOOGLE: forged}), message="Invalid login token.")
    refused(lambda: open_id_token(cognito, alice, login(FB, "fb-1"), {GOOGLE: forged}), message="Invalid login token.")
    assert all_ids(cognito, social_pool) == before
    assert logins_of(cognito, alice) == [FB]


@pytest.mark.parametrize("case, message", [
    ("tampered", "Invalid login token. Signature verification failed."),
    ("other app id", NOT_SUPPORTED),
    ("other provider's token", "Invalid login token. This test token is for graph.facebook.com, not www.amazon.com."),
    ("provider not configured", NOT_SUPPORTED),
    ("unknown provider key", NOT_SUPPORTED),
    ("developer key", "Developer provider logins are accepted only by GetOpenIdTokenForDeveloperIdentity"),
    ("cognito token", "Invalid login token. Can't pass in a Cognito token."),
    ("real facebook token", "The local backend cannot verify real graph.facebook.com tokens"),
    ("saml", "SAML logins are not supported by the local backend."),
    ("alg none", "Invalid login token."),
    ("another store's test idp", "Invalid login token. Signature verification failed."),
])
def test_e2_invalid_logins_are_refused_saying_why(cognito, social, login, tmp_path, case, message):
    from cogid.local import mint_social_token

    pool = cognito.create_identity_pool(
        IdentityPoolName="fbonly", AllowUnauthenticatedIdentities=True, DeveloperProviderName=DEV,
        SupportedLoginProviders={FB: FACEBOOK_APP, AMAZON: APPS[AMAZON]},
        SamlProviderARNs=["arn:aws:iam::000000000000:saml-provider/corp"],
    )["IdentityPoolId"]
    good = social("fb-1")
    head, body, signature = good.split(".")
    other_body = jwt.utils.base64url_encode(jwt.utils.base64url_decode(body).replace(b"fb-1", b"fb-2")).decode()
    none_header = jwt.utils.base64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).decode()
    logins = {
        "tampered": {FB: f"{head}.{other_body}.{signature}"},
        "other app id": {FB: social("fb-1", audience="999")},
        "other provider's token": {AMAZON: good},
        "provider not configured": login(GOOGLE, "g-1"),
        "unknown provider key": {"login.unknown.example": good},
        "developer key": {DEV: "alice"},
        "cognito token": {"cognito-identity.amazonaws.com": good},
        "real facebook token": {FB: "EAAGm0PX4ZCpsBAKZB0ZD"},
        "saml": {"arn:aws:iam::000000000000:saml-provider/corp": "PHNhbWxwOlJlc3BvbnNlPg=="},
        "alg none": {FB: f"{none_header}.{body}."},
        "another store's test idp": {FB: mint_social_token(FB, "fb-1", FACEBOOK_APP, home=tmp_path / "elsewhere")},
    }[case]
    refused(lambda: get_id(cognito, pool, logins), message=message)
    assert all_ids(cognito, pool) == set()


def test_e2_expired_test_tokens_refused_after_five_minutes_of_skew(clocked):
    cognito = clocked.client()
    pool = cognito.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
                                        AllowClassicFlow=True,
                                        SupportedLoginProviders={FB: FACEBOOK_APP})["IdentityPoolId"]
    token = clocked.service.federation.mint(FB, "fb-1", FACEBOOK_APP, duration=600)
    clocked.clock.advance(600 + 299)
    alice = get_id(cognito, pool, {FB: token})
    clocked.clock.advance(2)
    refused(lambda: get_id(cognito, pool, {FB: token}), message="Invalid login token. Token expired.")
    refused(lambda: open_id_token(cognito, alice, {FB: token}), message="Invalid login token. Token expired.")


def test_e2_tokens_from_the_future_refused(clocked):
    cognito = clocked.client()
    pool = cognito.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
                                        SupportedLoginProviders={FB: FACEBOOK_APP})["IdentityPoolId"]
    clocked.clock.advance(3600)
    token = clocked.service.federation.mint(FB, "fb-1", FACEBOOK_APP)
    clocked.clock.advance(-3600)
    refused(lambda: get_id(cognito, pool, {FB: token}), message="Token is not yet valid.")


def test_e3_new_identity_gets_every_presented_login(cognito, social_pool, login):
    alice = get_id(cognito, social_pool, login(FB, "fb-1"), login(GOOGLE, "g-1"))
    assert sorted(logins_of(cognito, alice)) == sorted([FB, GOOGLE])
    assert get_id(cognito, social_pool, login(GOOGLE, "g-1")) == alice
    assert get_id(cognito, social_pool, login(FB, "fb-1")) == alice
    assert get_id(cognito, social_pool, login(FB, "fb-2")) != alice


def test_e4_the_owner_is_returned_and_gets_the_unowned_logins(cognito, social_pool, login):
    alice = get_id(cognito, social_pool, login(FB, "fb-1"))
    assert get_id(cognito, social_pool, login(FB, "fb-1"), login(AMAZON, "amzn-1")) == alice
    assert sorted(logins_of(cognito, alice)) == sorted([FB, AMAZON])
    assert get_id(cognito, social_pool, login(AMAZON, "amzn-1")) == alice
    assert all_ids(cognito, social_pool) == {alice}


def test_e5_two_owners_merge_into_the_oldest(cognito, social_pool, login):
    # spec Q3: the oldest owner survives, whatever order the logins come in
    older = get_id(cognito, social_pool, login(GOOGLE, "g-1"), login(APPLE, "apple-1"))
    newer = get_id(cognito, social_pool, login(FB, "fb-1"))
    assert get_id(cognito, social_pool, login(FB, "fb-1"), login(GOOGLE, "g-1")) == older
    assert sorted(logins_of(cognito, older)) == sorted([GOOGLE, APPLE, FB])
    assert live_ids(cognito, social_pool) == {older}
    assert logins_of(cognito, newer) == []  # disabled: its logins moved
    refused(lambda: open_id_token(cognito, newer, login(FB, "fb-1")), message=FORBIDDEN.format(newer))


# -- E6-E14: GetOpenIdToken / GetCredentialsForIdentity -----------------------------------------


def test_e6_guest_token_without_logins(cognito, social_pool):
    guest = get_id(cognito, social_pool)
    issued = open_id_token(cognito, guest)
    claims = claims_of(issued["Token"])
    assert issued["IdentityId"] == guest
    assert (claims["sub"], claims["aud"], claims["amr"]) == (guest, social_pool, ["unauthenticated"])
    assert claims["exp"] - claims["iat"] == 600


def test_e6_guest_refused_once_the_pool_stops_allowing_guests(cognito, social_pool, pool_roles):
    pool_roles(social_pool)
    guest = get_id(cognito, social_pool)
    cognito.update_identity_pool(IdentityPoolId=social_pool, IdentityPoolName="social",
                                 AllowUnauthenticatedIdentities=False, AllowClassicFlow=True)
    message = "Unauthenticated access is not supported for this identity pool."
    refused(lambda: open_id_token(cognito, guest), message=message)
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=guest), message=message)


def test_e7_authenticated_identity_needs_logins(cognito, social_pool, login, pool_roles):
    pool_roles(social_pool)
    alice = get_id(cognito, social_pool, login(FB, "fb-1"))
    refused(lambda: open_id_token(cognito, alice), message=LOGINS_DONT_MATCH)
    refused(lambda: cognito.get_credentials_for_identity(IdentityId=alice), message=LOGINS_DONT_MATCH)


def test_e8_disabled_identity_is_forbidden_even_with_its_old_login(cognito, social_pool, login, pool_roles):
    pool_roles(social_pool)
    alice = get_id(cognito, social_pool, login(FB, "fb-1"))
    cognito.unlink_identity(IdentityId=alice, Logins=login(FB, "fb-1"), LoginsToRemove=[FB])
    for call in (lambda: open_id_token(cognito, alice),
                 lambda: open_id_token(cognito, alice, login(FB, "fb-1")),
                 lambda: cognito.get_credentials_for_identity(IdentityId=alice, Logins=login(FB, "fb-1"))):
        refused(call, message=FORBIDDEN.format(alice))


def test_e9_logins_none_of_which_is_on_the_identity(cognito, social_pool, login, pool_roles):
    pool_roles(social_pool)
    alice = get_id(cognito, social_pool, login(FB, "fb-1"))
    bob = get_id(cognito, social_pool, login(AMAZON, "amzn-bob"))
    for logins in (login(GOOGLE, "g-free"), login(AMAZON, "amzn-bob")):  # unowned, then owned by bob
        refused(lambda: open_id_token(cognito, alice, logins), message=LOGINS_DONT_MATCH)
        refused(lambda: cognito.get_credentials_for_identity(IdentityId=alice, Logins=logins),
                message=LOGINS_DONT_MATCH)
    assert logins_of(cognito, alice) == [FB] and logins_of(cognito, bob) == [AMAZON]
    assert get_id(cognito, social_pool, login(GOOGLE, "g-free")) not in (alice, bob)


def test_e10_unowned_logins_are_linked_to_the_identity(cognito, social_pool, login):
    alice = get_id(cognito, social_pool, login(FB, "fb-1"))
    issued = open_id_token(cognito, alice, login(FB, "fb-1"), login(GOOGLE, "g-1"))
    assert issued["IdentityId"] == alice
    assert claims_of(issued["Token"])["amr"] == [
        "authenticated", FB, f"{FB}:{FACEBOOK_APP}:fb-1", GOOGLE, f"{GOOGLE}:{APPS[GOOGLE]}:g-1"]
    assert get_id(cognito, social_pool, login(GOOGLE, "g-1")) == alice


def test_e11_guest_presenting_another_identitys_login_merges_into_that_identity(cognito, social_pool, login):
    alice = get_id(cognito, social_pool, login(FB, "fb-1"))
    guest = get_id(cognito, social_pool)
    issued = open_id_token(cognito, guest, login(FB, "fb-1"), login(GOOGLE, "g-1"))
    assert issued["IdentityId"] == alice  # spec Q1: the guest merges into the login's owner
    assert sorted(logins_of(cognito, alice)) == sorted([FB, GOOGLE])
    assert live_ids(cognito, social_pool) == {alice}
    refused(lambda: open_id_token(cognito, guest), message=FORBIDDEN.format(guest))


def test_e11_authenticated_identity_absorbs_the_other_owner(cognito, social_pool, login, pool_roles):
    pool_roles(social_pool)
    alice = get_id(cognito, social_pool, login(FB, "fb-1"))
    bob = get_id(cognito, social_pool, login(GOOGLE, "g-bob"), login(AMAZON, "amzn-bob"))
    got = cognito.get_credentials_for_identity(IdentityId=alice, Logins={**login(FB, "fb-1"), **login(GOOGLE, "g-bob")})
    assert got["IdentityId"] == alice  # spec Q1: the requested identity survives
    assert sorted(logins_of(cognito, alice)) == sorted([FB, GOOGLE, AMAZON])
    assert live_ids(cognito, social_pool) == {alice}
    assert get_id(cognito, social_pool, login(AMAZON, "amzn-bob")) == alice
    refused(lambda: open_id_token(cognito, bob, login(AMAZON, "amzn-bob")), message=FORBIDDEN.format(bob))


def test_e12_one_subject_per_provider(cognito, social_pool, login):
    alice = get_id(cognito, social_pool, login(FB, "fb-1"), login(GOOGLE, "g-1"))
    bob = get_id(cognito, social_pool, login(FB, "fb-2"), login(AMAZON, "amzn-2"))
    for call in (
        lambda: get_id(cognito, social_pool, login(GOOGLE, "g-1"), login(FB, "fb-3")),  # E4 link
        lambda: open_id_token(cognito, alice, login(GOOGLE, "g-1"), login(FB, "fb-3")),  # E10 link
        lambda: open_id_token(cognito, alice, login(GOOGLE, "g-1"), login(AMAZON, "amzn-2")),  # E11 merge
        lambda: get_id(cognito, social_pool, login(GOOGLE, "g-1"), login(AMAZON, "amzn-2")),  # E5 merge
    ):
        refused(call, code="ResourceConflictException")
    assert sorted(logins_of(cognito, alice)) == sorted([FB, GOOGLE])
    assert sorted(logins_of(cognito, bob)) == sorted([FB, AMAZON])
    assert live_ids(cognito, social_pool) == {alice, bob}


def test_e13_twenty_logins_at_most(cognito, social_pool, login, pool_roles):
    pool_roles(social_pool)
    issue = cognito.get_open_id_token_for_developer_identity
    alice = issue(IdentityPoolId=social_pool, Logins={DEV: "u0", **login(FB, "fb-1")})["IdentityId"]
    for i in range(1, 19):  # 19 developer ids + Facebook = 20 logins
        issue(IdentityPoolId=social_pool, Logins={DEV: f"u{i}"})
        cognito.merge_developer_identities(SourceUserIdentifier=f"u{i}", DestinationUserIdentifier="u0",
                                           DeveloperProviderName=DEV, IdentityPoolId=social_pool)
    bob = get_id(cognito, social_pool, login(AMAZON, "amzn-bob"))
    # spec Q4: LimitExceededException where the operation models it (GetId), else InvalidParameter
    refused(lambda: get_id(cognito, social_pool, login(FB, "fb-1"), login(GOOGLE, "g-1")),
            code="LimitExceededException")
    for logins in (login(GOOGLE, "g-1"), login(AMAZON, "amzn-bob")):  # a link, then a merge
        refused(lambda: open_id_token(cognito, alice, login(FB, "fb-1"), logins), code="InvalidParameterException")
        refused(lambda: cognito.get_credentials_for_identity(IdentityId=alice, Logins={**login(FB, "fb-1"), **logins}),
                code="InvalidParameterException")
    assert len(cognito.lookup_developer_identity(IdentityPoolId=social_pool, IdentityId=alice)[
        "DeveloperUserIdentifierList"]) == 19
    assert logins_of(cognito, bob) == [AMAZON]
    assert get_id(cognito, social_pool, login(GOOGLE, "g-1")) not in (alice, bob)


def test_e14_guest_upgraded_in_place_by_its_first_login(cognito, social_pool, login):
    guest = get_id(cognito, social_pool)
    issued = open_id_token(cognito, guest, login(TWITTER, "tw-1"))
    assert issued["IdentityId"] == guest
    assert claims_of(issued["Token"])["amr"] == ["authenticated", TWITTER, f"{TWITTER}:consumerkey:tw-1"]
    assert logins_of(cognito, guest) == [TWITTER]
    assert get_id(cognito, social_pool, login(TWITTER, "tw-1")) == guest
    refused(lambda: open_id_token(cognito, guest), message=LOGINS_DONT_MATCH)  # no longer a guest (E7)


def test_token_calls_for_unknown_identities(cognito, social_pool, login):
    for call in (lambda: open_id_token(cognito, NO_SUCH_IDENTITY),
                 lambda: cognito.get_credentials_for_identity(IdentityId=NO_SUCH_IDENTITY),
                 lambda: cognito.unlink_identity(IdentityId=NO_SUCH_IDENTITY, Logins=login(FB, "x"),
                                                 LoginsToRemove=[FB])):
        refused(call, code="ResourceNotFoundException")


def test_basic_flow_needs_classic_flow_and_no_role_mappings(cognito, login):
    # spec Q8: InvalidParameterException, with the documented text for role mappings; only an
    # explicit AllowClassicFlow=false refuses (an unset flag allows, as on AWS)
    pool = cognito.create_identity_pool(IdentityPoolName="enhanced", AllowUnauthenticatedIdentities=True,
                                        AllowClassicFlow=False, SupportedLoginProviders={FB: FACEBOOK_APP})["IdentityPoolId"]
    guest = get_id(cognito, pool)
    refused(lambda: open_id_token(cognito, guest), code="InvalidParameterException",
            message="Basic (classic) flow is not enabled, please use enhanced flow.")
    cognito.update_identity_pool(IdentityPoolId=pool, IdentityPoolName="enhanced", AllowUnauthenticatedIdentities=True,
                                 AllowClassicFlow=True, SupportedLoginProviders={FB: FACEBOOK_APP})
    assert open_id_token(cognito, guest)["IdentityId"] == guest
    role = "arn:aws:iam::000000000000:role/R"
    mapping = {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}
    cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": role}, RoleMappings={FB: mapping})
    refused(lambda: open_id_token(cognito, guest), code="InvalidParameterException",
            message="Basic (classic) flow is not supported with RoleMappings, please use enhanced flow.")


# -- D4, D5: the developer call with external logins --------------------------------------------


def test_d4_developer_user_joins_the_owner_of_an_external_login(cognito, social_pool, login):
    owner = get_id(cognito, social_pool, login(GOOGLE, "g-1"))
    issued = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=social_pool, Logins={DEV: "alice", **login(GOOGLE, "g-1")})
    assert issued["IdentityId"] == owner
    assert logins_of(cognito, owner) == [GOOGLE, DEV]
    assert claims_of(issued["Token"])["amr"] == [
        "authenticated", DEV, f"{DEV}:{social_pool}:alice", GOOGLE, f"{GOOGLE}:{APPS[GOOGLE]}:g-1"]


def test_d5_developer_owner_absorbs_the_owner_of_an_external_login(cognito, social_pool, login):
    alice = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=social_pool, Logins={DEV: "alice"})["IdentityId"]
    other = get_id(cognito, social_pool, login(AMAZON, "amzn-1"), login(APPLE, "apple-1"))
    issued = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=social_pool, Logins={DEV: "alice", **login(AMAZON, "amzn-1")})
    assert issued["IdentityId"] == alice  # spec Q3: the developer user's owner wins
    assert sorted(logins_of(cognito, alice)) == sorted([DEV, AMAZON, APPLE])
    assert live_ids(cognito, social_pool) == {alice}
    assert get_id(cognito, social_pool, login(APPLE, "apple-1")) == alice
    refused(lambda: open_id_token(cognito, other, login(APPLE, "apple-1")), message=FORBIDDEN.format(other))


def test_developer_call_refuses_bad_external_logins(cognito, social_pool, login):
    for logins, message in (({"cognito-identity.amazonaws.com": "x.y.z"}, "Can't pass in a Cognito token."),
                            (login(FB, "fb-1", audience="999"), NOT_SUPPORTED)):
        refused(lambda: cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=social_pool, Logins={DEV: "alice", **logins}), message=message)
    assert all_ids(cognito, social_pool) == set()


def test_facebook_login_linked_to_alice(cognito, fb_pool, social):
    """The issue's social walk-through: link, find by Facebook alone, refuse a second
    Facebook user, unlink."""
    issue = cognito.get_open_id_token_for_developer_identity
    alice = issue(IdentityPoolId=fb_pool, Logins={DEV: "alice"})["IdentityId"]
    linked = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=fb_pool, Logins={DEV: "alice", FB: social("fb-alice")})
    assert linked["IdentityId"] == alice
    described = cognito.describe_identity(IdentityId=alice)
    assert described["IdentityId"] == alice and sorted(described["Logins"]) == sorted([DEV, FB])
    assert cognito.get_id(IdentityPoolId=fb_pool, Logins={FB: social("fb-alice")})["IdentityId"] == alice
    refused(lambda: cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=fb_pool, Logins={DEV: "alice", FB: social("fb-mallory")}), code="ResourceConflictException")
    cognito.unlink_identity(IdentityId=alice, Logins={FB: social("fb-alice")}, LoginsToRemove=[FB])
    assert logins_of(cognito, alice) == [DEV]
    assert cognito.get_id(IdentityPoolId=fb_pool, Logins={FB: social("fb-alice")})["IdentityId"] != alice
    assert cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=fb_pool, Logins={DEV: "alice"})["IdentityId"] == alice


# -- UnlinkIdentity ----------------------------------------------------------------------------


def test_unlink_identity_removes_the_named_providers(cognito, social_pool, login):
    alice = get_id(cognito, social_pool, login(FB, "fb-1"), login(GOOGLE, "g-1"), login(AMAZON, "amzn-1"))
    cognito.unlink_identity(IdentityId=alice, Logins=login(FB, "fb-1"), LoginsToRemove=[GOOGLE, AMAZON])
    assert logins_of(cognito, alice) == [FB]
    assert get_id(cognito, social_pool, login(GOOGLE, "g-1")) != alice  # N7: freed, a new identity


def test_unlink_identity_needs_a_login_of_the_identity(cognito, social_pool, login):
    alice = get_id(cognito, social_pool, login(FB, "fb-1"), login(GOOGLE, "g-1"))
    get_id(cognito, social_pool, login(AMAZON, "amzn-bob"))
    guest = get_id(cognito, social_pool)
    for identity, logins in ((alice, login(AMAZON, "amzn-bob")), (alice, login(APPLE, "apple-free")),
                             (guest, login(APPLE, "apple-free"))):
        refused(lambda: cognito.unlink_identity(IdentityId=identity, Logins=logins, LoginsToRemove=[GOOGLE]),
                message=LOGINS_DONT_MATCH)
    refused(lambda: cognito.unlink_identity(IdentityId=alice, Logins=login(FB, "fb-1", audience="999"),
                                            LoginsToRemove=[GOOGLE]), message=NOT_SUPPORTED)
    assert sorted(logins_of(cognito, alice)) == sorted([FB, GOOGLE])
    assert logins_of(cognito, guest) == []


def test_unlink_identity_of_the_last_login_disables_the_identity(cognito, social_pool, login):
    alice = get_id(cognito, social_pool, login(FB, "fb-1"))
    cognito.unlink_identity(IdentityId=alice, Logins=login(FB, "fb-1"), LoginsToRemove=[FB])
    assert alice not in live_ids(cognito, social_pool) and alice in all_ids(cognito, social_pool)
    refused(lambda: cognito.unlink_identity(IdentityId=alice, Logins=login(FB, "fb-1"), LoginsToRemove=[FB]),
            message=FORBIDDEN.format(alice))
    assert get_id(cognito, social_pool, login(FB, "fb-1")) != alice


def test_unlink_identity_refusals(cognito, social_pool, login):
    alice = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=social_pool, Logins={DEV: "alice", **login(FB, "fb-1")})["IdentityId"]
    refused(lambda: cognito.unlink_identity(IdentityId=alice, Logins=login(FB, "fb-1"), LoginsToRemove=[DEV]),
            code="InvalidParameterException", message="UnlinkDeveloperIdentity")
    refused(lambda: cognito.unlink_identity(IdentityId=alice, Logins=login(FB, "fb-1"), LoginsToRemove=[GOOGLE]),
            code="ResourceNotFoundException")
    assert sorted(logins_of(cognito, alice)) == sorted([FB, DEV])


# -- the test identity provider ----------------------------------------------------------------


@pytest.mark.parametrize("provider", [FB, GOOGLE, AMAZON, APPLE, TWITTER])
def test_test_idp_tokens_stand_for_each_public_provider(cognito, social_pool, login, provider):
    alice = get_id(cognito, social_pool, login(provider, "user-1"))
    app = APPS[provider].split(";")[0]  # Twitter: the consumer key of "key;secret"
    issued = open_id_token(cognito, alice, login(provider, "user-1"))
    assert claims_of(issued["Token"])["amr"] == ["authenticated", provider, f"{provider}:{app}:user-1"]
    assert logins_of(cognito, alice) == [provider]


def test_test_idp_extra_claims_and_mint_api(home, cognito, fb_pool):
    from cogid.local import mint_social_token

    token = mint_social_token(FB, "fb-1", FACEBOOK_APP, home=home, duration=120, claims={"name": "Alice"})
    header, claims = jwt.get_unverified_header(token), claims_of(token)
    assert header["alg"] == "RS512" and claims["exp"] - claims["iat"] == 120
    assert (claims["sub"], claims["aud"], claims["idp"], claims["name"]) == ("fb-1", FACEBOOK_APP, FB, "Alice")
    alice = cognito.get_id(IdentityPoolId=fb_pool, Logins={FB: token})["IdentityId"]
    by_name = mint_social_token("facebook", "fb-1", FACEBOOK_APP, home=home)  # the short name works too
    assert cognito.get_id(IdentityPoolId=fb_pool, Logins={FB: by_name})["IdentityId"] == alice
    with pytest.raises(ValueError, match="public providers"):
        mint_social_token("login.example.com", "x", "y", home=home)


@pytest.mark.parametrize("door", ["inprocess"], indirect=True)  # a second Service on the test's own store
def test_a_fresh_process_verifies_test_tokens_minted_elsewhere(isolated, social):
    """Another Service on the same store (as another process would be) has not loaded the
    test IdP's key yet; it must read it while GetId's transaction is open."""
    from cogid.local import client
    from cogid.local.service import Service

    cognito = client("cognito-identity", home=isolated)
    pool = cognito.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
                                        SupportedLoginProviders={FB: FACEBOOK_APP})["IdentityPoolId"]
    token = social("fb-1")
    other = served_by(Service(isolated / "local.sqlite3"))
    first = other.get_id(IdentityPoolId=pool, Logins={FB: token})["IdentityId"]
    assert cognito.get_id(IdentityPoolId=pool, Logins={FB: token})["IdentityId"] == first


# -- OpenID Connect issuers and user pools -----------------------------------------------------


@pytest.fixture
def oidc_pool(cognito):
    made = cognito.create_identity_pool(
        IdentityPoolName="oidc", AllowUnauthenticatedIdentities=False, AllowClassicFlow=True,
        SupportedLoginProviders={GOOGLE: APPS[GOOGLE], APPLE: APPS[APPLE]},
        OpenIdConnectProviderARNs=[OIDC_ARN],
        CognitoIdentityProviders=[{"ProviderName": USER_POOL, "ClientId": USER_POOL_CLIENT}],
    )
    return made["IdentityPoolId"]


def test_google_and_apple_id_tokens_verified_against_their_jwks(cognito, oidc_pool, issuer):
    google, apple = issuer("https://accounts.google.com"), issuer("https://appleid.apple.com")
    alice = get_id(cognito, oidc_pool, {GOOGLE: google.token("g-1", aud=APPS[GOOGLE])})
    issued = open_id_token(cognito, alice, {GOOGLE: google.token("g-1", aud=APPS[GOOGLE])},
                           {APPLE: apple.token("apple-1", aud=APPS[APPLE])})
    assert claims_of(issued["Token"])["amr"] == [
        "authenticated", GOOGLE, f"{GOOGLE}:{APPS[GOOGLE]}:g-1", APPLE, f"{APPLE}:{APPS[APPLE]}:apple-1"]
    # Google may write iss without the scheme; aud may be a list; azp, when present, decides
    assert get_id(cognito, oidc_pool, {GOOGLE: google.token("g-1", aud=APPS[GOOGLE], iss=GOOGLE)}) == alice
    assert get_id(cognito, oidc_pool, {GOOGLE: google.token("g-1", aud=["x", APPS[GOOGLE]])}) == alice
    assert get_id(cognito, oidc_pool, {GOOGLE: google.token("g-1", aud="web", azp=APPS[GOOGLE])}) == alice
    for token in (google.token("g-1", aud="other-client"), google.token("g-1", aud=APPS[GOOGLE], azp="other"),
                  google.token("g-1", aud=APPS[GOOGLE][:-3])):
        refused(lambda: get_id(cognito, oidc_pool, {GOOGLE: token}), message=NOT_SUPPORTED)


def test_oidc_provider_tokens(cognito, oidc_pool, issuer):
    provider = issuer(f"https://{OIDC_HOST}", client_ids=["my-client"])
    alice = get_id(cognito, oidc_pool, {OIDC_HOST: provider.token("oidc-1", aud="my-client")})
    issued = open_id_token(cognito, alice, {OIDC_HOST: provider.token("oidc-1", aud="my-client")})
    assert claims_of(issued["Token"])["amr"] == ["authenticated", OIDC_HOST, f"{OIDC_ARN}:OIDC:oidc-1"]
    refused(lambda: get_id(cognito, oidc_pool, {OIDC_HOST: provider.token("oidc-1", aud="not-mine")}),
            message=NOT_SUPPORTED)


def test_oidc_provider_without_client_ids_takes_any_audience_but_needs_one(cognito, oidc_pool, issuer):
    provider = issuer(f"https://{OIDC_HOST}")  # as an issuer whose keys were fetched: no client ids
    assert get_id(cognito, oidc_pool, {OIDC_HOST: provider.token("oidc-1", aud="any-client")})
    refused(lambda: get_id(cognito, oidc_pool, {OIDC_HOST: provider.token("oidc-1", aud=None)}),
            message="Invalid login token. Missing a required claim: aud")


def test_google_trusted_through_an_iam_oidc_provider(cognito, issuer):
    pool = cognito.create_identity_pool(
        IdentityPoolName="google-by-arn", AllowUnauthenticatedIdentities=False,
        OpenIdConnectProviderARNs=[f"arn:aws:iam::000000000000:oidc-provider/{GOOGLE}"])["IdentityPoolId"]
    google = issuer("https://accounts.google.com", client_ids=["cid"])
    alice = get_id(cognito, pool, {GOOGLE: google.token("g-1", aud="cid")})
    assert get_id(cognito, pool, {GOOGLE: google.token("g-1", aud="cid")}) == alice
    refused(lambda: get_id(cognito, pool, {GOOGLE: google.token("g-1", aud="other")}), message=NOT_SUPPORTED)


@pytest.mark.parametrize("case, message", [
    ("other issuer", "Invalid login token. Issuer doesn't match providerName"),
    ("unknown kid", "Invalid login token. The token's signing key (kid) is not in the issuer's JWKS."),
    ("other key", "Invalid login token. Signature verification failed."),
    ("expired", "Invalid login token. Token expired."),
    ("no sub", "Invalid login token. Token is missing the \"sub\" claim."),
    ("alg none", "Invalid login token. The specified alg value is not allowed."),
    ("hs256 with the public key", "Invalid login token. The specified alg value is not allowed."),
    ("not a jwt", "Invalid login token. Not a valid OpenId Connect identity token."),
])
def test_bad_oidc_tokens_refused_saying_why(cognito, oidc_pool, issuer, case, message):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    provider = issuer(f"https://{OIDC_HOST}", client_ids=["my-client"])
    good = provider.token("oidc-1", aud="my-client")
    head, body, _ = good.split(".")

    def signed_hs256(secret):
        header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": provider.kid}).encode())
        mac = hmac.new(secret, header + b"." + body.encode(), hashlib.sha256).digest()
        return (header + b"." + body.encode() + b"." + jwt.utils.base64url_encode(mac)).decode()

    public_pem = provider.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    none_head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": provider.kid}).encode()).decode().rstrip("=")
    token = {
        "other issuer": lambda: provider.token("oidc-1", aud="my-client", iss="https://evil.example.com"),
        "unknown kid": lambda: provider.token("oidc-1", aud="my-client", headers={"kid": "rotated-away"}),
        "other key": lambda: provider.token("oidc-1", aud="my-client",
                                            key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "expired": lambda: provider.token("oidc-1", aud="my-client", lifetime=-301),
        "no sub": lambda: jwt.encode({"iss": provider.url, "aud": "my-client", "exp": 2**40}, provider.key,
                                     algorithm="RS256", headers={"kid": provider.kid}),
        "alg none": lambda: f"{none_head}.{body}.",
        "hs256 with the public key": lambda: signed_hs256(public_pem),
        "not a jwt": lambda: "opaque-access-token",
    }[case]()
    refused(lambda: get_id(cognito, oidc_pool, {OIDC_HOST: token}), message=message)
    assert all_ids(cognito, oidc_pool) == set()


def test_user_pool_id_tokens(cognito, oidc_pool, issuer):
    user_pool = issuer(f"https://{USER_POOL}")
    id_token = user_pool.token("sub-1", aud=USER_POOL_CLIENT, token_use="id", **{"cognito:username": "alice"})
    alice = get_id(cognito, oidc_pool, {USER_POOL: id_token})
    issued = open_id_token(cognito, alice, {USER_POOL: id_token})
    assert claims_of(issued["Token"])["amr"] == ["authenticated", USER_POOL, f"{USER_POOL}:CognitoSignIn:sub-1"]
    access_token = user_pool.token("sub-1", aud=None, token_use="access", client_id=USER_POOL_CLIENT)
    refused(lambda: get_id(cognito, oidc_pool, {USER_POOL: access_token}),
            message="Invalid login token. Missing a required claim: aud")
    refused(lambda: get_id(cognito, oidc_pool, {USER_POOL: user_pool.token("sub-1", aud="otherclient")}),
            message=NOT_SUPPORTED)
    other_pool = issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other0000")
    refused(lambda: get_id(cognito, oidc_pool, {USER_POOL: other_pool.token("sub-1", aud=USER_POOL_CLIENT)}),
            message="Invalid login token. Issuer doesn't match providerName")
    unconfigured = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Other0000"
    refused(lambda: get_id(cognito, oidc_pool, {unconfigured: other_pool.token("sub-1", aud=USER_POOL_CLIENT)}),
            message=NOT_SUPPORTED)


class FakeFetch:
    """Answers JWKS fetches from a dict of URL -> document; records what was asked."""

    def __init__(self, documents):
        self.documents, self.asked = documents, []
        self.store, self.in_transaction = None, []

    def __call__(self, url):
        self.asked.append(url)
        self.in_transaction.append(self.store.db.in_transaction)
        if url not in self.documents:
            raise OSError(f"cannot reach {url}")
        return self.documents[url]


@pytest.fixture
def fetching(tmp_path, rsa_key):
    """A service whose JWKS fetches are answered by a FakeFetch, and an OIDC pool on it."""
    from cogid.local.service import Service

    fetch = FakeFetch({})
    clock = Clock()
    service = Service(tmp_path / "fetching" / "local.sqlite3", fetch=fetch, clock=clock)
    fetch.clock = clock
    fetch.store = service.store
    cognito = served_by(service)
    pool = cognito.create_identity_pool(
        IdentityPoolName="oidc", AllowUnauthenticatedIdentities=False, DeveloperProviderName=DEV, AllowClassicFlow=True,
        SupportedLoginProviders={GOOGLE: APPS[GOOGLE]}, OpenIdConnectProviderARNs=[OIDC_ARN],
        CognitoIdentityProviders=[{"ProviderName": USER_POOL, "ClientId": USER_POOL_CLIENT}],
    )["IdentityPoolId"]
    return fetch, cognito, pool, lambda url, kid="test-key-1": Issuer(url, rsa_key, kid)


def test_jwks_fetched_through_discovery_and_cached(fetching):
    fetch, cognito, pool, make_issuer = fetching
    google = make_issuer("https://accounts.google.com")
    fetch.documents.update({
        "https://accounts.google.com/.well-known/openid-configuration":
            {"issuer": google.url, "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs"},
        "https://www.googleapis.com/oauth2/v3/certs": google.jwks,
    })
    alice = get_id(cognito, pool, {GOOGLE: google.token("g-1", aud=APPS[GOOGLE])})
    assert get_id(cognito, pool, {GOOGLE: google.token("g-1", aud=APPS[GOOGLE])}) == alice
    assert fetch.asked == ["https://accounts.google.com/.well-known/openid-configuration",
                           "https://www.googleapis.com/oauth2/v3/certs"]


def test_jwks_refetched_when_the_issuer_rotates_its_key(fetching):
    fetch, cognito, pool, make_issuer = fetching
    old, new = make_issuer(f"https://{OIDC_HOST}", "key-1"), make_issuer(f"https://{OIDC_HOST}", "key-2")
    discovery = f"https://{OIDC_HOST}/.well-known/openid-configuration"
    fetch.documents.update({discovery: {"jwks_uri": f"https://{OIDC_HOST}/jwks"},
                            f"https://{OIDC_HOST}/jwks": old.jwks})
    alice = get_id(cognito, pool, {OIDC_HOST: old.token("oidc-1")})
    fetch.documents[f"https://{OIDC_HOST}/jwks"] = new.jwks
    refused(lambda: get_id(cognito, pool, {OIDC_HOST: new.token("oidc-1")}),  # keys fetched under a minute ago
            message="Invalid login token. The token's signing key (kid) is not in the issuer's JWKS.")
    assert fetch.asked.count(f"https://{OIDC_HOST}/jwks") == 1
    fetch.clock.advance(60)
    assert get_id(cognito, pool, {OIDC_HOST: new.token("oidc-1")}) == alice
    assert fetch.asked.count(f"https://{OIDC_HOST}/jwks") == 2


def test_issuer_keys_are_never_fetched_inside_a_write_transaction(fetching):
    """A fetch can take seconds: the store's write lock must not be held meanwhile."""
    fetch, cognito, pool, make_issuer = fetching
    jwks_url = f"https://{OIDC_HOST}/jwks"
    fetch.documents[f"https://{OIDC_HOST}/.well-known/openid-configuration"] = {"jwks_uri": jwks_url}
    keys = iter(range(100))

    def fresh_token():  # signed by a key never seen before, so verifying it needs a fetch
        fetch.clock.advance(60)
        issuer = make_issuer(f"https://{OIDC_HOST}", f"key-{next(keys)}")
        fetch.documents[jwks_url] = issuer.jwks
        return {OIDC_HOST: issuer.token("oidc-1")}

    identity = get_id(cognito, pool, fresh_token())
    cognito.get_open_id_token(IdentityId=identity, Logins=fresh_token())
    cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "alice", **fresh_token()})
    cognito.unlink_identity(IdentityId=identity, Logins=fresh_token(), LoginsToRemove=[OIDC_HOST])
    assert fetch.asked.count(jwks_url) == 4

    # A public provider's name may also be an IAM OIDC provider's: the pool decides.
    amazon = make_issuer("https://www.amazon.com", "amazon-1")
    fetch.documents.update({"https://www.amazon.com/.well-known/openid-configuration": amazon.jwks})
    other = cognito.create_identity_pool(
        IdentityPoolName="amazon-oidc", AllowUnauthenticatedIdentities=False,
        OpenIdConnectProviderARNs=["arn:aws:iam::000000000000:oidc-provider/www.amazon.com"])["IdentityPoolId"]
    assert get_id(cognito, other, {"www.amazon.com": amazon.token("a-1")})
    assert fetch.in_transaction == [False] * len(fetch.asked)


def test_user_pool_jwks_fetched_from_its_well_known_path(fetching):
    fetch, cognito, pool, make_issuer = fetching
    user_pool = make_issuer(f"https://{USER_POOL}")
    fetch.documents[f"https://{USER_POOL}/.well-known/jwks.json"] = user_pool.jwks
    assert get_id(cognito, pool, {USER_POOL: user_pool.token("sub-1", aud=USER_POOL_CLIENT)})
    assert fetch.asked == [f"https://{USER_POOL}/.well-known/jwks.json"]


def test_unreachable_issuer_is_an_external_service_error(fetching):
    fetch, cognito, pool, make_issuer = fetching
    token = make_issuer(f"https://{OIDC_HOST}").token("oidc-1")
    message = refused(lambda: get_id(cognito, pool, {OIDC_HOST: token}), code="ExternalServiceException")
    assert f"https://{OIDC_HOST}" in message and "register_issuer" in message
    assert all_ids(cognito, pool) == set()
    asked = len(fetch.asked)
    assert refused(lambda: get_id(cognito, pool, {OIDC_HOST: token}), code="ExternalServiceException") == message
    assert len(fetch.asked) == asked  # an issuer that is down is not asked again at once
    fetch.clock.advance(10)
    refused(lambda: get_id(cognito, pool, {OIDC_HOST: token}), code="ExternalServiceException")
    assert len(fetch.asked) == asked + 1


def test_a_reply_that_is_not_http_is_a_failed_fetch():
    """Whatever a misbehaving issuer sends, fetching its keys fails as an OSError (an
    ExternalServiceException to the caller), never as an internal error."""
    import socket
    import threading

    from cogid.local.identity.federation import fetch_json

    listener = socket.create_server(("127.0.0.1", 0))

    def answer_garbage():
        connection, _ = listener.accept()
        connection.recv(1024)
        connection.sendall(b"garbage, not HTTP\r\n\r\n")
        connection.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    with pytest.raises(OSError, match="not an HTTP reply"):
        fetch_json(f"http://127.0.0.1:{listener.getsockname()[1]}/jwks")
    listener.close()
