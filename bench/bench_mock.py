"""cogid.testing against moto in a test suite: 200 tests that each make a boto3 Cognito Identity
client, create a pool and issue a developer token, under `mock_cognito()` and under moto's
`mock_aws()`, in one run.

    .venv/bin/python bench/bench_mock.py [--tests 200] [--rounds 2]

Each suite is a real pytest run (a subprocess of its own: one pytest session, as in CI) of a
generated test file; the times are pytest's own per-test durations (set-up, call, tear-down), so
interpreter start-up and imports are left out of both, while cogid's one-time signing keys (made
in the first test of a session) are counted. The suites alternate round by round (cogid first,
then moto first) so that a CPU whose speed drifts slows both alike; each figure sums the rounds.

1. mock_cognito() total for the suite against moto's mock_aws() total: target <= 0.5x.
2. Entering the mock, per test (what a decorator or `with` costs before the test's first call).
3. The cogid_local fixture's set-up, per test, in a third suite of the same tests written with
   the fixture: target < 20 ms a test (mean; its first test makes the session's keys).

Needs moto (in the dev and test extras).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from anchors import Row, table

CONFTEST = '''
import json
import os

import pytest

DURATIONS = {}
ENTERED = []


@pytest.fixture
def entered():
    """Where a test records the seconds its mock took to enter."""
    return ENTERED


def pytest_runtest_logreport(report):
    DURATIONS.setdefault(report.nodeid, {})[report.when] = report.duration
    if report.failed:
        DURATIONS[report.nodeid]["failed"] = True


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump({"durations": DURATIONS, "entered": ENTERED}, out)
'''

# The same test for both mocks: the code under test is plain boto3, unaware of either.
MOCKED = """
import time

import boto3
import pytest

from {module} import {mock}


@pytest.mark.parametrize("n", range({tests}))
def test_pool_and_token(n, entered):
    started = time.perf_counter()
    with {mock}():
        entered.append(time.perf_counter() - started)
        cognito = boto3.client("cognito-identity", region_name="us-east-1")
        pool = cognito.create_identity_pool(
            IdentityPoolName="bench", AllowUnauthenticatedIdentities=False, DeveloperProviderName="login.bench.app"
        )
        issued = cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool["IdentityPoolId"], Logins={{"login.bench.app": f"user{{n}}"}}
        )
    assert issued["IdentityId"] and issued["Token"]
"""

FIXTURE = """
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_pool_and_token(n, cogid_local):
    cognito = cogid_local.client("cognito-identity")
    pool = cognito.create_identity_pool(
        IdentityPoolName="bench", AllowUnauthenticatedIdentities=False, DeveloperProviderName="login.bench.app"
    )
    issued = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool["IdentityPoolId"], Logins={{"login.bench.app": f"user{{n}}"}}
    )
    assert cogid_local.decode(issued["Token"])["sub"] == issued["IdentityId"]
"""

SUITES = {
    "cogid": ("test_cogid.py", MOCKED, {"module": "cogid.testing", "mock": "mock_cognito"}),
    "moto": ("test_moto.py", MOCKED, {"module": "moto", "mock": "mock_aws"}),
    "fixture": ("test_fixture.py", FIXTURE, {}),
}


@dataclass
class Run:
    totals: list[float]  # seconds per test: set-up + call + tear-down
    setups: list[float]  # pytest's set-up phase per test
    entered: list[float]  # seconds to enter the mock, per test (mocked suites)


def run_suite(directory: Path, name: str, tests: int) -> Run:
    file_name, template, names = SUITES[name]
    (directory / file_name).write_text(textwrap.dedent(template.format(tests=tests, **names)))
    out = directory / f"{name}.json"
    env = {
        **os.environ,
        "BENCH_OUT": str(out),
        # Alike for both: no AWS configuration of this machine's, no instance-metadata probing.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for variable in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(variable, None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", file_name],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"the {name} suite failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    data = json.loads(out.read_text())
    phases = list(data["durations"].values())
    if len(phases) != tests:
        sys.exit(f"the {name} suite ran {len(phases)} tests, not {tests}")
    return Run(
        totals=[sum(p.get(when, 0.0) for when in ("setup", "call", "teardown")) for p in phases],
        setups=[p.get("setup", 0.0) for p in phases],
        entered=data["entered"],
    )


def merge(runs: list[Run]) -> Run:
    return Run(
        totals=[t for r in runs for t in r.totals],
        setups=[s for r in runs for s in r.setups],
        entered=[e for r in runs for e in r.entered],
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def benchmark(tests: int, rounds: int) -> int:
    try:
        import moto  # noqa: F401 (only whether it is there)
    except ImportError:
        print("moto is not installed: .venv/bin/pip install -e '.[dev]'", file=sys.stderr)
        return 2
    runs: dict[str, list[Run]] = {name: [] for name in SUITES}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "conftest.py").write_text(CONFTEST)
        (directory / "pytest.ini").write_text("[pytest]\n")  # this directory is the rootdir
        for round_number in range(rounds):
            order = ["cogid", "moto", "fixture"] if round_number % 2 == 0 else ["moto", "cogid", "fixture"]
            for name in order:
                runs[name].append(run_suite(directory, name, tests))
                print(f"round {round_number + 1}: {name} done", file=sys.stderr)
    cogid, moto_run, fixture = (merge(runs[name]) for name in ("cogid", "moto", "fixture"))

    cogid_total, moto_total = sum(cogid.totals), sum(moto_run.totals)
    cogid_enter, moto_enter = statistics.mean(cogid.entered), statistics.mean(moto_run.entered)
    setup_mean = statistics.mean(fixture.setups)
    n = tests * rounds
    rows = [
        Row(
            f"1 mock_cognito(), {tests} tests x {rounds} rounds",
            f"{cogid_total:.2f} s",
            f"moto mock_aws {moto_total:.2f} s",
            cogid_total / moto_total,
            "<= 0.5x",
            cogid_total <= 0.5 * moto_total,
        ),
        Row(
            "  per test, mean (p50, p99)",
            f"{ms(cogid_total / n)} ({percentile(cogid.totals, 0.5) * 1000:.1f}, "
            f"{percentile(cogid.totals, 0.99) * 1000:.0f})",
            f"moto {ms(moto_total / n)} ({percentile(moto_run.totals, 0.5) * 1000:.0f}, "
            f"{percentile(moto_run.totals, 0.99) * 1000:.0f})",
            (cogid_total / n) / (moto_total / n),
        ),
        Row(
            "2 entering the mock, per test, mean (p99)",
            f"{ms(cogid_enter)} ({percentile(cogid.entered, 0.99) * 1000:.1f})",
            f"moto {ms(moto_enter)} ({percentile(moto_run.entered, 0.99) * 1000:.1f})",
            cogid_enter / moto_enter,
        ),
        Row(
            "3 cogid_local set-up, per test, mean (max)",
            f"{ms(setup_mean)} ({max(fixture.setups) * 1000:.0f})",
            f"moto mock_aws enter {ms(moto_enter)}",
            setup_mean / moto_enter,
            "< 20 ms",
            setup_mean < 0.020,
        ),
        Row(
            "  the cogid_local suite, per test, mean",
            ms(sum(fixture.totals) / n),
            f"moto {ms(moto_total / n)}",
            (sum(fixture.totals) / n) / (moto_total / n),
        ),
    ]
    print(
        f"\n{tests} tests a suite, each: a boto3 cognito-identity client, CreateIdentityPool,"
        f" GetOpenIdTokenForDeveloperIdentity; {rounds} rounds, alternating\n"
    )
    print(table(rows))
    ok = all(r.passed for r in rows if r.passed is not None)
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200, help="tests per suite")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each suite, alternating")
    args = parser.parse_args()
    sys.exit(benchmark(args.tests, args.rounds))


if __name__ == "__main__":
    main()
