"""The `cogid` command line: one Typer sub-app per command group (see app.py).

The modules here keep their annotations evaluated (no `from __future__ import annotations`):
Typer reads every command's annotations at each start, and evaluating strings instead takes
~13 ms of `cogid --help`.
"""

import sys


def main() -> None:
    from cogid.errors import ExitCode

    _closed_streams()
    try:
        # `cogid --version` answers before Typer and the command modules are imported.
        if sys.argv[1:] in (["--version"], ["-V"]):
            from cogid import __version__, output

            output.write(f"cogid {__version__}")
            return
        from cogid.cli.app import app_for

        app_for(sys.argv[1:])(prog_name="cogid")
    except KeyboardInterrupt:  # Ctrl-C before a command runs (while cogid starts): no traceback
        sys.exit(ExitCode.INTERRUPTED)


def _closed_streams() -> None:
    """Standard streams closed before cogid started (`<&-`, `2>&-`) are None in Python. A closed
    stdin reads as empty and not a terminal; a closed stderr drops messages, never the exit code.
    A closed stdout can carry no result: refused before anything is done."""
    import os

    from cogid.errors import ExitCode

    if sys.stdin is None:
        sys.stdin = open(os.devnull)  # noqa: SIM115 - for the life of the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    if sys.stdout is None:
        sys.stderr.write(
            "cogid: error: stdout is closed: cogid writes its results there (redirect it, to /dev/null if unwanted)\n"
        )
        sys.exit(ExitCode.ERROR)
