"""The only writer of stdout: JSON, tables, tab-separated text and `export` lines.

stdout carries data only; messages go to stderr, styled by rich only when stderr is a
terminal. JSON and tokens are written plainly so nothing wraps or reinterprets them.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from cogid.errors import UsageError

LONG = 100  # a table cell longer than this, with no spaces (a token), is written whole below


def choose(requested: str | None, supported: Sequence[str]) -> str:
    """The output format: -o/COGID_OUTPUT if given, else table on a terminal and json otherwise."""
    if requested == "":  # `-o ""` (an empty COGID_OUTPUT never gets here: it counts as unset)
        raise UsageError(f"--output: the format is empty; this command writes {', '.join(supported)}")
    fmt = requested or ("table" if sys.stdout.isatty() and "table" in supported else "json")
    if fmt not in supported:
        raise UsageError(f"{_output_given_as()} {fmt}: this command writes {', '.join(supported)}")
    return fmt


def _output_given_as() -> str:
    """Where the format came from, as the user gave it: -o/--output, or COGID_OUTPUT."""
    try:  # the click that Typer carries within it (as cogid.cli.app's error funnel uses it)
        from typer._click.core import ParameterSource
        from typer._click.globals import get_current_context
    except ImportError:
        return "--output"
    context = get_current_context(silent=True)
    if context is not None and context.get_parameter_source("output_format") is ParameterSource.ENVIRONMENT:
        return "COGID_OUTPUT"
    return "--output"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


_ENCODERS: dict[int | None, json.JSONEncoder] = {}


def to_json(data: Any, indent: int | None = 2) -> str:
    # One encoder per indent, made once: a list streams a line per item (json.dumps with options
    # makes a new encoder each call).
    encoder = _ENCODERS.get(indent)
    if encoder is None:
        encoder = _ENCODERS[indent] = json.JSONEncoder(indent=indent, default=_plain, ensure_ascii=False)
    return encoder.encode(data)


def write(text: str) -> None:
    """Write `text` (and a newline) to stdout, all of it or a BrokenPipeError."""
    _write_all(text if text.endswith("\n") else text + "\n")


def _write_all(text: str) -> None:
    stdout = sys.stdout
    binary = getattr(stdout, "buffer", None)
    if binary is None:  # a stream of text only (a test runner's)
        stdout.write(text)
        stdout.flush()
        return
    stdout.flush()
    # Under `python -u` (PYTHONUNBUFFERED) the binary layer is the raw file, whose write may
    # take only part of the data (a pipe whose reader has gone): write the rest, which then
    # fails with EPIPE instead of being dropped without a word.
    data = memoryview(text.encode(stdout.encoding or "utf-8", stdout.errors or "strict"))
    while data:
        written = binary.write(data)
        if written is None:  # a non-blocking stdout that is full
            import select

            select.select([], [binary], [])
            continue
        data = data[written:]
    binary.flush()


def visible(text: str) -> str:
    """`text` with every character a terminal would act on (an escape sequence in a user id or
    a token's claim, a line break) written as its Python escape instead."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _escaped(value: str) -> str:
    """A text-output value on one line, unambiguously: backslashes doubled, control characters
    (tab, CR, LF, ESC...) as escapes."""
    return visible(value.replace("\\", "\\\\"))


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return str(_plain(value))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    if isinstance(value, (list, dict)):
        return to_json(value, indent=None)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _records(data: Any) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for a dict (one field per row) or a list of dicts (one per row)."""
    if isinstance(data, dict):
        return ["Field", "Value"], [[key, cell(value)] for key, value in data.items()]
    items = list(data)
    headers = list(dict.fromkeys(key for item in items for key in item))
    return headers, [[cell(item.get(key)) for key in headers] for item in items]


def emit(
    fmt: str,
    data: Any,
    *,
    rows: Iterable[Sequence[Any]] | None = None,
    headers: Sequence[str] | None = None,
    env: Iterable[tuple[str, str | None]] | None = None,
    title: str | None = None,
) -> None:
    """Write `data` in `fmt`. json writes `data` itself; text and table write `rows` (or rows
    derived from `data`); env writes the `env` pairs as exports (a None value: unset). During a
    dry run nothing is written: the calls not made are the output (see planned)."""
    if _dry_run is not None:
        return
    if fmt == "json":
        write(to_json(data))
    elif fmt == "jsonl":
        write_jsonl(data if isinstance(data, list) else [data])
    elif fmt == "env":
        write_env(env or ())
    else:
        if rows is None:
            headers, rows = _records(data)
        (write_text if fmt == "text" else write_table)([[cell(v) for v in row] for row in rows], headers, title)


def jsonl_lines(items: Iterable[Any]) -> str:
    """JSON Lines: one compact object per line."""
    return "".join(to_json(item, indent=None) + "\n" for item in items)


def text_lines(rows: Iterable[Sequence[str]]) -> str:
    """Tab-separated values, one row a line."""
    # A tab or line break inside a value would shift columns or rows.
    return "".join("\t".join(_escaped(v) for v in row) + "\n" for row in rows)


def write_jsonl(items: Iterable[Any]) -> None:
    text = jsonl_lines(items)
    if text:
        _write_all(text)


def write_env(pairs: Iterable[tuple[str, str | None]]) -> None:
    lines = (f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}" for name, value in pairs)
    write("".join(line + "\n" for line in lines))


def write_text(rows: list[list[str]], headers: Sequence[str] | None = None, title: str | None = None) -> None:
    """Tab-separated values, one row a line (headers and title are a table's only)."""
    write(text_lines(rows) or "\n")


def write_table(rows: list[list[str]], headers: Sequence[str] | None = None, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    headers = [visible(header) for header in headers or []]
    rows = [[visible(value) for value in row] for row in rows]
    # Tokens are written whole on lines of their own below the table, where a terminal neither
    # folds nor frames them: copied from there, they work.
    below: list[tuple[str, str]] = []
    for row in rows:
        for i, value in enumerate(row):
            if len(value) > LONG and " " not in value:
                name = row[0] if headers == ["Field", "Value"] else (headers or [""] * len(row))[i] or f"column {i + 1}"
                below.append((name, value))
                row[i] = "(below)"
    table = Table(title=title, show_header=any(headers), highlight=False)
    for header in headers or [""] * max((len(row) for row in rows), default=0):
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # user data is never read as markup
    console = Console(soft_wrap=False)
    with console.capture() as captured:  # written by write(), which a closed stdout stops as for every format
        console.print(table)
    _write_all(captured.get())
    for name, value in below:
        write(f"{name}:\n{value}")


def stream(
    fmt: str, pages: Iterable[list[dict[str, Any]]], row: Callable[[dict[str, Any]], list[Any]], headers: list[str]
) -> int:
    """Write the items of `pages` as each page comes (a table: once all are in, so the caller
    caps them); the number written. json: one array, jsonl: a line per item, text: a row per
    item."""
    count = 0
    if fmt == "table":
        rows = [[cell(v) for v in row(item)] for page in pages for item in page]
        write_table(rows, headers)
        return len(rows)
    for page in pages:
        if fmt == "json":
            # As json.dumps(all, indent=2) writes it, an item at a time.
            text = "".join(
                ("[\n  " if count + i == 0 else ",\n  ") + to_json(item).replace("\n", "\n  ")
                for i, item in enumerate(page)
            )
        elif fmt == "jsonl":
            text = jsonl_lines(page)
        else:
            text = text_lines([cell(v) for v in row(item)] for item in page)
        if text:
            _write_all(text)
        count += len(page)
    if fmt == "json":
        _write_all("\n]\n" if count else "[]\n")
    return count


# -- dry runs --------------------------------------------------------------------------------

_dry_run: list[str] | None = None  # while a --dry-run command runs: the operations not made


def start_dry_run() -> None:
    global _dry_run
    _dry_run = []


def dry_running() -> bool:
    return _dry_run is not None


def end_dry_run() -> list[str] | None:
    """The operations a dry run did not make (None if no dry run was on); the next run is real."""
    global _dry_run
    done, _dry_run = _dry_run, None
    return done


def planned(service: str, operation: str, parameters: dict[str, Any]) -> None:
    """A call a dry run does not make, as one JSON line on stdout (its parameters masked already)."""
    assert _dry_run is not None
    _dry_run.append(operation)
    write(to_json({"Service": service, "Operation": operation, "Parameters": parameters}, indent=None))


def planned_file(path: Any, document: dict[str, Any]) -> None:
    """A file a dry run does not write (config.toml: no secrets), as one JSON line on stdout."""
    assert _dry_run is not None
    _dry_run.append(f"write {path}")
    write(to_json({"File": str(path), "Content": document}, indent=None))


def stderr_console() -> Any:
    """A rich console on stderr, made per use so NO_COLOR and friends are read each run."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def message(text: str, style: str | None = None) -> None:
    """A status line on stderr: styled on a terminal, plain otherwise; none in a dry run, where
    it would report what did not happen."""
    if _dry_run is None:
        _status(text, style)


def dry_note(text: str) -> None:
    """A dry run's own status line: what it could not find out without making a change."""
    assert _dry_run is not None
    _status(f"dry run: {text}", "yellow")


def _status(text: str, style: str | None) -> None:
    text = visible(text)
    try:
        if sys.stderr.isatty():
            stderr_console().print(text, style=style, markup=False, highlight=False, soft_wrap=True)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
    except OSError:  # stderr is full or gone: a status line lost must not fail work that is done
        pass


def error(text: str) -> None:
    """cogid's one-line error report. Control characters from user data (an escape sequence in
    a user id) are shown as escapes, never sent to the terminal."""
    sys.stderr.write(f"cogid: error: {visible(' '.join(text.split()))}\n")
    sys.stderr.flush()
