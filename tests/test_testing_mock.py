"""cogid.testing.mock_cognito(): unmodified boto3 code served in-process by a fresh local backend,
inside and outside moto's mock_aws (issue 16)."""

import asyncio
import importlib
import sys
import types
import unittest
from concurrent.futures import ThreadPoolExecutor

import boto3
import jwt
import pytest
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.exceptions import ClientError

import cogid.testing
from cogid.testing import Backend, MockConflict, current_backend, mock_cognito

DEV = "login.example.app"
COGNITO = "cognito-identity.amazonaws.com"

# An application module as it would be written for AWS: one client made at import time, one
# at call time; nothing in it knows of cogid.
APP = '''
import boto3

cognito = boto3.client("cognito-identity")


def sign_in(pool_id, user):
    return cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={"login.example.app": user})


def sign_in_with_a_new_client(pool_id, user):
    client = boto3.client("cognito-identity")
    return client.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={"login.example.app": user})


def new_pool(name, provider="login.example.app"):
    return boto3.client("cognito-identity").create_identity_pool(
        IdentityPoolName=name, AllowUnauthenticatedIdentities=False, DeveloperProviderName=provider)
'''


@pytest.fixture(autouse=True)
def aws_region(monkeypatch):
    """What an application's environment gives boto3: a region. No credentials at all (the
    suite's `isolated` fixture removed them and points boto3 at empty config files)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    yield
    assert not hasattr(BaseClient._make_api_call, "_cogid_mock_original"), "the hook outlived its mock"


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The application module, imported now (outside any mock), under a name of its own."""
    name = f"app_under_test_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def verify(token, pool_id):
    """Check `token` as a backend that trusts Cognito would: RS512 against the published JWKS."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS512"
    key = jwt.PyJWKSet.from_dict(cogid.testing.jwks())[header["kid"]]
    return jwt.decode(token, key.key, algorithms=["RS512"], audience=pool_id,
                      issuer="https://cognito-identity.amazonaws.com")


def test_unmodified_module_is_served_at_import_time_and_call_time(app):
    assert boto3.session.Session().get_credentials() is None  # nothing to sign with, and none needed
    with mock_cognito() as backend:
        pool = app.new_pool("app")["IdentityPoolId"]
        first = app.sign_in(pool, "alice")  # the client made at import, before the mock
        second = app.sign_in_with_a_new_client(pool, "alice")  # a client made now
        other = app.sign_in(pool, "bob")
        claims = verify(first["Token"], pool)
        assert backend.jwks() == cogid.testing.jwks()
    # AWS's rule, which moto does not keep: one identity per developer user, whichever client asks.
    assert second["IdentityId"] == first["IdentityId"] != other["IdentityId"]
    assert claims["sub"] == first["IdentityId"]
    assert claims["amr"] == ["authenticated", DEV, f"{DEV}:{pool}:alice"]
    assert claims["exp"] - claims["iat"] == 900  # Cognito's default token lifetime


def test_a_second_developer_provider_gets_awss_errors(app):
    with mock_cognito():
        pool = app.new_pool("first")["IdentityPoolId"]
        with pytest.raises(ClientError) as taken:
            app.new_pool("second")  # the developer provider name is the account's, once
        cognito = boto3.client("cognito-identity")
        with pytest.raises(ClientError) as changed:
            cognito.update_identity_pool(IdentityPoolId=pool, IdentityPoolName="first",
                                         AllowUnauthenticatedIdentities=False, DeveloperProviderName="login.other.app")
        with pytest.raises(ClientError) as unknown:
            cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={"login.other.app": "alice"})
    assert code(taken) == "ResourceConflictException"
    assert "Developer provider name 'login.example.app' is already used by another identity pool" in str(taken.value)
    assert code(changed) == "InvalidParameterException"
    assert "cannot be changed once set" in str(changed.value)
    assert code(unknown) == "NotAuthorizedException"


def test_each_mock_is_a_fresh_backend_and_nothing_is_left_after_it(app):
    with mock_cognito() as first:
        app.new_pool("app")
        home = first.home
    assert not home.exists()
    with mock_cognito():
        assert boto3.client("cognito-identity").list_identity_pools(MaxResults=10)["IdentityPools"] == []
        app.new_pool("app")  # the same provider name again: the first backend is gone


def test_nested_mocks_the_innermost_serves_then_the_outer_again(app):
    with mock_cognito():
        outer_pool = app.new_pool("outer")["IdentityPoolId"]
        with mock_cognito():
            assert boto3.client("cognito-identity").list_identity_pools(MaxResults=10)["IdentityPools"] == []
            inner_pool = app.new_pool("inner")["IdentityPoolId"]
        names = [p["IdentityPoolId"] for p in
                 boto3.client("cognito-identity").list_identity_pools(MaxResults=10)["IdentityPools"]]
    assert names == [outer_pool] and inner_pool != outer_pool


def capture_sends(client, body=b"{}"):
    """Record the requests `client` would send to the network, answering them with `body`."""
    sent = []

    def send(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, types.SimpleNamespace(stream=lambda **_: iter([body])))

    client.meta.events.register("before-send", send)
    return sent


def test_other_services_and_calls_after_the_mock_pass_through_untouched():
    keys = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}
    s3 = boto3.client("s3", **keys)
    cognito = boto3.client("cognito-identity", **keys)
    to_s3 = capture_sends(s3, b"<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>")
    to_cognito = capture_sends(cognito, b'{"IdentityPools": []}')
    with mock_cognito():
        s3.list_buckets()
        cognito.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=True)
    assert [r.url for r in to_s3] == ["https://s3.amazonaws.com/"] and "Authorization" in to_s3[0].headers
    assert to_cognito == []  # served by the mock: nothing reached the network
    cognito.list_identity_pools(MaxResults=10)  # after the mock: to AWS again, signed as before
    assert [r.url for r in to_cognito] == ["https://cognito-identity.us-east-1.amazonaws.com/"]
    assert to_cognito[0].headers["Authorization"].startswith(b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")


def test_vended_credentials_call_as_their_identity_and_expire_on_the_backends_clock():
    with mock_cognito() as backend:
        pool = backend.pool(guests=False)["IdentityPoolId"]
        cognito = boto3.client("cognito-identity")
        alice = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "alice"})
        bob = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "bob"})
        credentials = cognito.get_credentials_for_identity(
            IdentityId=alice["IdentityId"], Logins={COGNITO: alice["Token"]})["Credentials"]
        signed = {"aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretKey"],
                  "aws_session_token": credentials["SessionToken"]}
        phone = boto3.client("cognito-sync", **signed)
        listed = phone.list_records(IdentityPoolId=pool, IdentityId=alice["IdentityId"], DatasetName="settings")
        phone.update_records(IdentityPoolId=pool, IdentityId=alice["IdentityId"], DatasetName="settings",
                             SyncSessionToken=listed["SyncSessionToken"],
                             RecordPatches=[{"Op": "replace", "Key": "theme", "Value": "dark", "SyncCount": 0}])
        with pytest.raises(ClientError) as not_hers:
            phone.list_records(IdentityPoolId=pool, IdentityId=bob["IdentityId"], DatasetName="settings")
        who = boto3.client("sts", **signed).get_caller_identity()
        backend.clock.advance(3601)  # past the credentials' hour, without sleeping
        with pytest.raises(ClientError) as expired:
            phone.list_records(IdentityPoolId=pool, IdentityId=alice["IdentityId"], DatasetName="settings")
        # The developer (no credentials at all) still reads every identity's data.
        records = boto3.client("cognito-sync").list_records(
            IdentityPoolId=pool, IdentityId=alice["IdentityId"], DatasetName="settings")["Records"]
    assert code(not_hers) == "NotAuthorizedException"
    assert ":assumed-role/Cognito_appAuth_Role_" in who["Arn"] and who["Account"] == "000000000000"
    assert code(expired) == "ExpiredTokenException"
    assert [(r["Key"], r["Value"]) for r in records] == [("theme", "dark")]


def test_clients_used_from_threads_share_the_backend(app):
    with mock_cognito():
        pool = app.new_pool("app")["IdentityPoolId"]
        with ThreadPoolExecutor(4) as pool_of_threads:
            ids = set(pool_of_threads.map(lambda _: app.sign_in(pool, "alice")["IdentityId"], range(8)))
    assert len(ids) == 1


def test_decorated_functions_each_call_a_fresh_backend(app):
    seen = []

    @mock_cognito()
    def handler(user):
        seen.append(current_backend())
        pool = app.new_pool("app")["IdentityPoolId"]
        return app.sign_in(pool, user)["IdentityId"]

    @mock_cognito()
    async def async_handler(user):
        pool = app.new_pool("app")["IdentityPoolId"]
        return app.sign_in(pool, user)["IdentityId"]

    @mock_cognito  # bare, as moto's @mock_aws may be
    def bare():
        return current_backend()

    first, second = handler("alice"), handler("alice")  # the same provider twice: two backends
    assert isinstance(bare(), Backend)
    assert first != second and seen[0] is not seen[1] and isinstance(seen[0], Backend)
    assert asyncio.run(async_handler("alice")).startswith("us-east-1:")
    assert handler.__name__ == "handler"
    with pytest.raises(LookupError):
        current_backend()


def test_decorated_test_classes():
    log = []

    @mock_cognito()
    class SignIn(unittest.TestCase):
        def setUp(self):
            self.pool = current_backend().pool()["IdentityPoolId"]  # setUp and the test share a backend

        def test_token(self):
            issued = boto3.client("cognito-identity").get_open_id_token_for_developer_identity(
                IdentityPoolId=self.pool, Logins={DEV: "alice"})
            log.append(issued["IdentityId"])

        def test_again(self):
            self.test_token()

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(SignIn).run(result)
    assert result.wasSuccessful(), result.errors + result.failures
    assert len(log) == 2

    @mock_cognito()
    class PlainTests:
        def test_pool(self):
            return current_backend().pool()["IdentityPoolId"]

    assert PlainTests().test_pool() != PlainTests().test_pool()


@pytest.mark.parametrize("order", ["cogid outside moto", "moto outside cogid"])
def test_beside_motos_mock_aws(order, app):
    from moto import mock_aws

    mocks = [mock_cognito(), mock_aws()]
    if order == "moto outside cogid":
        mocks.reverse()
    with mocks[0] as first, mocks[1] as second:
        backend = first if isinstance(first, Backend) else second
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="avatars")  # moto's
        buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        caller = boto3.client("sts").get_caller_identity()  # cogid's (moto's account is 123456789012)
        pool = app.new_pool("app")["IdentityPoolId"]
        issued = app.sign_in(pool, "alice")
        again = app.sign_in_with_a_new_client(pool, "alice")
        with pytest.raises(ClientError) as taken:
            app.new_pool("second")
        assert backend.decode(issued["Token"])["sub"] == issued["IdentityId"]
    assert buckets == ["avatars"]
    assert caller["Account"] == "000000000000"
    assert verify(issued["Token"], pool)["sub"] == again["IdentityId"] == issued["IdentityId"]
    assert code(taken) == "ResourceConflictException"


def test_an_old_moto_is_refused_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "moto", types.SimpleNamespace(__version__="4.2.14"))
    mock = mock_cognito()
    with pytest.raises(MockConflict, match=r"moto 4\.2\.14 is loaded.*moto 5 or later.*pip install 'moto>=5'"):
        mock.start()
    assert mock.backend is None


def test_no_writable_temporary_directory_is_named(monkeypatch, tmp_path):
    import tempfile

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    with pytest.raises(cogid.testing.SetupError, match=r"mock_cognito: no writable temporary directory .*a-file"):
        mock_cognito().start()


def test_openid_issuers_are_never_fetched_but_may_be_registered():
    import json
    import time

    from cryptography.hazmat.primitives.asymmetric import rsa

    issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"iss": "https://issuer.example.com", "sub": "user-1", "aud": "client-1",
                        "exp": int(time.time()) + 600}, issuer_key, algorithm="RS256", headers={"kid": "k1"})
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer_key.public_key()))
    with mock_cognito() as backend:
        pool = backend.pool(developer_provider=None, roles=False,
                            OpenIdConnectProviderARNs=["arn:aws:iam::000000000000:oidc-provider/issuer.example.com"])
        cognito = boto3.client("cognito-identity")
        login = {"IdentityPoolId": pool["IdentityPoolId"], "Logins": {"issuer.example.com": token}}
        with pytest.raises(ClientError) as unreachable:
            cognito.get_id(**login)
        backend.register_issuer("https://issuer.example.com", {"keys": [{**public, "kid": "k1", "alg": "RS256"}]},
                                ["client-1"])
        identity = cognito.get_id(**login)["IdentityId"]
    assert code(unreachable) == "ExternalServiceException"  # as AWS says of an issuer it cannot reach
    assert "test backends fetch nothing (https://issuer.example.com/" in str(unreachable.value)
    assert identity.startswith("us-east-1:")
