"""cogid keys: developer access keys that `cogid serve` accepts (local backend)."""

from typing import Annotated, Any

import typer

from cogid import output
from cogid.cli import listing
from cogid.cli.listing import ListOutputOpt, MaxItemsOpt, PageSizeOpt, StartingTokenOpt
from cogid.cli.options import (
    WITH_ENV,
    DryRunOpt,
    EnvOutputOpt,
    ProfileOpt,
    YesOpt,
    confirm,
    in_process_only,
)
from cogid.cli.options import profile as resolve

app = typer.Typer(no_args_is_help=True, help="Developer access keys for `cogid serve` (local backend).")


def _iam(profile: str | None) -> Any:
    from cogid import clients

    chosen = resolve(profile)
    in_process_only(chosen, "keys are made by the embedded service for `cogid serve` (on AWS, use IAM)")
    return clients.client(chosen, "iam")


@app.command("create")
def keys_create(profile: ProfileOpt = None, output_format: EnvOutputOpt = None, dry_run: DryRunOpt = False) -> None:
    """Create an access key; its secret is shown only now.

    Example:
      eval "$(cogid keys create -o env)"
      aws --endpoint-url http://127.0.0.1:8800 --region us-east-1 cognito-identity list-identity-pools --max-results 10
    """
    fmt = output.choose(output_format, WITH_ENV)
    key = _iam(profile).create_access_key()["AccessKey"]
    result = {
        "AccessKeyId": key["AccessKeyId"],
        "SecretAccessKey": key["SecretAccessKey"],
        "CreateDate": key["CreateDate"],
    }
    output.emit(
        fmt,
        result,
        env=[
            ("AWS_ACCESS_KEY_ID", key["AccessKeyId"]),
            ("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"]),
            ("AWS_SESSION_TOKEN", None),  # a key is no session: one left from `creds -o env` would spoil it
        ],
        rows=[[key["AccessKeyId"], key["SecretAccessKey"]]] if fmt == "text" else None,
    )


@app.command("list")
def keys_list(
    max_items: MaxItemsOpt = None,
    page_size: PageSizeOpt = None,
    starting_token: StartingTokenOpt = None,
    profile: ProfileOpt = None,
    output_format: ListOutputOpt = None,
) -> None:
    """List access keys (without their secrets), page by page (ListAccessKeys)."""
    fmt = output.choose(output_format, listing.FORMATS)
    listing.stream(
        fmt,
        _iam(profile),
        "ListAccessKeys",
        lambda k: [k["AccessKeyId"], k["Status"], k["CreateDate"]],
        ["AccessKeyId", "Status", "CreateDate"],
        max_items=max_items,
        page_size=page_size,
        starting_token=starting_token,
        what="keys",
        keep=lambda k: {"AccessKeyId": k["AccessKeyId"], "Status": k["Status"], "CreateDate": k["CreateDate"]},
    )


@app.command("delete")
def keys_delete(
    access_key_id: Annotated[str, typer.Argument(show_default=False)],
    yes: YesOpt = False,
    profile: ProfileOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Delete an access key."""
    iam = _iam(profile)
    confirm(f"Delete access key {access_key_id}?", yes)
    iam.delete_access_key(AccessKeyId=access_key_id)
    output.message(f"Deleted access key {access_key_id}")
