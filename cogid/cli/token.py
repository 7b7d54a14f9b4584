"""cogid token: issue developer tokens, decode and verify them."""

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

import typer

from cogid import output
from cogid.cli.options import (
    FORMATS,
    AllowMergeOpt,
    DryRunOpt,
    OutputOpt,
    PoolOpt,
    ProfileOpt,
    RegionOpt,
    key_values,
    logins,
    nonempty,
    terminal_asker,
    token_value,
)
from cogid.cli.options import profile as resolve
from cogid.errors import ExitCode, UsageError

app = typer.Typer(no_args_is_help=True, help="Issue, decode and verify Cognito OpenID tokens.")


@app.command("issue")
def token_issue(
    user: Annotated[
        str | None,
        typer.Option(
            "--user", "-u", envvar="COGID_USER", show_default=False, help="Developer user id", callback=nonempty
        ),
    ] = None,
    users_from: Annotated[
        typer.FileBinaryRead | None,
        typer.Option(
            "--users-from",
            help="Issue for one user per line of FILE (- for stdin), streaming JSON lines",
            show_default=False,
        ),
    ] = None,
    duration: Annotated[
        int | None,
        typer.Option(
            "--duration", min=1, max=86400, show_default=False, help="Token lifetime in seconds, 1-86400 (default 900)"
        ),
    ] = None,
    link: Annotated[
        list[str] | None, typer.Option("--link", help="Also link PROVIDER=TOKEN (repeatable)", show_default=False)
    ] = None,
    identity_id: Annotated[
        str | None, typer.Option("--identity-id", help="Attach to this identity (e.g. a guest)", show_default=False)
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Principal tag KEY=VALUE (repeatable)", show_default=False)
    ] = None,
    allow_merge: AllowMergeOpt = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Issue an identity id and OpenID token for a user (GetOpenIdTokenForDeveloperIdentity).

    With --users-from, one JSON object a line as each token is issued (-o jsonl; -o json says
    the same).

    Examples:
      cogid token issue --user alice
      cogid token issue --user alice --duration 3600 -o text | cut -f2
      cut -d, -f1 users.csv | cogid token issue --users-from - > tokens.jsonl
    """
    from cogid import clients, flows

    if (user is None) == (users_from is None):
        raise UsageError("give --user USER or --users-from FILE (one of them)")
    chosen = resolve(profile, pool=pool, region=region)
    links = logins(link, "--link")
    tags = key_values(tag, "--tag")
    if users_from is not None:
        if links or identity_id:
            raise UsageError("--link and --identity-id are for one user: leave them out with --users-from")
        output.choose(output_format or "jsonl", ("jsonl", "json"))  # JSON lines, streamed: both name them
        try:
            failed = _issue_stream(chosen, users_from, duration, tags)
        except flows.Terminated:
            _terminated()
        raise typer.Exit(ExitCode.ERROR if failed else ExitCode.OK)
    fmt = output.choose(output_format, FORMATS)
    assert user is not None
    cognito = clients.client(chosen, "cognito-identity")
    options: dict[str, Any] = {"duration": duration, "identity_id": identity_id, "tags": tags}
    if links:
        issued = flows.issue_linking(chosen, cognito, user, links, allow_merge, terminal_asker(), **options)
    else:
        issued = flows.issue_token(chosen, cognito, user, **options)
    output.emit(fmt, issued, rows=[[issued["IdentityId"], issued["Token"]]] if fmt == "text" else None)


def _issue_stream(profile: Any, lines: Any, duration: int | None, tags: dict[str, str]) -> int:
    """One JSON line per user as each token is issued; bad lines reported on stderr, the rest go on."""
    from collections import deque

    from cogid import flows

    numbers: deque[int] = deque()  # line numbers of the users in flight, in order
    unreadable: list[int] = []  # line numbers of lines that are not text

    def users() -> Any:  # read on a thread of its own (see flows.issue_many)
        for number, line in enumerate(_lines(lines), 1):
            if len(line.rstrip(b"\r\n")) > MAX_LINE:
                unreadable.append(number)
                output.error(f"line {number}: longer than {MAX_LINE} bytes")
                continue
            try:
                user = line.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                unreadable.append(number)
                output.error(f"line {number}: not UTF-8 text (byte {error.start + 1})")
                continue
            if user.strip():
                numbers.append(number)
                yield user

    failed = 0
    progress = _Progress(_count_users(lines)) if sys.stderr.isatty() else None
    issuing = flows.issue_many(profile, users(), duration, tags)
    with contextlib.closing(issuing):  # the workers are stopped here, whatever ends the loop
        for batch in issuing:
            ready: list[str] = []  # a batch's lines in one write (a dry run writes none)
            for _, issued in batch:
                number = numbers.popleft()
                if isinstance(issued, str):
                    ready.append(issued)
                    continue
                _write(ready, progress)
                if issued.exit_code != ExitCode.ERROR:  # not the line's fault: the pool is gone, the
                    raise issued  # credentials are refused, the endpoint is down... for every line
                failed += 1
                output.error(f"line {number}: {issued}")
            _write(ready, progress)
    if progress:
        progress.stop()
    failed += len(unreadable)
    if failed:
        output.error(f"{failed} user(s) failed")
    return failed


def _write(lines: list[str], progress: "_Progress | None") -> None:
    if lines and not output.dry_running():
        output.write("".join(lines))
    if progress:
        progress.advance(len(lines))
    lines.clear()


def _terminated() -> NoReturn:
    """SIGTERM while issuing: the workers are stopped, every line printed is whole; exit 143
    (128 + SIGTERM, as a shell reports it) quietly. Threads still in calls to an endpoint (the
    aws backend) are left, as after Ctrl-C: the interpreter would wait out their timeouts."""
    import threading

    code = ExitCode.TERMINATED
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError):
                stream.flush()
        os._exit(code)
    raise typer.Exit(code)


MAX_LINE = 1 << 16  # bytes of an input line kept: far above any user id (1024 characters)


def _lines(source: Any) -> Iterator[bytes]:
    """The lines of `source` (at most MAX_LINE + 1 bytes of each: a longer one is cut there),
    read with os.read from a copy of its descriptor when it has one.

    The reading thread then holds no lock of sys.stdin's: waiting there for a line that may
    never come, it would keep the interpreter from exiting (on Ctrl-C, or a closed stdout)."""
    try:
        fd = os.dup(source.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):  # no descriptor (a test's stdin)
        yield from source
        return
    try:
        line = bytearray()
        while chunk := os.read(fd, 1 << 16):
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                line += chunk[start : end + 1]
                yield bytes(line[: MAX_LINE + 1])
                line.clear()
                start = end + 1
            line += chunk[start : start + MAX_LINE + 1 - len(line)]  # a huge line is not kept whole
        if line:
            yield bytes(line)
    except OSError as error:
        raise UsageError(f"--users-from {getattr(source, 'name', '-')}: cannot read: {error.strerror}") from None
    finally:
        os.close(fd)


class _Progress:
    """Bulk issuing's progress on stderr: tokens issued, rate and elapsed time; with a `total`
    (input from a file, its lines counted first) a bar and the time left as well."""

    def __init__(self, total: int | None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:,.0f} tokens/s" if speed else "… tokens/s")

        columns: list[Any]
        if total is None:
            columns = [SpinnerColumn(), TextColumn("{task.completed:,} tokens"), Rate(), TimeElapsedColumn()]
        else:
            columns = [BarColumn(), MofNCompleteColumn(), Rate(), TimeElapsedColumn(), TextColumn("left"),
                       TimeRemainingColumn()]  # fmt: skip
        self.bar = Progress(*columns, console=output.stderr_console(), transient=True)
        self.task = self.bar.add_task("issue", total=total)
        self.bar.start()

    def advance(self, count: int = 1) -> None:
        self.bar.advance(self.task, count)

    def stop(self) -> None:
        self.bar.stop()


def _count_users(source: Any) -> int | None:
    """The users in `source` if it is a regular file (its non-blank lines, read without moving
    its offset), else None: a pipe's total is not known until it ends."""
    import stat

    try:
        fd = source.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        count, offset, tail = 0, source.tell(), b""
        while chunk := os.pread(fd, 1 << 20, offset):
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            count += sum(1 for line in lines if line.strip())
            offset += len(chunk)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    return count + (1 if tail.strip() else 0)


@app.command("decode")
def token_decode(
    token: Annotated[
        str | None, typer.Argument(help="The token, or - to read it from stdin", show_default=False)
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check signature (JWKS), RS512, iss, aud and exp (5 minutes of clock skew allowed, as AWS"
            " does); exit 5 if any check fails",
        ),
    ] = False,
    audience: Annotated[
        str | None,
        typer.Option(
            "--audience",
            help="Expected identity pool (aud); default: the profile's pool",
            show_default=False,
            callback=nonempty,
        ),
    ] = None,
    profile: ProfileOpt = None,
    output_format: OutputOpt = None,
) -> None:
    """Decode a Cognito OpenID token and explain it; --verify checks it too.

    Examples:
      cogid token decode eyJraWQiOi...
      cogid token issue --user alice -o text | cut -f2 | cogid token decode - --verify
    """
    from cogid import tokens

    fmt = output.choose(output_format, FORMATS)
    if token is None or token == "-":
        if token is None and sys.stdin.isatty():
            raise UsageError("give a TOKEN, or - to read one from stdin")
        token = sys.stdin.buffer.read().decode("utf-8", "replace")  # bytes that are no text fail as no JWT
    header, claims = tokens.decode(token_value(token, "TOKEN"))
    result: dict[str, Any] = {"Header": header, "Claims": claims}
    if verify:
        from cogid import clients

        chosen = resolve(profile)
        expected = audience or chosen.identity_pool_id
        if not expected:
            raise UsageError("--verify checks the audience too: pass --audience POOL_ID or use a profile with a pool")
        jwks = clients.jwks(chosen)
        if tokens.find_jwk(jwks, header.get("kid")) is None:
            jwks = clients.jwks(chosen, refresh=True)  # keys rotate: refetch on an unknown kid
        tokens.verify(token, jwks, expected)
        result["Verified"] = True
        output.message(
            f"Verified: RS512 signature (key {header.get('kid')}), issuer, "
            + (f"audience {expected}, " if expected else "")
            + "expiry"
        )
    rows = tokens.explain(header, claims)
    output.emit(fmt, result, rows=rows, headers=["", ""])
