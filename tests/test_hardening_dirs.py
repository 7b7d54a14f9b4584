"""Issue 15, items 3 (other users: directories) and 4 (loose modes): each test failed before.

The tests run as root, so "another user" is a directory chowned to an unused uid.
"""

import json
import os
import stat
import subprocess
import sys

import pytest
from conftest import DEV

OTHER_UID = 12345


def ok(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def one_error(result):
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- item 3: a directory of another user, or one others can write to -------------------------

@pytest.mark.parametrize("loose", [0o770, 0o707, 0o777, 0o1777], ids=oct)
def test_a_home_others_can_write_to_is_refused(cli, isolated, loose):
    isolated.mkdir()
    os.chmod(isolated, loose)
    result = cli("profile", "list")
    assert result.exit_code == 3
    line = one_error(result)
    assert str(isolated) in line and "writable" in line and f"chmod 700 {isolated}" in line
    assert list(isolated.iterdir()) == []  # nothing written into it


def test_a_home_of_another_user_is_refused_even_for_root(cli, isolated):
    isolated.mkdir(mode=0o700)
    os.chown(isolated, OTHER_UID, -1)
    result = cli("pool", "create", "app", "--developer-provider", DEV)
    assert result.exit_code == 3
    line = one_error(result)
    assert str(isolated) in line and str(OTHER_UID) in line and "chown" in line
    assert list(isolated.iterdir()) == []  # no store, no keys made in it


def test_a_cache_directory_others_can_write_to_is_refused(cli, cli_pool, isolated):
    ok(cli("creds", "--user", "alice", "-o", "json"))
    os.chmod(isolated / "cache", 0o777)
    result = cli("creds", "--user", "alice", "-o", "json")
    assert result.exit_code == 3 and f"chmod 700 {isolated / 'cache'}" in one_error(result)


def test_the_check_is_made_in_a_real_process_but_not_for_help_or_version(isolated):
    isolated.mkdir()
    os.chmod(isolated, 0o777)
    env = {**os.environ, "COGID_HOME": str(isolated)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "cogid", *args], capture_output=True, text=True, env=env,
                              timeout=60)

    refused = run("pool", "list")
    assert refused.returncode == 3 and refused.stderr.startswith("cogid: error: ") and "chmod 700" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    for args in (["--help"], ["--version"], ["pool", "--help"], ["token", "issue", "--help"]):
        assert run(*args).returncode == 0, args


def test_directories_cogid_makes_are_private(cli, isolated):
    old = os.umask(0)  # even under a umask that takes nothing away
    try:
        made = cli("pool", "create", "app", "--developer-provider", DEV, "--allow-guests", "--create-roles", "--use")
        ok(made)
        ok(cli("creds", "--user", "alice", "-o", "json"))
    finally:
        os.umask(old)
    assert mode(isolated) == 0o700 and mode(isolated / "cache") == 0o700
    assert mode(isolated / "config.toml") == 0o600 and mode(isolated / "local.sqlite3") == 0o600
    # and they pass the check: the next command runs
    assert ok(cli("pool", "list"))


def test_pytest_temporary_directories_pass_the_check(cli, isolated, tmp_path):
    assert os.stat(tmp_path).st_uid == os.geteuid() and not mode(tmp_path) & 0o022
    isolated.mkdir()  # as other tests make it: 0755 under the usual umask
    assert ok(cli("profile", "list"))


# -- item 3: files holding secrets are never written through a symbolic link ---------------

def test_a_symlinked_credentials_cache_file_is_refused(cli, cli_pool, isolated, tmp_path):
    ok(cli("creds", "--user", "alice", "-o", "json"))
    [cached] = list((isolated / "cache").iterdir())
    elsewhere = tmp_path / "elsewhere.json"
    cached.unlink()
    cached.symlink_to(elsewhere)  # a cache miss: the fresh credentials are written to that path
    result = cli("creds", "--user", "alice", "-o", "json")
    assert result.exit_code == 3
    line = one_error(result)
    assert str(cached) in line and "symbolic link" in line
    assert not elsewhere.exists() and cached.is_symlink()


def test_write_private_refuses_a_link_and_writes_nothing_through_it(isolated, tmp_path):
    from cogid.config import write_private
    from cogid.errors import ConfigError

    target = tmp_path / "target"
    target.write_bytes(b"mine")
    isolated.mkdir(mode=0o700)
    (isolated / "secret").symlink_to(target)
    with pytest.raises(ConfigError, match="symbolic link"):
        write_private(isolated / "secret", b"key material")
    assert target.read_bytes() == b"mine"
    assert [p.name for p in isolated.iterdir()] == ["secret"]  # no temp file left behind


def test_the_config_lock_is_not_created_through_a_link(cli, isolated, tmp_path):
    isolated.mkdir(mode=0o700)
    planted = tmp_path / "planted"
    (isolated / ".config.toml.lock").symlink_to(planted)
    result = cli("profile", "add", "other")
    assert result.exit_code != 0 and not planted.exists()


# -- item 4: loose modes are warned about, once, and the command still runs -----------------

def warnings(result):
    return [line for line in result.stderr.splitlines() if line.startswith("cogid: warning: ")]


def test_a_loose_store_is_warned_about_and_the_command_runs(cli, cli_pool, isolated):
    store = isolated / "local.sqlite3"
    os.chmod(store, 0o644)
    result = cli("pool", "list")
    assert [p["IdentityPoolId"] for p in ok(result)] == [cli_pool]
    assert warnings(result) == [f"cogid: warning: {store} has mode 0644, wider than 0600: chmod 600 {store}"]


def test_a_loose_config_and_cache_file_are_each_warned_about_once(cli, cli_pool, isolated):
    first = ok(cli("creds", "--user", "alice", "-o", "json"))
    [cached] = list((isolated / "cache").iterdir())
    config = isolated / "config.toml"
    os.chmod(cached, 0o640)
    os.chmod(config, 0o666)
    result = cli("creds", "--user", "alice", "-o", "json")
    assert ok(result) == first
    shown = warnings(result)
    assert len(shown) == 2, result.stderr
    assert any(str(config) in line and f"chmod 600 {config}" in line and "0666" in line for line in shown)
    assert any(str(cached) in line and f"chmod 600 {cached}" in line and "0640" in line for line in shown)
    # fixed: quiet again
    os.chmod(cached, 0o600)
    os.chmod(config, 0o600)
    assert warnings(cli("creds", "--user", "alice", "-o", "json")) == []


def test_a_loose_store_is_warned_about_in_a_real_process(cli, cli_pool, isolated):
    store = isolated / "local.sqlite3"
    os.chmod(store, 0o604)
    done = subprocess.run([sys.executable, "-m", "cogid", "pool", "list", "-o", "json"], capture_output=True,
                          text=True, env={**os.environ, "COGID_HOME": str(isolated)}, timeout=60)
    assert done.returncode == 0 and [p["IdentityPoolId"] for p in json.loads(done.stdout)] == [cli_pool]
    assert done.stderr.count(f"chmod 600 {store}") == 1


# -- the credentials cache: what it is trusted with (issue 15, items 3 and 13) -------------------


def test_cached_credentials_another_user_owns_or_others_could_write_are_not_trusted(cli, cli_pool, isolated):
    first = ok(cli("creds", "--user", "alice", "-o", "json"))
    [cached] = list((isolated / "cache").iterdir())
    os.chown(cached, 12345, 12345)  # planted by another user
    second = ok(cli("creds", "--user", "alice", "-o", "json"))
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert cached.stat().st_uid == os.getuid()  # replaced by a file of ours
    os.chmod(cached, 0o622)  # writable by others: anyone could have put credentials there
    assert ok(cli("creds", "--user", "alice", "-o", "json"))["AccessKeyId"] != second["AccessKeyId"]


def test_cached_credentials_of_a_deleted_identity_are_not_served(cli, cli_pool, isolated):
    first = ok(cli("creds", "--user", "alice", "-o", "json"))
    identity = ok(cli("identity", "lookup", "--user", "alice", "-o", "json"))["IdentityId"]
    assert cli("identity", "delete", identity, "--yes").exit_code == 0
    again = ok(cli("creds", "--user", "alice", "-o", "json"))
    assert again["AccessKeyId"] != first["AccessKeyId"]
    assert ok(cli("identity", "lookup", "--user", "alice", "-o", "json"))["IdentityId"] != identity
