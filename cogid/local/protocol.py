"""The wire: AWS JSON 1.1 (Cognito Identity) and AWS Query with XML replies (STS, IAM).

`handle` turns one HTTP-shaped request into one HTTP-shaped response. It is the only door into
the service: the in-process botocore hook and `cogid serve` both go through it. Shapes, names
and constraints come from botocore's own service models.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from cogid.local import errors, shapes
from cogid.local.identity.pool import Caller
from cogid.local.validate import validate

if TYPE_CHECKING:
    from cogid.local.service import Service

log = logging.getLogger(__name__)

JSON_TARGET_PREFIX = "AWSCognitoIdentityService."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_REGION = "us-east-1"
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_ID_REGION = re.compile(r"([\w-]+):[0-9a-f-]+")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # keys lower-case
    body: bytes
    region: str | None = None  # the endpoint's region, when the transport knows it


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def service_model(name: str) -> Any:
    return shapes.service_model(name)


@cache
def _query_operations() -> dict[str, str]:
    """Query-protocol action name -> service, for the operations the service implements."""
    from cogid.local.iam.names import IAM_OPERATIONS, STS_OPERATIONS

    return {**dict.fromkeys(STS_OPERATIONS, "sts"), **dict.fromkeys(IAM_OPERATIONS, "iam")}


def _snake(name: str) -> str:
    return shapes.snake(name)


def credential_scope(headers: dict[str, str]) -> tuple[str, str, str] | None:
    """(access key, region, service) from a SigV4 Authorization header, if there is one."""
    match = _SCOPE.search(headers.get("authorization", ""))
    return (match.group(1), match.group(2), match.group(3)) if match else None


_PRESIGNED = re.compile(r"(?:^|&)X-Amz-(?:Algorithm|Credential|Signature)=")


def presigned(query: str) -> bool:
    """Does a query string carry a SigV4 signature (a presigned URL)?"""
    return _PRESIGNED.search(query) is not None


def is_json(headers: dict[str, str]) -> bool:
    """Does a request speak AWS JSON 1.1 (else AWS Query)? By its X-Amz-Target or content type."""
    return "x-amz-target" in headers or "x-amz-json" in headers.get("content-type", "")


def handle(service: Service, request: Request, *, verify: bool = False) -> Response:
    """Answer one request. `verify` checks SigV4 signatures (the network transport); the
    in-process hook leaves it off, its callers being this process itself."""
    request_id = str(uuid.uuid4())
    if is_json(request.headers):
        return _handle_json(service, request, request_id, verify)
    return _handle_query(service, request, request_id, verify)


def _caller(
    service: Service,
    request: Request,
    params: dict[str, Any],
    signed: bool,
    verify: bool = False,
    signing_name: str = "",
    operation: str = "",
) -> Caller:
    caller = _identify(service, request, params, signed, verify, signing_name)
    principal = caller.principal
    if signed and principal is not None and principal.get("Session") and operation != "GetCallerIdentity":
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
        from cogid.local.sigv4 import verify as verify_signature

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


# -- JSON 1.1 ------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _handle_json(service: Service, request: Request, request_id: str, verify: bool = False) -> Response:
    headers = {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": request_id}
    try:
        target = request.headers.get("x-amz-target", "")
        name = target[len(JSON_TARGET_PREFIX) :] if target.startswith(JSON_TARGET_PREFIX) else ""
        model = service_model("cognito-identity")
        if name not in model.operation_names:
            raise errors.UnknownOperation(f"Unknown operation '{target}'")
        operation = model.operation_model(name)
        try:
            raw = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise errors.Serialization("Request body is not valid JSON") from None
        # Who is asking comes first, as on AWS: an unsigned request is refused before its
        # parameters are looked at.
        signed = operation.auth_type != "none"
        caller = _caller(
            service, request, raw if isinstance(raw, dict) else {}, signed, verify, model.signing_name, name
        )
        params = validate(operation.input_shape, raw)
        method = getattr(service.cognito, _snake(name))
        result = method(caller, **{_snake(k): v for k, v in params.items()})
        return Response(200, headers, json.dumps(result, default=_json_default).encode())
    except errors.FetchNeeded:
        raise
    except Exception as error:  # every failure is an AWS error reply, never a crash
        error = _service_error(error, service)
        headers["x-amzn-ErrorType"] = f"{error.code}:"
        # Latin-1 only, as HTTP headers are; the body carries the message whole.
        headers["x-amzn-ErrorMessage"] = printable(error.message[:512]).encode("latin-1", "replace").decode("latin-1")
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        return Response(error.status, headers, body)


def _service_error(error: Exception, service: Service) -> errors.ServiceError:
    if isinstance(error, errors.ServiceError):
        return error
    if type(error) is sqlite3.DatabaseError:
        # The store file is damaged ("database disk image is malformed"): no reply helps, and
        # whoever runs the service must learn which file. The CLI reports it as a store error,
        # `cogid serve` as a 500 with the cause in its log.
        raise sqlite3.DatabaseError(f"{service.store.path}: {error}") from error
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        # The store stayed locked past its busy timeout: a throttle, which SDKs retry.
        return errors.ServiceError("The local store is busy; retry the request.", code="TooManyRequestsException")
    log.exception("internal error")
    return errors.InternalError("An internal error occurred in the local service.")


# -- Query / XML ---------------------------------------------------------------------------


def _parse_query(shape: Any, params: dict[str, str], prefix: str) -> Any:
    """Rebuild a nested value from flattened Query parameters (`A.member.1.B=...`)."""
    kind = shape.type_name
    if kind == "structure":
        value = {}
        for name, member in shape.members.items():
            item = _parse_query(member, params, f"{prefix}.{name}" if prefix else name)
            if item is not None:
                value[name] = item
        return value if value or not prefix else None
    if kind == "list":
        items: list[Any] = []
        i = 1
        while True:
            item = _parse_query(shape.member, params, f"{prefix}.member.{i}")
            if item is None:
                return items if items or prefix in params else None
            items.append(item)
            i += 1
    if kind == "map":
        entries, i = {}, 1
        while f"{prefix}.entry.{i}.key" in params:
            entries[params[f"{prefix}.entry.{i}.key"]] = params.get(f"{prefix}.entry.{i}.value", "")
            i += 1
        return entries or None
    if prefix not in params:
        return None
    text = params[prefix]
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise errors.ValidationError(f"Value '{text}' at '{prefix}' is not an integer") from None
    if kind == "boolean":
        return text.lower() == "true"
    return text


# What neither an XML 1.0 document nor an HTTP header may carry: control characters (but tab)
# and lone surrogates. Error messages quote request values, which may hold any of them.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """`text` with every character a header or XML document cannot hold shown as U+FFFD."""
    return _UNPRINTABLE.sub("\ufffd", text)


def escape(text: str) -> str:
    """XML character data."""
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml(shape: Any, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        return "".join(
            f"<{name}>{_xml(member, value[name])}</{name}>"
            for name, member in shape.members.items()
            if value.get(name) is not None
        )
    if kind == "list":
        return "".join(f"<member>{_xml(shape.member, item)}</member>" for item in value)
    if kind == "map":
        return "".join(
            f"<entry><key>{escape(str(k))}</key><value>{escape(str(v))}</value></entry>" for k, v in value.items()
        )
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _handle_query(service: Service, request: Request, request_id: str, verify: bool = False) -> Response:
    headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    namespace = "https://sts.amazonaws.com/doc/2011-06-15/"
    try:
        query = request.path.partition("?")[2]
        try:
            body = request.body.decode()
        except UnicodeDecodeError:
            raise errors.ValidationError("The request body is not UTF-8 form data") from None
        text = (query + "&" + body) if query else body
        params = dict(parse_qsl(text, keep_blank_values=True))
        action = params.get("Action", "")
        service_name = _query_operations().get(action)
        if service_name is None:
            raise errors.ServiceError(f"Could not find operation {action}", code="InvalidAction")
        model = service_model(service_name)
        namespace = model.metadata.get("xmlNamespace", namespace)
        operation = model.operation_model(action)
        caller = _caller(service, request, params, operation.auth_type != "none", verify, model.signing_name, action)
        params = validate(operation.input_shape, _parse_query(operation.input_shape, params, "") or {})
        backend = service.sts if service_name == "sts" else service.iam
        result = getattr(backend, _snake(action))(caller, **{_snake(k): v for k, v in params.items()})
        output = operation.output_shape
        wrapped = f"<{action}Result>{_xml(output, result)}</{action}Result>" if output is not None else ""
        body = (
            f'<{action}Response xmlns="{namespace}">{wrapped}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        )
        return Response(200, headers, body.encode())
    except errors.FetchNeeded:
        raise
    except Exception as error:
        error = _service_error(error, service)
        if isinstance(error, errors.AuthFailure):  # the Query protocol's names for these
            error = errors.ServiceError(error.message, code=error.query_code, status=error.query_status)
        elif isinstance(error, (errors.Validation, errors.Serialization)):
            error = errors.ValidationError(error.message)
        kind = "Receiver" if error.status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(error.status, headers, body.encode())
