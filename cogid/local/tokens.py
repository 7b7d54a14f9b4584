"""Reading Cognito OpenID tokens: decode, explain, and verify against the issuer's JWKS.

Failures are ValueErrors saying what is wrong (NotAToken, Unverified): `cogid token decode`
(cogid/tokens.py) and the dashboard's token inspector each say it their own way.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from cogid.local.identity.pool import ISSUER
from cogid.local.signing import ALGORITHM  # pinned: Cognito signs with RS512 only; never `none`, never HMAC

CLOCK_SKEW = 300


class NotAToken(ValueError):
    """The text is not a JWT at all."""


class Unverified(ValueError):
    """A JWT that fails a check: its algorithm, key, signature, issuer, audience or expiry."""


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, unverified; NotAToken for a malformed token."""
    import jwt

    token = token.strip()
    parts = token.split(".")
    # The signature is verify's to check: a token whose signature is damaged still shows what it says.
    unsigned = f"{parts[0]}.{parts[1]}." if len(parts) == 3 else token
    try:
        claims = jwt.decode(unsigned, options={"verify_signature": False})
        header = jwt.get_unverified_header(unsigned)
    except (jwt.InvalidTokenError, UnicodeError) as error:  # UnicodeError: binary input
        raise NotAToken(f"not a JWT ({error})") from None
    try:  # Python's json reads NaN and Infinity, which JSON (RFC 8259), and so a JWT, has not
        json.dumps([header, claims], allow_nan=False)
    except ValueError:
        raise NotAToken("not a JWT (its JSON holds NaN or Infinity)") from None
    return header, claims


def utc_text(value: Any) -> str | None:
    """An epoch-seconds claim as a UTC time, if it is one a calendar can show."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):  # before year 1 or past year 9999
        return None


def explain(header: dict[str, Any], claims: dict[str, Any], now: float | None = None) -> list[tuple[str, str]]:
    """What a Cognito token says, field by field, in words. Claims of any shape are shown as
    they are where they are not what Cognito writes (a token to decode may come from anywhere)."""
    now = time.time() if now is None else now
    amr = claims.get("amr") or []
    if not (isinstance(amr, list) and all(isinstance(entry, str) for entry in amr)):
        amr = [f"(not a list of strings: {json.dumps(amr)[:80]})"]
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
        if name in claims:
            notes.append(
                ("issued" if name == "iat" else "expires", utc_text(claims[name]) or f"{claims[name]!r} (not a time)")
            )
    if utc_text(claims.get("exp")) is not None:
        left = int(claims["exp"] - now)
        if left > 0:
            notes.append(("status", f"valid for {left} s more"))
        else:
            skew = f" (within the {CLOCK_SKEW} s clock skew verifiers allow)" if -left <= CLOCK_SKEW else ""
            notes.append(("status", f"expired {-left} s ago{skew}"))
    tagging = claims.get("https://aws.amazon.com/tags")
    tags = tagging.get("principal_tags") if isinstance(tagging, dict) else None
    if isinstance(tags, dict) and tags:
        notes.append(
            ("principal tags", ", ".join(f"{k}={v[0] if isinstance(v, list) and v else v}" for k, v in tags.items()))
        )
    return notes


def _keys(jwks: Any) -> list[Any] | None:
    """The list of keys of a JWKS document, if it has one."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    return keys if isinstance(keys, list) else None


def find_jwk(jwks: Any, kid: Any) -> dict[str, Any] | None:
    """The key `kid` of a JWKS document, whatever shape the document is in."""
    return next((k for k in _keys(jwks) or [] if isinstance(k, dict) and k.get("kid") == kid), None)


def _key_from_jwk(jwk: dict[str, Any]) -> Any:
    import jwt

    def base64url(value: str) -> str:
        # AWS publishes `n` as padded standard base64 with a leading zero byte (spec Q12);
        # RFC 7518, and so PyJWK, want base64url without padding. Accept both.
        return value.replace("+", "-").replace("/", "_").rstrip("=")

    normalized = {**jwk, "kty": "RSA", "n": base64url(jwk["n"]), "e": base64url(jwk["e"])}
    return jwt.PyJWK(normalized, algorithm=ALGORITHM).key


def verify(token: str, jwks: dict[str, Any], audience: str | None, now: float | None = None) -> dict[str, Any]:
    """Verify signature (RS512 only), issuer, audience and expiry (5 minutes' skew); the claims.

    Raises Unverified saying which check failed (NotAToken for what is no JWT).
    """
    import jwt

    header, claims = decode(token)
    if header.get("alg") != ALGORITHM:
        raise Unverified(f"algorithm {header.get('alg')!r} is not {ALGORITHM}")
    if _keys(jwks) is None:
        raise Unverified("the issuer's JWKS has no list of keys")
    jwk = find_jwk(jwks, header.get("kid"))
    if jwk is None:
        raise Unverified(f"key id {header.get('kid')!r} is not in the issuer's JWKS")
    try:
        key = _key_from_jwk(jwk)
    except (KeyError, TypeError, ValueError, AttributeError, jwt.PyJWTError) as error:
        raise Unverified(f"key {header.get('kid')!r} of the issuer's JWKS is malformed ({error})") from None
    try:  # decode() read the header and claims without it
        jwt.utils.base64url_decode(token.strip().rpartition(".")[2])
    except (ValueError, TypeError) as error:  # binascii.Error is a ValueError
        raise Unverified(f"its signature is malformed ({error})") from None
    try:
        verified: dict[str, Any] = jwt.decode(
            token.strip(),
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=audience,
            leeway=CLOCK_SKEW,
            options={"verify_aud": audience is not None, "verify_exp": False, "require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.InvalidTokenError as error:
        raise Unverified(f"{error}") from None
    now = time.time() if now is None else now
    if verified["exp"] + CLOCK_SKEW < now:
        raise Unverified(f"expired {int(now - verified['exp'])} s ago")
    return verified
