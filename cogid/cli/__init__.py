"""The `cogid` command line: one Typer sub-app per command group (see app.py).

The modules here keep their annotations evaluated (no `from __future__ import annotations`):
Typer reads every command's annotations at each start, and evaluating strings instead takes
~13 ms of `cogid --help`.
"""

import sys


def main() -> None:
    from cogid.errors import ExitCode

    try:
        # `cogid --version` answers before Typer and the command modules are imported.
        if sys.argv[1:] in (["--version"], ["-V"]):
            from cogid import __version__, output

            output.write(f"cogid {__version__}")
            return
        from cogid.cli.app import app

        app(prog_name="cogid")
    except KeyboardInterrupt:  # Ctrl-C before a command runs (while cogid starts): no traceback
        sys.exit(ExitCode.INTERRUPTED)
