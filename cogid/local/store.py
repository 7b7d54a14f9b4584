"""SQLite persistence for the local service: the schema, its migrations, and the only SQL.

One file holds everything. Every operation runs in one transaction; writers take the lock up
front (BEGIN IMMEDIATE) so concurrent processes serialise instead of failing on upgrade, and the
UNIQUE constraints make the linking invariants impossible to break even then.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
# Commits between two checkpoints (~3,500 WAL pages, ~14 MB, for a token call's commit).
CHECKPOINT_EVERY = 500

SCHEMA = """
CREATE TABLE pools (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    region TEXT NOT NULL,
    developer_provider TEXT UNIQUE,        -- spec Q18: unique within the account
    doc TEXT NOT NULL,                     -- the IdentityPool shape (JSON), tags included
    roles TEXT NOT NULL DEFAULT '{}',
    role_mappings TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE INDEX pools_region ON pools(region, seq);

CREATE TABLE principal_tag_maps (
    pool_id TEXT NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (pool_id, provider)
);

CREATE TABLE identities (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    pool_id TEXT NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('guest', 'authenticated', 'disabled')),
    created REAL NOT NULL,
    modified REAL NOT NULL
);
CREATE INDEX identities_pool ON identities(pool_id, seq);

CREATE TABLE logins (
    seq INTEGER PRIMARY KEY,               -- link order
    pool_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    developer INTEGER NOT NULL,
    UNIQUE (pool_id, provider, subject)    -- N1: one owner per login
);
CREATE INDEX logins_identity ON logins(identity_id, seq);
-- N2: one subject per external provider on an identity
CREATE UNIQUE INDEX logins_one_external ON logins(identity_id, provider) WHERE developer = 0;

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,                 -- 'cognito' tokens or the local 'test-idp'
    pem TEXT NOT NULL,
    created REAL NOT NULL
);

CREATE TABLE issuers (                    -- OIDC issuers registered for offline verification
    issuer TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);

CREATE TABLE sessions (
    access_key TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    expires REAL NOT NULL
);

CREATE TABLE roles (
    seq INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    doc TEXT NOT NULL
);

CREATE TABLE access_keys (
    access_key TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
"""


def create_private_file(path: Path) -> None:
    """Create `path` (and its directory) readable by the owner only, if it does not exist."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


class Store:
    """The SQLite file, with one connection per thread."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._local = threading.local()
        self._commits = 0
        # A forked child must open its own connection: SQLite connections never cross a fork.
        os.register_at_fork(after_in_child=self._forget_connections)
        if str(path) != ":memory:":
            create_private_file(self.path)
        try:
            self._migrate()
        except sqlite3.DatabaseError as error:
            # Whoever reads this must know which file: a damaged or foreign one, or locked.
            raise type(error)(f"{self.path}: {error}") from None

    # -- connections and transactions -------------------------------------------------------

    def _forget_connections(self) -> None:
        self._local = threading.local()

    @property
    def db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=True)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints follow every CHECKPOINT_EVERY commits, out of the writers' lock (see
            # _checkpoint); SQLite makes one inside a commit only if the WAL grows past this
            # (~40 MB), as it may while other processes keep writing during a checkpoint.
            conn.execute("PRAGMA wal_autocheckpoint = 10000")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[Store]:
        """One write transaction: all or nothing, serialised with every other writer."""
        with self._writers_queue():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        self._commits += 1  # racy across threads at worst by a few counts: harmless
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file, after the commit has let the writers' lock go.

        SQLite's own checkpoint (~15 ms: the copy and a sync) would run inside the commit,
        holding every other writer up meanwhile; a PASSIVE one blocks no writer or reader. The
        commit it follows is already durable in the WAL, so a failure here is left to the next.
        """
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @contextmanager
    def _writers_queue(self) -> Iterator[None]:
        """Writers of this store queue on a file lock before taking SQLite's.

        SQLite's busy handler polls, sleeping a millisecond or more each time it finds the
        lock taken; a blocking flock wakes the next writer as soon as the lock is free, which
        is what keeps many short transactions from several processes fast.
        """
        if str(self.path) == ":memory:":
            yield
            return
        lock: int | None = getattr(self._local, "lock", None)
        if lock is None:  # one open file per thread: flock excludes across them too
            lock = self._local.lock = os.open(f"{self.path}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Store]:
        """One consistent snapshot for reading; inside a transaction already open on this
        thread (a check made in the middle of an operation), that transaction's."""
        if self.db.in_transaction:
            yield self
            return
        self.db.execute("BEGIN")
        try:
            yield self
        finally:
            self.db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.write():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} was written by a newer cogid (schema {version})")

    def close(self) -> None:
        """Close this thread's connection and lock file (others close with their threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        lock = getattr(self._local, "lock", None)
        if lock is not None:
            os.close(lock)
            self._local.lock = None

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(sql, args).fetchone()
        return row

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

    def pool(self, pool_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM pools WHERE id = ?", pool_id)

    def pool_and_owner(self, pool_id: str, provider: str, subject: str) -> sqlite3.Row | None:
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
        row = self._one("SELECT count(*) FROM pools WHERE region = ?", region)
        return int(row[0]) if row else 0

    def list_pools(self, region: str, after: int, limit: int) -> list[sqlite3.Row]:
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

    def identity(self, identity_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM identities WHERE id = ?", identity_id)

    def set_identity_state(self, identity_id: str, state: str, now: float) -> None:
        self.db.execute("UPDATE identities SET state = ?, modified = ? WHERE id = ?", (state, now, identity_id))

    def delete_identity(self, identity_id: str) -> bool:
        return self.db.execute("DELETE FROM identities WHERE id = ?", (identity_id,)).rowcount > 0

    def list_identities(self, pool_id: str, after: int, limit: int, hide_disabled: bool) -> list[sqlite3.Row]:
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
        return row[0] if row else None

    def logins(self, identity_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT provider, subject, developer FROM logins WHERE identity_id = ? ORDER BY seq",
            (identity_id,),
        ).fetchall()

    def developer_ids(self, identity_id: str, after: int, limit: int) -> list[sqlite3.Row]:
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

    def signing_keys(self, purpose: str) -> list[sqlite3.Row]:
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
            "SELECT 'session', doc FROM sessions WHERE access_key = ?"
            " UNION ALL SELECT 'key', doc FROM access_keys WHERE access_key = ? LIMIT 1",
            access_key,
            access_key,
        )
        return (row[0], json.loads(row[1])) if row else None

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

    def list_roles(self, after: int, path_prefix: str, limit: int) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT seq, doc FROM roles WHERE seq > ? AND substr(json_extract(doc, '$.Path'), 1, ?) = ?"
            " ORDER BY seq LIMIT ?",
            (after, len(path_prefix), path_prefix, limit),
        ).fetchall()

    def delete_role(self, name: str) -> bool:
        return self.db.execute("DELETE FROM roles WHERE name = ?", (name,)).rowcount > 0
