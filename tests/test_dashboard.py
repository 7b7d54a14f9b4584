"""Issue 19: `cogid serve`'s dashboard over HTTP: what each page shows, search and paging, bad
URLs and tokens, escaping, secrets, and the guards against other sites and other addresses.
The same pages in a real browser: tests/test_dashboard_browser.py."""

import html
import os
import re
import signal
import subprocess
import sys
import urllib.parse

import pytest
from dashboard_site import SCRIPT, USERS, XSS, fetch, links


def page(site, path, **headers):
    status, _, text = fetch(site.board + path, **headers)
    assert status == 200, (path, status, text[:300])
    return text


def quoted(value):
    return urllib.parse.quote(value, safe="")


def test_the_pools_page_counts_each_pools_identities(site):
    text = page(site, "")
    row = re.search(
        rf"<tr>\s*<td><a href=\"/_cogid/pools/{re.escape(quoted(site.pool))}\">sync</a>.*?</tr>", text, re.S
    )
    assert row, text
    numbers = re.findall(r'<td class="n">(?:<a [^>]*>)?(\d+)', row.group(0))
    assert numbers == [str(USERS + 2), str(USERS + 1), "1", "0"]  # identities, authenticated, guests, disabled


def test_a_pool_shows_its_providers_roles_trust_and_sync_settings(site):
    text = page(site, f"pools/{quoted(site.pool)}")
    assert site.world.provider in text and "graph.facebook.com" in text and "1234567890" in text
    assert text.count("trusts this pool&#39;s") == 2  # both roles' trust policies let the pool's identities in
    assert "shop-stream" in text and "arn:aws:sns:us-east-1:000000000000:app/GCM/shop" in text
    assert "1 datasets" in text


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
    pages["token"] = fetch(site.board + "token", data=urllib.parse.urlencode({"token": site.token}).encode())[2]
    pages["requests.json"] = fetch(site.board + "requests.json")[2]
    assert len(pages) > 8, sorted(pages)
    for path, text in pages.items():
        for name, secret in site.secrets.items():
            assert secret not in text, f"{name} in /_cogid/{path}"


def test_unknown_pools_and_identities_get_a_404_page_with_a_way_back(site):
    for path in ("pools/us-east-1%3Anope", "identities/us-east-1%3Anope", "pools/x/identities", "nothing/here"):
        status, headers, text = fetch(site.board + path)
        assert status == 404 and headers["content-type"].startswith("text/html")
        assert '<a href="/_cogid/">Back to the identity pools</a>' in text


def test_the_inspector_verifies_a_token_and_explains_its_claims(site):
    status, _, text = fetch(site.board + "token", data=urllib.parse.urlencode({"token": site.token}).encode())
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
    status, _, text = fetch(site.board + "token", data=urllib.parse.urlencode({"token": token}).encode())
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
    text = fetch(site.board + "token", data=urllib.parse.urlencode({"token": token}).encode())[2]
    assert 'id="token-verdict">token verification failed: ' in text and "signature verified" not in text


def test_recent_requests_are_the_services_not_the_dashboards_own(site):
    fetch(site.url + "/.well-known/jwks_uri")
    status, headers, body = fetch(site.board + "requests.json")
    import json

    requests = json.loads(body)["requests"]
    assert status == 200 and headers["content-type"] == "application/json"
    assert requests[0]["operation"] == "GET /.well-known/jwks_uri"
    assert not [r for r in requests if r["operation"].startswith("GET /_cogid/")]
    newer = json.loads(fetch(site.board + f"requests.json?after={requests[0]['seq']}")[2])["requests"]
    assert newer == []
    assert "GET /.well-known/jwks_uri" in page(site, "requests")


def test_pages_refuse_other_sites_and_rebound_names(site):
    assert fetch(site.board, Host="attacker.example:80")[0] == 403  # DNS rebinding: a name not the server's
    assert fetch(site.board, Host=f"localhost:{urllib.parse.urlsplit(site.url).port}")[0] == 200
    assert fetch(site.board + "requests.json", **{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"})[0] == 403
    # A link followed from another site is a navigation, and allowed.
    assert fetch(site.board, **{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})[0] == 200
    status, headers, _ = fetch(site.board, Origin="https://attacker.example")
    assert status == 200 and not [name for name in headers if name.startswith("access-control-")]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (
        fetch(site.url + "/.well-known/jwks_uri", Origin="https://attacker.example")[1]["access-control-allow-origin"]
        == "*"
    )  # the service's own routes keep their CORS


def test_only_the_inspector_takes_a_post(site):
    status, headers, _ = fetch(site.board, data=b"x=1")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def serve(home, *args, browser=None):
    """`cogid serve ARGS` until its first stderr line about the dashboard; stopped on exit."""
    env = {**os.environ, "COGID_HOME": str(home)}
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
        assert opened.read_text() == url + "/_cogid/"
        assert fetch(url + "/_cogid/")[0] == 200
    finally:
        stderr = stop(process)
    assert f"cogid serve: dashboard at {url}/_cogid/" in stderr.splitlines()


def test_on_a_network_address_the_dashboard_is_off_unless_asked_for(tmp_path):
    process, url = serve(tmp_path / "home", "--host", "0.0.0.0", "--quiet")
    try:
        status, headers, _ = fetch(f"http://127.0.0.1:{urllib.parse.urlsplit(url).port}/_cogid/")
        assert status == 404 and headers["content-type"].startswith("application/json")  # no such route
    finally:
        stderr = stop(process)
    assert "the dashboard is off on a network address (--dashboard turns it on)" in stderr
    process, url = serve(tmp_path / "home", "--host", "0.0.0.0", "--quiet", "--dashboard")
    try:
        assert fetch(f"http://127.0.0.1:{urllib.parse.urlsplit(url).port}/_cogid/")[0] == 200
    finally:
        stderr = stop(process)
    assert "warning: the dashboard is on at a network address" in stderr


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
    board = Dashboard(["127.0.0.1"])

    def get(path):
        status, _, body = board.respond(open_service(world.home), "GET", path, "", {"host": "127.0.0.1:1"}, b"")
        assert status == 200
        return body.decode()

    assert "The first 2 of 3 pools." in get("/_cogid/")
    text = get(f"/_cogid/identities/{alice}")
    assert "x" * 4096 + "… (904 more characters: cogid sync get shows them all)" in text
    assert "x" * 4097 not in text
