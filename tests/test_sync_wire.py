"""Cognito Sync's REST-JSON on the wire: raw requests in process and over `cogid serve`, the
store's migration in place, and writers racing from two processes (spec/cognito-sync.md §7,
S8, S12, S72-S75; T22, T38-T40, T68, T71)."""

import contextlib
import http.client
import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sync_world import sync

from cogid.local import protocol
from cogid.local.service import open_service
from cogid.local.wire.request import Request


def in_process(home, method, path, body=b"", headers=None):
    """A raw request as the developer (unsigned, in process): (status, headers, JSON body)."""
    reply = protocol.handle(open_service(home), Request(method, path, headers or {}, body, "us-east-1"))
    return reply.status, reply.headers, json.loads(reply.body) if reply.body else None


def over_http(server, method, path, body=b"", headers=None, secret=None, sign=True):
    """A raw request to `cogid serve`, SigV4-signed for cognito-sync with the developer key."""
    parts = urlsplit(server.url)
    headers = {"Host": parts.netloc, **(headers or {})}
    if sign:
        request = AWSRequest(method=method, url=server.url + path, data=body, headers=headers)
        key = server.key
        SigV4Auth(Credentials(key["AccessKeyId"], secret or key["SecretAccessKey"]), "cognito-sync",
                  "us-east-1").add_auth(request)
        headers = dict(request.headers)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw) if raw else None
    finally:
        connection.close()


def path(pool, identity, *rest):
    return "/".join(["/identitypools", quote(pool, safe=""), "identities", quote(identity, safe=""), *rest])


@pytest.fixture
def dev(local_world):
    world = local_world
    pool = world.pool()
    return world, pool, world.user(pool, "alice")


def test_t38_t39_sync_needs_a_valid_signature_over_http(shared_server):
    for sign, secret, code in ((False, None, "MissingAuthenticationTokenException"),
                               (True, "wrong" * 8, "InvalidSignatureException")):
        status, headers, body = over_http(shared_server, "GET", "/identitypools", sign=sign, secret=secret)
        assert (status, body["__type"], headers["x-amzn-errortype"]) == (403, code, f"{code}:")
        assert body["message"] and headers["content-type"] == "application/json"


def test_t40_unknown_routes_and_methods(shared_server, isolated):
    status, headers, body = over_http(shared_server, "PUT", "/identitypools/us-east-1%3Ax/events", b"{}")
    assert (status, body["__type"]) == (405, "MethodNotAllowed") and headers["allow"] == "GET, POST"
    status, headers, body = over_http(shared_server, "GET", "/identitypools/us-east-1%3Ax/nothing")
    assert (status, body["__type"]) == (404, "UnknownOperationException")
    # A path no service answers is JSON too, never STS's XML (S75); in process as over HTTP.
    status, headers, body = over_http(shared_server, "GET", "/no/such/thing", sign=False)
    assert (status, body["__type"], headers["content-type"]) == (404, "UnknownOperationException", "application/json")
    assert in_process(isolated, "POST", "/elsewhere", b"{}")[0] == 404


def test_delete_passes_cors_and_the_client_context_header_is_accepted(shared_server):
    status, headers, _ = over_http(shared_server, "OPTIONS", "/identitypools/p/identities/i/datasets/d", sign=False,
                                   headers={"Origin": "http://app", "Access-Control-Request-Method": "DELETE",
                                            "Access-Control-Request-Headers": "x-amz-client-context"})
    assert status == 200 and "DELETE" in headers["access-control-allow-methods"]
    assert "x-amz-client-context" in headers["access-control-allow-headers"]


def test_s72_segments_are_decoded_once_and_split_on_raw_slashes(dev):
    world, pool, alice = dev
    home = world.home
    sync(world.sync, pool, alice, "d", {"k": ("v", 0)})
    raw_colons = f"/identitypools/{pool}/identities/{alice}/datasets/d/records"
    status, _, body = in_process(home, "GET", raw_colons)
    assert status == 200 and body["Records"][0]["Value"] == "v"
    status, _, body = in_process(home, "GET", path(pool, alice, "datasets", "bad%2Fname", "records"))
    assert (status, body["__type"]) == (400, "ValidationException")  # one segment, refused by its pattern
    status, _, body = in_process(home, "GET", path(pool, alice, "datasets", "..", "records"))
    assert status == 200 and body["DatasetExists"] is False  # a name, not navigation
    repeated = path(pool, alice, "datasets", "d", "records") + "?maxResults=1&maxResults=50&lastSyncCount=0"
    assert in_process(home, "GET", repeated)[2]["Count"] == 1  # the first occurrence wins
    for query in ("maxResults=two", "lastSyncCount=1.5", "maxResults=" + "9" * 5000, "lastSyncCount=-" + "9" * 5000):
        status, _, body = in_process(home, "GET", path(pool, alice, "datasets", "d", "records") + "?" + query)
        assert (status, body["__type"]) == (400, "SerializationException")


def test_t71_timestamps_in_and_out(dev):
    world, pool, alice = dev
    home = world.home
    records = path(pool, alice, "datasets", "d")
    token = in_process(home, "GET", records + "/records")[2]["SyncSessionToken"]

    def post(key, date):
        patch = {"Op": "replace", "Key": key, "Value": "v", "SyncCount": 0, "DeviceLastModifiedDate": date}
        return in_process(home, "POST", records, json.dumps({"SyncSessionToken": token, "RecordPatches": [patch]})
                          .encode(), {"content-type": "application/json"})

    status, _, body = post("a", 1767225600.25)
    assert status == 200 and body["Records"][0]["DeviceLastModifiedDate"] == 1767225600.25
    status, _, body = post("b", "2026-01-01T00:00:00.25Z")
    assert status == 200 and body["Records"][0]["DeviceLastModifiedDate"] == 1767225600.25
    raw = protocol.handle(open_service(home), Request("GET", records + "/records", {}, b"", "us-east-1")).body.decode()
    for number in re.findall(r'Date": ([^,}]+)', raw):
        assert "e" not in number.lower() and len(number.partition(".")[2]) <= 3
    # Only times every SDK can read back, in any time zone (UTC-12 to UTC+14): year 1 is not one.
    for bad in ("yesterday", True, 1e300, "2026-01-01T00:00:00", -62135596800, "0001-01-01T00:00:00+14:00",
                253402300799, "9999-12-31T12:00:00Z"):
        status, _, body = post("c", bad)
        assert (status, body["__type"]) == (400, "SerializationException")
    status, _, body = post("d", "\ud800")
    assert (status, body["__type"]) == (400, "SerializationException")
    assert in_process(home, "GET", records + "/records")[2]["Count"] == 2  # nothing else was written
    for key, edge in (("first", "0001-01-02T00:00:00Z"), ("last", "9999-12-30T23:59:59Z")):
        status, _, body = post(key, edge)
        assert status == 200, body
    for zone in ("Etc/GMT+12", "Etc/GMT-14"):  # the earliest and latest zones a device may read in
        with _time_zone(zone):
            dates = {r["Key"]: r["DeviceLastModifiedDate"] for r in world.sync.list_records(
                IdentityPoolId=pool, IdentityId=alice, DatasetName="d")["Records"]}
        assert [dates[key].astimezone(UTC).date().isoformat() for key in ("first", "last")] == [
            "0001-01-02", "9999-12-30"], zone


@contextlib.contextmanager
def _time_zone(zone):
    import os
    import time

    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_numbers_beyond_their_type_and_bodies_that_are_not_objects(dev):
    world, pool, alice = dev
    records = path(pool, alice, "datasets", "d")
    token = in_process(world.home, "GET", records + "/records")[2]["SyncSessionToken"]
    too_big = {"SyncSessionToken": token, "RecordPatches": [{"Op": "replace", "Key": "k", "Value": "v",
                                                             "SyncCount": 2**63}]}
    for body in (json.dumps(too_big).encode(), b"[1]", b"{bad"):
        status, _, reply = in_process(world.home, "POST", records, body)
        assert (status, reply["__type"]) == (400, "SerializationException")


def test_t22_a_full_mebibyte_value_in_escapes_is_accepted_and_more_is_413(shared_server, http_world):
    world = http_world
    pool = world.pool()
    alice = world.user(pool, "alice")
    target = path(pool, alice, "datasets", "big")
    token = over_http(shared_server, "GET", target + "/records")[2]["SyncSessionToken"]
    value = "\u00e9" * 500_000  # 1,000,000 bytes as UTF-8, 3,000,000 as \u00e9 escapes: over 1 MiB on the wire
    body = json.dumps({"SyncSessionToken": token, "RecordPatches": [
        {"Op": "replace", "Key": "k", "Value": value, "SyncCount": 0}]}).encode()
    assert len(body) > 1024 * 1024
    status, _, reply = over_http(shared_server, "POST", target, body, {"Content-Type": "application/json"})
    assert status == 200 and reply["Records"][0]["SyncCount"] == 1
    # Refused on its announced length, before the body is read.
    status, headers, reply = over_http(shared_server, "POST", target, b"",
                                       {"Content-Type": "application/json", "Content-Length": str(8 * 2**20 + 1)},
                                       sign=False)
    assert (status, reply["__type"], headers["content-type"]) == (413, "RequestEntityTooLarge", "application/json")


def test_the_outbox_over_http_only_when_exposed(tmp_path):
    import cogid.local
    from cogid.local.transport.server import running_server

    key = cogid.local.client("iam", home=tmp_path).create_access_key()["AccessKey"]
    cognito = cogid.local.client("cognito-identity", home=tmp_path)
    pool = cognito.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=True,
                                        DeveloperProviderName="login.outbox.app")["IdentityPoolId"]
    alice = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    sync_client = cogid.local.client("cognito-sync", home=tmp_path)
    sync_client.set_identity_pool_configuration(IdentityPoolId=pool, CognitoStreams={
        "StreamName": "s", "RoleArn": "arn:aws:iam::000000000000:role/r", "StreamingStatus": "ENABLED"})
    sync(sync_client, pool, alice, "d", {"k": ("v", 0)})
    from types import SimpleNamespace

    for exposed in (False, True):
        with running_server(tmp_path, expose_outbox=exposed) as url:
            server = SimpleNamespace(url=url, key=key)
            status, _, body = over_http(server, "GET", f"/_cogid/cognito-sync/outbox?kind=stream&identityPoolId={pool}",
                                        sign=False)
            if exposed:
                assert status == 200 and [e["data"]["dataSetName"] for e in body["Entries"]] == ["d"]
            else:
                assert (status, body["__type"]) == (404, "UnknownOperationException")


def test_a_store_of_schema_1_migrates_in_place_keeping_everything(tmp_path):
    from cogid.local.store import core

    home = tmp_path / "old"
    home.mkdir()
    db = sqlite3.connect(home / "local.sqlite3")
    db.executescript(core.SCHEMA)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO pools (id, region, developer_provider, doc, created) VALUES (?, 'us-east-1', ?, ?, 0)",
               ("us-east-1:1111", "old.app", json.dumps({"IdentityPoolId": "us-east-1:1111", "IdentityPoolName": "old",
                                                         "AllowUnauthenticatedIdentities": True,
                                                         "DeveloperProviderName": "old.app"})))
    db.execute("INSERT INTO identities (id, pool_id, state, created, modified)"
               " VALUES ('us-east-1:2222', 'us-east-1:1111', 'authenticated', 0, 0)")
    db.execute("INSERT INTO logins (pool_id, provider, subject, identity_id, developer)"
               " VALUES ('us-east-1:1111', 'old.app', 'alice', 'us-east-1:2222', 1)")
    db.commit()
    db.close()
    import cogid.local

    cognito = cogid.local.client("cognito-identity", home=home)
    assert cognito.lookup_developer_identity(IdentityPoolId="us-east-1:1111",
                                             DeveloperUserIdentifier="alice")["IdentityId"] == "us-east-1:2222"
    written = sync(cogid.local.client("cognito-sync", home=home), "us-east-1:1111", "us-east-1:2222", "d",
                   {"k": ("v", 0)})
    assert written["Records"][0]["SyncCount"] == 1
    assert sqlite3.connect(home / "local.sqlite3").execute("PRAGMA user_version").fetchone()[0] == 2


RACER = textwrap.dedent("""
    import sys, json
    from cogid.local import client
    home, pool, identity, token = sys.argv[1:5]
    sync = client("cognito-sync", home=home)
    print("ready", flush=True)
    for line in sys.stdin:  # one round a line: "<count> <key>", sent to both racers at once
        count, key = line.split()
        try:
            out = sync.update_records(
                IdentityPoolId=pool, IdentityId=identity, DatasetName="d", SyncSessionToken=token,
                RecordPatches=[{"Op": "replace", "Key": key, "Value": key, "SyncCount": int(count)}])
            print(json.dumps({"ok": out["Records"][0]["SyncCount"]}), flush=True)
        except Exception as error:
            print(json.dumps({"error": error.response["Error"]["Message"]}), flush=True)
""")


def test_t68_two_processes_racing_with_one_token_serialise(isolated):
    """50 rounds. Same key and count: one wins, one conflicts as if second. Different new keys:
    both win, at n+1 and n+2, never both at n+1 (S12)."""
    import cogid.local

    cognito = cogid.local.client("cognito-identity", home=isolated)
    pool = cognito.create_identity_pool(IdentityPoolName="race", AllowUnauthenticatedIdentities=True)[
        "IdentityPoolId"]
    alice = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    client = cogid.local.client("cognito-sync", home=isolated)
    sync(client, pool, alice, "d", {"k": ("0", 0)})
    token = client.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")["SyncSessionToken"]
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(isolated), pool, alice, token],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for racer in racers:
            assert racer.stdout.readline().strip() == "ready"

        def race(*rounds):
            for racer, (count, key) in zip(racers, rounds, strict=True):
                racer.stdin.write(f"{count} {key}\n")
                racer.stdin.flush()
            return [json.loads(racer.stdout.readline()) for racer in racers]

        for n in range(50):
            listed = client.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")
            k = next(r["SyncCount"] for r in listed["Records"] if r["Key"] == "k")
            m = listed["DatasetSyncCount"]
            same = race((k, "k"), (k, "k"))
            assert sorted("ok" in r for r in same) == [False, True]
            assert next(r["error"] for r in same if "error" in r) == f"Current SyncCount for: k is: {m + 1} not: {k}"
            assert sorted(r["ok"] for r in race((0, f"a{n}"), (0, f"b{n}"))) == [m + 2, m + 3]
        assert client.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d",
                                   LastSyncCount=0)["DatasetSyncCount"] == 1 + 50 * 3
    finally:
        for racer in racers:
            racer.stdin.close()
            racer.wait(30)
