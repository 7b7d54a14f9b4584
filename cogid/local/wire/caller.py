"""Who is calling: the `Caller` (region and principal) of a request, from its SigV4 signature
when the transport checks signatures (`cogid serve`), else from its credential scope, else from
the ids it names; and the refusal of the temporary credentials this service vended."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from cogid.local import errors
from cogid.local.identity.pool import Caller
from cogid.local.wire.request import Request, credential_scope, presigned

if TYPE_CHECKING:
    from cogid.local.service import Service

DEFAULT_REGION = "us-east-1"
_ID_REGION = re.compile(r"([\w-]+):[0-9a-f-]+")


def _caller(
    service: Service,
    request: Request,
    params: dict[str, Any],
    signed: bool,
    verify: bool = False,
    signing_name: str = "",
    operation: str = "",
    identities: bool = False,
) -> Caller:
    """Who sent `request`. Temporary credentials this service vended are refused unless the
    operation is GetCallerIdentity or the service takes `identities` (Cognito Sync)."""
    caller = _identify(service, request, params, signed, verify, signing_name)
    principal = caller.principal
    vended = principal is not None and principal.get("Session")
    if signed and principal is not None and vended and not identities and operation != "GetCallerIdentity":
        # Credentials this service vended act as their role, whose only rights here are the
        # ones no IAM policy can take away: the identity pool's roles carry no permissions.
        raise errors.AuthFailure(
            f"User: {principal['Arn']} is not authorized to perform: {signing_name}:{operation}", "denied"
        )
    return caller


def _identify(
    service: Service, request: Request, params: dict[str, Any], signed: bool, verify: bool, signing_name: str
) -> Caller:
    if verify and (signed or "authorization" in request.headers or presigned(request.path.partition("?")[2])):
        # Signed operations must be signed; unsigned ones are checked too when they are (spec §3.2).
        from cogid.local.wire.sigv4 import verify as verify_signature

        principal, region = verify_signature(service, request, signing_name)
        return Caller(region=region, principal=principal)
    scope = credential_scope(request.headers)
    if scope is not None:
        principal = service.iam.credentials(scope[0], request.headers.get("x-amz-security-token"))
        return Caller(region=scope[1], principal=principal)
    if not signed:
        # Unsigned operations carry no scope: the ids they name say the region (spec §3.2).
        for name in ("IdentityPoolId", "IdentityId"):
            match = _ID_REGION.fullmatch(str(params.get(name, "")))
            if match:
                return Caller(region=match.group(1))
    return Caller(region=request.region or DEFAULT_REGION)
