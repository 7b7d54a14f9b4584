"""The anchor every benchmark here measures itself against: raw RS512 (RSA-2048) signing.

python bench/anchors.py [PROCESSES]   # prints signatures/s, summed over the processes
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def raw_signer() -> Callable[[], bytes]:
    """One raw RS512 signature per call, with a loaded RSA-2048 key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"x" * 700  # about the size of a token's signing input
    return lambda: key.sign(message, padding.PKCS1v15(), hashes.SHA512())


def _sign_for(seconds: float, results: Any) -> None:
    sign = raw_signer()
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        sign()
        count += 1
    results.put(count / (time.perf_counter() - began))


def raw_signing_rate(processes: int = 1, seconds: float = 3.0) -> float:
    """Signatures per second with a loaded key, summed over `processes` signing at once."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_sign_for, args=(seconds, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    total = sum(results.get() for _ in workers)
    for worker in workers:
        worker.join()
    return float(total)


if __name__ == "__main__":
    print(raw_signing_rate(int(sys.argv[1]) if len(sys.argv) > 1 else 1))


# -- how every bench reports ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One measurement, beside the anchor measured in the same run."""

    what: str
    value: str
    anchor: str
    ratio: float | None  # None: a figure with no anchor
    target: str = ""
    passed: bool | None = None  # None: no target


HEADER = f"{'measurement':<46}{'value':>22}   {'anchor (same run)':<36}{'ratio':>8}   {'target':<9}result"


def line(row: Row) -> str:
    ratio = "" if row.ratio is None else f"{row.ratio:.3f}x"
    verdict = "" if row.passed is None else ("MET" if row.passed else "NOT MET")
    return f"{row.what:<46}{row.value:>22}   {row.anchor:<36}{ratio:>8}   {row.target:<9}{verdict}"


def table(rows: list[Row]) -> str:
    return "\n".join([HEADER, *map(line, rows)])
