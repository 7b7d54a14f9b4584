"""AWS Query with XML replies (STS, IAM): the action from the form or query string, its
flattened parameters rebuilt and checked against botocore's shapes, one call into STS or IAM,
the result or error as AWS's XML."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from cogid.local import errors
from cogid.local.iam.names import IAM_OPERATIONS, STS_OPERATIONS
from cogid.local.wire import shapes
from cogid.local.wire.caller import _caller
from cogid.local.wire.request import Request, Response, _service_error, escape
from cogid.local.wire.validate import validate

if TYPE_CHECKING:
    from cogid.local.service import Service


@cache
def _query_operations() -> dict[str, str]:
    """Query-protocol action name -> service, for the operations the service implements."""
    return {**dict.fromkeys(STS_OPERATIONS, "sts"), **dict.fromkeys(IAM_OPERATIONS, "iam")}


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


def form(request: Request) -> dict[str, str]:
    """A Query request's parameters: its query string's and its form body's."""
    query = request.path.partition("?")[2]
    try:
        body = request.body.decode()
    except UnicodeDecodeError:
        raise errors.ValidationError("The request body is not UTF-8 form data") from None
    return dict(parse_qsl((query + "&" + body) if query else body, keep_blank_values=True))


def operation_of(request: Request) -> shapes.Operation | None:
    """The STS or IAM operation a Query request's Action names, None for another."""
    action = form(request).get("Action", "")
    service_name = _query_operations().get(action)
    return shapes.service_model(service_name).operation_model(action) if service_name else None


def _handle_query(service: Service, request: Request, request_id: str, verify: bool = False) -> Response:
    headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    namespace = "https://sts.amazonaws.com/doc/2011-06-15/"
    try:
        params = form(request)
        action = params.get("Action", "")
        service_name = _query_operations().get(action)
        if service_name is None:
            raise errors.ServiceError(f"Could not find operation {action}", code="InvalidAction")
        model = shapes.service_model(service_name)
        namespace = model.metadata.get("xmlNamespace", namespace)
        operation = model.operation_model(action)
        caller = _caller(service, request, params, operation.auth_type != "none", verify, model.signing_name, action)
        params = validate(operation.input_shape, _parse_query(operation.input_shape, params, "") or {})
        backend = service.sts if service_name == "sts" else service.iam
        result = getattr(backend, shapes.snake(action))(caller, **{shapes.snake(k): v for k, v in params.items()})
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
        elif error.code == "ServiceUnavailableException":  # the store's disk is full
            error = errors.ServiceError(error.message, code="ServiceUnavailable", status=503)
        elif error.code == "TooManyRequestsException":  # IAM's and STS's name for a throttle
            error = errors.ServiceError(error.message, code="Throttling", status=400)
        kind = "Receiver" if error.status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(error.status, headers, body.encode())
