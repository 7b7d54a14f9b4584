"""Tests of signin.sign_in, one for each way cogid serves a test suite; run with `pytest examples`."""

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError
from signin import sign_in

import cogid.testing
from cogid.testing import mock_cognito


def as_device(client_factory, credentials):
    return client_factory(
        "sts",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretKey"],
        aws_session_token=credentials["SessionToken"],
    )


# 1. cogid_local: a fresh backend in this process; hand its clients to the code under test.
def test_sign_in_links_facebook_to_the_same_identity(cogid_local):
    pool = cogid_local.pool(facebook="1234567890")
    cognito = cogid_local.client("cognito-identity")

    first = sign_in(pool["IdentityPoolId"], "alice", cognito=cognito)
    facebook = cogid_local.social_token("facebook", "10001")
    again = sign_in(pool["IdentityPoolId"], "alice", facebook, cognito=cognito)

    assert again["IdentityId"] == first["IdentityId"]
    claims = cogid_local.decode(again["Token"])
    assert claims["sub"] == first["IdentityId"] and "graph.facebook.com" in claims["amr"]
    sts = as_device(cogid_local.client, again["Credentials"])
    assert ":assumed-role/" in sts.get_caller_identity()["Arn"]

    cogid_local.clock.advance(3600)  # an hour later, without sleeping
    with pytest.raises(ClientError, match="ExpiredToken"):
        sts.get_caller_identity()


# 2. cogid_server + cogid_env: unmodified boto3 calls reach a real `cogid serve` over HTTP.
def test_sign_in_over_http(cogid_env, cogid_server):
    pool = cogid_server.pool(facebook="1234567890")

    result = sign_in(pool["IdentityPoolId"], "alice", cogid_server.social_token("facebook", "10001"))

    assert cogid_server.decode(result["Token"])["aud"] == pool["IdentityPoolId"]
    sts = as_device(boto3.client, result["Credentials"])
    assert sts.get_caller_identity()["Account"] == "000000000000"


# 3. mock_cognito(): every Cognito client in the process is served by a fresh backend.
def test_sign_in_under_the_mock(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # as in production; no credentials needed
    with mock_cognito() as backend:
        pool = backend.pool()
        result = sign_in(pool["IdentityPoolId"], "alice")
        again = sign_in(pool["IdentityPoolId"], "alice")

    assert again["IdentityId"] == result["IdentityId"]
    token = result["Token"]
    key = jwt.PyJWKSet.from_dict(cogid.testing.jwks())[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS512"], audience=pool["IdentityPoolId"])
    assert claims["sub"] == result["IdentityId"]
