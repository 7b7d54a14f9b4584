"""A request and a response as every wire protocol and transport sees them (HTTP-shaped, headers
lower-cased on the way in), what a request's headers say about it (its protocol, its SigV4
scope, a presigned query), and what every protocol's error replies share: any failure made an
AWS error (`_service_error`) and text made safe for a header or an XML document."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cogid.local import errors
from cogid.local.store.core import StoreBusy, StoreUnwritable

if TYPE_CHECKING:
    from cogid.local.service import Service

log = logging.getLogger(__name__)

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


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


# A reply as `cogid serve` sends it: status, headers in order (a name may repeat), body.
Reply = tuple[int, list[tuple[str, str]], bytes]


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


def _service_error(error: Exception, service: Service) -> errors.ServiceError:
    if isinstance(error, errors.ServiceError):
        return error
    if type(error) is sqlite3.DatabaseError:
        # The store file is damaged ("database disk image is malformed"): no reply helps, and
        # whoever runs the service must learn which file. The CLI reports it as a store error,
        # `cogid serve` as a 500 with the cause in its log.
        raise sqlite3.DatabaseError(f"{service.store.path}: {error}") from error
    if isinstance(error, StoreBusy):
        # The store stayed locked past its timeout: a throttle, which SDKs retry. The message
        # names who holds it (for whoever runs the service), not where the file is.
        return errors.ServiceError(
            f"The local store is busy ({error.reason}); retry the request.", code="TooManyRequestsException"
        )
    if isinstance(error, StoreUnwritable):
        # The filesystem refused the write (logged by the store, once): nothing was written, and
        # the request may succeed once that is mended. The Query protocol calls it ServiceUnavailable.
        return errors.ServiceError(
            f"The local store cannot be written ({error.reason}); retry the request later.",
            code="ServiceUnavailableException",
            status=503,
        )
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return errors.ServiceError("The local store is busy; retry the request.", code="TooManyRequestsException")
    log.exception("internal error")
    return errors.InternalError("An internal error occurred in the local service.")


# What neither an XML 1.0 document nor an HTTP header may carry: control characters (but tab)
# and lone surrogates. Error messages quote request values, which may hold any of them.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """`text` with every character a header or XML document cannot hold shown as U+FFFD."""
    return _UNPRINTABLE.sub("\ufffd", text)


def escape(text: str) -> str:
    """XML character data."""
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def json_error(error: errors.ServiceError, headers: dict[str, str], status: int) -> Response:
    """An AWS JSON error reply (JSON 1.1 and REST-JSON alike): the code in x-amzn-ErrorType and
    the body's `__type`, the message in the body and, Latin-1-safe, in x-amzn-ErrorMessage."""
    headers["x-amzn-ErrorType"] = f"{error.code}:"
    headers["x-amzn-ErrorMessage"] = printable(error.message[:512]).encode("latin-1", "replace").decode("latin-1")
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return Response(status, headers, body)
