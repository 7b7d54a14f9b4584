import json
import time
from types import SimpleNamespace

import pytest

# The doors into the local service (`door`, `local`, `home`), the Cognito Sync world (`world`)
# and the dashboard's `cogid serve` (`site`).
pytest_plugins = ["doors", "sync_world", "dashboard_site"]


def pytest_addoption(parser):
    parser.addoption("--screenshots", metavar="DIR", default=None,
                     help="tests/test_dashboard_browser.py: write a PNG of each dashboard page to DIR")


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
    yield home
    from cogid.local.service import close_services

    close_services()  # each test's store is its own: don't carry open files into the next


DEV = "login.example.app"


@pytest.fixture
def local(door):
    """Make clients of the local service through each door in turn (tests/doors.py):
    local("sts", aws_access_key_id=...)."""
    return door.make


@pytest.fixture
def home(door):
    """The store home behind the test's door."""
    return door.home


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


def ok(result):
    """A CLI run's output, after checking it succeeded: its JSON document, or its text."""
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else result.stdout


FACEBOOK_APP = "1234567890"


@pytest.fixture
def social(home):
    """Mint test-IdP tokens the local service accepts as public-provider logins."""
    from cogid.local import mint_social_token

    def mint(subject, provider="graph.facebook.com", audience=FACEBOOK_APP, **kwargs):
        return mint_social_token(provider, subject, audience, home=home, **kwargs)

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
    """A boto3 client that skips botocore's own parameter checks, so bad input reaches the service."""
    from botocore.config import Config

    return local("cognito-identity", config=Config(parameter_validation=False))


@pytest.fixture
def cli():
    """Run cogid in-process through Typer's CliRunner: cli("token", "issue", ...) -> Result."""
    from typer.testing import CliRunner

    from cogid.cli.app import app

    runner = CliRunner()

    def run(*args, input=None, env=None):
        return runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture
def cli_pool(cli):
    """A local pool with developer provider, Facebook, guests and roles, stored in profile `local`."""
    result = cli("pool", "create", "app", "--developer-provider", DEV, "--facebook", FACEBOOK_APP,
                 "--allow-guests", "--classic-flow", "--create-roles", "--use")
    assert result.exit_code == 0, result.stderr
    import json

    return json.loads(result.stdout)["IdentityPoolId"]


# -- federation and credentials ------------------------------------------------------------------


def standard_trust_policy(pool_id, amr="authenticated"):
    """The trust policy the Cognito console writes for a pool's authenticated (or, with
    amr="unauthenticated", unauthenticated) role."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr}},
    }]})


@pytest.fixture
def iam(local):
    return local("iam")


@pytest.fixture
def sts(local):
    return local("sts")


@pytest.fixture
def pool_roles(cognito, iam):
    """Give a pool the console's two default roles; returns {"authenticated": arn, "unauthenticated": arn}."""

    def give(pool_id, prefix="Cognito_app"):
        roles = {}
        for kind, suffix in (("authenticated", "Auth"), ("unauthenticated", "Unauth")):
            made = iam.create_role(RoleName=f"{prefix}{suffix}_Role",
                                   AssumeRolePolicyDocument=standard_trust_policy(pool_id, kind))
            roles[kind] = made["Role"]["Arn"]
        cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=roles)
        return roles

    return give


class Clock:
    """A service clock the test moves by hand."""

    def __init__(self, now=None):
        self.now = float(int(now if now is not None else time.time()))

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def served_by(service, service_name="cognito-identity", **kwargs):
    """A boto3 client answered in-process by this `Service` object (cogid.local.client always
    uses the shared service of a home; tests sometimes need their own clock or fetch)."""
    from cogid.local import served_client

    return served_client(service_name, service, **kwargs)


@pytest.fixture
def clocked(tmp_path):
    """A local service on its own store with a hand-moved clock, and boto3 clients served by
    it: `clocked.client("sts", aws_access_key_id=...)`, `clocked.clock.advance(3600)`."""
    from cogid.local.service import Service

    clock = Clock()
    service = Service(tmp_path / "clocked" / "local.sqlite3", clock=clock)

    def client(service_name="cognito-identity", **kwargs):
        return served_by(service, service_name, **kwargs)

    return SimpleNamespace(clock=clock, service=service, client=client)


@pytest.fixture(scope="session")
def rsa_key():
    """One RSA key for the OpenID Connect issuers the tests stand up (made once: ~50 ms)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    """An OpenID Connect issuer of the test's own: its JWKS, and ID tokens it signs."""

    def __init__(self, url, key, kid="test-key-1"):
        import jwt

        self.url, self.key, self.kid = url, key, kid
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        self.jwks = {"keys": [{**public, "kid": kid, "alg": "RS256", "use": "sig"}]}

    def token(self, sub="user-1", aud="client-1", lifetime=3600, headers=None, key=None, **claims):
        """An ID token (RS256); aud=None leaves `aud` out, as in a user pool's access token."""
        import jwt

        issued = int(time.time())
        payload = {"iss": self.url, "sub": sub, "aud": aud, "iat": issued, "exp": issued + lifetime, **claims}
        if aud is None:
            del payload["aud"]
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})})


@pytest.fixture
def issuer(rsa_key, home):
    """Stand up an OpenID Connect issuer and register its JWKS with the local service."""
    from cogid.local import register_issuer

    def make(url, client_ids=None):
        made = Issuer(url, rsa_key)
        register_issuer(url, made.jwks, client_ids, home=home)
        return made

    return make
