"""Who may touch which Sync data, and how datasets follow identities through merges and deletes:
spec/cognito-sync.md §5-§6, tests T31-T37 and T46-T52, T74."""

import pytest
from sync_world import ClientError, code, message, status, sync

NOT_VALID = "These credentials are not valid for accessing this resource"


@pytest.fixture
def two(world):
    pool = world.pool()
    alice, bob = world.user(pool, "alice"), world.user(pool, "bob")
    return world, pool, alice, bob, world.device(alice)


def refused(call):
    with pytest.raises(ClientError) as excinfo:
        call()
    return code(excinfo), status(excinfo), message(excinfo)


def test_t31_an_identity_cannot_touch_another_identitys_data(two):
    world, pool, alice, bob, as_alice = two
    sync(world.sync, pool, bob, "d", {"k": ("v", 0)})
    for call in (
        lambda: as_alice.list_records(IdentityPoolId=pool, IdentityId=bob, DatasetName="d"),
        lambda: sync(as_alice, pool, bob, "d", {"k": ("w", 1)}),
        lambda: as_alice.list_datasets(IdentityPoolId=pool, IdentityId=bob),
        lambda: as_alice.describe_identity_usage(IdentityPoolId=pool, IdentityId=bob),
        lambda: as_alice.delete_dataset(IdentityPoolId=pool, IdentityId=bob, DatasetName="d"),
    ):
        assert refused(call) == ("NotAuthorizedException", 403, NOT_VALID)
    assert world.sync.list_records(IdentityPoolId=pool, IdentityId=bob, DatasetName="d")["Records"][0]["Value"] == "v"


def test_t32_ownership_is_checked_before_existence(two):
    world, pool, alice, bob, as_alice = two
    other = world.pool()
    assert refused(lambda: as_alice.list_records(IdentityPoolId=other, IdentityId=alice, DatasetName="d"))[:2] == (
        "NotAuthorizedException", 403)
    assert refused(lambda: as_alice.list_records(
        IdentityPoolId=pool, IdentityId="us-east-1:00000000-0000-0000-0000-000000000000", DatasetName="d"))[0] == (
        "NotAuthorizedException")


def test_t33_developers_reach_every_identity_and_write_as_the_account(two):
    world, pool, alice, bob, _ = two
    (written,) = sync(world.sync, pool, bob, "d", {"k": ("v", 0)})["Records"]
    assert written["LastModifiedBy"] == "000000000000"


def test_t34_t35_operations_of_one_kind_of_caller(two):
    world, pool, alice, bob, as_alice = two
    assert refused(lambda: world.sync.register_device(
        IdentityPoolId=pool, IdentityId=alice, Platform="GCM", Token="t")) == ("NotAuthorizedException", 403, NOT_VALID)
    for call in (
        lambda: as_alice.list_identity_pool_usage(),
        lambda: as_alice.describe_identity_pool_usage(IdentityPoolId=pool),
        lambda: as_alice.set_cognito_events(IdentityPoolId=pool, Events={"SyncTrigger": ""}),
        lambda: as_alice.get_identity_pool_configuration(IdentityPoolId=pool),
        lambda: as_alice.bulk_publish(IdentityPoolId=pool),
    ):
        assert refused(call) == ("NotAuthorizedException", 403, NOT_VALID)


def test_t36_t37_unknown_identities_and_other_regions(two):
    world, pool, alice, bob, _ = two
    nobody = "us-east-1:11111111-1111-1111-1111-111111111111"
    assert refused(lambda: world.sync.list_datasets(IdentityPoolId=pool, IdentityId=nobody)) == (
        "ResourceNotFoundException", 404, f"Identity '{nobody}' not found.")
    elsewhere = world.make("cognito-sync", region="eu-west-1")
    assert refused(lambda: elsewhere.describe_identity_pool_usage(IdentityPoolId=pool)) == (
        "ResourceNotFoundException", 404, f"IdentityPool '{pool}' not found.")


def test_guests_have_datasets_and_keep_them_when_they_sign_in(world):
    pool = world.pool()
    guest = world.guest(pool)
    as_guest = world.device(guest)
    sync(as_guest, pool, guest, "d", {"k": ("v", 0)})
    upgraded = world.cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, IdentityId=guest, Logins={world.provider: "gina"})["IdentityId"]
    assert upgraded == guest
    assert world.sync.list_records(IdentityPoolId=pool, IdentityId=guest, DatasetName="d")["Records"][0]["Value"] == "v"


def test_t46_t47_a_guest_merged_into_an_owner_brings_its_datasets(world):
    from cogid.local import mint_social_token

    pool = world.pool(facebook="1234567890")
    alice = world.user(pool, "alice")
    facebook = mint_social_token("facebook", "10001", "1234567890", home=world.home)
    world.cognito.get_open_id_token_for_developer_identity(  # alice links her Facebook login
        IdentityPoolId=pool, Logins={world.provider: "alice", "graph.facebook.com": facebook})
    sync(world.sync, pool, alice, "d", {"k": ("2", 0)})
    guest = world.guest(pool)
    sync(world.sync, pool, guest, "d", {"k": ("1", 0)})
    # The guest signs in with alice's Facebook login: it is merged into alice (E11).
    world.cognito.get_credentials_for_identity(IdentityId=guest, Logins={"graph.facebook.com": facebook})
    names = [d["DatasetName"] for d in world.sync.list_datasets(IdentityPoolId=pool, IdentityId=alice)["Datasets"]]
    assert names == ["d", f"d.{guest}"]
    listed = world.sync.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")
    assert listed["MergedDatasetNames"] == [f"d.{guest}"] and listed["Records"][0]["Value"] == "2"
    moved = world.sync.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName=f"d.{guest}")
    assert [(r["Key"], r["Value"], r["SyncCount"]) for r in moved["Records"]] == [("k", "1", 1)]
    assert moved["LastModifiedBy"] == "000000000000"
    world.sync.delete_dataset(IdentityPoolId=pool, IdentityId=alice, DatasetName=f"d.{guest}")  # T47
    assert "MergedDatasetNames" not in world.sync.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")


def test_t48_t74_a_developer_merge_moves_data_and_ends_the_losers_sessions(world):
    pool = world.pool()
    x, y = world.user(pool, "u1"), world.user(pool, "u2")
    as_x = world.device(x)
    sync(as_x, pool, x, "s", {"a": ("1", 0)})
    sync(as_x, pool, x, "s", {"a": ("2", 1)})  # s at count 2
    tx = as_x.list_records(IdentityPoolId=pool, IdentityId=x, DatasetName="s")["SyncSessionToken"]
    world.cognito.merge_developer_identities(
        SourceUserIdentifier="u1", DestinationUserIdentifier="u2", DeveloperProviderName=world.provider,
        IdentityPoolId=pool)
    assert [d["DatasetName"] for d in world.sync.list_datasets(IdentityPoolId=pool, IdentityId=y)["Datasets"]] == [
        f"s.{x}"]
    assert refused(lambda: as_x.list_datasets(IdentityPoolId=pool, IdentityId=x)) == (
        "NotAuthorizedException", 403, f"Access to Identity '{x}' is forbidden.")
    assert world.sync.list_datasets(IdentityPoolId=pool, IdentityId=x)["Datasets"] == []
    left = world.sync.list_records(IdentityPoolId=pool, IdentityId=x, DatasetName="s", LastSyncCount=1)  # T74
    assert (left["DatasetExists"], left["DatasetDeletedAfterRequestedSyncCount"]) == (False, True)

    def update(client, identity, dataset, token, count=0):
        return client.update_records(IdentityPoolId=pool, IdentityId=identity, DatasetName=dataset,
                                     SyncSessionToken=token,
                                     RecordPatches=[{"Op": "replace", "Key": "b", "Value": "v", "SyncCount": count}])

    assert refused(lambda: update(world.sync, x, "s", tx))[2] == "SyncSessionToken not valid for these inputs"
    fresh = world.sync.list_records(IdentityPoolId=pool, IdentityId=x, DatasetName="s")["SyncSessionToken"]
    assert update(world.sync, x, "s", fresh)["Records"][0]["SyncCount"] == 4  # tombstone at 3 (S55)
    as_y = world.device(y)
    assert refused(lambda: update(as_y, y, f"s.{x}", tx))[2] == "SyncSessionToken not valid for these inputs"


def test_t49_a_merge_may_pass_twenty_datasets(world):
    pool = world.pool()
    x, y = world.user(pool, "u1"), world.user(pool, "u2")
    for i in range(20):
        sync(world.sync, pool, y, f"y{i:02}", {})
    for name in ("a", "b"):
        sync(world.sync, pool, x, name, {})
    world.cognito.merge_developer_identities(
        SourceUserIdentifier="u1", DestinationUserIdentifier="u2", DeveloperProviderName=world.provider,
        IdentityPoolId=pool)
    assert world.sync.list_datasets(IdentityPoolId=pool, IdentityId=y)["Count"] == 22
    assert refused(lambda: sync(world.sync, pool, y, "new", {}))[0] == "LimitExceededException"


def test_merged_names_never_collide(world):
    pool = world.pool()
    x, y = world.user(pool, "u1"), world.user(pool, "u2")
    sync(world.sync, pool, x, "d", {})
    sync(world.sync, pool, y, f"d.{x}", {})  # already taken on the survivor (S52)
    world.cognito.merge_developer_identities(
        SourceUserIdentifier="u1", DestinationUserIdentifier="u2", DeveloperProviderName=world.provider,
        IdentityPoolId=pool)
    names = [d["DatasetName"] for d in world.sync.list_datasets(IdentityPoolId=pool, IdentityId=y)["Datasets"]]
    assert names == [f"d.{x}", f"d.{x}.2"]


def test_t50_deleting_an_identity_deletes_its_data(two):
    world, pool, alice, bob, as_alice = two
    sync(as_alice, pool, alice, "d", {"k": ("v", 0)})
    world.cognito.delete_identities(IdentityIdsToDelete=[alice])
    assert refused(lambda: world.sync.list_datasets(IdentityPoolId=pool, IdentityId=alice)) == (
        "ResourceNotFoundException", 404, f"Identity '{alice}' not found.")
    assert refused(lambda: as_alice.list_datasets(IdentityPoolId=pool, IdentityId=alice))[1] == 404


def test_t51_deleting_a_pool_deletes_its_data_but_not_the_outbox(world):
    from cogid.local import sync_outbox

    pool = world.pool()
    alice = world.user(pool, "alice")
    world.sync.set_identity_pool_configuration(IdentityPoolId=pool, CognitoStreams={
        "StreamName": "s", "RoleArn": "arn:aws:iam::000000000000:role/stream", "StreamingStatus": "ENABLED"})
    sync(world.sync, pool, alice, "d", {"k": ("v", 0)})
    world.cognito.delete_identity_pool(IdentityPoolId=pool)
    for call in (lambda: world.sync.list_datasets(IdentityPoolId=pool, IdentityId=alice),
                 lambda: world.sync.get_identity_pool_configuration(IdentityPoolId=pool),
                 lambda: world.sync.describe_identity_pool_usage(IdentityPoolId=pool)):
        assert refused(call)[:2] == ("ResourceNotFoundException", 404)
    assert len(sync_outbox(home=world.home, kind="stream", identity_pool_id=pool)) == 1


def test_t52_a_disabled_identity_is_closed_to_itself_not_to_developers(two):
    world, pool, alice, bob, as_alice = two
    sync(as_alice, pool, alice, "d", {"k": ("v", 0)})
    world.cognito.unlink_developer_identity(IdentityId=alice, IdentityPoolId=pool, DeveloperProviderName=world.provider,
                                            DeveloperUserIdentifier="alice")
    assert refused(lambda: as_alice.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")) == (
        "NotAuthorizedException", 403, f"Access to Identity '{alice}' is forbidden.")
    assert world.sync.list_records(IdentityPoolId=pool, IdentityId=alice, DatasetName="d")["Count"] == 1


def test_basic_flow_credentials_are_identity_callers_too(world):
    pool = world.pool()
    alice = world.user(pool, "alice")
    roles = world.cognito.get_identity_pool_roles(IdentityPoolId=pool)["Roles"]
    sts = world.make("sts")
    credentials = sts.assume_role_with_web_identity(
        RoleArn=roles["authenticated"], RoleSessionName="phone", WebIdentityToken=world.tokens[alice])["Credentials"]
    device = world.device(alice, credentials={**credentials, "SecretKey": credentials["SecretAccessKey"]})
    sync(device, pool, alice, "d", {"k": ("v", 0)})
    bob = world.user(pool, "bob")
    assert refused(lambda: device.list_datasets(IdentityPoolId=pool, IdentityId=bob))[0] == "NotAuthorizedException"


def test_vended_credentials_still_reach_no_other_service(two):
    world, pool, alice, bob, _ = two
    as_alice_cognito = world.device(alice, service="cognito-identity")
    assert refused(lambda: as_alice_cognito.list_identity_pools(MaxResults=1))[0] == "AccessDeniedException"
