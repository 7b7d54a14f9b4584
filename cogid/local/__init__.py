"""The embedded Amazon Cognito Identity and Cognito Sync services (with the STS and IAM calls
they need).

    from cogid.local import client
    cognito = client("cognito-identity", home=tmp_path)
    pool = cognito.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=False,
                                        DeveloperProviderName="login.example.app")

Clients are real boto3 clients; their requests are served in this process from a SQLite store
under `home`. Nothing here imports from the rest of cogid.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

# A library stays quiet unless its user configures logging (`cogid serve` does).
logging.getLogger(__name__).addHandler(logging.NullHandler())

SERVICES = ("cognito-identity", "cognito-sync", "sts", "iam")
# A host that cannot resolve: should a request ever escape the hook, it fails, never reaching AWS.
_NOWHERE = "https://{service}.{region}.cogid.invalid"
_sessions: dict[str, Any] = {}
_sessions_lock = threading.Lock()


def default_home() -> Path:
    """Where the local service keeps its store: $COGID_HOME, else the user data directory."""
    home = os.environ.get("COGID_HOME")
    if home:
        return Path(home)
    import platformdirs

    return platformdirs.user_data_path("cogid")


def _service(home: str | os.PathLike[str] | None) -> Any:
    """The service stored under `home` (default: default_home()), shared within this process."""
    from cogid.local.service import open_service

    return open_service(Path(home) if home is not None else default_home())


def _opener(home: str | os.PathLike[str] | None) -> Callable[[], Any]:
    """The service under `home` (fixed now), opened at its first use and then kept: a client
    that is never called (its command failed on its input first) creates no store."""
    where = Path(home) if home is not None else default_home()
    opened: list[Any] = []

    def service() -> Any:
        if not opened:
            opened.append(_service(where))
        return opened[0]

    return service


def client(
    service_name: str, home: str | os.PathLike[str] | None = None, region: str = "us-east-1", **client_kwargs: Any
) -> Any:
    """A boto3 client for `service_name` served in-process by the local service under `home`.

    Without credentials the client sends unsigned requests, which the local service treats as
    the account's own; pass `aws_access_key_id`, `aws_secret_access_key` (and
    `aws_session_token`) to call as a key or as temporary credentials the service issued.
    """
    return served_client(service_name, _opener(home), region, **client_kwargs)


def served_client(service_name: str, service: Any, region: str = "us-east-1", **client_kwargs: Any) -> Any:
    """As `client`, served by `service`: a Service object of one's own (its own store or
    clock, as cogid.testing's backends have), or a callable that opens one."""
    if service_name not in SERVICES:
        raise ValueError(f"service_name must be one of {', '.join(SERVICES)}, not {service_name!r}")
    from botocore import UNSIGNED
    from botocore.config import Config

    from cogid.local.transport.inprocess import attach

    signed = "aws_access_key_id" in client_kwargs
    config = Config(retries={"total_max_attempts": 1}, signature_version=None if signed else UNSIGNED)
    if "config" in client_kwargs:
        config = config.merge(client_kwargs.pop("config"))
    made = boto3_session(region).client(
        service_name, endpoint_url=_NOWHERE.format(service=service_name, region=region), config=config, **client_kwargs
    )
    return attach(made, service)


def boto3_session(region: str) -> Any:
    """The boto3 session of every in-process client of `region`. One per region: a new session
    reloads the service models (~70 ms a client), a reused one makes a client in a few ms.
    Credentials are never taken from it (requests are unsigned or signed with the keys a client
    is given), and it is blind to AWS_PROFILE: the local service needs no AWS configuration,
    and a profile named there that does not exist must not break it."""
    import boto3
    import botocore.session

    with _sessions_lock:
        session = _sessions.get(region)
        if session is None:
            isolated = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
            session = _sessions[region] = boto3.session.Session(botocore_session=isolated, region_name=region)
        return session


def mint_social_token(
    provider: str,
    subject: str,
    audience: str,
    home: str | os.PathLike[str] | None = None,
    duration: int = 3600,
    claims: dict[str, Any] | None = None,
) -> str:
    """A token from the local test identity provider, accepted by the local service (and by
    nothing else) as a `provider` login of `subject` for the app id or client id `audience`.
    `provider` is a public provider's login key (graph.facebook.com) or short name (facebook)."""
    return str(_service(home).federation.mint(provider, subject, audience, duration, claims))


def developer_tokens(
    identity_pool_id: str,
    developer_provider: str,
    users: list[str],
    principal_tags: dict[str, str] | None = None,
    token_duration: int | None = None,
    region: str = "us-east-1",
    home: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any] | None]:
    """GetOpenIdTokenForDeveloperIdentity for many developer users of one pool in one call: for
    each user, the answer that call gives ({"IdentityId", "Token"}), or None where it would
    refuse (its own call then says why). Known users are read in one snapshot and the new ones
    made in one transaction, whole or not at all. Not an AWS operation: the embedded service's
    bulk path, which `cogid token issue --users-from` takes once a first call through its client
    has shown the pool, provider, tags and duration good (AWS offers no batch: there, and over
    `cogid serve`, each user is a call). Users are 1 to 1,024 characters, as the call's own
    wire format takes them."""
    from cogid.local.identity.pool import Caller

    cognito = _service(home).cognito
    answers: list[dict[str, Any] | None] = cognito.developer_tokens(
        Caller(region=region), identity_pool_id, developer_provider, users, principal_tags, token_duration
    )
    return answers


def register_issuer(
    issuer: str, jwks: dict[str, Any], client_ids: list[str] | None = None, home: str | os.PathLike[str] | None = None
) -> None:
    """Trust OpenID Connect tokens of `issuer` signed by a key of `jwks`, without fetching it."""
    service = _service(home)
    with service.store.write():
        service.store.set_issuer(issuer.rstrip("/"), {"jwks": jwks, "client_ids": client_ids or []})


def reset(home: str | os.PathLike[str] | None = None, keep_access_keys: bool = True) -> None:
    """Empty the store under `home` as a test suite does between tests, also while a `cogid
    serve` serves it: every pool, identity, role, dataset, session and registered issuer goes.
    The signing keys stay (tokens still verify against a JWKS fetched before), and so do the
    developer access keys unless `keep_access_keys` is False."""
    keep = ("signing_keys", "access_keys") if keep_access_keys else ("signing_keys",)
    _service(home).store.empty(keep)


def jwks(home: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The JWKS that verifies the local service's tokens (what `cogid serve` publishes)."""
    return dict(_service(home).jwks())


def register_sync_trigger(
    function_arn: str, handler: Callable[[dict[str, Any]], Any], home: str | os.PathLike[str] | None = None
) -> None:
    """Run `handler` as the Lambda function `function_arn` when a pool's Cognito Sync trigger
    names it: it gets the SyncTrigger event of an identity's UpdateRecords and returns it, with
    `datasetRecords` changed as the function wants (spec sync §8.3). In this process only."""
    _service(home).sync.outbox.triggers[function_arn] = handler


def sync_outbox(
    home: str | os.PathLike[str] | None = None,
    kind: str | None = None,
    identity_pool_id: str | None = None,
    clear: bool = False,
) -> list[dict[str, Any]]:
    """What Cognito Sync would have sent to SNS (`push`), Kinesis (`stream`) and Lambda
    (`event`), oldest first; `clear` deletes the entries returned."""
    return list(_service(home).sync.outbox.entries(kind, identity_pool_id, clear))


def direct_client(
    home: str | os.PathLike[str] | None = None,
    region: str = "us-east-1",
    service_name: str = "cognito-identity",
    **credentials: str,
) -> Any:
    """A client of `service_name` with boto3's interface (and botocore's client-side checks)
    that calls the local service directly, without boto3 (for one-shot commands, where boto3's
    start-up would dominate). Without credentials it calls as the account; with
    `aws_access_key_id` (and `aws_session_token`) of keys or temporary credentials the service
    issued, as their holder."""
    from cogid.local.transport.inprocess import DirectClient

    if service_name not in SERVICES:
        raise ValueError(f"service_name must be one of {', '.join(SERVICES)}")
    caller = None
    if credentials:
        caller = {"AccessKeyId": credentials["aws_access_key_id"], "SessionToken": credentials.get("aws_session_token")}
    return DirectClient(_opener(home), region, service_name, caller)
