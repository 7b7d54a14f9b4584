"""`cogid serve` over real HTTP: boto3 clients, raw sockets and signals against a running server."""

from __future__ import annotations

import datetime
import http.client
import inspect
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import boto3
import jwt
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import standard_trust_policy

import cogid.local
from cogid.local.identity.pool import ISSUER
from cogid.local.service import STORE_FILE, Service
from cogid.local.transport.inprocess import attach
from cogid.local.transport.server import MAX_BODY, running_server

PROVIDER = "login.example.app"
NOWHERE = "https://{}.us-east-1.cogid.invalid"


def remote(service: str, url: str, key: dict[str, str] | None = None, **credentials: str):
    """A boto3 client for the server at `url`: signed with `key` (or explicit credentials), else unsigned."""
    if key is not None:
        credentials = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    config = Config(retries={"total_max_attempts": 1}, signature_version=None if credentials else UNSIGNED)
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=config, **credentials)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve-home")
    key = cogid.local.client("iam", home=home).create_access_key()["AccessKey"]
    with running_server(home) as url:
        cognito = remote("cognito-identity", url, key)
        pool = cognito.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=True,
                                            AllowClassicFlow=True, DeveloperProviderName=PROVIDER)
        yield SimpleNamespace(url=url, home=home, key=key, cognito=cognito, pool_id=pool["IdentityPoolId"])


def pool_ids(home: Path) -> list[str]:
    pools = cogid.local.client("cognito-identity", home=home).list_identity_pools(MaxResults=60)
    return sorted(p["IdentityPoolId"] for p in pools["IdentityPools"])


def error_code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return str(caught.value.response["Error"]["Code"])


def raw_request(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


# -- the developer flow over HTTP ------------------------------------------------------------


def test_developer_token_issue_and_lookup(server):
    issued = server.cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=server.pool_id, Logins={PROVIDER: "alice"})
    found = server.cognito.lookup_developer_identity(IdentityPoolId=server.pool_id, DeveloperUserIdentifier="alice")
    assert found["IdentityId"] == issued["IdentityId"]
    assert found["DeveloperUserIdentifierList"] == ["alice"]


def test_jwks_and_discovery_verify_a_token(server):
    token = server.cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=server.pool_id, Logins={PROVIDER: "bob"})["Token"]
    with urllib.request.urlopen(server.url + "/.well-known/openid-configuration") as reply:
        discovery = json.load(reply)
    assert discovery["issuer"] == ISSUER
    assert discovery["jwks_uri"] == server.url + "/.well-known/jwks_uri"
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["RS512"], audience=server.pool_id, issuer=ISSUER)
    assert claims["amr"][:2] == ["authenticated", PROVIDER]


def test_unsigned_operations_need_no_credentials(server):
    guest = remote("cognito-identity", server.url)
    identity_id = guest.get_id(IdentityPoolId=server.pool_id)["IdentityId"]
    assert guest.get_open_id_token(IdentityId=identity_id)["IdentityId"] == identity_id


# -- SigV4 failures: AWS's codes, and nothing changes -----------------------------------------


def _unsigned(server):
    return remote("cognito-identity", server.url)


def _unknown_key(server):
    return remote("cognito-identity", server.url, aws_access_key_id="AKIAUNKNOWN000000000",
                  aws_secret_access_key="x" * 40)


def _wrong_secret(server):
    return remote("cognito-identity", server.url, aws_access_key_id=server.key["AccessKeyId"],
                  aws_secret_access_key="x" * 40)


@pytest.mark.parametrize(("client", "code"), [
    (_unsigned, "MissingAuthenticationTokenException"),
    (_unknown_key, "UnrecognizedClientException"),
    (_wrong_secret, "InvalidSignatureException"),
])
def test_bad_signatures_are_refused_and_change_nothing(server, client, code):
    before = pool_ids(server.home)
    create = client(server).create_identity_pool
    assert error_code(create, IdentityPoolName="intruder", AllowUnauthenticatedIdentities=True) == code
    assert pool_ids(server.home) == before


def test_a_request_signed_ten_minutes_ago_is_refused(server, monkeypatch):
    before = pool_ids(server.home)
    cognito = remote("cognito-identity", server.url, server.key)
    then = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *_args, **_kw: then)
    with pytest.raises(ClientError) as caught:
        cognito.create_identity_pool(IdentityPoolName="late", AllowUnauthenticatedIdentities=True)
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert caught.value.response["Error"]["Message"].startswith("Signature expired: ")
    assert pool_ids(server.home) == before


def _signed(server, body: bytes, target: str, credentials: Credentials | None = None) -> AWSRequest:
    """A Cognito Identity request signed by botocore's signer, to send over a raw connection."""
    request = AWSRequest("POST", server.url + "/", data=body, headers={
        "X-Amz-Target": f"AWSCognitoIdentityService.{target}", "Content-Type": "application/x-amz-json-1.1"})
    credentials = credentials or Credentials(server.key["AccessKeyId"], server.key["SecretAccessKey"])
    SigV4Auth(credentials, "cognito-identity", "us-east-1").add_auth(request)
    return request


def test_a_body_changed_after_signing_is_refused(server):
    before = pool_ids(server.home)
    signed_body = b'{"IdentityPoolName": "a", "AllowUnauthenticatedIdentities": true}'
    request = _signed(server, signed_body, "CreateIdentityPool")
    tampered = signed_body.replace(b'"a"', b'"b"')
    status, _, body = raw_request(server.url, "POST", "/", tampered, dict(request.headers.items()))
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")
    assert pool_ids(server.home) == before


def test_a_malformed_authorization_header_is_incomplete(server):
    request = _signed(server, b'{"MaxResults": 5}', "ListIdentityPools")
    headers = {**dict(request.headers.items()), "Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/20200101"}
    status, _, body = raw_request(server.url, "POST", "/", b'{"MaxResults": 5}', headers)
    assert (status, json.loads(body)["__type"]) == (400, "IncompleteSignatureException")


def test_a_signature_in_strange_characters_is_just_wrong(server):
    request = _signed(server, b'{"MaxResults": 5}', "ListIdentityPools")
    headers = dict(request.headers.items())
    headers["Authorization"] = headers["Authorization"].rsplit("=", 1)[0] + "=\u00e9" * 64
    status, _, body = raw_request(server.url, "POST", "/", b'{"MaxResults": 5}',
                                  {k: v.encode().decode("latin-1") for k, v in headers.items()})
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")


def test_an_unsigned_operation_signed_by_an_unknown_key_is_refused(server):
    # botocore never signs GetId; another SDK might, and then the signature must hold.
    body = json.dumps({"IdentityPoolId": server.pool_id}).encode()
    request = _signed(server, body, "GetId", Credentials("AKIAUNKNOWN000000000", "x" * 40))
    status, _, reply = raw_request(server.url, "POST", "/", body, dict(request.headers.items()))
    assert (status, json.loads(reply)["__type"]) == (400, "UnrecognizedClientException")
    request = _signed(server, body, "GetId")
    assert raw_request(server.url, "POST", "/", body, dict(request.headers.items()))[0] == 200


def test_a_raw_signed_request_passes(server):
    request = _signed(server, b'{"MaxResults": 5}', "ListIdentityPools")
    status, _, body = raw_request(server.url, "POST", "/", request.body, dict(request.headers.items()))
    assert status == 200 and server.pool_id in body.decode()


def test_a_host_no_url_can_hold_is_a_wrong_signature_not_a_fault(server):
    request = _signed(server, b'{"MaxResults": 5}', "ListIdentityPools")
    headers = {**dict(request.headers.items()), "Host": "["}
    status, _, body = raw_request(server.url, "POST", "/", request.body, headers)
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")


def test_a_credential_scope_must_name_a_region(server):
    request = AWSRequest("POST", server.url + "/", data=b"{}", headers={
        "X-Amz-Target": "AWSCognitoIdentityService.ListIdentityPools", "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(server.key["AccessKeyId"], server.key["SecretAccessKey"]), "cognito-identity",
              "eu.west").add_auth(request)
    status, _, body = raw_request(server.url, "POST", "/", request.body, dict(request.headers.items()))
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")


def test_a_value_with_a_newline_is_echoed_safely(server):
    with pytest.raises(ClientError) as caught:
        server.cognito.lookup_developer_identity(IdentityPoolId=server.pool_id, DeveloperUserIdentifier="a\nb")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_slow_oidc_issuer_does_not_hold_up_other_requests(server):
    """Fetching an issuer's keys happens off the event loop: other clients are answered meanwhile."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stalled = []

    def accept_and_stall():  # takes the connection and answers nothing for 2 s
        connection, _ = listener.accept()
        stalled.append(connection)
        time.sleep(2)
        connection.close()

    threading.Thread(target=accept_and_stall, daemon=True).start()
    issuer = f"127.0.0.1:{port}"
    pool = server.cognito.create_identity_pool(
        IdentityPoolName="slow", AllowUnauthenticatedIdentities=False,
        OpenIdConnectProviderARNs=[f"arn:aws:iam::000000000000:oidc-provider/{issuer}"])["IdentityPoolId"]
    token = jwt.encode({"iss": f"https://{issuer}", "sub": "u", "aud": "c", "exp": time.time() + 60}, "k" * 32,
                       headers={"kid": "k1"})
    outcome = []
    slow = threading.Thread(target=lambda: outcome.append(error_code(
        remote("cognito-identity", server.url).get_id, IdentityPoolId=pool, Logins={issuer: token})))
    slow.start()
    try:
        deadline = time.monotonic() + 5
        while not stalled and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stalled, "the server never asked the issuer for its keys"
        started = time.monotonic()
        assert raw_request(server.url, "GET", "/.well-known/jwks_uri")[0] == 200
        assert time.monotonic() - started < 1
    finally:
        slow.join(10)
        listener.close()
    assert outcome == ["ExternalServiceException"]


# -- STS: temporary credentials, basic flow -------------------------------------------------


@pytest.fixture(scope="module")
def role_arn(server):
    iam = cogid.local.client("iam", home=server.home)
    role = iam.create_role(RoleName="app-auth", AssumeRolePolicyDocument=standard_trust_policy(server.pool_id))
    return role["Role"]["Arn"]


def test_assumed_role_credentials_sign_get_caller_identity(server, role_arn):
    token = server.cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=server.pool_id, Logins={PROVIDER: "carol"})["Token"]
    assumed = remote("sts", server.url).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="carol", WebIdentityToken=token)
    creds = assumed["Credentials"]
    sts = remote("sts", server.url, aws_access_key_id=creds["AccessKeyId"],
                 aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    assert sts.get_caller_identity()["Arn"] == "arn:aws:sts::000000000000:assumed-role/app-auth/carol"
    # The role carries no permissions: developer operations stay out of reach of a device's credentials.
    device = remote("cognito-identity", server.url, aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    assert error_code(device.list_identity_pools, MaxResults=10) == "AccessDeniedException"


def test_expired_temporary_credentials_are_refused(server, role_arn):
    # Credentials issued two hours ago for 15 minutes, by the same store seen through an old clock.
    past = Service(server.home / STORE_FILE, clock=lambda: time.time() - 7200)
    cognito = attach(boto3.client("cognito-identity", endpoint_url=NOWHERE.format("cognito-identity"),
                                  region_name="us-east-1", config=Config(signature_version=UNSIGNED)), past)
    sts = attach(boto3.client("sts", endpoint_url=NOWHERE.format("sts"), region_name="us-east-1",
                              config=Config(signature_version=UNSIGNED)), past)
    token = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=server.pool_id, Logins={PROVIDER: "dave"})["Token"]
    creds = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="dave", WebIdentityToken=token,
                                              DurationSeconds=900)["Credentials"]
    before = pool_ids(server.home)
    expired = remote("sts", server.url, aws_access_key_id=creds["AccessKeyId"],
                     aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    assert error_code(expired.get_caller_identity) == "ExpiredToken"
    assert pool_ids(server.home) == before


def test_query_operations_answer_get_requests(server):
    request = AWSRequest("GET", server.url + "/?Action=GetCallerIdentity&Version=2011-06-15")
    credentials = Credentials(server.key["AccessKeyId"], server.key["SecretAccessKey"])
    SigV4Auth(credentials, "sts", "us-east-1").add_auth(request)
    status, _, body = raw_request(server.url, "GET", "/?Action=GetCallerIdentity&Version=2011-06-15",
                                  headers=dict(request.headers.items()))
    assert status == 200 and b"arn:aws:iam::000000000000:user/cogid-developer" in body


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_presigned_url_is_checked_like_a_signed_request(server, role_arn, monkeypatch):
    """GetCallerIdentity presigned by botocore, as a device proves who it is to a backend (the
    way `aws eks get-token` makes its tokens)."""
    sts = remote("sts", server.url, server.key)
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    status, body = _get(url)
    assert status == 200 and b"user/cogid-developer" in body

    token = server.cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=server.pool_id, Logins={PROVIDER: "erin"})["Token"]
    creds = remote("sts", server.url).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="erin", WebIdentityToken=token)["Credentials"]
    device = remote("sts", server.url, aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    status, body = _get(device.generate_presigned_url("get_caller_identity", HttpMethod="GET"))
    assert status == 200 and b"assumed-role/app-auth/erin" in body

    def code(target: str) -> tuple[int, str]:
        status, body = _get(target)
        return status, body.split(b"<Code>")[1].split(b"</Code>")[0].decode()

    signature = url.rpartition("X-Amz-Signature=")[2]
    assert code(url.replace(signature, "0" * len(signature))) == (403, "SignatureDoesNotMatch")
    assert code(url.replace("Action=GetCallerIdentity", "Action=GetCallerIdentity&Extra=1")) == (
        403, "SignatureDoesNotMatch")
    assert code(url.replace("X-Amz-Expires=60&", "")) == (400, "IncompleteSignature")
    assert code(url.replace(signature, signature + "&X-Amz-Signature=" + signature)) == (400, "IncompleteSignature")
    status, _, body = raw_request(server.url, "GET", url.partition(urlsplit(server.url).netloc)[2],
                                  headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"})
    assert status == 400 and b"Only one auth mechanism allowed" in body
    # What follows a "#" is no part of a URL's signature, so it is never read as parameters.
    target = url.partition(urlsplit(server.url).netloc)[2]
    version = "&Version=2011-06-15"
    smuggled = target.replace(version, "") + version + "#&Action=AssumeRoleWithWebIdentity"
    status, _, body = raw_request(server.url, "GET", smuggled)
    assert status == 403 and b"SignatureDoesNotMatch" in body

    # STS takes a presigned URL for 15 minutes after its signing, whatever X-Amz-Expires says.
    for minutes_ago, lifetime, accepted in ((10, 60, True), (16, 3600, False)):
        then = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=minutes_ago)
        monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *_args, _then=then, **_kw: _then)
        status, body = _get(sts.generate_presigned_url("get_caller_identity", ExpiresIn=lifetime, HttpMethod="GET"))
        assert (status == 200) is accepted, body
        assert accepted or b"Signature expired" in body and b"- 15 min." in body


def test_a_presigned_url_of_another_service_expires_as_it_says(server, monkeypatch):
    """SigV4's own rule, which STS's 15 minutes above bends: current until X-Amz-Date + X-Amz-Expires."""
    sync = remote("cognito-sync", server.url, server.key)
    for minutes_ago, lifetime, accepted in ((0, 60, True), (2, 60, False), (10, 3600, True), (61, 3600, False)):
        then = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=minutes_ago)
        monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *_args, _then=then, **_kw: _then)
        status, body = _get(sync.generate_presigned_url("list_identity_pool_usage", ExpiresIn=lifetime,
                                                        HttpMethod="GET"))
        assert (status == 200) is accepted, (minutes_ago, lifetime, body)
        assert accepted or status == 403 and b"Signature expired" in body


# -- HTTP behaviour: CORS, limits, slow clients ----------------------------------------------


def test_cors_preflight_and_headers(server):
    status, headers, _ = raw_request(server.url, "OPTIONS", "/", headers={
        "Origin": "http://app.localhost", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-amz-date,x-amz-target,amz-sdk-request",
    })
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    allowed = {h.strip() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-amz-date", "x-amz-target", "amz-sdk-request"} <= allowed

    reply = remote("cognito-identity", server.url).get_id(IdentityPoolId=server.pool_id)
    assert reply["ResponseMetadata"]["HTTPHeaders"]["access-control-allow-origin"] == "*"
    exposed = reply["ResponseMetadata"]["HTTPHeaders"]["access-control-expose-headers"]
    assert exposed == "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date"


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _status_and_body(sock: socket.socket) -> tuple[int, bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.read()


JSON_HEADERS = (b"Content-Type: application/x-amz-json-1.1\r\n"
                b"X-Amz-Target: AWSCognitoIdentityService.ListIdentityPools\r\n")


def test_a_body_over_the_limit_is_refused_and_the_server_goes_on(server):
    with _connect(server.url) as sock:  # announced: refused before a byte of the body is read
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + JSON_HEADERS
                     + f"Content-Length: {2 * MAX_BODY}\r\n\r\n".encode() + b"x" * 65536)
        status, body = _status_and_body(sock)
    assert (status, json.loads(body)["__type"]) == (413, "RequestEntityTooLarge")

    with _connect(server.url) as sock:  # chunked: refused once the limit is passed
        chunk = b"x" * 65536
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + JSON_HEADERS + b"Transfer-Encoding: chunked\r\n\r\n"
                     + (b"10000\r\n" + chunk + b"\r\n") * (MAX_BODY // len(chunk) + 1) + b"0\r\n\r\n")
        status, body = _status_and_body(sock)
    assert (status, json.loads(body)["__type"]) == (413, "RequestEntityTooLarge")

    assert server.cognito.describe_identity_pool(IdentityPoolId=server.pool_id)["IdentityPoolName"] == "app"


def test_a_stalled_client_does_not_block_others(server):
    with _connect(server.url) as slow:
        slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + JSON_HEADERS + b"Content-Length: 100\r\n\r\n{")
        started = time.monotonic()
        assert server.cognito.describe_identity_pool(IdentityPoolId=server.pool_id)["IdentityPoolName"] == "app"
        assert time.monotonic() - started < 2


def test_a_client_pipelining_without_reading_is_not_read_without_bound(server):
    """Requests pipelined ahead of their replies are read a bounded amount ahead: the client's
    sends stall (held in socket buffers), other clients are answered at once, and the
    pipelined requests are then answered in order."""
    request = b"GET /.well-known/jwks_uri HTTP/1.1\r\nHost: x\r\n\r\n"
    blob = request * 20000  # ~1 MB a send
    with _connect(server.url) as greedy:
        greedy.setblocking(False)
        accepted, stalled_since, deadline = 0, None, time.monotonic() + 15
        while time.monotonic() < deadline and accepted < 64 * 2**20:
            try:
                accepted += greedy.send(blob)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1:
                    break
                time.sleep(0.01)
        assert accepted < 24 * 2**20  # the kernel's buffers and 256 KB of ours, not everything
        started = time.monotonic()
        assert server.cognito.describe_identity_pool(IdentityPoolId=server.pool_id)["IdentityPoolName"] == "app"
        assert time.monotonic() - started < 2
        greedy.settimeout(10)
        status, body = _status_and_body(greedy)
        assert status == 200 and json.loads(body)["keys"]


def test_a_pipelined_request_with_large_headers_behind_a_backlog_is_answered(server):
    """Reading stays paused while the backlog is large, but not when the next request's header
    section (~600 KB here, within the field limits) is still coming in."""
    small = b"GET /.well-known/jwks_uri HTTP/1.1\r\nHost: x\r\n\r\n"
    count = 300_000 // len(small)
    fields = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 7500) for i in range(80))
    large = b"GET /.well-known/jwks_uri HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"
    with _connect(server.url) as sock:
        sender = threading.Thread(target=sock.sendall, args=(small * count + large,))
        sender.start()
        replies = sock.makefile("rb")
        statuses = []
        for _ in range(count + 1):
            status = int(replies.readline().split()[1])
            length = 0
            while (line := replies.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            replies.read(length)
            statuses.append(status)
        sender.join()
    assert statuses == [200] * (count + 1)


def test_head_answers_like_get_without_a_body_or_a_log_line(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "cogid.local.transport.server", str(tmp_path), "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        get_status, get_headers, document = raw_request(url, "GET", "/.well-known/jwks_uri")
        status, headers, body = raw_request(url, "HEAD", "/.well-known/jwks_uri")
        assert (status, body) == (200, b"") and get_status == 200
        assert headers["Content-Length"] == get_headers["Content-Length"] == str(len(document))
        for _ in range(20):  # a client's HEADs are no reason to write to the server's log
            status, headers, body = raw_request(url, "HEAD", "/")
            assert (status, body, headers["Allow"]) == (405, b"", "GET, POST, OPTIONS")
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    assert "HEAD" not in errors and "WARNING" not in errors


def test_the_faster_header_checks_agree_with_gunicorns_byte_for_byte():
    from gunicorn.asgi import parser

    from cogid.local.transport.server import _INVALID_IN_HEADER, _TOKEN

    gunicorn = parser.PythonProtocol
    for text in [b"", *(bytes([byte]) for byte in range(256)), b"X-Amz-Date", b"a b", b"AWS4-HMAC-SHA256 x=\x7f"]:
        assert (_TOKEN.fullmatch(text) is not None) == gunicorn._is_valid_token(None, text), text
        assert (_INVALID_IN_HEADER.search(text) is not None) == gunicorn._has_invalid_header_chars(None, text), text


def test_bad_header_bytes_are_still_refused(server):
    for head in (b"X-Amz-Target: Cognito\x01Identity\r\n", b"X(Amz: 1\r\n"):
        with _connect(server.url) as sock:
            sock.sendall(b"GET /.well-known/jwks_uri HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
            assert _status_and_body(sock)[0] == 400


def test_the_fair_accept_loop_still_fits_asyncio():
    # _FairAcceptLoop overrides a private asyncio method; a Python that changes it must fail here.
    from asyncio.selector_events import BaseSelectorEventLoop

    parameters = list(inspect.signature(BaseSelectorEventLoop._accept_connection).parameters)
    assert parameters[:6] == ["self", "protocol_factory", "sock", "sslcontext", "server", "backlog"]


# -- starting and stopping -------------------------------------------------------------------


def _start(home: Path, code: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-c", code, str(home)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def test_serve_binds_localhost_and_prints_the_url_first(tmp_path):
    process, url = _start(tmp_path, "import sys; from cogid.local.transport.server import serve; serve(sys.argv[1], port=0)")
    try:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname) == ("http", "127.0.0.1") and parts.port > 0
        assert raw_request(url, "GET", "/.well-known/jwks_uri")[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_keeps_every_acknowledged_write(tmp_path, stop):
    key = cogid.local.client("iam", home=tmp_path).create_access_key()["AccessKey"]
    pool_id = cogid.local.client("cognito-identity", home=tmp_path).create_identity_pool(
        IdentityPoolName="app", AllowUnauthenticatedIdentities=False, DeveloperProviderName=PROVIDER)["IdentityPoolId"]
    process, url = _start(tmp_path, "import sys; from cogid.local.transport.server import main; main([sys.argv[1], '--port=0'])")
    acknowledged: dict[str, str] = {}

    def issue_until_refused():
        cognito = remote("cognito-identity", url, key)
        for n in range(10_000):
            try:
                reply = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id,
                                                                         Logins={PROVIDER: f"user{n}"})
            except Exception:  # the server has stopped
                return
            acknowledged[f"user{n}"] = reply["IdentityId"]

    writer = threading.Thread(target=issue_until_refused)
    writer.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(stop)  # while writes are in flight
    assert process.wait(20) == 0
    writer.join(10)
    assert len(acknowledged) >= 20

    local = cogid.local.client("cognito-identity", home=tmp_path)
    for user, identity_id in acknowledged.items():
        found = local.lookup_developer_identity(IdentityPoolId=pool_id, DeveloperUserIdentifier=user)
        assert found["IdentityId"] == identity_id



def test_a_connection_that_never_finishes_its_headers_is_closed(tmp_path):
    process, url = _start(tmp_path, "import sys; import cogid.local.transport.server as server; server.IO_TIMEOUT = 1;"
                                    " server.serve(sys.argv[1], port=0, workers=1)")
    try:
        with _connect(url) as idle, _connect(url) as partial:
            partial.sendall(b"GET /.well-known/jwks_uri HTTP/1.1\r\nHo")
            started = time.monotonic()
            assert idle.recv(1) == b"" and partial.recv(1) == b""  # closed by the server
            assert time.monotonic() - started < 5
        assert raw_request(url, "GET", "/.well-known/jwks_uri")[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


def test_stopping_does_not_wait_for_connections_without_a_request(tmp_path):
    process, url = _start(tmp_path, "import sys; from cogid.local.transport.server import serve; serve(sys.argv[1], port=0)")
    with _connect(url) as idle, _connect(url) as partial, _connect(url) as used:
        partial.sendall(b"GET /.well-known/jwks_uri HTTP/1.1\r\nHo")
        used.sendall(b"GET /.well-known/jwks_uri HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _status_and_body(used)[0] == 200
        time.sleep(0.2)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        assert time.monotonic() - started < 5  # not the 10 s graceful timeout
        assert idle.recv(1) == b""


def test_an_unsigned_bad_request_is_refused_for_its_signature_first(tmp_path):
    """AWS checks who is asking before what is asked."""
    with running_server(tmp_path) as url:
        request = urllib.request.Request(url, data=b'{"IdentityPoolName": 5}', method="POST", headers={
            "X-Amz-Target": "AWSCognitoIdentityService.CreateIdentityPool",
            "Content-Type": "application/x-amz-json-1.1"})
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("an unsigned CreateIdentityPool was served")
        except urllib.error.HTTPError as error:
            assert json.loads(error.read())["__type"] == "MissingAuthenticationTokenException"


def test_review_edge_cases_answer_cleanly(tmp_path):
    """Impossible dates, deep JSON, a permanent key with a session token, CORS for Amplify."""
    key = cogid.local.client("iam", home=tmp_path).create_access_key()["AccessKey"]
    with running_server(tmp_path) as url:
        host = urlsplit(url).netloc

        def post(headers, body=b"{}"):
            connection = http.client.HTTPConnection(host, timeout=10)
            connection.request("POST", "/", body=body, headers={
                "X-Amz-Target": "AWSCognitoIdentityService.ListIdentityPools",
                "Content-Type": "application/x-amz-json-1.1", **headers})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()

        scope = f"Credential={key['AccessKeyId']}/20261326/us-east-1/cognito-identity/aws4_request"
        status, headers, body = post({"X-Amz-Date": "20261326T000000Z", "Authorization":
                                      f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00"})
        assert status < 500 and json.loads(body)["__type"] == "IncompleteSignatureException"
        assert headers["x-amzn-ErrorMessage"].startswith("Date must be in ISO-8601")
        status, _, body = post({"X-Amz-Target": "AWSCognitoIdentityService.GetId"}, b"[" * 100_000)
        assert status == 400 and json.loads(body)["__type"] == "SerializationException"
        signed = boto3.session.Session().client(
            "cognito-identity", region_name="us-east-1", endpoint_url=url,
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
            aws_session_token="garbage")
        with pytest.raises(ClientError) as excinfo:
            signed.list_identity_pools(MaxResults=5)
        assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"
        connection = http.client.HTTPConnection(host, timeout=10)
        connection.request("OPTIONS", "/", headers={"Origin": "http://app.example",
                                                    "Access-Control-Request-Method": "POST",
                                                    "Access-Control-Request-Headers": "content-type,x-amz-target,cache-control"})
        allowed = connection.getresponse().getheader("Access-Control-Allow-Headers")
        assert "cache-control" in allowed and "x-amz-target" in allowed
