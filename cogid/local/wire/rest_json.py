"""REST-JSON, the wire protocol of Cognito Sync: an operation is named by its method and path.

Routes, members and their places (URI segment, query string, header, JSON body) all come from
botocore's model of the service, so the request is read exactly as botocore wrote it. Rule
numbers (S71-S75) refer to spec/cognito-sync.md §7.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from cogid.local import errors
from cogid.local.wire import shapes
from cogid.local.wire.caller import _caller
from cogid.local.wire.request import Request, Response, _service_error, json_error
from cogid.local.wire.validate import does_not_fit, validate

if TYPE_CHECKING:
    from cogid.local.service import Service

SERVICE = "cognito-sync"
PREFIX = "/identitypools"
# Merge products are named `<name>.<identity id>` and may pass the model's 128 (spec S54).
MAX_DATASET_NAME = 200
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)  # not every Unicode digit
# The status of a code the model declares none for (the rest are 400, or their class's own).
_STATUSES = {"UnknownOperationException": 404}


def is_rest_json(path: str) -> bool:
    """Is this a Cognito Sync path (S71)? Its requests carry no X-Amz-Target."""
    path = path.partition("?")[0]
    return path == PREFIX or path.startswith(PREFIX + "/")


class MethodNotAllowed(errors.ServiceError):
    code = "MethodNotAllowed"
    status = 405

    def __init__(self, method: str, allowed: list[str]):
        super().__init__(f"The method {method} is not allowed for this resource.")
        self.allowed = allowed


@dataclass(frozen=True)
class Route:
    method: str
    segments: tuple[str, ...]  # literal segments, or `{Member}` for a URI member
    operation: str

    def bind(self, segments: list[str]) -> dict[str, str] | None:
        """The URI members, if `segments` (decoded) fit this route's shape."""
        if len(segments) != len(self.segments):
            return None
        bound = {}
        for pattern, segment in zip(self.segments, segments, strict=True):
            if pattern.startswith("{"):
                if not segment:
                    return None
                bound[pattern[1:-1]] = segment
            elif pattern != segment:
                return None
        return bound


@cache
def model() -> shapes.ServiceModel:
    """The Sync model, as this service reads it: DatasetName may be 200 long (S54)."""
    loaded = shapes.service_model(SERVICE)
    loaded.shapes["DatasetName"]["max"] = MAX_DATASET_NAME
    return loaded


@cache
def routes() -> dict[int, list[Route]]:
    """The operations' routes by their number of segments (only those can match a path)."""
    found: dict[int, list[Route]] = {}
    for name in model().operation_names:
        operation = model().operation_model(name)
        route = Route(operation.method, tuple(operation.request_uri.split("/")[1:]), name)
        found.setdefault(len(route.segments), []).append(route)
    return found


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    # Split on the raw '/', then decode each segment once: `bad%2Fname` stays one segment, and
    # `.` or `..` are values, never navigation (S72).
    segments = [unquote(segment) for segment in path.split("/")[1:]]
    allowed = []
    for route in routes().get(len(segments), []):
        bound = route.bind(segments)
        if bound is not None:
            if route.method == method:
                return route.operation, bound
            allowed.append(route.method)
    if allowed:
        raise MethodNotAllowed(method, allowed)
    raise errors.UnknownOperation(f"No operation matches {method} {path}")


def _scalar(shape: shapes.Shape, text: str, where: str) -> Any:
    """A query or header value as its member's type (S72)."""
    if shape.type_name in ("integer", "long"):
        if not _INTEGER.fullmatch(text):
            raise errors.Serialization(f"Value '{text[:40]}' at '{where}' is not an integer")
        try:
            return int(text)
        except ValueError:  # past Python's 4,300 digits, far past any integer of a model
            raise does_not_fit(where, shape.type_name) from None
    return text


def _parameters(operation: shapes.Operation, request: Request, uri: dict[str, str]) -> dict[str, Any]:
    """The input members from wherever the model puts them."""
    shape = operation.input_shape
    if shape is None:
        return {}
    body: Any = {}
    if request.method in ("POST", "PUT") and request.body.strip():  # a GET or DELETE body is ignored
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise errors.Serialization("Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise errors.Serialization("Request body must be a JSON object")
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.path.partition("?")[2], keep_blank_values=True):
        query.setdefault(name, value)  # the first of a repeated parameter wins
    params: dict[str, Any] = {}
    for name, ref in shape.metadata.get("members", {}).items():
        member = shape.members[name]
        location, wire_name = ref.get("location"), ref.get("locationName", name)
        if location == "uri":
            if name in uri:
                params[name] = uri[name]
        elif location == "querystring":
            if wire_name in query:
                params[name] = _scalar(member, query[wire_name], wire_name)
        elif location == "header":
            if wire_name.lower() in request.headers:
                params[name] = request.headers[wire_name.lower()]
        elif name in body:
            params[name] = body[name]
    return params


def status_of(error: errors.ServiceError) -> int:
    """The HTTP status Sync answers `error` with: the model's, else its own (spec §7.4)."""
    if isinstance(error, errors.AuthFailure):
        return error.query_status  # 403, and 400 for an incomplete signature
    declared = model().shapes.get(error.code, {}).get("error", {}).get("httpStatusCode")
    return int(declared or _STATUSES.get(error.code, error.status))


def handle(service: Service, request: Request, request_id: str, verify: bool = False) -> Response:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
    try:
        name, uri = _route(request.method, request.path.partition("?")[0])  # S20
        operation = model().operation_model(name)
        # S21: who is asking comes before the parameters. Temporary credentials vended to an
        # identity are let through: the model scopes them to the identity's own data (S67).
        caller = _caller(service, request, {}, True, verify, model().signing_name, name, identities=True)
        params = validate(operation.input_shape, _parameters(operation, request, uri))
        method = getattr(service.sync, shapes.snake(name))
        result = method(caller, **{shapes.snake(k): v for k, v in params.items()})
        return Response(200, headers, json.dumps(result).encode())
    except errors.FetchNeeded:
        raise
    except Exception as failure:  # every failure is an AWS error reply, never a crash
        error = _service_error(failure, service)
        if isinstance(error, MethodNotAllowed):
            headers["Allow"] = ", ".join(error.allowed)
        return json_error(error, headers, status_of(error))
