"""A fresh local backend for one test: its store, its clock, and boto3 clients served by it.

`Backend` is what the `cogid_local` fixture gives and what `with mock_cognito() as backend`
binds; `cogid_server` shares its helpers (`pool`, `social_token`, `decode`, `jwks`).
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any

from cogid.testing._keys import SetupError, copy_template, temporary_directory

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from cogid.local.service import Service

SERVICES = ("cognito-identity", "cognito-sync", "sts", "iam")
DEVELOPER_PROVIDER = "login.example.app"
REGION = "us-east-1"


class Clock:
    """The backend's time: the machine's, plus whatever `advance` added. Token lifetimes,
    credential expiry and Cognito Sync sessions all read it; `clock()` is now (epoch seconds)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the backend's time forward by `seconds` (backward if negative), without sleeping."""
        self.offset += seconds


def inprocess_client(service: Service, service_name: str, region: str, **kwargs: Any) -> Any:
    """A real boto3 client whose requests `service` answers in this process. Unsigned (the
    account's own calls) unless `aws_access_key_id` is given: then signed with those keys, as
    their holder (a developer key, or temporary credentials the backend vended)."""
    from cogid.local import served_client

    return served_client(service_name, service, region, **kwargs)


def offline_fetch(url: str) -> dict[str, Any]:
    """The backend's fetch of an OpenID Connect issuer's keys: never over the network."""
    raise OSError(f"test backends fetch nothing ({url}): register the issuer's keys with register_issuer()")


class Helpers:
    """What every test backend offers beside its clients (the local one and cogid_server)."""

    service: Service
    region: str
    home: Path

    def __init__(self) -> None:
        self._pools: list[dict[str, Any]] = []

    def sync_outbox(
        self, kind: str | None = None, identity_pool_id: str | None = None, clear: bool = False
    ) -> list[dict[str, Any]]:
        """What Cognito Sync would have sent for this backend's pools (`push`, `stream`, and
        `event` for a Sync Trigger), oldest first: cogid.local.sync_outbox of its store."""
        from cogid.local import sync_outbox

        return sync_outbox(self.home, kind, identity_pool_id, clear)

    def client(self, service_name: str, region: str | None = None, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _now(self) -> float:
        return time.time()

    def pool(
        self,
        name: str = "app",
        *,
        developer_provider: str | None = DEVELOPER_PROVIDER,
        guests: bool = False,
        roles: bool = True,
        facebook: str | None = None,
        google: str | None = None,
        amazon: str | None = None,
        apple: str | None = None,
        twitter: str | None = None,
        region: str | None = None,
        **request: Any,
    ) -> dict[str, Any]:
        """An identity pool as `cogid pool create NAME --developer-provider login.example.app
        --create-roles` makes it: CreateIdentityPool's answer (IdentityPoolId, IdentityPoolName,
        AllowUnauthenticatedIdentities, DeveloperProviderName...) with `Roles`, the role ARNs it
        was given ({"authenticated": arn}, and "unauthenticated" with `guests`; {} without
        `roles`). Each role trusts only this pool, with the console's standard trust policy.
        `facebook="APP_ID"` and the like add SupportedLoginProviders; other keyword arguments go
        to CreateIdentityPool as they are (AllowClassicFlow=True, OpenIdConnectProviderARNs=[...])."""
        from cogid.flows import PROVIDERS, create_pool  # what `pool create --create-roles` runs

        settings: dict[str, Any] = {"IdentityPoolName": name, "AllowUnauthenticatedIdentities": guests}
        if developer_provider:
            settings["DeveloperProviderName"] = developer_provider
        given = {"facebook": facebook, "google": google, "amazon": amazon, "apple": apple, "twitter": twitter}
        social = {PROVIDERS[short]: app for short, app in given.items() if app}
        if social:
            settings["SupportedLoginProviders"] = {**request.pop("SupportedLoginProviders", {}), **social}
        settings.update(request)
        made: dict[str, Any] = create_pool(
            self.client("cognito-identity", region), self.client("iam", region) if roles else None, settings, roles
        )
        self._pools.append(made)
        return made

    def social_token(
        self,
        provider: str,
        subject: str,
        *,
        audience: str | None = None,
        duration: int = 3600,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A token of the backend's test identity provider that its pools accept as a login of
        `provider` (facebook, google, amazon, apple, twitter, or the login key such as
        graph.facebook.com) for user `subject`. `audience` defaults to the app id that the
        latest pool made by `pool()` with that provider has; valid for `duration` seconds."""
        from cogid.flows import PROVIDERS  # the short names `cogid social token` knows

        key = PROVIDERS.get(provider.lower(), provider)
        if audience is None:
            trusting = [p.get("SupportedLoginProviders", {}) for p in self._pools]
            audiences = [providers[key] for providers in trusting if key in providers]
            if not audiences:
                raise ValueError(
                    f"no pool made by pool() trusts {key}: pass audience= (the app or client id the pool has"
                    f" for it), or make the pool with {provider}='APP_ID'"
                )
            audience = audiences[-1]
        return str(self.service.federation.mint(key, subject, audience, duration, claims))

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of `token` (a Cognito OpenID token the backend issued, or a social_token),
        once its RS512 signature is verified against the backend's keys and its `exp` against the
        backend's clock. Raises jwt.InvalidTokenError (jwt.ExpiredSignatureError when expired)."""
        import jwt

        kid = str(jwt.get_unverified_header(token).get("kid"))
        key = self.service.keys.public_key(kid) or self.service.federation.test_idp.public_key(kid)
        if key is None:
            raise jwt.InvalidSignatureError(f"the token's kid {kid!r} is not a key of this backend")
        # Times are checked below against the backend's clock, not the machine's.
        options: Any = {"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False}
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS512"], options=options)
        now = self._now()
        if "exp" in claims and float(claims["exp"]) <= now:
            raise jwt.ExpiredSignatureError(f"Signature has expired (exp {claims['exp']}, backend clock {now:.0f})")
        return claims

    def jwks(self) -> dict[str, Any]:
        """The JWKS that verifies the backend's Cognito tokens (what `cogid serve` publishes at
        /.well-known/jwks_uri); the same for every backend of the session: cogid.testing.jwks()."""
        return dict(self.service.jwks())

    def register_issuer(self, issuer: str, jwks: dict[str, Any], client_ids: list[str] | None = None) -> None:
        """Trust OpenID Connect tokens of `issuer` signed by a key of `jwks` (test backends fetch
        nothing from the network)."""
        with self.service.store.write():
            self.service.store.set_issuer(issuer.rstrip("/"), {"jwks": jwks, "client_ids": client_ids or []})


class Backend(Helpers):
    """A fresh local backend in its own temporary directory (removed by `close`).

    `client(service)`: boto3 clients it serves in-process; `clock`: its Clock; `home`: its
    directory; `service`: the cogid.local Service itself.
    """

    def __init__(self, what: str = "cogid.testing") -> None:
        super().__init__()
        from cogid.local.service import Service, share

        self.region = REGION
        self.clock = Clock()
        self.home = temporary_directory(what)
        try:
            path = copy_template(self.home, what)
            self.service = Service(path, clock=self.clock, fetch=offline_fetch)
            share(self.service, self.home)  # cogid.local's functions given its home reach it
        except BaseException as error:
            shutil.rmtree(self.home, ignore_errors=True)
            if isinstance(error, SetupError) or not isinstance(error, Exception):
                raise
            raise SetupError(f"{what}: cannot open its store in {self.home}: {error}") from error

    def _now(self) -> float:
        return self.clock()

    def client(self, service_name: str, region: str | None = None, **kwargs: Any) -> Any:
        """A boto3 client for cognito-identity, cognito-sync, sts or iam served by this backend:
        unsigned (the account's own calls), or pass aws_access_key_id/aws_secret_access_key/
        aws_session_token to call as a key or with temporary credentials it vended."""
        return inprocess_client(self.service, service_name, region or self.region, **kwargs)

    def register_sync_trigger(self, function_arn: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Run `handler` as the Lambda function `function_arn` where a pool of this backend names
        it as its Sync Trigger: cogid.local.register_sync_trigger for its store."""
        from cogid.local import register_sync_trigger

        register_sync_trigger(function_arn, handler, self.home)

    def close(self) -> None:
        """Close the store and delete the backend's directory."""
        from cogid.local.service import unshare

        unshare(self.home)
        self.service.store.close()
        shutil.rmtree(self.home, ignore_errors=True)
