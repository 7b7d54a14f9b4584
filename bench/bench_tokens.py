"""Developer tokens per second through cogid.local.client, beside raw RS512 signing.

    .venv/bin/python bench/bench_tokens.py [--users 2000]

Both figures come from this run, on one core: the raw rate signs with a loaded RSA-2048 key
through `cryptography` directly; the service rate is a full boto3 call served in-process
(validation, a SQLite transaction, token claims, RS512 signature, botocore parsing).
Target (issue 2): service >= 50% of raw.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from anchors import raw_signing_rate


def service_rate(users: int) -> float:
    from cogid.local import client

    with tempfile.TemporaryDirectory() as home:
        cognito = client("cognito-identity", home=home)
        pool = cognito.create_identity_pool(
            IdentityPoolName="bench", AllowUnauthenticatedIdentities=False, DeveloperProviderName="login.bench"
        )["IdentityPoolId"]
        cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={"login.bench": "warm-up"})
        start = time.perf_counter()
        for n in range(users):
            cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={"login.bench": f"user{n}"})
        return users / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    args = parser.parse_args()
    raw = raw_signing_rate()
    tokens = service_rate(args.users)
    print(f"raw RS512-2048 signatures/s (1 core):   {raw:8.0f}")
    print(f"tokens/s via cogid.local.client ({args.users} new users): {tokens:8.0f}")
    print(f"ratio: {tokens / raw:.0%} (target >= 50%)")


if __name__ == "__main__":
    main()
