"""Amazon Cognito Sync: one method per operation, with AWS's semantics.

The dataset and record operations live in datasets.py; this class adds the pool-level ones:
push sync, Cognito streams, Cognito events (the Sync Trigger), bulk publish, devices and
subscriptions. Nothing can reach SNS, Kinesis or Lambda offline, so what AWS would have sent is
written to the store's outbox instead, where `cogid.local.sync_outbox` reads it (spec §8).
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from cogid.local import errors
from cogid.local.identity.pool import Caller
from cogid.local.store import Store
from cogid.local.sync.access import DEVELOPER, IDENTITY, Scope, seconds
from cogid.local.sync.datasets import Datasets, Write

SyncTrigger = Callable[[dict[str, Any]], Any]

BULK_PUBLISH_INTERVAL = 86400  # one successful bulk publish per 24 hours
_LAMBDA_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?")
_PLATFORM = re.compile(r":app/([A-Z_]+)/")
MAX_KEY = 1024
MAX_VALUE = 1_048_575


def _platform(application_arn: str) -> str:
    match = _PLATFORM.search(application_arn)
    return match.group(1) if match else ""


class InvalidTriggerOutput(errors.ServiceError):
    code = "InvalidLambdaFunctionOutputException"

    def __init__(self, detail: str):
        super().__init__(f"The SyncTrigger function returned invalid output: {detail}")


class InvalidConfiguration(errors.ServiceError):
    code = "InvalidConfigurationException"


class CognitoSync(Datasets):
    """The Cognito Sync service over one store."""

    def __init__(self, store: Store, clock: Callable[[], float]):
        self.store = store
        self.clock = clock
        # Sync Trigger handlers registered in this process, by Lambda function ARN (S83).
        self.triggers: dict[str, SyncTrigger] = {}
        # Seconds a bulk publish takes to succeed (S50): 0, at once, unless a test says otherwise.
        self.bulk_publish_duration = 0

    def _settings(self, pool_id: str) -> dict[str, Any]:
        row = self.store.peek_sync_pool(pool_id)
        settings: dict[str, Any] = json.loads(row["doc"]) if row is not None else {}
        return settings

    def _save(self, pool_id: str, settings: dict[str, Any]) -> None:
        self.store.set_sync_pool(pool_id, settings)

    # -- configuration (S42) ------------------------------------------------------------------

    @staticmethod
    def _configuration(pool_id: str, settings: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"IdentityPoolId": pool_id}
        for section in ("PushSync", "CognitoStreams"):
            if section in settings:
                result[section] = settings[section]
        return result

    def get_identity_pool_configuration(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.read():
            self.admit(caller, DEVELOPER, identity_pool_id)
            return self._configuration(identity_pool_id, self._settings(identity_pool_id))

    def set_identity_pool_configuration(
        self,
        caller: Caller,
        identity_pool_id: str,
        push_sync: dict[str, Any] | None = None,
        cognito_streams: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self.store.write():
            self.admit(caller, DEVELOPER, identity_pool_id)
            settings = self._settings(identity_pool_id)
            if push_sync is not None:  # an absent section is kept (SQ12)
                arns, role = push_sync.get("ApplicationArns") or [], push_sync.get("RoleArn")
                if arns and not role:
                    raise errors.InvalidParameter("PushSync: RoleArn is required with ApplicationArns")
                if arns or role:
                    settings["PushSync"] = {
                        **({"ApplicationArns": arns} if arns else {}),
                        **({"RoleArn": role} if role else {}),
                    }
                else:
                    settings.pop("PushSync", None)
            if cognito_streams is not None:
                streams = {"StreamingStatus": "DISABLED", **cognito_streams}
                if streams["StreamingStatus"] == "ENABLED" and not (
                    streams.get("StreamName") and streams.get("RoleArn")
                ):
                    raise errors.InvalidParameter("CognitoStreams: ENABLED needs StreamName and RoleArn")
                settings["CognitoStreams"] = streams
            self._save(identity_pool_id, settings)
        return self._configuration(identity_pool_id, settings)

    # -- Cognito events (S43) -----------------------------------------------------------------

    def get_cognito_events(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.read():
            self.admit(caller, DEVELOPER, identity_pool_id)
            return {"Events": self._settings(identity_pool_id).get("Events", {})}

    def set_cognito_events(self, caller: Caller, identity_pool_id: str, events: dict[str, str]) -> dict[str, Any]:
        with self.store.write():
            self.admit(caller, DEVELOPER, identity_pool_id)
            settings = self._settings(identity_pool_id)
            current = settings.setdefault("Events", {})
            for kind, arn in events.items():
                if kind != "SyncTrigger":
                    raise errors.InvalidParameter(f"Unsupported event type '{kind}'")
                if arn == "":
                    current.pop(kind, None)
                elif not _LAMBDA_ARN.fullmatch(arn):
                    raise errors.InvalidParameter(f"'{arn}' is not a Lambda function ARN")
                else:
                    current[kind] = arn
            self._save(identity_pool_id, settings)
        return {}

    # -- bulk publish (S49, S50) --------------------------------------------------------------

    def _job(self, settings: dict[str, Any]) -> tuple[str, int | None, int | None]:
        """(status, start ms, completion ms) of the pool's bulk publish, judged now."""
        job = settings.get("BulkPublish")
        if job is None:
            return "NOT_STARTED", None, None
        complete = job["start"] + job["duration"] * 1000
        return ("IN_PROGRESS" if self.now_ms() < complete else "SUCCEEDED"), job["start"], complete

    def bulk_publish(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.write():
            scope = self.admit(caller, DEVELOPER, identity_pool_id)
            settings = self._settings(identity_pool_id)
            streams = settings.get("CognitoStreams", {})
            if streams.get("StreamingStatus") != "ENABLED":
                raise errors.InvalidParameter(f"Cognito streams are not enabled for identity pool '{identity_pool_id}'")
            status, _, complete = self._job(settings)
            now = self.now_ms()
            if status == "IN_PROGRESS":
                raise errors.ServiceError(
                    f"A bulk publish is already in progress for identity pool '{identity_pool_id}'",
                    code="DuplicateRequestException",
                )
            if complete is not None and now - complete < BULK_PUBLISH_INTERVAL * 1000:
                raise errors.ServiceError(
                    f"Identity pool '{identity_pool_id}' was bulk published less than 24 hours ago",
                    code="AlreadyStreamedException",
                )
            settings["BulkPublish"] = {"start": now, "duration": self.bulk_publish_duration}
            self._save(identity_pool_id, settings)
            for dataset in self.store.live_datasets(identity_pool_id):
                records = self.store.live_records(dataset["seq"])
                self._stream(scope, streams, dataset["identity_id"], dataset, records, now, bulk=True)
        return {"IdentityPoolId": identity_pool_id}

    def get_bulk_publish_details(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.read():
            self.admit(caller, DEVELOPER, identity_pool_id)
            status, start, complete = self._job(self._settings(identity_pool_id))
        result: dict[str, Any] = {"IdentityPoolId": identity_pool_id}
        if start is not None:
            result["BulkPublishStartTime"] = seconds(start)
        if status == "SUCCEEDED" and complete is not None:
            result["BulkPublishCompleteTime"] = seconds(complete)
        result["BulkPublishStatus"] = status
        return result

    # -- devices and subscriptions (S46-S48) --------------------------------------------------

    def _push(self, pool_id: str) -> dict[str, Any]:
        push: dict[str, Any] = self._settings(pool_id).get("PushSync", {})
        if not push.get("ApplicationArns"):
            raise InvalidConfiguration(f"Push synchronization is not configured for identity pool '{pool_id}'")
        return push

    def register_device(
        self, caller: Caller, identity_pool_id: str, identity_id: str, platform: str, token: str
    ) -> dict[str, Any]:
        with self.store.write():
            self.admit(caller, IDENTITY, identity_pool_id, identity_id)
            push = self._push(identity_pool_id)
            if platform not in {_platform(arn) for arn in push["ApplicationArns"]}:
                raise InvalidConfiguration(
                    f"Push synchronization is not configured for platform {platform} in identity pool"
                    f" '{identity_pool_id}'"
                )
            device = self.store.device_for(identity_id, platform, token)
            if device is not None:  # S47: the same device registered again
                return {"DeviceId": device["id"]}
            device_id = str(uuid.uuid4())
            self.store.insert_device(device_id, identity_id, platform, token)
        return {"DeviceId": device_id}

    def _subscription(self, caller: Caller, pool_id: str, identity_id: str, device_id: str) -> None:
        self.admit(caller, IDENTITY, pool_id, identity_id)
        self._push(pool_id)
        device = self.store.device(device_id)
        if device is None or device["identity_id"] != identity_id:
            raise errors.ResourceNotFound(f"Device '{device_id}' not found.")

    def subscribe_to_dataset(
        self, caller: Caller, identity_pool_id: str, identity_id: str, dataset_name: str, device_id: str
    ) -> dict[str, Any]:
        with self.store.write():
            self._subscription(caller, identity_pool_id, identity_id, device_id)
            self.store.subscribe(device_id, self._dataset(identity_id, dataset_name)["seq"])
        return {}

    def unsubscribe_from_dataset(
        self, caller: Caller, identity_pool_id: str, identity_id: str, dataset_name: str, device_id: str
    ) -> dict[str, Any]:
        with self.store.write():
            self._subscription(caller, identity_pool_id, identity_id, device_id)
            dataset = self._live(identity_id, dataset_name)
            if dataset is None or not self.store.unsubscribe(device_id, dataset["seq"]):
                raise errors.ResourceNotFound(f"Device '{device_id}' is not subscribed to dataset '{dataset_name}'.")
        return {}

    # -- what AWS would have sent (§8) --------------------------------------------------------

    def outbox(
        self, kind: str | None = None, identity_pool_id: str | None = None, clear: bool = False
    ) -> list[dict[str, Any]]:
        """The outbox entries of one kind and pool (None: all), oldest first (S84)."""
        with self.store.write() if clear else self.store.read():
            return self.store.outbox(kind, identity_pool_id, clear)

    def _post(self, kind: str, pool_id: str, now: int, **entry: Any) -> None:
        self.store.post(kind, pool_id, {"kind": kind, "time": seconds(now), "identityPoolId": pool_id, **entry})

    def publish(
        self,
        scope: Scope,
        identity_id: str,
        name: str,
        seq: int,
        count: int,
        device_id: str | None,
        written: list[sqlite3.Row],
        now: int,
    ) -> None:
        """After an UpdateRecords that wrote: push to subscribed devices but the writer's (S80),
        and a stream record while streams are on (S81)."""
        settings = self._settings(scope.pool_id)
        push = settings.get("PushSync", {})
        if push.get("ApplicationArns"):
            for device in self.store.subscribers(seq):
                if device["id"] == device_id:
                    continue
                arns = [arn for arn in push["ApplicationArns"] if _platform(arn) == device["platform"]]
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
            self._stream(scope, streams, identity_id, dataset, written, now)

    def _stream(
        self,
        scope: Scope,
        streams: dict[str, Any],
        identity_id: str,
        dataset: sqlite3.Row,
        records: list[sqlite3.Row],
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
        self, scope: Scope, identity_id: str, name: str, dataset: sqlite3.Row | None, writes: list[Write]
    ) -> list[Write]:
        """U5, S82-S83: the Sync Trigger's event, its handler's answer (or the event itself when
        no handler is registered here), and the writes that answer leaves."""
        arn = self._settings(scope.pool_id).get("Events", {}).get("SyncTrigger")
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
            response = handler(copy.deepcopy(event)) if handler is not None else copy.deepcopy(event)
        except Exception as error:  # the function failed: nothing is written
            raise InvalidTriggerOutput(f"the function raised {type(error).__name__}") from None
        outcome = _trigger_outcome(event, response)
        self._post(
            "event",
            scope.pool_id,
            self.now_ms(),
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
        raise InvalidTriggerOutput("not a JSON object")
    for field, value in event.items():
        if field != "datasetRecords" and response.get(field) != value:
            raise InvalidTriggerOutput(f"'{field}' may not be changed")
    records = response.get("datasetRecords")
    if not isinstance(records, dict):
        raise InvalidTriggerOutput("'datasetRecords' must be an object")
    outcome: dict[str, str | None] = {}
    for key, record in records.items():
        if not 1 <= len(key) <= MAX_KEY:
            raise InvalidTriggerOutput(f"key of {len(key)} characters (1 to {MAX_KEY} allowed)")
        if not isinstance(record, dict) or record.get("op") not in ("replace", "remove"):
            raise InvalidTriggerOutput(f"record '{key}' needs op 'replace' or 'remove'")
        value = None if record["op"] == "remove" else record.get("newValue")
        if value is not None and (not isinstance(value, str) or len(value) > MAX_VALUE):
            raise InvalidTriggerOutput(f"record '{key}': newValue must be a string of at most {MAX_VALUE} characters")
        outcome[key] = value
    return outcome
