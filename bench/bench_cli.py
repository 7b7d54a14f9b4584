"""cogid's start-up and one-shot commands against the AWS CLI, and bulk token issuing.

    python3 bench/bench_cli.py [--runs 10] [--users 3000] [--venv DIR]

In one run: builds a clean venv with cogid installed from this checkout (or reuses --venv),
then times the median of --runs runs of (each pair in turns, so a drifting VM slows both alike)
  cogid --version                       vs  aws --version                               (target <= 0.2x)
  cogid --help                          vs  aws cognito-identity help                   (target <= 0.4x)
  cogid token issue --user alice        vs  aws cognito-identity get-open-id-token-for-developer-identity
      (local backend, in-process)           --endpoint-url <a running `cogid serve`>     (target <= 0.5x)
and `cogid token issue --users-from -` for --users new users, as tokens/s beside the raw RS512
(RSA-2048) signing rate of one core measured in the same run (target >= 0.7x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def median_pair(ours: list[str], env: dict[str, str], theirs: list[str], their_env: dict[str, str], runs: int):
    """Median seconds of each command, run in turns so that a VM whose speed drifts slows both alike."""
    mine, other = [], []
    for _ in range(runs):
        mine.append(seconds(ours, env))
        other.append(seconds(theirs, their_env))
    return statistics.median(mine), statistics.median(other)


def raw_signing_rate(python: str) -> float:
    """The anchor, measured with the clean venv's Python and cryptography."""
    done = subprocess.run(
        [python, str(Path(__file__).with_name("anchors.py"))], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def make_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    subprocess.run([str(where / "bin" / "pip"), "install", "-q", str(ROOT)], check=True)
    return where / "bin"


def env_for(home: Path) -> dict[str, str]:
    """cogid's and the AWS CLI's environment: cogid's home, and no AWS configuration or pager."""
    env = {
        **os.environ,
        "COGID_HOME": str(home),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    env.pop("AWS_PROFILE", None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--venv", type=Path, help="reuse this venv instead of building a clean one")
    args = parser.parse_args()
    aws = shutil.which("aws")
    if aws is None:
        sys.exit("the AWS CLI (aws) is needed for the comparison")

    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        bin_dir = args.venv / "bin" if args.venv else make_venv(scratch_dir / "venv")
        cogid = str(bin_dir / "cogid")
        home = scratch_dir / "home"
        env = env_for(home)
        subprocess.run(
            [cogid, "pool", "create", "bench", "--developer-provider", "login.bench", "--use"],
            env=env,
            check=True,
            capture_output=True,
        )
        key_id, secret = subprocess.run(
            [cogid, "keys", "create", "-o", "text"], env=env, check=True, capture_output=True, text=True
        ).stdout.split()
        pool = subprocess.run(
            [cogid, "profile", "show", "-o", "json"], env=env, check=True, capture_output=True, text=True
        ).stdout
        pool_id = __import__("json").loads(pool)["identity_pool_id"]
        server = subprocess.Popen(
            [cogid, "serve", "--port", "0", "--quiet"], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            endpoint = server.stdout.readline().strip()  # type: ignore[union-attr]
            aws_env = {**env, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
            pairs = [
                ("--version", [cogid, "--version"], [aws, "--version"], 0.2),
                ("--help", [cogid, "--help"], [aws, "cognito-identity", "help"], 0.4),
                (
                    "token issue",
                    [cogid, "token", "issue", "--user", "alice"],
                    [
                        aws,
                        "--endpoint-url",
                        endpoint,
                        "cognito-identity",
                        "get-open-id-token-for-developer-identity",
                        "--identity-pool-id",
                        pool_id,
                        "--logins",
                        "login.bench=alice",
                    ],
                    0.5,
                ),
            ]
            print(f"{'command':<14}{'cogid ms':>10}{'aws ms':>10}{'ratio':>8}{'target':>8}")
            for name, ours, theirs, target in pairs:
                mine, other = median_pair(ours, env, theirs, aws_env, args.runs)
                ratio = mine / other
                print(
                    f"{name:<14}{mine * 1000:>10.0f}{other * 1000:>10.0f}{ratio:>8.2f}{'<= ' + str(target):>8}"
                    f"  {'ok' if ratio <= target else 'MISSED'}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)

        users = "".join(f"bulk-user-{n}\n" for n in range(args.users))
        start = time.perf_counter()
        done = subprocess.run(
            [cogid, "token", "issue", "--users-from", "-"],
            input=users,
            env=env,
            text=True,
            capture_output=True,
            check=True,
        )
        elapsed = time.perf_counter() - start
        assert done.stdout.count("\n") == args.users
        rate = args.users / elapsed
        raw = raw_signing_rate(str(bin_dir / "python"))
        print(
            f"bulk issue: {rate:.0f} tokens/s for {args.users} users (whole command);"
            f" raw RS512-2048 signing {raw:.0f}/s on one core; ratio {rate / raw:.2f} (target >= 0.7)"
        )


if __name__ == "__main__":
    main()
