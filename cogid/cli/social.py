"""cogid social token: test logins of public providers for the local backend."""

from typing import Annotated

import typer

from cogid import output
from cogid.cli.options import FORMATS, OutputOpt, PoolOpt, ProfileOpt, nonempty
from cogid.cli.options import profile as resolve
from cogid.errors import ConfigError, UsageError

app = typer.Typer(no_args_is_help=True, help="Test tokens of public login providers (local backend).")
# What `cogid pool update --PROVIDER` takes, as its help names it.
APP_IDS = {
    "facebook": "APP_ID",
    "google": "CLIENT_ID",
    "amazon": "APP_ID",
    "apple": "SERVICES_ID",
    "twitter": "'CONSUMER_KEY;CONSUMER_SECRET'",
}


@app.command("token")
def social_token(
    provider: Annotated[str, typer.Argument(help="facebook, google, amazon, apple or twitter", show_default=False)],
    subject: Annotated[str, typer.Option("--subject", help="The user's id at the provider", show_default=False)],
    audience: Annotated[
        str | None,
        typer.Option(
            "--audience",
            show_default=False,
            help="App / client id (default: the pool's for this provider)",
            callback=nonempty,
        ),
    ] = None,
    duration: Annotated[int, typer.Option("--duration", min=60, max=86400, help="Lifetime in seconds")] = 3600,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    output_format: OutputOpt = None,
) -> None:
    """Mint a token that the local backend (and nothing else) accepts as PROVIDER's login: in
    process, or from the `cogid serve` a profile's endpoint_url names.

    Example:
      cogid link --user alice --facebook "$(cogid social token facebook --subject 10001 -o text)"
    """
    from cogid import clients, flows

    fmt = output.choose(output_format, FORMATS)
    if provider.lower() not in flows.PROVIDERS:
        raise UsageError(f"PROVIDER {provider!r}: expected one of {', '.join(flows.PROVIDERS)}")
    key = flows.PROVIDERS[provider.lower()]
    if not subject:
        raise UsageError("--subject: the user's id at the provider is empty")
    chosen = resolve(profile, pool=pool)
    clients.social_login_endpoint(chosen, key)  # on AWS: said before asking a pool for its app id
    if audience is None:
        described = clients.client(chosen, "cognito-identity").describe_identity_pool(
            IdentityPoolId=flows.pool_id(chosen)
        )
        audience = described.get("SupportedLoginProviders", {}).get(key)
        if audience is None:
            raise ConfigError(
                f"identity pool {chosen.identity_pool_id} has no {provider} app id: pass --audience"
                f" or add it with `cogid pool update --{provider.lower()} {APP_IDS[provider.lower()]}`"
            )
        audience = audience.split(";")[0]
    token = clients.social_token(chosen, key, subject, audience, duration)
    result = {"Provider": key, "Subject": subject, "Token": token}
    output.emit(fmt, result, rows=[[token]] if fmt == "text" else None)
