"""Options shared by many commands, defined once."""

from collections.abc import Callable
from typing import Annotated, Any

import typer


def _profile_names(incomplete: str) -> list[str]:
    """Profile names for shell completion: read from config.toml, never from the network."""
    from cogid import config

    try:
        names = set(config.load()["profiles"]) | {config.DEFAULT_PROFILE}
    except Exception:  # a broken config must not break the shell
        return []
    return sorted(name for name in names if name.startswith(incomplete))


ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        "-p",
        help="Profile from config.toml (env COGID_PROFILE)",
        show_default=False,
        autocompletion=_profile_names,
    ),
]
FORMATS = ("json", "table", "text")  # what most commands write
WITH_ENV = ("json", "env", "table", "text")  # credentials, also as shell exports


def output_option(formats: tuple[str, ...]) -> Any:
    """The -o option of a command that writes `formats` (its help says which)."""
    default = "table on a terminal, json otherwise" if "table" in formats else "json"
    return typer.Option(
        "--output", "-o", envvar="COGID_OUTPUT", show_default=False, help=f"{', '.join(formats)}; default: {default}"
    )


OutputOpt = Annotated[str | None, output_option(FORMATS)]
EnvOutputOpt = Annotated[str | None, output_option(WITH_ENV)]
PoolOpt = Annotated[
    str | None,
    typer.Option(
        "--pool", help="Identity pool id, instead of the profile's (env COGID_IDENTITY_POOL_ID)", show_default=False
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option("--region", help="AWS region, instead of the profile's (env COGID_REGION)", show_default=False),
]


def nonempty(value: str | None) -> str | None:
    """The check of an option an empty value makes no sense for: `--user "$UNSET"` is refused
    naming the option, never taken as "not given" nor left for the service to refuse."""
    if value == "":
        raise typer.BadParameter("the value is empty")
    return value


UserOpt = Annotated[
    str,
    typer.Option(
        "--user",
        "-u",
        envvar="COGID_USER",
        help="Developer user id (your login system's user)",
        show_default=False,
        callback=nonempty,
    ),
]
# --user where a command can also name an identity otherwise (an argument, --identity-id).
MaybeUserOpt = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        envvar="COGID_USER",
        show_default=False,
        help="Developer user id (env COGID_USER)",
        callback=nonempty,
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]


def _dry_run(value: bool) -> bool:
    if value:
        from cogid import output

        output.start_dry_run()
    return value


# Every command that changes state takes it; cogid.clients.DryRun does the rest.
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        callback=_dry_run,
        help="Print the AWS calls that would change something (JSON lines: operation and parameters,"
        " secrets masked) and make none of them",
    ),
]


AllowMergeOpt = Annotated[
    bool,
    typer.Option(
        "--allow-merge",
        help="Merge the identities if a login given belongs to another one (without it: asked at a terminal,"
        " else refused, exit 2)",
    ),
]


def terminal_asker() -> Callable[[str], bool] | None:
    """A yes/no question put at the terminal (answered no by default), or None when stdin is
    not one: a script gets a refusal to act on, never a prompt that waits."""
    import sys

    if not sys.stdin.isatty():
        return None
    return lambda question: bool(typer.confirm(question, default=False, err=True))


def confirm(question: str, yes: bool) -> None:
    """Go on if --yes was given or the user says yes at a terminal; elsewhere refuse (exit 2).
    A dry run changes nothing: it asks nothing."""
    import sys

    from cogid import output
    from cogid.errors import UsageError

    if yes or output.dry_running():
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{question.rstrip('?')}: needs --yes when not run from a terminal")
    if not typer.confirm(question, err=True):
        raise typer.Exit(1)


def key_values(
    values: list[str] | None,
    option: str,
    form: str = "KEY=VALUE",
    need_value: bool = False,
    key_of: Callable[[str], str] = str,
    given: dict[str, str] | None = None,
    secret: bool = False,
) -> dict[str, str]:
    """`--tag k=v --tag k2=v2` style options as a dict (keys spelled by `key_of`, added to what
    other options `given`); a malformed item, or a key given twice with two values, is a usage
    error, which quotes the item unless its values are `secret` (tokens)."""
    from cogid.errors import UsageError

    pairs = dict(given or {})
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name or (need_value and not value):
            raise UsageError(f"{option}{'' if secret else f' {item[:40]!r}'}: expected {form}")
        key = key_of(name)
        if pairs.get(key, value) != value:
            raise UsageError(f"{option} {name[:40]!r}: {key} is given twice, with different values")
        pairs[key] = value
    return pairs


def named_providers(given: dict[str, str | None], what: str) -> dict[str, str]:
    """`--facebook VALUE` style options as {provider key: VALUE}; an empty VALUE is a usage
    error, never taken as "not given" (`--facebook "$UNSET"` must not change what a command does).
    A token (`what`) that is a command's JSON output is refused, saying which field to pass."""
    from cogid.errors import UsageError
    from cogid.flows import PROVIDERS

    for name, value in given.items():
        if value == "":
            raise UsageError(f"--{name}: the {what} is empty")
        if what == "token" and value is not None:
            token_value(value, f"--{name}")
    return {PROVIDERS[name]: value for name, value in given.items() if value is not None}


def token_value(value: str, where: str) -> str:
    """`value`, unless it is JSON output (`--facebook "$(cogid social token ...)"`) where a token
    alone belongs: then a usage error naming the field to pass."""
    import json

    from cogid.errors import UsageError

    if value.lstrip().startswith("{"):
        try:
            document = json.loads(value)
        except ValueError:
            return value
        if isinstance(document, dict):
            fields = [name for name in ("Token", "IdToken", "AccessToken") if isinstance(document.get(name), str)]
            hint = f"pass its {fields[0]} field alone (`| jq -r .{fields[0]}`)" if fields else "pass the token alone"
            raise UsageError(f"{where}: got a JSON document where a token belongs: {hint}")
    return value


def provider_key(name: str) -> str:
    """The Logins key for PROVIDER in `--login PROVIDER=TOKEN`: a short name (facebook...) or
    a provider key (a host name, a user pool's path); a bare word that is neither is refused
    with the list of providers, rather than sent for the service to refuse as a bad login."""
    from cogid.errors import UsageError
    from cogid.flows import PROVIDERS

    if name.lower() in PROVIDERS or "." in name or "/" in name:
        return PROVIDERS.get(name.lower(), name)
    raise UsageError(
        f"{name[:40]!r}: not a login provider: use {', '.join(PROVIDERS)}, or a provider key such as"
        " accounts.google.com, your developer provider's name, an OpenID Connect provider's host or"
        " cognito-idp.REGION.amazonaws.com/POOL_ID"
    )


def logins(values: list[str] | None, option: str, given: dict[str, str] | None = None) -> dict[str, str]:
    """`--login facebook=TOKEN` options as a Logins map (short provider names allowed), added
    to the logins other options `given`."""
    from cogid.errors import UsageError

    def checked(name: str) -> str:
        try:
            return provider_key(name)
        except UsageError as error:
            raise UsageError(f"{option} {error}") from None

    found = key_values(values, option, "PROVIDER=TOKEN", key_of=checked, given=given, secret=True)
    for key, value in found.items():
        if not value:
            raise UsageError(f"{option} {key}: expected PROVIDER=TOKEN (the token is empty)")
        token_value(value, f"{option} {key}")
    return found


def in_process_only(chosen: Any, what: str) -> None:
    """Refuse a command that only the embedded service in this process can do (`what` it is)."""
    from cogid.errors import UsageError

    if chosen.backend != "local":
        raise UsageError(f"profile {chosen.name!r} uses the aws backend: {what}")
    if chosen.endpoint_url:
        raise UsageError(
            f"profile {chosen.name!r} reaches the local service at {chosen.endpoint_url}: {what}; run this on"
            " the machine that serves it, with a profile without endpoint_url"
        )


def cognito(name: str | None, pool: str | None = None, region: str | None = None) -> tuple[Any, Any]:
    """The effective profile and a Cognito Identity client for it."""
    from cogid import clients

    chosen = profile(name, pool, region)
    return chosen, clients.client(chosen, "cognito-identity")


def profile(name: str | None, pool: str | None = None, region: str | None = None) -> Any:  # config.Profile
    """The effective profile for a command: flags over COGID_* over config.toml over defaults."""
    from cogid import config

    return config.resolve(name, identity_pool_id=pool, region=region)


def json_kind(value: object) -> str:
    """What a parsed JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "a number"
