"""Replies as botocore's parsers read them: the output shape's members and nothing else,
timestamps as datetimes, blobs as bytes, ResponseMetadata, and errors as ClientError reads them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cogid.local.wire import shapes
from cogid.local.wire.request import Response

if TYPE_CHECKING:  # XML is read only for STS and IAM: the import waits for their first reply
    from xml.etree import ElementTree


def metadata(reply: Response, request_id: str | None) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in reply.headers.items()}
    found = request_id or headers.get("x-amzn-requestid") or headers.get("x-amz-request-id")
    return {
        **({"RequestId": found} if found else {}),
        "HTTPStatusCode": reply.status,
        "HTTPHeaders": headers,
        "RetryAttempts": 0,
    }


def output(model: shapes.ServiceModel, operation: shapes.Operation, reply: Response) -> dict[str, Any]:
    """A successful reply as the call's return value."""
    if model.metadata["protocol"] == "query":
        root = _xml(reply.body)
        request_id = _text_at(root, "ResponseMetadata", "RequestId")
        parsed: dict[str, Any] = {}
        if operation.output_shape is not None:
            start = _child(root, operation.result_wrapper) if operation.result_wrapper else root
            if start is not None:
                parsed = _from_xml(start, operation.output_shape)
        return {**parsed, "ResponseMetadata": metadata(reply, request_id)}
    body = json.loads(reply.body) if reply.body else {}
    parsed = _from_json(body, operation.output_shape) if operation.output_shape is not None else {}
    return {**parsed, "ResponseMetadata": metadata(reply, None)}


def error(model: shapes.ServiceModel, reply: Response) -> tuple[str, dict[str, Any]]:
    """A failed reply as (code, ClientError's response dict)."""
    if model.metadata["protocol"] == "query":
        root = _xml(reply.body)
        found = _child(root, "Error")
        details = {_local(child.tag): child.text or "" for child in found} if found is not None else {}
        code = details.get("Code", str(reply.status))
        return code, {"Error": details, "ResponseMetadata": metadata(reply, _text_at(root, "RequestId"))}
    body = json.loads(reply.body) if reply.body else {}
    headers = {name.lower(): value for name, value in reply.headers.items()}
    code = str(headers.get("x-amzn-errortype") or body.get("__type") or reply.status)
    code = code.split(":", 1)[0].rsplit("#", 1)[-1]
    response: dict[str, Any] = {
        "Error": {"Message": body.get("message", body.get("Message", "")), "Code": code},
        "ResponseMetadata": metadata(reply, None),
    }
    shape = error_shape(model, code)
    if shape is not None:  # botocore adds a modeled error's own members (`message`...)
        response.update(_from_json(body, shape))
    return code, response


def error_shape(model: shapes.ServiceModel, code: str) -> shapes.Shape | None:
    name = model.errors.get(code)
    return model.shape(name) if name is not None else None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        return datetime.fromisoformat(value)


def _from_json(value: Any, shape: shapes.Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return {}
        members, refs = shape.members, shape.metadata.get("members", {})
        parsed = {}
        for name, member in members.items():
            item = value.get(refs[name].get("locationName", name))
            if item is not None:
                parsed[name] = _from_json(item, member)
        return parsed
    if kind == "list":
        return [_from_json(item, shape.member) for item in value]
    if kind == "map":
        return {key: _from_json(item, shape.value) for key, item in value.items()}
    if kind == "timestamp":
        return _timestamp(value)
    if kind == "blob":
        return base64.b64decode(value)
    return value


def _xml(body: bytes) -> ElementTree.Element:
    from xml.etree import ElementTree

    return ElementTree.fromstring(body)  # noqa: S314 - the body is this process's own service's


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(node: ElementTree.Element, name: str | None) -> ElementTree.Element | None:
    return next((child for child in node if _local(child.tag) == name), None)


def _text_at(node: ElementTree.Element | None, *path: str) -> str | None:
    for name in path:
        node = _child(node, name) if node is not None else None
    return node.text if node is not None else None


def _from_xml(node: ElementTree.Element, shape: shapes.Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        parsed = {}
        refs = shape.metadata.get("members", {})
        for name, member in shape.members.items():
            wire_name = refs[name].get("locationName", name)
            if member.type_name == "list" and member.metadata.get("flattened"):
                items = [child for child in node if _local(child.tag) == wire_name]
                if items:
                    parsed[name] = [_from_xml(item, member.member) for item in items]
                continue
            child = _child(node, wire_name)
            if child is not None:
                parsed[name] = _from_xml(child, member)
        return parsed
    if kind == "list":
        item_name = shape.metadata.get("member", {}).get("locationName", "member")
        return [_from_xml(child, shape.member) for child in node if _local(child.tag) == item_name]
    if kind == "map":
        entries = [child for child in node if _local(child.tag) == "entry"]
        parsed_map = {}
        for entry in entries:
            value = _child(entry, "value")
            parsed_map[_text_at(entry, "key") or ""] = _from_xml(value, shape.value) if value is not None else ""
        return parsed_map
    text = node.text or ""
    if kind in ("integer", "long"):
        return int(text)
    if kind in ("float", "double"):
        return float(text)
    if kind == "boolean":
        return text == "true"
    if kind == "timestamp":
        return _timestamp(text)
    if kind == "blob":
        return base64.b64decode(text)
    if shape.name == "policyDocumentType":
        return _policy_document(text)
    return text


def _policy_document(text: str) -> Any:
    """IAM's policy documents come URL-encoded; botocore (its after-call.iam handler) gives
    them decoded and parsed, or as they came when they aren't JSON."""
    from urllib.parse import unquote

    try:
        return json.loads(unquote(text))
    except ValueError:
        return text
