"""A `cogid serve` with its dashboard over a store holding one of everything the dashboard shows
(`site`): a pool with roles, a developer user linked to a Facebook login, a guest, 150 more
users for paging, a dataset whose records hold HTML, a subscribed device, outbox entries (push
and stream), and the secrets that must never appear in a page."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from types import SimpleNamespace

import pytest
from doors import boto3_maker
from sync_world import World, sync

import cogid.local

FACEBOOK_APP = "1234567890"
XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>window.pwned = 1</script>"
USERS = 150
KEY = "dashboard-test-key-0123456789"  # COGID_DASHBOARD_KEY: the server's instead of a new one


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is the answer a test looks at


_opener = urllib.request.build_opener(_NoRedirects)


def fetch(url, data=None, method=None, **headers):
    """GET (or POST `data`, or `method`) `url`: status, headers (lower-case names), text. Never
    raises for a status, never follows a redirect."""
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _opener.open(request, timeout=10) as reply:
            return reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


def build(home):
    """The store's contents; what tests look for in the pages."""
    world = World(boto3_maker(home), "inprocess", home)
    pool = world.pool(facebook=FACEBOOK_APP)
    facebook = cogid.local.mint_social_token("graph.facebook.com", "fb-alice", FACEBOOK_APP, home=home)
    issued = world.cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={world.provider: "alice", "graph.facebook.com": facebook}
    )
    alice, token = issued["IdentityId"], issued["Token"]
    world.tokens[alice] = token
    guest = world.guest(pool)
    users = [world.user(pool, f"user-{n:03d}") for n in range(USERS)]
    world.sync.set_identity_pool_configuration(
        IdentityPoolId=pool,
        PushSync={
            "ApplicationArns": ["arn:aws:sns:us-east-1:000000000000:app/GCM/shop"],
            "RoleArn": "arn:aws:iam::000000000000:role/push",
        },
        CognitoStreams={
            "StreamName": "shop-stream",
            "RoleArn": "arn:aws:iam::000000000000:role/stream",
            "StreamingStatus": "ENABLED",
        },
    )
    credentials = world.credentials(alice)
    phone = world.device(alice, credentials=credentials)
    push_token = "gcm-push-token-0123456789abcdef"
    device = phone.register_device(IdentityPoolId=pool, IdentityId=alice, Platform="GCM", Token=push_token)["DeviceId"]
    sync(phone, pool, alice, "settings", {"theme": ("dark", 0), "bio": (XSS, 0), "note": (SCRIPT, 0)})
    phone.subscribe_to_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName="settings", DeviceId=device)
    sync(world.sync, pool, alice, "settings", {"theme": ("light", 1)})  # pushed to the phone, and streamed
    session = world.sync.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="settings")
    key = world.iam.create_access_key()["AccessKey"]
    from cogid.local.service import open_service

    pems = [row["pem"] for row in open_service(home).store.db.execute("SELECT pem FROM signing_keys")]
    secrets = {
        "developer secret key": key["SecretAccessKey"],
        "session token": credentials["SessionToken"],
        "session secret key": credentials["SecretKey"],
        "Sync session token": session["SyncSessionToken"],
        "push token": push_token,
        "OpenID token": token,
        "a private key": "PRIVATE KEY",
        **{f"private key {n}": _pem_body(pem) for n, pem in enumerate(pems)},
    }
    return SimpleNamespace(
        world=world, pool=pool, alice=alice, guest=guest, users=users, token=token, device=device, secrets=secrets
    )


def _pem_body(pem):
    """A stretch of a private key's base64 body: long enough to be the key's, found anywhere."""
    return "".join(pem.strip().splitlines()[1:-1])[40:100]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from cogid.local.service import close_services
    from cogid.local.transport.server import running_server

    home = tmp_path_factory.mktemp("dashboard")
    made = build(home)
    close_services()
    with running_server(home, workers=2, expose_outbox=True, dashboard_key=KEY) as url:
        made.url, made.home = url, home
        made.board = url + "/_cogid/"
        made.cookie = {"Cookie": f"cogid_dashboard_{urllib.parse.urlsplit(url).port}={KEY}"}

        def get(path, data=None, method=None, **headers):
            """A dashboard page as the browser holding this run's key gets it."""
            return fetch(made.board + path, data, method, **{**made.cookie, **headers})

        made.get = get
        yield made


def links(html):
    """The dashboard links of a page, unescaped."""
    return [href.replace("&amp;", "&") for href in re.findall(r'href="(/_cogid/[^"]*)"', html)]
