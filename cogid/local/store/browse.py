"""The dashboard's SQL (`cogid serve`'s /_cogid/ pages): read-only views across services that
no AWS operation gives, each bounded so a page stays fast on a store of a million identities.

Searches are prefix ranges on indexed columns (case-sensitive, as the ids they match are):
an identity id on `identities.id`, a login's subject on the logins' (pool, provider, subject)
index, provider by provider.
"""

from __future__ import annotations

import json
from typing import Any

from cogid.local.store.core import Row, StoreCore

# Above every character a prefix can be followed by: `prefix <= x < prefix + PAST` is
# "x starts with prefix" in SQLite's binary (UTF-8 byte) order.
PAST = "\U0010ffff"
ID_PREFIX = 4  # characters of an identity id's UUID a search needs: 1/65,536 of a region's ids


class BrowseSQL(StoreCore):
    """Reads for the dashboard, on the core's connection and its caller's transaction."""

    def all_pools(self, limit: int) -> list[Row]:
        """The first `limit` pools of every region, oldest first, each with its identities
        counted (on the pool's index alone: by state would read every identity's row)."""
        return self.db.execute(
            "SELECT p.*, (SELECT count(*) FROM identities i WHERE i.pool_id = p.id) AS identities"
            " FROM pools p ORDER BY p.seq LIMIT ?",
            (limit,),
        ).fetchall()

    def count_all_pools(self) -> int:
        return int(self._value("SELECT count(*) FROM pools") or 0)

    def pool_counts(self, pool_id: str) -> Row:
        """A pool's identities by state (one pass over them), its live Sync datasets and their bytes."""
        row = self._one(
            "SELECT * FROM (SELECT count(*) AS identities, coalesce(sum(state = 'authenticated'), 0) AS authenticated,"
            " coalesce(sum(state = 'guest'), 0) AS guests, coalesce(sum(state = 'disabled'), 0) AS disabled"
            " FROM identities WHERE pool_id = ?1),"
            " (SELECT count(*) AS datasets, coalesce(sum(d.bytes), 0) AS bytes"
            " FROM sync_datasets d JOIN identities i ON i.id = d.identity_id WHERE i.pool_id = ?1 AND d.live = 1)",
            pool_id,
        )
        assert row is not None  # an aggregate always has a row
        return row

    def principal_tag_maps(self, pool_id: str) -> dict[str, dict[str, Any]]:
        rows = self.db.execute(
            "SELECT provider, doc FROM principal_tag_maps WHERE pool_id = ? ORDER BY provider", (pool_id,)
        ).fetchall()
        return {row["provider"]: json.loads(row["doc"]) for row in rows}

    def count_identities(self, pool_id: str, up_to: int | None = None) -> int:
        """A pool's identities, or those made up to `up_to` (a `seq`): where a page starts."""
        return int(
            self._value(
                "SELECT count(*) FROM identities WHERE pool_id = ? AND seq <= ?",
                pool_id,
                (1 << 62) if up_to is None else up_to,
            )
            or 0
        )

    def linked_providers(self, pool_id: str) -> list[str]:
        """The providers a pool's logins name, read by skipping along the logins' unique index
        (one seek a provider, not a scan of every login)."""
        rows = self.db.execute(
            "WITH RECURSIVE p(provider) AS ("
            " SELECT min(provider) FROM logins WHERE pool_id = ?1"
            " UNION ALL SELECT (SELECT min(provider) FROM logins WHERE pool_id = ?1 AND provider > p.provider)"
            " FROM p WHERE p.provider IS NOT NULL)"
            " SELECT provider FROM p WHERE provider IS NOT NULL",
            (pool_id,),
        ).fetchall()
        return [row["provider"] for row in rows]

    def search_identities(self, pool_id: str, prefix: str, limit: int) -> list[Row]:
        """A pool's identities whose id, or the subject of one of whose logins (a developer
        user id, a Facebook user id...), starts with `prefix`: those by id first, then by login
        in provider and subject order, each once, at most `limit`.

        Identity ids are matched only from 4 characters past the region's colon: the id index
        holds every pool's, so a shorter prefix ("us-east-1:") would read a whole region's."""
        found: dict[str, Row] = {}
        _, colon, rest = prefix.partition(":")
        rows = (
            []
            if not colon or len(rest) < ID_PREFIX
            else self.db.execute(
                # `+pool_id`: not by the pool's index, which SQLite prefers and which reads every
                # identity of the pool (21 ms at 100,000) where the id's range reads a handful.
                "SELECT * FROM identities WHERE id >= ? AND id < ? AND +pool_id = ? ORDER BY id LIMIT ?",
                (prefix, prefix + PAST, pool_id, limit),
            ).fetchall()
        )
        found.update((row["id"], row) for row in rows)
        for provider in self.linked_providers(pool_id):
            if len(found) >= limit:
                break
            rows = self.db.execute(
                "SELECT i.* FROM logins l JOIN identities i ON i.id = l.identity_id WHERE l.pool_id = ?"
                " AND l.provider = ? AND l.subject >= ? AND l.subject < ? ORDER BY l.subject LIMIT ?",
                (pool_id, provider, prefix, prefix + PAST, limit),
            ).fetchall()
            for row in rows:
                found.setdefault(row["id"], row)
        return list(found.values())[:limit]

    def all_datasets(self, identity_id: str) -> list[Row]:
        """An identity's live datasets, by name (every one: Cognito Sync allows 20 an identity)."""
        return self.db.execute(
            "SELECT * FROM sync_datasets WHERE identity_id = ? AND live = 1 ORDER BY name", (identity_id,)
        ).fetchall()

    def all_records(self, dataset: int) -> list[Row]:
        """A dataset's records, removed ones (NULL value) included, by key."""
        return self.db.execute("SELECT * FROM sync_records WHERE dataset = ? ORDER BY key", (dataset,)).fetchall()

    def devices_of(self, identity_id: str) -> list[Row]:
        """An identity's registered devices, each with the names of the datasets it is
        subscribed to (comma-separated, or NULL)."""
        return self.db.execute(
            "SELECT v.id, v.platform, v.token, group_concat(d.name, ',') AS subscriptions FROM sync_devices v"
            " LEFT JOIN sync_subscriptions s ON s.device_id = v.id LEFT JOIN sync_datasets d ON d.seq = s.dataset"
            " WHERE v.identity_id = ? GROUP BY v.id ORDER BY v.id",
            (identity_id,),
        ).fetchall()

    def recent_outbox(self, limit: int) -> list[dict[str, Any]]:
        """The outbox's newest `limit` entries, newest first, each with its `seq`."""
        rows = self.db.execute("SELECT seq, doc FROM sync_outbox ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [{"seq": row["seq"], **json.loads(row["doc"])} for row in rows]

    def count_outbox(self) -> int:
        return int(self._value("SELECT count(*) FROM sync_outbox") or 0)
