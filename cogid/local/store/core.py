"""The store's core: the SQLite file, its connections (one per thread), transactions,
checkpoints, and the schema with its migrations (PRAGMA user_version).

One file holds everything. Every operation runs in one transaction; writers take the lock up
front (BEGIN IMMEDIATE) so concurrent processes serialise instead of failing on upgrade, and the
UNIQUE constraints make the linking invariants impossible to break even then.

The tables of every service are created here, so one version number covers the whole file; the
statements that read and write them live in one mixin per service (identity.py, iam.py,
sync.py), which `Store` (store/__init__.py) inherits. A service that needs tables adds them as
the next entry of MIGRATIONS (a new file gets SCHEMA and every migration, an older one the
migrations it lacks), and its own mixin.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Self

SCHEMA_VERSION = 2
# Commits between two checkpoints (~10,000 WAL frames, ~40 MB, for new users' token calls).
# A checkpoint costs mostly its two syncs, whatever it copies: every 2,000 commits it adds ~14
# us of waiting and ~3 us of CPU to a commit, every 500 ~45 and ~10 (bench/bench_targets.py).
CHECKPOINT_EVERY = 2000
CACHE_KIB = 16384  # page cache per connection
# Seconds any wait for the store (its writers' lock, SQLite's) lasts at most, unless the
# environment variable TIMEOUT_VARIABLE or Store(timeout=...) says otherwise.
DEFAULT_TIMEOUT = 10.0
TIMEOUT_VARIABLE = "COGID_STORE_TIMEOUT"
# Sleeps between two attempts at a taken writers' lock: from the first to the longest, doubling.
_FIRST_POLL, _LONGEST_POLL = 0.00002, 0.001

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

# Schema 2: Cognito Sync (statements in sync.py).
SYNC_TABLES = """
CREATE TABLE sync_datasets (
    seq INTEGER PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    live INTEGER NOT NULL,
    sync_count INTEGER NOT NULL,
    deleted_at INTEGER,                    -- DeletedAtSyncCount of the name's last deletion
    created INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    modified_by TEXT NOT NULL,
    merged_from TEXT,                      -- the name it had under a merged identity (S53)
    records INTEGER NOT NULL DEFAULT 0,    -- live records
    bytes INTEGER NOT NULL DEFAULT 0,      -- UTF-8 bytes of live keys and values
    UNIQUE (identity_id, name)
);

CREATE TABLE sync_records (
    dataset INTEGER NOT NULL REFERENCES sync_datasets(seq) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT,                            -- NULL: removed
    sync_count INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    modified_by TEXT NOT NULL,
    device_modified INTEGER,
    PRIMARY KEY (dataset, key)
) WITHOUT ROWID;
CREATE INDEX sync_records_order ON sync_records(dataset, sync_count, key);

CREATE TABLE sync_sessions (
    token TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    pool_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX sync_sessions_dataset ON sync_sessions(identity_id, dataset);
CREATE INDEX sync_sessions_expiry ON sync_sessions(expires);

CREATE TABLE sync_identities (             -- an identity's last Sync write
    identity_id TEXT PRIMARY KEY REFERENCES identities(id) ON DELETE CASCADE,
    modified INTEGER NOT NULL
);

CREATE TABLE sync_pools (
    pool_id TEXT PRIMARY KEY REFERENCES pools(id) ON DELETE CASCADE,
    doc TEXT NOT NULL DEFAULT '{}',        -- PushSync, CognitoStreams, Events, BulkPublish
    sessions INTEGER NOT NULL DEFAULT 0,   -- SyncSessionsCount
    modified INTEGER                       -- the pool's last Sync write
);

CREATE TABLE sync_devices (
    id TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    token TEXT NOT NULL,
    UNIQUE (identity_id, platform, token)
);

CREATE TABLE sync_subscriptions (
    device_id TEXT NOT NULL REFERENCES sync_devices(id) ON DELETE CASCADE,
    dataset INTEGER NOT NULL REFERENCES sync_datasets(seq) ON DELETE CASCADE,
    PRIMARY KEY (device_id, dataset)
) WITHOUT ROWID;
CREATE INDEX sync_subscriptions_dataset ON sync_subscriptions(dataset);

CREATE TABLE sync_outbox (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    pool_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""

# What takes a file from the version before each to that version, in order.
MIGRATIONS = {2: SYNC_TABLES}


class StoreBusy(sqlite3.OperationalError):
    """The store stayed locked by another writer longer than the store's timeout."""

    def __init__(self, path: Path, holder: int | None, timeout: float):
        self.path, self.holder, self.timeout = path, holder, timeout
        who = f"pid {holder}" if holder is not None else "another process"
        self.reason = f"held by {who} for more than {timeout:g} s"
        super().__init__(f"{path} {self.reason}")


class StoreUnwritable(sqlite3.OperationalError):
    """The filesystem refused to write the store (`reason`: disk full, a file size limit, a
    read-only file or filesystem, an I/O error): the transaction was rolled back, so the store is
    as it was before, and usable again once that is mended."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


# Below this much free space, an I/O error of SQLite's (it names no errno) is taken for a full
# disk: growing the shared-memory index or the WAL fails so (SQLITE_IOERR_SHMSIZE, _WRITE).
_NEARLY_FULL = 1 << 20
_OS_REASONS = {errno.ENOSPC: "disk full", errno.EFBIG: "file size limit reached", errno.EROFS: "read-only filesystem"}


def _unwritable(path: Path, error: BaseException) -> str | None:
    """Why the filesystem holding `path` refused a write, if that is what `error` came of."""
    if isinstance(error, StoreUnwritable):
        return error.reason
    if isinstance(error, OSError):
        return _OS_REASONS.get(error.errno or 0)
    if not isinstance(error, sqlite3.Error) or isinstance(error, StoreBusy):
        return None
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_READONLY:
        return f"not writable ({error})"
    if code not in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
        return None
    try:
        stats = os.statvfs(path.parent)
        full = stats.f_bavail * stats.f_frsize < _NEARLY_FULL
    except OSError:
        full = False
    if full:
        return "disk full"
    if _at_size_limit(path):  # a write past `ulimit -f` (EFBIG), which SQLite names no better
        return "file size limit reached"
    return f"I/O error ({error})"


def _file_id(path: Path) -> tuple[int, int] | None:
    """Which file `path` names now (device and inode), if any."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _at_size_limit(path: Path) -> bool:
    """Is the store's file or its WAL within a few pages of this process's file size limit?"""
    import resource

    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit == resource.RLIM_INFINITY:
        return False
    for file in (path, path.with_name(path.name + "-wal")):
        with suppress(OSError):
            if file.stat().st_size + _NEARLY_FULL // 16 > limit:
                return True
    return False


class StoreTimeoutError(ValueError):
    """TIMEOUT_VARIABLE is set to something that is not a number of seconds."""


def store_timeout(value: float | None = None) -> float:
    """`value`, else the TIMEOUT_VARIABLE environment variable's, else DEFAULT_TIMEOUT."""
    if value is not None:
        return float(value)
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise StoreTimeoutError(f"{TIMEOUT_VARIABLE}={text!r}: expected a number of seconds, such as 10")
    return seconds


def _open_no_link(path: Path | str, flags: int, mode: int = 0o600) -> int:
    """os.open that refuses a symbolic link in place of `path`, saying so."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, mode)
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise
        raise OSError(
            errno.ELOOP,
            "is a symbolic link, which cogid does not follow for its store: replace it with the file",
            str(path),
        ) from None


def create_private_file(path: Path) -> bool:
    """Create `path` (and its directory) readable by the owner only, if it does not exist.
    True if this call created it. A symbolic link in its place is refused, never followed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(_open_no_link(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        # Opened for writing all the same (never written): a file we may not write is refused
        # here, naming it, rather than by SQLite at the first write.
        os.close(_open_no_link(path, os.O_WRONLY))
        return False
    return True


def stored_version(path: Path) -> int:
    """The schema version of the store at `path`, read from its header without SQLite, so
    without writing to it (a connection would switch it to WAL first). Raises DatabaseError
    for an empty file; -1 for one that is not an SQLite database (SQLite then says so)."""
    with open(path, "rb") as file:
        header = file.read(100)
    if not header:
        raise sqlite3.DatabaseError(
            f"empty (0 bytes): the store was truncated or damaged; move it away (mv {path.name}"
            f" {path.name}.bad) to start a new one, with new signing keys, or restore it from a backup"
        )
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return -1
    return int.from_bytes(header[60:64], "big")  # PRAGMA user_version


log = logging.getLogger(__name__)


def _holder(lock: int) -> int | None:
    """The pid the writers' lock file names: its last holder's, who may hold it still."""
    try:
        return int(os.pread(lock, 32, 0).split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _newer(version: int) -> sqlite3.DatabaseError:
    return sqlite3.DatabaseError(
        f"written by a newer cogid (schema {version}); this cogid reads schema {SCHEMA_VERSION}"
        " and leaves the store untouched: upgrade cogid, or set COGID_HOME to another directory"
    )


# A stored row, by column name: plain data, so that nothing of SQLite leaves the store.
Row = dict[str, Any]


def _row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    """Every fetched row as a Row (~0.15 µs a row more than sqlite3.Row)."""
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


class Duplicate(Exception):
    """A write met a uniqueness rule of the schema (a developer provider name already taken)."""


class StoreCore:
    """The SQLite file, with one connection per thread; the services' SQL is in the mixins."""

    def __init__(self, path: Path | str, timeout: float | None = None):
        """`timeout`: seconds any wait for the store lasts at most before StoreBusy (None: the
        TIMEOUT_VARIABLE environment variable's, else DEFAULT_TIMEOUT)."""
        self.path = Path(path)
        self.timeout = store_timeout(timeout)
        self._local = threading.local()
        self._commits = 0
        self._unwritable: str | None = None  # why the last write failed so (logged once, until one succeeds)
        # A forked child must open its own connection: SQLite connections never cross a fork.
        os.register_at_fork(after_in_child=self._forget_connections)
        try:
            self._open()
        except (StoreBusy, StoreUnwritable):
            raise  # names its file already
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
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.timeout, check_same_thread=True)
            conn.row_factory = _row
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # 16 MiB of pages per connection (SQLite's default is 2 MiB): a store of a million
            # identities reads its indexes' upper levels and recent leaves from memory, not from
            # the file at every lookup (bench/bench_targets.py --target 4); memory stays bounded.
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            # Checkpoints follow every CHECKPOINT_EVERY commits, out of the writers' lock (see
            # _checkpoint); SQLite makes one inside a commit only if the WAL grows past this
            # (~160 MB), as it may while other processes keep writing during a checkpoint.
            conn.execute("PRAGMA wal_autocheckpoint = 40000")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            self._local.file = _file_id(self.path)
        return conn

    def _check_same_file(self) -> None:
        """The file this thread's connection writes must still be the store's: one deleted (or
        replaced) since it was opened takes writes that vanish with the last connection to it."""
        if str(self.path) != ":memory:" and _file_id(self.path) != getattr(self._local, "file", None):
            raise StoreUnwritable(self.path, "deleted or replaced since it was opened: restart to open it anew")

    @contextmanager
    def write(self) -> Iterator[Self]:
        """One write transaction: all or nothing, serialised with every other writer."""
        with self._refused_writes(), self._writers_queue():
            self._begin_immediate()
            try:
                self._check_same_file()
                yield self
                self.db.execute("COMMIT")
            except BaseException as failure:
                # A failed COMMIT (a full disk) may have rolled back already, or not.
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                if isinstance(failure, sqlite3.IntegrityError):
                    raise Duplicate(str(failure)) from None
                raise
        if self._unwritable is not None:
            self._unwritable = None
            log.warning("%s: writes succeed again", self.path)
        self._commits += 1  # racy across threads at worst by a few counts: harmless
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpoint()

    def empty(self, keep: tuple[str, ...] = ("signing_keys",), keep_key: str | None = None) -> None:
        """Delete every row of every table but `keep`'s, in one transaction: the store as new,
        with the same signing keys (so a JWKS fetched earlier still verifies what it issues).
        `keep_key`: of the access keys, keep this one only."""
        with self.write():
            self.db.execute("PRAGMA defer_foreign_keys = ON")  # any order of tables will do
            rows = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            for table in (row["name"] for row in rows.fetchall()):
                if table == "access_keys" and keep_key is not None:
                    self.db.execute("DELETE FROM access_keys WHERE access_key != ?", (keep_key,))
                elif table not in keep:
                    self.db.execute(f'DELETE FROM "{table}"')  # noqa: S608 - names from the schema itself

    @contextmanager
    def _refused_writes(self) -> Iterator[None]:
        """A write the filesystem refuses (a full disk, a read-only file...) is StoreUnwritable,
        naming the file and why, and logged once (until a write succeeds again), not at every
        request that finds it so."""
        try:
            yield
        except (sqlite3.Error, OSError) as error:
            reason = _unwritable(self.path, error)
            if reason is None:
                raise
            if self._unwritable != reason:
                self._unwritable = reason
                log.warning("%s: %s: writes fail until this is mended", self.path, reason)
            if isinstance(error, StoreUnwritable):  # named already (a store file deleted under us)
                raise
            raise StoreUnwritable(self.path, reason) from error

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file, after the commit has let the writers' lock go.

        SQLite's own checkpoint (~15 ms: the copy and a sync) would run inside the commit,
        holding every other writer up meanwhile; a PASSIVE one blocks no writer or reader. The
        commit it follows is already durable in the WAL, so a failure here is left to the next.
        """
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _begin_immediate(self) -> None:
        """BEGIN IMMEDIATE; SQLite's lock held past the timeout (by a writer that does not
        queue, such as the sqlite3 shell) is StoreBusy too."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            raise StoreBusy(self.path, None, self.timeout) from error

    @contextmanager
    def _writers_queue(self) -> Iterator[None]:
        """Writers of this store queue on a file lock before taking SQLite's.

        SQLite's busy handler polls, sleeping a millisecond or more each time it finds the
        lock taken. The next writer here polls the flock too, but from 20 us doubling to 1 ms,
        which keeps many short transactions from several processes fast; and it waits at most
        `timeout` seconds: a holder that never lets go (stopped, kill -STOP) is StoreBusy,
        naming its pid, which each holder writes into the lock file.
        """
        if str(self.path) == ":memory:":
            yield
            return
        lock: int | None = getattr(self._local, "lock", None)
        if lock is None:  # one open file per thread: flock excludes across them too
            lock = self._local.lock = _open_no_link(f"{self.path}.lock", os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._wait_for(lock)
        try:
            os.pwrite(lock, b"%10d\n" % os.getpid(), 0)  # fixed width: never a stale digit left over
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    def _wait_for(self, lock: int) -> None:
        """Take the writers' lock held by another, polling until `timeout`; else StoreBusy."""
        deadline = time.monotonic() + self.timeout
        pause = _FIRST_POLL
        while True:
            time.sleep(pause)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusy(self.path, _holder(lock), self.timeout) from None
            pause = min(pause * 2, _LONGEST_POLL)

    @contextmanager
    def read(self) -> Iterator[Self]:
        """One consistent snapshot for reading; inside a transaction already open on this
        thread (a check made in the middle of an operation), that transaction's."""
        if self.db.in_transaction:
            yield self
            return
        with self._refused_writes():  # opening a connection may need room (its shared-memory index)
            self.db.execute("BEGIN")
        try:
            yield self
        finally:
            self.db.execute("COMMIT")

    def _open(self) -> None:
        """Create the file on first use, refuse one that is empty or newer, else migrate it."""
        if str(self.path) == ":memory:":
            with self.write():
                self._migrate()
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Openers queue as writers do: a file another process has just created, and not yet
        # given its schema, is never taken for an empty one.
        with self._refused_writes(), self._writers_queue():
            created = create_private_file(self.path)
            if not created:
                version = stored_version(self.path)  # read-only: nothing is written before this
                if version > SCHEMA_VERSION:
                    raise _newer(version)
            try:
                self._begin_immediate()
                try:
                    self._migrate()
                    self.db.execute("COMMIT")
                except BaseException:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OSError) as error:
                if created and _unwritable(self.path, error):
                    # Left empty, it would be refused as damaged once space returns.
                    conn = getattr(self._local, "conn", None)
                    if conn is not None:
                        conn.close()
                        self._local.conn = None
                    with suppress(OSError):
                        self.path.unlink()
                raise

    def _migrate(self) -> None:
        """Bring the schema up to SCHEMA_VERSION, inside the caller's write transaction."""
        version = self.db.execute("PRAGMA user_version").fetchone()["user_version"]
        if version > SCHEMA_VERSION:  # the header said otherwise: a newer cogid's WAL
            raise _newer(version)
        # A new file gets schema 1 and every migration; an older one the migrations it lacks,
        # in this same transaction, so it keeps every row it had.
        steps = ([SCHEMA] if version == 0 else []) + [
            tables for target, tables in sorted(MIGRATIONS.items()) if target > max(version, 1)
        ]
        for script in steps:
            for statement in script.split(";"):
                if statement.strip():
                    self.db.execute(statement)
        if version != SCHEMA_VERSION:
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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

    def _value(self, sql: str, *args: Any) -> Any:
        """The one value a one-column statement answers (None without a row)."""
        row = self._one(sql, *args)
        return next(iter(row.values())) if row else None

    def _one(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = self.db.execute(sql, args).fetchone()
        return row
