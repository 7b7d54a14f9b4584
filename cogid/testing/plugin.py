"""The pytest plugin cogid installs (entry point `pytest11`: `cogid`; `-p no:cogid` turns it off).

Fixtures:
- `cogid_local`: a fresh local backend for the test (cogid.testing.Backend), served in-process.
- `cogid_server`: one `cogid serve` for the session (cogid.testing.Server), emptied before each test.
- `cogid_env`: the environment that sends unmodified boto3 code's Cognito Identity, Cognito Sync,
  STS and IAM clients to `cogid_server`; the variables set, as a dict.

This module is imported at the start of every pytest run in an environment where cogid is
installed, so it imports nothing but pytest: boto3, the local service and the server are
imported by the fixtures that use them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from cogid.testing.backend import Backend
    from cogid.testing.server import Server

ENDPOINT_VARIABLES = (
    "AWS_ENDPOINT_URL_COGNITO_IDENTITY",
    "AWS_ENDPOINT_URL_COGNITO_SYNC",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_IAM",
)
# What would send boto3 elsewhere, or make it sign as someone else.
CLEARED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "cogid_server_port",
        "port the cogid_server fixture's `cogid serve` listens on (default 0: a free port)",
        default="0",
    )


def _set_up(make: Any) -> Any:
    """make(), with a set-up failure of cogid.testing made a pytest error that names its cause."""
    from cogid.testing._keys import SetupError
    from cogid.testing.mock import MockConflict, check_moto

    try:
        check_moto("cogid.testing")
        return make()
    except (SetupError, MockConflict) as error:
        failure = str(error)
    pytest.fail(failure, pytrace=False)  # out of the except block: the message alone, no chained traceback


@pytest.fixture
def cogid_local() -> Iterator[Backend]:
    """A fresh local Cognito Identity/Sync, STS and IAM for this test, in a temporary directory
    (removed afterwards): `.client(service)`, `.pool()`, `.social_token()`, `.decode()`, `.clock`."""
    from cogid.testing.backend import Backend

    backend: Backend = _set_up(lambda: Backend("cogid_local"))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def cogid_session_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The session's `cogid serve`, started at its first use; use `cogid_server`, which empties it."""
    from cogid.testing.server import Server

    raw = str(request.config.getini("cogid_server_port")).strip() or "0"
    if not raw.isdigit() or int(raw) > 65535:
        pytest.fail(f"cogid_server: ini option cogid_server_port = {raw!r}: expected a port, 0 to 65535", pytrace=False)
    server: Server = _set_up(lambda: Server.start(port=int(raw)))
    yield server
    server.stop()


@pytest.fixture
def cogid_server(cogid_session_server: Server) -> Server:
    """The session's `cogid serve` (one process for the whole run, on a free port, with a
    developer key), its store emptied before this test: `.url`, `.client(service)`, `.pool()`..."""
    _set_up(cogid_session_server.reset)
    return cogid_session_server


@pytest.fixture
def cogid_env(cogid_server: Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment variables that make `boto3.client("cognito-identity")` (and cognito-sync, sts,
    iam) reach `cogid_server`, signed with its developer key, in us-east-1; restored after the
    test. boto3's default session is reset, so it reads them. Returns the variables set."""
    import sys

    values = {name: cogid_server.url for name in ENDPOINT_VARIABLES}
    values.update(
        AWS_REGION=cogid_server.region,
        AWS_DEFAULT_REGION=cogid_server.region,
        AWS_ACCESS_KEY_ID=cogid_server.access_key_id,
        AWS_SECRET_ACCESS_KEY=cogid_server.secret_access_key,
    )
    # A proxy set for the machine's outgoing HTTP must not take calls to the local server.
    host = urlsplit(cogid_server.url).hostname or "127.0.0.1"
    for name in ("NO_PROXY", "no_proxy"):
        bypassed = [entry for entry in os.environ.get(name, "").split(",") if entry.strip()]
        values[name] = ",".join([*bypassed, host])
    for name in CLEARED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:  # a default session made earlier keeps the credentials it found then
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return values
