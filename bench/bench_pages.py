"""Target 4's page reads: the store's indexes against covering ones for DescribeIdentity, in one run.

    .venv/bin/python bench/bench_pages.py                  # 1,000,000 vs 1,000 identities
    .venv/bin/python bench/bench_pages.py --identities 200000

Four stores built as bench_targets.py builds target 4's: a big one and a small one with the
store's schema, and each again with covering indexes for DescribeIdentity (an identity by id
with every column, read with INDEXED BY; an identity's logins by (identity_id, seq, provider)
in place of logins_identity, its providers read alone), the statements swapped per store. Per
call of DescribeIdentity and of issuance for a new user, in alternating rounds: SQLite's reads
of the file (read syscalls, from /proc/self/io: its page cache misses) and the median
latency (and its first quartile, less moved by other work on the machine). Latencies on a
shared machine drift by as much as the difference; the reads do not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_serve import PROVIDER  # noqa: E402
from bench_targets import build_store  # noqa: E402


def read_syscalls() -> int:
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("syscr"):
                return int(line.split()[1])
    return 0


def covering_indexes(home: Path) -> None:
    from cogid.local.service import open_service

    db = open_service(home).store.db
    db.execute("CREATE INDEX identities_by_id ON identities(id, pool_id, state, created, modified)")
    db.execute("CREATE INDEX logins_identity_providers ON logins(identity_id, seq, provider)")
    db.execute("DROP INDEX logins_identity")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=400, help="calls per store per round")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    from cogid.local.store import Store

    plain = {"identity": Store.identity, "logins": Store.logins}
    covered = {
        "identity": lambda self, i: self._one("SELECT * FROM identities INDEXED BY identities_by_id WHERE id = ?", i),
        "logins": lambda self, i: self.db.execute(
            "SELECT provider FROM logins WHERE identity_id = ? ORDER BY seq", (i,)
        ).fetchall(),  # DescribeIdentity reads only the providers
    }
    total = args.calls * args.rounds
    stores: dict[str, tuple[Any, list[str], str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in (
            ("big", args.identities),
            ("big covered", args.identities),
            ("small", 1000),
            ("small covered", 1000),
        ):
            home = Path(tmp) / name.replace(" ", "")
            pool, client = build_store(home, size)
            ids = [
                client.lookup_developer_identity(
                    IdentityPoolId=pool, DeveloperUserIdentifier=f"user-{k * 7919 % size}"
                )["IdentityId"]
                for k in range(total)
            ]
            if name.endswith("covered"):
                covering_indexes(home)
            stores[name] = (client, ids, pool)
        operations: dict[str, Callable[[str, int], Any]] = {
            "DescribeIdentity": lambda s, k: stores[s][0].describe_identity(IdentityId=stores[s][1][k]),
            "issue, new user": lambda s, k: stores[s][0].get_open_id_token_for_developer_identity(
                IdentityPoolId=stores[s][2], Logins={PROVIDER: f"new-{k}"}
            ),
        }
        for operation, call in operations.items():
            reads: dict[str, list[int]] = {}
            times: dict[str, list[float]] = {}
            for r in range(args.rounds):
                order = ["big", "big covered", "small", "small covered"]
                for name in order if r % 2 == 0 else reversed(order):
                    for method, made in (covered if name.endswith("covered") else plain).items():
                        setattr(Store, method, made)
                    for k in range(r * args.calls, (r + 1) * args.calls):
                        before, began = read_syscalls(), time.perf_counter()
                        call(name, k)
                        times.setdefault(name, []).append(time.perf_counter() - began)
                        reads.setdefault(name, []).append(read_syscalls() - before)
            for method, made in plain.items():
                setattr(Store, method, made)
            ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
            low = {name: statistics.quantiles(values, n=4)[0] * 1000 for name, values in times.items()}
            print(f"{operation}, {args.identities:,} identities vs 1,000:")
            for indexes in ("", " covered"):
                big, small = f"big{indexes}", f"small{indexes}"
                label, big_reads, small_reads = indexes.strip() or "as stored", reads[big], reads[small]
                print(
                    f"  {label}: {statistics.mean(big_reads):.2f} vs {statistics.mean(small_reads):.2f}"
                    f" file reads a call; median {ms[big]:.3f} vs {ms[small]:.3f} ms, {ms[big] / ms[small]:.2f}x;"
                    f" first quartile {low[big]:.3f} vs {low[small]:.3f} ms, {low[big] / low[small]:.2f}x"
                )


if __name__ == "__main__":
    main()
