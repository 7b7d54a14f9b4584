"""Amazon Cognito Sync: one method per operation, with AWS's semantics.

The dataset and record operations live in datasets.py; this class adds the pool-level ones:
push sync, Cognito streams, Cognito events (the Sync Trigger), bulk publish, devices and
subscriptions. Nothing can reach SNS, Kinesis or Lambda offline, so what AWS would have sent is
written to the store's outbox instead (outbox.py), where `cogid.local.sync_outbox` reads it
(spec §8).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from cogid.local import errors
from cogid.local.identity.pool import Caller
from cogid.local.store import Store
from cogid.local.sync.access import DEVELOPER, IDENTITY, seconds
from cogid.local.sync.datasets import Datasets
from cogid.local.sync.outbox import Outbox, platform_of

BULK_PUBLISH_INTERVAL = 86400  # one successful bulk publish per 24 hours
# A local safeguard, not an AWS limit (the model leaves push tokens unconstrained): real ones are
# 64 (APNs) to a few hundred (FCM) characters, and every push in the outbox copies one.
MAX_PUSH_TOKEN = 4096
_LAMBDA_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?")


class CognitoSync(Datasets):
    """The Cognito Sync service over one store."""

    def __init__(self, store: Store, clock: Callable[[], float]):
        self.store = store
        self.clock = clock
        self.outbox = Outbox(store, clock)
        # Seconds a bulk publish takes to succeed (S50): 0, at once, unless a test says otherwise.
        self.bulk_publish_duration = 0

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
            return self._configuration(identity_pool_id, self.outbox.settings(identity_pool_id))

    def set_identity_pool_configuration(
        self,
        caller: Caller,
        identity_pool_id: str,
        push_sync: dict[str, Any] | None = None,
        cognito_streams: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self.store.write():
            self.admit(caller, DEVELOPER, identity_pool_id)
            settings = self.outbox.settings(identity_pool_id)
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
            self.outbox.save(identity_pool_id, settings)
        return self._configuration(identity_pool_id, settings)

    # -- Cognito events (S43) -----------------------------------------------------------------

    def get_cognito_events(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.read():
            self.admit(caller, DEVELOPER, identity_pool_id)
            return {"Events": self.outbox.settings(identity_pool_id).get("Events", {})}

    def set_cognito_events(self, caller: Caller, identity_pool_id: str, events: dict[str, str]) -> dict[str, Any]:
        with self.store.write():
            self.admit(caller, DEVELOPER, identity_pool_id)
            settings = self.outbox.settings(identity_pool_id)
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
            self.outbox.save(identity_pool_id, settings)
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
            settings = self.outbox.settings(identity_pool_id)
            streams = settings.get("CognitoStreams", {})
            if streams.get("StreamingStatus") != "ENABLED":
                raise errors.InvalidParameter(f"Cognito streams are not enabled for identity pool '{identity_pool_id}'")
            status, _, complete = self._job(settings)
            now = self.now_ms()
            if status == "IN_PROGRESS":
                raise errors.DuplicateRequest(
                    f"A bulk publish is already in progress for identity pool '{identity_pool_id}'"
                )
            if complete is not None and now - complete < BULK_PUBLISH_INTERVAL * 1000:
                raise errors.AlreadyStreamed(
                    f"Identity pool '{identity_pool_id}' was bulk published less than 24 hours ago"
                )
            settings["BulkPublish"] = {"start": now, "duration": self.bulk_publish_duration}
            self.outbox.save(identity_pool_id, settings)
            for dataset in self.store.live_datasets(identity_pool_id):
                records = self.store.live_records(dataset["seq"])
                self.outbox.stream(scope, streams, dataset["identity_id"], dataset, records, now, bulk=True)
        return {"IdentityPoolId": identity_pool_id}

    def get_bulk_publish_details(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.read():
            self.admit(caller, DEVELOPER, identity_pool_id)
            status, start, complete = self._job(self.outbox.settings(identity_pool_id))
        result: dict[str, Any] = {"IdentityPoolId": identity_pool_id}
        if start is not None:
            result["BulkPublishStartTime"] = seconds(start)
        if status == "SUCCEEDED" and complete is not None:
            result["BulkPublishCompleteTime"] = seconds(complete)
        result["BulkPublishStatus"] = status
        return result

    # -- devices and subscriptions (S46-S48) --------------------------------------------------

    def _push(self, pool_id: str) -> dict[str, Any]:
        push: dict[str, Any] = self.outbox.settings(pool_id).get("PushSync", {})
        if not push.get("ApplicationArns"):
            raise errors.InvalidConfiguration(f"Push synchronization is not configured for identity pool '{pool_id}'")
        return push

    def register_device(
        self, caller: Caller, identity_pool_id: str, identity_id: str, platform: str, token: str
    ) -> dict[str, Any]:
        if len(token) > MAX_PUSH_TOKEN:
            raise errors.InvalidParameter(f"Token is longer than {MAX_PUSH_TOKEN} characters")
        with self.store.write():
            self.admit(caller, IDENTITY, identity_pool_id, identity_id)
            push = self._push(identity_pool_id)
            if platform not in {platform_of(arn) for arn in push["ApplicationArns"]}:
                raise errors.InvalidConfiguration(
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
