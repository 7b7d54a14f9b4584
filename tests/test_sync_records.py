"""Cognito Sync datasets and records through real boto3 clients, in process and over HTTP:
spec/cognito-sync.md §3-§4, tests T1-T30 and T41-T45, T67, T69-T73."""

import base64

import pytest
from sync_world import ClientError, code, message, status, sync


@pytest.fixture
def a(world):
    """Pool P, identity A and A's own device client: (world, pool, A, device)."""
    pool = world.pool()
    identity = world.user(pool, "alice")
    return world, pool, identity, world.device(identity)


def records(client, pool, identity, dataset="d", last=0, **kwargs):
    return client.list_records(IdentityPoolId=pool, IdentityId=identity, DatasetName=dataset, LastSyncCount=last,
                               **kwargs)


def update(client, pool, identity, token, patches, dataset="d", **kwargs):
    return client.update_records(IdentityPoolId=pool, IdentityId=identity, DatasetName=dataset,
                                 SyncSessionToken=token, RecordPatches=patches, **kwargs)


def replace(key, value, count):
    return {"Op": "replace", "Key": key, "Value": value, "SyncCount": count}


def describe(world, pool, identity, dataset="d"):
    return world.sync.describe_dataset(IdentityPoolId=pool, IdentityId=identity, DatasetName=dataset)["Dataset"]


def test_t1_listing_a_dataset_that_does_not_exist(a):
    world, pool, alice, device = a
    listed = records(device, pool, alice)
    assert listed["Records"] == [] and listed["Count"] == 0 and listed["DatasetSyncCount"] == 0
    assert listed["DatasetExists"] is False and listed["DatasetDeletedAfterRequestedSyncCount"] is False
    assert len(listed["SyncSessionToken"]) == 64 and "LastModifiedBy" not in listed


def test_t2_to_t4_a_write_and_what_devices_then_read(a):
    world, pool, alice, device = a
    written = sync(device, pool, alice, "d", {"k": ("v", 0)})["Records"]
    assert [(r["Key"], r["Value"], r["SyncCount"], r["LastModifiedBy"]) for r in written] == [("k", "v", 1, alice)]
    dataset = describe(world, pool, alice)
    assert (dataset["NumRecords"], dataset["DataStorage"], dataset["LastModifiedBy"]) == (1, 2, alice)
    assert set(dataset) >= {"IdentityId", "DatasetName", "CreationDate", "LastModifiedDate"}
    listed = records(device, pool, alice)
    assert [(r["Key"], r["Value"]) for r in listed["Records"]] == [("k", "v")]
    assert (listed["DatasetSyncCount"], listed["DatasetExists"], listed["LastModifiedBy"]) == (1, True, alice)
    assert records(device, pool, alice, last=1)["Records"] == []


def test_t5_t7_t8_a_stale_count_conflicts_and_changes_nothing(a):
    world, pool, alice, device = a
    sync(device, pool, alice, "d", {"k": ("v", 0)})
    token = records(device, pool, alice)["SyncSessionToken"]
    with pytest.raises(ClientError) as stale:
        update(device, pool, alice, token, [replace("k", "w", 0)])
    assert (code(stale), status(stale), message(stale)) == (
        "ResourceConflictException", 409, "Current SyncCount for: k is: 1 not: 0")
    with pytest.raises(ClientError) as ahead:
        update(device, pool, alice, token, [replace("k", "w", 5)])
    assert message(ahead) == "Current SyncCount for: k is: 1 not: 5"
    with pytest.raises(ClientError) as second:
        update(device, pool, alice, token, [replace("j", "x", 0), replace("k", "w", 0)])
    assert "for: k is: 1" in message(second)
    listed = records(device, pool, alice)
    assert [(r["Key"], r["Value"]) for r in listed["Records"]] == [("k", "v")] and listed["DatasetSyncCount"] == 1


def test_t6_the_current_count_writes(a):
    world, pool, alice, device = a
    sync(device, pool, alice, "d", {"k": ("v", 0)})
    assert sync(device, pool, alice, "d", {"k": ("w", 1)})["Records"][0]["SyncCount"] == 2
    assert records(device, pool, alice)["DatasetSyncCount"] == 2


def test_t9_to_t12_removals_are_tombstones_every_device_learns(a):
    world, pool, alice, device = a
    sync(device, pool, alice, "d", {"k": ("v", 0)})
    removed = sync(device, pool, alice, "d", {"k": (None, 1)})["Records"][0]
    assert "Value" not in removed and removed["SyncCount"] == 2
    dataset = describe(world, pool, alice)
    assert (dataset["NumRecords"], dataset["DataStorage"]) == (0, 0)
    for last in (1, 0):  # T10: at 0 too (SQ7)
        (tombstone,) = records(device, pool, alice, last=last)["Records"]
        assert tombstone["Key"] == "k" and "Value" not in tombstone and tombstone["SyncCount"] == 2
    with pytest.raises(ClientError) as stale:  # T11
        sync(device, pool, alice, "d", {"k": ("z", 0)})
    assert message(stale) == "Current SyncCount for: k is: 2 not: 0"
    assert sync(device, pool, alice, "d", {"k": ("z", 2)})["Records"][0]["SyncCount"] == 3
    token = records(device, pool, alice)["SyncSessionToken"]  # T12: remove a key that never was
    (new,) = update(device, pool, alice, token, [{"Op": "remove", "Key": "new", "Value": "", "SyncCount": 0}])["Records"]
    assert new["Key"] == "new" and "Value" not in new and new["SyncCount"] == 4


@pytest.mark.parametrize("patches, text", [
    ([{"Op": "replace", "Key": "k", "SyncCount": 0}], "RecordPatch for key 'k': replace needs a Value"),  # T13
    ([replace("k", "1", 0), replace("k", "2", 0)], "Key 'k' appears more than once in RecordPatches"),  # T14
    ([replace("k", "1", -1)], "RecordPatch for key 'k': SyncCount must not be negative"),
])
def test_t13_t14_malformed_patches(a, patches, text):
    world, pool, alice, device = a
    token = records(device, pool, alice)["SyncSessionToken"]
    with pytest.raises(ClientError) as refused:
        update(device, pool, alice, token, patches)
    assert (code(refused), status(refused), message(refused)) == ("InvalidParameterException", 400, text)
    assert records(device, pool, alice)["DatasetExists"] is False


def test_t15_t16_a_token_opens_only_its_own_dataset(a):
    world, pool, alice, device = a
    for token, dataset in (("bogus", "d"), (records(device, pool, alice)["SyncSessionToken"], "e")):
        with pytest.raises(ClientError) as refused:
            update(device, pool, alice, token, [replace("k", "v", 0)], dataset=dataset)
        assert (code(refused), message(refused)) == ("InvalidParameterException",
                                                     "SyncSessionToken not valid for these inputs")


def test_t17_a_token_lives_an_hour_and_listing_renews_it(clocked_world):
    world = clocked_world
    pool = world.pool()
    alice = world.user(pool, "alice")
    token = records(world.sync, pool, alice)["SyncSessionToken"]
    world.clock.advance(3000)
    assert records(world.sync, pool, alice, SyncSessionToken=token)["SyncSessionToken"] == token  # renewed
    world.clock.advance(3000)
    update(world.sync, pool, alice, token, [replace("k", "v", 0)])
    world.clock.advance(3601)
    with pytest.raises(ClientError) as expired:
        update(world.sync, pool, alice, token, [replace("j", "v", 0)])
    assert message(expired) == "SyncSessionToken not valid for these inputs"


def test_t18_a_token_serves_several_writes(a):
    world, pool, alice, device = a
    token = records(device, pool, alice)["SyncSessionToken"]
    assert update(device, pool, alice, token, [replace("a", "1", 0)])["Records"][0]["SyncCount"] == 1
    assert update(device, pool, alice, token, [replace("b", "2", 0)])["Records"][0]["SyncCount"] == 2


def test_t19_an_empty_update_creates_the_dataset_without_counting(a):
    world, pool, alice, device = a
    token = records(device, pool, alice)["SyncSessionToken"]
    assert update(device, pool, alice, token, [])["Records"] == []
    assert describe(world, pool, alice)["NumRecords"] == 0
    assert records(device, pool, alice)["DatasetSyncCount"] == 0
    assert sync(device, pool, alice, "d", {"k": ("v", 0)})["Records"][0]["SyncCount"] == 1


def test_t20_twenty_datasets_per_identity(a):
    world, pool, alice, device = a
    for i in range(20):
        sync(world.sync, pool, alice, f"set{i:02}", {})
    with pytest.raises(ClientError) as refused:
        sync(world.sync, pool, alice, "one-more", {"k": ("v", 0)})
    assert (code(refused), message(refused)) == ("LimitExceededException",
                                                 f"Exceeded 20 datasets for identity '{alice}'")
    assert world.sync.list_datasets(IdentityPoolId=pool, IdentityId=alice)["Count"] == 20


def test_t21_1024_records_per_dataset(a):
    world, pool, alice, _ = a
    sync(world.sync, pool, alice, "d", {f"k{i:04}": ("v", 0) for i in range(1024)})
    with pytest.raises(ClientError) as refused:
        sync(world.sync, pool, alice, "d", {"extra": ("v", 0)})
    assert (code(refused), message(refused)) == ("LimitExceededException", "Exceeded 1024 records in dataset 'd'")
    assert sync(world.sync, pool, alice, "d", {"k0000": ("w", 1)})["Records"][0]["SyncCount"] == 2


def test_one_update_takes_at_most_2048_patches(a):
    """A local safeguard, not an AWS limit: a device that removed all 1,024 records and wrote 1,024
    new ones offline sends 2,048 patches. A longer list is refused as the model's constraints are
    (S22, before the caller's rights), unread: 180,000 tiny patches took a worker seconds to
    validate, then held the store's write lock for seconds, and left 180,000 tombstones for good."""
    world, pool, alice, device = a
    token = records(device, pool, alice)["SyncSessionToken"]
    removals = [{"Op": "remove", "Key": f"gone{i}", "SyncCount": 0} for i in range(2049)]
    with pytest.raises(ClientError) as refused:
        update(device, pool, alice, token, removals)
    assert (code(refused), message(refused)) == ("ValidationException", (
        "1 validation error detected: Value at 'recordPatches' failed to satisfy constraint:"
        " Member must have length less than or equal to 2048"))
    assert len(update(device, pool, alice, token, removals[:2048])["Records"]) == 2048


def test_t22_a_dataset_holds_one_mebibyte(a):
    world, pool, alice, _ = a
    value = "x" * 1_048_575
    with pytest.raises(ClientError) as refused:
        sync(world.sync, pool, alice, "d", {"kk": (value, 0)})
    assert (code(refused), message(refused)) == ("LimitExceededException", "Dataset 'd' would exceed 1048576 bytes")
    sync(world.sync, pool, alice, "d", {"k": (value, 0)})  # exactly 1,048,576 bytes, over HTTP too (S74)
    assert describe(world, pool, alice)["DataStorage"] == 1_048_576


def test_t23_t24_model_constraints(a):
    world, pool, alice, _ = a
    # botocore checks only minimum lengths: these maximums reach the service
    with pytest.raises(ClientError) as long_key:
        sync(world.sync, pool, alice, "d", {"k" * 1025: ("v", 0)})
    assert code(long_key) == "ValidationException" and "recordPatches.1.member.key" in message(long_key)
    for name in ("bad/name", "a b"):
        with pytest.raises(ClientError) as refused:
            records(world.sync, pool, alice, dataset=name)
        assert code(refused) == "ValidationException" and "datasetName" in message(refused)


def test_t25_a_replayed_update_conflicts(a):
    world, pool, alice, device = a
    token = records(device, pool, alice)["SyncSessionToken"]
    update(device, pool, alice, token, [replace("k", "v", 0)])
    with pytest.raises(ClientError) as replayed:
        update(device, pool, alice, token, [replace("k", "v", 0)])
    assert status(replayed) == 409


def test_t26_to_t30_deleting_a_dataset(a):
    world, pool, alice, device = a
    old_token = records(device, pool, alice)["SyncSessionToken"]
    update(device, pool, alice, old_token, [replace("k", "v", 0)])
    deleted = device.delete_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")["Dataset"]
    assert deleted["NumRecords"] == 1 and deleted["DatasetName"] == "d"
    with pytest.raises(ClientError) as gone:
        describe(world, pool, alice)
    assert (code(gone), status(gone), message(gone)) == ("ResourceNotFoundException", 404, "Dataset 'd' not found.")
    after = records(device, pool, alice, last=1)  # T27
    assert (after["DatasetExists"], after["DatasetDeletedAfterRequestedSyncCount"], after["DatasetSyncCount"]) == (
        False, True, 0)
    assert records(device, pool, alice, last=0)["DatasetDeletedAfterRequestedSyncCount"] is False
    with pytest.raises(ClientError) as stale_token:  # T30
        update(device, pool, alice, old_token, [replace("k", "v", 0)])
    assert message(stale_token) == "SyncSessionToken not valid for these inputs"
    assert sync(device, pool, alice, "d", {"k": ("v", 0)})["Records"][0]["SyncCount"] == 3  # T28, S9
    assert records(device, pool, alice, last=1)["DatasetDeletedAfterRequestedSyncCount"] is True
    assert records(device, pool, alice, last=3)["DatasetDeletedAfterRequestedSyncCount"] is False
    with pytest.raises(ClientError) as missing:  # T29
        device.delete_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName="nope")
    assert code(missing) == "ResourceNotFoundException"


def test_t41_t42_listing_datasets_in_pages(a):
    world, pool, alice, device = a
    bob = world.user(pool, "bob")
    for name in ("e", "d", "f"):
        sync(world.sync, pool, alice, name, {"k": ("v", 0)})
    sync(world.sync, pool, bob, "d", {})
    listed = device.list_datasets(IdentityPoolId=pool, IdentityId=alice)
    assert [d["DatasetName"] for d in listed["Datasets"]] == ["d", "e", "f"] and listed["Count"] == 3
    assert all(len(d) == 7 for d in listed["Datasets"])
    first = device.list_datasets(IdentityPoolId=pool, IdentityId=alice, MaxResults=2)
    second = device.list_datasets(IdentityPoolId=pool, IdentityId=alice, MaxResults=2, NextToken=first["NextToken"])
    assert [d["DatasetName"] for d in first["Datasets"] + second["Datasets"]] == ["d", "e", "f"]
    assert "NextToken" not in second
    with pytest.raises(ClientError) as garbled:
        device.list_datasets(IdentityPoolId=pool, IdentityId=alice, NextToken="!!not-a-token")
    assert (code(garbled), message(garbled)) == ("InvalidParameterException", "Invalid pagination token")


def test_t43_listing_records_in_pages(a):
    world, pool, alice, device = a
    sync(device, pool, alice, "d", {f"k{i}": (str(i), 0) for i in range(5)})
    first = records(device, pool, alice, MaxResults=2)
    keys, token, page = [r["Key"] for r in first["Records"]], first["NextToken"], first
    sizes = [first["Count"]]
    while "NextToken" in page:
        page = records(device, pool, alice, MaxResults=2, NextToken=page["NextToken"],
                       SyncSessionToken=first["SyncSessionToken"])
        assert page["SyncSessionToken"] == first["SyncSessionToken"]
        keys += [r["Key"] for r in page["Records"]]
        sizes.append(page["Count"])
    assert sizes == [2, 2, 1] and keys == [f"k{i}" for i in range(5)]
    assert records(device, pool, alice, NextToken=token)["SyncSessionToken"] != first["SyncSessionToken"]


def test_t44_usage_of_an_identity_and_of_a_pool(a):
    world, pool, alice, device = a
    bob = world.user(pool, "bob")
    sync(device, pool, alice, "d", {"abcdefg": ("123456789", 0)})  # 16 bytes
    sync(world.sync, pool, bob, "e", {"kk": ("vv", 0)})  # 4 bytes
    usage = device.describe_identity_usage(IdentityPoolId=pool, IdentityId=alice)["IdentityUsage"]
    assert (usage["IdentityId"], usage["IdentityPoolId"], usage["DatasetCount"], usage["DataStorage"]) == (
        alice, pool, 1, 16)
    assert "LastModifiedDate" in usage
    pool_usage = world.sync.describe_identity_pool_usage(IdentityPoolId=pool)["IdentityPoolUsage"]
    assert pool_usage["DataStorage"] == 20 and pool_usage["SyncSessionsCount"] == 2
    fresh = world.pool()
    unused = world.sync.describe_identity_pool_usage(IdentityPoolId=fresh)["IdentityPoolUsage"]
    assert "SyncSessionsCount" not in unused and unused["DataStorage"] == 0 and "LastModifiedDate" in unused


def test_t45_pool_usage_pages_by_pool_id(world):
    region = "eu-west-3" if world.transport == "http" else "us-east-1"
    # Over HTTP the server is shared by the run: its own region keeps other tests' pools out.
    client = world.make("cognito-sync", region=region) if world.transport == "http" else world.sync
    cognito = world.make("cognito-identity", region=region)
    made = sorted(cognito.create_identity_pool(IdentityPoolName=f"p{i}", AllowUnauthenticatedIdentities=True)[
        "IdentityPoolId"] for i in range(3))
    if world.transport == "http":
        made = sorted(p["IdentityPoolId"] for p in cognito.list_identity_pools(MaxResults=60)["IdentityPools"])
    first = client.list_identity_pool_usage(MaxResults=2)
    assert [u["IdentityPoolId"] for u in first["IdentityPoolUsages"]] == made[:2]
    assert (first["MaxResults"], first["Count"]) == (2, 2)
    assert base64.b64decode(first["NextToken"]).decode() == made[1]
    rest = client.list_identity_pool_usage(MaxResults=2, NextToken=first["NextToken"])
    assert [u["IdentityPoolId"] for u in rest["IdentityPoolUsages"]] == made[2:4]


def test_t67_two_devices_sync_as_the_sdks_do(a):
    world, pool, alice, phone = a
    tablet = world.device(alice)
    sync(phone, pool, alice, "d", {"k": ("v", 0)})  # device 1 puts k and syncs
    pulled = records(tablet, pool, alice, last=0)  # device 2 syncs
    assert [(r["Key"], r["Value"], r["SyncCount"]) for r in pulled["Records"]] == [("k", "v", 1)]
    assert records(tablet, pool, alice, last=pulled["DatasetSyncCount"])["Records"] == []
    assert records(phone, pool, alice, last=1)["Records"] == []  # device 1 has nothing to push or pull


def test_t69_names_and_keys_are_case_sensitive(a):
    world, pool, alice, device = a
    sync(device, pool, alice, "Game", {"K": ("1", 0)})
    with pytest.raises(ClientError) as missing:
        describe(world, pool, alice, "game")
    assert code(missing) == "ResourceNotFoundException"
    sync(device, pool, alice, "game", {"k": ("2", 0)})
    assert [(r["Key"], r["Value"]) for r in records(device, pool, alice, "Game")["Records"]] == [("K", "1")]
    names = [d["DatasetName"] for d in device.list_datasets(IdentityPoolId=pool, IdentityId=alice)["Datasets"]]
    assert names == ["Game", "game"]


def test_t70_sizes_count_utf8_bytes_and_lengths_code_points(a):
    world, pool, alice, device = a
    sync(device, pool, alice, "d", {"é": ("😀", 0)})
    assert describe(world, pool, alice)["DataStorage"] == 6
    sync(device, pool, alice, "d", {"😀" * 1024: ("x", 0)})
    sync(device, pool, alice, "d", {"nul\x00key": ("a\x00b", 0)})
    listed = {r["Key"]: r.get("Value") for r in records(device, pool, alice)["Records"]}
    assert listed["nul\x00key"] == "a\x00b"


def test_t72_without_max_results_every_record_comes_in_one_page(a):
    world, pool, alice, _ = a
    sync(world.sync, pool, alice, "d", {f"k{i:04}": ("v", 0) for i in range(1024)})
    sync(world.sync, pool, alice, "d", {f"gone{i}": (None, 0) for i in range(3)})
    whole = records(world.sync, pool, alice)
    assert whole["Count"] == 1027 and "NextToken" not in whole
    capped = records(world.sync, pool, alice, MaxResults=5000)
    assert capped["Count"] == 1024 and "NextToken" in capped
    assert records(world.sync, pool, alice, MaxResults=5000, NextToken=capped["NextToken"])["Count"] == 3


def test_t73_a_page_token_is_a_position(a):
    world, pool, alice, device = a
    for name in ("a", "b"):
        sync(device, pool, alice, name, {})
    sync(device, pool, alice, "d", {"k1": ("1", 0), "k2": ("2", 0), "k3": ("3", 0)})
    first = device.list_datasets(IdentityPoolId=pool, IdentityId=alice, MaxResults=1)
    device.delete_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName="a")
    rest = device.list_datasets(IdentityPoolId=pool, IdentityId=alice, NextToken=first["NextToken"])
    assert [d["DatasetName"] for d in rest["Datasets"]] == ["b", "d"]
    assert [d["DatasetName"] for d in device.list_datasets(IdentityPoolId=pool, IdentityId=alice, NextToken="")[
        "Datasets"]] == ["b", "d"]
    page1 = records(device, pool, alice, MaxResults=2)
    sync(device, pool, alice, "d", {"k1": ("one", 1)})
    page2 = records(device, pool, alice, MaxResults=2, NextToken=page1["NextToken"])
    assert [(r["Key"], r["SyncCount"]) for r in page2["Records"]] == [("k3", 1), ("k1", 2)]


def test_range_checks_are_invalid_parameters(a):
    world, pool, alice, device = a
    for kwargs in ({"MaxResults": 0}, {"LastSyncCount": -1}):
        with pytest.raises(ClientError) as refused:
            records(device, pool, alice, **{"last": kwargs.pop("LastSyncCount", 0), **kwargs})
        assert code(refused) == "InvalidParameterException"


def test_device_dates_round_trip(a):
    world, pool, alice, device = a
    token = records(device, pool, alice)["SyncSessionToken"]
    from datetime import UTC, datetime

    when = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    (written,) = update(device, pool, alice, token, [{**replace("k", "v", 0), "DeviceLastModifiedDate": when}])[
        "Records"]
    assert written["DeviceLastModifiedDate"] == when
    (plain,) = update(device, pool, alice, token, [replace("j", "v", 0)])["Records"]
    assert "DeviceLastModifiedDate" not in plain  # SQ9
