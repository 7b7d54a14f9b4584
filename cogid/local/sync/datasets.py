"""Datasets and records: ListRecords, UpdateRecords, Describe/Delete/ListDatasets, usage, and
how datasets follow an identity into a merge (spec §3.5-§3.9, §4, §6).

Rule numbers (S31, U4 ...) refer to spec/cognito-sync.md.
"""

from __future__ import annotations

import secrets
from typing import Any

from cogid.local import errors
from cogid.local.identity.pool import Caller
from cogid.local.store import Row
from cogid.local.sync.access import (
    BOTH,
    DEVELOPER,
    NOT_VALID,
    Admission,
    Fields,
    Scope,
    Write,
    dataset_position,
    identity_of,
    millis,
    page_size,
    page_token,
    pool_position,
    record_position,
    seconds,
)
from cogid.local.sync.outbox import Outbox

SESSION_LIFETIME = 3600  # seconds (SQ3)
MAX_DATASETS = 20
MAX_RECORDS = 1024
MAX_BYTES = 1024 * 1024
MAX_CREATED_NAME = 128  # the model's limit; merge products may reach 200 (S54)
MAX_NAME = 200
LIST_DATASETS_PAGE = 64  # SQ6
POOL_USAGE_PAGE = 60
RECORDS_PAGE_CAP = 1024
TOKEN_INVALID = "SyncSessionToken not valid for these inputs"


def size(key: str, value: str | None) -> int:
    """What a record counts toward DataStorage: UTF-8 bytes of key and value; a removed one nothing."""
    return 0 if value is None else len(key.encode()) + len(value.encode())


def record_out(row: Fields) -> dict[str, Any]:
    record: dict[str, Any] = {"Key": row["key"]}
    if row["value"] is not None:
        record["Value"] = row["value"]
    record["SyncCount"] = row["sync_count"]
    record["LastModifiedDate"] = seconds(row["modified"])
    record["LastModifiedBy"] = row["modified_by"]
    if row["device_modified"] is not None:
        record["DeviceLastModifiedDate"] = seconds(row["device_modified"])
    return record


def dataset_out(row: Row) -> dict[str, Any]:
    return {
        "IdentityId": row["identity_id"],
        "DatasetName": row["name"],
        "CreationDate": seconds(row["created"]),
        "LastModifiedDate": seconds(row["modified"]),
        "LastModifiedBy": row["modified_by"],
        "DataStorage": row["bytes"],
        "NumRecords": row["records"],
    }


class Datasets(Admission):
    """The dataset and record operations; CognitoSync adds the pool-level ones."""

    outbox: Outbox

    def _live(self, identity_id: str, name: str) -> Row | None:
        row = self.store.dataset(identity_id, name)
        return row if row is not None and row["live"] else None

    def _dataset(self, identity_id: str, name: str) -> Row:
        row = self._live(identity_id, name)
        if row is None:
            raise errors.ResourceNotFound(f"Dataset '{name}' not found.")
        return row

    # -- ListRecords (S31-S33) ----------------------------------------------------------------

    def list_records(
        self,
        caller: Caller,
        identity_pool_id: str,
        identity_id: str,
        dataset_name: str,
        last_sync_count: int | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
        sync_session_token: str | None = None,
    ) -> dict[str, Any]:
        last = last_sync_count or 0
        if last < 0:
            raise errors.InvalidParameter("lastSyncCount must not be negative")
        limit = page_size(max_results, None, RECORDS_PAGE_CAP)
        after = record_position(next_token)
        with self.store.write():  # a session is issued or renewed: one snapshot, one write
            scope = self.admit(caller, BOTH, identity_pool_id, identity_id)
            token = self._session(scope, identity_id, dataset_name, sync_session_token)
            row = self.store.dataset(identity_id, dataset_name)
            live = row is not None and bool(row["live"])
            rows = (
                self.store.changed_records(row["seq"], last, after, -1 if limit is None else limit + 1)
                if live and row is not None
                else []
            )
            merged = self.store.merged_names(identity_id, dataset_name)
        page = rows if limit is None else rows[:limit]
        result: dict[str, Any] = {
            "Records": [record_out(r) for r in page],
            "Count": len(page),
            "DatasetSyncCount": row["sync_count"] if live and row is not None else 0,
            "DatasetExists": live,
            "DatasetDeletedAfterRequestedSyncCount": bool(
                row is not None and row["deleted_at"] is not None and 0 < last < row["deleted_at"]
            ),
            "SyncSessionToken": token,
        }
        if live and row is not None:
            result["LastModifiedBy"] = row["modified_by"]
        if merged:
            result["MergedDatasetNames"] = merged
        if limit is not None and len(rows) > limit:
            result["NextToken"] = page_token([page[-1]["sync_count"], page[-1]["key"]])
        return result

    def _session(self, scope: Scope, identity_id: str, dataset: str, presented: str | None) -> str:
        """S31: a valid token comes back renewed; anything else gets a new one, counted."""
        now = self.clock()
        if presented and self._valid_session(presented, scope.pool_id, identity_id, dataset, now):
            self.store.renew_sync_session(presented, now + SESSION_LIFETIME)
            return presented
        token = secrets.token_urlsafe(48)  # 64 URL-safe characters
        self.store.purge_sync_sessions(now)
        self.store.insert_sync_session(token, scope.pool_id, identity_id, dataset, now + SESSION_LIFETIME)
        return token

    def _valid_session(self, token: str, pool_id: str, identity_id: str, dataset: str, now: float) -> bool:
        row = self.store.sync_session(token)
        return (
            row is not None
            and row["pool_id"] == pool_id
            and row["identity_id"] == identity_id
            and row["dataset"] == dataset
            and row["expires"] > now
        )

    # -- UpdateRecords (§4) -------------------------------------------------------------------

    def update_records(
        self,
        caller: Caller,
        identity_pool_id: str,
        identity_id: str,
        dataset_name: str,
        sync_session_token: str,
        device_id: str | None = None,
        record_patches: list[dict[str, Any]] | None = None,
        client_context: str | None = None,  # documented by AWS as not implemented
    ) -> dict[str, Any]:
        patches = record_patches or []
        for i, patch in enumerate(patches, 1):
            if patch["SyncCount"] < 0:
                raise errors.InvalidParameter(f"RecordPatch for key '{patch['Key']}': SyncCount must not be negative")
            if "DeviceLastModifiedDate" in patch:
                patch["DeviceLastModifiedDate"] = millis(
                    patch["DeviceLastModifiedDate"], f"recordPatches.{i}.member.deviceLastModifiedDate"
                )
        with self.store.write():
            scope = self.admit(caller, BOTH, identity_pool_id, identity_id)
            if not self._valid_session(sync_session_token, scope.pool_id, identity_id, dataset_name, self.clock()):
                raise errors.InvalidParameter(TOKEN_INVALID)  # U1
            dataset = self._live(identity_id, dataset_name)
            current = self._current(dataset, _patched_keys(patches))
            _check_sync_counts(patches, current)
            writes = [
                Write(p["Key"], p.get("Value") if p["Op"] == "replace" else None, p.get("DeviceLastModifiedDate"))
                for p in patches
            ]
            settings = self.outbox.settings(scope.pool_id) if writes or scope.as_identity else {}
            if scope.as_identity:  # U5; developer writes never run the Sync Trigger (S69)
                writes = self.outbox.run_trigger(scope, settings, identity_id, dataset_name, dataset, writes)
                current.update(self._current(dataset, [write.key for write in writes if write.key not in current]))
            seq, count, live, total = self._room(identity_id, dataset_name, dataset, writes, current)
            now = self.now_ms()
            if dataset is None:  # S60: also with no patches
                seq = self.store.create_dataset(identity_id, dataset_name, count, now, scope.writer)
            if writes:  # S61
                count += 1
                for write in writes:
                    self.store.write_record(
                        seq, write.key, write.value, count, now, scope.writer, write.device_modified
                    )
                self.store.set_dataset(seq, count, live, total, now, scope.writer)
            if dataset is None or writes:
                self.store.touch_sync(scope.pool_id, [identity_id], now)
            # The records as now stored, in patch order, then the trigger's (S64).
            written = [
                {"key": write.key, "value": write.value, "sync_count": count, "modified": now,
                 "modified_by": scope.writer, "device_modified": write.device_modified}
                for write in writes
            ]  # fmt: skip
            if writes:
                self.outbox.publish(scope, settings, identity_id, dataset_name, seq, count, device_id, written, now)
        return {"Records": [record_out(row) for row in written]}

    def _current(self, dataset: Row | None, keys: list[str]) -> dict[str, Row]:
        return self.store.records(dataset["seq"], keys) if dataset is not None else {}

    def _room(
        self,
        identity_id: str,
        name: str,
        dataset: Row | None,
        writes: list[Write],
        current: dict[str, Row],
    ) -> tuple[int, int, int, int]:
        """U6-U8: the dataset's (seq, starting count, live records, bytes) once `writes` are made."""
        if dataset is None:
            if len(name) > MAX_CREATED_NAME:  # S54: longer names only for merge products
                raise errors.Validation(
                    f"1 validation error detected: Value '{name}' at 'datasetName' failed to satisfy constraint:"
                    f" Member must have length less than or equal to {MAX_CREATED_NAME}"
                )
            if self.store.count_datasets(identity_id) >= MAX_DATASETS:
                raise errors.LimitExceeded(f"Exceeded {MAX_DATASETS} datasets for identity '{identity_id}'")
            tombstone = self.store.dataset(identity_id, name)
            start = (tombstone["deleted_at"] or 0) if tombstone is not None else 0  # S9
            seq, records, stored = 0, 0, 0
        else:
            seq, start, records, stored = dataset["seq"], dataset["sync_count"], dataset["records"], dataset["bytes"]
        for write in writes:
            old = current.get(write.key)
            old_value = old["value"] if old is not None else None
            records += (write.value is not None) - (old_value is not None)
            stored += size(write.key, write.value) - size(write.key, old_value)
        if records > MAX_RECORDS:
            raise errors.LimitExceeded(f"Exceeded {MAX_RECORDS} records in dataset '{name}'")
        if stored > MAX_BYTES:
            raise errors.LimitExceeded(f"Dataset '{name}' would exceed {MAX_BYTES} bytes")
        return seq, start, records, stored

    # -- DescribeDataset, DeleteDataset, ListDatasets (S34-S38) -------------------------------

    def describe_dataset(
        self, caller: Caller, identity_pool_id: str, identity_id: str, dataset_name: str
    ) -> dict[str, Any]:
        with self.store.read():
            self.admit(caller, BOTH, identity_pool_id, identity_id)
            return {"Dataset": dataset_out(self._dataset(identity_id, dataset_name))}

    def delete_dataset(
        self, caller: Caller, identity_pool_id: str, identity_id: str, dataset_name: str
    ) -> dict[str, Any]:
        with self.store.write():
            scope = self.admit(caller, BOTH, identity_pool_id, identity_id)
            row = self._dataset(identity_id, dataset_name)
            self.store.bury_dataset(row["seq"])
            self.store.end_sync_sessions(identity_id, dataset_name)  # S45
            self.store.touch_sync(scope.pool_id, [identity_id], self.now_ms())
        return {"Dataset": dataset_out(row)}

    def list_datasets(
        self,
        caller: Caller,
        identity_pool_id: str,
        identity_id: str,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        limit = page_size(max_results, LIST_DATASETS_PAGE, LIST_DATASETS_PAGE)
        assert limit is not None
        after = dataset_position(next_token)
        with self.store.read():
            self.admit(caller, BOTH, identity_pool_id, identity_id)
            rows = self.store.datasets(identity_id, after, limit + 1)
        page = rows[:limit]
        result: dict[str, Any] = {"Datasets": [dataset_out(row) for row in page], "Count": len(page)}
        if len(rows) > limit:
            result["NextToken"] = page_token(page[-1]["name"])
        return result

    # -- usage (S39-S41) ----------------------------------------------------------------------

    def describe_identity_usage(self, caller: Caller, identity_pool_id: str, identity_id: str) -> dict[str, Any]:
        with self.store.read():
            self.admit(caller, BOTH, identity_pool_id, identity_id)
            usage = self.store.usage(identity_id)
        assert usage is not None
        result: dict[str, Any] = {"IdentityId": identity_id, "IdentityPoolId": identity_pool_id}
        if usage["modified"] is not None:
            result["LastModifiedDate"] = seconds(usage["modified"])
        result["DatasetCount"] = usage["datasets"]
        result["DataStorage"] = usage["bytes"]
        return {"IdentityUsage": result}

    def _pool_usage(self, pool_id: str, created: float, sessions: int | None, modified: int | None) -> dict[str, Any]:
        usage: dict[str, Any] = {"IdentityPoolId": pool_id}
        if sessions:  # omitted while 0 (S40)
            usage["SyncSessionsCount"] = sessions
        usage["DataStorage"] = self.store.pool_bytes(pool_id)
        usage["LastModifiedDate"] = seconds(modified if modified is not None else round(created * 1000))
        return usage

    def describe_identity_pool_usage(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.read():
            scope = self.admit(caller, DEVELOPER, identity_pool_id)
            settings = self.store.peek_sync_pool(identity_pool_id)
            sessions, modified = (settings["sessions"], settings["modified"]) if settings is not None else (0, None)
            return {"IdentityPoolUsage": self._pool_usage(scope.pool_id, scope.pool["created"], sessions, modified)}

    def list_identity_pool_usage(
        self, caller: Caller, next_token: str | None = None, max_results: int | None = None
    ) -> dict[str, Any]:
        limit = page_size(max_results, POOL_USAGE_PAGE, POOL_USAGE_PAGE)
        assert limit is not None
        after = pool_position(next_token)
        if identity_of(caller) is not None:  # S23, after the parameters' own checks (S22)
            raise errors.NotAuthorized(NOT_VALID)
        with self.store.read():
            rows = self.store.pools_by_id(caller.region, after, limit + 1)
            page = rows[:limit]
            usages = [self._pool_usage(r["id"], r["created"], r["sessions"], r["modified"]) for r in page]
        result: dict[str, Any] = {"IdentityPoolUsages": usages, "MaxResults": limit, "Count": len(page)}
        if len(rows) > limit:
            result["NextToken"] = page_token(page[-1]["id"])
        return result

    # -- merges (§6) --------------------------------------------------------------------------

    def identity_merged(self, loser: str, survivor: str, pool_id: str) -> None:
        """Inside the merge's own transaction: the loser's datasets move to the survivor renamed
        `<name>.<loser>` (S51-S53), its sessions and devices end (S55); no traffic (S57)."""
        moved = self.store.datasets(loser, "", -1)
        taken = self.store.names(survivor)
        for row in moved:
            name = merged_name(row["name"], loser, taken)
            taken.add(name)
            self.store.move_dataset(row["seq"], survivor, name, row["name"])
        self.store.end_sync_sessions(loser)
        self.store.delete_devices(loser)
        self.store.touch_sync(pool_id, [loser, survivor], self.now_ms())  # S57


def merged_name(name: str, loser: str, taken: set[str]) -> str:
    """`<name>.<loser>`, then `.2`, `.3` ... until free (S52), the base cut from its end where
    the whole would pass MAX_NAME characters, so the product stays addressable (S54)."""
    number = 1
    while True:
        suffix = f".{loser}" + (f".{number}" if number > 1 else "")
        candidate = name[: MAX_NAME - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def _patched_keys(patches: list[dict[str, Any]]) -> list[str]:
    """The keys `patches` write, each once (U2, U3)."""
    for patch in patches:
        if patch["Op"] == "replace" and "Value" not in patch:  # U2
            raise errors.InvalidParameter(f"RecordPatch for key '{patch['Key']}': replace needs a Value")
    seen: set[str] = set()
    for patch in patches:
        if patch["Key"] in seen:  # U3
            raise errors.InvalidParameter(f"Key '{patch['Key']}' appears more than once in RecordPatches")
        seen.add(patch["Key"])
    return list(seen)


def _check_sync_counts(patches: list[dict[str, Any]], current: dict[str, Row]) -> None:
    """U4: each patch names its record's current sync count (0 for a new key), in request order."""
    for patch in patches:
        have = current[patch["Key"]]["sync_count"] if patch["Key"] in current else 0
        if patch["SyncCount"] != have:
            raise errors.ResourceConflict(f"Current SyncCount for: {patch['Key']} is: {have} not: {patch['SyncCount']}")
