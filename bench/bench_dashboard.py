"""The dashboard of `cogid serve` on a pool of 100,000 identities (issue 19).

    .venv/bin/python bench/bench_dashboard.py [--identities N] [--requests N]

Each page's whole HTTP round trip (urllib, a new connection each, as a browser's first visit),
median of --requests after one to warm up, against `cogid serve` with two workers, beside the
server's JWKS document (a request that reads nothing from the store) as the anchor measured in
the same run. Target: the identities page and a search each under 200 ms.

The store is built by bench_targets.build_store: identities of developer users user-0, user-1,
... with the rows GetOpenIdTokenForDeveloperIdentity writes, checked through the service.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from anchors import Row, table
from bench_targets import build_store

TARGET_MS = 200.0


KEY = "bench-dashboard-key-0123456789"
COOKIE: dict[str, str] = {}  # the dashboard's key, as a browser holds it once it opened the printed URL


def fetched_ms(url: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=COOKIE), timeout=30) as reply:
        reply.read()
        assert reply.status == 200, (url, reply.status)
    return (time.perf_counter() - began) * 1000


def median_ms(url: str, requests: int) -> float:
    fetched_ms(url)
    return statistics.median(fetched_ms(url) for _ in range(requests))


def benchmark(identities: int, requests: int) -> int:
    from cogid.local.service import close_services, open_service
    from cogid.local.transport.server import running_server

    with tempfile.TemporaryDirectory(prefix="cogid-bench-dashboard-") as tmp:
        home = Path(tmp)
        began = time.perf_counter()
        pool, _ = build_store(home, identities)
        print(f"store: {identities:,} identities built in {time.perf_counter() - began:.1f} s")
        store = open_service(home).store
        with store.read():
            late = store.db.execute("SELECT max(seq) AS seq FROM identities").fetchone()["seq"] - 50
            some = store.db.execute("SELECT id FROM identities WHERE seq = ?", (late,)).fetchone()["id"]
        close_services()
        with running_server(home, workers=2, dashboard=True, dashboard_key=KEY) as url:
            COOKIE["Cookie"] = f"cogid_dashboard_{urllib.parse.urlsplit(url).port}={KEY}"
            board = f"{url}/_cogid/"
            identities_page = f"{board}pools/{urllib.parse.quote(pool, safe='')}/identities"
            anchor = median_ms(url + "/.well-known/jwks_uri", requests)
            pages = [
                ("identities, first page (100)", identities_page, True),
                ("identities, a page near the end", f"{identities_page}?after={late - 200}", True),
                ("search: a user id's start (user-5000)", f"{identities_page}?q=user-5000", True),
                ("search: a broad start (user-), first 100", f"{identities_page}?q=user-", True),
                ("search: an identity id", f"{identities_page}?q={urllib.parse.quote(some, safe='')}", True),
                ("search: no match", f"{identities_page}?q=nobody", True),
                ("the pool (counts its identities)", f"{board}pools/{urllib.parse.quote(pool, safe='')}", False),
                ("the pools (counts every pool's)", board, False),
                ("an identity", f"{board}identities/{urllib.parse.quote(some, safe='')}", False),
            ]
            rows = []
            for what, page, targeted in pages:
                ms = median_ms(page, requests)
                rows.append(
                    Row(
                        what,
                        f"{ms:.1f} ms",
                        f"JWKS GET {anchor:.1f} ms",
                        ms / anchor,
                        f"< {TARGET_MS:.0f} ms" if targeted else "",
                        ms < TARGET_MS if targeted else None,
                    )
                )
    print(f"{identities:,} identities, median of {requests} requests each")
    print(table(rows))
    return 0 if all(row.passed is not False for row in rows) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    sys.exit(benchmark(args.identities, args.requests))


if __name__ == "__main__":
    main()
