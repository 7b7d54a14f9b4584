"""What commands write: text rows, tables shown whole and verbatim, escapes, and a damaged store named."""

import json

from conftest import ok


def test_text_output_is_one_line_per_row_with_json_for_nested_values(cli, cli_pool):
    ok(cli("pool", "update", "--name", "tab\there\nnew\rline",
           "--user-pool", "cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc:client1"))
    assert ok(cli("pool", "list", "-o", "text")) == f"{cli_pool}\ttab\\there\\nnew\\rline\n"
    alice = ok(cli("token", "issue", "--user", "a\\tb"))["IdentityId"]  # a backslash, then "t"
    assert ok(cli("identity", "lookup", "--user", "a\\tb", "-o", "text")) == f"{alice}\ta\\\\tb\n"
    fields = dict(line.split("\t", 1) for line in ok(cli("pool", "show", "-o", "text")).splitlines())
    assert json.loads(fields["CognitoIdentityProviders"]) == [{
        "ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc", "ClientId": "client1",
        "ServerSideTokenCheck": False}]

def test_errors_show_control_characters_as_escapes(cli, cli_pool):
    result = cli("identity", "lookup", "--user", "\x1b[31mred\x07")
    assert result.exit_code == 4 and "\\x1b[31mred\\x07" in result.stderr and "\x1b" not in result.stderr

def test_tables_show_data_verbatim_and_whole(cli, cli_pool):
    ok(cli("token", "issue", "--user", "[bold]eve[/bold]"))
    table = cli("identity", "lookup", "--user", "[bold]eve[/bold]", "-o", "table", env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "[bold]eve[/bold]" in table.stdout
    shown = cli("token", "issue", "--user", "alice", "-o", "table", env={"COLUMNS": "80"}).stdout.splitlines()
    assert any(line.startswith("│ Token") and "(below)" in line for line in shown)
    assert shown[-2] == "Token:"  # then the token whole, on a line of its own: copied from a terminal, it works
    assert ok(cli("token", "decode", shown[-1], "--verify"))["Verified"] is True

def test_a_damaged_store_is_a_config_error_naming_it(cli, cli_pool, isolated):
    store = isolated / "local.sqlite3"
    for extra in ("-wal", "-shm"):
        (isolated / f"local.sqlite3{extra}").unlink(missing_ok=True)
    from cogid.local.service import close_services

    close_services()
    store.write_bytes(b"not a database at all" * 100)
    result = cli("pool", "list")
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert f"local store: {store}: file is not a database" in result.stderr

def test_a_store_damaged_past_its_first_page_is_a_config_error_naming_it(cli, cli_pool, isolated):
    """Damage found mid-call (not on opening) is the store's, not a service fault to retry."""
    from cogid.local.service import close_services

    close_services()  # checkpoints the WAL into the file
    store = isolated / "local.sqlite3"
    intact = store.read_bytes()[:4096]  # the header and the schema
    store.write_bytes(intact + b"\xff" * (store.stat().st_size - 4096))
    result = cli("pool", "list")
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert f"local store: {store}: database disk image is malformed" in result.stderr
