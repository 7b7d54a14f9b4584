"""In-process transport: botocore's `before-send` event answered by protocol.handle.

botocore builds and (if configured) signs the request as for the network, we answer it, and
botocore parses the reply as it would a real one: same dicts, same ClientErrors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse

from cogid.local import protocol
from cogid.local.service import Service


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self.body


def attach(client: Any, service: Service) -> Any:
    """Serve every request `client` sends from `service`, in this process."""
    region = client.meta.region_name
    event = f"before-send.{client.meta.service_model.service_id.hyphenize()}"

    def answer(request: Any, **_kwargs: Any) -> AWSResponse:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = body.read()
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        path = request.url.split("://", 1)[-1].partition("/")[2]
        reply = protocol.handle(service, protocol.Request(request.method, "/" + path, headers, body, region))
        return AWSResponse(request.url, reply.status, reply.headers, _Raw(reply.body))

    client.meta.events.register(event, answer)
    return client
