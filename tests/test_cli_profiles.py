"""Profiles: add, set, use, show, remove, and the config file they live in."""

import json
import stat

import jwt
from conftest import DEV, ok


def test_fresh_machine_has_the_local_profile(cli, isolated):
    assert ok(cli("profile", "list")) == [{"name": "local", "default": True, "backend": "local", "region": "us-east-1"}]
    assert ok(cli("profile", "show")) == {"name": "local", "backend": "local", "region": "us-east-1"}
    assert ok(cli("profile", "path")) == {"config": str(isolated / "config.toml"), "data": str(isolated)}
    assert ok(cli("profile", "path", "-o", "text")) == f"config\t{isolated / 'config.toml'}\ndata\t{isolated}\n"

def test_profile_add_set_use_show_remove(cli, isolated, tmp_path, monkeypatch):
    (tmp_path / "aws-config").write_text("[profile admin]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    result = cli("profile", "add", "prod", "--backend", "aws", "--aws-profile", "admin", "--region", "eu-west-1")
    assert result.exit_code == 0 and "Added profile 'prod'" in result.stderr and result.stdout == ""
    assert stat.S_IMODE((isolated / "config.toml").stat().st_mode) == 0o600
    assert ok(cli("profile", "set", "identity_pool_id", "eu-west-1:abc", "--profile", "prod")) == ""
    assert ok(cli("profile", "show", "prod")) == {"name": "prod", "backend": "aws", "region": "eu-west-1",
                                                   "identity_pool_id": "eu-west-1:abc", "aws_profile": "admin"}
    ok(cli("profile", "use", "prod"))
    assert [p["name"] for p in ok(cli("profile", "list")) if p["default"]] == ["prod"]
    assert ok(cli("profile", "show", env={"COGID_REGION": "ap-south-1"}))["region"] == "ap-south-1"
    assert ok(cli("profile", "show", env={"COGID_PROFILE": "local"}))["name"] == "local"
    ok(cli("profile", "remove", "prod", "--yes"))
    assert [p["name"] for p in ok(cli("profile", "list"))] == ["local"]

def test_profile_changes_made_at_once_are_all_kept(isolated):
    """Each command reads, changes and writes config.toml under a lock: none loses another's."""
    import subprocess
    import sys

    names = [f"p{i}" for i in range(8)]
    runs = [subprocess.Popen([sys.executable, "-m", "cogid", "profile", "add", name], stderr=subprocess.PIPE)
            for name in names]
    assert [run.wait(60) for run in runs] == [0] * len(names)
    listed = subprocess.run([sys.executable, "-m", "cogid", "profile", "list", "-o", "json"],
                            capture_output=True, check=True).stdout
    assert {p["name"] for p in json.loads(listed)} == {"local", *names}

def test_a_symlinked_config_is_written_where_it_points(cli, isolated, tmp_path):
    dotfiles = tmp_path / "dotfiles" / "cogid.toml"
    dotfiles.parent.mkdir()
    dotfiles.write_text("version = 1\n")
    isolated.mkdir(exist_ok=True)
    (isolated / "config.toml").symlink_to(dotfiles)
    ok(cli("profile", "add", "linked"))
    assert (isolated / "config.toml").is_symlink() and "[profiles.linked]" in dotfiles.read_text()

def test_the_profile_follows_the_pool_it_is_pointed_at(cli, cli_pool, isolated):
    import tomllib

    def stored():
        return tomllib.loads((isolated / "config.toml").read_text())["profiles"]["local"]

    other = ok(cli("pool", "create", "other", "--developer-provider", "login.other"))["IdentityPoolId"]
    ok(cli("provider", "show", "--pool", other))
    assert ok(cli("provider", "set", "login.other", "--pool", other))["DeveloperProviderName"] == "login.other"
    assert stored()["identity_pool_id"] == cli_pool and stored()["developer_provider"] == DEV  # not its pool

    europe = ok(cli("pool", "create", "eu", "--developer-provider", "login.eu", "--region", "eu-west-1", "--use"))
    assert stored() == {**stored(), "identity_pool_id": europe["IdentityPoolId"], "region": "eu-west-1",
                        "developer_provider": "login.eu"}
    assert ok(cli("pool", "show"))["IdentityPoolId"] == europe["IdentityPoolId"]

    cli("profile", "set", "identity_pool_id", europe["IdentityPoolId"])  # the same pool: nothing changes
    assert stored()["developer_provider"] == "login.eu"
    cli("profile", "set", "identity_pool_id", other)
    assert stored()["region"] == "us-east-1" and "developer_provider" not in stored()
    claims = jwt.decode(ok(cli("token", "issue", "--user", "x"))["Token"], options={"verify_signature": False})
    assert claims["aud"] == other and claims["amr"][1] == "login.other"
    cli("profile", "set", "identity_pool_id", "")
    assert "identity_pool_id" not in stored()

def test_every_aws_region_shape_is_a_region(cli):
    for region in ("us-gov-west-1", "cn-north-1", "eusc-de-east-1", "ap-southeast-5"):
        assert cli("profile", "add", f"p-{region}", "--backend", "aws", "--region", region).exit_code == 0

def test_the_built_in_profile_cannot_be_removed(cli):
    result = cli("profile", "remove", "local", "--yes")
    assert result.exit_code == 2 and "profile 'local' is built in and not stored" in result.stderr

def test_a_config_that_is_not_utf8_is_a_config_error(cli, isolated):
    isolated.mkdir(parents=True, exist_ok=True)
    (isolated / "config.toml").write_bytes(b"\xff\xfe")
    result = cli("profile", "list")
    assert result.exit_code == 3 and "not valid TOML" in result.stderr and result.stderr.count("\n") == 1
