"""Fault injection: kill -9 in the middle of writing, then count what was lost or duplicated.

    .venv/bin/python bench/bench_faults.py [--quick] [--rounds N]

Three runs, each repeated over several rounds with the kill at a random moment:

1. Bulk issuance: `cogid token issue --users-from -` is killed with SIGKILL while it issues,
   three times, each time rerun with the same users; the fourth run is left to complete. Issued = users whose token line
   was printed; lost = a printed identity id that the store no longer gives that user;
   duplicated = identities in the pool beyond one per user, or a user given two ids.
2. `cogid serve`: 8 threads issue developer tokens over HTTP while the server's whole process
   group is killed with SIGKILL; the server restarts on the same store. Lost = a user whose
   acknowledged (200) identity id the store no longer gives; duplicated = as above.
3. Cognito Sync writes through `cogid serve`: threads each own a dataset and keep rewriting one
   key (ListRecords, then UpdateRecords); the server is killed and restarted. Lost = an
   acknowledged write whose value and sync count the store no longer has (or has older);
   duplicated = two acknowledged writes of one dataset at the same sync count.

Every count of lost and duplicated must be 0: a write a client saw acknowledged is committed
(WAL, one transaction per operation), and the UNIQUE constraints and BEGIN IMMEDIATE keep two
writers from both succeeding.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PROVIDER = "login.faults.app"
KILLS_PER_ROUND = 3


def cogid_env(home: Path) -> dict[str, str]:
    return {**os.environ, "COGID_HOME": str(home), "COGID_OUTPUT": "json"}


def local(service: str, home: Path) -> Any:
    from cogid.local import client

    return client(service, home=home)


def make_pool(home: Path) -> str:
    cognito = local("cognito-identity", home)
    return str(
        cognito.create_identity_pool(
            IdentityPoolName="faults", AllowUnauthenticatedIdentities=True, DeveloperProviderName=PROVIDER
        )["IdentityPoolId"]
    )


def identities_of(home: Path, pool_id: str, users: list[str]) -> tuple[dict[str, str], int]:
    """Each user's identity id as the store has it now, and how many identities the pool holds."""
    from cogid.local.service import close_services

    close_services()  # read the store as it is on disk now
    cognito = local("cognito-identity", home)
    owners = {}
    for user in users:
        with contextlib.suppress(Exception):  # a user never issued
            answer = cognito.lookup_developer_identity(IdentityPoolId=pool_id, DeveloperUserIdentifier=user)
            owners[user] = answer["IdentityId"]
    count, token = 0, None
    while True:
        page = cognito.list_identities(IdentityPoolId=pool_id, MaxResults=60, **({"NextToken": token} if token else {}))
        count += len(page["Identities"])
        token = page.get("NextToken")
        if not token:
            return owners, count


# -- 1. bulk issuance ---------------------------------------------------------------------------


def bulk(rounds: int, users_per_round: int) -> dict[str, int]:
    totals = {"issued": 0, "lost": 0, "duplicated": 0, "kills": 0}
    for round_ in range(rounds):
        home = Path(tempfile.mkdtemp(prefix="faults-bulk-"))
        pool_id = make_pool(home)
        subprocess.run(
            [sys.executable, "-m", "cogid", "profile", "set", "identity_pool_id", pool_id],
            env=cogid_env(home),
            check=True,
            capture_output=True,
        )
        users = [f"r{round_}-u{i}" for i in range(users_per_round)]
        printed: dict[str, set[str]] = {}
        done, attempt = False, 0
        while not done:
            attempt += 1
            process = subprocess.Popen(
                [sys.executable, "-m", "cogid", "token", "issue", "--users-from", "-"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=cogid_env(home),
                start_new_session=True,  # its worker processes too: one group to kill
                text=True,
            )
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write("".join(user + "\n" for user in users))
                process.stdin.close()
            except BrokenPipeError:
                pass
            # Killed at a random moment KILLS_PER_ROUND times, then left to finish the run.
            killer = threading.Timer(random.uniform(0.3, 1.0), lambda p=process: _kill_group(p))
            if attempt <= KILLS_PER_ROUND:
                killer.start()
            for line in process.stdout:
                try:
                    answer = json.loads(line)
                except ValueError:
                    continue  # a line cut by the kill: never taken as issued
                printed.setdefault(answer.get("User", ""), set()).add(answer["IdentityId"])
            code = process.wait()
            killer.cancel()
            if code == -signal.SIGKILL:
                totals["kills"] += 1
            elif code != 0:
                raise RuntimeError(f"token issue exited {code} without being killed")
            else:
                done = True
        owners, count = identities_of(home, pool_id, users)
        totals["issued"] += len(owners)
        totals["lost"] += sum(1 for user in users if user not in owners)
        totals["duplicated"] += max(0, count - len(users)) + sum(1 for ids in printed.values() if len(ids) > 1)
        totals["lost"] += sum(1 for user, ids in printed.items() if user in owners and owners[user] not in ids)
    return totals


def _kill_group(process: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# -- 2 and 3. cogid serve -------------------------------------------------------------------


def start_server(home: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cogid.local.transport.server", str(home), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # the master and its workers: one process group to kill
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def remote(service: str, url: str, key: dict[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10),
    )


def serve_tokens(rounds: int, seconds: float) -> dict[str, int]:
    return _summed(_tokens_round(round_, seconds) for round_ in range(rounds))


def _summed(rounds: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for counts in rounds:
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    return totals


def _tokens_round(round_: int, seconds: float) -> dict[str, int]:
    home = Path(tempfile.mkdtemp(prefix="faults-serve-"))
    pool_id = make_pool(home)
    key = local("iam", home).create_access_key()["AccessKey"]
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    users: list[str] = []
    process, url = start_server(home)

    def client(worker: int) -> None:
        cognito = remote("cognito-identity", url, key)
        n = 0
        while True:
            user = f"r{round_}-w{worker}-u{n}"
            n += 1
            with lock:
                users.append(user)
            try:
                issued = cognito.get_open_id_token_for_developer_identity(
                    IdentityPoolId=pool_id, Logins={PROVIDER: user}
                )
            except Exception:  # noqa: BLE001 - the server is gone: stop
                return
            with lock:
                acknowledged[user] = issued["IdentityId"]

    _kill_midway(process, [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)], seconds)
    owners, count = identities_of(home, pool_id, users)
    return {
        "kills": 1,
        "acknowledged": len(acknowledged),
        "lost": sum(1 for user, identity in acknowledged.items() if owners.get(user) != identity),
        "duplicated": max(0, count - len(owners)),
    }


def _kill_midway(process: subprocess.Popen[Any], threads: list[threading.Thread], seconds: float) -> None:
    """Run the client threads, kill the server's process group at a random moment, wait for them."""
    for thread in threads:
        thread.start()
    time.sleep(random.uniform(seconds / 2, seconds))
    _kill_group(process)
    process.wait()
    for thread in threads:
        thread.join(15)


def serve_sync(rounds: int, seconds: float) -> dict[str, int]:
    return _summed(_sync_round(round_, seconds) for round_ in range(rounds))


def _sync_round(round_: int, seconds: float) -> dict[str, int]:
    home = Path(tempfile.mkdtemp(prefix="faults-sync-"))
    pool_id = make_pool(home)
    cognito = local("cognito-identity", home)
    owners = [cognito.get_id(IdentityPoolId=pool_id)["IdentityId"] for _ in range(8)]
    key = local("iam", home).create_access_key()["AccessKey"]
    acknowledged: dict[str, list[tuple[int, str]]] = {identity: [] for identity in owners}
    process, url = start_server(home)

    def writer(identity: str) -> None:
        sync = remote("cognito-sync", url, key)
        where = {"IdentityPoolId": pool_id, "IdentityId": identity, "DatasetName": "d"}
        count, n = 0, 0
        while True:
            try:
                token = sync.list_records(**where)["SyncSessionToken"]
                value = f"{round_}-{n}"
                patch = {"Op": "replace", "Key": "k", "Value": value, "SyncCount": count}
                written = sync.update_records(**where, SyncSessionToken=token, RecordPatches=[patch])["Records"][0]
            except Exception:  # noqa: BLE001 - the server is gone: stop
                return
            count = written["SyncCount"]
            acknowledged[identity].append((count, value))
            n += 1

    _kill_midway(process, [threading.Thread(target=writer, args=(i,), daemon=True) for i in owners], seconds)
    from cogid.local.service import close_services

    close_services()
    sync = local("cognito-sync", home)
    totals = {"kills": 1, "acknowledged": 0, "lost": 0, "duplicated": 0}
    for identity, writes in acknowledged.items():
        totals["acknowledged"] += len(writes)
        counts = [count for count, _ in writes]
        totals["duplicated"] += len(counts) - len(set(counts))
        if not writes:
            continue
        last = max(writes)
        records = sync.list_records(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="d")["Records"]
        stored = next(((r["SyncCount"], r.get("Value")) for r in records if r["Key"] == "k"), (0, None))
        totals["lost"] += int(stored != last and stored[0] <= last[0])
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round of each")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    seconds = 1.0 if args.quick else 3.0
    random.seed(os.getpid())
    runs = [
        ("bulk token issue, kill -9 and rerun", bulk(rounds, 1000 if args.quick else 3000)),
        ("cogid serve tokens, kill -9 the server", serve_tokens(rounds, seconds)),
        ("cogid serve Cognito Sync writes, kill -9", serve_sync(rounds, seconds)),
    ]
    failed = False
    print(f"{'run':44} {'kills':>6} {'issued/acked':>13} {'lost':>6} {'duplicated':>11}")
    for name, totals in runs:
        done = totals.get("issued", totals.get("acknowledged", 0))
        print(f"{name:44} {totals['kills']:>6} {done:>13,} {totals['lost']:>6} {totals['duplicated']:>11}")
        failed = failed or totals["lost"] > 0 or totals["duplicated"] > 0
    print("FAIL: a write was lost or duplicated" if failed else "PASS: nothing lost or duplicated")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
