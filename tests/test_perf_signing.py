"""The service's tokens are what pyjwt would write: signing.encode_jws against jwt.encode, byte
for byte, and the result verifies with pyjwt (behaviour only; timing lives in bench/)."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cogid.local.signing import ALGORITHM, encode_jws

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

CLAIMS = [
    {"sub": "us-east-1:0b5c", "aud": "us-east-1:pool", "amr": ["authenticated", "login.app", "login.app:p:alice"]},
    {
        "sub": "eu-west-1:x",
        "iss": "https://cognito-identity.amazonaws.com",
        "iat": 1700000000,
        "exp": 1700000900,
        "https://aws.amazon.com/tags": {"principal_tags": {"team": ["blue"], "ünï": ['cödé \u2028 "q"']}},
        "https://cognito-identity.amazonaws.com/identity-pool-arn": "arn:aws:cognito-identity:eu-west-1:0:x",
    },
    {},
]


@pytest.mark.parametrize("claims", CLAIMS)
@pytest.mark.parametrize("typ", ["JWS", "JWT"])
def test_encode_jws_is_pyjwts_token(claims: dict, typ: str) -> None:
    ours = encode_jws(claims, KEY, "cognito-1", typ)
    assert ours == jwt.encode(claims, KEY, algorithm=ALGORITHM, headers={"kid": "cognito-1", "typ": typ})
    assert jwt.get_unverified_header(ours) == {"alg": ALGORITHM, "kid": "cognito-1", "typ": typ}
    options = {"verify_aud": False, "verify_exp": False, "verify_iat": False}
    assert jwt.decode(ours, KEY.public_key(), algorithms=[ALGORITHM], options=options) == claims
