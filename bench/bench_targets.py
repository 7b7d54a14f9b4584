"""Issue 17's six performance targets, each a ratio to an anchor measured in the same run.

    .venv/bin/python bench/bench_targets.py                 # all six, in order
    .venv/bin/python bench/bench_targets.py --target 1 3    # some of them
    .venv/bin/python bench/bench_targets.py --long          # target 6 at its full scale (slow)

1. Server: `cogid serve` (two workers on two cores, logging each request as it does by default,
   to /dev/null) under bench_serve.py's 8 signed clients, GetOpenIdTokenForDeveloperIdentity
   for a new user per request, against moto_server under the same load, in alternating rounds
   (both servers up throughout, the idle one costs nothing). Targets: >= 8x moto's req/s, p99
   <= 25 ms, and server CPU time per request (user + system of every server process, over the
   load) <= 2x the CPU time of one bare RS512 signature (one process, measured between rounds).
2. One command: `cogid token issue --user alice` (local backend) against the AWS CLI making the
   same call to a running `cogid serve`, medians of alternating runs, from a clean venv (pip
   compiles its bytecode; or --venv DIR). Target <= 0.30x. Printed beside it: the floor it
   stands on (Python start-up, `cogid --version`: Python with Typer and the CLI's modules, one
   signature) and what remains above it.
3. In-process: tokens/s through cogid.local.client("cognito-identity") (boto3) and through
   cogid.local.direct_client (boto3-free), for new and for existing users, against raw pyjwt
   RS512 signing (jwt.encode of the same claims with an RSA-2048 key), in alternating rounds.
   Targets >= 0.40x (boto3) and >= 0.75x (boto3-free).
4. Scale: a store of 1,000,000 identities (developer users, as GetOpenIdTokenForDeveloperIdentity
   writes them: identities and logins rows, inserted in bulk through the store's connection,
   then read back through the service) against one of 1,000: per-call latency (median of
   alternating rounds, through the boto3-free client) of issuance for a new user, for an
   existing user, LookupDeveloperIdentity, DescribeIdentity and ListIdentities' first page
   (60). Target: each <= 1.2x; the store file's bytes per identity reported. Target: built in
   under 5 minutes.
5. Bulk: `cogid token issue --users-from -` of 8,000 new users, whole command (start-up
   included), tokens/s against one core's raw RS512 signing rate. Target >= 1.0x.
6. Memory: `cogid serve`'s total resident memory (every process) after 100,000 requests and
   after 1,000,000 (--long; by default after 20,000 and 100,000, as a trend): within 10%, and
   under 250 MB. Bulk issuance of 1,000,000 users (--long; by default 200,000) from a pipe:
   peak resident memory of cogid and its workers, and at a quarter of the way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anchors import Row, line, raw_signer, raw_signing_rate  # noqa: E402
from bench_cli import env_for, make_venv, median_pair  # noqa: E402
from bench_serve import (  # noqa: E402
    PROVIDER,
    Credentials,
    local_key,
    make_pool,
    run_load,
    start_moto,
    stop,
    token_requests,
)

CLIENTS = 8


ROWS: list[Row] = []


def report(row: Row) -> None:
    ROWS.append(row)
    print(line(row), flush=True)


# -- processes ----------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        queue += [int(child) for child in children]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its descendants."""
    total = 0
    for each in process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of `pid` and its descendants, summed (VmRSS of each)."""
    total = 0
    for each in process_tree(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for field in status.splitlines():
            if field.startswith("VmRSS:"):
                total += int(field.split()[1]) * 1024
    return total


def cpu_time_per_signature(signatures: int = 1500) -> float:
    """CPU seconds of one bare RS512 (RSA-2048) signature, in this process."""
    sign = raw_signer()
    sign()
    began = time.process_time()
    for _ in range(signatures):
        sign()
    return (time.process_time() - began) / signatures


@contextmanager
def cogid_serve(home: Path, *options: str, python: str = sys.executable) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`cogid serve --port 0` for `home`, its request log (stderr) to /dev/null."""
    process = subprocess.Popen(
        [python, "-m", "cogid", "serve", "--port", "0", *options],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("cogid serve did not start")
        yield process, url
    finally:
        stop(process)


# -- 1. server ----------------------------------------------------------------------------------


def target_server(rounds: int, seconds: float, serve_options: tuple[str, ...] = ()) -> None:
    print(f"1. cogid serve vs moto_server, {CLIENTS} signed clients, new user per request, {rounds} x {seconds:g} s")
    moto = start_moto()
    if moto is None:
        sys.exit("moto_server is needed (pip install 'moto[server]' into the venv)")
    moto_process, moto_url = moto
    fake = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    runs: dict[str, list[dict[str, Any]]] = {"cogid": [], "moto": []}
    signatures: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp, cogid_serve(Path(tmp), *serve_options) as (process, url):
            creds = local_key(Path(tmp))
            pool, moto_pool = make_pool(url, creds), make_pool(moto_url, fake)
            run_load(url, token_requests(url, creds, pool), CLIENTS, 1, "warm")  # both workers warm
            server = process.pid

            def server_cpu() -> float:
                return cpu_seconds(server)

            for r in range(rounds):
                signatures.append(cpu_time_per_signature())
                runs["cogid"].append(
                    run_load(url, token_requests(url, creds, pool), CLIENTS, seconds, f"c{r}", server_cpu)
                )
                runs["moto"].append(
                    run_load(moto_url, token_requests(moto_url, fake, moto_pool), CLIENTS, seconds, f"m{r}")
                )
            signatures.append(cpu_time_per_signature())
    finally:
        stop(moto_process)
    cogid_rate = statistics.median(run["rate"] for run in runs["cogid"])
    moto_rate = statistics.median(run["rate"] for run in runs["moto"])
    p99 = statistics.median(run["p99"] for run in runs["cogid"])
    cpu = statistics.median(run["probed"] / len(run["latencies"]) for run in runs["cogid"])
    signature = statistics.median(signatures)
    bad = {status for kind in runs for run in runs[kind] for status in run["statuses"] if status != 200}
    for kind in runs:
        print(
            f"     {kind} rounds: "
            + ", ".join(f"{run['rate']:.0f} req/s p99 {run['p99']:.1f} ms" for run in runs[kind])
        )
    if bad:
        print(f"     statuses other than 200: {bad}")
    report(
        Row(
            "1 throughput, req/s (median of rounds)",
            f"{cogid_rate:,.0f}",
            f"moto_server {moto_rate:,.0f}",
            cogid_rate / moto_rate,
            ">= 8x",
            cogid_rate >= 8 * moto_rate,
        )
    )
    report(Row("  p99 latency", f"{p99:.1f} ms", "", None, "<= 25 ms", p99 <= 25))
    report(
        Row(
            "  server CPU per request",
            f"{cpu * 1e6:,.0f} us",
            f"one RS512 signature {signature * 1e6:,.0f} us",
            cpu / signature,
            "<= 2x",
            cpu <= 2 * signature,
        )
    )


# -- 2 and 5. the command line --------------------------------------------------------------------


def seconds_of(command: list[str], env: dict[str, str], stdin: str | None = None) -> float:
    began = time.perf_counter()
    subprocess.run(
        command, env=env, input=stdin, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - began


def make_local_pool(cogid: str, env: dict[str, str]) -> str:
    subprocess.run(
        [cogid, "pool", "create", "bench", "--developer-provider", "login.bench", "--use"],
        env=env,
        check=True,
        capture_output=True,
    )
    shown = subprocess.run(
        [cogid, "profile", "show", "-o", "json"], env=env, check=True, capture_output=True, text=True
    )
    return str(json.loads(shown.stdout)["identity_pool_id"])


def target_command(bin_dir: Path, runs: int) -> None:
    print(
        "2. one `cogid token issue --user alice` vs one AWS CLI call to cogid serve,"
        f" medians of {runs} alternating runs"
    )
    aws = shutil.which("aws")
    if aws is None:
        sys.exit("the AWS CLI (aws) is needed for target 2")
    cogid, python = str(bin_dir / "cogid"), str(bin_dir / "python")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = env_for(home)
        pool_id = make_local_pool(cogid, env)
        key_id, secret = subprocess.run(
            [cogid, "keys", "create", "-o", "text"], env=env, check=True, capture_output=True, text=True
        ).stdout.split()
        with cogid_serve(home, "--quiet", python=python) as (_, endpoint):
            aws_env = {**env, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
            call = [aws, "--endpoint-url", endpoint, "cognito-identity", "get-open-id-token-for-developer-identity"]
            call += ["--identity-pool-id", pool_id, "--logins", "login.bench=alice"]
            seconds_of(call, aws_env)  # the server's first reply, and the AWS CLI's files, warm
            ours, theirs = median_pair([cogid, "token", "issue", "--user", "alice"], env, call, aws_env, runs)
        started, _ = median_pair([python, "-c", "pass"], env, [cogid, "--version"], env, runs)
        version = statistics.median(seconds_of([cogid, "--version"], env) for _ in range(runs))
    signature = 1 / raw_signing_rate(1, 1.0)
    cached = any((bin_dir.parent / "lib").glob("python3*/site-packages/cogid/__pycache__/*.pyc"))
    report(
        Row(
            "2 cogid token issue --user alice",
            f"{ours * 1000:.0f} ms",
            f"aws cognito-identity ... {theirs * 1000:.0f} ms",
            ours / theirs,
            "<= 0.30x",
            ours <= 0.30 * theirs,
        )
    )
    print(
        f"     floor: python start-up {started * 1000:.0f} ms; cogid --version (Python, Typer, the CLI's modules)"
        f" {version * 1000:.0f} ms; one signature {signature * 1000:.1f} ms. Above `cogid --version`:"
        f" {(ours - version) * 1000:.0f} ms (building Typer's command tree for `token`, the local service's"
        f" imports, the store and key, the call). Bytecode caches present: {cached}"
    )


def target_bulk(bin_dir: Path, users: int) -> None:
    print(f"5. cogid token issue --users-from - of {users:,} new users, whole command, vs one core's raw signing")
    cogid = str(bin_dir / "cogid")
    with tempfile.TemporaryDirectory() as tmp:
        env = env_for(Path(tmp))
        make_local_pool(cogid, env)
        raw_before = raw_signing_rate(1)
        elapsed = seconds_of(
            [cogid, "token", "issue", "--users-from", "-"], env, "".join(f"bulk-{n}\n" for n in range(users))
        )
        raw_after = raw_signing_rate(1)
    rate, raw = users / elapsed, (raw_before + raw_after) / 2
    report(
        Row(
            "5 bulk issue, tokens/s",
            f"{rate:,.0f}",
            f"raw RS512, 1 core {raw:,.0f}/s",
            rate / raw,
            ">= 1.0x",
            rate >= raw,
        )
    )


# -- 3. in-process --------------------------------------------------------------------------------


def target_inprocess(calls: int, round_size: int) -> None:
    print(f"3. in-process issuance vs raw pyjwt RS512 signing, {calls:,} calls each, rounds of {round_size}")
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from cogid.local import client, direct_client

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with tempfile.TemporaryDirectory() as home:
        boto3_client, direct = client("cognito-identity", home=home), direct_client(home)
        pool = boto3_client.create_identity_pool(
            IdentityPoolName="bench", AllowUnauthenticatedIdentities=False, DeveloperProviderName=PROVIDER
        )["IdentityPoolId"]
        known = [f"known-{n}" for n in range(100)]
        for user in known:
            direct.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={PROVIDER: user})
        token = direct.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={PROVIDER: "known-0"})[
            "Token"
        ]
        claims = jwt.decode(token, options={"verify_signature": False})  # a token's own claims
        kinds: dict[str, Callable[[int], Any]] = {
            "pyjwt": lambda n: jwt.encode(claims, key, algorithm="RS512", headers={"kid": "cognito-1", "typ": "JWS"}),
            "boto3 new": lambda n: boto3_client.get_open_id_token_for_developer_identity(
                IdentityPoolId=pool, Logins={PROVIDER: f"b-{n}"}
            ),
            "direct new": lambda n: direct.get_open_id_token_for_developer_identity(
                IdentityPoolId=pool, Logins={PROVIDER: f"d-{n}"}
            ),
            "boto3 existing": lambda n: boto3_client.get_open_id_token_for_developer_identity(
                IdentityPoolId=pool, Logins={PROVIDER: known[n % 100]}
            ),
            "direct existing": lambda n: direct.get_open_id_token_for_developer_identity(
                IdentityPoolId=pool, Logins={PROVIDER: known[n % 100]}
            ),
        }
        spent = dict.fromkeys(kinds, 0.0)
        for first in range(0, calls, round_size):
            for kind, call in kinds.items():
                began = time.perf_counter()
                for n in range(first, first + round_size):
                    call(n)
                spent[kind] += time.perf_counter() - began
    rates = {kind: calls / seconds for kind, seconds in spent.items()}
    anchor = f"pyjwt RS512 {rates['pyjwt']:,.0f}/s"
    for kind, goal in (("boto3", 0.40), ("direct", 0.75)):
        for users in ("new", "existing"):
            rate = rates[f"{kind} {users}"]
            label = "cogid.local.client" if kind == "boto3" else "cogid.local.direct_client"
            report(
                Row(
                    f"3 {label}, {users} users",
                    f"{rate:,.0f} tokens/s",
                    anchor,
                    rate / rates["pyjwt"],
                    f">= {goal}x",
                    rate >= goal * rates["pyjwt"],
                )
            )


# -- 4. scale -------------------------------------------------------------------------------------


def build_store(home: Path, identities: int, batch: int = 50_000) -> tuple[str, Any]:
    """A pool of `identities` developer identities (users user-0...), with the rows
    GetOpenIdTokenForDeveloperIdentity writes for a new user (store/identity.py:
    insert_identity, add_login), inserted in large transactions through the service's own
    store; checked against a user the service made itself. Returns the pool and the client."""
    from cogid.local import direct_client
    from cogid.local.service import open_service

    direct = direct_client(home)
    pool = direct.create_identity_pool(
        IdentityPoolName="bench", AllowUnauthenticatedIdentities=False, DeveloperProviderName=PROVIDER
    )["IdentityPoolId"]
    made = direct.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={PROVIDER: "made-by-the-service"}
    )
    store = open_service(home).store
    region = pool.split(":")[0]
    with store.read():
        row = store.identity(made["IdentityId"])
        created = row["created"]
    store.db.execute("PRAGMA cache_size = -262144")  # the build's connection only: 256 MB
    for first in range(0, identities, batch):
        people, logins = [], []
        for n in range(first, min(first + batch, identities)):
            identity = f"{region}:{uuid.uuid4()}"
            now = created + n * 1e-3
            people.append((identity, pool, "authenticated", now, now))
            logins.append((pool, PROVIDER, f"user-{n}", identity, 1))
        with store.write():
            store.db.executemany(
                "INSERT INTO identities (id, pool_id, state, created, modified) VALUES (?, ?, ?, ?, ?)", people
            )
            store.db.executemany(
                "INSERT INTO logins (pool_id, provider, subject, identity_id, developer) VALUES (?, ?, ?, ?, ?)", logins
            )
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.db.execute("PRAGMA cache_size = -2000")
    # Read back through the service: a built user is found, described and listed as the one
    # the service made itself is.
    user = f"user-{identities // 2}"
    found = direct.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier=user)
    described = direct.describe_identity(IdentityId=found["IdentityId"])
    theirs = direct.describe_identity(IdentityId=made["IdentityId"])
    assert described["Logins"] == theirs["Logins"] == [PROVIDER], (described, theirs)
    assert set(described) == set(theirs)
    again = direct.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={PROVIDER: user})
    assert again["IdentityId"] == found["IdentityId"]
    listed = direct.list_identities(IdentityPoolId=pool, MaxResults=60)
    assert listed["Identities"][0]["IdentityId"] == made["IdentityId"] and "NextToken" in listed
    return pool, direct


def target_scale(identities: int, small: int, calls: int, rounds: int) -> None:
    print(f"4. {identities:,} identities vs {small:,}, {rounds} alternating rounds of {calls} calls per operation")
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        big_pool, big = build_store(Path(tmp) / "big", identities)
        built = time.perf_counter() - began
        size = sum(path.stat().st_size for path in (Path(tmp) / "big").glob("local.sqlite3*"))
        small_pool, little = build_store(Path(tmp) / "small", small)
        stores = {"big": (big_pool, big, identities), "small": (small_pool, little, small)}
        # Every call names another identity (a user spread over the whole store), so the big
        # store's pages are not all in cache from an earlier round.
        total = calls * rounds

        def user(store: str, k: int) -> str:
            return f"user-{(k * 7919) % stores[store][2]}"

        ids = {
            name: [
                client.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier=user(name, k))[
                    "IdentityId"
                ]
                for k in range(total)
            ]
            for name, (pool, client, _) in stores.items()
        }
        operations: dict[str, Callable[[str, int], Any]] = {
            "issue, new user": lambda s, k: stores[s][1].get_open_id_token_for_developer_identity(
                IdentityPoolId=stores[s][0], Logins={PROVIDER: f"new-{k}"}
            ),
            "issue, existing user": lambda s, k: stores[s][1].get_open_id_token_for_developer_identity(
                IdentityPoolId=stores[s][0], Logins={PROVIDER: user(s, k + 1)}
            ),
            "LookupDeveloperIdentity": lambda s, k: stores[s][1].lookup_developer_identity(
                IdentityPoolId=stores[s][0], DeveloperUserIdentifier=user(s, k + 2)
            ),
            "DescribeIdentity": lambda s, k: stores[s][1].describe_identity(IdentityId=ids[s][k]),
            "ListIdentities, first page": lambda s, k: stores[s][1].list_identities(
                IdentityPoolId=stores[s][0], MaxResults=60
            ),
        }
        times: dict[tuple[str, str], list[float]] = {}
        for r in range(rounds):
            for operation, call in operations.items():
                for store in ("big", "small") if r % 2 == 0 else ("small", "big"):
                    samples = times.setdefault((operation, store), [])
                    for k in range(r * calls, (r + 1) * calls):
                        began = time.perf_counter()
                        call(store, k)
                        samples.append(time.perf_counter() - began)
    print(
        f"     built in {built:.0f} s (target < 300 s); {size / identities:,.0f} bytes of store per identity"
        f" ({size / 2**20:,.0f} MiB)"
    )
    for operation in operations:
        big_ms = statistics.median(times[operation, "big"]) * 1000
        small_ms = statistics.median(times[operation, "small"]) * 1000
        report(
            Row(
                f"4 {operation}",
                f"{big_ms:.3f} ms",
                f"{small:,} identities: {small_ms:.3f} ms",
                big_ms / small_ms,
                "<= 1.2x",
                big_ms <= 1.2 * small_ms,
            )
        )
    report(Row("  store built", f"{built:.0f} s", "", None, "< 300 s", built < 300))


# -- 6. memory ------------------------------------------------------------------------------------


def target_memory(checkpoints: tuple[int, int], bulk_users: int, round_seconds: float = 10.0) -> None:
    first, last = checkpoints
    print(f"6. memory: cogid serve after {first:,} and {last:,} requests; bulk issuance of {bulk_users:,} users")
    with tempfile.TemporaryDirectory() as tmp, cogid_serve(Path(tmp), "--quiet") as (process, url):
        creds = local_key(Path(tmp))
        pool = make_pool(url, creds)
        served, at, r = 0, {}, 0
        while served < last:
            row = run_load(url, token_requests(url, creds, pool), CLIENTS, round_seconds, f"mem{r}")
            served += len(row["latencies"]) + CLIENTS  # and each client's warm-up call
            r += 1
            rss = rss_bytes(process.pid)
            for mark in checkpoints:
                if served >= mark and mark not in at:
                    at[mark] = (served, rss)
            print(f"     {served:>9,} requests: {rss / 2**20:6.1f} MB resident", flush=True)
    (n1, rss1), (n2, rss2) = at[first], at[last]
    report(
        Row(
            f"6 serve RSS after {n2:,} requests",
            f"{rss2 / 2**20:.1f} MB",
            f"after {n1:,}: {rss1 / 2**20:.1f} MB",
            rss2 / rss1,
            "<= 1.10x",
            rss2 <= 1.10 * rss1,
        )
    )
    report(Row("  serve RSS, all processes", f"{rss2 / 2**20:.1f} MB", "", None, "< 250 MB", rss2 < 250 * 2**20))

    with tempfile.TemporaryDirectory() as tmp:
        env = env_for(Path(tmp))
        make_local_pool(str(Path(sys.executable).parent / "cogid"), env)
        process = subprocess.Popen(
            [sys.executable, "-m", "cogid", "token", "issue", "--users-from", "-"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdin is not None and process.stdout is not None

        def feed() -> None:
            assert process.stdin is not None
            for start in range(0, bulk_users, 10_000):
                process.stdin.write(
                    "".join(f"bulk-{n}\n" for n in range(start, min(start + 10_000, bulk_users))).encode()
                )
            process.stdin.close()

        lines, peak, quarter = 0, 0, 0
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        began, sampled = time.perf_counter(), 0.0
        for _ in process.stdout:
            lines += 1
            now = time.perf_counter()
            if now - sampled > 0.25:
                sampled = now
                peak = max(peak, rss_bytes(process.pid))
                if lines <= bulk_users // 4:
                    quarter = max(quarter, peak)
        elapsed = time.perf_counter() - began
        process.wait()
        feeder.join()
    assert lines == bulk_users, lines
    report(
        Row(
            f"6 bulk issue of {bulk_users:,}: peak RSS",
            f"{peak / 2**20:.1f} MB",
            f"first quarter's peak {quarter / 2**20:.1f} MB",
            peak / quarter,
            "bounded",
            peak <= 1.10 * quarter,
        )
    )
    print(f"     {bulk_users / elapsed:,.0f} tokens/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, nargs="+", choices=range(1, 7), default=list(range(1, 7)))
    parser.add_argument("--long", action="store_true", help="target 6 at 1,000,000 requests and users")
    parser.add_argument("--venv", type=Path, help="targets 2 and 5: reuse this venv instead of building a clean one")
    parser.add_argument("--rounds", type=int, default=3, help="target 1's alternating rounds")
    parser.add_argument("--seconds", type=float, default=5.0, help="target 1's seconds per round")
    parser.add_argument("--quiet-serve", action="store_true", help="target 1: cogid serve --quiet (no request log)")
    parser.add_argument("--identities", type=int, default=1_000_000, help="target 4's big store")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start\n")
    for target in args.target:
        if target == 1:
            target_server(args.rounds, args.seconds, ("--quiet",) if args.quiet_serve else ())
        elif target in (2, 5):
            with tempfile.TemporaryDirectory() as scratch:
                bin_dir = args.venv / "bin" if args.venv else make_venv(Path(scratch) / "venv")
                if target == 2:
                    target_command(bin_dir, 11)
                else:
                    target_bulk(bin_dir, 8000)
        elif target == 3:
            target_inprocess(3000, 100)
        elif target == 4:
            target_scale(args.identities, 1000, 200, 4)
        elif target == 6:
            target_memory((100_000, 1_000_000) if args.long else (20_000, 100_000), 1_000_000 if args.long else 200_000)
        print(flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{sum(r.passed is True for r in ROWS)} met, {sum(r.passed is False for r in ROWS)} not met")


if __name__ == "__main__":
    main()
