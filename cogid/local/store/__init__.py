"""SQLite persistence for the local service: `Store`, the only SQL.

core.py holds the file, connections, transactions and the schema; each service's statements are
a mixin that `Store` inherits (identity.py, iam.py, sync.py; browse.py the dashboard's reads),
so callers write `store.pool(...)` or `store.role(...)` whichever service they belong to. A new
service adds its mixin here.
"""

from __future__ import annotations

from cogid.local.store.browse import BrowseSQL
from cogid.local.store.core import (
    Duplicate,
    Row,
    StoreBusy,
    StoreCore,
    StoreTimeoutError,
    StoreUnwritable,
    create_private_file,
)
from cogid.local.store.iam import IamSQL
from cogid.local.store.identity import IdentitySQL
from cogid.local.store.sync import SyncSQL

__all__ = [
    "Duplicate",
    "Row",
    "Store",
    "StoreBusy",
    "StoreCore",
    "StoreUnwritable",
    "StoreTimeoutError",
    "create_private_file",
]


class Store(IdentitySQL, IamSQL, SyncSQL, BrowseSQL):
    """The SQLite file, with one connection per thread, and every service's SQL."""
