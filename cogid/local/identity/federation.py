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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cogid.local import errors
from cogid.local.identity.pool import Pool
from cogid.local.signing import KeyRing
from cogid.local.store import Store

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
# An issuer's keys are fetched again for an unknown kid only once they are this old, and after a
# failed fetch the issuer is not asked again for a while: tokens with made-up kids, or an issuer
# that is down, must not turn every request into a trip to the issuer.
REFETCH_AFTER = 60.0
RETRY_AFTER = 10.0


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


def _not_supported() -> errors.NotAuthorized:
    return errors.NotAuthorized("Token is not from a supported provider of this identity pool.")


def _for_client(claims: dict[str, Any], client_ids: list[str]) -> bool:
    """Is this ID token for one of `client_ids`? `azp` decides when present, else `aud` (a
    string or a list), as Cognito checks OpenID Connect tokens (spec §7.1)."""
    if "azp" in claims:
        return claims["azp"] in client_ids
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    return any(a in client_ids for a in audiences if isinstance(a, str))


class Federation:
    def __init__(
        self,
        store: Store,
        test_idp: KeyRing,
        clock: Callable[[], float],
        fetch: Callable[[str], dict[str, Any]] | None = None,
    ):
        self.store = store
        self.test_idp = test_idp
        self.clock = clock
        self.fetch = fetch or fetch_json
        self._jwks: dict[str, dict[str, Any]] = {}
        self._fetched_at: dict[str, float] = {}  # issuer -> when its keys were fetched (service clock)
        self._failed: dict[str, tuple[float, str]] = {}  # issuer -> when and why its last fetch failed
        self._lock = threading.Lock()

    # -- the test identity provider --------------------------------------------------------

    def mint(
        self, provider: str, subject: str, audience: str, duration: int = 3600, claims: dict[str, Any] | None = None
    ) -> str:
        """A test token for `provider`: its login key (graph.facebook.com) or short name (facebook)."""
        keys = {name: key for key, name in PUBLIC_PROVIDERS.items()}
        provider = keys.get(provider, provider)
        if provider not in PUBLIC_PROVIDERS:
            raise ValueError(
                f"test tokens stand only for public providers: {', '.join(sorted(keys))} (or their login keys)"
            )
        now = int(self.clock())
        payload = {
            "iss": TEST_IDP_ISSUER,
            "idp": provider,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "exp": now + duration,
            **(claims or {}),
        }
        return self.test_idp.sign(payload, typ="JWT")

    # -- issuer keys, fetched before a transaction --------------------------------------------

    @staticmethod
    def may_fetch(key: str) -> bool:
        """Could a login under `key` need an issuer's keys from the network? (The pool decides
        whether it does: any provider name may also be an IAM OIDC provider's.)"""
        return key != COGNITO_KEY and not key.startswith("arn:")

    def prefetch(self, pool: Pool, logins: dict[str, str]) -> None:
        """Fetch the issuer keys that verifying `logins` will need, if they are not at hand.

        Callers do this before their write transaction: a fetch can take seconds, and the
        store's write lock held meanwhile would stall every other writer. A token whose `kid`
        the cached keys lack fetches them again (issuers rotate keys, spec §9.4). Nothing is
        fetched for a provider the pool does not trust, nor for a token that is not a JWT.
        """
        import jwt

        for key, token in logins.items():
            source = self._issuer_of(pool, key) if self.may_fetch(key) else None
            if source is None or self.store.issuer(source[0]) is not None:  # registered: offline
                continue
            try:
                kid = str(jwt.get_unverified_header(token).get("kid"))
                if jwt.decode(token, options={"verify_signature": False}).get("iss") == TEST_IDP_ISSUER:
                    continue
            except jwt.InvalidTokenError:
                continue  # verifying will say what is wrong with it
            with self._lock:
                cached = self._jwks.get(source[0])
                age = self.clock() - self._fetched_at.get(source[0], float("-inf"))
            if cached is None or (self._find_key(cached, kid) is None and age >= REFETCH_AFTER):
                self._fetch_jwks(*source)

    @staticmethod
    def _oidc_arn(pool: Pool, key: str) -> str | None:
        arns = pool.doc.get("OpenIdConnectProviderARNs", [])
        return next((arn for arn in arns if arn.split(":oidc-provider/", 1)[1] == key), None)

    def _issuer_of(self, pool: Pool, key: str) -> tuple[str, str] | None:
        """(issuer, where its keys are found) for OpenID Connect logins `pool` trusts under `key`."""
        if key in OIDC_PUBLIC and key in pool.doc.get("SupportedLoginProviders", {}):
            return OIDC_PUBLIC[key], OIDC_PUBLIC[key] + "/.well-known/openid-configuration"
        if self._oidc_arn(pool, key) is not None:
            return "https://" + key, f"https://{key}/.well-known/openid-configuration"
        if any(p["ProviderName"] == key for p in pool.doc.get("CognitoIdentityProviders", [])):
            return "https://" + key, f"https://{key}/.well-known/jwks.json"
        return None

    # -- verification ----------------------------------------------------------------------

    def verify(self, pool: Pool, key: str, token: str, now: float) -> Login:
        """Check one `Logins` entry of `pool` and return the login it proves."""
        import jwt

        oidc_arn = self._oidc_arn(pool, key)
        configured = (
            key in pool.doc.get("SupportedLoginProviders", {})
            or oidc_arn is not None
            or key in pool.doc.get("SamlProviderARNs", [])
            or any(p["ProviderName"] == key for p in pool.doc.get("CognitoIdentityProviders", []))
        )
        if not configured:
            raise _not_supported()
        if key.startswith("arn:"):
            raise _invalid("SAML logins are not supported by the local backend.")
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
        if key in OIDC_PUBLIC and key in pool.doc.get("SupportedLoginProviders", {}):
            return self._verify_oidc_public(pool, key, token, now)
        if oidc_arn is not None:  # Google or Apple too, when trusted through an IAM OIDC provider
            return self._verify_oidc_provider(pool, oidc_arn, key, token, now)
        if key in PUBLIC_PROVIDERS:
            raise _invalid(
                f"The local backend cannot verify real {key} tokens; use a test token"
                f" (cogid social token {PUBLIC_PROVIDERS[key]})."
            )
        return self._verify_user_pool(pool, key, token, now)

    def _supported_app_id(self, pool: Pool, key: str) -> str:
        app_id = pool.doc.get("SupportedLoginProviders", {}).get(key)
        if app_id is None:
            raise _not_supported()
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
            raise _not_supported()
        return Login(key, str(claims["sub"]), detail=f"{key}:{app_id.split(';')[0]}:{claims['sub']}", claims=claims)

    def _verify_oidc_public(self, pool: Pool, key: str, token: str, now: float) -> Login:
        client_id = self._supported_app_id(pool, key)
        # Google writes `iss` with or without the scheme; both name the same issuer.
        claims = self._decode(token, self._issuer_key(pool, key), now, issuer=[OIDC_PUBLIC[key], key])
        if not _for_client(claims, [client_id]):
            raise _not_supported()
        return Login(key, str(claims["sub"]), detail=f"{key}:{client_id}:{claims['sub']}", claims=claims)

    def _verify_user_pool(self, pool: Pool, key: str, token: str, now: float) -> Login:
        import jwt

        clients = [p["ClientId"] for p in pool.doc.get("CognitoIdentityProviders", []) if p["ProviderName"] == key]
        if not clients:
            raise _not_supported()
        issuer = "https://" + key
        unverified = jwt.decode(token, options={"verify_signature": False})
        if unverified.get("iss") != issuer:
            raise _invalid("Issuer doesn't match providerName")
        if "aud" not in unverified:  # a user-pool access token, not an ID token
            raise _invalid("Missing a required claim: aud")
        claims = self._decode(token, self._issuer_key(pool, key), now, issuer=issuer)
        if not _for_client(claims, clients):
            raise _not_supported()
        return Login(key, str(claims["sub"]), detail=f"{key}:CognitoSignIn:{claims['sub']}", claims=claims)

    def _verify_oidc_provider(self, pool: Pool, arn: str, key: str, token: str, now: float) -> Login:
        issuer = "https://" + key
        claims = self._decode(token, self._issuer_key(pool, key), now, issuer=issuer)
        # The IAM OIDC provider's client id list stands in the issuer's registration; an issuer
        # fetched rather than registered has none, so any audience of it is accepted (but one
        # there must be: an ID token names its client).
        registered = self.store.issuer(issuer) or {}
        client_ids = registered.get("client_ids") or []
        if client_ids and not _for_client(claims, client_ids):
            raise _not_supported()
        if not claims.get("aud") and not claims.get("azp"):
            raise _invalid("Missing a required claim: aud")
        return Login(key, str(claims["sub"]), detail=f"{arn}:OIDC:{claims['sub']}", claims=claims)

    def _decode(self, token: str, key_for: Callable[[str], Any], now: float, issuer: str | list[str]) -> dict[str, Any]:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            key = key_for(str(header.get("kid")))
            if key is None:
                raise _invalid("The token's signing key (kid) is not in the issuer's JWKS.")
            algorithms = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
            # Times are checked below against the service clock, not the machine's.
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=issuer,
                options={
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "exp"],
                },
            )
        except jwt.InvalidIssuerError:
            raise _invalid("Issuer doesn't match providerName") from None
        except jwt.PyJWTError as error:  # bad signature, algorithm, claims or JWK
            raise _invalid(f"{error}.") from None
        times = {name: claims[name] for name in ("exp", "iat", "nbf") if name in claims}
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times.values()):
            raise _invalid("The token's exp, iat and nbf claims must be numbers.")
        if times["exp"] + CLOCK_SKEW < now:
            raise _invalid("Token expired.")
        if max(times.get("iat", now), times.get("nbf", now)) > now + CLOCK_SKEW:
            raise _invalid("Token is not yet valid.")
        return claims

    # -- issuer keys -----------------------------------------------------------------------

    def _issuer_key(self, pool: Pool, key: str) -> Callable[[str], Any]:
        """The verifying key for a `kid` of the issuer behind `key`: registered, or fetched
        (by prefetch, before the caller's transaction)."""
        source = self._issuer_of(pool, key)
        assert source is not None, "verified only once the pool is known to trust `key`"
        issuer = source[0]

        def key_for(kid: str) -> Any:
            import jwt

            registered = self.store.issuer(issuer)
            if registered is not None:
                jwks = registered["jwks"]
            else:
                with self._lock:
                    jwks = self._jwks.get(issuer)
                if jwks is None:  # a caller that did not prefetch
                    jwks = self._fetch_jwks(*source)
            jwk = self._find_key(jwks, kid)
            return None if jwk is None else jwt.PyJWK(jwk).key

        return key_for

    @staticmethod
    def _find_key(jwks: dict[str, Any], kid: str) -> dict[str, Any] | None:
        keys = jwks.get("keys", []) if isinstance(jwks, dict) else []
        return next((k for k in keys if isinstance(k, dict) and k.get("kid") == kid), None)

    def _fetch_jwks(self, issuer: str, discovery: str) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            failed_at, why = self._failed.get(issuer, (float("-inf"), ""))
        if now - failed_at < RETRY_AFTER:
            raise self._unreachable(issuer, why)
        try:
            document = self.fetch(discovery)
            if "jwks_uri" in document:
                document = self.fetch(document["jwks_uri"])
        except (OSError, ValueError) as error:
            with self._lock:
                self._failed[issuer] = (now, str(error))
            raise self._unreachable(issuer, str(error)) from None
        with self._lock:
            self._jwks[issuer] = document
            self._fetched_at[issuer] = now
            self._failed.pop(issuer, None)
        return document

    @staticmethod
    def _unreachable(issuer: str, why: str) -> errors.ExternalService:
        return errors.ExternalService(
            f"Could not fetch the JWKS of {issuer}: {why}. Register it offline with cogid.local.register_issuer."
        )


FETCH_SCHEMES = ("http", "https")  # an issuer's documents come over HTTP(S), never from files


def _fetchable(url: str) -> str:
    from urllib.parse import urlsplit

    scheme = urlsplit(url).scheme.lower()
    if scheme not in FETCH_SCHEMES:
        raise ValueError(f"refusing to fetch {scheme or 'a relative'} URL {url[:100]!r}: only http and https")
    return url


def fetch_json(url: str) -> dict[str, Any]:
    """The JSON document at `url`, over http or https only (a redirect too: no file://, data:
    or ftp:// URL is ever opened). Every way of failing is an OSError or a ValueError."""
    import http.client
    import urllib.request  # only when an issuer's keys must be fetched

    class HTTPOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            return super().redirect_request(req, fp, code, msg, headers, _fetchable(newurl))

    opener = urllib.request.build_opener(HTTPOnlyRedirects)
    try:
        with opener.open(_fetchable(url), timeout=5) as response:
            document: dict[str, Any] = json.loads(response.read())
    except http.client.HTTPException as error:  # a reply that is not HTTP at all
        raise OSError(f"not an HTTP reply ({type(error).__name__})") from None
    return document
