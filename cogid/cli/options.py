"""Options shared by many commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

ProfileOpt = Annotated[str | None, typer.Option(
    "--profile", "-p", help="Profile from config.toml [env: COGID_PROFILE]", show_default=False)]
OutputOpt = Annotated[str | None, typer.Option(
    "--output", "-o", envvar="COGID_OUTPUT", show_default=False,
    help="json, table, text or env (as the command allows); default: table on a terminal, json otherwise")]
PoolOpt = Annotated[str | None, typer.Option(
    "--pool", help="Identity pool id, instead of the profile's [env: COGID_IDENTITY_POOL_ID]", show_default=False)]
RegionOpt = Annotated[str | None, typer.Option(
    "--region", help="AWS region, instead of the profile's [env: COGID_REGION]", show_default=False)]
UserOpt = Annotated[str, typer.Option(
    "--user", "-u", envvar="COGID_USER", help="Developer user id (your login system's user) [env: COGID_USER]",
    show_default=False)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]


def profile(name: str | None, pool: str | None = None, region: str | None = None):  # -> config.Profile
    """The effective profile for a command: flags over COGID_* over config.toml over defaults."""
    from cogid import config

    return config.resolve(name, identity_pool_id=pool, region=region)
