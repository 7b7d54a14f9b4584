"""Issue 15, item 6: a full disk under the store, config.toml or `cogid serve`.

Each test mounts a small tmpfs (as root, as these tests run here and in CI), keeps COGID_HOME on
it, fills it, and runs commands that write: the CLI exits 6 with one line naming the file, serve
answers 503 with an AWS error and logs the cause once; once space returns the store is intact
and the same commands succeed, with nothing issued twice.
"""

from __future__ import annotations

import errno
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
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


@pytest.fixture
def small_disk(tmp_path, monkeypatch) -> Iterator[Path]:
    """A 2 MiB tmpfs holding COGID_HOME (set already), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {done.stderr.strip()}")
    try:
        monkeypatch.setenv("COGID_HOME", str(mount / "home"))
        yield mount
    finally:
        close_services()
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _compact(store: Path) -> None:
    """Empty the store's WAL (checkpointed into the file) so that the next write must grow it."""
    with sqlite3.connect(store) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _fill(mount: Path) -> Path:
    """Fill the filesystem to the last byte; the filler file, to delete to give space back."""
    filler = mount / "filler"
    with open(filler, "wb", buffering=0) as out:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
    return filler


def _intact(store: Path) -> None:
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def _cogid(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cogid", *args], capture_output=True, text=True, timeout=60)


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("cogid: error: "), stderr
    return lines[0]


def test_cli_says_the_store_disk_is_full_and_carries_on_once_space_returns(cli, small_disk):
    home = small_disk / "home"
    store = home / STORE_FILE
    created = cli("pool", "create", "app", "--developer-provider", DEV, "--use")
    assert created.exit_code == 0, created.stderr
    close_services()
    _compact(store)
    filler = _fill(small_disk)

    for _ in range(2):  # and again: the failed attempt left nothing half-written in the way
        refused = _cogid("token", "issue", "--user", "new-user")
        assert refused.returncode == 6, refused.stderr
        assert refused.stdout == ""
        assert _one_error_line(refused.stderr) == f"cogid: error: local store {store}: disk full"

    # config.toml written on a full disk: one line naming the file, exit 6 (UNAVAILABLE)
    refused = _cogid("profile", "add", "spare", "--backend", "local")
    assert refused.returncode == 6, refused.stderr
    line = _one_error_line(refused.stderr)
    assert str(home / "config.toml") in line and "disk full" in line, line

    filler.unlink()
    _intact(store)
    issued = _cogid("token", "issue", "--user", "new-user")
    assert issued.returncode == 0, issued.stderr
    again = _cogid("token", "issue", "--user", "new-user")
    assert again.returncode == 0, again.stderr
    pool = cogid.local.client("cognito-identity").list_identity_pools(MaxResults=10)["IdentityPools"][0]
    identities = cogid.local.client("cognito-identity").list_identities(
        IdentityPoolId=pool["IdentityPoolId"], MaxResults=60)["Identities"]
    assert len(identities) == 1, identities  # new-user, once
    assert _cogid("profile", "add", "spare", "--backend", "local").returncode == 0
    _intact(store)


def _remote(service: str, url: str, key: dict[str, str]):
    config = Config(retries={"total_max_attempts": 1}, read_timeout=15)
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=config,
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def _refused(call, **kwargs) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_serve_answers_503_on_a_full_disk_logs_it_once_and_recovers(small_disk, capfd):
    home = small_disk / "home"
    store = home / STORE_FILE
    key = cogid.local.client("iam").create_access_key()["AccessKey"]
    local = cogid.local.client("cognito-identity")
    pool = local.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=False,
                                      DeveloperProviderName=DEV)["IdentityPoolId"]
    identity = local.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "alice"})["IdentityId"]
    close_services()
    patch = [{"Op": "replace", "Key": "k", "Value": "v", "SyncCount": 0}]
    with running_server(home) as url:
        cognito, sync, iam = (_remote(name, url, key) for name in ("cognito-identity", "cognito-sync", "iam"))
        session = sync.list_records(IdentityPoolId=pool, IdentityId=identity, DatasetName="d")["SyncSessionToken"]
        _compact(store)
        filler = _fill(small_disk)
        capfd.readouterr()
        for _ in range(3):
            assert _refused(cognito.get_open_id_token_for_developer_identity,
                            IdentityPoolId=pool, Logins={DEV: "bob"}) == ("ServiceUnavailableException", 503)
            assert _refused(sync.update_records, IdentityPoolId=pool, IdentityId=identity, DatasetName="d",
                            SyncSessionToken=session, RecordPatches=patch) == ("ServiceUnavailableException", 503)
            assert _refused(iam.create_role, RoleName="r",
                            AssumeRolePolicyDocument=standard_trust_policy(pool)) == ("ServiceUnavailable", 503)
        logged = capfd.readouterr().err
        assert "Traceback" not in logged, logged
        assert sum("disk full" in line for line in logged.splitlines()) == 1, logged
        assert str(store) in logged, logged

        filler.unlink()
        bob = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "bob"})
        assert bob["Token"]
        records = sync.update_records(IdentityPoolId=pool, IdentityId=identity, DatasetName="d",
                                      SyncSessionToken=session, RecordPatches=patch)["Records"]
        assert [(r["Key"], r["SyncCount"]) for r in records] == [("k", 1)]
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=standard_trust_policy(pool))
        assert "Traceback" not in capfd.readouterr().err
    _intact(store)
    identities = cogid.local.client("cognito-identity").list_identities(IdentityPoolId=pool, MaxResults=60)
    assert sorted(i["IdentityId"] for i in identities["Identities"]) == sorted(
        [identity, bob["IdentityId"]])  # bob once


def test_serve_answers_503_when_a_file_size_limit_stops_its_writes(isolated, tmp_path):
    """Not only a full disk: a write the filesystem refuses for any reason (here `ulimit -f`, as
    a read-only or immutable file would) is a 503 naming why, logged once, never a 500 with a
    traceback at every request; what was answered 200 is kept."""
    import os
    import resource
    import signal

    key = cogid.local.client("iam").create_access_key()["AccessKey"]
    local = cogid.local.client("cognito-identity")
    pool = local.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=False,
                                      DeveloperProviderName=DEV)["IdentityPoolId"]
    close_services()
    limit = 96 * 1024  # the WAL reaches it after a few dozen new users

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    log = tmp_path / "serve.log"
    with open(log, "w") as errors:
        server = subprocess.Popen([sys.executable, "-m", "cogid", "serve", "--port", "0", "--workers", "1", "--quiet"],
                                  env={**os.environ, "COGID_HOME": str(isolated)}, stdout=subprocess.PIPE,
                                  stderr=errors, text=True, preexec_fn=limited)
    try:
        cognito = _remote("cognito-identity", server.stdout.readline().strip(), key)
        issued, refused = [], []
        for n in range(400):
            try:
                issued.append(cognito.get_open_id_token_for_developer_identity(
                    IdentityPoolId=pool, Logins={DEV: f"user-{n}"})["IdentityId"])
            except ClientError as error:
                refused.append((error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"],
                                error.response["Error"]["Message"]))
            if len(refused) >= 5:
                break
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert issued and refused, (len(issued), refused)
    assert {(code, status) for code, status, _ in refused} == {("ServiceUnavailableException", 503)}, refused
    assert "file size limit reached" in refused[0][2]
    logged = log.read_text()
    assert "Traceback" not in logged, logged[-3000:]
    assert sum("file size limit reached" in line for line in logged.splitlines()) == 1, logged[-3000:]
    found, page = set(), {}
    while True:  # every identity answered 200 was kept
        page = local.list_identities(IdentityPoolId=pool, MaxResults=60, **page)
        found |= {i["IdentityId"] for i in page["Identities"]}
        if "NextToken" not in page:
            break
        page = {"NextToken": page["NextToken"]}
    assert set(issued) <= found, len(set(issued) - found)


def test_a_store_deleted_while_served_refuses_writes_it_would_lose(isolated):
    """A write into a store file already deleted (`rm -rf` of the data directory under a running
    server) would be answered 200 and lost at the next start: it is a 503 saying so, once logged."""
    key = cogid.local.client("iam").create_access_key()["AccessKey"]
    local = cogid.local.client("cognito-identity")
    pool = local.create_identity_pool(IdentityPoolName="app", AllowUnauthenticatedIdentities=False,
                                      DeveloperProviderName=DEV)["IdentityPoolId"]
    close_services()
    with running_server(isolated) as url:
        cognito = _remote("cognito-identity", url, key)
        assert cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "alice"})["Token"]
        for name in (STORE_FILE, STORE_FILE + "-wal", STORE_FILE + "-shm"):
            (isolated / name).unlink(missing_ok=True)
        with pytest.raises(ClientError) as refused:
            cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "bob"})
        error = refused.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
            "ServiceUnavailableException", 503)
        assert "deleted or replaced" in error["Error"]["Message"]
