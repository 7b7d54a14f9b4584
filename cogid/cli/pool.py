"""cogid pool: identity pools, their providers and roles."""

import json
from typing import Annotated, Any

import typer

from cogid import config, output
from cogid.cli import listing
from cogid.cli.listing import ListOutputOpt, MaxItemsOpt, PageSizeOpt, StartingTokenOpt
from cogid.cli.options import (
    FORMATS,
    DryRunOpt,
    OutputOpt,
    PoolOpt,
    ProfileOpt,
    RegionOpt,
    YesOpt,
    confirm,
    json_kind,
    key_values,
    named_providers,
    nonempty,
)
from cogid.cli.options import profile as resolve
from cogid.errors import UsageError

app = typer.Typer(no_args_is_help=True, help="Create, inspect, change and delete identity pools.")

Facebook = Annotated[str | None, typer.Option("--facebook", help="Facebook app id", show_default=False)]
Google = Annotated[str | None, typer.Option("--google", help="Google client id", show_default=False)]
Amazon = Annotated[str | None, typer.Option("--amazon", help="Login with Amazon app id", show_default=False)]
Apple = Annotated[str | None, typer.Option("--apple", help="Sign in with Apple services id", show_default=False)]
Twitter = Annotated[
    str | None, typer.Option("--twitter", help="Twitter consumerKey;consumerSecret", show_default=False)
]
Oidc = Annotated[
    list[str] | None, typer.Option("--oidc-provider", help="IAM OIDC provider ARN (repeatable)", show_default=False)
]
UserPool = Annotated[
    list[str] | None,
    typer.Option("--user-pool", help="Cognito user pool as PROVIDER:CLIENT_ID (repeatable)", show_default=False),
]
Tag = Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE (repeatable)", show_default=False)]
DeveloperProvider = Annotated[
    str | None,
    typer.Option(
        "--developer-provider",
        help="Developer provider name, e.g. login.example.app (set once, never changed)",
        show_default=False,
        callback=nonempty,
    ),
]


def _user_pools(values: list[str] | None) -> list[dict[str, Any]]:
    providers = []
    for item in values or []:
        provider, sep, client_id = item.rpartition(":")
        if not sep or not provider or not client_id:
            raise UsageError(f"--user-pool {item!r}: expected cognito-idp.REGION.amazonaws.com/POOL_ID:CLIENT_ID")
        providers.append({"ProviderName": provider, "ClientId": client_id, "ServerSideTokenCheck": False})
    return providers


def _social(
    facebook: str | None, google: str | None, amazon: str | None, apple: str | None, twitter: str | None
) -> dict[str, str]:
    if twitter is not None and ";" not in twitter:  # Twitter's app is named as AWS takes it
        raise UsageError("--twitter: expected CONSUMER_KEY;CONSUMER_SECRET, two parts joined by ';'")
    given = {"facebook": facebook, "google": google, "amazon": amazon, "apple": apple, "twitter": twitter}
    return named_providers(given, "app id")


def _described(cognito: Any, pool_id: str) -> dict[str, Any]:
    """The pool as DescribeIdentityPool gives it, with its roles and role mappings."""
    from cogid.flows import pool_settings

    pool = pool_settings(cognito, pool_id)
    roles = cognito.get_identity_pool_roles(IdentityPoolId=pool_id)
    pool["Roles"] = roles.get("Roles", {})
    if roles.get("RoleMappings"):
        pool["RoleMappings"] = roles["RoleMappings"]
    return pool


def _role_mappings(source: Any) -> dict[str, Any]:
    """--mappings' JSON: an object of login provider: mapping ({} clears them all). Anything else
    is refused here, where the call would have been made without RoleMappings, which clears them."""
    try:
        document = json.loads(source.read())
    except ValueError as error:
        raise UsageError(f"--mappings: not valid JSON: {error}") from None
    except OSError as error:
        raise UsageError(f"--mappings {source.name}: cannot read: {error.strerror}") from None
    if not isinstance(document, dict):
        raise UsageError(f"--mappings: expected a JSON object of login provider: mapping, got {json_kind(document)}")
    for provider, mapping in document.items():
        if not isinstance(mapping, dict):
            raise UsageError(
                f"--mappings: the mapping of {provider[:60]!r} must be a JSON object, not {json_kind(mapping)}"
            )
    return document


def _use(profile: Any, pool: dict[str, Any]) -> None:
    with config.editing() as document:
        settings = document["profiles"].setdefault(
            profile.name, config.Profile(backend=profile.backend, region=profile.region).settings()
        )
        config.point_at_pool(settings, pool["IdentityPoolId"], pool.get("DeveloperProviderName"))
    output.message(f"Profile {profile.name!r} now uses identity pool {pool['IdentityPoolId']}")


@app.command("create")
def pool_create(
    name: Annotated[str, typer.Argument(help="Pool name", show_default=False)],
    developer_provider: DeveloperProvider = None,
    allow_guests: Annotated[bool, typer.Option("--allow-guests", help="Allow unauthenticated identities")] = False,
    classic_flow: Annotated[
        bool | None,
        typer.Option(
            "--classic-flow/--no-classic-flow",
            show_default=False,
            help="Allow or refuse the basic (classic) flow (default: unset, which AWS allows)",
        ),
    ] = None,
    facebook: Facebook = None,
    google: Google = None,
    amazon: Amazon = None,
    apple: Apple = None,
    twitter: Twitter = None,
    oidc_provider: Oidc = None,
    user_pool: UserPool = None,
    create_roles: Annotated[
        bool,
        typer.Option(
            "--create-roles", help="Create the IAM roles with the standard trust policies, as the console does"
        ),
    ] = False,
    auth_role: Annotated[
        str | None, typer.Option("--auth-role", help="Authenticated role ARN", show_default=False, callback=nonempty)
    ] = None,
    unauth_role: Annotated[
        str | None,
        typer.Option("--unauth-role", help="Unauthenticated role ARN", show_default=False, callback=nonempty),
    ] = None,
    tag: Tag = None,
    use: Annotated[bool, typer.Option("--use", help="Store the pool in the profile")] = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Create an identity pool.

    Examples:
      cogid pool create shop --developer-provider login.shop.example --create-roles --use
      cogid pool create shop --facebook 1234567890 --allow-guests --create-roles
    """
    from cogid import clients, flows

    fmt = output.choose(output_format, FORMATS)
    if create_roles and (auth_role or unauth_role):
        raise UsageError("--create-roles makes the roles: leave out --auth-role/--unauth-role")
    chosen = resolve(profile, region=region)
    request: dict[str, Any] = {"IdentityPoolName": name, "AllowUnauthenticatedIdentities": allow_guests}
    if classic_flow is not None:
        request["AllowClassicFlow"] = classic_flow
    optional = {
        "DeveloperProviderName": developer_provider,
        "SupportedLoginProviders": _social(facebook, google, amazon, apple, twitter),
        "OpenIdConnectProviderARNs": oidc_provider,
        "CognitoIdentityProviders": _user_pools(user_pool),
        "IdentityPoolTags": key_values(tag, "--tag"),
    }
    request.update({key: value for key, value in optional.items() if value})
    pool = flows.create_pool(
        clients.client(chosen, "cognito-identity"),
        clients.client(chosen, "iam") if create_roles else None,
        request,
        create_roles,
        {"authenticated": auth_role, "unauthenticated": unauth_role},
    )
    output.message(f"Created identity pool {pool['IdentityPoolId']} ({name})")
    if create_roles:
        output.message("Created roles: " + ", ".join(pool["Roles"].values()))
    if use:
        _use(chosen, pool)
    output.emit(fmt, pool, rows=[[pool["IdentityPoolId"], name]] if fmt == "text" else None)


@app.command("list")
def pool_list(
    max_items: MaxItemsOpt = None,
    page_size: PageSizeOpt = None,
    starting_token: StartingTokenOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: ListOutputOpt = None,
) -> None:
    """List the identity pools of the profile's region, page by page (ListIdentityPools)."""
    from cogid import clients

    fmt = output.choose(output_format, listing.FORMATS)
    listing.stream(
        fmt,
        clients.client(resolve(profile, region=region), "cognito-identity"),
        "ListIdentityPools",
        lambda p: [p["IdentityPoolId"], p["IdentityPoolName"]],
        ["IdentityPoolId", "IdentityPoolName"],
        max_items=max_items,
        page_size=page_size,
        starting_token=starting_token,
        what="pools",
        MaxResults=60,
    )


def _target(profile: str | None, pool_arg: str | None, pool: str | None, region: str | None) -> Any:
    from cogid.config import check_setting

    if pool_arg is None:
        return resolve(profile, pool=pool, region=region)
    # Given but empty (`cogid pool delete "$UNSET"`) is an error, never "the profile's pool".
    check_setting("identity_pool_id", pool_arg, where="POOL_ID", error=UsageError)
    if pool is not None and pool_arg != pool:
        raise UsageError("give the pool either as POOL_ID or with --pool, not both")
    return resolve(profile, pool=pool_arg, region=region)


PoolArg = Annotated[str | None, typer.Argument(help="Identity pool id (default: the profile's)", show_default=False)]


@app.command("show")
def pool_show(
    pool_id: PoolArg = None,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
) -> None:
    """Show an identity pool with its roles."""
    from cogid import clients, flows

    fmt = output.choose(output_format, FORMATS)
    chosen = _target(profile, pool_id, pool, region)
    target = flows.pool_id(chosen)
    output.emit(fmt, _described(clients.client(chosen, "cognito-identity"), target))


@app.command("update")
def pool_update(
    pool_id: PoolArg = None,
    name: Annotated[str | None, typer.Option("--name", help="New name", show_default=False)] = None,
    allow_guests: Annotated[bool | None, typer.Option("--allow-guests/--no-guests", show_default=False)] = None,
    classic_flow: Annotated[bool | None, typer.Option("--classic-flow/--no-classic-flow", show_default=False)] = None,
    facebook: Facebook = None,
    google: Google = None,
    amazon: Amazon = None,
    apple: Apple = None,
    twitter: Twitter = None,
    oidc_provider: Oidc = None,
    user_pool: UserPool = None,
    remove_provider: Annotated[
        list[str] | None,
        typer.Option(
            "--remove-provider", help="Drop a login provider (facebook, a key, an ARN); repeatable", show_default=False
        ),
    ] = None,
    tag: Tag = None,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Change an identity pool; what you leave out stays as it is.

    (UpdateIdentityPool replaces the whole pool, so cogid sends the current settings with your
    changes.)
    """
    from cogid import clients, flows

    fmt = output.choose(output_format, FORMATS)
    chosen = _target(profile, pool_id, pool, region)
    cognito = clients.client(chosen, "cognito-identity")
    current = flows.pool_settings(cognito, flows.pool_id(chosen))
    if name is not None:
        current["IdentityPoolName"] = name
    if allow_guests is not None:
        current["AllowUnauthenticatedIdentities"] = allow_guests
    if classic_flow is not None:
        current["AllowClassicFlow"] = classic_flow
    new_social = _social(facebook, google, amazon, apple, twitter)
    added = _user_pools(user_pool)  # replaces a configuration of the same user pool and client
    for gone in remove_provider or []:
        if flows.login_key(gone) in {*new_social, *(oidc_provider or []), *(p["ProviderName"] for p in added)}:
            raise UsageError(f"--remove-provider {gone}: that provider is also being added; give one or the other")
    social = {**current.get("SupportedLoginProviders", {}), **new_social}
    oidc = list(dict.fromkeys([*current.get("OpenIdConnectProviderARNs", []), *(oidc_provider or [])]))
    user_pools = [
        p
        for p in current.get("CognitoIdentityProviders", [])
        if (p["ProviderName"], p["ClientId"]) not in {(a["ProviderName"], a["ClientId"]) for a in added}
    ] + added
    for gone in remove_provider or []:
        key = flows.login_key(gone)
        if key not in social and key not in oidc and not any(p["ProviderName"] == key for p in user_pools):
            raise UsageError(f"--remove-provider {gone}: the pool has no such provider")
        social.pop(key, None)
        oidc = [arn for arn in oidc if arn != key]
        user_pools = [p for p in user_pools if p["ProviderName"] != key]
    current.update(SupportedLoginProviders=social, OpenIdConnectProviderARNs=oidc, CognitoIdentityProviders=user_pools)
    if tag:
        current["IdentityPoolTags"] = {**current.get("IdentityPoolTags", {}), **key_values(tag, "--tag")}
    updated = flows.update_pool(cognito, current)
    output.message(f"Updated identity pool {updated['IdentityPoolId']}")
    output.emit(fmt, updated)


@app.command("delete")
def pool_delete(
    pool_id: PoolArg = None,
    delete_roles: Annotated[
        bool,
        typer.Option("--delete-roles", help="Also delete the pool's roles that cogid created (--create-roles)"),
    ] = False,
    yes: YesOpt = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Delete an identity pool and all its identities; profiles that name it forget it.

    --delete-roles deletes the roles cogid made for it too (tagged cogid:identity-pool); other
    roles set on the pool are kept.
    """
    from cogid import clients, flows

    chosen = _target(profile, pool_id, pool, region)
    target = flows.pool_id(chosen)
    confirm(f"Delete identity pool {target} and all its identities?", yes)
    iam = clients.client(chosen, "iam") if delete_roles else None
    deleted, kept = flows.delete_pool(clients.client(chosen, "cognito-identity"), iam, target)
    output.message(f"Deleted identity pool {target}")
    if deleted:
        output.message("Deleted roles: " + ", ".join(deleted))
    if kept:
        output.message("Kept roles cogid did not create for this pool: " + ", ".join(kept))
    for name in config.forget_pool(target):
        output.message(f"Profile {name!r} no longer names a pool (it named {target})")


@app.command("roles")
def pool_roles(
    pool_id: PoolArg = None,
    auth_role: Annotated[
        str | None, typer.Option("--auth-role", help="Authenticated role ARN", show_default=False, callback=nonempty)
    ] = None,
    unauth_role: Annotated[
        str | None,
        typer.Option("--unauth-role", help="Unauthenticated role ARN", show_default=False, callback=nonempty),
    ] = None,
    mappings: Annotated[
        typer.FileText | None, typer.Option("--mappings", help="RoleMappings as JSON (file or -)", show_default=False)
    ] = None,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Show the pool's roles and role mappings, or set them.

    Setting keeps what you leave out: --auth-role alone leaves the unauthenticated role as is.
    """
    from cogid import clients, flows

    fmt = output.choose(output_format, FORMATS)
    chosen = _target(profile, pool_id, pool, region)
    cognito = clients.client(chosen, "cognito-identity")
    target = flows.pool_id(chosen)
    current = cognito.get_identity_pool_roles(IdentityPoolId=target)
    result: dict[str, Any] = {
        "IdentityPoolId": target,
        "Roles": dict(current.get("Roles", {})),
        "RoleMappings": dict(current.get("RoleMappings", {})),
    }
    if auth_role or unauth_role or mappings:
        if auth_role:
            result["Roles"]["authenticated"] = auth_role
        if unauth_role:
            result["Roles"]["unauthenticated"] = unauth_role
        if mappings:
            result["RoleMappings"] = _role_mappings(mappings)
        cognito.set_identity_pool_roles(
            IdentityPoolId=target,
            Roles=result["Roles"],
            **({"RoleMappings": result["RoleMappings"]} if result["RoleMappings"] else {}),
        )
        output.message(f"Set roles of {target}")
    output.emit(fmt, result)
