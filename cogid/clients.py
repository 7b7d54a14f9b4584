"""boto3 clients for a profile: real AWS, an endpoint such as `cogid serve`, or the embedded service.

Commands only ever see boto3's client interface (operation methods, AWS-shaped dicts,
ClientError), whichever backend answers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, overload

from cogid import output
from cogid.config import Profile, data_dir
from cogid.errors import ConfigError

if TYPE_CHECKING:  # boto3-stubs (the dev extra): each service's client interface, for mypy
    from mypy_boto3_cognito_identity import CognitoIdentityClient
    from mypy_boto3_cognito_sync import CognitoSyncClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient

# In process, every service is called without boto3 (cogid.local.direct_client), whose
# client-side behaviour tests/test_client_parity.py holds to boto3's.
DIRECT = ("cognito-identity", "cognito-sync", "sts", "iam")


def in_process(profile: Profile) -> bool:
    """Is the profile served by the embedded service in this process (not over a network)?"""
    return profile.backend == "local" and not profile.endpoint_url


@overload
def client(profile: Profile, service: Literal["cognito-identity"]) -> CognitoIdentityClient: ...
@overload
def client(profile: Profile, service: Literal["cognito-sync"]) -> CognitoSyncClient: ...
@overload
def client(profile: Profile, service: Literal["sts"]) -> STSClient: ...
@overload
def client(profile: Profile, service: Literal["iam"]) -> IAMClient: ...
@overload
def client(profile: Profile, service: str) -> Any: ...
def client(profile: Profile, service: str) -> Any:
    """A client of `service` (cognito-identity, cognito-sync, sts or iam) for `profile`; during
    a dry run (`--dry-run`), one that makes only the calls that change nothing (see DryRun)."""
    return _dry(_client(profile, service), service)


def _dry(made: Any, service: str) -> Any:
    """`made`, or during a dry run `made` wrapped so that it changes nothing."""
    return DryRun(made, service) if output.dry_running() else made


def _client(profile: Profile, service: str) -> Any:
    if in_process(profile):
        if service in DIRECT:
            # The wire protocol without boto3's start-up: one-shot commands stay fast.
            from cogid.local import direct_client

            return direct_client(home=data_dir(), region=profile.region, service_name=service)
        # STS and IAM through boto3, answered by the same store.
        from cogid.local import client as local_client

        return local_client(service, home=data_dir(), region=profile.region)
    return _aws_client(profile, service)


def signed_client(profile: Profile, service: str, credentials: dict[str, Any]) -> Any:
    """A client of `service` that signs with `credentials` (credential_process shape: an
    identity's temporary credentials), as a device's would, wherever the profile points."""
    if output.dry_running() and is_stand_in(str(credentials["AccessKeyId"])):
        # A dry run did not get the identity's credentials: the profile's own read the same data.
        return client(profile, service)
    keys = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }
    if in_process(profile):
        from cogid.local import client as local_client
        from cogid.local import direct_client

        if service in DIRECT:
            made = direct_client(home=data_dir(), region=profile.region, service_name=service, **keys)
        else:
            made = local_client(service, home=data_dir(), region=profile.region, **keys)
    else:
        made = _aws_client(profile, service, keys)
    return _dry(made, service)


def unsigned_client(profile: Profile, service: str) -> Any:
    """A client for the operations a device calls without AWS credentials (GetId,
    GetCredentialsForIdentity, AssumeRoleWithWebIdentity): it needs no credentials to exist."""
    if in_process(profile):
        return client(profile, service)
    from botocore import UNSIGNED

    return _dry(_aws_client(profile, service, signature_version=UNSIGNED), service)


# Operations named Describe*, Get*, List* or Lookup* change nothing, except these, which make
# identities or hand out tokens and credentials.
ISSUING = frozenset({"GetId", "GetOpenIdToken", "GetOpenIdTokenForDeveloperIdentity", "GetCredentialsForIdentity"})
READING = ("Describe", "Get", "List", "Lookup")
MASK = "****"
# Credentials that AWS's models do not mark sensitive, masked all the same.
UNMARKED_SECRETS = frozenset({"SyncSessionToken"})
TWITTER = "api.twitter.com"  # its app is CONSUMER_KEY;CONSUMER_SECRET in SupportedLoginProviders
# A dry run's stand-ins for what the service would have made: `<new Member>`, and for an identity
# pool's or identity's id an id of the client's region (`us-east-1:<new-id>`), so that what is
# derived from one (a profile's region, a role name's suffix) reads as it will.
NEW = "<new "
NEW_ID = "<new-id>"
ID_SHAPES = frozenset({"IdentityPoolId", "IdentityId"})


def is_stand_in(value: str) -> bool:
    """Whether `value` is a dry run's stand-in for something the service would have made."""
    return value.startswith(NEW) or value.endswith(f":{NEW_ID}")


class DryRun:
    """A client for `--dry-run`: the operations that only read are made as usual; each other one
    is written to stdout (output.planned: operation and parameters, sensitive ones masked) and
    not made, and answered with a stand-in built from the operation's output shape (the request's
    own values where a member has the same name, `<new Member>` for what the service would make).
    A read that names such a stand-in is answered the same way, without a line."""

    def __init__(self, client: Any, service: str):
        from cogid.local.wire import shapes  # AWS's models as JSON: no botocore needed

        self._client, self._service = client, service
        self._region = client.meta.region_name
        self._model = shapes.service_model(service)
        self._operations = {shapes.snake(name): name for name in self._model.operation_names}

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        operation = self._operations.get(name)
        if operation is None:  # meta, exceptions, get_paginator...
            return real

        def call(**params: Any) -> Any:
            reads = operation.startswith(READING) and operation not in ISSUING
            if reads and not _names_a_stand_in(params):
                return real(**params)
            model = self._model.operation_model(operation)
            if not reads:
                output.planned(self._service, operation, _masked(model.input_shape, params))
            answer = _stand_in(model.output_shape, "", params, self._region)
            return {**answer, "ResponseMetadata": {"HTTPStatusCode": 200}}

        return call


def _names_a_stand_in(value: Any) -> bool:
    if isinstance(value, str):
        return is_stand_in(value)
    if isinstance(value, dict):
        return any(_names_a_stand_in(item) for item in value.values())
    if isinstance(value, list):
        return any(_names_a_stand_in(item) for item in value)
    return False


def _masked(shape: Any, value: Any) -> Any:
    """`value` with what the model marks sensitive (tokens, logins, secrets) replaced by MASK."""
    if shape is None:
        return value
    if shape.metadata.get("sensitive"):
        return MASK
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        masked: dict[str, Any] = {
            k: MASK if k in UNMARKED_SECRETS else _masked(members.get(k), v) for k, v in value.items()
        }
        providers = masked.get("SupportedLoginProviders")
        if isinstance(providers, dict) and ";" in str(providers.get(TWITTER, "")):
            key = str(providers[TWITTER]).partition(";")[0]
            masked["SupportedLoginProviders"] = {**providers, TWITTER: f"{key};{MASK}"}
        return masked
    if kind == "list" and isinstance(value, list):
        return [_masked(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _masked(shape.value, v) for k, v in value.items()}
    return value


def _stand_in(shape: Any, name: str, request: dict[str, Any], region: str) -> Any:
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":  # one page: no NextToken, or a paging loop would follow stand-ins for ever
        return {
            member: request[member] if member in request else _stand_in(member_shape, member, request, region)
            for member, member_shape in shape.members.items()
            if member != "NextToken"
        }
    if kind == "string":
        return f"{region}:{NEW_ID}" if shape.name in ID_SHAPES else f"{NEW}{name}>"
    if kind in ("integer", "long"):
        return 0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        from datetime import UTC, datetime

        return datetime.now(UTC)
    return {} if kind == "map" else [] if kind == "list" else None


def social_login_endpoint(profile: Profile, provider: str) -> str | None:
    """Where the profile's test logins of `provider` (its login key) come from: the `cogid serve`
    endpoint it names, or None for the embedded service; ConfigError for real AWS, which has none."""
    if in_process(profile):
        return None
    if not profile.endpoint_url:
        raise ConfigError(
            f"profile {profile.name!r} reaches real AWS, which accepts only real {provider} tokens:"
            " test tokens come from the local backend or a `cogid serve` endpoint"
        )
    return profile.endpoint_url


def social_token(profile: Profile, provider: str, subject: str, audience: str, duration: int) -> str:
    """A test login of `provider` (its login key) from the local service the profile reaches:
    the embedded one, or a `cogid serve` endpoint's (its test IdP, called with the profile's
    AWS credentials, as a developer). Real AWS has no such thing."""
    endpoint = social_login_endpoint(profile, provider)
    if endpoint is None:
        from cogid.local import mint_social_token

        return mint_social_token(provider, subject, audience, home=data_dir(), duration=duration)
    import json
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    from cogid.errors import Unavailable

    url = endpoint.rstrip("/") + "/_cogid/test-idp/token"
    body = json.dumps({"Provider": provider, "Subject": subject, "Audience": audience, "Duration": duration}).encode()
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    credentials = _session(profile).get_credentials()
    if credentials is None:
        raise ConfigError(f"profile {profile.name!r}: no AWS credentials to call {profile.endpoint_url} with")
    SigV4Auth(credentials.get_frozen_credentials(), "cognito-identity", profile.region).add_auth(request)
    prepared = request.prepare()
    call = urllib.request.Request(url, data=body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(call, timeout=READ_TIMEOUT) as response:  # noqa: S310 - the user's endpoint
            return str(json.loads(response.read())["Token"])
    except urllib.error.HTTPError as error:
        from botocore.exceptions import ClientError

        answer = json.loads(error.read() or b"{}")
        code = answer.get("__type", f"HTTP {error.code}")
        raise ClientError({"Error": {"Code": code, "Message": answer.get("message", "")}}, "MintTestToken") from None
    except (OSError, ValueError, KeyError) as error:
        raise Unavailable(f"cannot get a test token from {url}: {error}") from None


CONNECT_TIMEOUT = 5  # seconds, for AWS calls; every Cognito and STS call answers in well under one
READ_TIMEOUT = 15


def _session(profile: Profile, keys: dict[str, str] | None = None) -> Any:
    """A boto3 session of the profile's AWS profile, or of `keys` (then no AWS profile is read)."""
    import boto3
    import botocore.exceptions

    try:
        if keys:
            return boto3.session.Session(
                keys["aws_access_key_id"], keys["aws_secret_access_key"], keys.get("aws_session_token"), profile.region
            )
        return boto3.session.Session(profile_name=profile.aws_profile, region_name=profile.region)
    except botocore.exceptions.ProfileNotFound:
        source = (
            "COGID_AWS_PROFILE"
            if os.environ.get("COGID_AWS_PROFILE") == profile.aws_profile
            else f"profile {profile.name!r}"
        )
        raise ConfigError(f"{source}: AWS profile {profile.aws_profile!r} does not exist") from None


def _aws_client(profile: Profile, service: str, keys: dict[str, str] | None = None, **config: Any) -> Any:
    """A boto3 client for the profile's AWS profile, or for `keys` (then no AWS profile is read)."""
    from botocore.config import Config

    session = _session(profile, keys)
    # botocore waits 60 s for a reply, per attempt: an endpoint that accepts and never answers
    # would hold a command (or an SDK's credential_process) for minutes.
    timeouts = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, **config)
    return session.client(service, endpoint_url=profile.endpoint_url, config=timeouts)


AWS_JWKS = "https://cognito-identity.amazonaws.com/.well-known/jwks_uri"


def jwks(profile: Profile, refresh: bool = False) -> dict[str, Any]:
    """The JWKS that verifies the profile's tokens: the embedded service's own keys, or the
    endpoint's / AWS's published document, cached and refetched when asked to (unknown kid)."""
    if in_process(profile):
        from cogid.local import jwks as local_jwks

        return local_jwks(data_dir())
    import hashlib
    import json
    import urllib.request

    from cogid.config import write_private
    from cogid.errors import Unavailable

    url = profile.endpoint_url.rstrip("/") + "/.well-known/jwks_uri" if profile.endpoint_url else AWS_JWKS
    path = data_dir() / "cache" / f"jwks-{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"
    if not refresh:
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            pass
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - https or the user's endpoint
            body = response.read()
        document = dict(json.loads(body))
    except (OSError, ValueError) as error:
        raise Unavailable(f"cannot fetch the JWKS from {url}: {error}") from None
    write_private(path, body)
    return document
