"""`cogid serve`: the local service over HTTP, on gunicorn.

One endpoint answers Cognito Identity (JSON, `X-Amz-Target`), STS and IAM (Query, `Action`),
the OpenID discovery document and the JWKS, with CORS for browser SDKs. Requests go through
`protocol.handle` with SigV4 verification on, exactly as the in-process hook sends them; unsigned
requests for the open operations are first rate-limited per client address (UnsignedLimit).

Why gunicorn: its arbiter forks worker processes that each open the SQLite store themselves, so
throughput grows with cores (writers queue on the store's lock; RS512 signing, the main cost,
runs outside any transaction), restarts a worker that dies, bounds request lines and headers,
and stops gracefully. Its asyncio (ASGI) worker reads and writes sockets without blocking, so a
slow or stalled client holds only its own connection. On SIGTERM or SIGINT workers stop
accepting and finish the requests in flight: every write a client saw acknowledged is in the
store.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import logging
import os
import re
import selectors
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, quote, urlsplit

from cogid.local import SERVICES, errors, protocol
from cogid.local.dashboard.pages import KEY_PATTERN, Dashboard, is_dashboard
from cogid.local.dashboard.pages import PREFIX as DASHBOARD_PREFIX
from cogid.local.identity.federation import fetch_json
from cogid.local.identity.pool import ISSUER
from cogid.local.service import STORE_FILE, Service
from cogid.local.signing import ALGORITHM
from cogid.local.wire import shapes, test_idp
from cogid.local.wire.json11 import JSON_CONTENT_TYPE
from cogid.local.wire.request import Reply, Request, escape, is_json
from cogid.local.wire.rest_json import is_rest_json

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8800
MAX_BODY = 1024 * 1024  # far above any Cognito, STS or IAM request; bounds memory per request
# Cognito Sync writes up to a mebibyte per value, which JSON's \uXXXX escapes make ~6.3 MB (S74).
MAX_SYNC_BODY = 8 * 1024 * 1024
OUTBOX_PATH = "/_cogid/cognito-sync/outbox"
DASHBOARD_KEY_VARIABLE = "COGID_DASHBOARD_KEY"  # a fixed key instead of a new one each run
IO_TIMEOUT = 10.0  # seconds a client may take to send a request body
GRACEFUL_TIMEOUT = 10  # seconds workers get to finish requests in flight when stopping
MAX_FETCHES = 32  # documents one request may have fetched (discovery and keys of each issuer)

JWKS_PATH = "/.well-known/jwks_uri"
DISCOVERY_PATH = "/.well-known/openid-configuration"
CORS_EXPOSE = ("Access-Control-Expose-Headers", "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date")
CORS = [("Access-Control-Allow-Origin", "*"), CORS_EXPOSE]
CORS_ALLOWED_HEADERS = (
    "authorization, content-type, x-amz-content-sha256, x-amz-date, x-amz-security-token, x-amz-target,"
    " x-amz-user-agent, amz-sdk-invocation-id, amz-sdk-request"
)


# Unsigned requests for the open operations (botocore's `auth: none`), per client address and
# per worker process: a token bucket of DEFAULT_UNSIGNED_BURST requests refilled at
# DEFAULT_UNSIGNED_RATE a second. A device's sign-in is two or three such calls, so 100/s from one
# address is dozens of sign-ins a second, and a burst of 1,000 lets a test suite make its hundreds
# of guests at full speed; a loop flooding from one address is held to about a tenth of what a
# worker answers (a GetId writes to the store's log: unlimited, such a loop grew it by 41 MB a
# minute). Workers keep their own buckets and a client's connections may land on any of them, so
# the effective limit is up to workers x the rate (and burst). Validly signed requests are never
# limited; requests whose signature fails are refused before the store is written to.
DEFAULT_UNSIGNED_RATE = 100.0
DEFAULT_UNSIGNED_BURST = 1000
MAX_LIMITED_CLIENTS = 10_000  # addresses remembered per worker; the least recently seen go first


# Called for each request just before its reply is sent, with its record: time, client address,
# operation (never a parameter), status and milliseconds. `cogid serve` logs a line with it.
RequestLog = Callable[[dict[str, Any]], None]


def _error(headers: dict[str, str], status: int, code: str, message: str, path: str = "/") -> Reply:
    """An AWS error reply for a request refused before it reaches the protocol, in the format
    its client expects (protocol.handle tells the protocols apart the same way): Query's XML
    only for the root path that protocol serves; JSON for JSON 1.1, Cognito Sync's REST-JSON
    paths and paths no service answers."""
    request_id = str(uuid.uuid4())
    rest = path.partition("?")[0] != "/"
    if rest or is_json(headers):
        body = json.dumps({"__type": code, "message": message}).encode()
        return (
            status,
            [
                ("Content-Type", "application/json" if rest else JSON_CONTENT_TYPE),
                ("x-amzn-RequestId", request_id),
                ("x-amzn-ErrorType", f"{code}:"),
            ],
            body,
        )
    kind = "Receiver" if status >= 500 else "Sender"
    xml = (
        f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>{kind}</Type>'
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()


def _json(document: dict[str, Any]) -> Reply:
    return 200, [("Content-Type", "application/json")], json.dumps(document).encode()


class _Refused(Exception):
    """A request answered with an error before it reaches the protocol."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _too_large(limit: int) -> _Refused:
    return _Refused(413, "RequestEntityTooLarge", f"Request bodies are limited to {limit} bytes.")


class UnsignedLimit:
    """Token buckets, one per client address: `rate` tokens a second up to `burst`; each request
    takes one, and is refused when none is left. Single-threaded, as a worker's event loop is."""

    def __init__(self, rate: float, burst: int, clients: int = MAX_LIMITED_CLIENTS):
        self.rate, self.burst, self.clients = float(rate), float(burst), clients
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when), oldest first

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)  # now the most recent
        if len(self._buckets) > self.clients:
            del self._buckets[next(iter(self._buckets))]
        return allowed


def checked_origin(value: str) -> str:
    """`value` as a CORS origin (`*`, `null`, or SCHEME://HOST[:PORT], without path), lower-cased
    as browsers send it; else ValueError."""
    origin = value.strip().rstrip("/").lower()
    if origin in ("*", "null") or re.fullmatch(r"[a-z][a-z0-9+.-]*://[^/?#@\s]+", origin):
        return origin
    raise ValueError(f"not an origin (SCHEME://HOST[:PORT], or *): {value!r}")


class Endpoint:
    """The ASGI application: one per worker process, with its own Service on the store.

    Reading and writing sockets is asynchronous, so a slow client holds no more than its own
    connection; each request is then answered synchronously, which on one thread per process
    never has the store's lock contended inside a process.
    """

    def __init__(
        self,
        home: Path,
        expose_outbox: bool = False,
        public_url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}",
        unsigned_rate: float = DEFAULT_UNSIGNED_RATE,
        unsigned_burst: int = DEFAULT_UNSIGNED_BURST,
        cors_origins: Sequence[str] = ("*",),
        request_log: RequestLog | None = None,
        dashboard: Dashboard | None = None,
    ):
        self.path = Path(home) / STORE_FILE
        self.request_log = request_log
        self.dashboard = dashboard
        self.recent = dashboard.recent if dashboard is not None else None
        self.expose_outbox = expose_outbox
        self.public_url = public_url.rstrip("/")  # what the discovery document names, never the Host header
        self.limit = UnsignedLimit(unsigned_rate, unsigned_burst) if unsigned_rate > 0 and unsigned_burst > 0 else None
        # None: any origin (`*`); else the origins a browser may call from, each echoed alone.
        self.cors_origins = None if "*" in cors_origins else frozenset(cors_origins)
        self._service: Service | None = None
        self._fetched: dict[str, Any] = {}  # documents fetched for the request being answered

    @property
    def service(self) -> Service:
        # Opened in the worker, after the fork: SQLite connections must not cross processes.
        if self._service is None:
            self._service = Service(self.path, fetch=self._fetched_document)
        return self._service

    def _fetched_document(self, url: str) -> Any:
        """The service's fetch (an OIDC issuer's keys): a document fetched for this request, or
        FetchNeeded, so that the fetch, which can take seconds, never blocks the event loop."""
        if url not in self._fetched:
            if len(self._fetched) >= MAX_FETCHES:
                raise OSError(f"more than {MAX_FETCHES} documents to fetch for one request")
            raise errors.FetchNeeded(url)
        document = self._fetched[url]
        if isinstance(document, Exception):
            raise document
        return document

    async def _answer(self, method: str, scope: dict[str, Any], headers: dict[str, str], body: bytes) -> Reply:
        """respond(), sent again after each document the service asks for has been fetched."""
        fetched: dict[str, Any] = {}
        while True:
            self._fetched = fetched  # other requests may run while this one awaits a fetch
            try:
                return self.respond(method, scope, headers, body)
            except errors.FetchNeeded as needed:
                fetched[needed.url] = await asyncio.to_thread(_fetch_or_error, needed.url)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.service.keys.kid  # noqa: B018 - open the store and load the key before any request
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._service is not None:
                    self._service.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        started = time.monotonic()
        headers = _headers(scope["headers"])
        body = b""
        try:
            method = scope["method"]
            # As protocol.handle tells Cognito Sync's paths apart: by the path as sent, not decoded.
            limit = MAX_SYNC_BODY if is_rest_json(_target(scope)) else MAX_BODY
            body = await _body(headers, receive, limit) if method in ("POST", "PUT") else b""
            self._throttle(method, scope, headers, body)
            status, reply_headers, reply = await self._answer(method, scope, headers, body)
        except _Refused as refused:
            status, reply_headers, reply = self._refused(headers, refused.status, refused.code, refused.message, scope)
        except Exception:  # a bug here must still answer as AWS would, never with a traceback
            log.exception("internal error")
            status, reply_headers, reply = self._refused(
                headers, 500, "InternalFailure", "An internal error occurred.", scope
            )
        # The dashboard's pages are for this server's own origin: no CORS, whatever --cors-origin says.
        board = self._for_dashboard(scope["path"])
        reply_headers = [*reply_headers, *([] if board else self._cors(headers)), ("Content-Length", str(len(reply)))]
        # Logged before the reply goes, so that a client holding its answer finds it in the log, whichever
        # worker it asks next. The dashboard's own pages (and its live page's polling) are not the
        # service's requests.
        if (self.request_log is not None or self.recent is not None) and not board:
            try:  # a log line that cannot be written must not fail the request answered
                self._log(Request(scope["method"], _target(scope), headers, body), scope, status, started)
            except Exception:
                log.exception("request log")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply_headers],
            }
        )
        # HEAD: GET's status and headers, Content-Length included, without the body (RFC 9110).
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else reply})

    def _log(self, request: Request, scope: dict[str, Any], status: int, started: float) -> None:
        client = scope.get("client") or ("-", 0)
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "client": str(client[0]),
            "operation": protocol.operation_name(request),
            "status": status,
            "ms": round((time.monotonic() - started) * 1000, 1),
        }
        if self.request_log is not None:
            self.request_log(record)
        if self.recent is not None:
            self.recent.add(record)

    def _refused(self, headers: dict[str, str], status: int, code: str, message: str, scope: dict[str, Any]) -> Reply:
        """An error reply before any operation or page answered: AWS's, or a dashboard page's."""
        if self.dashboard is not None and self._for_dashboard(scope["path"]):
            return self.dashboard.failed(status, message)
        return _error(headers, status, code, message, scope["path"])

    def _throttle(self, method: str, scope: dict[str, Any], headers: dict[str, str], body: bytes) -> None:
        """Refuse an unsigned request of an open operation past its client address's limit,
        before it reaches the store."""
        if self.limit is None:
            return
        request = Request(method, _target(scope), headers, body)
        code = protocol.throttle_code(request) if method in ("GET", "POST") else None
        client = scope.get("client") or ("", 0)
        if code is not None and not self.limit.allow(str(client[0])):
            raise _Refused(
                400, code, "Rate exceeded: too many unsigned requests from this address (cogid serve --unsigned-rate)."
            )

    def _cors(self, headers: dict[str, str]) -> list[tuple[str, str]]:
        if self.cors_origins is None:
            return CORS
        origin = headers.get("origin", "")
        allowed = [("Access-Control-Allow-Origin", origin)] if origin in self.cors_origins else []
        return [*allowed, CORS_EXPOSE, ("Vary", "Origin")]

    def _for_dashboard(self, path: str) -> bool:
        """Whether the dashboard answers this path: one under /_cogid/ but the service's own
        routes there (the test IdP, the outbox), when the dashboard is on."""
        return (
            self.dashboard is not None and is_dashboard(path) and path != OUTBOX_PATH and not test_idp.is_test_idp(path)
        )

    def respond(self, method: str, scope: dict[str, Any], headers: dict[str, str], body: bytes) -> Reply:
        path = scope["path"]
        if self._for_dashboard(path):
            assert self.dashboard is not None
            query_string = scope.get("query_string", b"").decode("latin-1")
            return self.dashboard.respond(self.service, method, path, query_string, headers, body)
        if method == "OPTIONS":
            return _preflight(headers)
        if method in ("GET", "HEAD") and path == JWKS_PATH:
            return _json(self.service.jwks())
        if method in ("GET", "HEAD") and path == DISCOVERY_PATH:
            return _json(
                {
                    "issuer": ISSUER,
                    "jwks_uri": self.public_url + JWKS_PATH,
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": [ALGORITHM],
                }
            )
        if method == "GET" and path == OUTBOX_PATH and self.expose_outbox:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            entries = self.service.sync.outbox.entries(query.get("kind"), query.get("identityPoolId"))
            return _json({"Entries": entries})
        # Cognito Sync's routes take DELETE too, and say themselves which methods they allow.
        if method not in ("GET", "POST") and not is_rest_json(path):
            status, error_headers, error = _error(
                headers, 405, "MethodNotAllowed", f"The method {method} is not allowed here.", path
            )
            return status, [*error_headers, ("Allow", "GET, POST, OPTIONS")], error  # RFC 9110 §15.5.6
        request = Request(method, _target(scope), headers, body)
        reply = protocol.handle(self.service, request, verify=True)
        return reply.status, list(reply.headers.items()), reply.body


def _fetch_or_error(url: str) -> Any:
    try:
        return fetch_json(url)
    except (OSError, ValueError) as error:
        return error


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _body(headers: dict[str, str], receive: Receive, limit: int = MAX_BODY) -> bytes:
    """The request body, refused past `limit` bytes (before reading it, when its length is
    announced) or when the client takes longer than IO_TIMEOUT to send it."""
    length = headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > limit):
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(IO_TIMEOUT):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Refused(400, "RequestTimeout", "The client went away before sending the request body.")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:  # a chunked body, which announces no length
                    raise _too_large(limit)
                chunks.append(chunk)
                if not message.get("more_body"):
                    return b"".join(chunks)
    except TimeoutError:
        raise _Refused(408, "RequestTimeout", "The request body was not received in time.") from None


def _preflight(headers: dict[str, str]) -> Reply:
    asked = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
    # Echo whatever the page asks to send (Amplify adds cache-control, for one): with origin `*`
    # no credentials ride along, and every request is still checked on its own.
    allowed = ", ".join(asked) if asked else CORS_ALLOWED_HEADERS
    return (
        200,
        [
            ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
            ("Access-Control-Allow-Headers", allowed),
            ("Access-Control-Max-Age", "86400"),
        ],
        b"",
    )


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


def _target(scope: dict[str, Any]) -> str:
    """The path and query as the client sent them: SigV4 signs their exact encoding."""
    path = scope.get("raw_path") or quote(scope["path"]).encode()
    query = scope.get("query_string", b"")
    return (path + b"?" + query if query else path).decode("latin-1")


# -- gunicorn ------------------------------------------------------------------------------


class _FairAcceptLoop(asyncio.SelectorEventLoop):
    """An event loop that accepts one connection per wake-up where asyncio takes up to 100.

    Workers share the listening socket and all wake on a new connection; taking one each, a
    burst of clients spreads over the workers (the idle one takes the next) instead of piling
    onto whichever woke first and leaving the other cores idle for the connections' lifetime.
    """

    def _accept_connection(
        self,
        protocol_factory: Any,
        sock: Any,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
    ) -> None:
        super()._accept_connection(protocol_factory, sock, sslcontext, server, 1, *args)  # type: ignore[misc]


# RFC 9110's token characters, and the bytes a header value may not hold: what gunicorn's
# pure-Python parser checks byte by byte in Python loops (see _worker_class).
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_INVALID_IN_HEADER = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def _worker_class() -> type:
    """gunicorn's ASGI worker, with its parser, connection protocol and signals adjusted.

    Why subclasses of gunicorn's internals rather than its public hooks: gunicorn's hooks
    (on_starting, post_fork, pre_request...) run around requests and processes, and none
    reaches how a connection is read or parsed; `worker_class`, the public setting used here,
    takes a class, and these are the smallest subclasses that fix what the docstrings below
    name. gunicorn is pinned to one major version (pyproject.toml) for this reason, and
    tests/test_hardening_serve.py holds each behaviour.
    """
    from gunicorn.asgi import protocol as asgi_protocol
    from gunicorn.asgi.protocol import ASGIProtocol
    from gunicorn.workers import gasgi

    class Parser(asgi_protocol.PythonProtocol):  # type: ignore[misc]
        """gunicorn's HTTP/1 parser with its per-byte checks as regular expressions: the loops
        cost ~30 us a request (~4% of one), most of it on the Authorization header."""

        def _is_valid_token(self, data: bytes) -> bool:
            return _TOKEN.fullmatch(data) is not None

        def _has_invalid_header_chars(self, value: bytes) -> bool:
            return _INVALID_IN_HEADER.search(value) is not None

    # gunicorn picks its parser class, and tells it apart, by this module-level name.
    asgi_protocol.PythonProtocol = Parser

    class Protocol(ASGIProtocol):  # type: ignore[misc]
        """gunicorn's HTTP/1 connection, with two of its limits made to hold.

        It times out the wait for a request only after the first one: a connection that never
        sends complete headers (a browser's preconnect, a stalled client) would stay open for
        good and hold up every graceful stop. And it bounds what it reads ahead of a request
        only until that request is answered (see _resume_reading).
        """

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self.worker.connections.add(self)
            # gunicorn cancels this timer once a request's headers are in, as for keep-alive.
            self._keepalive_handle = self.worker.loop.call_later(IO_TIMEOUT, self._keepalive_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self.worker.connections.discard(self)
            super().connection_lost(exc)

        def _resume_reading(self) -> None:
            # gunicorn pauses reading once 256 KB wait unanswered, but resumes after every
            # request, so a client pipelining requests (and not reading, or reading slowly) was
            # read without bound: gigabytes held, each request re-copying the backlog. Read
            # more only once what is already pipelined has mostly been answered...
            if self._callback_parser is not None and self._http1_buffered() > self._max_buffer_size // 2:
                return
            super()._resume_reading()

        def _feed_callback_parser(self, data: bytes) -> bool:
            fed: bool = super()._feed_callback_parser(data)
            # ...or when the next request's headers are not all in yet: nothing else would
            # resume reading for them.
            if self._reading_paused and not self._request_ready.is_set():
                super()._resume_reading()
            return fed

    # The worker makes its connections with gasgi's module-level name; only workers of this
    # process (`cogid serve`) use it.
    gasgi.ASGIProtocol = Protocol

    class Worker(gasgi.ASGIWorker):  # type: ignore[misc]
        connections: set[Protocol]

        def _setup_event_loop(self) -> None:
            self.connections = set()
            self.loop = _FairAcceptLoop()
            asyncio.set_event_loop(self.loop)

        async def _shutdown(self) -> None:
            # Connections waiting for a request are closed at once; those with one in flight
            # get the graceful timeout to finish it.
            for connection in list(self.connections):
                if connection._awaiting_request and not connection._request_ready.is_set():
                    connection._keepalive_timeout()
            await super()._shutdown()

        def init_signals(self) -> None:
            super().init_signals()
            # Ctrl-C reaches every process of the group: stop gracefully, as on SIGTERM
            # (gunicorn's own SIGINT drops the requests in flight).
            self.loop.add_signal_handler(signal.SIGINT, self.handle_exit_signal)

    return Worker


def _application(endpoint: Endpoint, options: dict[str, Any]) -> Any:
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

    class GracefulArbiter(Arbiter):  # type: ignore[misc]
        def handle_int(self) -> None:
            raise StopIteration  # like SIGTERM; gunicorn's own SIGINT drops requests in flight

    class Application(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Endpoint:
            return endpoint

        def run(self) -> None:
            GracefulArbiter(self).run()

    return Application()


def _prepare(home: Path) -> None:
    """Work done once, before workers fork: the schema, the signing key (so workers don't race
    to make one), botocore's service models and the SigV4 check's modules (so every worker
    inherits them loaded: imported at a worker's first signed request, botocore.auth held that
    request up ~50-60 ms, in each worker)."""
    from cogid.local.wire import sigv4  # noqa: F401

    service = Service(home / STORE_FILE)
    service.keys.kid  # noqa: B018
    service.store.close()
    for name in SERVICES:
        shapes.service_model(name)


def default_workers() -> int:
    """One worker process per core. Measured with 8 signed clients on 2 cores: 2,340-2,410
    requests/s with 2 workers, 2,040-2,330 with 4 (more switching between processes, and no
    long waits left to fill: checkpoints no longer hold the write lock)."""
    return len(os.sched_getaffinity(0))


def endpoint_url(sock: socket.socket, browsable: bool = False) -> str:
    """The URL of a listening socket; `browsable`: with a wildcard address as the loopback one."""
    host, port = sock.getsockname()[:2]
    if browsable and ipaddress.ip_address(host.partition("%")[0]).is_unspecified:
        host = "::1" if ":" in host else "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def checked_public_url(value: str) -> str:
    """`value` as the service's public URL (an absolute http or https URL, perhaps with a path
    prefix, as a reverse proxy serves it), without a trailing slash; else ValueError."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise ValueError(f"not a URL: {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http or https URL: {value!r}")
    if parts.query or parts.fragment or parts.username is not None:
        raise ValueError(f"a public URL has no query, fragment or user: {value!r}")
    if any(character.isspace() or not character.isprintable() for character in value):
        raise ValueError(f"a URL has no spaces or control characters: {value!r}")
    return value.rstrip("/")


class CannotBind(OSError):
    """The address given to serve cannot be listened on (taken, not this machine's, ...)."""


class BadDashboardKey(ValueError):
    """COGID_DASHBOARD_KEY is set to something that cannot be the dashboard's key."""


class StoreNotWritable(Exception):
    """The store, or its directory, cannot be written, which serving it needs."""


def _not_writable(store: Path, error: Exception) -> StoreNotWritable | None:
    """What to say when preparing `store` failed for want of write permission, else None."""
    denied = isinstance(error, PermissionError) or (isinstance(error, OSError) and error.errno == errno.EROFS)
    if not denied and not (isinstance(error, sqlite3.OperationalError) and "readonly" in str(error)):
        return None
    if store.exists() and not os.access(store, os.W_OK):
        why = f"the file is read-only to this user, and cogid serve writes to it (chmod u+w {store})"
    elif not os.access(store.parent, os.W_OK):
        why = f"its directory is read-only to this user, and SQLite writes its journal there (chmod u+w {store.parent})"
    else:
        why = (error.strerror if isinstance(error, OSError) else None) or str(error).rpartition(": ")[2]
    return StoreNotWritable(f"local store: {store}: permission denied: {why}")


def _is_loopback(listener: socket.socket) -> bool:
    try:
        return ipaddress.ip_address(listener.getsockname()[0].partition("%")[0]).is_loopback
    except ValueError:
        return False


def _reachable_warning(listener: socket.socket) -> str | None:
    """A warning when the bound address is not loopback: other machines can call the service."""
    if _is_loopback(listener):
        return None
    host = listener.getsockname()[0]
    return (
        f"cogid serve: warning: listening on {host}, reachable from the network: anyone who can reach it"
        " may call the open device operations and try developer keys; cogid serve is a development"
        " service (bind 127.0.0.1 unless other machines must reach it)"
    )


def _dashboard_key() -> str:
    """The dashboard's key: COGID_DASHBOARD_KEY's (BadDashboardKey if it cannot be one), else a new one."""
    import secrets

    fixed = os.environ.get(DASHBOARD_KEY_VARIABLE)
    if not fixed:  # unset or empty
        return secrets.token_urlsafe(24)
    if not KEY_PATTERN.fullmatch(fixed):
        raise BadDashboardKey(f"{DASHBOARD_KEY_VARIABLE}: the dashboard's key is 16 to 128 letters, digits, - or _")
    return fixed


def _dashboard(
    listener: socket.socket, public_url: str | None, wanted: bool | None, open_it: bool, key: str
) -> Dashboard | None:
    """The dashboard, made before the workers fork, with its URL (and this run's key) said on
    stderr; or None, and why on stderr when it is off for the address bound."""
    from cogid.local.dashboard.recent import RecentRequests

    loopback = _is_loopback(listener)
    if not (loopback if wanted is None else wanted):
        if wanted is None:
            why = "--open has nothing to open: " if open_it else ""
            sys.stderr.write(f"cogid serve: {why}the dashboard is off on a network address (--dashboard turns it on)\n")
        return None
    host, port = listener.getsockname()[:2]
    public = urlsplit(public_url) if public_url else None
    board = Dashboard(
        [host, public.hostname or ""] if public else [host],
        key,
        RecentRequests(),
        any_address=not loopback,
        cookie=f"cogid_dashboard_{port}",  # cookies are a host's, whatever the port: one a server
        links=(public.path.rstrip("/") if public else "") + DASHBOARD_PREFIX,
    )
    # A wildcard address is no place to browse to: this machine's loopback is.
    address = (public_url or endpoint_url(listener, browsable=True)) + DASHBOARD_PREFIX + f"?key={key}"
    if not loopback:
        sys.stderr.write(
            "cogid serve: warning: the dashboard is on at a network address: whoever has its URL can read"
            " every pool, identity and Sync record\n"
        )
    sys.stderr.write(f"cogid serve: dashboard at {address}\n")
    if open_it:
        # In a process of its own: a thread would still be running when the workers fork, and
        # a console browser, or one slow to start, must not hold up serving.
        subprocess.Popen(
            [sys.executable, "-c", "import sys, webbrowser; webbrowser.open(sys.argv[1])", address],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
    return board


def serve(
    home: Path | str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    out: IO[str] | None = None,
    workers: int | None = None,
    expose_outbox: bool = False,
    public_url: str | None = None,
    unsigned_rate: float = DEFAULT_UNSIGNED_RATE,
    unsigned_burst: int = DEFAULT_UNSIGNED_BURST,
    cors_origins: Sequence[str] = ("*",),
    request_log: RequestLog | None = None,
    dashboard: bool | None = None,
    open_dashboard: bool = False,
) -> None:
    """Serve the local service stored under `home` until SIGINT or SIGTERM.

    Binds first (port 0 picks a free port) and writes the endpoint URL as the first line of
    `out` (default stdout); an address that cannot be bound raises CannotBind at once, a store
    that cannot be written StoreNotWritable. `workers` defaults to one process per core (see
    default_workers). `expose_outbox` answers GET OUTBOX_PATH with Cognito Sync's outbox (off by
    default: it holds every user's data). `public_url` is the URL the discovery document names
    for the JWKS (default: the bound address's URL); the Host header of a request never is.
    Unsigned requests of the open operations are limited per client address and worker to
    `unsigned_rate` a second in bursts of `unsigned_burst` (either 0: no limit); `cors_origins`
    are the origins browsers may call from (`*`: any). `request_log`, if given, is called in the
    worker just before each reply is sent (see RequestLog). `dashboard`: serve the browser dashboard under
    /_cogid/ (None: only when bound to loopback; on another address it shows every user's data
    to whoever reaches it, so it takes asking, and warns); its URL goes to stderr, and
    `open_dashboard` opens it in the user's browser.
    """
    home = Path(home)
    out = out or sys.stdout
    base = checked_public_url(public_url) if public_url is not None else None
    origins = [checked_origin(origin) for origin in cors_origins] or ["*"]
    if unsigned_rate < 0 or unsigned_burst < 0:
        raise ValueError("the unsigned rate and burst are 0 (no limit) or more")
    key = _dashboard_key()  # before binding: a key that cannot be one stops serve at once
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host, port), family=family, backlog=1024)
    except OSError as error:
        raise CannotBind(error.errno, error.strerror or str(error)) from None
    try:
        _prepare(home)
    except Exception as error:
        listener.close()
        refused = _not_writable(home / STORE_FILE, error)
        if refused is not None:
            raise refused from None
        raise
    url = endpoint_url(listener)
    out.write(url + "\n")
    out.flush()
    warning = _reachable_warning(listener)
    if warning is not None:
        sys.stderr.write(warning + "\n")
    board = _dashboard(listener, base, dashboard, open_dashboard, key)
    sys.stderr.flush()
    endpoint = Endpoint(home, expose_outbox, base or url, unsigned_rate, unsigned_burst, origins, request_log, board)
    options = {
        "bind": [f"fd://{listener.detach()}"],  # gunicorn owns the bound socket from here on
        "workers": workers or default_workers(),
        "worker_class": _worker_class(),
        "keepalive": 2,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        # Far longer than the store's bounded wait (COGID_STORE_TIMEOUT, 10 s): a request waiting on a locked store ends
        # with TooManyRequestsException rather than its worker being killed.
        "timeout": 90,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "asgi_lifespan": "on",
        "accesslog": None,  # request lines may carry tokens (a Query GET): never logged
        "errorlog": "-",
        "loglevel": "warning",
        "control_socket_disable": True,
        "proc_name": "cogid-serve",
    }
    # Faults inside the service are logged (to stderr, never with request bodies or tokens);
    # the library stays quiet elsewhere.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s cogid serve %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("cogid.local").addHandler(handler)
    master = os.getpid()
    try:
        _application(endpoint, options).run()
    except SystemExit as stop:
        if os.getpid() != master:
            # A worker ends by SystemExit too: leave now, rather than unwind our caller's frames
            # (and run its clean-up) in a forked copy of it.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(stop.code if isinstance(stop.code, int) else 1)
        if stop.code not in (0, None):
            raise


@contextmanager
def running_server(
    home: Path | str,
    workers: int | None = 1,
    timeout: float = 30.0,
    expose_outbox: bool = False,
    public_url: str | None = None,
    unsigned_rate: float | None = None,
    unsigned_burst: int | None = None,
    cors_origins: Sequence[str] = (),
    dashboard: bool | None = None,
    dashboard_key: str | None = None,
) -> Iterator[str]:
    """Run `serve` for `home` on a free port in a child process; yields its URL.

    `workers` None means default_workers(); the limits None, serve's defaults; `dashboard_key`
    the dashboard's key (COGID_DASHBOARD_KEY) instead of a new one. On exit the server gets
    SIGTERM and is waited for, so its writes are all in the store.
    """
    command = [sys.executable, "-m", "cogid.local.transport.server", str(home), "--port", "0"]
    if workers is not None:
        command += ["--workers", str(workers)]
    if expose_outbox:
        command.append("--expose-outbox")
    if public_url is not None:
        command += ["--public-url", public_url]
    if unsigned_rate is not None:
        command += ["--unsigned-rate", str(unsigned_rate)]
    if unsigned_burst is not None:
        command += ["--unsigned-burst", str(unsigned_burst)]
    for origin in cors_origins:
        command += ["--cors-origin", origin]
    if dashboard is not None:
        command.append("--dashboard" if dashboard else "--no-dashboard")
    env = {**os.environ, DASHBOARD_KEY_VARIABLE: dashboard_key} if dashboard_key else None
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:  # not select(): the caller may hold >1024 fds
            selector.register(process.stdout, selectors.EVENT_READ)
            url = process.stdout.readline().strip() if selector.select(timeout) else ""
        if not url.startswith("http"):
            raise RuntimeError(f"cogid serve did not start (exit code {process.poll()})")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> None:
    """`python -m cogid.local.transport.server HOME`: the server without the CLI (tests, benchmarks)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cogid.local.transport.server", description=main.__doc__)
    parser.add_argument("home", type=Path)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--expose-outbox", action="store_true")

    def url(value: str) -> str:
        try:
            return checked_public_url(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    def origin(value: str) -> str:
        try:
            return checked_origin(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    def at_least_zero(kind: type[float] | type[int]) -> Callable[[str], float]:
        def parse(value: str) -> float:
            number = kind(value)
            if number < 0:
                raise argparse.ArgumentTypeError(f"0 (no limit) or more: {value}")
            return number

        return parse

    parser.add_argument("--public-url", type=url, default=None)
    parser.add_argument("--unsigned-rate", type=at_least_zero(float), default=DEFAULT_UNSIGNED_RATE)
    parser.add_argument("--unsigned-burst", type=at_least_zero(int), default=DEFAULT_UNSIGNED_BURST)
    parser.add_argument("--cors-origin", type=origin, action="append", default=[])
    parser.add_argument("--dashboard", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    serve(
        args.home,
        args.host,
        args.port,
        workers=args.workers,
        expose_outbox=args.expose_outbox,
        public_url=args.public_url,
        unsigned_rate=args.unsigned_rate,
        unsigned_burst=int(args.unsigned_burst),
        cors_origins=args.cors_origin,
        dashboard=args.dashboard,
    )


if __name__ == "__main__":
    main()
