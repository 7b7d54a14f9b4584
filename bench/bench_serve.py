"""`cogid serve` under signed load, beside moto_server and raw RS512 signing, all in one run.

    .venv/bin/python bench/bench_serve.py [--seconds 5] [--clients 1 8]
    .venv/bin/python bench/bench_serve.py --soak 60

Load: GetOpenIdTokenForDeveloperIdentity for a new developer user on every request, SigV4-signed.
Each client is a process with one keep-alive connection sending requests signed beforehand by
botocore's SigV4Auth (a boto3 call costs ~1 ms of client CPU, which on 2 cores would be taken from
the server). Latency is measured in the client, around one request and its response.

Anchors measured in the same run: moto_server (its pool made first) under the same load, and the
raw RS512 (RSA-2048, SHA-512, PKCS#1 v1.5) signing rate of two processes signing at once.
Targets (issue 5): >= 8x moto's throughput at 8 clients, p99 <= 25 ms, and >= 50% of the raw
signing rate of both cores together.

--soak N: N seconds of 8 clients mixing signed and unsigned operations (developer tokens, lookups,
guest ids and their tokens, DescribeIdentity); checks that no reply is a 5xx and that every
identity the server issued is in the store afterwards.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from anchors import raw_signing_rate
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROVIDER = "login.bench"
REGION = "us-east-1"
# Requests/s one client cannot exceed (a round trip takes well over 0.5 ms here): bounds the
# requests each client signs beforehand.
MAX_CLIENT_RATE = 1500


# -- requests ----------------------------------------------------------------------------------


def signed(url: str, creds: Credentials | None, target: str, members: dict[str, Any]) -> bytes:
    """A whole HTTP/1.1 Cognito Identity request, SigV4-signed when `creds` are given."""
    headers = {"X-Amz-Target": f"AWSCognitoIdentityService.{target}", "Content-Type": "application/x-amz-json-1.1"}
    return signed_http(url, creds, "cognito-identity", "POST", "/", json.dumps(members).encode(), headers)


def signed_http(
    url: str, creds: Credentials | None, service: str, method: str, target: str, body: bytes, headers: dict[str, str]
) -> bytes:
    """A whole HTTP/1.1 request for `target` (a path and query, already URL-encoded), SigV4-signed
    for `service` when `creds` are given."""
    request = AWSRequest(method, url + target, data=body, headers=headers)
    if creds is not None:
        SigV4Auth(creds, service, REGION).add_auth(request)
    head = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    return (
        f"{method} {target} HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\n{head}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection: *close", re.IGNORECASE)


class Connection:
    """A keep-alive connection sending prepared requests; reads replies framed by Content-Length
    (both servers send it) and reconnects when told `Connection: close` (moto's server is HTTP/1.0
    at heart). Much leaner than http.client, whose header parsing alone would take a good part of
    a core from the servers under test."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.sock: socket.socket | None = None
        self.pending = b""

    def send(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.pending = b""
        self.sock.sendall(request)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._recv()
        head, rest = data[:end], data[end + 4 :]
        match = _LENGTH.search(head)
        if match is None:
            raise RuntimeError(f"a reply without Content-Length: {head[:200]!r}")
        length = int(match.group(1))
        while len(rest) < length:
            rest += self._recv()
        self.pending = rest[length:]
        if _CLOSE.search(head):
            self.sock.close()
            self.sock = None
        return int(head[9:12]), rest[:length]

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk


# Prepares one client's load before the start: given the client's connection (for any calls it
# needs first, such as warming the connection up), a name unique to the client and how many
# requests it may send, returns the requests, signed, in the order to send them.
Prepare = Callable[[Connection, str, int], list[bytes]]


def token_requests(url: str, creds: Credentials, pool_id: str) -> Prepare:
    """GetOpenIdTokenForDeveloperIdentity for a new developer user on every request."""

    def prepare(connection: Connection, name: str, count: int) -> list[bytes]:
        requests = [
            signed(
                url,
                creds,
                "GetOpenIdTokenForDeveloperIdentity",
                {"IdentityPoolId": pool_id, "Logins": {PROVIDER: f"{name}-{n}"}},
            )
            for n in range(count)
        ]
        connection.send(signed(url, creds, "DescribeIdentityPool", {"IdentityPoolId": pool_id}))  # connect, warm up
        return requests

    return prepare


def load_client(url: str, prepare: Prepare, name: str, seconds: float, count: int, start: Any, results: Any) -> None:
    """One client: prepare `count` requests, wait for the start, send them back to back for `seconds`."""
    connection = Connection(url)
    requests = prepare(connection, name, count)
    start.wait()
    latencies, statuses = [], Counter()
    deadline = time.perf_counter() + seconds
    for request in requests:
        began = time.perf_counter()
        status, _ = connection.send(request)
        ended = time.perf_counter()
        latencies.append(ended - began)
        statuses[status] += 1
        if ended >= deadline:
            break
    results.put((latencies, dict(statuses), len(latencies) == len(requests)))


def run_load(
    url: str, prepare: Prepare, clients: int, seconds: float, label: str, probe: Callable[[], float] | None = None
) -> dict[str, Any]:
    """`clients` processes sending what `prepare` makes for `seconds`: requests/s, p50 and p99 in
    ms, statuses, and the raw figures (latencies in seconds, sorted; elapsed seconds). `probe`,
    if given, is read at the start and at the end of the load (e.g. the server's CPU seconds):
    the row's `probed` is the difference."""
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(clients + 1), context.Queue()
    count = int(MAX_CLIENT_RATE * seconds) + 100
    processes = [
        context.Process(
            target=load_client, args=(url, prepare, f"{label}-{clients}-{i}", seconds, count, start, results)
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    probed = probe() if probe is not None else 0.0
    outcomes = [results.get() for _ in processes]
    elapsed = time.perf_counter() - began
    probed = probe() - probed if probe is not None else 0.0
    for process in processes:
        process.join()
    latencies = sorted(t for outcome in outcomes for t in outcome[0])
    statuses: Counter[int] = Counter()
    for outcome in outcomes:
        statuses.update(outcome[1])
    if any(outcome[2] for outcome in outcomes):
        print(f"warning: a {label} client ran out of requests; raise MAX_CLIENT_RATE", file=sys.stderr)
    return {
        "rate": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.5) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "statuses": dict(statuses),
        "latencies": latencies,
        "elapsed": elapsed,
        "probed": probed,
    }


def percentile(ordered: list[float], fraction: float) -> float:
    """The `fraction` quantile of sorted figures (nearest rank)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# -- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_cogid(home: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cogid.local.transport.server", str(home), "--port", "0", *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def start_moto() -> tuple[subprocess.Popen[bytes], str] | None:
    command = shutil.which("moto_server")
    if command is None:
        return None
    port = free_port()
    process = subprocess.Popen(
        [command, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.terminate()
    return None


def stop(process: subprocess.Popen[Any]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def make_pool(url: str, creds: Credentials, allow_guests: bool = False) -> str:
    status, body = Connection(url).send(
        signed(
            url,
            creds,
            "CreateIdentityPool",
            {
                "IdentityPoolName": "bench",
                "AllowUnauthenticatedIdentities": allow_guests,
                "AllowClassicFlow": True,
                "DeveloperProviderName": PROVIDER,
            },
        )
    )
    if status != 200:
        raise RuntimeError(f"CreateIdentityPool answered {status}: {body[:200]!r}")
    return str(json.loads(body)["IdentityPoolId"])


def local_key(home: Path) -> Credentials:
    from cogid.local import client

    key = client("iam", home=home).create_access_key()["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


# -- the throughput run ------------------------------------------------------------------------


def benchmark(seconds: float, client_counts: list[int]) -> None:
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        creds = local_key(home)
        process, url = start_cogid(home)
        try:
            pool_id = make_pool(url, creds)
            for clients in client_counts:
                rows["cogid serve", clients] = run_load(
                    url, token_requests(url, creds, pool_id), clients, seconds, "cogid"
                )
        finally:
            print(f"cogid serve stopped with exit code {stop(process)}", file=sys.stderr)

    moto = start_moto()
    if moto is None:
        print("moto_server is not installed or did not start: no moto anchor", file=sys.stderr)
    else:
        process, url = moto
        try:
            fake = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
            pool_id = make_pool(url, fake)
            for clients in client_counts:
                rows["moto_server", clients] = run_load(
                    url, token_requests(url, fake, pool_id), clients, seconds, "moto"
                )
        finally:
            stop(process)

    cores = len(os.sched_getaffinity(0))
    raw_one = raw_signing_rate(1)
    raw_all = raw_signing_rate(cores)

    print(f"\nGetOpenIdTokenForDeveloperIdentity, SigV4-signed, new user per request, {seconds:g} s per row\n")
    print(f"{'server':<14}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for (server, clients), row in rows.items():
        print(f"{server:<14}{clients:>8}{row['rate']:>10.0f}{row['p50']:>9.2f}{row['p99']:>9.2f}  {row['statuses']}")
    print(f"\nraw RS512 signatures/s: 1 process {raw_one:.0f}, {cores} processes {raw_all:.0f}")
    top = max(client_counts)
    cogid = rows.get(("cogid serve", top))
    moto_row = rows.get(("moto_server", top))
    if cogid is not None:
        print(f"\nat {top} clients:")
        if moto_row is not None:
            print(f"  cogid / moto throughput     {cogid['rate'] / moto_row['rate']:6.1f}x   (target >= 8x)")
        print(f"  cogid p99                   {cogid['p99']:6.1f} ms (target <= 25 ms)")
        print(f"  cogid / raw RS512 ({cores} procs) {cogid['rate'] / raw_all:6.0%}    (target >= 50%)")


# -- the soak ----------------------------------------------------------------------------------


def soak_client(url: str, creds: Credentials, pool_id: str, name: str, seconds: float, results: Any) -> None:
    """Mixed operations until the deadline; reports statuses and the identities it was given."""
    connection = Connection(url)
    statuses: Counter[int] = Counter()
    developers: dict[str, str] = {}
    guests: list[str] = []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        step = n % 5
        if step in (0, 1):  # issue a token for a new developer user (signed)
            user = f"{name}-{n}"
            status, body = connection.send(
                signed(
                    url,
                    creds,
                    "GetOpenIdTokenForDeveloperIdentity",
                    {"IdentityPoolId": pool_id, "Logins": {PROVIDER: user}},
                )
            )
            if status == 200:
                developers[user] = json.loads(body)["IdentityId"]
        elif step == 2 and developers:  # look one up again (signed)
            user = next(iter(developers)) if n % 2 else list(developers)[-1]
            status, body = connection.send(
                signed(
                    url, creds, "LookupDeveloperIdentity", {"IdentityPoolId": pool_id, "DeveloperUserIdentifier": user}
                )
            )
            if status == 200 and json.loads(body)["IdentityId"] != developers[user]:
                status = 599  # a wrong answer counts as a failure
        elif step == 3:  # a guest identity and its token (unsigned)
            status, body = connection.send(signed(url, None, "GetId", {"IdentityPoolId": pool_id}))
            if status == 200:
                guests.append(json.loads(body)["IdentityId"])
                statuses[status] += 1
                status, body = connection.send(signed(url, None, "GetOpenIdToken", {"IdentityId": guests[-1]}))
        else:  # describe an identity (signed)
            identity = guests[-1] if guests else next(iter(developers.values()), None)
            if identity is None:
                continue
            status, body = connection.send(signed(url, creds, "DescribeIdentity", {"IdentityId": identity}))
        statuses[status] += 1
    results.put((dict(statuses), developers, guests))


def soak(seconds: float, clients: int = 8) -> int:
    from cogid.local import client

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        creds = local_key(home)
        # Its guests' unsigned calls, hundreds a second from one address, are load, not a flood.
        process, url = start_cogid(home, "--unsigned-rate", "0")
        try:
            pool_id = make_pool(url, creds, allow_guests=True)
            context = multiprocessing.get_context("fork")
            results = context.Queue()
            workers = [
                context.Process(target=soak_client, args=(url, creds, pool_id, f"soak{i}", seconds, results))
                for i in range(clients)
            ]
            for worker in workers:
                worker.start()
            outcomes = [results.get() for _ in workers]
            for worker in workers:
                worker.join()
        finally:
            exit_code = stop(process)

        statuses: Counter[int] = Counter()
        developers: dict[str, str] = {}
        guests: list[str] = []
        for counts, issued, made in outcomes:
            statuses.update(counts)
            developers.update(issued)
            guests += made

        # Every identity the server handed out must be in the store, read after it stopped.
        cognito = client("cognito-identity", home=home)
        stored: set[str] = set()
        page: dict[str, Any] = {}
        while True:
            more = {"NextToken": page["NextToken"]} if page.get("NextToken") else {}
            page = cognito.list_identities(IdentityPoolId=pool_id, MaxResults=60, **more)
            stored.update(identity["IdentityId"] for identity in page["Identities"])
            if not page.get("NextToken"):
                break
        issued_ids = set(developers.values()) | set(guests)
        missing = issued_ids - stored

    failures = sum(count for status, count in statuses.items() if status >= 500)
    total = sum(statuses.values())
    print(
        f"soak: {seconds:g} s, {clients} clients, {total} requests ({total / seconds:.0f}/s), statuses {dict(statuses)}"
    )
    print(
        f"  identities issued {len(issued_ids)} ({len(developers)} developer, {len(guests)} guest), "
        f"missing from the store afterwards: {len(missing)}"
    )
    print(f"  5xx replies: {failures}; server exit code {exit_code}")
    ok = failures == 0 and not missing and exit_code == 0 and set(statuses) == {200}
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput row")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="run the soak instead (e.g. 60)")
    args = parser.parse_args()
    if args.soak:
        sys.exit(soak(args.soak))
    benchmark(args.seconds, args.clients)


if __name__ == "__main__":
    main()
