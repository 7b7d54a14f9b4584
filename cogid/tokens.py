"""Reading Cognito OpenID tokens: decode, explain, and verify against the issuer's JWKS."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

from cogid.errors import Denied, UsageError

ISSUER = "https://cognito-identity.amazonaws.com"
ALGORITHM = "RS512"  # pinned: Cognito signs with RS512 only; never `none`, never HMAC
CLOCK_SKEW = 300


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, unverified. A malformed token is a usage error."""
    import jwt

    token = token.strip()
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as error:
        raise UsageError(f"TOKEN: not a JWT ({error})") from None


def explain(header: dict[str, Any], claims: dict[str, Any], now: float | None = None) -> list[tuple[str, str]]:
    """What a Cognito token says, field by field, in words."""
    now = time.time() if now is None else now
    amr = claims.get("amr") or []
    notes = [
        ("algorithm", f"{header.get('alg')} (key id {header.get('kid')})"),
        ("issuer", str(claims.get("iss"))),
        ("identity (sub)", str(claims.get("sub"))),
        ("identity pool (aud)", str(claims.get("aud"))),
    ]
    if amr:
        notes.append(("authentication (amr)", f"{amr[0]}" + (f" via {', '.join(amr[1::2])}" if amr[1:] else "")))
        for detail in amr[2::2]:
            notes.append(("  login", detail))
    for name in ("iat", "exp"):
        if isinstance(claims.get(name), (int, float)):
            when = datetime.fromtimestamp(claims[name], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            notes.append(("issued" if name == "iat" else "expires", when))
    if isinstance(claims.get("exp"), (int, float)):
        left = int(claims["exp"] - now)
        notes.append(("status", f"valid for {left} s more" if left > 0 else f"expired {-left} s ago"))
    tags = (claims.get("https://aws.amazon.com/tags") or {}).get("principal_tags")
    if tags:
        notes.append(
            ("principal tags", ", ".join(f"{k}={v[0] if isinstance(v, list) else v}" for k, v in tags.items()))
        )
    return notes


def _key_from_jwk(jwk: dict[str, Any]) -> Any:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    def integer(value: str) -> int:
        # AWS publishes `n` as padded standard base64 with a leading zero byte (spec Q12);
        # RFC 7518 says base64url without padding. Accept both.
        value = value.replace("+", "-").replace("/", "_").rstrip("=")
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")

    return RSAPublicNumbers(integer(jwk["e"]), integer(jwk["n"])).public_key()


def verify(token: str, jwks: dict[str, Any], audience: str | None, now: float | None = None) -> dict[str, Any]:
    """Verify signature (RS512 only), issuer, audience and expiry (5 minutes' skew); the claims.

    Raises Denied saying which check failed.
    """
    import jwt

    header, claims = decode(token)
    if header.get("alg") != ALGORITHM:
        raise Denied(f"token verification failed: algorithm {header.get('alg')!r} is not {ALGORITHM}")
    jwk = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if jwk is None:
        raise Denied(f"token verification failed: key id {header.get('kid')!r} is not in the issuer's JWKS")
    try:
        verified: dict[str, Any] = jwt.decode(
            token.strip(),
            _key_from_jwk(jwk),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=audience,
            leeway=CLOCK_SKEW,
            options={"verify_aud": audience is not None, "verify_exp": False, "require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.InvalidTokenError as error:
        raise Denied(f"token verification failed: {error}") from None
    now = time.time() if now is None else now
    if verified["exp"] + CLOCK_SKEW < now:
        raise Denied(f"token verification failed: expired {int(now - verified['exp'])} s ago")
    return verified


def jwks_document(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    return document
