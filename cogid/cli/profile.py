"""cogid profile: named settings in config.toml."""

import re
from typing import Annotated, Any

import typer

from cogid import config, output
from cogid.cli import listing
from cogid.cli.listing import ListOutputOpt
from cogid.cli.options import FORMATS, DryRunOpt, OutputOpt, YesOpt, confirm
from cogid.errors import ConfigError, UsageError

app = typer.Typer(no_args_is_help=True, help="Manage profiles in config.toml.")

NameArg = Annotated[str, typer.Argument(help="Profile name", show_default=False)]
OPTIONAL = ("identity_pool_id", "developer_provider", "aws_profile", "endpoint_url")  # may be cleared
BackendOpt = Annotated[str | None, typer.Option("--backend", help="local or aws", show_default=False)]
RegionOpt = Annotated[str | None, typer.Option("--region", show_default=False)]
PoolOpt = Annotated[str | None, typer.Option("--pool", help="Identity pool id", show_default=False)]
ProviderOpt = Annotated[str | None, typer.Option("--developer-provider", show_default=False)]
AwsProfileOpt = Annotated[
    str | None, typer.Option("--aws-profile", help="boto3 profile (aws backend)", show_default=False)
]
EndpointOpt = Annotated[str | None, typer.Option("--endpoint-url", help="e.g. a `cogid serve` URL", show_default=False)]


def _profiles(document: dict[str, Any]) -> dict[str, Any]:
    profiles = dict(document["profiles"])
    profiles.setdefault(config.DEFAULT_PROFILE, config.Profile().settings())
    return profiles


@app.command("list")
def profile_list(output_format: ListOutputOpt = None) -> None:
    """List profiles; the default one is marked."""
    fmt = output.choose(output_format, listing.FORMATS)
    document = config.load()
    default = config.selected_name(document)
    # Keys as `profile show` and config.toml spell them.
    items = [{"name": name, "default": name == default, **settings} for name, settings in _profiles(document).items()]
    rows = [
        [
            ("* " if i["default"] else "  ") + i["name"],
            i.get("backend", "local"),
            i.get("region", ""),
            i.get("identity_pool_id", ""),
        ]
        for i in items
    ]
    output.emit(fmt, items, rows=rows, headers=["Profile", "Backend", "Region", "Identity pool"])


@app.command("show")
def profile_show(
    name: Annotated[str | None, typer.Argument(show_default=False)] = None, output_format: OutputOpt = None
) -> None:
    """Show a profile's effective settings (flags and COGID_* variables applied)."""
    fmt = output.choose(output_format, FORMATS)
    profile = config.resolve(name)
    output.emit(fmt, {"name": profile.name, **profile.settings()})


def _settings(**values: str | None) -> dict[str, str]:
    chosen = {key: value for key, value in values.items() if value is not None}
    for key, value in chosen.items():
        config.check_setting(key, value, where=config.option_for(key), error=UsageError)
    if "aws_profile" in chosen:
        config.check_aws_profile(chosen["aws_profile"])
    return chosen


@app.command("add")
def profile_add(
    name: NameArg,
    backend: BackendOpt = None,
    region: RegionOpt = None,
    pool: PoolOpt = None,
    developer_provider: ProviderOpt = None,
    aws_profile: AwsProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    use: Annotated[bool, typer.Option("--use", help="Make it the default profile")] = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Add a profile.

    Examples:
      cogid profile add prod --backend aws --aws-profile admin --region eu-west-1 --pool eu-west-1:...
      cogid profile add dev --backend local --endpoint-url http://127.0.0.1:8800
    """
    if not re.fullmatch(r"[\w.-]{1,64}", name, re.ASCII):
        raise UsageError(f"profile name {name[:80]!r}: use 1 to 64 letters, digits, '.', '_' and '-'")
    settings = {
        **config.Profile().settings(),
        **_settings(
            backend=backend,
            region=region,
            identity_pool_id=pool,
            developer_provider=developer_provider,
            aws_profile=aws_profile,
            endpoint_url=endpoint_url,
        ),
    }
    if settings["backend"] == "local":
        settings.pop("aws_profile", None)
    if pool:
        if region:
            config.check_pool_region(pool, region, error=UsageError)
        config.point_at_pool(settings, pool, developer_provider)
    with config.editing() as document:
        if name in document["profiles"]:
            raise UsageError(f"profile {name!r} already exists (change it with `cogid profile set`)")
        document["profiles"][name] = settings
        if use:
            document["default_profile"] = name
    output.message(f"Added profile {name!r} to {config.config_path()}")


@app.command("set")
def profile_set(
    key: Annotated[str, typer.Argument(help=f"One of: {', '.join(config.SETTINGS)}")],
    value: Annotated[str, typer.Argument(help=f"The value; empty clears {', '.join(OPTIONAL)}")],
    profile: Annotated[str | None, typer.Option("--profile", "-p", show_default=False)] = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Set one setting of a profile (default: the current profile)."""
    key = key.replace("-", "_")
    cleared = value == "" and key in OPTIONAL
    if not cleared:
        config.check_setting(key, value, where=key, error=UsageError)
        if key == "aws_profile":
            config.check_aws_profile(value)
    with config.editing() as document:
        name = config.selected_name(document, profile)
        if name not in _profiles(document):
            raise ConfigError(f"profile {name!r} does not exist")
        settings = document["profiles"].setdefault(name, config.Profile().settings())
        if cleared:
            settings.pop(key, None)
            if key == "identity_pool_id":
                settings.pop("developer_provider", None)  # it was that pool's
        elif key == "identity_pool_id" and value != settings.get("identity_pool_id"):
            config.point_at_pool(settings, value, None)  # the old pool's provider and region go with it
        else:
            if key == "region" and settings.get("identity_pool_id"):
                config.check_pool_region(settings["identity_pool_id"], value, error=UsageError)
            settings[key] = value
    output.message(f"Profile {name!r}: {key} cleared" if cleared else f"Profile {name!r}: {key} = {value}")


@app.command("use")
def profile_use(name: NameArg, dry_run: DryRunOpt = False) -> None:
    """Make a profile the default."""
    with config.editing() as document:
        if name not in _profiles(document):
            raise ConfigError(f"profile {name!r} does not exist")
        document["default_profile"] = name
    output.message(f"Default profile: {name}")


@app.command("remove")
def profile_remove(name: NameArg, yes: YesOpt = False, dry_run: DryRunOpt = False) -> None:
    """Remove a profile."""
    if name not in config.load()["profiles"]:
        if name == config.DEFAULT_PROFILE:
            raise UsageError(f"profile {name!r} is built in and not stored: there is nothing to remove")
        raise ConfigError(f"profile {name!r} does not exist")
    confirm(f"Remove profile {name!r}?", yes)
    with config.editing() as document:
        if document["profiles"].pop(name, None) is not None and document.get("default_profile") == name:
            del document["default_profile"]
    output.message(f"Removed profile {name!r}")


@app.command("path")
def profile_path(output_format: OutputOpt = None) -> None:
    """Print where cogid keeps its config and its data."""
    fmt = output.choose(output_format, FORMATS)
    paths = {"config": str(config.config_path()), "data": str(config.data_dir())}
    output.emit(fmt, paths, rows=[[k, v] for k, v in paths.items()] if fmt == "text" else None)
