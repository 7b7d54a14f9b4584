"""cogid serve: the local service over HTTP, for any AWS SDK, with one log line per request."""

import sys
from typing import Annotated, Any

import typer

from cogid.cli.options import nonempty

LOG_FORMATS = ("text", "json")


class RequestLog:
    """Writes one line per request to stderr: time, client, operation, status, milliseconds."""

    def __init__(self, log_format: str):
        self.json = log_format == "json"

    def __call__(self, record: dict[str, Any]) -> None:
        from cogid import output

        if self.json:
            line = output.to_json(record, indent=None)
        else:
            line = output.visible(" ".join(str(value) for value in record.values()))
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _public_url(value: str | None) -> str | None:
    if value is None:
        return None
    from cogid.local.transport.server import checked_public_url

    try:
        return checked_public_url(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _origins(values: list[str] | None) -> list[str] | None:
    if not values:
        return values
    from cogid.local.transport.server import checked_origin

    try:
        return [checked_origin(value) for value in values]
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _finite(value: float) -> float:
    import math

    if not math.isfinite(value):  # click's min=0 lets nan through (it fails every comparison)
        raise typer.BadParameter(f"{value} is not a number of requests a second (0: no limit)")
    return value


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default)", callback=nonempty)
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one")] = 8800,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, show_default=False, help="Worker processes (default: one per core)"),
    ] = None,
    expose_outbox: Annotated[
        bool,
        typer.Option(
            "--expose-outbox",
            help="Also answer GET /_cogid/cognito-sync/outbox with what Cognito Sync would have pushed or streamed",
        ),
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            callback=_public_url,
            show_default=False,
            help="URL clients reach the service at (http or https, e.g. behind a proxy), named in the"
            " OpenID discovery document (default: the bound address's URL)",
        ),
    ] = None,
    unsigned_rate: Annotated[
        float,
        typer.Option(
            "--unsigned-rate",
            min=0,
            callback=_finite,
            help="Unsigned requests (GetId and the other open operations) a second per client address and"
            " worker, past the burst; then TooManyRequestsException. 0: no limit",
        ),
    ] = 100.0,
    unsigned_burst: Annotated[
        int,
        typer.Option(
            "--unsigned-burst", min=0, help="Unsigned requests a client address may send at once. 0: no limit"
        ),
    ] = 1000,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            callback=_origins,
            show_default=False,
            help="Origin browsers may call from, e.g. http://localhost:3000; repeatable (default: any, *)",
        ),
    ] = None,
    dashboard: Annotated[
        bool | None,
        typer.Option(
            "--dashboard/--no-dashboard",
            show_default=False,
            help="The browser dashboard under /_cogid/ (default: on when bound to loopback, off otherwise)",
        ),
    ] = None,
    open_dashboard: Annotated[
        bool, typer.Option("--open", help="Open the dashboard in your web browser once serving")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No line per request on stderr")] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="Request log lines: text or json (one object a line)")
    ] = "text",
) -> None:
    """Serve the local Cognito Identity, Cognito Sync, STS and IAM over HTTP until interrupted.

    The first line on stdout is the endpoint URL. Developer operations need SigV4 with a key
    from `cogid keys create`; GetId, GetCredentialsForIdentity and the other device calls are open,
    as on AWS, and limited per client address (--unsigned-rate, --unsigned-burst). Binding an
    address other than loopback (--host 0.0.0.0) warns on stderr: other machines can then call
    the service. Each request is logged on stderr as it is answered: time, client address,
    service.Operation, status and milliseconds (never a parameter: no token or key); --quiet
    turns that off, --log-format json writes one JSON object a line.

    The dashboard (pools, identities, logins, Sync data, a token inspector, the Sync outbox and
    the recent requests) is served under /_cogid/; its URL, said on stderr, carries a key made
    for this run (COGID_DASHBOARD_KEY fixes it). It is read-only, and on by default only on
    loopback: it shows every user's data to whoever holds the key.

    Example:
      cogid serve --port 8800 &
      eval "$(cogid keys create -o env)"
      aws --endpoint-url http://127.0.0.1:8800 --region us-east-1 cognito-identity list-identity-pools --max-results 10
    """
    from cogid.config import data_dir
    from cogid.errors import ConfigError, Unavailable, UsageError

    if log_format not in LOG_FORMATS:
        raise UsageError(f"--log-format {log_format[:40]!r}: expected text or json")
    if open_dashboard and dashboard is False:
        raise UsageError("--open: the dashboard is off (--no-dashboard)")
    from cogid.local.transport.server import BadDashboardKey, CannotBind, StoreNotWritable
    from cogid.local.transport.server import serve as run

    try:
        run(
            data_dir(),
            host=host,
            port=port,
            workers=workers,
            expose_outbox=expose_outbox,
            public_url=public_url,
            unsigned_rate=unsigned_rate,
            unsigned_burst=unsigned_burst,
            cors_origins=cors_origin or ["*"],
            request_log=None if quiet else RequestLog(log_format),
            dashboard=dashboard,
            open_dashboard=open_dashboard,
        )
    except CannotBind as error:  # e.g. the port is taken: say so in one line
        raise Unavailable(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
    except (StoreNotWritable, BadDashboardKey) as error:  # the store's or the environment's fault
        raise ConfigError(str(error)) from None


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
