"""Push sync, Cognito streams, Cognito events and bulk publish, with what AWS would have sent
kept in the local outbox: spec/cognito-sync.md §3.10-§3.14 and §8, tests T53-T66."""

import pytest
from sync_world import ClientError, code, message, status, sync

from cogid.local import register_sync_trigger, sync_outbox

APP = "arn:aws:sns:us-east-1:000000000000:app/GCM/app"
ROLE = "arn:aws:iam::000000000000:role/sync-push"
FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:award"
STREAMS = {"StreamName": "changes", "RoleArn": ROLE, "StreamingStatus": "ENABLED"}


@pytest.fixture
def p(world):
    pool = world.pool()
    alice = world.user(pool, "alice")
    return world, pool, alice, world.device(alice)


def outbox(world, pool, kind):
    """The pool's outbox entries of one kind (over HTTP too: the server's store is world.home)."""
    return sync_outbox(home=world.home, kind=kind, identity_pool_id=pool)


def refused(call):
    with pytest.raises(ClientError) as excinfo:
        call()
    return code(excinfo), status(excinfo), message(excinfo)


def test_t53_devices_need_push_sync(p):
    world, pool, alice, device = p
    assert refused(lambda: device.register_device(IdentityPoolId=pool, IdentityId=alice, Platform="GCM", Token="t")) == (
        "InvalidConfigurationException", 400, f"Push synchronization is not configured for identity pool '{pool}'")


def test_a_push_token_is_at_most_4096_characters(p):
    """A local safeguard, not an AWS limit (the model leaves it unconstrained): real push tokens
    are 64 (APNs) to a few hundred (FCM) characters, and every push in the outbox copies one."""
    world, pool, alice, device = p
    world.sync.set_identity_pool_configuration(IdentityPoolId=pool, PushSync={"ApplicationArns": [APP], "RoleArn": ROLE})
    assert refused(lambda: device.register_device(IdentityPoolId=pool, IdentityId=alice, Platform="GCM",
                                                  Token="t" * 4097)) == (
        "InvalidParameterException", 400, "Token is longer than 4096 characters")
    assert device.register_device(IdentityPoolId=pool, IdentityId=alice, Platform="GCM", Token="t" * 4096)["DeviceId"]


def test_t54_t55_registered_devices_get_pushes_but_the_writer(p):
    world, pool, alice, device = p
    world.sync.set_identity_pool_configuration(IdentityPoolId=pool, PushSync={"ApplicationArns": [APP], "RoleArn": ROLE})
    d1 = device.register_device(IdentityPoolId=pool, IdentityId=alice, Platform="GCM", Token="t1")["DeviceId"]
    assert device.register_device(IdentityPoolId=pool, IdentityId=alice, Platform="GCM", Token="t1")["DeviceId"] == d1
    assert d1 == d1.lower() and len(d1) == 36
    assert refused(lambda: device.register_device(IdentityPoolId=pool, IdentityId=alice, Platform="APNS",
                                                  Token="t1"))[0] == "InvalidConfigurationException"
    d2 = device.register_device(IdentityPoolId=pool, IdentityId=alice, Platform="GCM", Token="t2")["DeviceId"]
    sync(device, pool, alice, "d", {})
    for each in (d1, d2):
        device.subscribe_to_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName="d", DeviceId=each)
    sync(device, pool, alice, "d", {"k": ("v", 0)}, device_id=d1)
    (push,) = outbox(world, pool, "push")
    assert (push["deviceId"], push["token"], push["applicationArn"], push["roleArn"]) == (d2, "t2", APP, ROLE)
    assert push["payload"] == {"source": "cognito-sync", "identityPoolId": pool, "identityId": alice,
                               "datasetName": "d", "syncCount": "1"}
    device.unsubscribe_from_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName="d", DeviceId=d2)
    sync(device, pool, alice, "d", {"k": ("w", 1)}, device_id=d1)
    assert len(outbox(world, pool, "push")) == 1


def test_t56_subscriptions_need_a_dataset_a_subscription_and_an_own_device(p):
    world, pool, alice, device = p
    world.sync.set_identity_pool_configuration(IdentityPoolId=pool, PushSync={"ApplicationArns": [APP], "RoleArn": ROLE})
    mine = device.register_device(IdentityPoolId=pool, IdentityId=alice, Platform="GCM", Token="t")["DeviceId"]
    bob = world.user(pool, "bob")
    bobs = world.device(bob).register_device(IdentityPoolId=pool, IdentityId=bob, Platform="GCM", Token="t")["DeviceId"]
    sync(device, pool, alice, "d", {})
    for call in (
        lambda: device.subscribe_to_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName="nope", DeviceId=mine),
        lambda: device.unsubscribe_from_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName="d", DeviceId=mine),
        lambda: device.subscribe_to_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName="d", DeviceId=bobs),
    ):
        assert refused(call)[:2] == ("ResourceNotFoundException", 404)


def test_t57_push_configuration_rules(p):
    world, pool, alice, device = p
    assert refused(lambda: world.sync.set_identity_pool_configuration(
        IdentityPoolId=pool, PushSync={"ApplicationArns": [APP]}))[0] == "InvalidParameterException"
    assert refused(lambda: world.sync.set_identity_pool_configuration(
        IdentityPoolId=pool, PushSync={"ApplicationArns": ["arn:aws:sns:us-east-1:1:app/gcm/x"], "RoleArn": ROLE}))[
        0] == "ValidationException"
    set_ = world.sync.set_identity_pool_configuration(IdentityPoolId=pool, CognitoStreams={"StreamName": "s"})
    assert set_["CognitoStreams"] == {"StreamName": "s", "StreamingStatus": "DISABLED"} and "PushSync" not in set_
    world.sync.set_identity_pool_configuration(IdentityPoolId=pool, PushSync={"ApplicationArns": [APP], "RoleArn": ROLE})
    got = world.sync.get_identity_pool_configuration(IdentityPoolId=pool)  # each section kept (SQ12)
    assert got["PushSync"] == {"ApplicationArns": [APP], "RoleArn": ROLE} and got["CognitoStreams"]["StreamName"] == "s"
    world.sync.set_identity_pool_configuration(IdentityPoolId=pool, PushSync={})
    assert "PushSync" not in world.sync.get_identity_pool_configuration(IdentityPoolId=pool)
    assert refused(lambda: world.sync.set_identity_pool_configuration(
        IdentityPoolId=pool, CognitoStreams={"StreamingStatus": "ENABLED"}))[0] == "InvalidParameterException"


def test_t58_streams_record_every_write(p):
    world, pool, alice, device = p
    world.sync.set_identity_pool_configuration(IdentityPoolId=pool, CognitoStreams=STREAMS)
    sync(device, pool, alice, "d", {"k": ("v", 0), "gone": (None, 0)})
    (entry,) = outbox(world, pool, "stream")
    assert (entry["streamName"], entry["partitionKey"]) == ("changes", alice)
    data = entry["data"]
    assert (data["dataSetName"], data["syncCount"], data["payloadType"]) == ("d", 1, "Inline")
    first, second = data["kinesisSyncRecords"]
    assert (first["key"], first["value"], first["op"], second["op"]) == ("k", "v", "replace", "remove")
    assert "value" not in second and isinstance(first["lastModifiedDate"], int) and first["lastModifiedDate"] > 1e12


def test_t59_bulk_publish_needs_streams(p):
    world, pool, alice, device = p
    assert refused(lambda: world.sync.bulk_publish(IdentityPoolId=pool))[0] == "InvalidParameterException"
    details = world.sync.get_bulk_publish_details(IdentityPoolId=pool)
    assert details["BulkPublishStatus"] == "NOT_STARTED" and "BulkPublishStartTime" not in details


def test_t60_t61_bulk_publish_jobs(clocked_world):
    world = clocked_world
    pool = world.pool()
    alice = world.user(pool, "alice")
    world.sync.set_identity_pool_configuration(IdentityPoolId=pool, CognitoStreams=STREAMS)
    sync(world.sync, pool, alice, "d", {"k": ("v", 0)})
    sync(world.sync, pool, alice, "e", {"k": ("v", 0)})
    world.sync.bulk_publish(IdentityPoolId=pool)
    details = world.sync.get_bulk_publish_details(IdentityPoolId=pool)
    assert details["BulkPublishStatus"] == "SUCCEEDED"
    assert details["BulkPublishStartTime"] == details["BulkPublishCompleteTime"]
    published = world.service.sync.outbox.entries(kind="stream", identity_pool_id=pool)
    assert sum(1 for e in published if e["data"].get("bulkPublish")) == 2
    assert refused(lambda: world.sync.bulk_publish(IdentityPoolId=pool))[0] == "AlreadyStreamedException"
    world.clock.advance(86401)
    world.service.sync.bulk_publish_duration = 60
    world.sync.bulk_publish(IdentityPoolId=pool)
    assert world.sync.get_bulk_publish_details(IdentityPoolId=pool)["BulkPublishStatus"] == "IN_PROGRESS"
    assert refused(lambda: world.sync.bulk_publish(IdentityPoolId=pool))[0] == "DuplicateRequestException"
    world.clock.advance(60)
    assert world.sync.get_bulk_publish_details(IdentityPoolId=pool)["BulkPublishStatus"] == "SUCCEEDED"


def test_t62_t66_events(p):
    world, pool, alice, device = p
    for events, expected in (({"Other": FUNCTION}, "InvalidParameterException"),
                             ({"SyncTrigger": "nope"}, "InvalidParameterException"),
                             ({"SyncTrigger": FUNCTION, "Other": FUNCTION}, "ValidationException")):
        assert refused(lambda: world.sync.set_cognito_events(IdentityPoolId=pool, Events=events))[0] == expected
    world.sync.set_cognito_events(IdentityPoolId=pool, Events={"SyncTrigger": FUNCTION})
    assert world.sync.get_cognito_events(IdentityPoolId=pool)["Events"] == {"SyncTrigger": FUNCTION}
    world.sync.set_cognito_events(IdentityPoolId=pool, Events={"SyncTrigger": ""})
    assert world.sync.get_cognito_events(IdentityPoolId=pool)["Events"] == {}


def award(event):
    event["datasetRecords"]["award"] = {"newValue": "gold", "op": "replace"}
    return event


def test_t63_t65_the_sync_trigger_runs_for_identities_only(local_world):
    """Handlers run in process; `cogid serve` passes events through (S83)."""
    world = local_world
    pool = world.pool()
    alice = world.user(pool, "alice")
    device = world.device(alice)
    register_sync_trigger(FUNCTION, award, home=world.home)
    world.sync.set_cognito_events(IdentityPoolId=pool, Events={"SyncTrigger": FUNCTION})
    written = sync(device, pool, alice, "d", {"k": ("v", 0)})["Records"]
    assert [(r["Key"], r.get("Value"), r["SyncCount"]) for r in written] == [("k", "v", 1), ("award", "gold", 1)]
    (event,) = sync_outbox(home=world.home, kind="event", identity_pool_id=pool)
    assert event["handled"] is True and event["functionArn"] == FUNCTION
    assert event["request"]["datasetRecords"]["k"] == {"oldValue": None, "newValue": "v", "op": "replace"}
    sync(world.sync, pool, alice, "d", {"k": ("w", 1)})  # T65: a developer write runs nothing
    assert len(sync_outbox(home=world.home, kind="event", identity_pool_id=pool)) == 1


def test_t64_invalid_trigger_output_writes_nothing(local_world):
    world = local_world
    pool = world.pool()
    alice = world.user(pool, "alice")
    device = world.device(alice)
    register_sync_trigger(FUNCTION, lambda event: "x", home=world.home)
    world.sync.set_cognito_events(IdentityPoolId=pool, Events={"SyncTrigger": FUNCTION})
    assert refused(lambda: sync(device, pool, alice, "d", {"k": ("v", 0)}))[:2] == (
        "InvalidLambdaFunctionOutputException", 400)
    assert device.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")["DatasetExists"] is False


def test_without_a_handler_the_event_passes_through(p):
    world, pool, alice, device = p
    world.sync.set_cognito_events(IdentityPoolId=pool, Events={"SyncTrigger": FUNCTION.replace("award", "none")})
    assert len(sync(device, pool, alice, "d", {"k": ("v", 0)})["Records"]) == 1
    (event,) = outbox(world, pool, "event")
    assert event["handled"] is False and event["response"] == event["request"]
