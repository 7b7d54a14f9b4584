"""In-process transport: botocore's requests answered by protocol.handle.

botocore validates and serialises the call as for the network, we answer the request, and
botocore's own parser reads the reply as it would a real one: same dicts, same ClientErrors.

An unsigned request is answered at `before-call`, as botocore's Stubber answers: before
botocore builds an HTTP request, resolves its user agent and runs its retry machinery (a third
of an in-process call). A signed request is answered at `before-send`, after botocore has signed
it, because the signature's scope says who is calling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from botocore import UNSIGNED
from botocore.awsrequest import AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.parsers import create_parser

from cogid.local import protocol
from cogid.local.service import Service
from cogid.local.wire.request import Request

_FORM = "application/x-www-form-urlencoded; charset=utf-8"  # what botocore sends a Query body as


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self.body


def attach(client: Any, service: Service | Callable[[], Service]) -> Any:
    """Serve every request `client` (made with an endpoint_url) sends from `service`, in this
    process; a callable opens the service at the first request."""
    open_service = service if callable(service) else lambda: service
    _skip_network_steps(client)
    region = client.meta.region_name
    service_id = client.meta.service_model.service_id.hyphenize()
    unsigned_client = client.meta.config.signature_version is UNSIGNED
    parser = create_parser(client.meta.service_model.protocol)

    def answer(method: str, url: str, headers: Any, body: Any) -> AWSResponse:
        if isinstance(body, dict):  # a Query request, before botocore encodes it
            body = urlencode(body, doseq=True)
            headers = {**headers, "Content-Type": _FORM}
        if isinstance(body, str):
            body = body.encode()
        elif body is None:
            body = b""
        elif not isinstance(body, bytes):
            body = body.read()
        lowered = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
        path = "/" + url.split("://", 1)[-1].partition("/")[2]
        reply = protocol.handle(open_service(), Request(method, path, lowered, body, region))
        return AWSResponse(url, reply.status, reply.headers, _Raw(reply.body))

    def before_call(model: Any, params: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> Any:
        if not (unsigned_client or context.get("auth_type") == "none"):
            return None  # signed: answered at before-send
        http = answer(params["method"], params["url"], params["headers"], params["body"])
        # What botocore's endpoint does with a reply (botocore.endpoint.Endpoint._do_get_response).
        reply = convert_to_response_dict(http, model)
        parsed = parser.parse(reply, model.output_shape)
        if http.status_code >= 300:
            error_shape = model.service_model.shape_for_error_code(parsed.get("Error", {}).get("Code"))
            if error_shape is not None:
                parsed.update(parser.parse(reply, error_shape))
        parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
        return http, parsed

    def before_send(request: Any, **_kwargs: Any) -> AWSResponse:
        return answer(request.method, request.url, request.headers, request.body)

    client.meta.events.register(f"before-call.{service_id}", before_call)
    client.meta.events.register(f"before-send.{service_id}", before_send)
    return client


def _skip_network_steps(client: Any) -> None:
    """Drop two steps botocore takes on every call that matter only on a network (~50 µs of the
    ~120 µs botocore spends on an in-process call).

    Endpoint rules: the client has a fixed endpoint_url, which the rules only echo back (with no
    signing properties), and botocore takes that URL as it is when the client has no rules.
    The user agent: assembled afresh for every request, read by nobody here.
    """
    client._ruleset_resolver = None
    user_agent = client._user_agent_creator.to_string()
    client._user_agent_creator.to_string = lambda: user_agent
