"""The dashboard's HTTP side: routes under /_cogid/, Jinja2 templates, and the guards a page
served from loopback needs against the web pages of the same browser.

- Nothing here changes state: the token inspector's POST only reads (a token pasted in a form
  is kept out of URLs, history and the request log), so no page needs a CSRF token.
- Replies carry no CORS headers, so another site's script cannot read a page, and a request
  whose Host is not this server's names is refused, so a DNS name rebound to 127.0.0.1 cannot
  either; requests a browser marks cross-site are refused unless they are a link followed.
- Every value is escaped by Jinja2's autoescaping; the Content-Security-Policy allows scripts
  and styles from this server only (no inline script), and no framing.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from cogid.local.dashboard import views
from cogid.local.dashboard.recent import RecentRequests

if TYPE_CHECKING:
    from cogid.local.service import Service

PREFIX = "/_cogid/"
HERE = Path(__file__).parent
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
]
MAX_FORM = 64 * 1024  # a pasted token is a few kilobytes

Reply = tuple[int, list[tuple[str, str]], bytes]


def is_dashboard(path: str) -> bool:
    return path == PREFIX.rstrip("/") or path.startswith(PREFIX)


LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class Dashboard:
    """The pages, rendered for the service of the worker that answers.

    Made once, before the workers fork: templates are compiled then, and `recent` (the shared
    request log) must exist before the fork to be shared.
    """

    def __init__(self, hosts: Iterable[str], recent: RecentRequests | None = None, any_address: bool = False):
        import jinja2

        self.recent = recent
        # Host names a request may be addressed to; with `any_address` (bound to a wildcard or
        # network address, --dashboard given) IP literals and this machine's names too.
        self.hosts = {host.lower().strip("[]") for host in hosts} | LOOPBACK_NAMES
        if any_address:
            self.hosts |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        self.any_address = any_address
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["url"] = lambda value: quote(str(value), safe="")
        for name in self.templates.list_templates():
            self.templates.get_template(name)  # compiled now, once, not in each worker
        self.static = {
            path.name: path.read_bytes() for path in (HERE / "static").iterdir() if path.suffix in STATIC_TYPES
        }

    # -- guards ----------------------------------------------------------------------------

    def _host_allowed(self, host_header: str) -> bool:
        host = host_header.strip().lower()  # NAME, NAME:PORT, [IPV6] or [IPV6]:PORT
        name = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
        if name in self.hosts:
            return True
        if not self.any_address:
            return False
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    def _refusal(self, method: str, headers: dict[str, str]) -> Reply | None:
        if not self._host_allowed(headers.get("host", "")):
            return self._page(
                403,
                "refused.html",
                why="This dashboard answers only requests addressed to this server's own names"
                " (a page of another site, reaching it through a DNS name, may not).",
            )
        if headers.get("sec-fetch-site") == "cross-site" and not (
            method in ("GET", "HEAD") and headers.get("sec-fetch-mode") == "navigate"
        ):
            return self._page(403, "refused.html", why="Another site's page may not call this dashboard.")
        return None

    # -- routing ---------------------------------------------------------------------------

    def respond(
        self, service: Service, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Reply:
        refused = self._refusal(method, headers)
        if refused is not None:
            return refused
        route = path.removeprefix(PREFIX.rstrip("/")).strip("/")
        parts = route.split("/") if route else []
        params = {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}
        if method == "POST" and parts == ["token"]:
            form = parse_qs(body[:MAX_FORM].decode("utf-8", "replace"), keep_blank_values=True)
            return self._page(
                200, "token.html", pasted=True, result=views.inspect_token(service, form.get("token", [""])[-1])
            )
        if method not in ("GET", "HEAD"):
            reply = self._page(405, "refused.html", why=f"The method {method} is not allowed here.")
            return reply[0], [*reply[1], ("Allow", "GET, HEAD")], reply[2]
        handler = self._route(parts)
        if handler is None:
            return self._not_found(f"No dashboard page at {path}.")
        return handler(service, params)

    def _route(self, parts: list[str]) -> Callable[[Service, dict[str, str]], Reply] | None:
        match parts:
            case []:
                return lambda service, _: self._page(200, "pools.html", **views.pools(service))
            case ["pools", pool_id]:
                return lambda service, _: self._found("pool.html", "pool", views.pool(service, pool_id), pool_id)
            case ["pools", pool_id, "identities"]:
                return lambda service, params: self._identities(service, pool_id, params)
            case ["identities", identity_id]:
                return lambda service, _: self._found(
                    "identity.html", "identity", views.identity(service, identity_id), identity_id
                )
            case ["token"]:
                return lambda service, _: self._page(200, "token.html", pasted=False, result=None)
            case ["outbox"]:
                return lambda service, _: self._page(200, "outbox.html", **views.outbox(service))
            case ["requests"]:
                return lambda service, _: self._page(
                    200, "requests.html", requests=self._recent(0), live=self.recent is not None
                )
            case ["requests.json"]:
                return lambda service, params: self._requests_json(params)
            case ["static", name] if name in self.static:
                return lambda service, _: self._static(name)
        return None

    def _identities(self, service: Service, pool_id: str, params: dict[str, str]) -> Reply:
        query = params.get("q", "").strip()[: views.MAX_QUERY]
        after = params.get("after", "0")
        page = views.identities(service, pool_id, query, int(after) if after.isdigit() else 0)
        return self._found("identities.html", "page", page, pool_id)

    def _recent(self, after: int) -> list[dict[str, Any]]:
        return self.recent.since(after) if self.recent is not None else []

    def _requests_json(self, params: dict[str, str]) -> Reply:
        after = params.get("after", "0")
        body = json.dumps({"requests": self._recent(int(after) if after.isdigit() else 0)}).encode()
        return 200, [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *SECURITY_HEADERS], body

    # -- replies ---------------------------------------------------------------------------

    def _found(self, template: str, name: str, value: dict[str, Any] | None, wanted: str) -> Reply:
        if value is None:
            return self._not_found(f"Nothing here is called {wanted}: it was never made, or was deleted.")
        return self._page(200, template, **{name: value})

    def _not_found(self, why: str) -> Reply:
        return self._page(404, "not_found.html", why=why)

    def _page(self, status: int, template: str, **values: Any) -> Reply:
        html = self.templates.get_template(template).render(prefix=PREFIX, **values)
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"), *SECURITY_HEADERS]
        return status, headers, html.encode()

    def _static(self, name: str) -> Reply:
        kind = STATIC_TYPES[Path(name).suffix]
        return 200, [("Content-Type", kind), ("Cache-Control", "max-age=300"), *SECURITY_HEADERS], self.static[name]
