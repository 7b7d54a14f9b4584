"""cogid sync: Cognito Sync datasets and records of an identity, as its devices see them."""

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
    json_kind,
    nonempty,
)
from cogid.cli.options import profile as resolve
from cogid.errors import NotFound, UsageError

app = typer.Typer(
    no_args_is_help=True,
    help="Cognito Sync: an identity's datasets and records, its pool's usage and configuration.",
)

IdentityIdOption = Annotated[
    str | None,
    typer.Option("--identity-id", show_default=False, help="Identity id, instead of --user", callback=nonempty),
]
AsIdentity = Annotated[
    bool,
    typer.Option(
        "--as-identity",
        help="Call with the identity's own temporary credentials, as its device does (default: developer credentials)",
    ),
]
DatasetArg = Annotated[str, typer.Argument(help="Dataset name", show_default=False, callback=nonempty)]
DeviceId = Annotated[
    str | None,
    typer.Option("--device-id", show_default=False, help="DeviceId sent with UpdateRecords", callback=nonempty),
]
Force = Annotated[
    bool,
    typer.Option("--force", help="If someone else synced first, read again and overwrite (3 attempts)"),
]
RECORD_HEADERS = ["Key", "State", "Value", "SyncCount", "LastModifiedDate", "LastModifiedBy"]


class Target:
    """Whose data a command works on, and the Cognito Sync client it calls with."""

    def __init__(self, profile: Any, pool_id: str, identity_id: str, sync: Any):
        self.profile, self.pool_id, self.identity_id, self.sync = profile, pool_id, identity_id, sync

    def where(self) -> dict[str, str]:
        return {"IdentityPoolId": self.pool_id, "IdentityId": self.identity_id}


def _target(
    ctx: typer.Context,
    user: str | None,
    identity_id: str | None,
    as_identity: bool,
    pool: str | None,
    profile: str | None,
    region: str | None,
) -> Target:
    """Resolve --user (LookupDeveloperIdentity) or --identity-id, and make the Sync client:
    unsigned/developer credentials, or the identity's own with --as-identity."""
    from cogid import clients, flows

    if user is not None and identity_id is not None:
        source = ctx.get_parameter_source("user")
        if source is None or source.name != "ENVIRONMENT":
            raise UsageError("--user and --identity-id: give one of them, not both")
        user = None  # COGID_USER is the default user; --identity-id names another identity
    if user is None and identity_id is None:
        raise UsageError("give --user USER or --identity-id ID (whose data it is)")
    chosen = resolve(profile, pool, region)
    pool_id = flows.pool_id(chosen)
    if user is not None:
        identity_id = flows.identity_of_user(clients.client(chosen, "cognito-identity"), pool_id, user)
    assert identity_id is not None
    if as_identity:
        credentials = flows.identity_credentials(chosen, identity_id, user)
        sync = clients.signed_client(chosen, "cognito-sync", credentials)
    else:
        sync = clients.client(chosen, "cognito-sync")
    return Target(chosen, pool_id, identity_id, sync)


def _developer(profile: str | None, pool: str | None, region: str | None) -> tuple[str, Any]:
    """The profile's pool id and a Cognito Sync client with developer credentials."""
    from cogid import clients, flows

    chosen = resolve(profile, pool, region)
    return flows.pool_id(chosen), clients.client(chosen, "cognito-sync")


def _record_rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            record["Key"],
            "live" if "Value" in record else "removed",
            record.get("Value", ""),
            record.get("SyncCount"),
            record.get("LastModifiedDate"),
            record.get("LastModifiedBy"),
        ]
        for record in records
    ]


def _emit_records(fmt: str, document: dict[str, Any]) -> None:
    output.emit(fmt, document, rows=_record_rows(document["Records"]), headers=RECORD_HEADERS)


def _text(value: str, what: str) -> str:
    """`value` if it is text the service can hold (not a lone surrogate, which JSON and a
    command line can spell but UTF-8 cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what}: not text (holds a lone surrogate or bytes that are not UTF-8)") from None
    return value


@app.command("datasets")
def sync_datasets(
    ctx: typer.Context,
    user: MaybeUserOpt = None,
    identity_id: IdentityIdOption = None,
    as_identity: AsIdentity = False,
    max_items: MaxItemsOpt = None,
    page_size: PageSizeOpt = None,
    starting_token: StartingTokenOpt = None,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: ListOutputOpt = None,
) -> None:
    """List an identity's datasets (ListDatasets).

    Example:
      cogid sync datasets --user alice
    """
    fmt = output.choose(output_format, listing.FORMATS)
    target = _target(ctx, user, identity_id, as_identity, pool, profile, region)
    headers = ["DatasetName", "NumRecords", "DataStorage", "LastModifiedDate", "LastModifiedBy"]
    listing.stream(
        fmt,
        target.sync,
        "ListDatasets",
        lambda d: [d.get(name) for name in headers],
        headers,
        max_items=max_items,
        page_size=page_size,
        starting_token=starting_token,
        what="datasets",
        IdentityPoolId=target.pool_id,
        IdentityId=target.identity_id,
        MaxResults=64,
    )


@app.command("show")
def sync_show(
    ctx: typer.Context,
    dataset: DatasetArg,
    user: MaybeUserOpt = None,
    identity_id: IdentityIdOption = None,
    as_identity: AsIdentity = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
) -> None:
    """A dataset and all its records, removed ones too (DescribeDataset, ListRecords).

    -o text writes one record per line: key, state (live or removed), value, sync count,
    modified, by.

    Example:
      cogid sync show --user alice settings
    """
    from cogid import flows

    fmt = output.choose(output_format, FORMATS)
    target = _target(ctx, user, identity_id, as_identity, pool, profile, region)
    described = target.sync.describe_dataset(**target.where(), DatasetName=dataset)["Dataset"]
    listed = flows.sync_records(target.sync, target.pool_id, target.identity_id, dataset)
    document: dict[str, Any] = {
        "Dataset": described,
        "DatasetSyncCount": listed["DatasetSyncCount"],
        "Records": listed["Records"],
    }
    if listed.get("MergedDatasetNames"):
        document["MergedDatasetNames"] = listed["MergedDatasetNames"]
    if fmt == "table":
        summary = {**described, "SyncCount": listed["DatasetSyncCount"]}
        if "MergedDatasetNames" in document:
            summary["MergedDatasetNames"] = document["MergedDatasetNames"]
        output.emit(fmt, summary)
    _emit_records(fmt, document)


@app.command("get")
def sync_get(
    ctx: typer.Context,
    dataset: DatasetArg,
    key: Annotated[str, typer.Argument(help="Record key", show_default=False, callback=nonempty)],
    user: MaybeUserOpt = None,
    identity_id: IdentityIdOption = None,
    as_identity: AsIdentity = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", show_default=False, help="text (the value alone, the default) or json (the record)"
        ),
    ] = None,
) -> None:
    """One record's value, alone on stdout (for scripts); exit 4 if the key is missing or removed.

    The value is written as it is, newline-terminated (to a terminal, control characters are
    shown as escapes). COGID_OUTPUT does not apply.

    Example:
      theme=$(cogid sync get --user alice settings theme)
    """
    import sys

    from cogid import flows

    fmt = output.choose(output_format or "text", ("text", "json"))
    _text(key, "KEY argument")
    target = _target(ctx, user, identity_id, as_identity, pool, profile, region)
    records = flows.sync_records(target.sync, target.pool_id, target.identity_id, dataset)["Records"]
    record = next((r for r in records if r["Key"] == key and "Value" in r), None)
    if record is None:
        raise NotFound(f"sync get: no record {key[:40]!r} in dataset {dataset!r} of identity {target.identity_id}")
    if fmt == "json":
        output.emit(fmt, record)
    else:
        value = record["Value"]
        output.write((output.visible(value) if sys.stdout.isatty() else value) + "\n")


def _json_values(source: str) -> dict[str, str]:
    """The --json document: a JSON object of string values, from a file or stdin (-)."""
    import json
    import sys
    from pathlib import Path

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--json {source}: cannot read: {getattr(error, 'strerror', None) or error}") from None

    def once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        named: dict[str, Any] = {}
        for name, value in pairs:  # json.loads would keep the last silently
            if name in named:
                raise UsageError(f"--json {source}: the key {name[:40]!r} is given twice")
            named[name] = value
        return named

    try:
        document = json.loads(text, object_pairs_hook=once)
    except ValueError as error:
        raise UsageError(f"--json {source}: not JSON: {error}") from None
    if not isinstance(document, dict):
        raise UsageError(f"--json {source}: expected a JSON object of string values, got {json_kind(document)}")
    if not document:
        raise UsageError(f"--json {source}: the object is empty: nothing to write")
    for name, value in document.items():
        if not name:
            raise UsageError(f"--json {source}: a key is empty")
        if not isinstance(value, str):
            removing = " (`cogid sync rm` removes a record)" if value is None else ""
            raise UsageError(
                f"--json {source}: the value of {name[:40]!r} is {json_kind(value)}: values must be strings{removing}"
            )
        _text(name, f"--json {source}: key {name[:40]!r}")
        _text(value, f"--json {source}: the value of {name[:40]!r}")
    return document


def _pairs(items: list[str] | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"KEY=VALUE argument {item[:40]!r}: expected a non-empty KEY, '=', then the value")
        if pairs.get(name, value) != value:
            raise UsageError(f"KEY=VALUE argument {name[:40]!r}: the key is given twice, with different values")
        pairs[_text(name, f"KEY=VALUE argument {name[:40]!r}")] = _text(value, f"the value of {name[:40]!r}")
    return pairs


@app.command("put")
def sync_put(
    ctx: typer.Context,
    dataset: DatasetArg,
    pairs: Annotated[
        list[str] | None, typer.Argument(metavar="KEY=VALUE...", help="Records to write", show_default=False)
    ] = None,
    json_file: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="FILE|-",
            show_default=False,
            help="A JSON object of string values to write too (- for stdin); KEY=VALUE arguments win",
        ),
    ] = None,
    device_id: DeviceId = None,
    force: Force = False,
    user: MaybeUserOpt = None,
    identity_id: IdentityIdOption = None,
    as_identity: AsIdentity = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Write records as a device syncs: ListRecords, then one UpdateRecords at the current sync counts.

    If someone else syncs the dataset in between, nothing is written and the error names each
    key's sync count and value now (exit 7); --force reads again and overwrites. Prints the
    records written, as UpdateRecords returns them.

    Examples:
      cogid sync put --user alice settings theme=dark lang=en
      echo '{"theme": "dark"}' | cogid sync put --user alice settings --json -
    """
    from cogid import flows

    fmt = output.choose(output_format, FORMATS)
    changes: dict[str, str | None] = {}
    if json_file is not None:
        changes.update(_json_values(json_file))
    changes.update(_pairs(pairs))
    if not changes:
        raise UsageError("sync put: give KEY=VALUE... or --json FILE")
    target = _target(ctx, user, identity_id, as_identity, pool, profile, region)
    written = flows.sync_write(
        target.sync,
        target.pool_id,
        target.identity_id,
        dataset,
        changes,
        verb="put",
        device_id=device_id,
        force=force,
    )
    output.message(f"Wrote {len(written['Records'])} record(s) to dataset {dataset} of {target.identity_id}")
    _emit_records(fmt, written)


@app.command("rm")
def sync_rm(
    ctx: typer.Context,
    dataset: DatasetArg,
    keys: Annotated[list[str], typer.Argument(metavar="KEY...", help="Record keys to remove", show_default=False)],
    device_id: DeviceId = None,
    force: Force = False,
    user: MaybeUserOpt = None,
    identity_id: IdentityIdOption = None,
    as_identity: AsIdentity = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Remove records as a device syncs (ListRecords, then UpdateRecords with remove patches).

    A key with no live record is not found (exit 4, nothing removed); a conflict is exit 7, as
    for put. Prints the removed records as UpdateRecords returns them (no Value).

    Example:
      cogid sync rm --user alice settings theme
    """
    from cogid import flows

    fmt = output.choose(output_format, FORMATS)
    for key in keys:
        if not key:
            raise UsageError("KEY argument: a key is empty")
        _text(key, f"KEY argument {key[:40]!r}")
    target = _target(ctx, user, identity_id, as_identity, pool, profile, region)
    written = flows.sync_write(
        target.sync,
        target.pool_id,
        target.identity_id,
        dataset,
        dict.fromkeys(keys),
        verb="rm",
        device_id=device_id,
        force=force,
    )
    output.message(f"Removed {len(written['Records'])} record(s) from dataset {dataset} of {target.identity_id}")
    _emit_records(fmt, written)


@app.command("delete")
def sync_delete(
    ctx: typer.Context,
    dataset: DatasetArg,
    yes: YesOpt = False,
    user: MaybeUserOpt = None,
    identity_id: IdentityIdOption = None,
    as_identity: AsIdentity = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Delete a dataset and its records (DeleteDataset); asks unless --yes. Prints it as it was."""
    from botocore.exceptions import ClientError

    from cogid.errors import Conflict

    fmt = output.choose(output_format, FORMATS)
    target = _target(ctx, user, identity_id, as_identity, pool, profile, region)
    confirm(f"Delete dataset {dataset!r} of identity {target.identity_id} and its records?", yes)
    try:
        deleted = target.sync.delete_dataset(**target.where(), DatasetName=dataset)["Dataset"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceConflictException":
            raise
        raise Conflict(f"sync delete: conflict: {error.response['Error'].get('Message') or 'try again'}") from None
    output.message(f"Deleted dataset {dataset} of {target.identity_id}")
    output.emit(fmt, {"Dataset": deleted}, rows=[[deleted["DatasetName"], deleted.get("NumRecords")]])


@app.command("usage")
def sync_usage(
    ctx: typer.Context,
    user: MaybeUserOpt = None,
    identity_id: IdentityIdOption = None,
    as_identity: AsIdentity = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
) -> None:
    """Sync usage of an identity, or of the pool without --user/--identity-id (COGID_USER
    does not count here).

    DescribeIdentityUsage, or DescribeIdentityPoolUsage (developer credentials only).
    """
    fmt = output.choose(output_format, FORMATS)
    source = ctx.get_parameter_source("user")
    if identity_id is None and source is not None and source.name == "ENVIRONMENT":
        user = None  # no option given means the pool's usage, whoever COGID_USER names
    if user is None and identity_id is None:
        if as_identity:
            raise UsageError("--as-identity: give --user or --identity-id (the pool's usage is the developer's)")
        pool_id, sync = _developer(profile, pool, region)
        output.emit(fmt, sync.describe_identity_pool_usage(IdentityPoolId=pool_id)["IdentityPoolUsage"])
        return
    target = _target(ctx, user, identity_id, as_identity, pool, profile, region)
    output.emit(fmt, target.sync.describe_identity_usage(**target.where())["IdentityUsage"])


def _streams_status(value: str | None) -> str | None:
    if value is None:
        return None
    if value.lower() not in ("enabled", "disabled"):
        raise UsageError(f"--streams {value[:40]!r}: expected enabled or disabled")
    return value.upper()


@app.command("config")
def sync_config(
    push_app: Annotated[
        list[str] | None,
        typer.Option("--push-app", help="SNS platform application ARN for push sync (repeatable)", show_default=False),
    ] = None,
    push_role: Annotated[
        str | None, typer.Option("--push-role", help="IAM role ARN SNS is called with", show_default=False)
    ] = None,
    no_push: Annotated[bool, typer.Option("--no-push", help="Turn push sync off")] = False,
    stream: Annotated[
        str | None, typer.Option("--stream", help="Kinesis stream name for Cognito streams", show_default=False)
    ] = None,
    stream_role: Annotated[
        str | None, typer.Option("--stream-role", help="IAM role ARN Kinesis is written with", show_default=False)
    ] = None,
    streams: Annotated[
        str | None, typer.Option("--streams", help="enabled or disabled", show_default=False, metavar="STATUS")
    ] = None,
    sync_trigger: Annotated[
        str | None,
        typer.Option("--sync-trigger", help="Lambda function ARN of the Sync Trigger ('' clears)", show_default=False),
    ] = None,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Show or set the pool's Sync configuration: push sync, Cognito streams, Sync Trigger.

    Shows GetIdentityPoolConfiguration and GetCognitoEvents; given options change only what
    they name (SetIdentityPoolConfiguration, SetCognitoEvents).

    Examples:
      cogid sync config --stream my-stream --stream-role arn:aws:iam::123456789012:role/sync --streams enabled
      cogid sync config --sync-trigger ''
    """
    fmt = output.choose(output_format, FORMATS)
    status = _streams_status(streams)
    if no_push and (push_app or push_role is not None):
        raise UsageError("--no-push: not with --push-app or --push-role")
    for name, value in (("--push-role", push_role), ("--stream", stream), ("--stream-role", stream_role)):
        if value == "":
            raise UsageError(f"{name}: the value is empty")
    if any(not arn for arn in push_app or []):
        raise UsageError("--push-app: the value is empty")
    pool_id, sync = _developer(profile, pool, region)
    current = sync.get_identity_pool_configuration(IdentityPoolId=pool_id)
    request: dict[str, Any] = {}
    if no_push:
        request["PushSync"] = {}
    elif push_app or push_role is not None:
        push = dict(current.get("PushSync") or {})
        if push_app:
            push["ApplicationArns"] = list(push_app)
        if push_role is not None:
            push["RoleArn"] = push_role
        request["PushSync"] = push
    if stream is not None or stream_role is not None or status is not None:
        section = dict(current.get("CognitoStreams") or {})  # the call replaces the whole section
        for member, value in (("StreamName", stream), ("RoleArn", stream_role), ("StreamingStatus", status)):
            if value is not None:
                section[member] = value
        request["CognitoStreams"] = section
    if request:
        sync.set_identity_pool_configuration(IdentityPoolId=pool_id, **request)
    if sync_trigger is not None:
        sync.set_cognito_events(IdentityPoolId=pool_id, Events={"SyncTrigger": sync_trigger})
    if request or sync_trigger is not None:
        output.message(f"Updated the Cognito Sync configuration of {pool_id}")
    document = {k: v for k, v in sync.get_identity_pool_configuration(IdentityPoolId=pool_id).items()}
    document.pop("ResponseMetadata", None)
    document["Events"] = sync.get_cognito_events(IdentityPoolId=pool_id).get("Events", {})
    output.emit(fmt, document)


@app.command("outbox")
def sync_outbox(
    kind: Annotated[
        str | None, typer.Option("--kind", help="push, stream or event (default: all)", show_default=False)
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Delete the entries shown")] = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: ListOutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Local backend: what push sync, streams and the Sync Trigger would have sent.

    Entries of the profile's pool, oldest first: `push` (SNS), `stream` (Kinesis) and `event`
    (the Sync Trigger's Lambda call); --clear deletes the entries shown.
    """
    from datetime import UTC, datetime

    from cogid import flows
    from cogid.cli.options import in_process_only
    from cogid.config import data_dir

    fmt = output.choose(output_format, listing.FORMATS)
    if kind is not None and kind not in ("push", "stream", "event"):
        raise UsageError(f"--kind {kind[:40]!r}: expected push, stream or event")
    chosen = resolve(profile, pool, region)
    in_process_only(chosen, "the Cognito Sync outbox belongs to the local backend")
    from cogid.local import sync_outbox as outbox

    pool_id = flows.pool_id(chosen)
    entries = outbox(home=data_dir(), kind=kind, identity_pool_id=pool_id, clear=clear and not output.dry_running())
    if clear and output.dry_running():  # the local service's own bookkeeping, shown as its calls are
        output.planned("cogid-local", "ClearOutbox", {"IdentityPoolId": pool_id, "Kind": kind, "Entries": len(entries)})
    if clear:
        output.message(f"Cleared {len(entries)} outbox entr{'y' if len(entries) == 1 else 'ies'}")
    rows = [
        [
            datetime.fromtimestamp(entry["time"], UTC),
            entry["kind"],
            {k: v for k, v in entry.items() if k not in ("kind", "time", "identityPoolId")},
        ]
        for entry in entries
    ]
    output.emit(fmt, entries, rows=rows, headers=["Time", "Kind", "Entry"])
