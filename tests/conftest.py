import pytest


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test reaches real AWS or a developer's own files."""
    home = tmp_path / "cogid-home"
    monkeypatch.setenv("COGID_HOME", str(home))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "COGID_PROFILE", "COGID_OUTPUT",
                 "COGID_USER", "COGID_DEBUG", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    return home


DEV = "login.example.app"


@pytest.fixture
def local(isolated):
    """Make in-process boto3 clients of the local service under the test's COGID_HOME."""
    from cogid.local import client

    def make(service_name="cognito-identity", **kwargs):
        return client(service_name, home=isolated, **kwargs)

    return make


@pytest.fixture
def cognito(local):
    return local("cognito-identity")


@pytest.fixture
def pool(cognito):
    """A pool with a developer provider; returns its id."""
    made = cognito.create_identity_pool(
        IdentityPoolName="app", AllowUnauthenticatedIdentities=True, DeveloperProviderName=DEV
    )
    return made["IdentityPoolId"]


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


FACEBOOK_APP = "1234567890"


@pytest.fixture
def social(isolated):
    """Mint test-IdP tokens the local service accepts as public-provider logins."""
    from cogid.local import mint_social_token

    def mint(subject, provider="graph.facebook.com", audience=FACEBOOK_APP, **kwargs):
        return mint_social_token(provider, subject, audience, home=isolated, **kwargs)

    return mint


@pytest.fixture
def fb_pool(cognito):
    """A pool with a developer provider, Facebook, and guests allowed."""
    made = cognito.create_identity_pool(
        IdentityPoolName="social", AllowUnauthenticatedIdentities=True, AllowClassicFlow=True,
        DeveloperProviderName=DEV, SupportedLoginProviders={"graph.facebook.com": FACEBOOK_APP},
    )
    return made["IdentityPoolId"]


@pytest.fixture
def raw_cognito(local):
    """A client that skips botocore's own parameter checks, so bad input reaches the service."""
    from botocore.config import Config

    return local("cognito-identity", config=Config(parameter_validation=False))
