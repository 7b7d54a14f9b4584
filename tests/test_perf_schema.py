"""Schema 3 (issue 17, target 4): DescribeIdentity reads an identity and its logins' providers
from covering indexes; a store of schema 1 or 2 is brought to schema 3 in place, keeping every
row, and answers as before."""

import json
import sqlite3

import cogid.local
from cogid.local.store import core

POOL, IDENTITY, OTHER = "us-east-1:1111", "us-east-1:2222", "us-east-1:3333"


def _old_store(home, version):
    home.mkdir()
    db = sqlite3.connect(home / "local.sqlite3")
    db.executescript(core.SCHEMA)
    if version >= 2:
        db.executescript(core.SYNC_TABLES)
    db.execute(f"PRAGMA user_version = {version}")
    doc = {"IdentityPoolId": POOL, "IdentityPoolName": "old", "AllowUnauthenticatedIdentities": True,
           "DeveloperProviderName": "old.app", "SupportedLoginProviders": {"graph.facebook.com": "123"}}
    db.execute("INSERT INTO pools (id, region, developer_provider, doc, created) VALUES (?, 'us-east-1', ?, ?, 0)",
               (POOL, "old.app", json.dumps(doc)))
    for identity in (IDENTITY, OTHER):
        db.execute("INSERT INTO identities (id, pool_id, state, created, modified) VALUES (?, ?, 'authenticated', 1, 2)",
                   (identity, POOL))
    db.execute("INSERT INTO logins (pool_id, provider, subject, identity_id, developer)"
               " VALUES (?, 'old.app', 'alice', ?, 1)", (POOL, IDENTITY))
    db.execute("INSERT INTO logins (pool_id, provider, subject, identity_id, developer)"
               " VALUES (?, 'graph.facebook.com', 'fb-1', ?, 0)", (POOL, IDENTITY))
    db.execute("INSERT INTO logins (pool_id, provider, subject, identity_id, developer)"
               " VALUES (?, 'old.app', 'alice-2', ?, 1)", (POOL, IDENTITY))
    db.commit()
    db.close()


def _plan(db, sql, *args):
    return " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql, args))


def test_describe_reads_covering_indexes_only(tmp_path):
    cognito = cogid.local.direct_client(tmp_path)
    cognito.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False)
    db = sqlite3.connect(tmp_path / "local.sqlite3")
    assert "COVERING INDEX identities_by_id" in _plan(
        db, "SELECT * FROM identities INDEXED BY identities_by_id WHERE id = ?", IDENTITY
    )
    assert "COVERING INDEX logins_identity_providers" in _plan(
        db, "SELECT provider FROM logins WHERE identity_id = ? ORDER BY seq", IDENTITY
    )
    assert "TEMP B-TREE" not in _plan(db, "SELECT provider FROM logins WHERE identity_id = ? ORDER BY seq", IDENTITY)


def test_stores_of_schema_1_and_2_migrate_in_place_keeping_everything(tmp_path):
    for version in (1, 2):
        home = tmp_path / f"v{version}"
        _old_store(home, version)
        cognito = cogid.local.direct_client(home)
        described = cognito.describe_identity(IdentityId=IDENTITY)
        assert described["Logins"] == ["old.app", "graph.facebook.com"]  # link order, the developer once
        assert described["CreationDate"].timestamp() == 1 and described["LastModifiedDate"].timestamp() == 2
        assert "Logins" not in cognito.describe_identity(IdentityId=OTHER)
        listed = cognito.list_identities(IdentityPoolId=POOL, MaxResults=10)["Identities"]
        assert [(i["IdentityId"], i.get("Logins")) for i in listed] == [
            (IDENTITY, ["old.app", "graph.facebook.com"]), (OTHER, None)
        ]
        found = cognito.lookup_developer_identity(IdentityPoolId=POOL, DeveloperUserIdentifier="alice-2")
        assert found["IdentityId"] == IDENTITY
        issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=POOL, Logins={"old.app": "bob"})
        assert cognito.describe_identity(IdentityId=issued["IdentityId"])["Logins"] == ["old.app"]
        db = sqlite3.connect(home / "local.sqlite3")
        assert db.execute("PRAGMA user_version").fetchone()[0] == core.SCHEMA_VERSION == 3
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"identities_by_id", "logins_identity_providers"} <= indexes and "logins_identity" not in indexes
        db.close()
