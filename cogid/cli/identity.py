"""cogid identity: look up, show, list, merge and delete identities."""

from typing import Annotated, Any

import typer

from cogid import output
from cogid.cli import listing
from cogid.cli.listing import ListOutputOpt, MaxItemsOpt, PageSizeOpt, StartingTokenOpt
from cogid.cli.options import (
    FORMATS,
    DryRunOpt,
    MaybeUserOpt,
    OutputOpt,
    PoolOpt,
    ProfileOpt,
    RegionOpt,
    YesOpt,
    confirm,
)
from cogid.cli.options import cognito as cognito_client
from cogid.cli.options import profile as options_profile
from cogid.errors import ExitCode, UsageError

app = typer.Typer(no_args_is_help=True, help="Look up, show, list, merge and delete identities.")
IdentityArg = Annotated[str | None, typer.Argument(help="Identity id", show_default=False)]


def _identity_of(cognito: Any, pool_id: str, identity_id: str | None, user: str | None) -> str:
    if (identity_id is None) == (user is None):
        raise UsageError("give an IDENTITY_ID or --user USER (one of them)")
    if user is not None:
        from cogid.flows import identity_of_user

        return identity_of_user(cognito, pool_id, user)
    assert identity_id is not None
    return identity_id


@app.command("lookup")
def identity_lookup(
    identity_id: IdentityArg = None,
    user: MaybeUserOpt = None,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
) -> None:
    """Find a user's identity id, or an identity's developer user ids (LookupDeveloperIdentity)."""
    from cogid import flows

    fmt = output.choose(output_format, FORMATS)
    chosen, cognito = cognito_client(profile, pool, region)
    target = _identity_of(cognito, flows.pool_id(chosen), identity_id, user)
    result = {
        "IdentityId": target,
        "DeveloperUserIdentifierList": flows.developer_users(cognito, flows.pool_id(chosen), target),
    }
    output.emit(
        fmt, result, rows=[[target, ",".join(result["DeveloperUserIdentifierList"])]] if fmt == "text" else None
    )


@app.command("show")
def identity_show(
    identity_id: IdentityArg = None,
    user: MaybeUserOpt = None,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
) -> None:
    """Everything about one identity: authenticated or guest, enabled or disabled, logins,
    developer user ids, dates, Cognito Sync datasets."""
    from cogid import clients, flows

    fmt = output.choose(output_format, FORMATS)
    chosen, cognito = cognito_client(profile, pool, region)
    pool_id = flows.pool_id(chosen)
    target = _identity_of(cognito, pool_id, identity_id, user)
    described = cognito.describe_identity(IdentityId=target)
    logins = described.get("Logins", [])
    users = flows.developer_users(cognito, pool_id, target)
    result = {
        "IdentityId": target,
        "Authenticated": bool(logins or users),
        "Enabled": bool(logins or users) or flows.guest_enabled(chosen, target),
        "Logins": logins,
        "DeveloperUserIdentifierList": users,
        "CreationDate": described["CreationDate"],
        "LastModifiedDate": described["LastModifiedDate"],
        "Datasets": [
            {k: d.get(k) for k in ("DatasetName", "NumRecords", "DataStorage", "LastModifiedDate")}
            for d in flows.datasets(clients.client(chosen, "cognito-sync"), pool_id, target)
        ],
    }
    output.emit(fmt, result)


@app.command("create")
def identity_create(
    guest: Annotated[bool, typer.Option("--guest", help="An unauthenticated identity (GetId without logins)")] = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Create a guest identity (GetId without logins), as a device does before its user signs in.

    Its credentials: cogid creds --guest --identity-id ID. When its user signs in, upgrade it:
    cogid token issue --user alice --identity-id ID.
    """
    from cogid import clients, flows

    fmt = output.choose(output_format, FORMATS)
    if not guest:
        raise UsageError("identity create makes guest identities: pass --guest (a user's comes with `token issue`)")
    chosen = options_profile(profile, pool, region)
    made = clients.unsigned_client(chosen, "cognito-identity").get_id(IdentityPoolId=flows.pool_id(chosen))
    output.message(f"Created guest identity {made['IdentityId']}")
    output.emit(fmt, {"IdentityId": made["IdentityId"]}, rows=[[made["IdentityId"]]] if fmt == "text" else None)


@app.command("list")
def identity_list(
    hide_disabled: Annotated[bool, typer.Option("--hide-disabled", help="Leave out disabled identities")] = False,
    max_items: MaxItemsOpt = None,
    page_size: PageSizeOpt = None,
    starting_token: StartingTokenOpt = None,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: ListOutputOpt = None,
) -> None:
    """List the identities of the pool, page by page as they come (ListIdentities).

    Example:
      cogid identity list -o jsonl | head -1
    """
    from cogid import flows

    fmt = output.choose(output_format, listing.FORMATS)
    chosen, cognito = cognito_client(profile, pool, region)
    listing.stream(
        fmt,
        cognito,
        "ListIdentities",
        lambda i: [i["IdentityId"], ",".join(i["Logins"]), i["CreationDate"]],
        ["IdentityId", "Logins", "CreationDate"],
        max_items=max_items,
        page_size=page_size,
        starting_token=starting_token,
        what="identities",
        keep=lambda i: {**i, "Logins": i.get("Logins", [])},
        IdentityPoolId=flows.pool_id(chosen),
        MaxResults=60,
        HideDisabled=hide_disabled,
    )


@app.command("merge")
def identity_merge(
    source: Annotated[
        str, typer.Option("--from", help="Developer user whose identity is merged away", show_default=False)
    ],
    destination: Annotated[str, typer.Option("--into", help="Developer user whose identity stays", show_default=False)],
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Merge one user's identity into another's (MergeDeveloperIdentities).

    Example:
      cogid identity merge --from bob --into alice
    """
    from cogid import flows

    fmt = output.choose(output_format, FORMATS)
    if source == destination:
        raise UsageError(f"--from and --into are both {source!r}: an identity cannot be merged into itself")
    chosen, cognito = cognito_client(profile, pool, region)
    merged = cognito.merge_developer_identities(
        SourceUserIdentifier=source,
        DestinationUserIdentifier=destination,
        DeveloperProviderName=flows.developer_provider(chosen, cognito),
        IdentityPoolId=flows.pool_id(chosen),
    )
    result = {"IdentityId": merged["IdentityId"]}
    output.message(f"Merged {source}'s identity into {destination}'s: {merged['IdentityId']}")
    output.emit(fmt, result, rows=[[merged["IdentityId"]]] if fmt == "text" else None)


@app.command("delete")
def identity_delete(
    identity_ids: Annotated[list[str] | None, typer.Argument(help="Identity ids", show_default=False)] = None,
    user: MaybeUserOpt = None,
    yes: YesOpt = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Delete identities (their logins are freed: next time they make a new identity)."""
    from cogid import flows

    fmt = output.choose(output_format, FORMATS)
    chosen, cognito = cognito_client(profile, pool, region)
    targets = list(identity_ids or [])
    if user is not None:
        targets.append(_identity_of(cognito, flows.pool_id(chosen), None, user))
    if not targets:
        raise UsageError("give IDENTITY_ID... or --user USER")
    confirm(f"Delete {len(targets)} identit{'y' if len(targets) == 1 else 'ies'}?", yes)
    # DeleteIdentities ignores ids it does not know; say which those were.
    missing = [t for t in targets if not _exists(cognito, t)]
    found = [t for t in targets if t not in missing]
    unprocessed = []
    for start in range(0, len(found), 60):
        unprocessed += cognito.delete_identities(IdentityIdsToDelete=found[start : start + 60])[
            "UnprocessedIdentityIds"
        ]
    result = {
        "Deleted": [t for t in found if t not in {u["IdentityId"] for u in unprocessed}],
        "UnprocessedIdentityIds": unprocessed,
        "NotFound": missing,
    }
    output.message(f"Deleted {len(result['Deleted'])} identit{'y' if len(result['Deleted']) == 1 else 'ies'}")
    output.emit(fmt, result, rows=[[t] for t in result["Deleted"]] if fmt == "text" else None)
    if missing:
        output.error(f"not found: {', '.join(missing)}")
        raise typer.Exit(ExitCode.NOT_FOUND)


def _exists(cognito: Any, identity_id: str) -> bool:
    """False only when the service says it does not know the id (not when asking fails: a
    key allowed DeleteIdentities alone must still delete)."""
    from botocore.exceptions import ClientError

    try:
        cognito.describe_identity(IdentityId=identity_id)
    except ClientError as error:
        return bool(error.response["Error"]["Code"] != "ResourceNotFoundException")
    return True
