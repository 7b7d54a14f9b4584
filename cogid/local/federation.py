"""Verifying external logins on the local backend.

The local service cannot ask Facebook or Google whether a token is real. It accepts:
- tokens from its own test identity provider (`mint_social_token`), as logins of the public
  providers, checked against the pool's app / client id;
- OpenID Connect ID tokens (Google, Apple, IAM OIDC providers, Cognito user pools), verified
  against the issuer's JWKS: registered for offline use (`register_issuer`) or fetched;
and rejects anything else with NotAuthorizedException saying why.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt

from cogid.local import errors
from cogid.local.signing import KeyRing
from cogid.local.store import Store

if TYPE_CHECKING:
    from cogid.local.model import Pool

COGNITO_KEY = "cognito-identity.amazonaws.com"
TEST_IDP_ISSUER = "https://test-idp.cogid.local"
# Public providers, and the short names `cogid social token` knows them by.
PUBLIC_PROVIDERS = {
    "graph.facebook.com": "facebook",
    "accounts.google.com": "google",
    "www.amazon.com": "amazon",
    "appleid.apple.com": "apple",
    "api.twitter.com": "twitter",
    "www.digits.com": "digits",
}
# Public providers whose real tokens are OIDC ID tokens, verifiable against the issuer's JWKS.
OIDC_PUBLIC = {"accounts.google.com": "https://accounts.google.com", "appleid.apple.com": "https://appleid.apple.com"}
CLOCK_SKEW = 300  # seconds of clock skew allowed on expiry, as Cognito allows


@dataclass(frozen=True)
class Login:
    """A verified login: provider key, the user's subject there, and its `amr` detail entry."""

    provider: str
    subject: str
    developer: bool = False
    detail: str = ""
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # for role rules


def _invalid(why: str) -> errors.NotAuthorized:
    return errors.NotAuthorized(f"Invalid login token. {why}")


class Federation:
    def __init__(self, store: Store, test_idp: KeyRing, clock: Callable[[], float],
                 fetch: Callable[[str], dict[str, Any]] | None = None):
        self.store = store
        self.test_idp = test_idp
        self.clock = clock
        self.fetch = fetch or _fetch_json
        self._jwks: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # -- the test identity provider --------------------------------------------------------

    def mint(self, provider: str, subject: str, audience: str, duration: int = 3600,
             claims: dict[str, Any] | None = None) -> str:
        now = int(self.clock())
        payload = {"iss": TEST_IDP_ISSUER, "idp": provider, "sub": subject, "aud": audience,
                   "iat": now, "exp": now + duration, **(claims or {})}
        return self.test_idp.sign(payload, typ="JWT")

    # -- verification ----------------------------------------------------------------------

    def verify(self, pool: Pool, key: str, token: str, now: float) -> Login:
        """Check one `Logins` entry of `pool` and return the login it proves."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            if key in PUBLIC_PROVIDERS and key not in OIDC_PUBLIC:
                raise _invalid(
                    f"The local backend cannot verify real {key} tokens; use a test token"
                    f" (cogid social token {PUBLIC_PROVIDERS[key]})."
                ) from None
            raise _invalid("Not a valid OpenId Connect identity token.") from None
        if unverified.get("iss") == TEST_IDP_ISSUER:
            return self._verify_test_token(pool, key, token, now)
        if key in OIDC_PUBLIC:
            return self._verify_oidc_public(pool, key, token, now)
        if key.startswith("cognito-idp."):
            return self._verify_user_pool(pool, key, token, now)
        for arn in pool.doc.get("OpenIdConnectProviderARNs", []):
            if arn.split(":oidc-provider/", 1)[1] == key:
                return self._verify_oidc_provider(arn, key, token, now)
        if key.startswith("arn:") and ":saml-provider/" in key:
            raise _invalid("SAML logins are not supported by the local backend.")
        if key in PUBLIC_PROVIDERS:
            raise _invalid(f"The local backend cannot verify real {key} tokens; use a test token.")
        raise errors.NotAuthorized("Token is not from a supported provider of this identity pool.")

    def _supported_app_id(self, pool: Pool, key: str) -> str:
        app_id = pool.doc.get("SupportedLoginProviders", {}).get(key)
        if app_id is None:
            raise errors.NotAuthorized("Token is not from a supported provider of this identity pool.")
        return str(app_id)

    def _verify_test_token(self, pool: Pool, key: str, token: str, now: float) -> Login:
        if key not in PUBLIC_PROVIDERS:
            raise _invalid("Test identity provider tokens stand only for public providers.")
        app_id = self._supported_app_id(pool, key)
        claims = self._decode(token, self.test_idp.public_key, now, issuer=TEST_IDP_ISSUER)
        if claims.get("idp") != key:
            raise _invalid(f"This test token is for {claims.get('idp')}, not {key}.")
        # Twitter's configured value is "consumerKey;consumerSecret": the key is the audience.
        if claims.get("aud") not in (app_id, app_id.split(";")[0]):
            raise errors.NotAuthorized("Token is not from a supported provider of this identity pool.")
        return Login(key, str(claims["sub"]), detail=f"{key}:{app_id.split(';')[0]}:{claims['sub']}", claims=claims)

    def _verify_oidc_public(self, pool: Pool, key: str, token: str, now: float) -> Login:
        client_id = self._supported_app_id(pool, key)
        issuer = OIDC_PUBLIC[key]
        claims = self._decode(token, self._issuer_key(issuer, issuer + "/.well-known/openid-configuration"), now, issuer=issuer)
        if client_id not in (claims.get("azp"), claims.get("aud")) and client_id not in (claims.get("aud") or []):
            raise errors.NotAuthorized("Token is not from a supported provider of this identity pool.")
        return Login(key, str(claims["sub"]), detail=f"{key}:{client_id}:{claims['sub']}", claims=claims)

    def _verify_user_pool(self, pool: Pool, key: str, token: str, now: float) -> Login:
        clients = [p["ClientId"] for p in pool.doc.get("CognitoIdentityProviders", []) if p["ProviderName"] == key]
        if not clients:
            raise errors.NotAuthorized("Token is not from a supported provider of this identity pool.")
        issuer = "https://" + key
        unverified = jwt.decode(token, options={"verify_signature": False})
        if unverified.get("iss") != issuer:
            raise _invalid("Issuer doesn't match providerName")
        if "aud" not in unverified:  # a user-pool access token, not an ID token
            raise _invalid("Missing a required claim: aud")
        claims = self._decode(token, self._issuer_key(issuer, issuer + "/.well-known/jwks.json"), now, issuer=issuer)
        if claims.get("aud") not in clients:
            raise errors.NotAuthorized("Token is not from a supported provider of this identity pool.")
        return Login(key, str(claims["sub"]), detail=f"{key}:CognitoSignIn:{claims['sub']}", claims=claims)

    def _verify_oidc_provider(self, arn: str, key: str, token: str, now: float) -> Login:
        issuer = "https://" + key
        claims = self._decode(token, self._issuer_key(issuer, issuer + "/.well-known/openid-configuration"), now, issuer=issuer)
        registered = self.store.issuer(issuer) or {}
        client_ids = registered.get("client_ids") or []
        if client_ids and not ({claims.get("azp"), claims.get("aud")} & set(client_ids)):
            raise errors.NotAuthorized("Token is not from a supported provider of this identity pool.")
        return Login(key, str(claims["sub"]), detail=f"{arn}:OIDC:{claims['sub']}", claims=claims)

    def _decode(self, token: str, key_for: Callable[[str], Any], now: float, issuer: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            key = key_for(str(header.get("kid")))
            if key is None:
                raise _invalid("The token's signing key (kid) is not in the issuer's JWKS.")
            algorithms = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=algorithms, issuer=issuer, leeway=CLOCK_SKEW,
                options={"verify_aud": False, "verify_exp": False, "require": ["sub", "exp"]},
            )
        except jwt.InvalidIssuerError:
            raise _invalid("Issuer doesn't match providerName") from None
        except jwt.InvalidTokenError as error:
            raise _invalid(f"{error}.") from None
        if claims["exp"] + CLOCK_SKEW < now:  # the service clock decides, not the machine's
            raise _invalid("Token expired.")
        return claims

    # -- issuer keys -----------------------------------------------------------------------

    def _issuer_key(self, issuer: str, discovery: str) -> Callable[[str], Any]:
        def key_for(kid: str) -> Any:
            for jwk in self._issuer_jwks(issuer, discovery).get("keys", []):
                if jwk.get("kid") == kid:
                    return jwt.PyJWK(jwk).key
            return None

        return key_for

    def _issuer_jwks(self, issuer: str, discovery: str) -> dict[str, Any]:
        registered = self.store.issuer(issuer)
        if registered is not None:
            jwks: dict[str, Any] = registered["jwks"]
            return jwks
        with self._lock:
            if issuer not in self._jwks:
                try:
                    document = self.fetch(discovery)
                    if "jwks_uri" in document:
                        document = self.fetch(document["jwks_uri"])
                except (OSError, ValueError) as error:
                    raise errors.ExternalService(
                        f"Could not fetch the JWKS of {issuer}: {error}. Register it offline"
                        " with cogid.local.register_issuer."
                    ) from None
                self._jwks[issuer] = document
            return self._jwks[issuer]


def _fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - https issuer URLs
        document: dict[str, Any] = json.loads(response.read())
        return document
