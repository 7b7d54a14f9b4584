"""What every Cognito Sync operation shares: who may call it (spec §5), the pool and identity it
names (S23-S26), times (S8) and page tokens (S28).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cogid.local import errors
from cogid.local.identity.pool import ACCOUNT, Caller
from cogid.local.store import Row, Store

NOT_VALID = "These credentials are not valid for accessing this resource"
# The times a record's dates may hold: those every SDK can read back as a date in any time zone
# (UTC-12 to UTC+14), so 0001-01-02 to 9999-12-30. Spec S8 bounds them at ±253,402,300,799 s,
# "the year 9999"; its negative end is no year a calendar has, and a record dated in year 1 (or
# on 9999-12-31) made the dataset unreadable to botocore, which fails on year 0 or 10000.
MIN_TIMESTAMP = -62_135_510_400  # 0001-01-02T00:00:00Z, in seconds
MAX_TIMESTAMP = 253_402_214_399  # 9999-12-30T23:59:59Z
_POOL_ID = re.compile(r"[\w-]+:[0-9a-f-]+", re.ASCII)
_DATASET_NAME = re.compile(r"[a-zA-Z0-9_.:-]{1,200}")
_SURROGATE = re.compile("[\ud800-\udfff]")

# A record as the store holds it: a row, or the same fields just written.
Fields = Mapping[str, Any]

# Who an operation admits (spec §5): developers only, identities only, or both.
DEVELOPER, IDENTITY, BOTH = "developer", "identity", "both"


@dataclass(frozen=True)
class Scope:
    """An admitted call: the pool and identity it is about, and who writes (S7)."""

    pool: Row
    identity: Row | None
    writer: str  # LastModifiedBy: the calling identity's id, or the account's
    as_identity: bool

    @property
    def pool_id(self) -> str:
        return str(self.pool["id"])


def identity_of(caller: Caller) -> tuple[str, str | None] | None:
    """(identity id, pool id) for temporary credentials vended to a Cognito identity; None for
    the account itself (unsigned in-process calls) and its developer keys."""
    principal = caller.principal
    if principal is None or not principal.get("Session"):
        return None
    return str(principal["IdentityId"]), principal.get("IdentityPoolId")


class Admission:
    """S23-S26 for one store."""

    store: Store
    clock: Callable[[], float]

    def now_ms(self) -> int:
        return round(self.clock() * 1000)

    def admit(self, caller: Caller, who: str, pool_id: str, identity_id: str | None = None) -> Scope:
        """Check, in this order: the caller's kind and ownership (S23), the pool in the caller's
        region (S24), the identity in that pool (S25), and an identity caller's own state (S26)."""
        own = identity_of(caller)
        if own is None:
            if who == IDENTITY:
                raise errors.NotAuthorized(NOT_VALID)
        elif who == DEVELOPER or own[0] != identity_id or own[1] not in (None, pool_id):
            raise errors.NotAuthorized(NOT_VALID)
        pool = self.store.pool(pool_id)
        if pool is None or pool["region"] != caller.region:
            raise errors.ResourceNotFound(f"IdentityPool '{pool_id}' not found.")
        identity = None
        if identity_id is not None:
            identity = self.store.identity(identity_id)
            if identity is None or identity["pool_id"] != pool_id:
                raise errors.ResourceNotFound(f"Identity '{identity_id}' not found.")
            if own is not None and identity["state"] == "disabled":
                raise errors.NotAuthorized(f"Access to Identity '{identity_id}' is forbidden.")
        return Scope(pool, identity, own[0] if own else ACCOUNT, own is not None)


@dataclass
class Write:
    """One record as an UpdateRecords leaves it: its new value (None: removed) and device date."""

    key: str
    value: str | None
    device_modified: int | None = None


# -- times (S8) -------------------------------------------------------------------------------


def seconds(millis: int) -> float:
    """Milliseconds as the epoch seconds AWS writes: at most three decimals, no exponent."""
    return millis / 1000


def millis(value: Any, member: str) -> int:
    """An incoming timestamp (epoch seconds, whole or fractional, or ISO 8601 with a zone) in
    whole milliseconds; SerializationException for anything else (S8)."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            seconds = moment.timestamp()
    # An int of any size compares without overflow; NaN fails every comparison.
    if seconds is not None and MIN_TIMESTAMP <= seconds <= MAX_TIMESTAMP:
        return round(seconds * 1000)
    raise errors.Serialization(f"Value at '{member}' is not a timestamp (epoch seconds or ISO 8601 with a zone)")


def text(value: str) -> bool:
    """Is `value` text a store can hold (JSON can spell a lone surrogate, which is not)?"""
    return value.isascii() or not _SURROGATE.search(value)


# -- page tokens (S28) ------------------------------------------------------------------------


def page_token(position: Any) -> str:
    """Standard padded base64 of the last item's sort key (a string, or JSON for a tuple)."""
    text = position if isinstance(position, str) else json.dumps(position)
    return base64.b64encode(text.encode()).decode()


def _decoded(token: str) -> str:
    try:
        return base64.b64decode(token.encode(), validate=True).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.InvalidParameter("Invalid pagination token") from None


def pool_position(token: str | None) -> str:
    if not token:  # an empty nextToken is the first page
        return ""
    position = _decoded(token)
    if not _POOL_ID.fullmatch(position):
        raise errors.InvalidParameter("Invalid pagination token")
    return position


def dataset_position(token: str | None) -> str:
    if not token:
        return ""
    position = _decoded(token)
    if not _DATASET_NAME.fullmatch(position):
        raise errors.InvalidParameter("Invalid pagination token")
    return position


def record_position(token: str | None) -> tuple[int, str] | None:
    if not token:
        return None
    try:
        count, key = json.loads(_decoded(token))
    except (ValueError, TypeError, RecursionError):
        raise errors.InvalidParameter("Invalid pagination token") from None
    if (
        not isinstance(count, int)
        or isinstance(count, bool)
        or not 0 <= count < 2**63
        or not isinstance(key, str)
        or not 1 <= len(key) <= 1024
        or not text(key)
    ):
        raise errors.InvalidParameter("Invalid pagination token")
    return count, key


def page_size(max_results: int | None, default: int | None, cap: int) -> int | None:
    """MaxResults as used (S29): at least 1, capped, `default` when absent (None: no limit)."""
    if max_results is None:
        return default
    if max_results < 1:
        raise errors.InvalidParameter("maxResults must be at least 1")
    return min(max_results, cap)
