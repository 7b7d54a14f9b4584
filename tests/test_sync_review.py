"""Cognito Sync edge cases a spec review found (each failed before its fix): merge products'
flags and names, check order, usage dates, and input that reached the store as a 500."""

import base64
import json

import pytest
from sync_world import ClientError, code, message, status, sync

from cogid.local import protocol, register_sync_trigger
from cogid.local.service import open_service
from cogid.local.wire.request import Request

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:shape"


def refused(call):
    with pytest.raises(ClientError) as excinfo:
        call()
    return code(excinfo), status(excinfo), message(excinfo)


def merge(world, pool, source, destination):
    world.cognito.merge_developer_identities(
        SourceUserIdentifier=source, DestinationUserIdentifier=destination, DeveloperProviderName=world.provider,
        IdentityPoolId=pool)


def test_a_merge_product_was_never_deleted_under_its_new_name(world):
    pool = world.pool()
    x, y = world.user(pool, "u1"), world.user(pool, "u2")
    sync(world.sync, pool, x, "s", {"k": ("v", 0)})
    world.sync.delete_dataset(IdentityPoolId=pool, IdentityId=x, DatasetName="s")
    sync(world.sync, pool, x, "s", {"k": ("v", 0)})  # at count 3, after a deletion at 2
    merge(world, pool, "u1", "u2")
    moved = world.sync.list_records(IdentityPoolId=pool, IdentityId=y, DatasetName=f"s.{x}", LastSyncCount=1)
    assert (moved["DatasetExists"], moved["DatasetDeletedAfterRequestedSyncCount"]) == (True, False)
    left = world.sync.list_records(IdentityPoolId=pool, IdentityId=x, DatasetName="s", LastSyncCount=3)
    assert (left["DatasetExists"], left["DatasetDeletedAfterRequestedSyncCount"]) == (False, True)


def test_a_merge_stamps_both_identities_usage_even_with_nothing_to_move(world):
    pool = world.pool()
    x, y = world.user(pool, "u1"), world.user(pool, "u2")
    merge(world, pool, "u1", "u2")
    for identity in (x, y):
        usage = world.sync.describe_identity_usage(IdentityPoolId=pool, IdentityId=identity)["IdentityUsage"]
        assert "LastModifiedDate" in usage


def test_merged_names_past_200_characters_keep_their_suffix(world):
    pool = world.pool()
    x, y = world.user(pool, "u1"), world.user(pool, "u2")
    base = "n" * 128
    sync(world.sync, pool, x, base, {})
    sync(world.sync, pool, y, "other", {})
    merge(world, pool, "u1", "u2")
    (name,) = [d["DatasetName"] for d in world.sync.list_datasets(IdentityPoolId=pool, IdentityId=y)["Datasets"]
               if d["DatasetName"] != "other"]
    assert len(name) == 128 + 1 + len(x) and name.endswith(f".{x}")
    z = world.user(pool, "u3")
    merge(world, pool, "u2", "u3")  # merged again: the base is cut, the suffix kept, 200 at most
    names = [d["DatasetName"] for d in world.sync.list_datasets(IdentityPoolId=pool, IdentityId=z)["Datasets"]]
    long = max(names, key=len)
    assert len(long) == 200 and long.endswith(f".{y}")
    assert world.sync.list_records(IdentityPoolId=pool, IdentityId=z, DatasetName=long)["DatasetExists"] is True


def test_every_patch_needs_its_value_before_duplicates_are_looked_for(local_world):
    world = local_world
    pool = world.pool()
    alice = world.user(pool, "alice")
    token = world.sync.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")["SyncSessionToken"]
    patches = [{"Op": "replace", "Key": "k", "Value": "1", "SyncCount": 0},
               {"Op": "replace", "Key": "k", "Value": "2", "SyncCount": 0},
               {"Op": "replace", "Key": "j", "SyncCount": 0}]
    assert refused(lambda: world.sync.update_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d",
                                                     SyncSessionToken=token, RecordPatches=patches))[2] == (
        "RecordPatch for key 'j': replace needs a Value")


def test_pool_usage_checks_its_parameters_before_the_caller(world):
    pool = world.pool()
    device = world.device(world.user(pool, "alice"))
    assert refused(lambda: device.list_identity_pool_usage(MaxResults=0)) == (
        "InvalidParameterException", 400, "maxResults must be at least 1")
    assert refused(lambda: device.list_identity_pool_usage(NextToken="%%%"))[0] == "InvalidParameterException"
    assert refused(lambda: device.list_identity_pool_usage())[0] == "NotAuthorizedException"


def raw(world, method, path, body=b""):
    reply = protocol.handle(open_service(world.home), Request(method, path, {}, body, "us-east-1"))
    return reply.status, json.loads(reply.body)


@pytest.fixture
def dataset(local_world):
    world = local_world
    pool = world.pool()
    alice = world.user(pool, "alice")
    sync(world.sync, pool, alice, "d", {"k": ("v", 0)})
    return world, f"/identitypools/{pool}/identities/{alice}/datasets/d", pool, alice


def test_a_page_token_naming_a_lone_surrogate_is_invalid(dataset):
    world, path, _, _ = dataset
    token = base64.b64encode(json.dumps([1, "\ud800"]).encode()).decode()
    assert raw(world, "GET", f"{path}/records?nextToken={token}") == (
        400, {"__type": "InvalidParameterException", "message": "Invalid pagination token"})


@pytest.mark.parametrize("date", [10**400, -(10**12), "9999-12-31T23:59:59-14:00", float("nan")])
def test_timestamps_beyond_year_9999_or_not_numbers_cannot_be_read(dataset, date):
    world, path, _, _ = dataset
    token = raw(world, "GET", f"{path}/records")[1]["SyncSessionToken"]
    body = json.dumps({"SyncSessionToken": token, "RecordPatches": [
        {"Op": "replace", "Key": "k2", "Value": "v", "SyncCount": 0, "DeviceLastModifiedDate": date}]}).encode()
    status_, reply = raw(world, "POST", path, body)
    assert (status_, reply["__type"]) == (400, "SerializationException")


def test_a_value_holding_a_lone_surrogate_is_refused_and_nothing_is_written(dataset):
    world, path, _, _ = dataset
    token = raw(world, "GET", f"{path}/records")[1]["SyncSessionToken"]
    body = b'{"SyncSessionToken": "%s", "RecordPatches": [{"Op": "replace", "Key": "x", "Value": "\\ud800", ' \
           b'"SyncCount": 0}]}' % token.encode()
    assert raw(world, "POST", path, body)[1]["__type"] == "SerializationException"
    assert raw(world, "GET", f"{path}/records")[1]["Count"] == 1


@pytest.mark.parametrize("query", ["maxResults=%D9%A3", "maxResults=2147483648", "lastSyncCount=9223372036854775808"])
def test_numbers_are_ascii_digits_within_their_type(dataset, query):
    world, path, _, _ = dataset
    status_, reply = raw(world, "GET", f"{path}/records?{query}")
    assert (status_, reply["__type"]) == (400, "SerializationException")


@pytest.mark.parametrize("shape", [
    lambda event: {**event, "datasetRecords": {5: {"op": "replace", "newValue": "x"}, "\ud800": {"op": "remove"}}},
    lambda event: {**event, "datasetRecords": {"k": {"op": "replace", "newValue": "\udc00"}}},
    lambda event: {**event, "extra": {1, 2}},
    lambda event: {**event, "identityId": "someone else"},
])
def test_trigger_output_that_is_not_a_valid_event_writes_nothing(dataset, shape):
    world, path, pool, alice = dataset
    register_sync_trigger(FUNCTION, shape, home=world.home)
    world.sync.set_cognito_events(IdentityPoolId=pool, Events={"SyncTrigger": FUNCTION})
    device = world.device(alice)
    assert refused(lambda: sync(device, pool, alice, "d", {"k": ("w", 1)}))[:2] == (
        "InvalidLambdaFunctionOutputException", 400)
    assert [r["Value"] for r in world.sync.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")[
        "Records"]] == ["v"]


def test_wire_types_are_what_javascript_clients_read(dataset):
    """Counts as JSON integers, flags as booleans, dates as plain numbers (§9.1, S8)."""
    world, path, _, _ = dataset
    reply = protocol.handle(open_service(world.home), Request("GET", f"{path}/records", {}, b"", "us-east-1"))
    body = json.loads(reply.body)
    assert type(body["DatasetSyncCount"]) is int and type(body["Count"]) is int
    assert body["DatasetExists"] is True and body["DatasetDeletedAfterRequestedSyncCount"] is False
    (record,) = body["Records"]
    assert type(record["SyncCount"]) is int and isinstance(record["LastModifiedDate"], (int, float))
    assert b"e+" not in reply.body and b"E+" not in reply.body


def test_deleting_a_dataset_ends_its_subscriptions_and_a_merge_the_losers_devices(local_world):
    from cogid.local import sync_outbox

    world = local_world
    pool = world.pool()
    x, y = world.user(pool, "u1"), world.user(pool, "u2")
    world.sync.set_identity_pool_configuration(IdentityPoolId=pool, PushSync={
        "ApplicationArns": ["arn:aws:sns:us-east-1:000000000000:app/GCM/app"],
        "RoleArn": "arn:aws:iam::000000000000:role/push"})
    phone = world.device(x)
    device_id = phone.register_device(IdentityPoolId=pool, IdentityId=x, Platform="GCM", Token="t")["DeviceId"]
    sync(phone, pool, x, "d", {})
    phone.subscribe_to_dataset(IdentityPoolId=pool, IdentityId=x, DatasetName="d", DeviceId=device_id)
    phone.delete_dataset(IdentityPoolId=pool, IdentityId=x, DatasetName="d")
    sync(world.sync, pool, x, "d", {"k": ("v", 0)})  # re-created: the old subscription is gone
    assert sync_outbox(home=world.home, kind="push", identity_pool_id=pool) == []
    assert refused(lambda: phone.unsubscribe_from_dataset(IdentityPoolId=pool, IdentityId=x, DatasetName="d",
                                                          DeviceId=device_id))[0] == "ResourceNotFoundException"
    merge(world, pool, "u1", "u2")
    as_y = world.device(y)
    assert refused(lambda: as_y.subscribe_to_dataset(IdentityPoolId=pool, IdentityId=y, DatasetName=f"d.{x}",
                                                     DeviceId=device_id))[2] == f"Device '{device_id}' not found."
