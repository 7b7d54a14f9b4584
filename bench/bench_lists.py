"""Streaming lists: `cogid identity list` on a pool of 100,000 identities, local backend.

    .venv/bin/python bench/bench_lists.py [--quick]

1. `cogid identity list -o jsonl | head -1`: seconds until the pipeline ends (cogid started,
   its first page written, head gone, cogid stopped by the closed pipe); median of 5, beside
   `cogid --version` (the interpreter and cogid's own start) in the same run. Target < 0.5 s.
2. `cogid identity list -o jsonl > /dev/null` (and -o text, -o json): identities a second over
   the whole list, pages of 60 (ListIdentities' maximum) as a device of the CLI asks for them,
   median of 3. Target >= 20,000/s for jsonl.

The store is built by bench_targets.build_store (issue 17's scale target builds its million the
same way): a pool made through the service, then its identities (each a developer user's, one
login) inserted through the service's own store in large transactions, with the rows
GetOpenIdTokenForDeveloperIdentity writes, checked through the service.

--quick: a smoke run on 5,000 identities.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_targets import build_store

FIRST_LINE_TARGET = 0.5  # seconds
RATE_TARGET = 20_000  # identities a second


def timed(command: str, env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{command}: exit {done.returncode}: {done.stderr}")
    return elapsed


def benchmark(identities: int) -> int:
    with tempfile.TemporaryDirectory(prefix="cogid-bench-lists-") as tmp:
        home = Path(tmp)
        began = time.perf_counter()
        pool_id, _ = build_store(home, identities)
        print(f"store: {identities:,} identities built in {time.perf_counter() - began:.1f} s")
        env = {**os.environ, "COGID_HOME": str(home), "COGID_IDENTITY_POOL_ID": pool_id}
        cogid = f"{sys.executable} -m cogid"
        timed(f"{cogid} identity list --max-items 1 -o jsonl >/dev/null", env)  # warm the page cache
        start = statistics.median(timed(f"{cogid} --version >/dev/null", env) for _ in range(5))
        first = statistics.median(timed(f"{cogid} identity list -o jsonl | head -1 >/dev/null", env) for _ in range(5))
        rates = {}
        for fmt in ("jsonl", "text", "json"):
            lines = f"{cogid} identity list -o {fmt} | wc -l"
            seconds = statistics.median(timed(f"{cogid} identity list -o {fmt} >/dev/null", env) for _ in range(3))
            count = int(subprocess.run(["sh", "-c", lines], env=env, capture_output=True, text=True).stdout)
            assert count >= identities, (fmt, count)
            rates[fmt] = identities / seconds
        print(f"`cogid --version` (start-up anchor): {start:.3f} s")
        print(
            f"`identity list -o jsonl | head -1`: {first:.3f} s (target < {FIRST_LINE_TARGET} s;"
            f" {first / start:.1f}x start-up)"
        )
        for fmt, rate in rates.items():
            target = f" (target >= {RATE_TARGET:,}/s)" if fmt == "jsonl" else ""
            print(f"`identity list -o {fmt}` whole list: {rate:,.0f} identities/s{target}")
        passed = first < FIRST_LINE_TARGET and rates["jsonl"] >= RATE_TARGET
        print("PASS" if passed else "FAIL")
        return 0 if passed else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on 5,000 identities")
    args = parser.parse_args()
    sys.exit(benchmark(5_000 if args.quick else 100_000))


if __name__ == "__main__":
    main()
