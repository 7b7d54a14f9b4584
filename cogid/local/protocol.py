"""The dispatcher: which wire protocol answers a request.

`handle` turns one HTTP-shaped request into one HTTP-shaped response. It is the only door into
the service: the in-process transports and `cogid serve` all go through it. AWS JSON 1.1
(Cognito Identity) is told apart from AWS Query (STS, IAM) by the request's headers, and
REST-JSON (Cognito Sync) by its path; the protocols themselves live in wire/.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from cogid.local import errors
from cogid.local.wire import json11, query, rest_json, test_idp
from cogid.local.wire.json11 import _handle_json
from cogid.local.wire.query import _handle_query
from cogid.local.wire.request import Request, Response, is_json, json_error, presigned

if TYPE_CHECKING:
    from cogid.local.service import Service


def handle(service: Service, request: Request, *, verify: bool = False) -> Response:
    """Answer one request. `verify` checks SigV4 signatures (the network transport); the
    in-process hook leaves it off, its callers being this process itself."""
    request_id = str(uuid.uuid4())
    # Sync's requests carry JSON and no X-Amz-Target: their path tells them apart first (S71).
    if rest_json.is_rest_json(request.path):
        return rest_json.handle(service, request, request_id, verify)
    if test_idp.is_test_idp(request.path):  # cogid's own: test logins for `cogid social token`
        return test_idp.handle(service, request, request_id, verify)
    if is_json(request.headers):
        return _handle_json(service, request, request_id, verify)
    if request.path.partition("?")[0] == "/":
        return _handle_query(service, request, request_id, verify)
    # No service answers this path: say so in JSON, never in another protocol's XML (S75).
    unknown = errors.UnknownOperation(f"No operation matches {request.method} {request.path.partition('?')[0]}")
    return json_error(unknown, {"Content-Type": "application/json", "x-amzn-RequestId": request_id}, 404)


def throttle_code(request: Request) -> str | None:
    """For an unsigned request of an operation AWS serves unsigned (GetId, AssumeRoleWithWeb-
    Identity...), the code its protocol answers a throttle with; else None. Told apart as
    `handle` tells them, by the protocols' own readings of a request."""
    path, _, query_string = request.path.partition("?")
    if "authorization" in request.headers or presigned(query_string) or rest_json.is_rest_json(path):
        return None  # signed (Cognito Sync always is)
    if is_json(request.headers):
        operation = json11.operation_of(request)
        return "TooManyRequestsException" if operation is not None and operation.auth_type == "none" else None
    if path != "/":
        return None
    try:
        operation = query.operation_of(request)
    except errors.ServiceError:  # not form data: refused before the store, unthrottled
        return None
    return "Throttling" if operation is not None and operation.auth_type == "none" else None


def operation_name(request: Request) -> str:
    """`service.Operation` for a request (cognito-identity.GetId, sts.AssumeRoleWithWebIdentity,
    cognito-sync.ListRecords...), or what it asked for (`GET /path`) when no operation matches.
    Read from the target header, the Query `Action` or the route, as `handle` tells them apart:
    never a parameter's value (tokens travel in them)."""
    path = request.path.partition("?")[0]
    try:
        if rest_json.is_rest_json(path):
            return "cognito-sync." + rest_json._route(request.method, path)[0]
        if is_json(request.headers):
            operation = json11.operation_of(request)
            if operation is not None:
                return "cognito-identity." + operation.name
        elif path == "/" and request.method in ("GET", "POST"):
            action = query.form(request).get("Action", "")
            service = query._query_operations().get(action)
            if service is not None:
                return f"{service}.{action}"
    except Exception:  # refused as unknown or malformed: named by method and path
        pass
    return f"{request.method} {path[:200]}"
