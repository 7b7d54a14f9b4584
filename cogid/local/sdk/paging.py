"""Paginators as botocore's: the same pages, MaxItems/PageSize/StartingToken, resume tokens.

`Paginator` is what the boto3-free client's `get_paginator` returns, for the operations
botocore's paginators-1.json lists. `paginate` pages any client (boto3's or ours) through any
operation AWS pages with a token, also those botocore has no paginator for (ListIdentities,
ListDatasets...): the CLI's lists stream through it, and a `--starting-token` from one works
with the other, because the tokens are botocore's (base64 of JSON, `boto_truncate_amount` for
a page cut part-way).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from cogid.local.wire import shapes

# Operations AWS pages with NextToken that botocore ships no paginator for. Same keys as
# botocore's paginators-1.json; the AWS CLI cannot page these, cogid's CLI can.
EXTRA_PAGINATORS: dict[str, dict[str, dict[str, Any]]] = {
    "cognito-identity": {
        "ListIdentities": {
            "input_token": "NextToken",
            "output_token": "NextToken",
            "limit_key": "MaxResults",
            "result_key": "Identities",
            "non_aggregate_keys": ["IdentityPoolId"],
        },
        "LookupDeveloperIdentity": {
            "input_token": "NextToken",
            "output_token": "NextToken",
            "limit_key": "MaxResults",
            "result_key": "DeveloperUserIdentifierList",
            "non_aggregate_keys": ["IdentityId"],
        },
    },
    "cognito-sync": {
        "ListDatasets": {
            "input_token": "NextToken",
            "output_token": "NextToken",
            "limit_key": "MaxResults",
            "result_key": "Datasets",
            "non_aggregate_keys": ["Count"],
        },
        "ListIdentityPoolUsage": {
            "input_token": "NextToken",
            "output_token": "NextToken",
            "limit_key": "MaxResults",
            "result_key": "IdentityPoolUsages",
            "non_aggregate_keys": ["MaxResults", "Count"],
        },
    },
}


@cache
def botocore_paginators(service_name: str) -> dict[str, dict[str, Any]]:
    """botocore's paginators-1.json for `service_name`, read without importing botocore."""
    folder = shapes.data_folder(service_name)
    for name in ("paginators-1.json", "paginators-1.json.gz"):
        path = folder / name
        if path.exists():
            raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
            return dict(json.loads(raw)["pagination"])
    return {}


def paging_config(service_name: str, operation: str) -> dict[str, Any] | None:
    """How `operation` pages: botocore's paginator, else cogid's, else None (not paged)."""
    config = botocore_paginators(service_name).get(operation) or EXTRA_PAGINATORS.get(service_name, {}).get(operation)
    return dict(config) if config is not None else None


def paginate(client: Any, operation: str, **kwargs: Any) -> PageIterator:
    """Pages of `operation` (its AWS name) called on `client`, as a botocore paginator would
    give them; kwargs as paginate()'s, PaginationConfig included."""
    service_name = client.meta.service_model.service_name
    config = paging_config(service_name, operation)
    if config is None:
        raise ValueError(f"{service_name} {operation} is not paged")
    return Paginator(getattr(client, shapes.snake(operation)), config).paginate(**kwargs)


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value]


def encode_token(token: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(token).encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    decoded = json.loads(base64.b64decode(token.encode()).decode())
    if not isinstance(decoded, dict):
        raise ValueError(f"Bad starting token: {token}")
    return decoded


class Paginator:
    """client.get_paginator(name): `paginate(**params)` gives a PageIterator."""

    def __init__(self, method: Callable[..., dict[str, Any]], config: dict[str, Any]):
        # cogid's services page with plain member names, never JMESPath expressions.
        self._method = method
        self._input_token = _as_list(config["input_token"])
        self._output_token = _as_list(config["output_token"])
        self._more_results: str | None = config.get("more_results")
        self._limit_key: str | None = config.get("limit_key")
        self.result_keys = _as_list(config.get("result_key", []))
        self._non_aggregate_keys = list(config.get("non_aggregate_keys", []))

    def paginate(self, **kwargs: Any) -> PageIterator:
        from botocore.exceptions import PaginationError  # light: only the exceptions module

        paging = kwargs.pop("PaginationConfig", None) or {}
        max_items = paging.get("MaxItems")
        page_size = paging.get("PageSize")
        if page_size is not None and self._limit_key is None:
            raise PaginationError(
                message="PageSize parameter is not supported for the pagination interface for this operation."
            )
        return PageIterator(
            self,
            kwargs,
            int(max_items) if max_items is not None else None,
            int(page_size) if page_size is not None else None,
            paging.get("StartingToken"),
        )


class PageIterator:
    """The pages of one paginate() call; `resume_token` says where a MaxItems cut stopped."""

    def __init__(
        self,
        paginator: Paginator,
        params: dict[str, Any],
        max_items: int | None,
        page_size: int | None,
        starting_token: str | None,
    ):
        self._paginator = paginator
        self._params = params
        self._max_items = max_items
        self._page_size = page_size
        self._starting_token = starting_token
        self.resume_token: str | None = None
        self.non_aggregate_part: dict[str, Any] = {}

    @property
    def result_keys(self) -> list[str]:
        return self._paginator.result_keys

    def _start(self) -> tuple[dict[str, Any], int]:
        """The service token and the items to skip on its first page, from StartingToken."""
        names = self._paginator._input_token
        if self._starting_token is None:
            return dict.fromkeys(names), 0
        token = decode_token(self._starting_token)
        skip = int(token.pop("boto_truncate_amount", 0))
        if sorted(token) != sorted(names):
            raise ValueError(f"Bad starting token: {token}")
        return token, skip

    def _next_token(self, page: dict[str, Any]) -> dict[str, Any]:
        paginator = self._paginator
        if paginator._more_results is not None and not page.get(paginator._more_results):
            return {}
        return {
            name: page.get(out) or None
            for out, name in zip(paginator._output_token, paginator._input_token, strict=True)
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from botocore.exceptions import PaginationError

        paginator = self._paginator
        params = dict(self._params)
        next_token, skip = self._start()
        _inject(params, next_token)
        if self._page_size is not None and paginator._limit_key is not None:
            params[paginator._limit_key] = self._page_size
        primary = paginator.result_keys[0]
        total, previous, first = 0, None, True
        while True:
            page = self._paginator._method(**params)
            if first:
                if self._starting_token is not None:  # resuming: cut what the last run showed
                    items = page.get(primary)
                    page[primary] = items[skip:] if isinstance(items, (list, str)) else None
                    for key in paginator.result_keys[1:]:
                        page[key] = _emptied(page.get(key))
                self.non_aggregate_part = {k: page[k] for k in paginator._non_aggregate_keys if k in page}
            else:
                skip = 0
            first = False
            items = page.get(primary) or []
            over = total + len(items) - self._max_items if self._max_items is not None else 0
            if over > 0:
                kept = len(items) - over
                page[primary] = items[:kept]
                self.resume_token = encode_token({**next_token, "boto_truncate_amount": kept + skip})
                yield page
                return
            yield page
            total += len(items)
            next_token = self._next_token(page)
            if all(value is None for value in next_token.values()):
                return
            if self._max_items is not None and total == self._max_items:
                self.resume_token = encode_token(next_token)
                return
            if previous is not None and previous == next_token:
                raise PaginationError(message=f"The same next token was received twice: {next_token}")
            _inject(params, next_token)
            previous = next_token

    def build_full_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for page in self:
            for key in self.result_keys:
                value = page.get(key)
                if value is None:
                    continue
                if key not in result:
                    result[key] = value
                elif isinstance(value, list):
                    result[key].extend(value)
                elif isinstance(value, (int, float, str)):
                    result[key] = result[key] + value
        result.update(self.non_aggregate_part)
        if self.resume_token is not None:
            result["NextToken"] = self.resume_token
        return result

    def search(self, expression: str) -> Iterator[Any]:
        import jmespath  # botocore's own dependency; loaded only by the one who searches

        compiled = jmespath.compile(expression)
        for page in self:
            found = compiled.search(page)
            if isinstance(found, list):
                yield from found
            else:
                yield found


def _inject(params: dict[str, Any], token: dict[str, Any]) -> None:
    for name, value in token.items():
        if value is not None and value != "None":
            params[name] = value
        else:
            params.pop(name, None)


def _emptied(sample: Any) -> Any:
    """A secondary result key on a resumed first page, as botocore empties it."""
    if isinstance(sample, list):
        return []
    if isinstance(sample, str):
        return ""
    if isinstance(sample, (int, float)):
        return sample
    return None
