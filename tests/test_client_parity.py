"""The boto3-free client against real boto3, over every operation of every local service.

Both clients are served in process by identical stores on one frozen clock, calling as the
account (unsigned) and, for the services a device calls, as a user's device (signed with the
temporary credentials the service vended; boto3 with its default retries, as an app's). Each operation is
called three times, in the same order, on three copies of one store: twice through boto3 (which
tells the values that legitimately differ between two runs, such as new ids and request ids)
and once through the boto3-free client, which must give the same return value or the same
error — class, code, message, response dict — everywhere the two boto3 runs agree, and the same
keys and types where they don't. Invalid parameters must be refused before sending with
botocore's ParamValidationError, word for word.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from conftest import Clock, served_by
from sync_world import COGNITO_KEY, trust_policy

from cogid.local.service import Service
from cogid.local.transport.inprocess import DirectClient
from cogid.local.wire import shapes

SERVICES = ("cognito-identity", "cognito-sync", "sts", "iam")
PROVIDER = "login.parity.app"
MOMENT = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
# Run last, so that what they remove is there for every other operation; containers at the end.
DESTRUCTIVE = ("Delete", "Unlink", "Merge", "Remove", "Detach", "Untag")
CONTAINERS = ("DeleteIdentityPool", "DeleteRole", "DeleteDataset")
MIN_SUCCESSES = {("cognito-identity", "account"): 25, ("cognito-sync", "account"): 18, ("sts", "account"): 3,
                 ("iam", "account"): 10, ("cognito-sync", "device"): 6, ("cognito-identity", "device"): 2,
                 ("sts", "device"): 2}


def operations(service_name):
    names = shapes.service_model(service_name).operation_names
    return sorted(names, key=lambda name: (name.startswith(DESTRUCTIVE), name in CONTAINERS, name))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A store with a pool, its roles, a developer user with a dataset, and a guest."""
    folder = tmp_path_factory.mktemp("parity")
    clock = Clock(MOMENT.timestamp())
    service = Service(folder / "base.sqlite3", clock=clock)
    cognito, iam = served_by(service), served_by(service, "iam")
    sync = served_by(service, "cognito-sync")
    pool = cognito.create_identity_pool(
        IdentityPoolName="parity", AllowUnauthenticatedIdentities=True, AllowClassicFlow=True,
        DeveloperProviderName=PROVIDER, SupportedLoginProviders={"graph.facebook.com": "1234"})["IdentityPoolId"]
    roles = {kind: iam.create_role(RoleName=f"Parity_{kind[:5]}", AssumeRolePolicyDocument=trust_policy(pool, kind))
             ["Role"]["Arn"] for kind in ("authenticated", "unauthenticated")}
    cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles=roles)
    issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={PROVIDER: "alice"})
    listed = sync.list_records(IdentityPoolId=pool, IdentityId=issued["IdentityId"], DatasetName="settings")
    sync.update_records(IdentityPoolId=pool, IdentityId=issued["IdentityId"], DatasetName="settings",
                        SyncSessionToken=listed["SyncSessionToken"],
                        RecordPatches=[{"Op": "replace", "Key": "theme", "Value": "dark", "SyncCount": 0}])
    session = sync.list_records(IdentityPoolId=pool, IdentityId=issued["IdentityId"], DatasetName="settings")
    guest = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    device = cognito.get_credentials_for_identity(IdentityId=issued["IdentityId"],
                                                  Logins={COGNITO_KEY: issued["Token"]})["Credentials"]
    service.store.close()
    known = {
        "IdentityPoolId": pool, "IdentityId": issued["IdentityId"], "DeveloperProviderName": PROVIDER,
        "DeveloperUserIdentifier": "alice", "DatasetName": "settings", "RoleArn": roles["authenticated"],
        "RoleName": "Parity_authe", "RoleSessionName": "parity", "WebIdentityToken": issued["Token"],
        "SyncSessionToken": session["SyncSessionToken"], "IdentityIdsToDelete": [guest],
        "SourceUserIdentifier": "bob", "DestinationUserIdentifier": "alice", "Roles": roles,
        "Logins": {COGNITO_KEY: issued["Token"]}, "LoginsToRemove": ["graph.facebook.com"],
        "IdentityPoolName": "parity", "AllowUnauthenticatedIdentities": True, "Platform": "GCM",
        "PolicyDocument": trust_policy(pool, "authenticated"), "PolicyName": "inline",
        "AssumeRolePolicyDocument": trust_policy(pool, "authenticated"),
        "ResourceArn": f"arn:aws:cognito-identity:us-east-1:000000000000:identitypool/{pool}",
    }
    return SimpleNamespace(path=folder / "base.sqlite3", folder=folder, known=known, device=device)


# Logins hold different things in different operations.
LOGINS = {"GetOpenIdTokenForDeveloperIdentity": {PROVIDER: "alice"}, "UnlinkDeveloperIdentity": None}


def value_for(name, shape, known, operation, depth=0):
    """A value for member `name`: the store's own where it names something, else one the
    model's constraints allow."""
    if name == "Logins" and operation in LOGINS and LOGINS[operation] is not None:
        return LOGINS[operation]
    if name in known and depth == 0:
        return known[name]
    kind, meta = shape.type_name, shape.metadata
    if kind == "string":
        return meta["enum"][0] if "enum" in meta else "a" * max(meta.get("min", 1), 1)
    if kind in ("integer", "long"):
        return max(meta.get("min", 1), 1)
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return MOMENT
    if kind == "blob":
        return b"parity"
    if depth > 3:
        return {} if kind in ("structure", "map") else []
    if kind == "list":
        return [value_for(name, shape.member, known, operation, depth + 1)] * max(meta.get("min", 1), 1)
    if kind == "map":
        return {value_for(name, shape.key, known, operation, depth + 1):
                value_for(name, shape.value, known, operation, depth + 1)}
    wanted = list(shape.members)[:1] if meta.get("union") else shape.required_members
    return {member: value_for(member, shape.members[member], known, operation, depth + 1) for member in wanted}


def calls(service_name, known):
    """(operation, params) for every operation: its required members, then every member."""
    model = shapes.service_model(service_name)
    for operation in operations(service_name):
        shape = model.operation_model(operation).input_shape
        members = shape.members if shape is not None else {}
        required = shape.required_members if shape is not None else []
        for wanted in (required, list(members)):
            yield operation, {name: value_for(name, members[name], known, operation) for name in wanted}


def outcome(client, operation, params):
    try:
        return {"returned": getattr(client, shapes.snake(operation))(**params)}
    except ClientError as error:
        return {"raised": type(error).__name__, "text": str(error), "response": error.response,
                "is_modeled": type(error) is not ClientError}


def assert_same(first, second, direct, where):
    """`direct` equals `first` wherever the two boto3 runs agree; same keys and types elsewhere."""
    if first == second:
        assert direct == first, where
    elif isinstance(first, dict) and isinstance(second, dict):
        assert isinstance(direct, dict) and set(direct) == set(first), (where, direct)
        for key in first:
            assert_same(first[key], second.get(key), direct[key], f"{where}.{key}")
    elif isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
        assert isinstance(direct, list) and len(direct) == len(first), (where, direct)
        for index, item in enumerate(first):
            assert_same(item, second[index], direct[index], f"{where}[{index}]")
    else:
        assert type(direct) is type(first), (where, first, direct)


def client_as(caller, service, service_name, device, direct):
    """A client calling as the account (unsigned) or as alice's device (her vended credentials),
    boto3's with its default retries (as an application's), or the boto3-free one."""
    if caller == "account":
        return DirectClient(service, "us-east-1", service_name) if direct else served_by(service, service_name)
    if direct:
        return DirectClient(service, "us-east-1", service_name, device)
    from botocore.config import Config

    return served_by(service, service_name, aws_access_key_id=device["AccessKeyId"],
                     aws_secret_access_key=device["SecretKey"], aws_session_token=device["SessionToken"],
                     config=Config(retries={"mode": "legacy", "total_max_attempts": 5}))


@pytest.mark.parametrize(("service_name", "caller"), [(name, "account") for name in SERVICES]
                         + [("cognito-sync", "device"), ("cognito-identity", "device"), ("sts", "device")])
def test_every_operation_answers_alike_through_both_clients(service_name, caller, base):
    clients = []
    for name in ("boto3-a", "boto3-b", "direct"):
        copy = base.folder / f"{service_name}-{caller}-{name}.sqlite3"
        shutil.copyfile(base.path, copy)
        service = Service(copy, clock=Clock(MOMENT.timestamp()))
        clients.append((client_as(caller, service, service_name, base.device, name == "direct"), service))
    compared = succeeded = 0
    try:
        for operation, params in calls(service_name, base.known):
            first, second, direct = (outcome(client, operation, params) for client, _ in clients)
            assert_same(first, second, direct, f"{operation}({', '.join(params)})")
            compared += 1
            succeeded += "returned" in first
    finally:
        for _, service in clients:
            service.store.close()
    assert compared == 2 * len(shapes.service_model(service_name).operation_names)
    assert succeeded >= MIN_SUCCESSES[service_name, caller]  # real answers compared, not only refusals


def refusal(client, operation, params):
    with pytest.raises(ParamValidationError) as refused:
        getattr(client, shapes.snake(operation))(**params)
    return str(refused.value)


def invalid_calls(service_name):
    """Calls botocore refuses before sending: an unknown member, a missing one, a wrong type,
    a value under the model's minimum."""
    model = shapes.service_model(service_name)
    wrong = {"string": 7, "integer": "7", "long": "7", "boolean": "yes", "list": "x", "map": ["x"],
             "structure": "x", "timestamp": object(), "blob": 7, "double": "x", "float": "x"}
    for operation in model.operation_names:
        shape = model.operation_model(operation).input_shape
        if shape is None:
            continue  # botocore sends these whatever they are given
        members = shape.members
        yield operation, {"Bogus": 1}
        for name, member in members.items():
            yield operation, {name: wrong[member.type_name]}
            if member.metadata.get("min", 0) >= 1 and member.type_name in ("string", "list"):
                yield operation, {name: "" if member.type_name == "string" else []}
            if member.type_name == "list" and member.member.type_name in wrong:
                yield operation, {name: [wrong[member.member.type_name]]}


@pytest.mark.parametrize("service_name", SERVICES)
def test_invalid_parameters_are_refused_alike_before_sending(service_name, tmp_path):
    def never():  # neither client may reach the service with a call botocore refuses
        raise AssertionError("sent")

    boto3_client = served_by(never, service_name)
    direct = DirectClient(never, "us-east-1", service_name)
    checked = 0
    for operation, params in invalid_calls(service_name):
        assert refusal(direct, operation, params) == refusal(boto3_client, operation, params), (operation, params)
        checked += 1
    assert checked > len(shapes.service_model(service_name).operation_names)


def test_positional_arguments_and_unknown_operations_fail_as_in_boto3(tmp_path):
    boto3_client = served_by(Service(tmp_path / "a.sqlite3"))
    direct = DirectClient(Service(tmp_path / "b.sqlite3"), "us-east-1")
    for client in (boto3_client, direct):
        with pytest.raises(TypeError, match="only accepts keyword arguments"):
            client.list_identity_pools(60)
        with pytest.raises(AttributeError, match="no attribute 'list_bogus'"):
            client.list_bogus()


@pytest.fixture
def two_clients(tmp_path):
    """boto3 and the boto3-free client on one store, with 7 pools in it."""
    service = Service(tmp_path / "pools.sqlite3")
    boto3_client, direct = served_by(service), DirectClient(service, "us-east-1")
    for index in range(7):
        boto3_client.create_identity_pool(IdentityPoolName=f"p{index}", AllowUnauthenticatedIdentities=False)
    yield boto3_client, direct
    service.store.close()


@pytest.mark.parametrize("config", [
    {}, {"PageSize": 3}, {"MaxItems": 4, "PageSize": 3}, {"MaxItems": 3, "PageSize": 3}, {"MaxItems": 5},
])
def test_paginators_give_the_same_pages_and_resume_tokens(two_clients, config):
    boto3_client, direct = two_clients

    def run(client, paging):
        pages = client.get_paginator("list_identity_pools").paginate(MaxResults=60, PaginationConfig=paging)
        listed = [[pool["IdentityPoolName"] for pool in page["IdentityPools"]] for page in pages]
        return listed, pages.resume_token

    expected, resume = run(boto3_client, dict(config))
    assert run(direct, dict(config)) == (expected, resume)
    if resume:  # the rest, from either client's token
        onwards = {"PageSize": config.get("PageSize", 60), "StartingToken": resume}
        rest = run(boto3_client, dict(onwards))
        assert run(direct, dict(onwards)) == rest
        assert sum(map(len, expected + rest[0])) == 7
    full = boto3_client.get_paginator("list_identity_pools").paginate(MaxResults=60, PaginationConfig=dict(config))
    pages = direct.get_paginator("list_identity_pools").paginate(MaxResults=60, PaginationConfig=dict(config))
    assert pages.build_full_result() == full.build_full_result()


def test_paginators_exist_where_botocores_do(two_clients):
    from botocore.exceptions import OperationNotPageableError

    boto3_client, direct = two_clients
    for name in ("list_identity_pools", "list_identities", "describe_identity"):
        assert direct.can_paginate(name) == boto3_client.can_paginate(name)
    with pytest.raises(OperationNotPageableError, match="list_identities"):
        direct.get_paginator("list_identities")


def test_modeled_errors_are_caught_through_client_exceptions(two_clients):
    boto3_client, direct = two_clients
    for client in (boto3_client, direct):
        with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
            client.describe_identity_pool(IdentityPoolId="us-east-1:00000000-0000-0000-0000-000000000000")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert isinstance(missing.value, ClientError)
        assert type(missing.value).__module__ == "botocore.errorfactory"
