"""The identity pool service's SQL: pools and their principal-tag maps, identities, logins,
signing keys and registered OIDC issuers (a mixin of `Store`)."""

from __future__ import annotations

import json
from typing import Any

from cogid.local.store.core import Row, StoreCore


class IdentitySQL(StoreCore):
    """Cognito Identity's statements, on the core's connection and its caller's transaction."""

    # -- pools ------------------------------------------------------------------------------

    def insert_pool(self, pool_id: str, region: str, doc: dict[str, Any], now: float) -> None:
        self.db.execute(
            "INSERT INTO pools (id, region, developer_provider, doc, created) VALUES (?, ?, ?, ?, ?)",
            (pool_id, region, doc.get("DeveloperProviderName"), json.dumps(doc), now),
        )

    def update_pool(self, pool_id: str, doc: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE pools SET doc = ?, developer_provider = ? WHERE id = ?",
            (json.dumps(doc), doc.get("DeveloperProviderName"), pool_id),
        )

    def pool(self, pool_id: str) -> Row | None:
        return self._one("SELECT * FROM pools WHERE id = ?", pool_id)

    def pool_and_owner(self, pool_id: str, provider: str, subject: str) -> Row | None:
        """A pool with the identity owning one of its logins (column `owner`), in one statement."""
        return self._one(
            "SELECT p.*, (SELECT identity_id FROM logins l WHERE l.pool_id = p.id AND l.provider = ?"
            " AND l.subject = ?) AS owner FROM pools p WHERE p.id = ?",
            provider,
            subject,
            pool_id,
        )

    def delete_pool(self, pool_id: str) -> None:
        self.db.execute("DELETE FROM pools WHERE id = ?", (pool_id,))

    def count_pools(self, region: str) -> int:
        return int(self._value("SELECT count(*) FROM pools WHERE region = ?", region) or 0)

    def list_pools(self, region: str, after: int, limit: int) -> list[Row]:
        return self.db.execute(
            "SELECT * FROM pools WHERE region = ? AND seq > ? ORDER BY seq LIMIT ?",
            (region, after, limit),
        ).fetchall()

    def set_roles(self, pool_id: str, roles: dict[str, Any], mappings: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE pools SET roles = ?, role_mappings = ? WHERE id = ?",
            (json.dumps(roles), json.dumps(mappings), pool_id),
        )

    def principal_tag_map(self, pool_id: str, provider: str) -> dict[str, Any] | None:
        row = self._one("SELECT doc FROM principal_tag_maps WHERE pool_id = ? AND provider = ?", pool_id, provider)
        return json.loads(row["doc"]) if row else None

    def set_principal_tag_map(self, pool_id: str, provider: str, doc: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO principal_tag_maps (pool_id, provider, doc) VALUES (?, ?, ?)",
            (pool_id, provider, json.dumps(doc)),
        )

    # -- identities -------------------------------------------------------------------------

    def insert_identity(self, identity_id: str, pool_id: str, state: str, now: float) -> None:
        self.db.execute(
            "INSERT INTO identities (id, pool_id, state, created, modified) VALUES (?, ?, ?, ?, ?)",
            (identity_id, pool_id, state, now, now),
        )

    def identity(self, identity_id: str) -> Row | None:
        return self._one("SELECT * FROM identities WHERE id = ?", identity_id)

    def set_identity_state(self, identity_id: str, state: str, now: float) -> None:
        self.db.execute("UPDATE identities SET state = ?, modified = ? WHERE id = ?", (state, now, identity_id))

    def delete_identity(self, identity_id: str) -> bool:
        return self.db.execute("DELETE FROM identities WHERE id = ?", (identity_id,)).rowcount > 0

    def list_identities(self, pool_id: str, after: int, limit: int, hide_disabled: bool) -> list[Row]:
        hide = "AND state != 'disabled'" if hide_disabled else ""
        return self.db.execute(
            f"SELECT * FROM identities WHERE pool_id = ? AND seq > ? {hide} ORDER BY seq LIMIT ?",
            (pool_id, after, limit),
        ).fetchall()

    # -- logins -----------------------------------------------------------------------------

    def login_owner(self, pool_id: str, provider: str, subject: str) -> str | None:
        row = self._one(
            "SELECT identity_id FROM logins WHERE pool_id = ? AND provider = ? AND subject = ?",
            pool_id,
            provider,
            subject,
        )
        return row["identity_id"] if row else None

    def logins(self, identity_id: str) -> list[Row]:
        return self.db.execute(
            "SELECT provider, subject, developer FROM logins WHERE identity_id = ? ORDER BY seq",
            (identity_id,),
        ).fetchall()

    def logins_of(self, identity_ids: list[str]) -> dict[str, list[Row]]:
        """The logins (provider, subject, developer) of each of `identity_ids` (a page of them),
        in link order, in one statement: a page of ListIdentities reads them at once, not one
        statement an identity."""
        marks = ",".join("?" * len(identity_ids))
        rows = self.db.execute(
            f"SELECT identity_id, provider, subject, developer FROM logins WHERE identity_id IN ({marks})"  # noqa: S608
            " ORDER BY seq",
            identity_ids,
        ).fetchall()
        found: dict[str, list[Row]] = {}
        for row in rows:
            found.setdefault(row["identity_id"], []).append(row)
        return found

    def providers_of(self, identity_ids: list[str]) -> dict[str, list[str]]:
        """The login providers of each of `identity_ids`, in link order (see logins_of)."""
        return {key: [row["provider"] for row in rows] for key, rows in self.logins_of(identity_ids).items()}

    def developer_ids(self, identity_id: str, after: int, limit: int) -> list[Row]:
        return self.db.execute(
            "SELECT subject, seq FROM logins WHERE identity_id = ? AND developer = 1 AND seq > ? ORDER BY seq LIMIT ?",
            (identity_id, after, limit),
        ).fetchall()

    def add_login(self, pool_id: str, provider: str, subject: str, identity_id: str, developer: bool) -> None:
        self.db.execute(
            "INSERT INTO logins (pool_id, provider, subject, identity_id, developer) VALUES (?, ?, ?, ?, ?)",
            (pool_id, provider, subject, identity_id, int(developer)),
        )

    def move_logins(self, from_identity: str, to_identity: str) -> None:
        self.db.execute("UPDATE logins SET identity_id = ? WHERE identity_id = ?", (to_identity, from_identity))

    def remove_login(self, pool_id: str, provider: str, subject: str) -> None:
        self.db.execute(
            "DELETE FROM logins WHERE pool_id = ? AND provider = ? AND subject = ?",
            (pool_id, provider, subject),
        )

    def remove_provider(self, identity_id: str, provider: str) -> int:
        return self.db.execute(
            "DELETE FROM logins WHERE identity_id = ? AND provider = ?", (identity_id, provider)
        ).rowcount

    # -- signing keys -----------------------------------------------------------------------

    def signing_keys(self, purpose: str) -> list[Row]:
        return self.db.execute(
            "SELECT kid, pem FROM signing_keys WHERE purpose = ? ORDER BY created", (purpose,)
        ).fetchall()

    def insert_signing_key(self, kid: str, purpose: str, pem: str, now: float) -> None:
        self.db.execute(
            "INSERT INTO signing_keys (kid, purpose, pem, created) VALUES (?, ?, ?, ?)",
            (kid, purpose, pem, now),
        )

    # -- OIDC issuers ------------------------------------------------------------------------

    def issuer(self, issuer: str) -> dict[str, Any] | None:
        row = self._one("SELECT doc FROM issuers WHERE issuer = ?", issuer)
        return json.loads(row["doc"]) if row else None

    def set_issuer(self, issuer: str, doc: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO issuers (issuer, doc) VALUES (?, ?)", (issuer, json.dumps(doc)))
