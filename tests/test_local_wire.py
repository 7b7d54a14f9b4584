"""Bad input on the wire: always an AWS error botocore parses, never a 500, state unchanged."""

import json

import pytest
from botocore.exceptions import ClientError
from conftest import DEV, error_code

from cogid.local import protocol
from cogid.local.service import open_service
from cogid.local.wire import shapes
from cogid.local.wire.request import Request


def raw(isolated, target, body, content_type="application/x-amz-json-1.1"):
    headers = {"x-amz-target": target, "content-type": content_type}
    return protocol.handle(open_service(isolated), Request("POST", "/", headers, body))


def snapshot(cognito, pool):
    identities = cognito.list_identities(IdentityPoolId=pool, MaxResults=60)["Identities"]
    return (cognito.list_identity_pools(MaxResults=60)["IdentityPools"],
            {k: v for k, v in cognito.describe_identity_pool(IdentityPoolId=pool).items() if k != "ResponseMetadata"},
            [(i["IdentityId"], i.get("Logins")) for i in identities])


@pytest.mark.parametrize("target, body, code", [
    ("AWSCognitoIdentityService.CreateIdentityPool", b"{not json", "SerializationException"),
    ("AWSCognitoIdentityService.CreateIdentityPool", b"[1, 2]", "SerializationException"),
    ("AWSCognitoIdentityService.CreateIdentityPool", b"\xff\xfe", "SerializationException"),
    ("AWSCognitoIdentityService.NoSuchThing", b"{}", "UnknownOperationException"),
    ("SomethingElse.CreateIdentityPool", b"{}", "UnknownOperationException"),
    ("AWSCognitoIdentityService.GetId", b'{"IdentityPoolId": "us-east-1:0\\ud800"}', "SerializationException"),
    ("AWSCognitoIdentityService.CreateIdentityPool",
     b'{"IdentityPoolName": 5, "AllowUnauthenticatedIdentities": false}', "SerializationException"),
    ("AWSCognitoIdentityService.CreateIdentityPool",
     b'{"IdentityPoolName": "x", "AllowUnauthenticatedIdentities": "yes"}', "SerializationException"),
    ("AWSCognitoIdentityService.GetOpenIdTokenForDeveloperIdentity",
     b'{"IdentityPoolId": "us-east-1:0", "Logins": {"a": "b"}, "TokenDuration": true}', "SerializationException"),
    ("AWSCognitoIdentityService.CreateIdentityPool", b"{}", "ValidationException"),
])
def test_malformed_requests_get_aws_error_bodies(isolated, target, body, code):
    reply = raw(isolated, target, body)
    assert reply.status == 400
    document = json.loads(reply.body)
    assert document["__type"] == code and document["message"]
    assert reply.headers["x-amzn-ErrorType"] == f"{code}:"
    assert reply.headers["Content-Type"] == "application/x-amz-json-1.1"


def test_unknown_members_are_ignored(isolated):
    reply = raw(isolated, "AWSCognitoIdentityService.CreateIdentityPool",
                b'{"IdentityPoolName": "x", "AllowUnauthenticatedIdentities": false, "Surprise": 1}')
    assert reply.status == 200 and "Surprise" not in json.loads(reply.body)


def test_validation_message_reads_like_aws(raw_cognito):
    with pytest.raises(ClientError) as excinfo:
        raw_cognito.create_identity_pool(IdentityPoolName="bad/name", AllowUnauthenticatedIdentities=False)
    assert excinfo.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'bad/name' at 'identityPoolName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+")
    with pytest.raises(ClientError) as excinfo:
        raw_cognito.create_identity_pool(IdentityPoolName="", AllowUnauthenticatedIdentities=None)
    message = excinfo.value.response["Error"]["Message"]
    assert message.startswith("3 validation errors detected: ")
    assert "Value null at 'allowUnauthenticatedIdentities' failed to satisfy constraint: Member must not be null" in message



def test_a_validation_message_never_quotes_login_tokens(raw_cognito, pool):
    """Tokens are sensitive: a message about a Logins map (too many entries) says where, not what."""
    logins = {f"p{i}.example": f"secret-token-{i}" for i in range(11)}
    with pytest.raises(ClientError) as excinfo:
        raw_cognito.get_id(IdentityPoolId=pool, Logins=logins)
    error = excinfo.value.response["Error"]
    assert error["Message"] == (
        "1 validation error detected: Value at 'logins' failed to satisfy constraint: "
        "Member must have length less than or equal to 10")
    assert "secret-token" not in json.dumps(excinfo.value.response)

@pytest.mark.parametrize("call, code", [
    (lambda c, p: c.get_open_id_token_for_developer_identity(IdentityPoolId=p, Logins={DEV: "x" * 1025}),
     "ValidationException"),
    (lambda c, p: c.get_open_id_token_for_developer_identity(IdentityPoolId=p, Logins={DEV: ""}),
     "ValidationException"),
    (lambda c, p: c.get_open_id_token_for_developer_identity(IdentityPoolId=p, Logins={}), "NotAuthorizedException"),
    (lambda c, p: c.get_open_id_token_for_developer_identity(
        IdentityPoolId=p, Logins={f"p{i}.example": "t" for i in range(11)}), "ValidationException"),
    (lambda c, p: c.get_open_id_token_for_developer_identity(
        IdentityPoolId=p + "X", Logins={DEV: "alice"}), "ValidationException"),
    (lambda c, p: c.get_open_id_token_for_developer_identity(
        IdentityPoolId="us-east-1:" + "0" * 60, Logins={DEV: "alice"}), "ValidationException"),
    (lambda c, p: c.get_open_id_token_for_developer_identity(
        IdentityPoolId="us-east-1:deadbeef", Logins={DEV: "alice"}), "ResourceNotFoundException"),
    (lambda c, p: c.create_identity_pool(IdentityPoolName="x" * 129, AllowUnauthenticatedIdentities=True),
     "ValidationException"),
    (lambda c, p: c.create_identity_pool(IdentityPoolName="x", AllowUnauthenticatedIdentities=True,
                                         DeveloperProviderName="bad provider"), "ValidationException"),
    (lambda c, p: c.list_identity_pools(MaxResults=61), "ValidationException"),
    (lambda c, p: c.list_identity_pools(MaxResults=0), "ValidationException"),
    (lambda c, p: c.list_identities(IdentityPoolId=p, MaxResults=60, NextToken=""), "ValidationException"),
    (lambda c, p: c.describe_identity(IdentityId="nope"), "ValidationException"),
    (lambda c, p: c.delete_identities(IdentityIdsToDelete=[]), "ValidationException"),
    (lambda c, p: c.merge_developer_identities(SourceUserIdentifier="a", DestinationUserIdentifier="b",
                                               DeveloperProviderName=DEV, IdentityPoolId="us-east-1:abc"),
     "ResourceNotFoundException"),
    (lambda c, p: c.set_identity_pool_roles(IdentityPoolId=p, Roles={"authenticated": "short"}),
     "ValidationException"),
    (lambda c, p: c.tag_resource(ResourceArn="arn", Tags={}), "ValidationException"),
])
def test_bad_input_is_refused_and_leaves_state_unchanged(cognito, raw_cognito, pool, call, code):
    cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "alice"})
    before = snapshot(cognito, pool)
    with pytest.raises(ClientError) as excinfo:
        call(raw_cognito, pool)
    assert error_code(excinfo) == code
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert snapshot(cognito, pool) == before


def test_internal_failure_is_an_internal_error_reply_without_details(isolated, monkeypatch):
    service = open_service(isolated)

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(service.cognito, "list_identity_pools", broken)
    reply = raw(isolated, "AWSCognitoIdentityService.ListIdentityPools", b'{"MaxResults": 5}')
    assert reply.status == 500
    assert json.loads(reply.body)["__type"] == "InternalErrorException"
    assert b"secret detail" not in reply.body


def test_every_operation_in_the_model_is_served(isolated):
    """All 23 Cognito Identity operations exist as model methods (none falls through)."""
    from botocore import xform_name

    service = open_service(isolated)
    names = shapes.service_model("cognito-identity").operation_names
    assert len(names) == 23
    assert [n for n in names if not callable(getattr(service.cognito, xform_name(n), None))] == []


@pytest.mark.parametrize("call", [
    lambda c, p: c.list_identity_pools(MaxResults=5, NextToken="eyJhZnRlciI6IDEwMDAwMDAwMDAwMDAwMDAwMDAwfQ=="),
    lambda c, p: c.list_identities(IdentityPoolId=p, MaxResults=5, NextToken="eyJhZnRlciI6IDEwMDAwMDAwMDAwMDAwMDAwMDAwfQ=="),
    lambda c, p: c.create_identity_pool(IdentityPoolName="x", AllowUnauthenticatedIdentities=False,
                                        CognitoIdentityProviders=[{"ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"}]),
])
def test_edge_inputs_are_invalid_parameters_not_faults(cognito, pool, call):
    with pytest.raises(ClientError) as excinfo:
        call(cognito, pool)
    assert error_code(excinfo) == "InvalidParameterException"


def test_non_utf8_form_body_is_a_validation_error(isolated):
    reply = protocol.handle(open_service(isolated), Request(
        "POST", "/", {"content-type": "application/x-www-form-urlencoded"}, b"Action=GetCallerIdentity&x=\xff"))
    assert reply.status == 400 and b"<Code>ValidationError</Code>" in reply.body


@pytest.mark.parametrize("door", ["inprocess", "direct"], indirect=True)  # the in-process doors
def test_unsigned_and_signed_in_process_calls_answer_alike(local, cognito, pool):
    """Unsigned calls are answered at botocore's before-call, signed ones after signing: a user
    of either client sees the same dicts and the same ClientError."""
    iam = local("iam")
    key = iam.create_access_key()["AccessKey"]
    signed = local("cognito-identity", aws_access_key_id=key["AccessKeyId"],
                   aws_secret_access_key=key["SecretAccessKey"])
    answers = []
    for client in (cognito, signed):
        described = client.describe_identity_pool(IdentityPoolId=pool)
        with pytest.raises(ClientError) as missing:
            client.describe_identity_pool(IdentityPoolId="us-east-1:00000000-0000-0000-0000-000000000000")
        answers.append((described, missing.value.response))
    (described, error), (signed_described, signed_error) = answers
    for response in (described, signed_described, error, signed_error):
        request_id = response["ResponseMetadata"].pop("RequestId")
        assert len(request_id) == 36
        response["ResponseMetadata"]["HTTPHeaders"].pop("x-amzn-requestid")
        # botocore's retry handler, which only the signed path runs, notes its one attempt.
        response["ResponseMetadata"].pop("MaxAttemptsReached", None)
    assert described == signed_described
    assert described["ResponseMetadata"]["RetryAttempts"] == 0
    assert error == signed_error
    assert error["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "IdentityPool 'us-east-1:00000000-0000-0000-0000-000000000000' not found.",
    }
    assert error["message"] == error["Error"]["Message"]  # the modeled field, as botocore adds it


def test_a_bad_target_prefix_is_an_unknown_operation_even_without_a_json_content_type(isolated):
    reply = raw(isolated, "Foo.GetId", b"{}", content_type="")
    assert (reply.status, json.loads(reply.body)["__type"]) == (400, "UnknownOperationException")


@pytest.mark.parametrize("value", ["line1\nline2", "nul\x00", "bell\x07", "del\x7f", "lone \ud800 surrogate"])
def test_any_character_in_a_value_gets_a_parseable_error(cognito, iam, pool, value):
    """Error messages quote values; their header and XML copies must stay well-formed."""
    expected = "SerializationException" if "\ud800" in value else "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        cognito.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier=value)
    assert caught.value.response["Error"]["Code"] == expected
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if "\ud800" not in value:
        with pytest.raises(ClientError) as caught:
            iam.get_role(RoleName=value)
        assert caught.value.response["Error"]["Code"] in ("ValidationError", "NoSuchEntity")


def test_deeply_nested_policy_is_malformed_not_a_fault(iam):
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName="deep", AssumeRolePolicyDocument="[" * 100_000)
    assert caught.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_delete_identities_leaves_another_regions_identity_alone(local, cognito):
    europe = local("cognito-identity", region="eu-west-1")
    pool = europe.create_identity_pool(IdentityPoolName="eu", AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    guest = europe.get_id(IdentityPoolId=pool)["IdentityId"]
    assert cognito.delete_identities(IdentityIdsToDelete=[guest])["UnprocessedIdentityIds"] == []
    assert europe.describe_identity(IdentityId=guest)["IdentityId"] == guest
