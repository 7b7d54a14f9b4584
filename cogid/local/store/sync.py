"""Cognito Sync's SQL: datasets, records, sync sessions, devices, pool settings, the outbox.

A dataset is one row per (identity, name), live or not: a deleted name keeps its row as the
dataset tombstone, whose `deleted_at` (DeletedAtSyncCount, spec S9) outlives a re-creation.
Records are rows of a dataset; a removed record keeps its row with a NULL value (a tombstone).
Times are whole milliseconds since the epoch (spec S8). Every table hangs off an identity or a
pool with ON DELETE CASCADE, so deleting either removes its Sync data in the same statement
(S10); the outbox hangs off nothing, as it outlives both (§8). The tables are made by core.py's
migration to schema 2.
"""

from __future__ import annotations

import json
from typing import Any

from cogid.local.store.core import Row, StoreCore


class SyncSQL(StoreCore):
    """The Store's Cognito Sync statements."""

    # -- datasets ------------------------------------------------------------------------------

    def dataset(self, identity_id: str, name: str) -> Row | None:
        """The row of a dataset name, live or a tombstone."""
        return self._one("SELECT * FROM sync_datasets WHERE identity_id = ? AND name = ?", identity_id, name)

    def datasets(self, identity_id: str, after: str, limit: int) -> list[Row]:
        return self.db.execute(
            "SELECT * FROM sync_datasets WHERE identity_id = ? AND live = 1 AND name > ? ORDER BY name LIMIT ?",
            (identity_id, after, limit),
        ).fetchall()

    def live_datasets(self, pool_id: str) -> list[Row]:
        return self.db.execute(
            "SELECT d.* FROM sync_datasets d JOIN identities i ON i.id = d.identity_id"
            " WHERE i.pool_id = ? AND d.live = 1 ORDER BY d.identity_id, d.name",
            (pool_id,),
        ).fetchall()

    def count_datasets(self, identity_id: str) -> int:
        return int(
            self._value("SELECT count(*) FROM sync_datasets WHERE identity_id = ? AND live = 1", identity_id) or 0
        )

    def usage(self, identity_id: str) -> Row | None:
        """Live datasets and their bytes, with the identity's last Sync write (or NULL)."""
        return self._one(
            "SELECT (SELECT count(*) FROM sync_datasets WHERE identity_id = ?1 AND live = 1) AS datasets,"
            " (SELECT coalesce(sum(bytes), 0) FROM sync_datasets WHERE identity_id = ?1 AND live = 1) AS bytes,"
            " (SELECT modified FROM sync_identities WHERE identity_id = ?1) AS modified",
            identity_id,
        )

    def pool_bytes(self, pool_id: str) -> int:
        total = self._value(
            "SELECT coalesce(sum(d.bytes), 0) FROM sync_datasets d JOIN identities i ON i.id = d.identity_id"
            " WHERE i.pool_id = ? AND d.live = 1",
            pool_id,
        )
        return int(total or 0)

    def merged_names(self, identity_id: str, origin: str) -> list[str]:
        rows = self.db.execute(
            "SELECT name FROM sync_datasets WHERE identity_id = ? AND live = 1 AND merged_from = ? ORDER BY name",
            (identity_id, origin),
        ).fetchall()
        return [row["name"] for row in rows]

    def names(self, identity_id: str) -> set[str]:
        """Every dataset name the identity holds, tombstones included."""
        rows = self.db.execute("SELECT name FROM sync_datasets WHERE identity_id = ?", (identity_id,))
        return {row["name"] for row in rows}

    def create_dataset(self, identity_id: str, name: str, count: int, now: int, by: str) -> int:
        """A live dataset under `name`, reusing the name's tombstone row if it has one."""
        self.db.execute(
            "INSERT INTO sync_datasets (identity_id, name, live, sync_count, created, modified, modified_by)"
            " VALUES (?1, ?2, 1, ?3, ?4, ?4, ?5) ON CONFLICT (identity_id, name) DO UPDATE SET live = 1,"
            " sync_count = ?3, created = ?4, modified = ?4, modified_by = ?5, merged_from = NULL,"
            " records = 0, bytes = 0",
            (identity_id, name, count, now, by),
        )
        row = self._one("SELECT seq FROM sync_datasets WHERE identity_id = ? AND name = ?", identity_id, name)
        assert row is not None
        return int(row["seq"])

    def set_dataset(self, seq: int, count: int, records: int, size: int, now: int, by: str) -> None:
        self.db.execute(
            "UPDATE sync_datasets SET sync_count = ?, records = ?, bytes = ?, modified = ?, modified_by = ?"
            " WHERE seq = ?",
            (count, records, size, now, by, seq),
        )

    def bury_dataset(self, seq: int) -> None:
        """Delete a dataset's contents and keep its row as the name's tombstone (S9, S36)."""
        self.db.execute("DELETE FROM sync_records WHERE dataset = ?", (seq,))
        self.db.execute("DELETE FROM sync_subscriptions WHERE dataset = ?", (seq,))
        self.db.execute(
            "UPDATE sync_datasets SET live = 0, deleted_at = sync_count + 1, records = 0, bytes = 0,"
            " merged_from = NULL WHERE seq = ?",
            (seq,),
        )

    def move_dataset(self, seq: int, identity_id: str, name: str, origin: str) -> None:
        """Give a live dataset, its records and tombstones, to another identity under a new name,
        leaving the old owner the name's tombstone (S51, S55)."""
        row = self._one("SELECT * FROM sync_datasets WHERE seq = ?", seq)
        assert row is not None
        self.db.execute(
            # Under its new name it has never been deleted: no deletion count comes along (S33).
            "UPDATE sync_datasets SET identity_id = ?, name = ?, merged_from = ?, deleted_at = NULL WHERE seq = ?",
            (identity_id, name, origin, seq),
        )
        self.db.execute(
            "INSERT INTO sync_datasets (identity_id, name, live, sync_count, deleted_at, created, modified,"
            " modified_by) VALUES (?, ?, 0, ?, ?, ?, ?, ?)",
            (
                row["identity_id"],
                row["name"],
                row["sync_count"],
                row["sync_count"] + 1,
                row["created"],
                row["modified"],
                row["modified_by"],
            ),
        )

    # -- records -------------------------------------------------------------------------------

    def records(self, dataset: int, keys: list[str]) -> dict[str, Row]:
        found: dict[str, Row] = {}
        for start in range(0, len(keys), 500):  # SQLite's bound parameters are limited
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT * FROM sync_records WHERE dataset = ? AND key IN ({marks})", (dataset, *chunk)
            )
            found.update((row["key"], row) for row in rows)
        return found

    def live_records(self, dataset: int) -> list[Row]:
        return self.db.execute(
            "SELECT * FROM sync_records WHERE dataset = ? AND value IS NOT NULL ORDER BY key", (dataset,)
        ).fetchall()

    def changed_records(self, dataset: int, since: int, after: tuple[int, str] | None, limit: int) -> list[Row]:
        """Records written after sync count `since`, in (sync count, key) order, past `after`."""
        count, key = after if after is not None else (-1, "")
        return self.db.execute(
            "SELECT * FROM sync_records WHERE dataset = ? AND sync_count > ? AND (sync_count, key) > (?, ?)"
            " ORDER BY sync_count, key LIMIT ?",
            (dataset, since, count, key, limit),
        ).fetchall()

    def write_record(
        self, dataset: int, key: str, value: str | None, count: int, now: int, by: str, device_modified: int | None
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO sync_records (dataset, key, value, sync_count, modified, modified_by,"
            " device_modified) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (dataset, key, value, count, now, by, device_modified),
        )

    # -- sessions ------------------------------------------------------------------------------

    def sync_session(self, token: str) -> Row | None:
        return self._one("SELECT * FROM sync_sessions WHERE token = ?", token)

    def insert_sync_session(self, token: str, pool_id: str, identity_id: str, dataset: str, expires: float) -> None:
        self.db.execute(
            "INSERT INTO sync_sessions (token, identity_id, pool_id, dataset, expires) VALUES (?, ?, ?, ?, ?)",
            (token, identity_id, pool_id, dataset, expires),
        )
        self.db.execute(
            "INSERT INTO sync_pools (pool_id, sessions) VALUES (?, 1)"
            " ON CONFLICT (pool_id) DO UPDATE SET sessions = sessions + 1",
            (pool_id,),
        )

    def renew_sync_session(self, token: str, expires: float) -> None:
        self.db.execute("UPDATE sync_sessions SET expires = ? WHERE token = ?", (expires, token))

    def end_sync_sessions(self, identity_id: str, dataset: str | None = None) -> None:
        """End an identity's sessions: for one dataset name, or all of them."""
        if dataset is None:
            self.db.execute("DELETE FROM sync_sessions WHERE identity_id = ?", (identity_id,))
        else:
            self.db.execute("DELETE FROM sync_sessions WHERE identity_id = ? AND dataset = ?", (identity_id, dataset))

    def purge_sync_sessions(self, before: float) -> None:
        self.db.execute("DELETE FROM sync_sessions WHERE expires < ?", (before,))

    # -- usage times ---------------------------------------------------------------------------

    def touch_sync(self, pool_id: str, identity_ids: list[str], now: int) -> None:
        """Record a Sync write for these identities of a pool (§2.2's usage dates)."""
        for identity_id in identity_ids:
            self.db.execute(
                "INSERT INTO sync_identities (identity_id, modified) VALUES (?1, ?2)"
                " ON CONFLICT (identity_id) DO UPDATE SET modified = ?2",
                (identity_id, now),
            )
        self.db.execute(
            "INSERT INTO sync_pools (pool_id, modified) VALUES (?1, ?2)"
            " ON CONFLICT (pool_id) DO UPDATE SET modified = ?2",
            (pool_id, now),
        )

    # -- pool settings -------------------------------------------------------------------------

    def peek_sync_pool(self, pool_id: str) -> Row | None:
        """A pool's Sync settings for a reader (None: never set, all defaults)."""
        return self._one("SELECT * FROM sync_pools WHERE pool_id = ?", pool_id)

    def set_sync_pool(self, pool_id: str, doc: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO sync_pools (pool_id, doc) VALUES (?1, ?2) ON CONFLICT (pool_id) DO UPDATE SET doc = ?2",
            (pool_id, json.dumps(doc)),
        )

    def pools_by_id(self, region: str, after: str, limit: int) -> list[Row]:
        return self.db.execute(
            "SELECT p.id, p.created, s.sessions, s.modified FROM pools p LEFT JOIN sync_pools s ON s.pool_id = p.id"
            " WHERE p.region = ? AND p.id > ? ORDER BY p.id LIMIT ?",
            (region, after, limit),
        ).fetchall()

    # -- devices and subscriptions -------------------------------------------------------------

    def device(self, device_id: str) -> Row | None:
        return self._one("SELECT * FROM sync_devices WHERE id = ?", device_id)

    def device_for(self, identity_id: str, platform: str, token: str) -> Row | None:
        return self._one(
            "SELECT * FROM sync_devices WHERE identity_id = ? AND platform = ? AND token = ?",
            identity_id,
            platform,
            token,
        )

    def insert_device(self, device_id: str, identity_id: str, platform: str, token: str) -> None:
        self.db.execute(
            "INSERT INTO sync_devices (id, identity_id, platform, token) VALUES (?, ?, ?, ?)",
            (device_id, identity_id, platform, token),
        )

    def delete_devices(self, identity_id: str) -> None:
        self.db.execute("DELETE FROM sync_devices WHERE identity_id = ?", (identity_id,))

    def subscribe(self, device_id: str, dataset: int) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO sync_subscriptions (device_id, dataset) VALUES (?, ?)", (device_id, dataset)
        )

    def unsubscribe(self, device_id: str, dataset: int) -> bool:
        return (
            self.db.execute(
                "DELETE FROM sync_subscriptions WHERE device_id = ? AND dataset = ?", (device_id, dataset)
            ).rowcount
            > 0
        )

    def subscribers(self, dataset: int) -> list[Row]:
        return self.db.execute(
            "SELECT d.* FROM sync_subscriptions s JOIN sync_devices d ON d.id = s.device_id"
            " WHERE s.dataset = ? ORDER BY d.id",
            (dataset,),
        ).fetchall()

    # -- outbox --------------------------------------------------------------------------------

    def post(self, kind: str, pool_id: str, doc: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO sync_outbox (kind, pool_id, doc) VALUES (?, ?, ?)", (kind, pool_id, json.dumps(doc))
        )

    def outbox(self, kind: str | None, pool_id: str | None, clear: bool) -> list[dict[str, Any]]:
        where = "WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR pool_id = ?2)"
        rows = self.db.execute(f"SELECT doc FROM sync_outbox {where} ORDER BY seq", (kind, pool_id)).fetchall()
        if clear:
            self.db.execute(f"DELETE FROM sync_outbox {where}", (kind, pool_id))
        return [json.loads(row["doc"]) for row in rows]
