"""cogid creds / exec: temporary AWS credentials for a user, printed or handed to a command."""

import os
import signal
import subprocess
from typing import Annotated, Any

import typer

from cogid import output
from cogid.cli.options import WITH_ENV, EnvOutputOpt, MaybeUserOpt, PoolOpt, ProfileOpt, RegionOpt, nonempty
from cogid.cli.options import profile as resolve
from cogid.errors import UsageError

Flow = Annotated[
    str, typer.Option("--flow", help="enhanced (GetCredentialsForIdentity) or basic (AssumeRoleWithWebIdentity)")
]
RoleArn = Annotated[
    str | None,
    typer.Option(
        "--role-arn",
        help="Role to assume (basic flow only; default: the pool's authenticated role)",
        show_default=False,
    ),
]
Duration = Annotated[
    int | None,
    typer.Option(
        "--duration", min=900, max=43200, show_default=False, help="Session seconds, 900-43200 (basic flow only)"
    ),
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Always fetch fresh credentials")]
Guest = Annotated[
    bool,
    typer.Option(
        "--guest", help="A guest's (unauthenticated) credentials: a new guest's, made once, or --identity-id's"
    ),
]
GuestId = Annotated[
    str | None,
    typer.Option("--identity-id", show_default=False, help="The guest identity (with --guest)", callback=nonempty),
]
# Variables that would override or confuse the credentials we hand to a command.
CONFLICTING = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def _credentials(
    ctx: typer.Context,
    user: str | None,
    guest: bool,
    identity_id: str | None,
    flow: str,
    role_arn: str | None,
    duration: int | None,
    no_cache: bool,
    pool: str | None,
    profile: str | None,
    region: str | None,
) -> dict[str, Any]:
    from cogid import flows

    if flow not in ("enhanced", "basic"):
        raise UsageError(f"--flow {flow}: expected enhanced or basic")
    if guest:
        source = ctx.get_parameter_source("user")
        if user is not None and (source is None or source.name != "ENVIRONMENT"):
            raise UsageError("--user and --guest: give one of them, not both")
        user = None  # COGID_USER names the default user; --guest asks for a guest
    elif identity_id is not None:
        raise UsageError("--identity-id names a guest: give it with --guest (a user's identity comes from --user)")
    elif user is None:
        raise UsageError("give --user USER (a developer user) or --guest (an unauthenticated identity)")
    chosen = resolve(profile, pool=pool, region=region)
    exchange = flows.exchange if no_cache else flows.cached_exchange
    return exchange(chosen, user, identity_id=identity_id, flow=flow, role_arn=role_arn, duration=duration)


def _environment(credentials: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"]),
        ("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"]),
        ("AWS_SESSION_TOKEN", credentials["SessionToken"]),
        ("AWS_CREDENTIAL_EXPIRATION", credentials["Expiration"]),
    ]


def creds(
    ctx: typer.Context,
    user: MaybeUserOpt = None,
    guest: Guest = False,
    identity_id: GuestId = None,
    flow: Flow = "enhanced",
    role_arn: RoleArn = None,
    duration: Duration = None,
    no_cache: NoCache = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: EnvOutputOpt = None,
) -> None:
    """Temporary AWS credentials for a user (developer token, then exchanged) or a guest.

    -o json prints exactly the credential_process (version 1) object; -o env prints export
    lines. Credentials are cached until five minutes before they expire. --guest without
    --identity-id makes a guest once and renews its credentials afterwards.

    Examples:
      eval "$(cogid creds --user alice -o env)"
      cogid creds --guest -o json
      # ~/.aws/config:  credential_process = cogid creds --user alice -o json
    """
    fmt = output.choose(output_format, WITH_ENV)
    credentials = _credentials(ctx, user, guest, identity_id, flow, role_arn, duration, no_cache, pool, profile, region)
    document = {k: v for k, v in credentials.items() if k != "IdentityId"}
    output.emit(
        fmt,
        document,
        env=_environment(credentials),
        rows=[
            [
                credentials["AccessKeyId"],
                credentials["SecretAccessKey"],
                credentials["SessionToken"],
                credentials["Expiration"],
            ]
        ]
        if fmt == "text"
        else None,
    )


def exec_command(
    ctx: typer.Context,
    user: MaybeUserOpt = None,
    guest: Guest = False,
    identity_id: GuestId = None,
    flow: Flow = "enhanced",
    role_arn: RoleArn = None,
    duration: Duration = None,
    no_cache: NoCache = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Run a command with a user's (or --guest's) temporary credentials in its environment.

    The command's exit code is cogid's. Other AWS credential variables are cleared.

    Example:
      cogid exec --user alice -- aws s3 ls s3://my-bucket/alice/
    """
    command = list(ctx.args)
    if command and command[0].startswith("-"):  # an option exec does not have, not a program
        raise UsageError(f"No such option: {command[0]} (the command to run goes after --)")
    if not command:
        raise UsageError(
            "give the command to run after --, e.g. cogid exec --user alice -- aws sts get-caller-identity"
        )
    credentials = _credentials(ctx, user, guest, identity_id, flow, role_arn, duration, no_cache, pool, profile, region)
    chosen = resolve(profile, pool=pool, region=region)
    env = {k: v for k, v in os.environ.items() if k not in CONFLICTING}
    env.update(_environment(credentials))
    env.setdefault("AWS_REGION", chosen.region)
    env.setdefault("AWS_DEFAULT_REGION", chosen.region)
    try:
        child = subprocess.Popen(command, env=env)
    except FileNotFoundError:
        raise UsageError(f"command not found: {command[0]}") from None
    except PermissionError:
        raise UsageError(f"cannot run {command[0]}: permission denied") from None
    raise typer.Exit(_wait(child))


def _wait(child: subprocess.Popen[bytes]) -> int:
    """The child's exit code, as a shell reports it (128 + N when killed by signal N).

    Ctrl-C reaches the child itself (same process group), which decides what it means; a
    SIGTERM or SIGHUP sent to cogid alone is passed on to it.
    """

    def pass_on(number: int, _frame: Any) -> None:
        child.send_signal(number)

    handlers: dict[signal.Signals, Any] = {
        signal.SIGINT: signal.SIG_IGN,
        signal.SIGTERM: pass_on,
        signal.SIGHUP: pass_on,
    }
    previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}
    try:
        code = child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return code if code >= 0 else 128 - code


def register(app: typer.Typer) -> None:
    app.command("creds")(creds)
    # Everything from the command's name on is the command's own, options included.
    app.command(
        "exec",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False},
    )(exec_command)
