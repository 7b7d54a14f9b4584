"""What Cognito Sync would have sent to SNS, Kinesis and Lambda, kept in the store's outbox
(spec §8): push notifications to subscribed devices (S80), stream records (S81), and the Sync
Trigger's exchange (S82-S83), whose handler may run in this process. Also the pool's Sync
settings, which decide what is sent.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from cogid.local import errors
from cogid.local.store import Row, Store
from cogid.local.sync.access import Fields, Scope, Write, seconds, text

SyncTrigger = Callable[[dict[str, Any]], Any]

_PLATFORM = re.compile(r":app/([A-Z_]+)/")
MAX_KEY = 1024
MAX_VALUE = 1_048_575


def platform_of(application_arn: str) -> str:
    """The platform segment of an SNS application ARN (`app/GCM/name` -> GCM)."""
    match = _PLATFORM.search(application_arn)
    return match.group(1) if match else ""


def _invalid_output(detail: str) -> errors.InvalidLambdaFunctionOutput:
    return errors.InvalidLambdaFunctionOutput(f"The SyncTrigger function returned invalid output: {detail}")


class Outbox:
    """A store's outbox, its pools' Sync settings, and this process's Sync Trigger handlers."""

    def __init__(self, store: Store, clock: Callable[[], float]):
        self.store = store
        self.clock = clock
        # Sync Trigger handlers registered in this process, by Lambda function ARN (S83).
        self.triggers: dict[str, SyncTrigger] = {}

    def settings(self, pool_id: str) -> dict[str, Any]:
        """PushSync, CognitoStreams, Events and BulkPublish of a pool (empty if never set)."""
        row = self.store.peek_sync_pool(pool_id)
        settings: dict[str, Any] = json.loads(row["doc"]) if row is not None else {}
        return settings

    def save(self, pool_id: str, settings: dict[str, Any]) -> None:
        self.store.set_sync_pool(pool_id, settings)

    def entries(
        self, kind: str | None = None, identity_pool_id: str | None = None, clear: bool = False
    ) -> list[dict[str, Any]]:
        """The entries of one kind and pool (None: all), oldest first; `clear` deletes them (S84)."""
        with self.store.write() if clear else self.store.read():
            return self.store.outbox(kind, identity_pool_id, clear)

    def _post(self, kind: str, pool_id: str, now: int, **entry: Any) -> None:
        self.store.post(kind, pool_id, {"kind": kind, "time": seconds(now), "identityPoolId": pool_id, **entry})

    def publish(
        self,
        scope: Scope,
        settings: dict[str, Any],
        identity_id: str,
        name: str,
        seq: int,
        count: int,
        device_id: str | None,
        written: Sequence[Fields],
        now: int,
    ) -> None:
        """After an UpdateRecords that wrote: push to subscribed devices but the writer's (S80),
        and a stream record while streams are on (S81), as the pool's `settings` say."""
        push = settings.get("PushSync", {})
        if push.get("ApplicationArns"):
            for device in self.store.subscribers(seq):
                if device["id"] == device_id:
                    continue
                arns = [arn for arn in push["ApplicationArns"] if platform_of(arn) == device["platform"]]
                payload = {
                    "source": "cognito-sync",
                    "identityPoolId": scope.pool_id,
                    "identityId": identity_id,
                    "datasetName": name,
                    "syncCount": str(count),
                }
                self._post(
                    "push",
                    scope.pool_id,
                    now,
                    deviceId=device["id"],
                    platform=device["platform"],
                    token=device["token"],
                    applicationArn=arns[0] if arns else None,
                    roleArn=push.get("RoleArn"),
                    payload=payload,
                )
        streams = settings.get("CognitoStreams", {})
        if streams.get("StreamingStatus") == "ENABLED":
            dataset = self.store.dataset(identity_id, name)
            assert dataset is not None
            self.stream(scope, streams, identity_id, dataset, written, now)

    def stream(
        self,
        scope: Scope,
        streams: dict[str, Any],
        identity_id: str,
        dataset: Row,
        records: Sequence[Fields],
        now: int,
        bulk: bool = False,
    ) -> None:
        """One Kinesis record as Cognito streams write them: dates in milliseconds (S81)."""
        synced = []
        for row in records:
            record: dict[str, Any] = {"key": row["key"]}
            if row["value"] is not None:
                record["value"] = row["value"]
            record.update(
                syncCount=row["sync_count"],
                lastModifiedDate=row["modified"],
                deviceLastModifiedDate=row["device_modified"],
                op="replace" if row["value"] is not None else "remove",
            )
            synced.append(record)
        data: dict[str, Any] = {
            "identityPoolId": scope.pool_id,
            "identityId": identity_id,
            "dataSetName": dataset["name"],
            "operation": "replace",
            "kinesisSyncRecords": synced,
            "lastModifiedDate": dataset["modified"],
            "syncCount": dataset["sync_count"],
            "payloadType": "Inline",
        }
        if bulk:
            data["bulkPublish"] = True
        self._post(
            "stream",
            scope.pool_id,
            now,
            streamName=streams.get("StreamName"),
            roleArn=streams.get("RoleArn"),
            partitionKey=identity_id,
            data=data,
        )

    def run_trigger(
        self,
        scope: Scope,
        settings: dict[str, Any],
        identity_id: str,
        name: str,
        dataset: Row | None,
        writes: list[Write],
    ) -> list[Write]:
        """U5, S82-S83: the Sync Trigger's event, its handler's answer (or the event itself when
        no handler is registered here), and the writes that answer leaves."""
        arn = settings.get("Events", {}).get("SyncTrigger")
        if arn is None:
            return writes
        live = {row["key"]: row["value"] for row in self.store.live_records(dataset["seq"])} if dataset else {}
        patched = {write.key: write for write in writes}
        records = {key: {"oldValue": value, "newValue": value, "op": "replace"} for key, value in live.items()}
        for write in writes:
            records[write.key] = {
                "oldValue": live.get(write.key),
                "newValue": write.value,
                "op": "replace" if write.value is not None else "remove",
            }
        event = {
            "version": 2,
            "eventType": "SyncTrigger",
            "region": scope.pool["region"],
            "identityPoolId": scope.pool_id,
            "identityId": identity_id,
            "datasetName": name,
            "datasetRecords": records,
        }
        handler = self.triggers.get(arn)
        try:
            answer = handler(copy.deepcopy(event)) if handler is not None else event
        except Exception as error:  # the function failed: nothing is written
            raise _invalid_output(f"the function raised {type(error).__name__}") from None
        try:  # what a Lambda function returns reaches the service as JSON
            response = json.loads(json.dumps(answer, allow_nan=False))
        except (TypeError, ValueError, RecursionError):
            raise _invalid_output("not JSON") from None
        outcome = _trigger_outcome(event, response)
        self._post(
            "event",
            scope.pool_id,
            round(self.clock() * 1000),
            functionArn=arn,
            request=event,
            response=response,
            handled=handler is not None,
        )
        result = list(writes)
        for key, value in sorted(outcome.items()):
            if key in patched:
                result[result.index(patched[key])] = Write(key, value, patched[key].device_modified)
            elif value != live.get(key):
                result.append(Write(key, value))
        return result


def _trigger_outcome(event: dict[str, Any], response: Any) -> dict[str, str | None]:
    """The value each key the function answered for ends with (None: removed), checked (S83)."""
    if not isinstance(response, dict):
        raise _invalid_output("not a JSON object")
    for field, value in event.items():
        if field != "datasetRecords" and response.get(field) != value:
            raise _invalid_output(f"'{field}' may not be changed")
    records = response.get("datasetRecords")
    if not isinstance(records, dict):
        raise _invalid_output("'datasetRecords' must be an object")
    outcome: dict[str, str | None] = {}
    for key, record in records.items():
        if not 1 <= len(key) <= MAX_KEY or not text(key):
            raise _invalid_output(f"a key must be text of 1 to {MAX_KEY} characters")
        if not isinstance(record, dict) or record.get("op") not in ("replace", "remove"):
            raise _invalid_output(f"record '{key}' needs op 'replace' or 'remove'")
        value = None if record["op"] == "remove" else record.get("newValue")
        if value is not None and (not isinstance(value, str) or len(value) > MAX_VALUE or not text(value)):
            raise _invalid_output(f"record '{key}': newValue must be a string of at most {MAX_VALUE} characters")
        outcome[key] = value
    return outcome
