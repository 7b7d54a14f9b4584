"""Cognito Sync on the local service: writes, full reads and sync round trips, each beside an
anchor measured in the same run.

    .venv/bin/python bench/bench_sync.py [--quick]

1. UpdateRecords calls/s in-process (a boto3 client from cogid.local.client, signed with a
   developer key) against GetOpenIdTokenForDeveloperIdentity calls/s for new users on the same
   path, in alternating rounds so that a drifting CPU slows both alike. A sync write signs
   nothing, so it should beat a token call: target >= 1.2x.
2. The same over `cogid serve` (default workers, one per core) with bench_serve.py's 8 signed
   clients: req/s and p99 of each, in alternating rounds; target >= 1.2x.
3. ListRecords of a full dataset (1,024 records, 100-byte values) from sync count 0: calls/s and
   ms/call in-process, req/s and latency over HTTP with 8 clients, beside the token rate (no
   target: what a device's first sync of a full dataset costs, in token calls).
4. A device's sync round trip in-process -- ListRecords from its last sync count, then
   UpdateRecords of one key with the SyncSessionToken just issued -- p99 latency in a store of
   100,000 identities x 3 datasets against a store holding only the devices exercised; target
   within 1.5x. The big store is written through the service's own store in large
   transactions, with the rows the service writes for those calls, then checked through the
   service.

The writes are what a device does: it rewrites a key it holds, with the SyncCount the last
reply gave for it (a new key per call would fill the dataset's 1,024 records and is not how a
device syncs). A ListRecords session token serves one dataset's writes for an hour, so the
measured writes (1, 2) reuse one per dataset; a round trip (4) has ListRecords issue a fresh
one each time, as for a device syncing again after the hour (the heavier case: a session row is
written on every sync).

--quick: a smoke run of a few seconds (small counts, a 2,000-identity store).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from anchors import Row, table
from bench_serve import (
    PROVIDER,
    REGION,
    Connection,
    Credentials,
    Prepare,
    local_key,
    make_pool,
    percentile,
    run_load,
    signed,
    signed_http,
    token_requests,
)

DATASET = "game"
KEY = "score"
VALUE = secrets.token_urlsafe(75)  # 100 characters
FULL_RECORDS = 1024  # a full dataset (the service's limit)
BIG_DATASETS = ("settings", "progress", "inventory")
BIG_RECORDS = 8  # records per dataset of the big store, 100-byte values
CLIENTS = 8


@dataclass(frozen=True)
class Scale:
    calls: int  # in-process UpdateRecords and token calls, each
    round: int  # calls of each kind per alternating round
    list_calls: int  # in-process full-dataset ListRecords
    http_seconds: float  # per HTTP load round
    http_rounds: int  # alternating rounds of each HTTP load
    identities: int  # in the big store
    devices: int  # identities the round trips exercise
    round_trips: int  # per store


FULL = Scale(3000, 100, 300, 4.0, 2, 100_000, 1000, 3000)
QUICK = Scale(200, 50, 20, 1.0, 1, 2_000, 100, 200)


@dataclass
class Device:
    """What a device keeps between syncs: its identity, dataset, session, and sync counts."""

    identity_id: str
    dataset: str
    token: str = ""
    key: str = KEY
    key_count: int = 0  # the SyncCount of its key, as the last reply gave it
    last: int = 0  # the dataset's sync count it last saw


def patch(device: Device) -> dict[str, Any]:
    return {
        "Op": "replace",
        "Key": device.key,
        "Value": VALUE,
        "SyncCount": device.key_count,
        "DeviceLastModifiedDate": time.time(),
    }


# -- in-process ---------------------------------------------------------------------------------


def developer_clients(home: Path) -> tuple[Any, Any]:
    """(cognito-identity, cognito-sync) clients in this process, signed with a developer key."""
    from cogid.local import client

    key = client("iam", home=home).create_access_key()["AccessKey"]
    signing = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    return client("cognito-identity", home=home, **signing), client("cognito-sync", home=home, **signing)


def new_pool(cognito: Any) -> str:
    return str(
        cognito.create_identity_pool(
            IdentityPoolName="bench", AllowUnauthenticatedIdentities=False, DeveloperProviderName=PROVIDER
        )["IdentityPoolId"]
    )


def write(sync: Any, pool: str, device: Device) -> None:
    """UpdateRecords of the device's key, as the device knows it."""
    reply = sync.update_records(
        IdentityPoolId=pool,
        IdentityId=device.identity_id,
        DatasetName=device.dataset,
        SyncSessionToken=device.token,
        RecordPatches=[patch(device)],
    )
    device.key_count = device.last = reply["Records"][0]["SyncCount"]


def write_and_token_rates(cognito: Any, sync: Any, pool: str, scale: Scale, label: str) -> tuple[float, float]:
    """(UpdateRecords/s, tokens/s for new users), in alternating rounds of `scale.round` calls;
    `label` keeps the users of each run apart."""
    devices = []
    for n in range(100):  # devices that have synced before: a session each, their key written once
        identity = cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool, Logins={PROVIDER: f"{label}-device{n}"}
        )
        device = Device(identity["IdentityId"], DATASET)
        device.token = sync.list_records(IdentityPoolId=pool, IdentityId=device.identity_id, DatasetName=DATASET)[
            "SyncSessionToken"
        ]
        write(sync, pool, device)
        devices.append(device)
    write_seconds = token_seconds = 0.0
    for first in range(0, scale.calls, scale.round):
        batch = range(first, min(first + scale.round, scale.calls))
        start = time.perf_counter()
        for n in batch:
            cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={PROVIDER: f"{label}-user{n}"})
        middle = time.perf_counter()
        for n in batch:
            write(sync, pool, devices[n % len(devices)])
        token_seconds += middle - start
        write_seconds += time.perf_counter() - middle
    return scale.calls / write_seconds, scale.calls / token_seconds


def full_patches() -> list[dict[str, Any]]:
    return [{"Op": "replace", "Key": f"key{n:04}", "Value": VALUE, "SyncCount": 0} for n in range(FULL_RECORDS)]


def full_list_rate(cognito: Any, sync: Any, pool: str, calls: int) -> float:
    """ListRecords/s of a full dataset from sync count 0, as a new device's first sync reads it."""
    identity = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={PROVIDER: "full"})
    where = {"IdentityPoolId": pool, "IdentityId": identity["IdentityId"], "DatasetName": DATASET}
    token = sync.list_records(**where)["SyncSessionToken"]
    sync.update_records(**where, SyncSessionToken=token, RecordPatches=full_patches())
    start = time.perf_counter()
    for _ in range(calls):
        listed = sync.list_records(**where, LastSyncCount=0)
    elapsed = time.perf_counter() - start
    assert listed["Count"] == FULL_RECORDS, listed["Count"]
    return calls / elapsed


# -- over HTTP ------------------------------------------------------------------------------------


def sync_request(
    url: str,
    creds: Credentials,
    method: str,
    pool_id: str,
    device: Device,
    tail: str = "",
    query: dict[str, Any] | None = None,
    members: dict[str, Any] | None = None,
) -> bytes:
    """A signed Cognito Sync (REST-JSON) request on the device's dataset, URI members encoded as
    botocore encodes them."""
    segments = [pool_id, device.identity_id, device.dataset]
    pool, identity, dataset = (quote(segment, safe="~") for segment in segments)
    target = f"/identitypools/{pool}/identities/{identity}/datasets/{dataset}{tail}"
    if query:
        target += "?" + urlencode(query)
    body = json.dumps(members).encode() if members is not None else b""
    headers = {"Content-Type": "application/json"} if members is not None else {}
    return signed_http(url, creds, "cognito-sync", method, target, body, headers)


def call(connection: Connection, request: bytes) -> Any:
    status, body = connection.send(request)
    if status != 200:
        raise RuntimeError(f"setup call answered {status}: {body[:300]!r}")
    return json.loads(body)


def new_device(url: str, creds: Credentials, pool_id: str, connection: Connection, user: str) -> Device:
    """A developer user's identity with a session on DATASET (from ListRecords)."""
    token = signed(
        url, creds, "GetOpenIdTokenForDeveloperIdentity", {"IdentityPoolId": pool_id, "Logins": {PROVIDER: user}}
    )
    device = Device(call(connection, token)["IdentityId"], DATASET)
    device.token = call(connection, sync_request(url, creds, "GET", pool_id, device, "/records"))["SyncSessionToken"]
    return device


def update_request(url: str, creds: Credentials, pool_id: str, device: Device, patches: list[dict[str, Any]]) -> bytes:
    members = {"SyncSessionToken": device.token, "RecordPatches": patches}
    return sync_request(url, creds, "POST", pool_id, device, members=members)


def warm_up(url: str, creds: Credentials, pool_id: str, connection: Connection) -> None:
    call(connection, signed(url, creds, "DescribeIdentityPool", {"IdentityPoolId": pool_id}))


def write_requests(url: str, creds: Credentials, pool_id: str, devices: int = 4) -> Prepare:
    """UpdateRecords of one key on each of `devices` identities in turn, each request with the
    SyncCount the one before it on that identity returns (every write succeeds, so it is known)."""

    def prepare(connection: Connection, name: str, count: int) -> list[bytes]:
        setup = Connection(url)
        held = [new_device(url, creds, pool_id, setup, f"{name}-{j}") for j in range(devices)]
        requests = []
        for n in range(count):
            device = held[n % devices]
            requests.append(update_request(url, creds, pool_id, device, [patch(device)]))
            device.key_count += 1
        warm_up(url, creds, pool_id, connection)  # after the signing, which may outlast a keep-alive
        return requests

    return prepare


def full_list_requests(url: str, creds: Credentials, pool_id: str) -> Prepare:
    """ListRecords of the client's own full dataset from sync count 0."""

    def prepare(connection: Connection, name: str, count: int) -> list[bytes]:
        setup = Connection(url)
        device = new_device(url, creds, pool_id, setup, name)
        call(setup, update_request(url, creds, pool_id, device, full_patches()))
        listing = sync_request(url, creds, "GET", pool_id, device, "/records", {"lastSyncCount": 0})
        warm_up(url, creds, pool_id, connection)
        return [listing] * count

    return prepare


def merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one load as one: requests/s over their time together, percentiles of all."""
    latencies = sorted(t for run in runs for t in run["latencies"])
    statuses: Counter[int] = Counter()
    for run in runs:
        statuses.update(run["statuses"])
    return {
        "rate": len(latencies) / sum(run["elapsed"] for run in runs),
        "p50": percentile(latencies, 0.5) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "statuses": dict(statuses),
    }


def http_loads(home: Path, scale: Scale) -> dict[str, dict[str, Any]]:
    from cogid.local.transport.server import running_server

    creds = local_key(home)  # which makes the store before the workers open it
    runs: dict[str, list[dict[str, Any]]] = {"token": [], "write": []}
    with running_server(home, workers=None) as url:
        pool_id = make_pool(url, creds)
        for r in range(scale.http_rounds):
            for kind, prepare in (
                ("token", token_requests(url, creds, pool_id)),
                ("write", write_requests(url, creds, pool_id)),
            ):
                runs[kind].append(run_load(url, prepare, CLIENTS, scale.http_seconds, f"{kind}{r}"))
        listing = run_load(url, full_list_requests(url, creds, pool_id), CLIENTS, scale.http_seconds, "list")
    return {"token": merged(runs["token"]), "write": merged(runs["write"]), "list": merged([listing])}


# -- the big store ------------------------------------------------------------------------------


def build_store(home: Path, identities: int, keep: int, batch: int = 5000) -> tuple[str, list[Device]]:
    """A pool of `identities` developer identities, each with BIG_DATASETS of BIG_RECORDS records
    written one per UpdateRecords by the identity itself, and a session per dataset issued
    within the last hour (as if every device synced hourly). The rows are those the service
    writes for GetOpenIdTokenForDeveloperIdentity, ListRecords and UpdateRecords (store/identity.py,
    store/sync.py), inserted through the service's store in one transaction per `batch`
    identities. Returns the pool and `keep` of the identities, at random, as devices."""
    from cogid.local.service import open_service

    cognito, _ = developer_clients(home)
    pool_id = new_pool(cognito)
    store = open_service(home).store
    now = time.time()
    ms = round(now * 1000)
    values = [secrets.token_urlsafe(75) for _ in range(997)]
    size = sum(len(f"key{j}") + 100 for j in range(BIG_RECORDS))
    kept = set(random.sample(range(identities), keep))
    devices: list[Device] = []
    with store.read():
        seq = store.db.execute("SELECT coalesce(max(seq), 0) AS seq FROM sync_datasets").fetchone()["seq"]
    for first in range(0, identities, batch):
        people, logins, datasets, records, sessions, touched = [], [], [], [], [], []
        for n in range(first, min(first + batch, identities)):
            identity = f"{REGION}:{uuid.uuid4()}"
            people.append((identity, pool_id, "authenticated", now, now))
            logins.append((pool_id, PROVIDER, f"user{n}", identity, 1))
            touched.append((identity, ms))
            for name in BIG_DATASETS:
                seq += 1
                datasets.append((seq, identity, name, BIG_RECORDS, ms, ms, identity, BIG_RECORDS, size))
                for j in range(BIG_RECORDS):
                    records.append((seq, f"key{j}", values[(seq + j) % len(values)], j + 1, ms, identity, ms))
                sessions.append((secrets.token_urlsafe(48), identity, pool_id, name, now + random.uniform(1, 3600)))
                if n in kept:
                    devices.append(Device(identity, name, key="key0", key_count=1, last=BIG_RECORDS))
        with store.write():
            db = store.db
            db.executemany("INSERT INTO identities (id, pool_id, state, created, modified) VALUES (?,?,?,?,?)", people)
            db.executemany(
                "INSERT INTO logins (pool_id, provider, subject, identity_id, developer) VALUES (?,?,?,?,?)", logins
            )
            db.executemany(
                "INSERT INTO sync_datasets (seq, identity_id, name, live, sync_count, created, modified, modified_by,"
                " records, bytes) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                datasets,
            )
            db.executemany(
                "INSERT INTO sync_records (dataset, key, value, sync_count, modified, modified_by, device_modified)"
                " VALUES (?,?,?,?,?,?,?)",
                records,
            )
            db.executemany(
                "INSERT INTO sync_sessions (token, identity_id, pool_id, dataset, expires) VALUES (?,?,?,?,?)", sessions
            )
            db.executemany("INSERT INTO sync_identities (identity_id, modified) VALUES (?, ?)", touched)
            db.execute("INSERT OR IGNORE INTO sync_pools (pool_id) VALUES (?)", (pool_id,))
            db.execute(
                "UPDATE sync_pools SET sessions = sessions + ?, modified = ? WHERE pool_id = ?",
                (len(sessions), ms, pool_id),
            )
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    random.shuffle(devices)
    return pool_id, devices[:keep]


def store_bytes(home: Path) -> int:
    return sum(path.stat().st_size for path in home.glob("local.sqlite3*"))


def check_store(sync: Any, pool_id: str, device: Device) -> None:
    """The service reads a built identity as it would one it wrote itself."""
    listed = sync.list_records(IdentityPoolId=pool_id, IdentityId=device.identity_id, DatasetName=device.dataset)
    assert listed["Count"] == BIG_RECORDS and listed["DatasetSyncCount"] == BIG_RECORDS, listed
    usage = sync.describe_identity_usage(IdentityPoolId=pool_id, IdentityId=device.identity_id)["IdentityUsage"]
    assert usage["DatasetCount"] == len(BIG_DATASETS), usage


def round_trip(sync: Any, pool_id: str, device: Device) -> float:
    """One sync of the device: what changed since its last count, then its one changed key."""
    began = time.perf_counter()
    listed = sync.list_records(
        IdentityPoolId=pool_id, IdentityId=device.identity_id, DatasetName=device.dataset, LastSyncCount=device.last
    )
    device.token = listed["SyncSessionToken"]
    write(sync, pool_id, device)
    return time.perf_counter() - began


def round_trips(scale: Scale, tmp: Path) -> dict[str, Any]:
    """p99 round trip in the big store and in one holding only the devices, alternating rounds."""
    big, small = tmp / "big", tmp / "small"
    began = time.perf_counter()
    big_pool, big_devices = build_store(big, scale.identities, scale.devices)
    build_seconds = time.perf_counter() - began
    small_pool, small_devices = build_store(small, scale.devices, scale.devices)
    _, big_sync = developer_clients(big)
    _, small_sync = developer_clients(small)
    check_store(big_sync, big_pool, big_devices[0])
    check_store(small_sync, small_pool, small_devices[0])
    gc.collect()
    times: dict[str, list[float]] = {"big": [], "small": []}
    for first in range(0, scale.round_trips, 100):
        for n in range(first, min(first + 100, scale.round_trips)):
            times["big"].append(round_trip(big_sync, big_pool, big_devices[n % len(big_devices)]))
        for n in range(first, min(first + 100, scale.round_trips)):
            times["small"].append(round_trip(small_sync, small_pool, small_devices[n % len(small_devices)]))
    figures = {f"{store}_p{q}": percentile(sorted(times[store]), q / 100) * 1000 for store in times for q in (50, 99)}
    return {
        **figures,
        "build_seconds": build_seconds,
        "bytes_per_identity": store_bytes(big) / scale.identities,
    }


# -- the run ------------------------------------------------------------------------------------


def benchmark(scale: Scale) -> int:
    from cogid.local import client

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        cognito, sync = developer_clients(home / "inprocess")
        pool = new_pool(cognito)
        writes, tokens = write_and_token_rates(cognito, sync, pool, scale, "developer")
        account = (client("cognito-identity", home=home / "inprocess"), client("cognito-sync", home=home / "inprocess"))
        account_writes, account_tokens = write_and_token_rates(*account, pool, scale, "account")
        lists = full_list_rate(cognito, sync, pool, scale.list_calls)
        http = http_loads(home / "serve", scale)
        trips = round_trips(scale, home)

    token, update, listing = http["token"], http["write"], http["list"]
    slower = trips["big_p99"] / trips["small_p99"]
    rows = [
        Row(
            "1 UpdateRecords in-process, calls/s",
            f"{writes:,.0f}",
            f"token calls/s {tokens:,.0f}",
            writes / tokens,
            ">= 1.2x",
            writes / tokens >= 1.2,
        ),
        Row(
            "  the same, unsigned (account) clients",
            f"{account_writes:,.0f}",
            f"token calls/s {account_tokens:,.0f}",
            account_writes / account_tokens,
        ),
        Row(
            f"2 UpdateRecords, serve, {CLIENTS} clients, req/s",
            f"{update['rate']:,.0f}",
            f"token req/s {token['rate']:,.0f}",
            update["rate"] / token["rate"],
            ">= 1.2x",
            update["rate"] / token["rate"] >= 1.2,
        ),
        Row(
            "  p99 (p50)",
            f"{update['p99']:.1f} ({update['p50']:.1f}) ms",
            f"token {token['p99']:.1f} ({token['p50']:.1f}) ms",
            update["p99"] / token["p99"],
        ),
        Row(
            f"3 ListRecords, {FULL_RECORDS} records, in-process",
            f"{lists:,.0f}/s, {1000 / lists:.1f} ms",
            f"token calls/s {tokens:,.0f}",
            lists / tokens,
        ),
        Row(
            f"  over HTTP, {CLIENTS} clients: req/s, p50 (p99)",
            f"{listing['rate']:,.0f}/s, {listing['p50']:.0f} ({listing['p99']:.0f}) ms",
            f"token req/s {token['rate']:,.0f}",
            listing["rate"] / token["rate"],
        ),
        Row(
            f"4 round trip p99 (p50), {scale.identities:,} ids x {len(BIG_DATASETS)}",
            f"{trips['big_p99']:.2f} ({trips['big_p50']:.2f}) ms",
            f"{scale.devices:,} ids: {trips['small_p99']:.2f} ({trips['small_p50']:.2f}) ms",
            slower,
            "<= 1.5x",
            slower <= 1.5,
        ),
    ]
    statuses = {kind: load["statuses"] for kind, load in http.items()}
    print(f"\nHTTP statuses: {statuses}")
    print(
        f"big store: built in {trips['build_seconds']:.0f} s, {trips['bytes_per_identity']:,.0f} bytes per identity"
        f" ({len(BIG_DATASETS)} datasets x {BIG_RECORDS} records of 100-byte values, a session each)\n"
    )
    print(table(rows))
    ok = all(r.passed for r in rows if r.passed is not None)
    return 0 if ok and all(set(s) == {200} for s in statuses.values()) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args()
    sys.exit(benchmark(QUICK if args.quick else FULL))


if __name__ == "__main__":
    main()
