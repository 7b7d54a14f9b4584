"""Identity pool administration through real boto3 clients (spec §6)."""

import pytest
from botocore.exceptions import ClientError
from conftest import DEV, error_code

CLEAN = lambda response: {k: v for k, v in response.items() if k != "ResponseMetadata"}  # noqa: E731


def test_create_returns_the_pool_omitting_unset_members(cognito):
    made = CLEAN(cognito.create_identity_pool(IdentityPoolName="my app", AllowUnauthenticatedIdentities=False))
    assert made == {
        "IdentityPoolId": made["IdentityPoolId"],
        "IdentityPoolName": "my app",
        "AllowUnauthenticatedIdentities": False,
        "IdentityPoolTags": {},
    }
    region, guid = made["IdentityPoolId"].split(":")
    assert region == "us-east-1" and len(guid) == 36
    assert CLEAN(cognito.describe_identity_pool(IdentityPoolId=made["IdentityPoolId"])) == made


def test_create_with_every_provider_kind(cognito):
    made = CLEAN(cognito.create_identity_pool(
        IdentityPoolName="full", AllowUnauthenticatedIdentities=True, AllowClassicFlow=True,
        SupportedLoginProviders={"graph.facebook.com": "1234567890", "accounts.google.com": "client.apps"},
        DeveloperProviderName=DEV,
        OpenIdConnectProviderARNs=["arn:aws:iam::000000000000:oidc-provider/login.provider.com"],
        CognitoIdentityProviders=[{"ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123",
                                   "ClientId": "client1", "ServerSideTokenCheck": False}],
        SamlProviderARNs=["arn:aws:iam::000000000000:saml-provider/corp"],
        IdentityPoolTags={"team": "blue"},
    ))
    assert made["SupportedLoginProviders"] == {"graph.facebook.com": "1234567890", "accounts.google.com": "client.apps"}
    assert made["CognitoIdentityProviders"][0]["ClientId"] == "client1"
    assert made["IdentityPoolTags"] == {"team": "blue"}
    assert made["AllowClassicFlow"] is True


@pytest.mark.parametrize("members, code", [
    ({"SupportedLoginProviders": {"myspace.com": "x"}}, "InvalidParameterException"),
    ({"CognitoIdentityProviders": [{"ProviderName": "not-a-user-pool", "ClientId": "c"}]}, "InvalidParameterException"),
    ({"OpenIdConnectProviderARNs": ["arn:aws:iam::000000000000:role/not-oidc"]}, "InvalidParameterException"),
    ({"IdentityPoolTags": {f"k{i}": "v" for i in range(51)}}, "InvalidParameterException"),
])
def test_create_rejects_bad_provider_configuration(cognito, members, code):
    with pytest.raises(ClientError) as excinfo:
        cognito.create_identity_pool(IdentityPoolName="x", AllowUnauthenticatedIdentities=False, **members)
    assert error_code(excinfo) == code
    assert cognito.list_identity_pools(MaxResults=60)["IdentityPools"] == []


def test_developer_provider_name_is_unique_in_the_account(cognito, pool):
    with pytest.raises(ClientError) as excinfo:
        cognito.create_identity_pool(IdentityPoolName="two", AllowUnauthenticatedIdentities=False,
                                     DeveloperProviderName=DEV)
    assert error_code(excinfo) == "ResourceConflictException"


def test_update_is_a_full_replacement_but_keeps_developer_provider_and_tags(cognito):
    made = cognito.create_identity_pool(
        IdentityPoolName="app", AllowUnauthenticatedIdentities=True, AllowClassicFlow=True,
        SupportedLoginProviders={"graph.facebook.com": "1"}, DeveloperProviderName=DEV,
        IdentityPoolTags={"team": "blue"})
    pool_id = made["IdentityPoolId"]
    updated = CLEAN(cognito.update_identity_pool(IdentityPoolId=pool_id, IdentityPoolName="renamed",
                                                 AllowUnauthenticatedIdentities=False))
    assert updated == {"IdentityPoolId": pool_id, "IdentityPoolName": "renamed",
                       "AllowUnauthenticatedIdentities": False, "DeveloperProviderName": DEV,
                       "IdentityPoolTags": {"team": "blue"}}
    assert CLEAN(cognito.describe_identity_pool(IdentityPoolId=pool_id)) == updated


def test_developer_provider_can_be_added_once_and_never_changed(cognito):
    pool_id = cognito.create_identity_pool(IdentityPoolName="a", AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
    cognito.update_identity_pool(IdentityPoolId=pool_id, IdentityPoolName="a", AllowUnauthenticatedIdentities=False,
                                 DeveloperProviderName="first.provider")
    with pytest.raises(ClientError) as excinfo:
        cognito.update_identity_pool(IdentityPoolId=pool_id, IdentityPoolName="a",
                                     AllowUnauthenticatedIdentities=False, DeveloperProviderName="second.provider")
    assert error_code(excinfo) == "InvalidParameterException"
    assert "cannot be changed" in str(excinfo.value)
    assert cognito.describe_identity_pool(IdentityPoolId=pool_id)["DeveloperProviderName"] == "first.provider"


def test_unknown_pool_and_other_region_are_not_found(cognito, local, pool):
    for client, pool_id in ((cognito, "us-east-1:00000000-0000-0000-0000-000000000000"),
                            (local(region="eu-west-1"), pool)):
        with pytest.raises(ClientError) as excinfo:
            client.describe_identity_pool(IdentityPoolId=pool_id)
        assert error_code(excinfo) == "ResourceNotFoundException"
        assert str(excinfo.value).endswith(f"IdentityPool '{pool_id}' not found.")


def test_delete_removes_the_pool_and_its_identities(cognito, pool):
    identity = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "alice"})["IdentityId"]
    cognito.delete_identity_pool(IdentityPoolId=pool)
    for call in (lambda: cognito.describe_identity_pool(IdentityPoolId=pool),
                 lambda: cognito.describe_identity(IdentityId=identity),
                 lambda: cognito.delete_identity_pool(IdentityPoolId=pool)):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "ResourceNotFoundException"


def test_list_identity_pools_pages_in_creation_order(cognito):
    names = [f"pool{i}" for i in range(7)]
    for name in names:
        cognito.create_identity_pool(IdentityPoolName=name, AllowUnauthenticatedIdentities=False)
    seen, token = [], None
    while True:
        page = cognito.list_identity_pools(MaxResults=3, **({"NextToken": token} if token else {}))
        assert len(page["IdentityPools"]) <= 3
        seen += [p["IdentityPoolName"] for p in page["IdentityPools"]]
        assert set(page["IdentityPools"][0]) == {"IdentityPoolId", "IdentityPoolName"}
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    paginated = [p["IdentityPoolName"] for page in cognito.get_paginator("list_identity_pools").paginate(
        MaxResults=2) for p in page["IdentityPools"]]
    assert paginated == names


def test_bad_pagination_token_is_invalid_parameter(cognito):
    with pytest.raises(ClientError) as excinfo:
        cognito.list_identity_pools(MaxResults=10, NextToken="garbage")
    assert error_code(excinfo) == "InvalidParameterException"


ROLE = "arn:aws:iam::000000000000:role/Cognito_appAuth_Role"


def test_roles_and_role_mappings_round_trip(cognito):
    pool_id = cognito.create_identity_pool(
        IdentityPoolName="roles", AllowUnauthenticatedIdentities=True,
        SupportedLoginProviders={"graph.facebook.com": "1"},
        CognitoIdentityProviders=[{"ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123",
                                   "ClientId": "client1"}])["IdentityPoolId"]
    mappings = {
        "graph.facebook.com": {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
                               "RulesConfiguration": {"Rules": [
                                   {"Claim": "locale", "MatchType": "Equals", "Value": "fr", "RoleARN": ROLE}]}},
        "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123:client1": {"Type": "Token", "AmbiguousRoleResolution": "Deny"},
    }
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": ROLE}, RoleMappings=mappings)
    got = CLEAN(cognito.get_identity_pool_roles(IdentityPoolId=pool_id))
    assert got == {"IdentityPoolId": pool_id, "Roles": {"authenticated": ROLE}, "RoleMappings": mappings}
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={})  # Set replaces both
    assert CLEAN(cognito.get_identity_pool_roles(IdentityPoolId=pool_id)) == {"IdentityPoolId": pool_id, "Roles": {}}


@pytest.mark.parametrize("roles, mappings, code", [
    ({"authenticated": "not-an-arn-but-long-enough"}, {}, "InvalidParameterException"),
    ({"admin": ROLE}, {}, "ValidationException"),
    ({}, {"accounts.google.com": {"Type": "Token", "AmbiguousRoleResolution": "Deny"}}, "InvalidParameterException"),
    ({}, {"graph.facebook.com": {"Type": "Rules", "AmbiguousRoleResolution": "Deny"}}, "InvalidParameterException"),
    ({}, {"graph.facebook.com": {"Type": "Token"}}, "InvalidParameterException"),
    ({}, {"graph.facebook.com": {"Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": {
        "Rules": [{"Claim": "c", "MatchType": "Equals", "Value": "v", "RoleARN": ROLE}] * 26}}}, "InvalidParameterException"),
])
def test_bad_roles_are_refused_and_nothing_changes(cognito, roles, mappings, code):
    pool_id = cognito.create_identity_pool(IdentityPoolName="roles", AllowUnauthenticatedIdentities=True,
                                           SupportedLoginProviders={"graph.facebook.com": "1"})["IdentityPoolId"]
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": ROLE})
    with pytest.raises(ClientError) as excinfo:
        cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=roles, RoleMappings=mappings)
    assert error_code(excinfo) == code
    assert cognito.get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"] == {"authenticated": ROLE}


def test_tags(cognito, pool):
    arn = f"arn:aws:cognito-identity:us-east-1:000000000000:identitypool/{pool}"
    cognito.tag_resource(ResourceArn=arn, Tags={"team": "blue", "env": "dev"})
    cognito.tag_resource(ResourceArn=arn, Tags={"team": "red"})
    cognito.untag_resource(ResourceArn=arn, TagKeys=["env", "missing"])
    assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "red"}
    assert cognito.describe_identity_pool(IdentityPoolId=pool)["IdentityPoolTags"] == {"team": "red"}
    with pytest.raises(ClientError) as excinfo:
        cognito.tag_resource(ResourceArn=arn, Tags={f"k{i}": "v" for i in range(50)})
    assert error_code(excinfo) == "InvalidParameterException"
    assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "red"}
    with pytest.raises(ClientError) as excinfo:
        cognito.list_tags_for_resource(ResourceArn=arn.replace(pool, "us-east-1:00000000-0000-0000-0000-000000000000"))
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_principal_tag_attribute_map(cognito, pool):
    empty = CLEAN(cognito.get_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName="graph.facebook.com"))
    assert empty == {"IdentityPoolId": pool, "IdentityProviderName": "graph.facebook.com", "UseDefaults": False}
    set_ = CLEAN(cognito.set_principal_tag_attribute_map(
        IdentityPoolId=pool, IdentityProviderName="graph.facebook.com", UseDefaults=False,
        PrincipalTags={"app": "aud", "user": "sub"}))
    assert set_ == {"IdentityPoolId": pool, "IdentityProviderName": "graph.facebook.com", "UseDefaults": False,
                    "PrincipalTags": {"app": "aud", "user": "sub"}}
    assert CLEAN(cognito.get_principal_tag_attribute_map(IdentityPoolId=pool,
                                                         IdentityProviderName="graph.facebook.com")) == set_
    # Spec §6.8: the attribute names together take at most 460 bytes; a refused map changes nothing.
    with pytest.raises(ClientError) as excinfo:
        cognito.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName="graph.facebook.com",
                                                PrincipalTags={f"k{i}": "é" * 77 for i in range(3)})  # 462 bytes
    assert error_code(excinfo) == "InvalidParameterException"
    assert "460" in excinfo.value.response["Error"]["Message"]
    assert CLEAN(cognito.get_principal_tag_attribute_map(IdentityPoolId=pool,
                                                         IdentityProviderName="graph.facebook.com")) == set_
    cognito.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName="graph.facebook.com",
                                            PrincipalTags={f"k{i}": "a" * 230 for i in range(2)})  # 460: fine
