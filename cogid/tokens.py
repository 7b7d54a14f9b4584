"""Reading Cognito OpenID tokens for the CLI: cogid.local.tokens, its failures as the CLI's
errors (a malformed TOKEN is a usage error, a failed check a denial)."""

from __future__ import annotations

from typing import Any

from cogid.errors import Denied, UsageError
from cogid.local import tokens as reading
from cogid.local.tokens import explain, find_jwk

__all__ = ["decode", "explain", "find_jwk", "verify"]


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, unverified. A malformed token is a usage error."""
    try:
        return reading.decode(token)
    except reading.NotAToken as error:
        raise UsageError(f"TOKEN: {error}") from None


def verify(token: str, jwks: dict[str, Any], audience: str | None, now: float | None = None) -> dict[str, Any]:
    """Verify signature (RS512 only), issuer, audience and expiry (5 minutes' skew); the claims.

    Raises Denied saying which check failed.
    """
    try:
        return reading.verify(token, jwks, audience, now)
    except reading.NotAToken as error:
        raise UsageError(f"TOKEN: {error}") from None
    except reading.Unverified as error:
        raise Denied(f"token verification failed: {error}") from None
