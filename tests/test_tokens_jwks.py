"""`token decode --verify`'s check against JWKS documents as issuers really publish them."""

import base64

import pytest

from cogid.errors import Denied
from cogid.local import jwks as local_jwks
from cogid.tokens import verify


@pytest.fixture
def issued(local, pool):
    token = local().get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={"login.example.app": "a"})
    return token["Token"]


def aws_style(value):
    """`n` as AWS publishes it (spec Q12): standard base64, padded, with a leading zero byte."""
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return base64.b64encode(b"\0" + raw).decode()


def test_a_jwks_in_aws_style_base64_verifies(isolated, issued, pool):
    document = local_jwks(isolated)
    document["keys"] = [{**key, "n": aws_style(key["n"])} for key in document["keys"]]
    assert any("=" in key["n"] or "+" in key["n"] or "/" in key["n"] for key in document["keys"])
    assert verify(issued, document, pool)["aud"] == pool


def test_a_key_that_is_not_rsa_numbers_is_a_failed_verification(isolated, issued, pool):
    document = local_jwks(isolated)
    document["keys"] = [{**key, "n": "!!!"} for key in document["keys"]]
    with pytest.raises(Denied, match="malformed"):
        verify(issued, document, pool)
