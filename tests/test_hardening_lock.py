"""A store whose writer is stopped, and a store reached through a symbolic link (issue 15,
items 1 and 3's store part): every wait for the store ends (COGID_STORE_TIMEOUT), naming who
holds it; the CLI exits 6 and `cogid serve` throttles; a link in place of the store or its lock
is refused rather than followed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import standard_trust_policy

import cogid.local
from cogid.local.service import STORE_FILE, close_services
from cogid.local.transport.server import running_server

DEV = "login.example.app"

# Takes the store's write lock and keeps it; the test then stops it (kill -STOP).
HOLDER = """
import sys, time
from cogid.local.store import Store
store = Store(sys.argv[1])
with store.write():
    print("holding", flush=True)
    time.sleep(600)
"""


@contextmanager
def stopped_writer(home: Path) -> Iterator[subprocess.Popen[str]]:
    """A process that holds the store's write lock, stopped while holding it."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(home / STORE_FILE)],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "COGID_STORE_TIMEOUT": "30"})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        os.kill(holder.pid, signal.SIGSTOP)
        yield holder
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.kill()
        holder.wait()


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("cogid: error: "), stderr
    return lines[0]


def test_cli_gives_up_on_a_stopped_writer_naming_its_pid(cli, isolated, monkeypatch):
    assert cli("pool", "create", "app", "--developer-provider", DEV, "--use").exit_code == 0
    close_services()
    with stopped_writer(isolated) as holder:
        env = {**os.environ, "COGID_STORE_TIMEOUT": "1"}
        start = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "cogid", "token", "issue", "--user", "x"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail("cogid token issue waited for a stopped writer without end")
        elapsed = time.monotonic() - start
    assert process.returncode == 6, err
    assert out == ""
    line = _one_error_line(err)
    assert "busy" in line and f"pid {holder.pid}" in line and str(isolated / STORE_FILE) in line, line
    assert elapsed < 8, elapsed


def test_store_timeout_must_be_a_number(cli, isolated):
    result = cli("keys", "create", env={"COGID_STORE_TIMEOUT": "soon"})
    assert result.exit_code == 3, result.stderr
    line = _one_error_line(result.stderr)
    assert "COGID_STORE_TIMEOUT" in line and "soon" in line


def _remote(service: str, url: str, key: dict[str, str]):
    # A short read timeout: a reply that never comes fails the test instead of hanging it.
    config = Config(retries={"total_max_attempts": 1}, read_timeout=15)
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=config,
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def _refused(call, **kwargs) -> tuple[str, int, str, float]:
    start = time.monotonic()
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"].get("Message", ""), time.monotonic() - start)


def test_serve_throttles_writes_while_a_writer_is_stopped(isolated, monkeypatch):
    monkeypatch.setenv("COGID_STORE_TIMEOUT", "1")
    key = cogid.local.client("iam", home=isolated).create_access_key()["AccessKey"]
    local = cogid.local.client("cognito-identity", home=isolated)
    pool = local.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=False,
                                      DeveloperProviderName=DEV)["IdentityPoolId"]
    identity = local.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "alice"})["IdentityId"]
    close_services()
    with running_server(isolated) as url:
        cognito, sync, iam = (_remote(name, url, key) for name in ("cognito-identity", "cognito-sync", "iam"))
        session = sync.list_records(IdentityPoolId=pool, IdentityId=identity, DatasetName="d")["SyncSessionToken"]
        with stopped_writer(isolated) as holder:
            code, status, message, elapsed = _refused(
                cognito.get_open_id_token_for_developer_identity, IdentityPoolId=pool, Logins={DEV: "bob"})
            assert (code, status) == ("TooManyRequestsException", 400) and elapsed < 8
            assert f"pid {holder.pid}" in message
            code, status, message, elapsed = _refused(
                sync.update_records, IdentityPoolId=pool, IdentityId=identity, DatasetName="d",
                SyncSessionToken=session, RecordPatches=[{"Op": "replace", "Key": "k", "Value": "v", "SyncCount": 0}])
            assert (code, status) == ("TooManyRequestsException", 429) and elapsed < 8
            code, status, message, elapsed = _refused(iam.create_role, RoleName="r",
                                                        AssumeRolePolicyDocument=standard_trust_policy(pool))
            assert (code, status) == ("Throttling", 400) and elapsed < 8
        # The writer gone, the server goes on.
        assert cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "bob"})["Token"]


# -- symbolic links in place of the store or its lock ------------------------------------------


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_a_symlinked_lock_file_is_refused(cli, isolated, tmp_path, dangling):
    assert cli("keys", "create").exit_code == 0
    close_services()
    lock = isolated / f"{STORE_FILE}.lock"
    lock.unlink()
    target = tmp_path / "elsewhere"
    if not dangling:
        target.write_bytes(b"precious")
    lock.symlink_to(target)
    result = cli("pool", "list")
    assert result.exit_code == 3, result.stderr
    line = _one_error_line(result.stderr)
    assert str(lock) in line and "symbolic link" in line, line
    assert (target.read_bytes() == b"precious") if not dangling else not target.exists()


def test_a_symlinked_store_is_refused(cli, isolated, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("COGID_HOME", str(elsewhere))
    assert cli("keys", "create").exit_code == 0  # a real store, in another directory
    close_services()
    monkeypatch.setenv("COGID_HOME", str(isolated))
    isolated.mkdir(mode=0o700)
    store = isolated / STORE_FILE
    store.symlink_to(elsewhere / STORE_FILE)
    before = (elsewhere / STORE_FILE).read_bytes()
    result = cli("pool", "list")
    assert result.exit_code == 3, result.stderr
    line = _one_error_line(result.stderr)
    assert str(store) in line and "symbolic link" in line, line
    assert (elsewhere / STORE_FILE).read_bytes() == before
