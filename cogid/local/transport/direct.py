"""A boto3-shaped Cognito Identity or Cognito Sync client that calls protocol.handle directly.

It speaks the same wire protocols as botocore (JSON 1.1 for Cognito Identity, REST-JSON for
Cognito Sync, members placed where the model says) and answers as a boto3 client does (same
dicts, datetimes for timestamps, botocore ClientError with the AWS code), without importing
boto3 or botocore's request machinery — the ~300 ms a one-shot command would otherwise spend
before its first call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

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


def _epoch(value: Any) -> Any:
    """Request timestamps as botocore sends them in JSON: epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot send {type(value).__name__}")


class DirectClient:
    """client.get_open_id_token_for_developer_identity(...), client.list_records(...) and the
    other operations of `service_name`, called as the account or, given `credentials`, as the
    holder of those temporary credentials (a Cognito identity's device)."""

    def __init__(
        self,
        service: Service | Callable[[], Service],
        region: str,
        service_name: str = "cognito-identity",
        credentials: dict[str, str] | None = None,
    ):
        # A callable opens the service at the first call: a command that fails before calling
        # (bad input, no pool configured) leaves no store behind.
        self._open = service if callable(service) else lambda: service
        self._region = region
        self._name = service_name
        self._model = shapes.service_model(service_name)
        self._operations = {shapes.snake(name): name for name in self._model.operation_names}
        self._caller: dict[str, str] = {}
        if credentials is not None:
            # In process nothing checks signatures (the in-process transports' callers are this
            # process): the credential scope says who calls, as a signed request's would.
            scope = f"{credentials['AccessKeyId']}/{time.strftime('%Y%m%d', time.gmtime())}/{region}"
            self._caller = {
                "authorization": f"AWS4-HMAC-SHA256 Credential={scope}/{self._model.signing_name}/aws4_request,"
                " SignedHeaders=host, Signature=0",
                "x-amz-security-token": credentials["SessionToken"],
            }

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = self._operations.get(name)
        if operation is None:
            raise AttributeError(f"'{self._name}' client has no operation {name!r}")
        return lambda **params: self._call(operation, params)

    def _request(self, operation: str, params: dict[str, Any]) -> Request:
        if self._model.metadata["protocol"] == "json":
            headers = {"x-amz-target": JSON_TARGET_PREFIX + operation, "content-type": JSON_CONTENT_TYPE}
            return Request("POST", "/", {**headers, **self._caller}, json.dumps(params).encode(), self._region)
        # REST-JSON: each member where the model puts it, as botocore's serializer does.
        model = self._model.operation_model(operation)
        path, query, headers, body = model.request_uri, [], dict(self._caller), {}
        members = model.input_shape.metadata.get("members", {}) if model.input_shape is not None else {}
        for name, value in params.items():
            ref = members.get(name, {})
            location, wire_name = ref.get("location"), ref.get("locationName", name)
            if location == "uri":
                path = path.replace("{" + wire_name + "}", quote(str(value), safe=""))
            elif location == "querystring":
                query.append((wire_name, str(value)))
            elif location == "header":
                headers[wire_name.lower()] = str(value)
            else:
                body[name] = value
        if query:
            path += "?" + urlencode(query)
        if body:
            headers["content-type"] = "application/json"
        data = json.dumps(body, default=_epoch).encode() if body else b""
        return Request(model.method, path, headers, data, self._region)

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = protocol.handle(self._open(), self._request(operation, params))
        body = json.loads(reply.body) if reply.body else {}
        metadata = {"RequestId": reply.headers.get("x-amzn-RequestId"), "HTTPStatusCode": reply.status}
        if reply.status >= 300:
            from botocore.exceptions import ClientError  # light: only the exceptions module

            error = {"Code": body.get("__type", "InternalErrorException"), "Message": body.get("message", "")}
            raise ClientError({"Error": error, "ResponseMetadata": metadata}, operation)
        output = self._model.operation_model(operation).output_shape
        parsed: dict[str, Any] = _datetimes(output, body) if output is not None else {}
        return {**parsed, "ResponseMetadata": metadata}
