"""The local store found in a state cogid must not use (issue 15, items 8 and 13): written by a
newer schema, or emptied; and commands that fail on their input leave no store behind."""

import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from cogid.local.service import close_services
from cogid.local.store.core import SCHEMA_VERSION

STORE = "local.sqlite3"


def _one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cogid: error: "), result.stderr
    return lines[0]


def _snapshot(path):
    stat = path.stat()
    return path.read_bytes(), stat.st_mtime_ns, stat.st_size


def _newer_store(cli, home):
    """A store as a newer cogid would leave it: schema SCHEMA_VERSION + 1, in rollback-journal
    mode (so that switching it to WAL, a write, shows in its bytes)."""
    assert cli("keys", "create").exit_code == 0
    close_services()
    conn = sqlite3.connect(home / STORE)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    return home / STORE


def test_newer_store_is_refused_and_left_untouched(cli, isolated):
    path = _newer_store(cli, isolated)
    before = _snapshot(path)
    for args in (("pool", "list"), ("keys", "create")):
        result = cli(*args)
        assert result.exit_code == 3, result.stderr
        line = _one_error_line(result)
        assert str(path) in line
        assert f"schema {SCHEMA_VERSION + 1}" in line and f"schema {SCHEMA_VERSION}" in line
        assert "unexpected" not in line
        assert _snapshot(path) == before


def test_empty_store_is_refused_not_recreated(cli, isolated):
    assert cli("keys", "create").exit_code == 0
    close_services()
    path = isolated / STORE
    for leftover in (path, isolated / f"{STORE}-wal", isolated / f"{STORE}-shm"):
        if leftover.exists():
            leftover.write_bytes(b"")
    path.write_bytes(b"")
    result = cli("pool", "list")
    assert result.exit_code == 3, result.stderr
    line = _one_error_line(result)
    assert str(path) in line and "empty" in line and "move" in line
    assert path.stat().st_size == 0


def test_missing_store_is_still_created(cli, isolated):
    assert not (isolated / STORE).exists()
    assert cli("keys", "create").exit_code == 0
    assert (isolated / STORE).stat().st_size > 0


@pytest.mark.parametrize(
    "args",
    [
        ("identity", "lookup", "--user", "x"),
        ("identity", "list"),
        ("token", "issue", "--user", "alice"),
        ("creds", "--user", "alice"),
    ],
    ids=lambda args: " ".join(args),
)
def test_failing_command_creates_no_store(cli, isolated, args):
    result = cli(*args)
    assert result.exit_code in (2, 3), result.stderr
    _one_error_line(result)
    assert not (isolated / STORE).exists()
    assert not (isolated / f"{STORE}.lock").exists()


@pytest.mark.parametrize("state", ["newer", "empty"])
def test_serve_refuses_newer_or_empty_store_in_one_line(cli, isolated, state):
    if state == "newer":
        path = _newer_store(cli, isolated)
    else:
        path = isolated / STORE
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
    before = _snapshot(path)
    process = subprocess.Popen(
        [sys.executable, "-m", "cogid", "serve", "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "COGID_HOME": str(isolated)},
    )
    try:
        out, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"cogid serve started on a {state} store instead of refusing it")
    assert process.returncode == 3, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cogid: error: "), err
    assert str(path) in lines[0] and ("empty" if state == "empty" else f"schema {SCHEMA_VERSION + 1}") in lines[0]
    assert _snapshot(path) == before
