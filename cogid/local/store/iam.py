"""IAM and STS SQL: temporary credentials (sessions), developer access keys and roles (a mixin
of `Store`)."""

from __future__ import annotations

import json
from typing import Any

from cogid.local.store.core import Row, StoreCore


class IamSQL(StoreCore):
    """IAM's and STS's statements, on the core's connection (in its caller's transaction, but for
    `signer`, a snapshot on its own)."""

    # -- temporary credentials, developer access keys, IAM roles ------------------------------

    def insert_session(self, access_key: str, doc: dict[str, Any], expires: float) -> None:
        self.db.execute(
            "INSERT INTO sessions (access_key, doc, expires) VALUES (?, ?, ?)",
            (access_key, json.dumps(doc), expires),
        )

    def purge_sessions(self, before: float) -> None:
        self.db.execute("DELETE FROM sessions WHERE expires < ?", (before,))

    def insert_access_key(self, access_key: str, doc: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO access_keys (access_key, doc) VALUES (?, ?)", (access_key, json.dumps(doc)))

    def signer(self, access_key: str) -> tuple[str, dict[str, Any]] | None:
        """What an access key id names, in one statement (so one snapshot, with no transaction
        to open and close): ('session', temporary credentials) or ('key', an access key).
        The two never share an id (ASIA... and AKIA...)."""
        row = self._one(
            "SELECT 'session' AS kind, doc FROM sessions WHERE access_key = ?"
            " UNION ALL SELECT 'key', doc FROM access_keys WHERE access_key = ? LIMIT 1",
            access_key,
            access_key,
        )
        return (row["kind"], json.loads(row["doc"])) if row else None

    def access_keys(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT doc FROM access_keys ORDER BY rowid").fetchall()
        return [json.loads(row["doc"]) for row in rows]

    def delete_access_key(self, access_key: str) -> bool:
        cursor = self.db.execute("DELETE FROM access_keys WHERE access_key = ?", (access_key,))
        return cursor.rowcount > 0

    def insert_role(self, name: str, doc: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO roles (name, doc) VALUES (?, ?)", (name, json.dumps(doc)))

    def update_role(self, name: str, doc: dict[str, Any]) -> None:
        self.db.execute("UPDATE roles SET doc = ? WHERE name = ?", (json.dumps(doc), name))

    def role(self, name: str) -> dict[str, Any] | None:
        row = self._one("SELECT doc FROM roles WHERE name = ?", name)
        return json.loads(row["doc"]) if row else None

    def list_roles(self, after: int, path_prefix: str, limit: int) -> list[Row]:
        return self.db.execute(
            "SELECT seq, doc FROM roles WHERE seq > ? AND substr(json_extract(doc, '$.Path'), 1, ?) = ?"
            " ORDER BY seq LIMIT ?",
            (after, len(path_prefix), path_prefix, limit),
        ).fetchall()

    def delete_role(self, name: str) -> bool:
        return self.db.execute("DELETE FROM roles WHERE name = ?", (name,)).rowcount > 0
