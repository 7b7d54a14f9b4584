"""What keeps the project honest: start-up cost, completions, docs, exit codes, boundaries."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("boto3", "botocore", "cryptography", "jwt")
PROBE = """
import atexit, sys
atexit.register(lambda: sys.__stderr__.write("HEAVY=" + ",".join(
    m for m in {heavy!r} if m in sys.modules) + "\\n"))
sys.argv = ["cogid", *{args!r}]
from cogid.cli import main
main()
"""


def loaded_heavy_modules(args, env=None, heavy=HEAVY):
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=heavy, args=args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})
    line = [line for line in done.stderr.splitlines() if line.startswith("HEAVY=")][-1]
    return [m for m in line[len("HEAVY="):].split(",") if m]


@pytest.mark.parametrize("args, env", [
    (["--version"], None),
    (["--help"], None),
    (["token", "issue", "--help"], None),
    ([], {"_COGID_COMPLETE": "complete_bash", "COMP_WORDS": "cogid token issue --", "COMP_CWORD": "3"}),
    ([], {"_COGID_COMPLETE": "complete_bash", "COMP_WORDS": "cogid pool show -p ", "COMP_CWORD": "4"}),
])
def test_start_up_imports_nothing_heavy(args, env):
    assert loaded_heavy_modules(args, env) == []


@pytest.mark.parametrize("args, unused", [
    (["token", "issue", "--help"], ("cogid.cli.pool", "cogid.cli.sync", "cogid.cli.serve", "cogid.cli.quickstart")),
    (["--debug", "sync", "--help"], ("cogid.cli.token", "cogid.cli.pool", "cogid.cli.link")),
    (["serve", "--help"], ("cogid.cli.token", "cogid.cli.identity", "cogid.cli.creds")),
])
def test_a_command_builds_only_its_own_group(args, unused):
    # Typer builds the click tree of every command mounted, at every start: ~70 ms for all.
    assert loaded_heavy_modules(args, heavy=unused) == []
    assert loaded_heavy_modules(["--help"], heavy=unused) == list(unused)  # the root's help lists them all


def test_help_renders_without_markdown_or_pygments():
    assert loaded_heavy_modules(["--help"], heavy=("markdown_it", "pygments")) == []


def test_deferred_rich_modules_still_work_when_used():
    code = """
import cogid.cli.app, rich.markdown, rich.traceback
from rich.console import Console
from rich.markdown import Markdown, Heading
from rich.traceback import Traceback
console = Console(width=40, color_system=None)
console.print(Markdown("# Title"))
try:
    1 / 0
except ZeroDivisionError as error:
    console.print(Traceback.from_exception(type(error), error, error.__traceback__))
print(Heading.__module__, type(sys.modules["rich.markdown"].Markdown("x")).__name__)
"""
    attribute_style = """
import cogid.cli.app, rich.markdown, rich.traceback
print(type(rich.markdown.Markdown("x")).__name__, rich.traceback.Traceback.__name__)
"""
    done = subprocess.run([sys.executable, "-c", "import sys" + code], capture_output=True, text=True, check=True)
    assert "Title" in done.stdout and "ZeroDivisionError" in done.stdout
    assert done.stdout.splitlines()[-1] == "rich.markdown Markdown"
    done = subprocess.run([sys.executable, "-c", attribute_style], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["Markdown", "Traceback"]


def test_cli_modules_keep_annotations_evaluated():
    # Typer reads each command's annotations at every start: string annotations cost ~13 ms.
    lazy = [path.name for path in (ROOT / "cogid" / "cli").glob("*.py")
            if "from __future__ import annotations" in path.read_text().splitlines()]
    assert lazy == []


@pytest.mark.parametrize("shell, name", [("bash", "cogid.bash"), ("zsh", "_cogid"), ("fish", "cogid.fish")])
def test_completions_are_in_sync(shell, name):
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = subprocess.run([sys.executable, "-m", "cogid", "--show-completion", shell], capture_output=True, text=True,
                          env=env, check=True)
    assert done.stdout == (ROOT / "completions" / name).read_text(), f"regenerate completions/{name}"


def test_completion_offers_profiles(cli, isolated):
    cli("profile", "add", "prod", "--backend", "aws")
    env = {**os.environ, "COGID_HOME": str(isolated), "_COGID_COMPLETE": "complete_bash",
           "COMP_WORDS": "cogid pool list -p pr", "COMP_CWORD": "4"}
    done = subprocess.run([sys.executable, "-m", "cogid"], capture_output=True, text=True, env=env)
    assert done.stdout.split() == ["prod"]


def _commands():
    from typer.main import get_command

    from cogid.cli.app import app

    root = get_command(app)

    def walk(group, path):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])
            else:
                yield " ".join([*path, name]), command

    return list(walk(root, []))


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    commands = _commands()
    assert len(commands) >= 30
    for name, command in commands:
        assert command.help and command.help.strip(), f"{name} has no help"
        assert f"cogid {name}" in readme, f"README does not mention `cogid {name}`"


def test_readme_exit_code_table_matches():
    from cogid.errors import ExitCode

    readme = (ROOT / "README.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| `(\w+)` \|", readme, re.MULTILINE))
    assert {int(code): name for code, name in table.items()} == {int(c): c.name for c in ExitCode}


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_the_local_service_imports_nothing_else_of_cogid():
    for path in (ROOT / "cogid" / "local").rglob("*.py"):
        outside = [m for m in _imports(path) if m.startswith("cogid") and not m.startswith("cogid.local")]
        assert outside == [], f"{path.relative_to(ROOT)} imports {outside}"


def test_only_the_cli_imports_typer_and_only_output_writes_stdout():
    for path in (ROOT / "cogid").rglob("*.py"):
        relative = path.relative_to(ROOT / "cogid").as_posix()
        if not relative.startswith("cli/"):
            assert "typer" not in list(_imports(path)), f"{relative} imports typer"
        if relative not in ("output.py",) and not relative.startswith("local/transport/server"):
            text = path.read_text()
            assert "sys.stdout.write" not in text and "print(" not in text, f"{relative} writes stdout"
