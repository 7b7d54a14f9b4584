"""The in-process transport: calls answered by protocol.handle in this process, by either door.

- `attach(client, service)`: a real boto3 client. botocore validates and serialises the call
  as for the network, we answer the request, and botocore's own parser reads the reply.
- `DirectClient`: the boto3-free client (the CLI's, where boto3's ~300 ms start-up would
  dominate a one-shot command). It does on the client side what botocore does (sdk/: parameter
  validation, serialisation, parsing, paginators, modeled exceptions), so that a call either
  door refuses, the other refuses with the same error; tests/test_client_parity.py holds them
  side by side over every operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any
from urllib.parse import urlencode

from cogid.local import protocol
from cogid.local.sdk import params, parse, serialize
from cogid.local.service import Service
from cogid.local.wire import shapes
from cogid.local.wire.request import Request, Response

# --- the boto3 door -------------------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self.body


def attach(client: Any, service: Service | Callable[[], Service]) -> Any:
    """Serve every request `client` (made with an endpoint_url) sends from `service`, in this
    process; a callable opens the service at the first request.

    An unsigned request is answered at `before-call`, as botocore's Stubber answers: before
    botocore builds an HTTP request, resolves its user agent and runs its retry machinery (a
    third of an in-process call). A signed request is answered at `before-send`, after botocore
    has signed it, because the signature's scope says who is calling.
    """
    from botocore import UNSIGNED

    open_service = service if callable(service) else lambda: service
    _skip_network_steps(client)
    region = client.meta.region_name
    service_id = client.meta.service_model.service_id.hyphenize()
    unsigned_client = client.meta.config.signature_version is UNSIGNED

    def answer(method: str, url: str, headers: Any, body: Any) -> Any:
        return botocore_response(url, protocol.handle(open_service(), request_of(region, method, url, headers, body)))

    def before_call(model: Any, params: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> Any:
        if not (unsigned_client or context.get("auth_type") == "none"):
            return None  # signed: answered at before-send
        http = answer(params["method"], params["url"], params["headers"], params["body"])
        return http, parsed_reply(http, model)

    def before_send(request: Any, **_kwargs: Any) -> Any:
        return answer(request.method, request.url, request.headers, request.body)

    client.meta.events.register(f"before-call.{service_id}", before_call)
    client.meta.events.register(f"before-send.{service_id}", before_send)
    return client


def request_of(region: str, method: str, url: str, headers: Any, body: Any) -> Request:
    """A request botocore was about to send (at before-call or before-send), as ours."""
    if isinstance(body, dict):  # a Query request, before botocore encodes it
        body = urlencode(body, doseq=True)
        headers = {**headers, "Content-Type": serialize.QUERY_CONTENT_TYPE}
    if isinstance(body, str):
        body = body.encode()
    elif body is None:
        body = b""
    elif not isinstance(body, bytes):
        body = body.read()
    lowered = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
    return Request(method, "/" + url.split("://", 1)[-1].partition("/")[2], lowered, body, region)


def botocore_response(url: str, reply: Response) -> Any:
    """Our reply as botocore's HTTP layer returns one."""
    from botocore.awsrequest import AWSResponse

    # AWSResponse copies any mapping of headers into its own HeadersDict; its stub asks for more.
    return AWSResponse(url, reply.status, reply.headers, _Raw(reply.body))  # type: ignore[arg-type]


def parsed_reply(http: Any, model: Any) -> dict[str, Any]:
    """What botocore's endpoint makes of a reply (botocore.endpoint.Endpoint._do_get_response),
    for a call answered at before-call, before the endpoint is reached."""
    from botocore.endpoint import convert_to_response_dict

    reply = convert_to_response_dict(http, model)
    parser = _parser(model.service_model.protocol)
    parsed: dict[str, Any] = parser.parse(reply, model.output_shape)
    if http.status_code >= 300:
        error_shape = model.service_model.shape_for_error_code(parsed.get("Error", {}).get("Code"))
        if error_shape is not None:
            parsed.update(parser.parse(reply, error_shape))
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return parsed


@cache
def _parser(protocol_name: str) -> Any:
    from botocore.parsers import create_parser

    return create_parser(protocol_name)


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


# --- the boto3-free door --------------------------------------------------------------------


class _Meta:
    """client.meta as far as callers read it: the region and which service this is."""

    def __init__(self, region: str, model: shapes.ServiceModel):
        self.region_name = region
        self.service_model = model


class _Exceptions:
    """client.exceptions: one ClientError subclass per modeled error, as botocore makes them."""

    def __init__(self, model: shapes.ServiceModel):
        from botocore.exceptions import ClientError  # light: only the exceptions module

        self._classes: dict[str, type[ClientError]] = {}
        self.ClientError = ClientError
        for code, name in model.errors.items():
            # Named and placed as botocore's generated classes are, for code that tells errors
            # apart by class name or module.
            made = type(name, (ClientError,), {"__module__": "botocore.errorfactory"})
            setattr(self, name, made)
            self._classes[code] = made

    def from_code(self, code: str) -> Any:
        return self._classes.get(code, self.ClientError)


class DirectClient:
    """client.get_open_id_token_for_developer_identity(...), client.list_records(...) and the
    other operations of `service_name`, called as the account or, given `credentials`, as the
    holder of those temporary credentials (a Cognito identity's device)."""

    def __init__(
        self,
        service: Service | Callable[[], Service],
        region: str,
        service_name: str = "cognito-identity",
        credentials: dict[str, str | None] | None = None,
    ):
        # A callable opens the service at the first call: a command that fails before calling
        # (bad input, no pool configured) leaves no store behind.
        self._open = service if callable(service) else lambda: service
        self._model = shapes.service_model(service_name)
        self.meta = _Meta(region, self._model)
        self._operations = {shapes.snake(name): name for name in self._model.operation_names}
        self._exceptions: _Exceptions | None = None
        self._caller: dict[str, str] = {}
        if credentials is not None:
            # In process nothing checks signatures (the in-process transports' callers are this
            # process): the credential scope says who calls, as a signed request's would.
            scope = f"{credentials['AccessKeyId']}/{time.strftime('%Y%m%d', time.gmtime())}/{region}"
            self._caller = {
                "authorization": f"AWS4-HMAC-SHA256 Credential={scope}/{self._model.signing_name}/aws4_request,"
                " SignedHeaders=host, Signature=0",
            }
            if credentials.get("SessionToken"):
                self._caller["x-amz-security-token"] = str(credentials["SessionToken"])

    @property
    def exceptions(self) -> _Exceptions:
        if self._exceptions is None:
            self._exceptions = _Exceptions(self._model)
        return self._exceptions

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = self._operations.get(name)
        if operation is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

        def call(*args: Any, **kwargs: Any) -> dict[str, Any]:
            if args:
                raise TypeError(f"{name}() only accepts keyword arguments.")
            return self._call(operation, kwargs)

        call.__name__ = name
        return call

    def can_paginate(self, operation_name: str) -> bool:
        from cogid.local.sdk.paging import botocore_paginators

        return self._operations.get(operation_name) in botocore_paginators(self.meta.service_model.service_name)

    def get_paginator(self, operation_name: str) -> Any:
        from cogid.local.sdk.paging import Paginator, botocore_paginators

        if not self.can_paginate(operation_name):
            from botocore.exceptions import OperationNotPageableError

            raise OperationNotPageableError(operation_name=operation_name)
        config = botocore_paginators(self.meta.service_model.service_name)[self._operations[operation_name]]
        return Paginator(getattr(self, operation_name), config)

    def _call(self, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        model = self._model.operation_model(operation)
        params.check(kwargs, model.input_shape)
        request = serialize.request(self._model, operation, kwargs, self.meta.region_name)
        request.headers.update(self._caller)
        reply = protocol.handle(self._open(), request)
        if reply.status >= 300:
            code, response = parse.error(self._model, reply)
            raise self.exceptions.from_code(code)(response, operation)
        return parse.output(self._model, model, reply)
