"""List commands: pages streamed as they come, in json, jsonl, text or a capped table, with
--max-items, --page-size and --starting-token as the AWS CLI has them."""

from collections.abc import Callable
from typing import Annotated, Any

import typer

from cogid import output
from cogid.cli.options import output_option

FORMATS = ("json", "jsonl", "table", "text")
TABLE_ROWS = 100  # a table shows at most this many rows unless --max-items says otherwise

ListOutputOpt = Annotated[str | None, output_option(FORMATS)]
MaxItemsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-items",
        min=1,
        show_default=False,
        help=f"At most this many; then the token to go on from (a table: {TABLE_ROWS} unless given)",
    ),
]
PageSizeOpt = Annotated[
    int | None, typer.Option("--page-size", min=1, show_default=False, help="Items asked of the service per call")
]
StartingTokenOpt = Annotated[
    str | None,
    typer.Option("--starting-token", show_default=False, help="Go on from where --max-items stopped"),
]


def stream(
    fmt: str,
    client: Any,
    operation: str,
    row: Callable[[dict[str, Any]], list[Any]],
    headers: list[str],
    *,
    max_items: int | None,
    page_size: int | None,
    starting_token: str | None,
    what: str,
    keep: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: item,
    **params: Any,
) -> None:
    """Page `operation` (its AWS name) through the client's paginator, writing each page as it
    comes (output.stream); where --max-items (or a table's cap) stopped, say on stderr how to go
    on. `keep` shapes each item written."""
    from cogid.errors import UsageError
    from cogid.local.sdk.paging import paginate

    if page_size is not None:
        most = _page_limit(client, operation)
        if most is not None and page_size > most:
            raise UsageError(f"--page-size {str(page_size)[:40]}: at most {most} a page")
    limit = max_items if max_items is not None else (TABLE_ROWS if fmt == "table" else None)
    config: dict[str, Any] = {"MaxItems": limit, "PageSize": page_size, "StartingToken": starting_token}
    pages = paginate(client, operation, **params, PaginationConfig={k: v for k, v in config.items() if v is not None})
    try:
        shown = output.stream(
            fmt, ([keep(item) for item in page.get(pages.result_keys[0]) or []] for page in pages), row, headers
        )
    except ValueError as error:  # base64, JSON or keys that make no token of this list
        if starting_token is None:
            raise
        raise UsageError(f"--starting-token: not a token this list gave ({error})") from None
    if pages.resume_token is not None:
        more = f"--starting-token {pages.resume_token}"
        if max_items is None:
            output.message(f"The first {shown} {what} of more: all with -o jsonl or -o text, the next with {more}")
        else:
            output.message(f"{shown} {what}; the next with {more}")


def _page_limit(client: Any, operation: str) -> int | None:
    """The most items the model lets one call of `operation` ask for (its page size member's max)."""
    from cogid.local.sdk.paging import paging_config

    key = (paging_config(client.meta.service_model.service_name, operation) or {}).get("limit_key")
    members = client.meta.service_model.operation_model(operation).input_shape.members
    most = members[key].metadata.get("max") if key in members else None
    return int(most) if most is not None else None
