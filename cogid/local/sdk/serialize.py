"""Calls as requests, as botocore's serializers write them: AWS JSON 1.1 (Cognito Identity),
REST-JSON (Cognito Sync) and AWS Query (STS, IAM)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlencode

from cogid.local.sdk.params import to_datetime
from cogid.local.wire import shapes
from cogid.local.wire.json11 import JSON_CONTENT_TYPE, JSON_TARGET_PREFIX
from cogid.local.wire.request import Request

QUERY_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


def request(model: shapes.ServiceModel, operation: str, params: dict[str, Any], region: str) -> Request:
    """The request botocore would send for `operation(**params)` (unsigned; the caller adds
    who is calling)."""
    op = model.operation_model(operation)
    protocol = model.metadata["protocol"]
    if protocol == "json":
        body = _json_value(params, op.input_shape) if op.input_shape is not None else {}
        headers = {"x-amz-target": JSON_TARGET_PREFIX + operation, "content-type": JSON_CONTENT_TYPE}
        return Request("POST", "/", headers, json.dumps(body).encode(), region)
    if protocol == "rest-json":
        return _rest_json(op, params, region)
    form = {"Action": operation, "Version": model.metadata["apiVersion"]}
    if op.input_shape is not None:
        _query_value(form, params, op.input_shape, "")
    return Request("POST", "/", {"content-type": QUERY_CONTENT_TYPE}, urlencode(form).encode(), region)


def _epoch(value: Any) -> int | float:
    moment = to_datetime(value)
    seconds = int(moment.replace(microsecond=0).timestamp())
    return (seconds * 10**6 + moment.microsecond) / 10**6 if moment.microsecond else seconds


def _iso(value: Any) -> str:
    moment = to_datetime(value)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _blob(value: Any) -> str:
    raw = value.encode() if isinstance(value, str) else value.read() if hasattr(value, "read") else bytes(value)
    return base64.b64encode(raw).decode()


def _json_value(value: Any, shape: shapes.Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        refs = shape.metadata.get("members", {})
        return {
            refs[name].get("locationName", name): _json_value(item, members[name])
            for name, item in value.items()
            if item is not None
        }
    if kind == "list":
        return [_json_value(item, shape.member) for item in value]
    if kind == "map":
        return {key: _json_value(item, shape.value) for key, item in value.items()}
    if kind == "timestamp":
        return _epoch(value)
    if kind == "blob":
        return _blob(value)
    return value


def _text(value: Any, shape: shapes.Shape) -> str:
    """A scalar in a URI, query string or header (booleans lower-case, timestamps ISO 8601)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if shape.type_name == "timestamp":
        return _iso(value)
    return str(value)


def _rest_json(op: shapes.Operation, params: dict[str, Any], region: str) -> Request:
    path, headers, body = op.request_uri, {}, {}
    query: list[tuple[str, str]] = []
    shape = op.input_shape
    refs = shape.metadata.get("members", {}) if shape is not None else {}
    members = shape.members if shape is not None else {}
    for name, value in params.items():
        ref = refs[name]
        location, wire_name = ref.get("location"), ref.get("locationName", name)
        if location == "uri":
            path = path.replace("{" + wire_name + "}", quote(_text(value, members[name]), safe=""))
        elif location == "querystring":
            items = value if isinstance(value, list) else [value]
            query.extend((wire_name, _text(item, members[name])) for item in items)
        elif location == "header":
            headers[wire_name.lower()] = _text(value, members[name])
        else:
            body[wire_name] = _json_value(value, members[name])
    if query:
        path += "?" + urlencode(query)
    data = b""
    if body or any("location" not in ref for ref in refs.values()):
        # botocore sends `{}` for an operation with body members, even when none are given.
        headers["content-type"] = "application/json"
        data = json.dumps(body).encode()
    return Request(op.method, path, headers, data, region)


def _query_value(form: dict[str, str], value: Any, shape: shapes.Shape, prefix: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        refs = shape.metadata.get("members", {})
        for name, item in value.items():
            if item is not None:
                key = refs[name].get("locationName", name)
                _query_value(form, item, shape.members[name], f"{prefix}.{key}" if prefix else key)
    elif kind == "list":
        if not value:
            form[prefix] = ""  # botocore's way of sending an empty list
        flattened = shape.metadata.get("flattened")
        item_name = shape.metadata.get("member", {}).get("locationName", "member")
        for index, item in enumerate(value, 1):
            _query_value(
                form, item, shape.member, f"{prefix}.{index}" if flattened else f"{prefix}.{item_name}.{index}"
            )
    elif kind == "map":
        for index, (key, item) in enumerate(value.items(), 1):
            entry = f"{prefix}.{index}" if shape.metadata.get("flattened") else f"{prefix}.entry.{index}"
            form[f"{entry}.key"] = key
            _query_value(form, item, shape.value, f"{entry}.value")
    elif kind == "blob":
        form[prefix] = _blob(value)
    elif kind == "timestamp":
        form[prefix] = _iso(value)
    else:
        form[prefix] = _text(value, shape)
