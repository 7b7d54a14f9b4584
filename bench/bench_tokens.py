"""Developer tokens per second through cogid.local.client, beside raw RS512 signing.

    .venv/bin/python bench/bench_tokens.py [--users 3000] [--round 100]

Both figures come from this run, on one core: the raw rate signs with a loaded RSA-2048 key
through `cryptography` directly; the service rate is a full boto3 call served in-process
(validation, a SQLite transaction, token claims, RS512 signature, botocore parsing).
The two are measured in alternating rounds of --round calls, so that a CPU whose speed drifts
(a shared VM) slows both alike. Target (issue 2): service >= 50% of raw.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from anchors import raw_signer


def rates(users: int, round_size: int) -> tuple[float, float]:
    """(raw signatures/s, tokens/s for `users` new users), in alternating rounds."""
    from cogid.local import client

    sign = raw_signer()
    with tempfile.TemporaryDirectory() as home:
        cognito = client("cognito-identity", home=home)
        pool = cognito.create_identity_pool(
            IdentityPoolName="bench", AllowUnauthenticatedIdentities=False, DeveloperProviderName="login.bench"
        )["IdentityPoolId"]
        cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={"login.bench": "warm-up"})
        raw_seconds = token_seconds = 0.0
        for first in range(0, users, round_size):
            batch = range(first, min(first + round_size, users))
            start = time.perf_counter()
            for _ in batch:
                sign()
            middle = time.perf_counter()
            for n in batch:
                cognito.get_open_id_token_for_developer_identity(
                    IdentityPoolId=pool, Logins={"login.bench": f"user{n}"}
                )
            raw_seconds += middle - start
            token_seconds += time.perf_counter() - middle
        return users / raw_seconds, users / token_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--round", type=int, default=100, help="calls of each kind per round")
    args = parser.parse_args()
    raw, tokens = rates(args.users, args.round)
    print(f"raw RS512-2048 signatures/s (1 core):   {raw:8.0f}")
    print(f"tokens/s via cogid.local.client ({args.users} new users): {tokens:8.0f}")
    print(f"ratio: {tokens / raw:.0%} (target >= 50%)")


if __name__ == "__main__":
    main()
