"""cogid provider: the pool's developer provider name."""

from typing import Annotated

import typer

from cogid import config, output
from cogid.cli.options import FORMATS, DryRunOpt, OutputOpt, PoolOpt, ProfileOpt, RegionOpt
from cogid.cli.options import cognito as cognito_client
from cogid.cli.options import profile as resolve
from cogid.errors import UsageError

app = typer.Typer(no_args_is_help=True, help="Show or set the pool's developer provider.")


@app.command("show")
def provider_show(
    pool: PoolOpt = None, profile: ProfileOpt = None, region: RegionOpt = None, output_format: OutputOpt = None
) -> None:
    """Show the identity pool's developer provider name."""
    from cogid import clients, flows

    fmt = output.choose(output_format, FORMATS)
    chosen = resolve(profile, pool=pool, region=region)
    described = clients.client(chosen, "cognito-identity").describe_identity_pool(IdentityPoolId=flows.pool_id(chosen))
    result = {
        "IdentityPoolId": described["IdentityPoolId"],
        "DeveloperProviderName": described.get("DeveloperProviderName"),
    }
    output.emit(fmt, result, rows=[[result["DeveloperProviderName"] or ""]] if fmt == "text" else None)


@app.command("set")
def provider_set(
    name: Annotated[str, typer.Argument(help="e.g. login.example.app", show_default=False)],
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Set the pool's developer provider name. AWS never lets it change once set."""
    from cogid import flows

    fmt = output.choose(output_format, FORMATS)
    chosen, cognito = cognito_client(profile, pool, region)
    current = flows.pool_settings(cognito, flows.pool_id(chosen))
    existing = current.get("DeveloperProviderName")
    if existing and existing != name:
        raise UsageError(
            f"the pool's developer provider is already {existing!r}; AWS never lets it change"
            " (create a new pool for a new name)"
        )
    if existing != name:
        current["DeveloperProviderName"] = name
        flows.update_pool(cognito, current)
        output.message(f"Developer provider of {current['IdentityPoolId']}: {name}")
    with config.editing() as document:
        stored = document["profiles"].get(chosen.name)
        if stored is not None and stored.get("identity_pool_id") == current["IdentityPoolId"]:  # its own pool
            stored["developer_provider"] = name
    result = {"IdentityPoolId": current["IdentityPoolId"], "DeveloperProviderName": name}
    output.emit(fmt, result, rows=[[name]] if fmt == "text" else None)
