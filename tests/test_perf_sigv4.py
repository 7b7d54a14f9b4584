"""sigv4._canonical_request builds what botocore's SigV4Auth.canonical_request builds for the
same request and signed headers, over the paths, queries and header values the service sees
(behaviour only; timing lives in bench/)."""

from __future__ import annotations

from hashlib import sha256

import pytest
from botocore.auth import SigV4Auth

from cogid.local.wire.request import Request
from cogid.local.wire.sigv4 import _canonical_request, _Claim


class _Headers(dict):  # what botocore's canonical_headers reads: names -> all their values
    def get_all(self, name: str) -> list[str]:
        return self[name]


class _Wire:
    def __init__(self, request: Request, signed: list[str], target: str):
        self.method = request.method
        self.url = f"http://{request.headers.get('host', '')}{target}"
        self.headers = _Headers()
        for name in signed:
            self.headers.setdefault(name, []).append(request.headers.get(name, ""))
        self.body = request.body
        self.params: dict[str, str] = {}
        self.context = {"timestamp": "20260101T000000Z"}


class _Botocore(SigV4Auth):
    def headers_to_sign(self, request: _Wire) -> _Headers:
        return request.headers


CASES = [
    ("POST", "/", ["host", "x-amz-date", "x-amz-target"], b'{"IdentityPoolId": "x"}'),
    ("POST", "/", ["content-type", "host", "x-amz-date"], b"Action=ListRoles&Version=2010-05-08"),
    ("GET", "/?Action=GetCallerIdentity&Version=2011-06-15&b=2&a=1&a=0", ["host", "x-amz-date"], b""),
    ("GET", "/identitypools/us-east-1%3Ap/identities/us-east-1%3Ai/datasets/d%20x/records", ["host"], b""),
    ("POST", "/identitypools/a/./b/../c//d/", ["host", "x-amz-date", "host"], b"{}"),
    ("DELETE", "/identitypools/%E2%82%AC/x~y", ["host", "user-agent", "x-amz-date"], b""),
    ("post", "/", ["host", "x-amz-date", "missing-header"], b"\x00\xff"),
]


@pytest.mark.parametrize(("method", "target", "signed", "body"), CASES)
def test_canonical_request_is_botocores(method: str, target: str, signed: list[str], body: bytes) -> None:
    headers = {
        "host": "127.0.0.1:8800",
        "x-amz-date": "20260101T000000Z",
        "x-amz-target": "AWSCognitoIdentityService.GetId",
        "content-type": "application/x-www-form-urlencoded;  charset=utf-8",
        "user-agent": "  aws-sdk-js/3.0   os/linux  ",
    }
    request = Request(method, target, headers, body)
    claim = _Claim(["AKIA", "20260101", "us-east-1", "cognito-identity", "aws4_request"], signed, "", "", None, target)
    theirs = _Botocore(None, "cognito-identity", "us-east-1").canonical_request(_Wire(request, signed, target))
    assert _canonical_request(request, claim, sha256(body).hexdigest()) == theirs


@pytest.mark.parametrize("host", ["a/b", "a#b", "a?b", "[::1"])
def test_a_host_that_moves_or_breaks_the_url_is_refused(host: str) -> None:
    request = Request("POST", "/", {"host": host}, b"")
    claim = _Claim(["AKIA", "20260101", "us-east-1", "sts", "aws4_request"], ["host"], "", "", None, "/")
    with pytest.raises(ValueError):
        _canonical_request(request, claim, sha256(b"").hexdigest())
