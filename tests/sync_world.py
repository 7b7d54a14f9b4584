"""A Cognito Sync test world over each door into the local service: boto3 served in process, the
boto3-free client the CLI uses, or boto3 over HTTP to one `cogid serve` shared by the whole run (each test makes its own pools,
roles and developer provider, so tests never see each other's data)."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from doors import boto3_maker, http_maker

COGNITO_KEY = "cognito-identity.amazonaws.com"


def trust_policy(pool_id, amr):
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": COGNITO_KEY},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{COGNITO_KEY}:aud": pool_id},
                      "ForAnyValue:StringLike": {f"{COGNITO_KEY}:amr": amr}}}]})


class World:
    """Developer clients (`sync`, `cognito`, `iam`), and helpers that make pools, users and the
    clients a user's own device would have (`device(identity_id)`)."""

    def __init__(self, make, transport, home):
        self.make, self.transport, self.home = make, transport, home
        self.sync = make("cognito-sync")
        self.cognito = make("cognito-identity")
        self.iam = make("iam")
        self.tokens = {}

    def pool(self, guests=True, region="us-east-1", facebook=None):
        cognito = self.cognito if region == "us-east-1" else self.make("cognito-identity", region=region)
        self.provider = f"login.{uuid.uuid4().hex[:12]}.app"
        pool_id = cognito.create_identity_pool(
            IdentityPoolName="sync", AllowUnauthenticatedIdentities=guests, AllowClassicFlow=True,
            DeveloperProviderName=self.provider,
            **({"SupportedLoginProviders": {"graph.facebook.com": facebook}} if facebook else {}))["IdentityPoolId"]
        roles = {}
        for kind in ("authenticated", "unauthenticated"):
            name = f"Sync_{kind[:5]}_{uuid.uuid4().hex[:10]}"
            roles[kind] = self.iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=trust_policy(pool_id, kind))["Role"]["Arn"]
        cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=roles)
        return pool_id

    def user(self, pool_id, name):
        """The identity of developer user `name` (a token for it is kept for `device`)."""
        issued = self.cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool_id, Logins={self.provider: name})
        self.tokens[issued["IdentityId"]] = issued["Token"]
        return issued["IdentityId"]

    def guest(self, pool_id):
        return self.cognito.get_id(IdentityPoolId=pool_id)["IdentityId"]

    def credentials(self, identity_id):
        token = self.tokens.get(identity_id)
        logins = {COGNITO_KEY: token} if token else {}
        return self.cognito.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]

    def device(self, identity_id, service="cognito-sync", credentials=None):
        """A client signed with the identity's own temporary credentials, as a phone's."""
        credentials = credentials or self.credentials(identity_id)
        return self.make(service, aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretKey"],
                         aws_session_token=credentials["SessionToken"])


def sync(client, pool_id, identity_id, dataset, changes, last=0, device_id=None):
    """One device sync as the SDKs do it: ListRecords for the session token, then UpdateRecords
    with `changes` ({key: (value or None to remove, sync count)})."""
    listed = client.list_records(IdentityPoolId=pool_id, IdentityId=identity_id, DatasetName=dataset,
                                 LastSyncCount=last)
    patches = [{"Op": "replace" if value is not None else "remove", "Key": key, "SyncCount": count,
                **({"Value": value} if value is not None else {})} for key, (value, count) in changes.items()]
    extra = {"DeviceId": device_id} if device_id else {}
    return client.update_records(IdentityPoolId=pool_id, IdentityId=identity_id, DatasetName=dataset,
                                 SyncSessionToken=listed["SyncSessionToken"], RecordPatches=patches, **extra)


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def message(excinfo):
    return excinfo.value.response["Error"]["Message"]


@pytest.fixture
def world(door):
    """The test world through each door in turn (tests/doors.py)."""
    return World(door.make, door.name, door.home)


@pytest.fixture
def local_world(isolated):
    """The test world in process only (raw requests, handlers, the clock)."""
    return World(boto3_maker(isolated), "inprocess", isolated)


@pytest.fixture
def http_world(shared_server):
    """The test world over HTTP only (the server's own limits)."""
    return World(http_maker(shared_server), "http", shared_server.home)


@pytest.fixture
def clocked_world(clocked):
    """In process, on a service whose clock the test moves: `world.clock.advance(3601)`."""
    from conftest import served_by

    def make(service, region="us-east-1", **credentials):
        return served_by(clocked.service, service, **credentials)

    made = World(make, "inprocess", None)
    made.clock, made.service = clocked.clock, clocked.service
    return made


__all__ = ["ClientError", "World", "code", "message", "status", "sync"]
