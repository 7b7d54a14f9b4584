"""Developer-authenticated identities through real boto3 clients (spec §7.4-7.11, §9, §12.3-12.4)."""

import time

import jwt
import pytest
from botocore.exceptions import ClientError
from conftest import DEV, FACEBOOK_APP, error_code


def issue(cognito, pool, user=None, **kwargs):
    logins = kwargs.pop("Logins", {DEV: user})
    return cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins=logins, **kwargs)


def jwks_verify(home, token, pool):
    from cogid.local.service import open_service

    jwks = open_service(home).jwks()
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    return header, jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS512"], audience=pool,
                              issuer="https://cognito-identity.amazonaws.com")


def logins_of(cognito, identity_id):
    return cognito.describe_identity(IdentityId=identity_id).get("Logins", [])


def test_token_is_rs512_signed_with_the_spec_claims(cognito, pool, home):
    before = int(time.time())
    issued = issue(cognito, pool, "alice", PrincipalTags={"team": "blue"})
    header, claims = jwks_verify(home, issued["Token"], pool)
    assert header == {"alg": "RS512", "kid": header["kid"], "typ": "JWS"}
    assert claims["sub"] == issued["IdentityId"] and claims["aud"] == pool
    assert claims["amr"] == ["authenticated", DEV, f"{DEV}:{pool}:alice"]
    assert claims["exp"] - claims["iat"] == 900 and before <= claims["iat"] <= time.time()
    assert claims["https://cognito-identity.amazonaws.com/identity-pool-arn"] == (
        f"arn:aws:cognito-identity:us-east-1:000000000000:identitypool/{pool}")
    assert claims["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}


def test_token_duration_is_honoured_and_bounded(cognito, raw_cognito, pool, home):
    _, claims = jwks_verify(home, issue(cognito, pool, "alice", TokenDuration=86400)["Token"], pool)
    assert claims["exp"] - claims["iat"] == 86400
    for bad in (0, 86401):
        with pytest.raises(ClientError) as excinfo:
            issue(raw_cognito, pool, "alice", TokenDuration=bad)
        assert error_code(excinfo) == "ValidationException"
        assert "'tokenDuration'" in str(excinfo.value)


def test_tampered_token_fails_verification(cognito, pool, home):
    token = issue(cognito, pool, "alice")["Token"]
    head, body, sig = token.split(".")
    forged = jwt.utils.base64url_encode(jwt.utils.base64url_decode(body).replace(b"alice", b"mallo")).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwks_verify(home, f"{head}.{forged}.{sig}", pool)


def test_same_user_same_identity_other_user_other_identity(cognito, pool):
    alice = issue(cognito, pool, "alice")["IdentityId"]
    assert issue(cognito, pool, "alice")["IdentityId"] == alice  # D3
    assert issue(cognito, pool, "bob")["IdentityId"] != alice  # D2
    assert logins_of(cognito, alice) == [DEV]


def test_d1_unknown_developer_provider_or_pool_without_one(cognito, pool):
    with pytest.raises(ClientError) as excinfo:
        issue(cognito, pool, Logins={"other.provider": "alice"})
    assert error_code(excinfo) == "NotAuthorizedException"
    assert "does not support the specified developer provider" in str(excinfo.value)
    bare = cognito.create_identity_pool(IdentityPoolName="bare", AllowUnauthenticatedIdentities=False)
    with pytest.raises(ClientError) as excinfo:
        issue(cognito, bare["IdentityPoolId"], Logins={DEV: "alice"})
    assert error_code(excinfo) == "NotAuthorizedException"


def test_d4_external_login_owner_gets_the_developer_user(cognito, fb_pool, social):
    owner = cognito.get_id(IdentityPoolId=fb_pool, Logins={"graph.facebook.com": social("fb-1")})["IdentityId"]
    got = issue(cognito, fb_pool, Logins={DEV: "alice", "graph.facebook.com": social("fb-1")})
    assert got["IdentityId"] == owner
    assert logins_of(cognito, owner) == ["graph.facebook.com", DEV]


def test_d3_links_new_external_logins_and_amr_lists_both(cognito, fb_pool, social, home):
    alice = issue(cognito, fb_pool, "alice")["IdentityId"]
    got = issue(cognito, fb_pool, Logins={DEV: "alice", "graph.facebook.com": social("fb-1")})
    assert got["IdentityId"] == alice
    _, claims = jwks_verify(home, got["Token"], fb_pool)
    assert claims["amr"] == ["authenticated", DEV, f"{DEV}:{fb_pool}:alice",
                             "graph.facebook.com", f"graph.facebook.com:{FACEBOOK_APP}:fb-1"]
    assert sorted(logins_of(cognito, alice)) == sorted([DEV, "graph.facebook.com"])


def test_d5_developer_owner_absorbs_the_external_owner(cognito, fb_pool, social):
    alice = issue(cognito, fb_pool, "alice")["IdentityId"]
    other = cognito.get_id(IdentityPoolId=fb_pool, Logins={"graph.facebook.com": social("fb-1")})["IdentityId"]
    got = issue(cognito, fb_pool, Logins={DEV: "alice", "graph.facebook.com": social("fb-1")})
    assert got["IdentityId"] == alice
    assert cognito.get_id(IdentityPoolId=fb_pool, Logins={"graph.facebook.com": social("fb-1")})["IdentityId"] == alice
    listed = {i["IdentityId"]: i for i in cognito.list_identities(IdentityPoolId=fb_pool, MaxResults=60)["Identities"]}
    assert "Logins" not in listed[other]  # disabled, emptied
    hidden = cognito.list_identities(IdentityPoolId=fb_pool, MaxResults=60, HideDisabled=True)["Identities"]
    assert other not in [i["IdentityId"] for i in hidden]


def test_d6_guest_upgraded_in_place(cognito, pool):
    guest = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    assert "Logins" not in cognito.describe_identity(IdentityId=guest)
    assert issue(cognito, pool, "alice", IdentityId=guest)["IdentityId"] == guest
    assert logins_of(cognito, guest) == [DEV]
    assert issue(cognito, pool, "alice")["IdentityId"] == guest


def test_d6_guest_with_an_owned_external_login_merges_into_its_owner(cognito, fb_pool, social):
    owner = cognito.get_id(IdentityPoolId=fb_pool, Logins={"graph.facebook.com": social("fb-1")})["IdentityId"]
    guest = cognito.get_id(IdentityPoolId=fb_pool)["IdentityId"]
    got = issue(cognito, fb_pool, Logins={DEV: "alice", "graph.facebook.com": social("fb-1")}, IdentityId=guest)
    assert got["IdentityId"] == owner  # spec Q1: the guest merges into the login's owner, as in E11
    assert sorted(logins_of(cognito, owner)) == sorted([DEV, "graph.facebook.com"])
    hidden = cognito.list_identities(IdentityPoolId=fb_pool, MaxResults=60, HideDisabled=True)["Identities"]
    assert [i["IdentityId"] for i in hidden] == [owner]


def test_d7_second_developer_user_linked_when_one_login_matches(cognito, pool):
    alice = issue(cognito, pool, "alice")["IdentityId"]
    # One developer provider, so a second developer id comes in through IdentityId (N3).
    with pytest.raises(ClientError) as excinfo:
        issue(cognito, pool, "alice-phone", IdentityId=alice)
    assert error_code(excinfo) == "NotAuthorizedException"  # D8: no login in L is on alice
    assert "Logins don't match" in str(excinfo.value)
    assert issue(cognito, pool, "alice", IdentityId=alice)["IdentityId"] == alice  # D7


def test_d7_external_login_added_via_identity_id(cognito, fb_pool, social):
    alice = issue(cognito, fb_pool, "alice")["IdentityId"]
    got = issue(cognito, fb_pool, Logins={DEV: "alice", "graph.facebook.com": social("fb-1")}, IdentityId=alice)
    assert got["IdentityId"] == alice
    assert sorted(logins_of(cognito, alice)) == sorted([DEV, "graph.facebook.com"])


def test_d9_developer_user_registered_elsewhere(cognito, pool):
    issue(cognito, pool, "alice")
    guest = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    with pytest.raises(ClientError) as excinfo:
        issue(cognito, pool, "alice", IdentityId=guest)
    assert error_code(excinfo) == "DeveloperUserAlreadyRegisteredException"
    assert "Logins" not in cognito.describe_identity(IdentityId=guest)


def test_d10_disabled_identity_is_forbidden(cognito, pool):
    alice = issue(cognito, pool, "alice")["IdentityId"]
    cognito.unlink_developer_identity(IdentityId=alice, IdentityPoolId=pool, DeveloperProviderName=DEV,
                                      DeveloperUserIdentifier="alice")
    with pytest.raises(ClientError) as excinfo:
        issue(cognito, pool, "alice", IdentityId=alice)
    assert error_code(excinfo) == "NotAuthorizedException"
    assert f"Access to Identity '{alice}' is forbidden." in str(excinfo.value)


def test_d11_identity_unknown_or_in_another_pool(cognito, pool):
    other = cognito.create_identity_pool(IdentityPoolName="other", AllowUnauthenticatedIdentities=True)
    stranger = cognito.get_id(IdentityPoolId=other["IdentityPoolId"])["IdentityId"]
    for identity in (stranger, "us-east-1:00000000-0000-0000-0000-000000000000"):
        with pytest.raises(ClientError) as excinfo:
            issue(cognito, pool, "alice", IdentityId=identity)
        assert error_code(excinfo) == "ResourceNotFoundException"


def test_d11_unknown_identity_is_reported_before_a_wrong_developer_provider(cognito, pool):
    with pytest.raises(ClientError) as excinfo:
        issue(cognito, pool, IdentityId="us-east-1:00000000-0000-0000-0000-000000000000",
              Logins={"wrong.provider": "alice"})
    assert error_code(excinfo) == "ResourceNotFoundException"  # spec §7: existence first


def test_d12_second_user_of_one_provider_conflicts(cognito, fb_pool, social):
    alice = issue(cognito, fb_pool, Logins={DEV: "alice", "graph.facebook.com": social("fb-1")})["IdentityId"]
    with pytest.raises(ClientError) as excinfo:
        issue(cognito, fb_pool, Logins={DEV: "alice", "graph.facebook.com": social("fb-2")})
    assert error_code(excinfo) == "ResourceConflictException"
    assert cognito.get_id(IdentityPoolId=fb_pool, Logins={"graph.facebook.com": social("fb-2")})["IdentityId"] != alice


def test_d12_twenty_logins_at_most(cognito, pool):
    alice = issue(cognito, pool, "u0")["IdentityId"]
    for i in range(1, 20):
        # Each extra developer id goes on through a merge into alice (N3, N4).
        issue(cognito, pool, f"u{i}")
        cognito.merge_developer_identities(SourceUserIdentifier=f"u{i}", DestinationUserIdentifier="u0",
                                           DeveloperProviderName=DEV, IdentityPoolId=pool)
    assert len(cognito.lookup_developer_identity(IdentityPoolId=pool, IdentityId=alice)["DeveloperUserIdentifierList"]) == 20
    issue(cognito, pool, "u20")
    with pytest.raises(ClientError) as excinfo:
        cognito.merge_developer_identities(SourceUserIdentifier="u20", DestinationUserIdentifier="u0",
                                           DeveloperProviderName=DEV, IdentityPoolId=pool)
    assert error_code(excinfo) == "InvalidParameterException"
    assert issue(cognito, pool, "u20")["IdentityId"] != alice


def test_lookup_by_user_by_identity_both_and_paged(cognito, pool):
    alice = issue(cognito, pool, "alice")["IdentityId"]
    for user in ("b", "c", "d"):
        issue(cognito, pool, user)
        cognito.merge_developer_identities(SourceUserIdentifier=user, DestinationUserIdentifier="alice",
                                           DeveloperProviderName=DEV, IdentityPoolId=pool)
    by_user = cognito.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier="alice")
    assert (by_user["IdentityId"], by_user["DeveloperUserIdentifierList"]) == (alice, ["alice"])
    both = cognito.lookup_developer_identity(IdentityPoolId=pool, IdentityId=alice, DeveloperUserIdentifier="c")
    assert both["IdentityId"] == alice
    users, token = [], None
    while True:
        page = cognito.lookup_developer_identity(IdentityPoolId=pool, IdentityId=alice, MaxResults=3,
                                                 **({"NextToken": token} if token else {}))
        users += page["DeveloperUserIdentifierList"]
        token = page.get("NextToken")
        if not token:
            break
    assert users == ["alice", "b", "c", "d"]


@pytest.mark.parametrize("kwargs, code", [
    ({}, "InvalidParameterException"),
    ({"DeveloperUserIdentifier": "nobody"}, "ResourceNotFoundException"),
    ({"IdentityId": "us-east-1:00000000-0000-0000-0000-000000000000"}, "ResourceNotFoundException"),
    ({"IdentityId": "BOB", "DeveloperUserIdentifier": "alice"}, "ResourceConflictException"),
    ({"IdentityId": "us-east-1:00000000-0000-0000-0000-000000000000", "DeveloperUserIdentifier": "alice"},
     "ResourceNotFoundException"),
])
def test_lookup_errors(cognito, pool, kwargs, code):
    issue(cognito, pool, "alice")
    bob = issue(cognito, pool, "bob")["IdentityId"]
    if kwargs.get("IdentityId") == "BOB":
        kwargs = {**kwargs, "IdentityId": bob}
    with pytest.raises(ClientError) as excinfo:
        cognito.lookup_developer_identity(IdentityPoolId=pool, **kwargs)
    assert error_code(excinfo) == code


def test_merge_moves_logins_and_disables_the_source(cognito, fb_pool, social):
    alice = issue(cognito, fb_pool, "alice")["IdentityId"]
    bob = issue(cognito, fb_pool, Logins={DEV: "bob", "graph.facebook.com": social("fb-bob")})["IdentityId"]
    merged = cognito.merge_developer_identities(SourceUserIdentifier="bob", DestinationUserIdentifier="alice",
                                                DeveloperProviderName=DEV, IdentityPoolId=fb_pool)
    assert merged["IdentityId"] == alice
    assert issue(cognito, fb_pool, "bob")["IdentityId"] == alice
    assert cognito.get_id(IdentityPoolId=fb_pool, Logins={"graph.facebook.com": social("fb-bob")})["IdentityId"] == alice
    assert "Logins" not in cognito.describe_identity(IdentityId=bob)
    with pytest.raises(ClientError) as excinfo:
        issue(cognito, fb_pool, "bob", IdentityId=bob)
    assert error_code(excinfo) == "NotAuthorizedException"
    # Self-merge (both users now on alice) is a no-op.
    again = cognito.merge_developer_identities(SourceUserIdentifier="bob", DestinationUserIdentifier="alice",
                                               DeveloperProviderName=DEV, IdentityPoolId=fb_pool)
    assert again["IdentityId"] == alice


def test_merge_refusals(cognito, fb_pool, social):
    issue(cognito, fb_pool, Logins={DEV: "alice", "graph.facebook.com": social("fb-a")})
    issue(cognito, fb_pool, Logins={DEV: "bob", "graph.facebook.com": social("fb-b")})
    cases = [({"SourceUserIdentifier": "bob"}, "ResourceConflictException"),
             ({"SourceUserIdentifier": "nobody"}, "ResourceNotFoundException"),
             ({"SourceUserIdentifier": "bob", "DeveloperProviderName": "other.provider"}, "NotAuthorizedException")]
    for overrides, code in cases:
        args = {"SourceUserIdentifier": "bob", "DestinationUserIdentifier": "alice",
                "DeveloperProviderName": DEV, "IdentityPoolId": fb_pool, **overrides}
        with pytest.raises(ClientError) as excinfo:
            cognito.merge_developer_identities(**args)
        assert error_code(excinfo) == code
    assert issue(cognito, fb_pool, "bob")["IdentityId"] != issue(cognito, fb_pool, "alice")["IdentityId"]


def test_unlink_developer_identity(cognito, pool):
    alice = issue(cognito, pool, "alice")["IdentityId"]
    bob = issue(cognito, pool, "bob")["IdentityId"]
    args = {"IdentityPoolId": pool, "DeveloperProviderName": DEV}
    with pytest.raises(ClientError) as excinfo:
        cognito.unlink_developer_identity(IdentityId=alice, DeveloperUserIdentifier="bob", **args)
    assert error_code(excinfo) == "ResourceConflictException"
    with pytest.raises(ClientError) as excinfo:
        cognito.unlink_developer_identity(IdentityId=alice, DeveloperUserIdentifier="nobody", **args)
    assert error_code(excinfo) == "ResourceNotFoundException"
    cognito.unlink_developer_identity(IdentityId=alice, DeveloperUserIdentifier="alice", **args)
    assert "Logins" not in cognito.describe_identity(IdentityId=alice)
    fresh = issue(cognito, pool, "alice")["IdentityId"]  # N7: a freed login makes a new identity
    assert fresh not in (alice, bob)


def test_describe_and_list_identities(cognito, pool):
    alice = issue(cognito, pool, "alice")["IdentityId"]
    described = cognito.describe_identity(IdentityId=alice)
    assert described["Logins"] == [DEV]
    assert described["CreationDate"] <= described["LastModifiedDate"]
    ids = [alice] + [issue(cognito, pool, f"user{i}")["IdentityId"] for i in range(4)]
    seen, token = [], None
    while True:
        page = cognito.list_identities(IdentityPoolId=pool, MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["Identities"]) <= 2 and page["IdentityPoolId"] == pool
        seen += [i["IdentityId"] for i in page["Identities"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == ids
    with pytest.raises(ClientError) as excinfo:
        cognito.describe_identity(IdentityId="us-east-1:00000000-0000-0000-0000-000000000000")
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_delete_identities_frees_logins_and_ignores_unknown_ids(cognito, pool):
    alice = issue(cognito, pool, "alice")["IdentityId"]
    result = cognito.delete_identities(IdentityIdsToDelete=[alice, "us-east-1:00000000-0000-0000-0000-000000000000"])
    assert result["UnprocessedIdentityIds"] == []
    with pytest.raises(ClientError) as excinfo:
        cognito.describe_identity(IdentityId=alice)
    assert error_code(excinfo) == "ResourceNotFoundException"
    assert issue(cognito, pool, "alice")["IdentityId"] != alice


@pytest.mark.parametrize("call", [
    lambda c, pool: c.lookup_developer_identity(IdentityPoolId=pool),
    lambda c, pool: c.update_identity_pool(IdentityPoolId=pool, IdentityPoolName="p",
                                           AllowUnauthenticatedIdentities=False,
                                           SupportedLoginProviders={"bogus.example": "x"}),
    lambda c, pool: c.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": "not-an-iam-role-arn-at-all"}),
], ids=["lookup without keys", "update with a bad provider", "roles with a bad arn"])
def test_an_unknown_pool_is_reported_before_what_is_wrong_with_the_request(cognito, call):
    with pytest.raises(ClientError) as excinfo:
        call(cognito, "us-east-1:00000000-0000-0000-0000-000000000000")
    assert error_code(excinfo) == "ResourceNotFoundException"  # spec §7: existence first


def test_an_identity_of_another_region_is_not_found_by_its_id(cognito, pool, local):
    alice = issue(cognito, pool, "alice")["IdentityId"]
    europe = local("cognito-identity", region="eu-west-1")
    with pytest.raises(ClientError) as excinfo:
        europe.describe_identity(IdentityId=alice)
    assert error_code(excinfo) == "ResourceNotFoundException"
    assert excinfo.value.response["Error"]["Message"] == f"Identity '{alice}' not found."
