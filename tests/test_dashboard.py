"""Issue 19: `cogid serve`'s dashboard over HTTP: what each page shows, search and paging, bad
URLs and tokens, escaping, secrets, and the guards against other sites and other addresses.
The same pages in a real browser: tests/test_dashboard_browser.py."""

import html
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest
from dashboard_site import KEY, SCRIPT, USERS, XSS, fetch, links


def page(site, path, **headers):
    status, _, text = site.get(path, **headers)
    assert status == 200, (path, status, text[:300])
    return text


def quoted(value):
    return urllib.parse.quote(value, safe="")


def test_the_pools_page_counts_each_pools_identities(site):
    text = page(site, "")
    row = re.search(rf"<tr>\s*<td><a href=\"/_cogid/pools/{re.escape(quoted(site.pool))}\">sync</a>.*?</tr>", text, re.S)
    assert row, text
    assert re.findall(r'<td class="n"><a [^>]*>(\d+)', row.group(0)) == [str(USERS + 2)]


def test_a_pool_shows_its_providers_roles_trust_and_sync_settings(site):
    text = page(site, f"pools/{quoted(site.pool)}")
    assert site.world.provider in text and "graph.facebook.com" in text and "1234567890" in text
    assert text.count("trusts this pool&#39;s") == 2  # both roles' trust policies let the pool's identities in
    assert "shop-stream" in text and "arn:aws:sns:us-east-1:000000000000:app/GCM/shop" in text
    assert "1 datasets" in text
    assert f"{USERS + 2}</a>:\n    {USERS + 1} authenticated, 1 guests, 0 disabled" in text


def test_identities_are_paged_in_creation_order(site):
    first = page(site, f"pools/{quoted(site.pool)}/identities")
    ids = re.findall(r'href="/_cogid/identities/([^"]+)"', first)
    assert len(ids) == 100 and urllib.parse.unquote(ids[0]) == site.alice
    (next_link,) = re.findall(r'<a rel="next" href="([^"]+)"', first)
    second = page(site, f"pools/{quoted(site.pool)}/identities{html.unescape(next_link)}")
    rest = re.findall(r'href="/_cogid/identities/([^"]+)"', second)
    assert len(rest) == USERS + 2 - 100 and not set(rest) & set(ids)
    assert 'rel="next"' not in second
    assert urllib.parse.unquote(rest[-1]) == site.users[-1]
    assert f"Identities 1–100 of {USERS + 2}, oldest first</p>" in first
    assert f"Identities 101–{USERS + 2} of {USERS + 2}, oldest first · <a href=" in second and "First page" in second


@pytest.mark.parametrize("after", ["%C2%B2", "9" * 5000, "99999999999999999999999", "-5", "abc", ""])
def test_a_page_position_that_is_not_one_starts_at_the_beginning(site, after):
    text = page(site, f"pools/{quoted(site.pool)}/identities?after={after}")
    assert "Identities 1–100 of" in text
    status, _, body = site.get(f"requests.json?after={after}")
    assert status == 200 and body.startswith('{"requests": [')


def test_a_short_identity_id_start_matches_no_id(site):
    # "us-east-1:" starts every id of the region: searched only from 4 characters past the colon.
    for query in ("us-east-1:", "us-east-1:" + site.users[3].split(":")[1][:3]):
        assert "No identity's id or login starts with" in page(site, f"pools/{quoted(site.pool)}/identities?q={query}")
    query = site.users[3][:14]
    found = re.findall(r'href="/_cogid/identities/([^"]+)"', page(site, f"pools/{quoted(site.pool)}/identities?q={query}"))
    assert quoted(site.users[3]) in found


@pytest.mark.parametrize(
    "query, expected",
    [
        ("alice", "alice"),  # a developer user id
        ("fb-al", "alice"),  # the start of a linked login's subject
        ("user-14", "user-14x"),  # a prefix: user-140 to user-149
        ("identity", "identity"),  # an identity id, whole
    ],
)
def test_search_finds_identities_by_user_id_login_or_identity_id(site, query, expected):
    if expected == "identity":
        query, wanted = site.users[7], [site.users[7]]
    elif expected == "alice":
        wanted = [site.alice]
    else:
        wanted = site.users[140:150]
    text = page(site, f"pools/{quoted(site.pool)}/identities?q={quoted(query)}")
    found = [urllib.parse.unquote(i) for i in re.findall(r'href="/_cogid/identities/([^"]+)"', text)]
    assert found == wanted
    assert f'value="{query}"' in text


def test_a_search_that_matches_nothing_says_so(site):
    text = page(site, f"pools/{quoted(site.pool)}/identities?q=nobody")
    assert "No identity's id or login starts with <code>nobody</code>" in text


def test_an_identity_shows_its_logins_datasets_records_and_devices(site):
    text = page(site, f"identities/{quoted(site.alice)}")
    assert "<dd>authenticated</dd>" in text and '<dd class="ok">yes</dd>' in text
    assert "<code>alice</code>" in text and "graph.facebook.com: <code>fb-alice</code>" in text
    assert "<h3>settings</h3>" in text and "sync count 2" in text and "3 records" in text
    assert "<pre>light</pre>" in text
    assert site.device in text and "GCM" in text and "…abcdef" in text
    guest = page(site, f"identities/{quoted(site.guest)}")
    assert "guest (unauthenticated)" in guest and "No datasets." in guest


def test_store_values_are_escaped_never_markup(site):
    text = page(site, f"identities/{quoted(site.alice)}")
    assert html.escape(XSS, quote=True) in text and html.escape(SCRIPT, quote=True) in text
    assert XSS not in text and SCRIPT not in text


def test_the_outbox_shows_push_and_stream_entries_newest_first(site):
    text = page(site, "outbox")
    kinds = re.findall(r'<td class="n">\d+</td>\s*<td>(\w+)</td>', text)
    assert set(kinds) == {"push", "stream"} and kinds[0] == "stream"  # the last write's stream entry came last
    assert "…abcdef" in text and site.alice in text


def test_no_page_holds_a_secret(site):
    seen, queue, pages = set(), [""], {}
    while queue and len(pages) < 60:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        text = page(site, path)
        pages[path] = text
        queue += [link.removeprefix("/_cogid/") for link in links(text) if "/static/" not in link]
    pages["token"] = site.get("token", data=urllib.parse.urlencode({"token": site.token}).encode())[2]
    pages["requests.json"] = site.get("requests.json")[2]
    assert len(pages) > 8, sorted(pages)
    for path, text in pages.items():
        for name, secret in site.secrets.items():
            assert secret not in text, f"{name} in /_cogid/{path}"


def test_unknown_pools_and_identities_get_a_404_page_with_a_way_back(site):
    for path in ("pools/us-east-1%3Anope", "identities/us-east-1%3Anope", "pools/x/identities", "nothing/here"):
        status, headers, text = site.get(path)
        assert status == 404 and headers["content-type"].startswith("text/html")
        assert '<a href="/_cogid/">Back to the identity pools</a>' in text


def test_the_inspector_verifies_a_token_and_explains_its_claims(site):
    status, _, text = site.get("token", data=urllib.parse.urlencode({"token": site.token}).encode())
    assert status == 200
    assert "signature verified against this service&#39;s JWKS" in text
    assert f'href="/_cogid/identities/{quoted(site.alice)}"' in text and "The identity pool id" in text
    assert "authenticated" in text and site.token not in text


@pytest.mark.parametrize(
    "token, says",
    [
        ("not a token", "Not a token: not a JWT"),
        ("eyJhbGciOiJSUzUxMiJ9.e30.c2ln", "algorithm"),  # decodes, but is not one of this service's
        ("", "Not a token"),
    ],
)
def test_the_inspector_says_what_is_wrong_with_a_bad_token(site, token, says):
    status, _, text = site.get("token", data=urllib.parse.urlencode({"token": token}).encode())
    assert status == 200 and says in html.unescape(text)
    assert 'class="bad"' in text


def test_a_token_signed_by_another_key_is_not_verified(site, tmp_path):
    import cogid.local

    other = tmp_path / "other"
    pool = cogid.local.client("cognito-identity", home=other).create_identity_pool(
        IdentityPoolName="other", AllowUnauthenticatedIdentities=False, DeveloperProviderName="dev.other"
    )
    token = cogid.local.client("cognito-identity", home=other).get_open_id_token_for_developer_identity(
        IdentityPoolId=pool["IdentityPoolId"], Logins={"dev.other": "mallory"}
    )["Token"]
    text = site.get("token", data=urllib.parse.urlencode({"token": token}).encode())[2]
    assert 'id="token-verdict">token verification failed: ' in text and "signature verified" not in text


def test_recent_requests_are_the_services_not_the_dashboards_own(site):
    fetch(site.url + "/.well-known/jwks_uri")
    status, headers, body = site.get("requests.json")

    requests = json.loads(body)["requests"]
    assert status == 200 and headers["content-type"] == "application/json"
    assert requests[0]["operation"] == "GET /.well-known/jwks_uri"
    assert not [r for r in requests if r["operation"].startswith("GET /_cogid/")]
    newer = json.loads(site.get(f"requests.json?after={requests[0]['seq']}")[2])
    assert newer == {"requests": [], "last": requests[0]["seq"]}  # `last`: a restarted server's is lower
    assert "GET /.well-known/jwks_uri" in page(site, "requests")


def test_pages_refuse_other_sites_and_rebound_names(site):
    assert site.get("", Host="attacker.example:80")[0] == 403  # DNS rebinding: a name not the server's
    assert site.get("", Host=f"localhost:{urllib.parse.urlsplit(site.url).port}")[0] == 200
    assert site.get("requests.json", **{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"})[0] == 403
    # A link followed from another site is a navigation, and allowed.
    assert site.get("", **{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})[0] == 200
    status, headers, _ = site.get("", Origin="https://attacker.example")
    assert status == 200 and not [name for name in headers if name.startswith("access-control-")]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (
        fetch(site.url + "/.well-known/jwks_uri", Origin="https://attacker.example")[1]["access-control-allow-origin"]
        == "*"
    )  # the service's own routes keep their CORS


def test_only_the_inspector_takes_a_post(site):
    status, headers, _ = site.get("", data=b"x=1")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    status, headers, _ = site.get("token", method="PUT")
    assert status == 405 and headers["allow"] == "GET, HEAD, POST"


def test_a_page_needs_this_runs_key(site):
    for headers in ({}, {"Cookie": "cogid_dashboard_1=" + KEY}, {"Cookie": site.cookie["Cookie"][:-1] + "x"}):
        status, _, text = fetch(site.board + "outbox", **headers)
        assert status == 403 and "open the URL it printed on stderr" in text
    assert fetch(site.board + "?key=not-this-runs-key-at-all")[0] == 403
    status, _, text = fetch(site.board + "static/dashboard.css")  # nothing of the store: no key needed
    assert status == 200 and "font" in text


def test_the_printed_url_trades_its_key_for_a_cookie(site):
    status, headers, _ = fetch(site.board + f"pools/x/identities?q=al&key={KEY}")
    assert status == 303 and headers["location"] == "/_cogid/pools/x/identities?q=al"  # the key leaves the URL
    cookie = headers["set-cookie"]
    assert cookie.startswith(site.cookie["Cookie"] + ";")
    assert {"HttpOnly", "SameSite=Lax", "Path=/_cogid/"} <= {part.strip() for part in cookie.split(";")}


def test_the_services_own_routes_under_cogid_keep_cors_and_the_request_log(site):
    status, headers, _ = fetch(site.board + "cognito-sync/outbox", Origin="https://app.example")
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    operations = [r["operation"] for r in json.loads(site.get("requests.json")[2])["requests"]]
    assert operations[0] == "GET /_cogid/cognito-sync/outbox"


def test_a_request_answered_is_already_in_the_log(site):
    """Whichever worker answers the next request: the log is written before the reply is sent."""
    for n in range(150):
        marker = f"/answered-{n}-{time.monotonic_ns()}"
        assert fetch(site.url + marker)[0] == 404
        operations = [r["operation"] for r in json.loads(site.get("requests.json")[2])["requests"]]
        assert f"GET {marker}" in operations, n


def serve(home, *args, browser=None):
    """`cogid serve ARGS` (with the dashboard key KEY); the process and its URL."""
    env = {**os.environ, "COGID_HOME": str(home), "COGID_DASHBOARD_KEY": KEY}
    if browser:
        env["BROWSER"] = browser
    process = subprocess.Popen(
        [sys.executable, "-m", "cogid", "serve", "--port", "0", "--workers", "1", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = process.stdout.readline().strip()
    return process, url


def stop(process):
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=30)[1]


def keyed(url):
    return {"Cookie": f"cogid_dashboard_{urllib.parse.urlsplit(url).port}={KEY}"}


def test_the_dashboard_url_is_said_on_stderr_and_open_opens_it(tmp_path):
    opened = tmp_path / "opened"
    script = tmp_path / "browser.py"
    script.write_text(f"import sys, pathlib; pathlib.Path({str(opened)!r}).write_text(sys.argv[1])\n")
    process, url = serve(tmp_path / "home", "--open", "--quiet", browser=f"{sys.executable} {script} %s")
    try:
        for _ in range(100):
            if opened.exists() and opened.read_text():
                break
            subprocess.run(["sleep", "0.1"])
        assert opened.read_text() == f"{url}/_cogid/?key={KEY}"
        assert fetch(url + "/_cogid/", **keyed(url))[0] == 200
    finally:
        stderr = stop(process)
    assert f"cogid serve: dashboard at {url}/_cogid/?key={KEY}" in stderr.splitlines()


def test_the_dashboards_own_requests_are_not_logged(tmp_path):
    process, url = serve(tmp_path / "home")
    try:
        for path in ("", "requests.json", "static/dashboard.js", "nothing"):
            fetch(f"{url}/_cogid/{path}", **keyed(url))
        fetch(url + "/.well-known/jwks_uri")
    finally:
        lines = stop(process).splitlines()
    assert lines[0].startswith("cogid serve: dashboard at ") and len(lines) == 2
    assert lines[1].endswith(" GET /.well-known/jwks_uri 200 " + lines[1].rsplit(" ", 1)[1])


def test_on_a_network_address_the_dashboard_is_off_unless_asked_for(tmp_path):
    process, url = serve(tmp_path / "home", "--host", "0.0.0.0", "--quiet", "--open")
    local = f"http://127.0.0.1:{urllib.parse.urlsplit(url).port}"
    try:
        status, headers, _ = fetch(local + "/_cogid/", **keyed(url))
        assert status == 404 and headers["content-type"].startswith("application/json")  # no such route
    finally:
        stderr = stop(process)
    assert "--open has nothing to open: the dashboard is off on a network address (--dashboard turns it on)" in stderr
    process, url = serve(tmp_path / "home", "--host", "0.0.0.0", "--quiet", "--dashboard")
    local = f"http://127.0.0.1:{urllib.parse.urlsplit(url).port}"
    try:
        assert fetch(local + "/_cogid/", **keyed(url))[0] == 200
    finally:
        stderr = stop(process)
    assert "warning: the dashboard is on at a network address" in stderr
    assert f"dashboard at {local}/_cogid/?key={KEY}" in stderr  # where a browser can go, not 0.0.0.0


def test_a_malformed_dashboard_key_is_refused_before_serving(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cogid", "serve", "--port", "0"], capture_output=True, text=True,
                          env={**os.environ, "COGID_HOME": str(tmp_path), "COGID_DASHBOARD_KEY": "short"}, timeout=30)
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.strip().endswith("COGID_DASHBOARD_KEY: the dashboard's key is 16 to 128 letters, digits, - or _")


def test_open_without_a_dashboard_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cogid", "serve", "--no-dashboard", "--open"],
        env={**os.environ, "COGID_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (
        result.returncode == 2
        and result.stderr.strip() == "cogid: error: --open: the dashboard is off (--no-dashboard)"
    )


def test_the_request_log_is_shared_by_forked_workers_and_keeps_the_newest():
    from cogid.local.dashboard.recent import RecentRequests

    ring = RecentRequests(slots=50)
    children = []
    for worker in range(2):
        pid = os.fork()
        if pid == 0:  # a worker of cogid serve, as gunicorn forks them
            for n in range(40):
                ring.add({"operation": f"w{worker}-{n}-" + "é" * 300, "status": 200})  # cut to fit its slot
            os._exit(0)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    ring.add({"operation": "parent", "status": 200})
    newest = ring.since()
    assert [r["seq"] for r in newest] == list(range(81, 31, -1))  # the last 50 of 81, newest first
    assert newest[0]["operation"] == "parent" and len({r["operation"][:8] for r in newest}) == 50
    assert [r["seq"] for r in ring.since(after=78)] == [81, 80, 79]


def test_long_lists_and_long_values_are_cut_with_a_note(local_world, monkeypatch):
    from sync_world import sync

    from cogid.local.dashboard import views
    from cogid.local.dashboard.pages import Dashboard
    from cogid.local.service import open_service

    world = local_world
    pools = [world.pool() for _ in range(3)]
    alice = world.user(pools[-1], "alice")  # of the last pool made: its developer provider is the world's
    sync(world.sync, pools[-1], alice, "big", {"k": ("x" * 5000, 0)})
    monkeypatch.setattr(views, "POOLS_SHOWN", 2)
    board = Dashboard(["127.0.0.1"], KEY)
    headers = {"host": "127.0.0.1:1", "cookie": f"cogid_dashboard={KEY}"}

    def get(path):
        status, _, body = board.respond(open_service(world.home), "GET", path, "", headers, b"")
        assert status == 200
        return body.decode()

    assert "The first 2 of 3 pools." in get("/_cogid/")
    text = get(f"/_cogid/identities/{alice}")
    assert "x" * 4096 + "… (904 more characters: cogid sync get shows them all)" in text
    assert "x" * 4097 not in text


def test_behind_a_proxys_path_prefix_links_carry_the_prefix(tmp_path):
    from cogid.local.transport.server import running_server

    with running_server(tmp_path, public_url="https://proxy.example/cognito", dashboard_key=KEY) as url:
        status, headers, _ = fetch(f"{url}/_cogid/outbox?key={KEY}")  # the proxy strips its prefix
        assert status == 303 and headers["location"] == "/cognito/_cogid/outbox"
        assert "Path=/cognito/_cogid/;" in headers["set-cookie"]
        status, _, text = fetch(f"{url}/_cogid/outbox", **keyed(url))
        assert status == 200 and 'href="/cognito/_cogid/token"' in text and 'href="/_cogid/' not in text


def test_a_body_the_server_refuses_gets_a_page_not_aws_json(site):
    # Refused on the length announced, before the body is read (the body sent stays small, so the
    # server closing on a client still sending cannot make this test flaky).
    too_long = {"Content-Length": str(2 * 1024 * 1024)}
    status, headers, text = site.get("token", data=b"token=x", **too_long)
    assert status == 413 and headers["content-type"].startswith("text/html")
    assert "<h1>Refused</h1>" in text and "Request bodies are limited to 1048576 bytes." in text
    status, headers, _ = fetch(site.url + "/", data=b"x", **too_long)  # the service's own: AWS's error
    assert status == 413 and not headers["content-type"].startswith("text/html")
