"""A boto3-shaped Cognito Identity client that calls protocol.handle directly.

It speaks the same JSON 1.1 wire protocol as botocore and answers as a boto3 client does (same
dicts, datetimes for timestamps, botocore ClientError with the AWS code), without importing
boto3 or botocore's request machinery — the ~300 ms a one-shot command would otherwise spend
before its first call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cogid.local import protocol
from cogid.local.service import Service
from cogid.local.wire import shapes
from cogid.local.wire.json11 import JSON_CONTENT_TYPE, JSON_TARGET_PREFIX
from cogid.local.wire.request import Request


def _datetimes(shape: shapes.Shape, value: Any) -> Any:
    """Timestamps as botocore parses them: epoch numbers become aware datetimes."""
    kind = shape.type_name
    if kind == "timestamp" and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _datetimes(members[k], v) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_datetimes(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _datetimes(shape.value, v) for k, v in value.items()}
    return value


class DirectClient:
    """client.get_open_id_token_for_developer_identity(...) and the other 22 operations."""

    def __init__(self, service: Service, region: str):
        self._service = service
        self._region = region
        self._model = shapes.service_model("cognito-identity")
        self._operations = {shapes.snake(name): name for name in self._model.operation_names}

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = self._operations.get(name)
        if operation is None:
            raise AttributeError(f"'cognito-identity' client has no operation {name!r}")
        return lambda **params: self._call(operation, params)

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        headers = {"x-amz-target": JSON_TARGET_PREFIX + operation, "content-type": JSON_CONTENT_TYPE}
        request = Request("POST", "/", headers, json.dumps(params).encode(), self._region)
        reply = protocol.handle(self._service, request)
        body = json.loads(reply.body) if reply.body else {}
        metadata = {"RequestId": reply.headers.get("x-amzn-RequestId"), "HTTPStatusCode": reply.status}
        if reply.status >= 300:
            from botocore.exceptions import ClientError  # light: only the exceptions module

            error = {"Code": body.get("__type", "InternalErrorException"), "Message": body.get("message", "")}
            raise ClientError({"Error": error, "ResponseMetadata": metadata}, operation)
        output = self._model.operation_model(operation).output_shape
        parsed: dict[str, Any] = _datetimes(output, body) if output is not None else {}
        return {**parsed, "ResponseMetadata": metadata}
