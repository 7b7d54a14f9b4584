"""Where `cogid serve`'s CPU goes under issue 17's target 1 load: the profile behind its floor.

    .venv/bin/pip install -e '.[bench]'          # py-spy
    .venv/bin/python bench/profile_serve.py [--seconds 24] [--clients 8]

The server is started as bench_targets.target_server starts it (two workers, the request log on,
to /dev/null), warmed, and measured unprofiled for 10 s (requests/s, server CPU per request,
one bare RS512 signature's CPU); then py-spy samples each worker (200 Hz) while the same load
runs again. Each sample is charged to the deepest frame that matches a subsystem (RS512
signing, the store, SigV4, JSON, HTTP and asyncio...), and the table gives each one's share of
the workers' samples beside the self time of the top functions.

py-spy counts a worker's time waiting for a CPU as well as on one: with 8 clients beside 2
workers on 2 cores that is ~40% of it, charged mostly to the frame that woke a client (the
socket send). `perf record -g -p WORKERS` counts CPU time alone.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_serve import local_key, make_pool, run_load, token_requests
from bench_targets import CLIENTS, cogid_serve, cpu_seconds, cpu_time_per_signature, process_tree

# (subsystem, pattern on "function (file:line)"), tried on each frame from the leaf up.
SUBSYSTEMS = [
    ("RS512 signature", r"^encode_jws \(cogid/local/signing\.py|_rust\.abi3\.so|libcrypto"),
    ("SQLite and the store", r"cogid/local/store/|libsqlite3|_sqlite"),
    ("JSON (the json module)", r"\(json/"),
    ("SigV4 check and caller", r"cogid/local/wire/sigv4\.py|cogid/local/wire/caller\.py|cogid/local/iam/iam\.py"),
    ("request log", r"cogid/local/dashboard/recent\.py|RequestLog|Endpoint\._log"),
    ("wire: JSON 1.1 dispatch, validation", r"cogid/local/wire/|cogid/local/protocol\.py"),
    ("socket send (and waiting after it)", r"^_SelectorSocketTransport\.write"),
    ("gunicorn HTTP and asyncio", r"gunicorn/|asyncio/|selectors\.py"),
    ("identity model", r"cogid/local/identity/|uuid\.py"),
    ("Endpoint (server.py)", r"cogid/local/transport/server\.py"),
]


def shares(stacks: collections.Counter[str]) -> list[tuple[str, float]]:
    by_subsystem: collections.Counter[str] = collections.Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")[::-1]
        found = next((name for frame in frames for name, pattern in SUBSYSTEMS if re.search(pattern, frame)), "other")
        by_subsystem[found] += count
    total = sum(by_subsystem.values()) or 1
    return [(name, by_subsystem[name] / total) for name, _ in [*SUBSYSTEMS, ("other", "")]]


def self_time(stacks: collections.Counter[str], top: int) -> list[tuple[str, float]]:
    leaves: collections.Counter[str] = collections.Counter()
    for stack, count in stacks.items():
        leaves[stack.rsplit(";", 1)[-1]] += count
    total = sum(leaves.values()) or 1
    return [(frame, count / total) for frame, count in leaves.most_common(top)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=24.0, help="the profiled round's length")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory(prefix="cogid-profile-") as tmp, cogid_serve(Path(tmp)) as (process, url):
        creds = local_key(Path(tmp))
        pool = make_pool(url, creds)
        requests = token_requests(url, creds, pool)
        run_load(url, requests, args.clients, 1, "warm")
        workers = [pid for pid in process_tree(process.pid) if pid != process.pid]
        signature = cpu_time_per_signature()
        plain = run_load(url, requests, args.clients, 10, "plain", lambda: cpu_seconds(process.pid))
        per_request = plain["probed"] / len(plain["latencies"])
        outputs = [Path(tmp) / f"worker-{pid}.txt" for pid in workers]
        spies: list[subprocess.Popen[bytes]] = []

        def start_spies() -> float:  # run_load's probe, called as the load starts
            if not spies:
                for pid, output in zip(workers, outputs, strict=True):
                    command = [spy, "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
                    command += ["--duration", str(int(args.seconds) - 4), "--output", str(output)]
                    spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            return cpu_seconds(process.pid)

        run_load(url, requests, args.clients, args.seconds, "profiled", start_spies)
        for started in spies:
            started.wait()
        stacks: collections.Counter[str] = collections.Counter()
        for output in outputs:
            for line in output.read_text().splitlines():
                if line.strip():
                    stack, count = line.rsplit(" ", 1)
                    stacks[stack] += int(count)
    print(
        f"unprofiled: {plain['rate']:,.0f} requests/s, server CPU {per_request * 1e6:,.0f} us a request,"
        f" one RS512 signature's CPU {signature * 1e6:,.0f} us ({per_request / signature:.2f}x)"
    )
    print(f"\n{sum(stacks.values()):,} worker samples, by subsystem (deepest matching frame):")
    for name, share in shares(stacks):
        print(f"{share:7.1%}  {name}")
    print("\nself time, top 15:")
    for frame, share in self_time(stacks, 15):
        print(f"{share:7.1%}  {frame}")


if __name__ == "__main__":
    main()
