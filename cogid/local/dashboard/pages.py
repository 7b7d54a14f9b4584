"""The dashboard's HTTP side: routes under /_cogid/, Jinja2 templates, and the guards a page
served from loopback needs against other local users and the web pages of the same browser.

- A key, made for each run of `cogid serve` and carried in the URL it prints, is required:
  `?key=` is swapped for an HttpOnly, SameSite cookie (and a redirect to the URL without it),
  which every later request must carry. Other users of the machine can reach the port, not
  the key.
- Nothing here changes state: the token inspector's POST only reads (a token pasted in a form
  is kept out of URLs, history and the request log), so no page needs a CSRF token.
- Replies carry no CORS headers, so another site's script cannot read a page, and a request
  whose Host is not this server's names is refused, so a DNS name rebound to 127.0.0.1 cannot
  either; requests a browser marks cross-site are refused unless they are a link followed.
- Every value is escaped by Jinja2's autoescaping; the Content-Security-Policy allows scripts
  and styles from this server only (no inline script), and no framing.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import socket
from collections.abc import Callable, Iterable
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode

from cogid.local.dashboard import views
from cogid.local.dashboard.recent import RecentRequests
from cogid.local.wire.request import Reply

if TYPE_CHECKING:
    from cogid.local.service import Service

PREFIX = "/_cogid/"
HERE = Path(__file__).parent
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
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
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")


def is_dashboard(path: str) -> bool:
    return path == PREFIX.rstrip("/") or path.startswith(PREFIX)


def _number(text: str) -> int:
    """A page position from a URL (`after=`): digits that SQLite's integers hold, else 0."""
    return int(text) if re.fullmatch(r"[0-9]{1,18}", text) else 0


class Dashboard:
    """The pages, rendered for the service of the worker that answers.

    Made once, before the workers fork: templates are compiled then, and `recent` (the shared
    request log) must exist before the fork to be shared. `key` is this run's (see above);
    `cookie` names the cookie that carries it (one a port: cookies are shared across ports);
    `links` is the path links start with (PREFIX, under a proxy's path prefix if any).
    """

    def __init__(
        self,
        hosts: Iterable[str],
        key: str,
        recent: RecentRequests | None = None,
        any_address: bool = False,
        cookie: str = "cogid_dashboard",
        links: str = PREFIX,
    ):
        import jinja2

        if not KEY_PATTERN.fullmatch(key):
            raise ValueError("the dashboard's key is 16 to 128 letters, digits, - or _")
        self.key, self.cookie, self.links, self.recent = key, cookie, links, recent
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

    def _holds_key(self, headers: dict[str, str]) -> bool:
        try:
            morsel = SimpleCookie(headers.get("cookie", "")).get(self.cookie)
        except CookieError:
            return False
        return morsel is not None and hmac.compare_digest(morsel.value.encode(), self.key.encode())

    def _key_given(self, path: str, params: dict[str, str]) -> Reply:
        """A visit to the URL `cogid serve` printed: the key becomes a cookie, and the browser
        goes on to the same page without the key in its address (or history)."""
        if not hmac.compare_digest(params["key"].encode(), self.key.encode()):
            return self._page(403, "refused.html", why="That is not this run's key: open the URL cogid serve printed.")
        rest = urlencode({name: value for name, value in params.items() if name != "key"})
        location = self.links + path.removeprefix(PREFIX.rstrip("/")).lstrip("/") + (f"?{rest}" if rest else "")
        cookie = f"{self.cookie}={self.key}; Path={self.links}; HttpOnly; SameSite=Lax"
        return 303, [("Location", location), ("Set-Cookie", cookie), ("Cache-Control", "no-store")], b""

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
        if parts[:1] != ["static"]:  # a stylesheet and a script: nothing of the store
            if method in ("GET", "HEAD") and "key" in params:
                return self._key_given(path, params)
            if not self._holds_key(headers):
                return self._page(
                    403,
                    "refused.html",
                    why="This dashboard needs the key of this run of cogid serve: open the URL it printed"
                    " on stderr (…/_cogid/?key=…), or run cogid serve --open.",
                )
        if method == "POST" and parts == ["token"]:
            return self._inspected(service, body)
        if method not in ("GET", "HEAD"):
            allowed = "GET, HEAD, POST" if parts == ["token"] else "GET, HEAD"
            reply = self._page(405, "refused.html", why=f"The method {method} is not allowed here.")
            return reply[0], [*reply[1], ("Allow", allowed)], reply[2]
        handler = self._route(parts)
        if handler is None:
            return self._not_found(f"No dashboard page at {path}.")
        return handler(service, params)

    def _inspected(self, service: Service, body: bytes) -> Reply:
        if len(body) > MAX_FORM:
            result: dict[str, Any] = {"error": f"over {MAX_FORM // 1024} KB, far longer than any Cognito token"}
        else:
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            result = views.inspect_token(service, form.get("token", [""])[-1])
        return self._page(200, "token.html", pasted=True, result=result)

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
        page = views.identities(service, pool_id, query, _number(params.get("after", "")))
        return self._found("identities.html", "page", page, pool_id)

    def _recent(self, after: int) -> list[dict[str, Any]]:
        return self.recent.since(after) if self.recent is not None else []

    def _requests_json(self, params: dict[str, str]) -> Reply:
        records = self._recent(_number(params.get("after", "")))
        # `last`: the newest record's number, which a restarted server's is below (its page starts over).
        last = self.recent.last() if self.recent is not None else 0
        body = json.dumps({"requests": records, "last": last}).encode()
        return 200, [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *SECURITY_HEADERS], body

    # -- replies ---------------------------------------------------------------------------

    def _found(self, template: str, name: str, value: dict[str, Any] | None, wanted: str) -> Reply:
        if value is None:
            return self._not_found(f"Nothing here is called {wanted}: it was never made, or was deleted.")
        return self._page(200, template, **{name: value})

    def failed(self, status: int, why: str) -> Reply:
        """The page for a request the server refused or failed before any page answered it
        (a body too large or too slow, an internal error): HTML, as the page that asked expects."""
        return self._page(status, "refused.html", title="Server error" if status >= 500 else "Refused", why=why)

    def _not_found(self, why: str) -> Reply:
        return self._page(404, "not_found.html", why=why)

    def _page(self, status: int, template: str, **values: Any) -> Reply:
        html = self.templates.get_template(template).render(prefix=self.links, **values)
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"), *SECURITY_HEADERS]
        return status, headers, html.encode()

    def _static(self, name: str) -> Reply:
        kind = STATIC_TYPES[Path(name).suffix]
        return 200, [("Content-Type", kind), ("Cache-Control", "max-age=300"), *SECURITY_HEADERS], self.static[name]
