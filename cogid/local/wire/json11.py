"""AWS JSON 1.1 (Cognito Identity): the operation from X-Amz-Target, the body checked against
botocore's shapes, one call into the model, the result or error as AWS's JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cogid.local import errors
from cogid.local.wire import shapes
from cogid.local.wire.caller import _caller
from cogid.local.wire.request import Request, Response, _service_error, json_error
from cogid.local.wire.validate import validate

if TYPE_CHECKING:
    from cogid.local.service import Service

JSON_TARGET_PREFIX = "AWSCognitoIdentityService."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def operation_of(request: Request) -> shapes.Operation | None:
    """The Cognito Identity operation a request's X-Amz-Target names, None for another."""
    target = request.headers.get("x-amz-target", "")
    name = target[len(JSON_TARGET_PREFIX) :] if target.startswith(JSON_TARGET_PREFIX) else ""
    model = shapes.service_model("cognito-identity")
    return model.operation_model(name) if name in model.operation_names else None


def _handle_json(service: Service, request: Request, request_id: str, verify: bool = False) -> Response:
    headers = {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": request_id}
    try:
        operation = operation_of(request)
        if operation is None:
            raise errors.UnknownOperation(f"Unknown operation '{request.headers.get('x-amz-target', '')}'")
        model, name = shapes.service_model("cognito-identity"), operation.name
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
        method = getattr(service.cognito, shapes.snake(name))
        result = method(caller, **{shapes.snake(k): v for k, v in params.items()})
        return Response(200, headers, json.dumps(result, default=_json_default).encode())
    except errors.FetchNeeded:
        raise
    except Exception as error:  # every failure is an AWS error reply, never a crash
        error = _service_error(error, service)
        return json_error(error, headers, error.status)
