"""The three doors into the local service, as one parametrised fixture (`door`) for the whole
service suite: boto3 served in process, the boto3-free client the CLI uses, and boto3 over HTTP
to one `cogid serve` shared by the run (SigV4-signed with a developer key), its store emptied
before each test (cogid.local.reset). A test that needs what only a process of its own has
(files under its home, other processes, a clock, in-process handlers) pins the in-process door:
`@pytest.mark.parametrize("door", ["inprocess"], indirect=True)`."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

DOORS = ["inprocess", "direct", "http"]
# The service suite: its tests run through every door; the rest (CLI, hardening) in process.
SERVICE_SUITE = ("test_local_", "test_sync_")


def pytest_generate_tests(metafunc):
    pinned = any("door" in str(mark.args[0]) for mark in metafunc.definition.iter_markers("parametrize"))
    if "door" in metafunc.fixturenames and metafunc.module.__name__.startswith(SERVICE_SUITE) and not pinned:
        metafunc.parametrize("door", DOORS, indirect=True)


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    import cogid.local
    from cogid.local.transport.server import running_server

    home = tmp_path_factory.mktemp("shared-serve")
    key = cogid.local.client("iam", home=home).create_access_key()["AccessKey"]
    with running_server(home, workers=2) as url:
        yield SimpleNamespace(url=url, home=home, key=key)


def boto3_maker(home):
    from cogid.local import client

    def make(service_name="cognito-identity", region="us-east-1", **kwargs):
        return client(service_name, home=home, region=region, **kwargs)

    return make


def direct_maker(home):
    from cogid.local import direct_client

    def make(service_name="cognito-identity", region="us-east-1", **credentials):
        if "config" in credentials:  # botocore's switches (parameter_validation=False): boto3's
            return boto3_maker(home)(service_name, region, **credentials)
        credentials.pop("aws_secret_access_key", None)  # in process, who calls is told by the key id
        return direct_client(home=home, region=region, service_name=service_name, **credentials)

    return make


def http_maker(server):
    def make(service_name="cognito-identity", region="us-east-1", config=None, **credentials):
        from botocore.config import Config

        from cogid.local import boto3_session  # one a region: a new session reloads the models

        credentials = credentials or {"aws_access_key_id": server.key["AccessKeyId"],
                                      "aws_secret_access_key": server.key["SecretAccessKey"]}
        config = Config(retries={"total_max_attempts": 1}).merge(config or Config())
        return boto3_session(region).client(service_name, endpoint_url=server.url, config=config, **credentials)

    return make


@pytest.fixture
def door(request, isolated):
    """`door.make(service_name, **credentials)` makes clients through this door; `door.home`
    is the store behind it."""
    name = getattr(request, "param", "inprocess")
    if name == "http":
        from cogid.local import reset

        server = request.getfixturevalue("shared_server")
        reset(server.home)  # a store as new for each test; the server's developer key stays
        return SimpleNamespace(name="http", home=server.home, make=http_maker(server))
    maker = direct_maker if name == "direct" else boto3_maker
    return SimpleNamespace(name=name, home=isolated, make=maker(isolated))
