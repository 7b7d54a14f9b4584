"""The local test identity provider over HTTP: `POST /_cogid/test-idp/token` mints a public
provider's test login, as cogid.local.mint_social_token does in process.

Not an AWS API: cogid's own, so that `cogid social token` works against a `cogid serve`
endpoint as well as in process. It is a developer's call: signed (SigV4, service
cognito-identity) with a key the service knows; credentials vended to identities are refused.
The body is JSON {"Provider", "Subject", "Audience", "Duration"?}; the reply {"Token"}.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cogid.local import errors
from cogid.local.wire.caller import _caller
from cogid.local.wire.request import Request, Response, _service_error, json_error

if TYPE_CHECKING:
    from cogid.local.service import Service

PATH = "/_cogid/test-idp/token"
MIN_DURATION, MAX_DURATION = 60, 86400


def is_test_idp(path: str) -> bool:
    return path.partition("?")[0] == PATH


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise errors.InvalidParameter(f"{name}: expected a non-empty string of at most 2048 characters")
    return value


def handle(service: Service, request: Request, request_id: str, verify: bool = False) -> Response:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
    try:
        if request.method != "POST":
            raise errors.InvalidParameter(f"{PATH} takes POST, not {request.method}")
        _caller(service, request, {}, True, verify, "cognito-identity", "MintTestToken")
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise errors.Serialization("The request body is not JSON") from None
        if not isinstance(body, dict):
            raise errors.Serialization("The request body must be a JSON object")
        duration = body.get("Duration", 3600)
        if not isinstance(duration, int) or isinstance(duration, bool) or not MIN_DURATION <= duration <= MAX_DURATION:
            raise errors.InvalidParameter(f"Duration: expected whole seconds from {MIN_DURATION} to {MAX_DURATION}")
        provider, subject, audience = (_string(body, name) for name in ("Provider", "Subject", "Audience"))
        try:
            token = service.federation.mint(provider, subject, audience, duration)
        except ValueError as refused:
            raise errors.InvalidParameter(f"Provider: {refused}") from None
        return Response(200, headers, json.dumps({"Token": token}).encode())
    except Exception as failure:  # every failure is an AWS-shaped error reply, never a crash
        error = _service_error(failure, service)
        return json_error(error, headers, error.status)
