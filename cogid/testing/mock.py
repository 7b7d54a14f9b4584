"""`mock_cognito()`: every boto3/botocore client of Cognito Identity, Cognito Sync, STS and IAM in
this process served in-process by a fresh local backend, whenever and wherever it was made.

How: while a mock is active, `botocore.client.BaseClient._make_api_call` (the method every
client's operations call) hooks each client of those four services at its first call: two
handlers on that client's own events, `before-call.<service>` and `before-send.<service>`,
registered first and more specific than moto's catch-all `before-send`, so they answer before
anything else would reach the network. A client made at import time, before the mock, is
hooked the same way at its first call under the mock. The handlers ask which mock is active at
each call: after the last mock ends they pass every call on untouched, and the method is put
back. Clients of other services are never touched, so moto's `mock_aws` (or the network) serves
them, whichever mock was entered first.

Who calls: requests signed with a key or with temporary credentials the backend vended reach it
signed (as that key, or as that identity's device); any other request, signed with whatever
credentials the process has, or with none at all, is the account's own call, as the local
service takes unsigned requests. So no credentials are needed, and none are ever used.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit

from cogid.testing.backend import REGION, SERVICES, Backend

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.RLock()
_active: list[Backend] = []  # the mocks entered and not yet left; the last one serves
_original: Any = None  # BaseClient._make_api_call before the hook, while the hook is in place
MOTO_SUPPORTED = 5  # the oldest moto major version mock_cognito is built and tested beside


class MockConflict(RuntimeError):
    """mock_cognito cannot run beside what this process has loaded (an old moto)."""


def check_moto(what: str = "mock_cognito") -> None:
    """MockConflict if a moto older than MOTO_SUPPORTED is loaded in this process."""
    moto = sys.modules.get("moto")
    if moto is None:
        return
    version = str(getattr(moto, "__version__", ""))
    major = version.split(".")[0]
    if major.isdigit() and int(major) < MOTO_SUPPORTED:
        raise MockConflict(
            f"{what}: moto {version} is loaded, and cogid.testing works beside moto {MOTO_SUPPORTED} or later"
            f" (mock_aws): moto {version}'s per-service mocks are untested with it; upgrade moto"
            f" (pip install 'moto>={MOTO_SUPPORTED}')"
        )


def current_backend() -> Backend:
    """The backend of the innermost active mock_cognito (e.g. inside a decorated test)."""
    with _lock:
        if not _active:
            raise LookupError("no mock_cognito() is active")
        return _active[-1]


def _serving() -> Backend | None:
    return _active[-1] if _active else None


def _process_region() -> str:
    """The region boto3 clients of this process get by default (AWS_DEFAULT_REGION, else the
    profile's: botocore reads no AWS_REGION), else the backends' us-east-1."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        region = botocore.session.get_session().get_config_variable("region")
    except BotoCoreError:  # a profile named that does not exist: the clients will say so themselves
        region = None
    return str(region or REGION)


class MockCognito:
    """A context manager (`with mock_cognito() as backend:`), a decorator (`@mock_cognito()`, of
    a function, a coroutine function or a test class), or `start()`/`stop()` by hand."""

    def __init__(self) -> None:
        self.backend: Backend | None = None

    def start(self) -> Backend:
        """Enter: a fresh backend serves every client of the four services until stop()."""
        if self.backend is not None:
            raise RuntimeError("this mock_cognito() is already started")
        check_moto()
        backend = Backend("mock_cognito")
        backend.region = _process_region()  # where the code under test makes its pools' clients
        with _lock:
            _install()
            _active.append(backend)
        self.backend = backend
        return backend

    def stop(self) -> None:
        """Leave: the backend is closed and deleted; the mock entered before it (if any) serves again."""
        backend, self.backend = self.backend, None
        if backend is None:
            raise RuntimeError("stop() of a mock_cognito() that is not started")
        with _lock:
            _active.remove(backend)
            if not _active:
                _uninstall()
        backend.close()

    def __enter__(self) -> Backend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, target: F) -> F:
        """Decorate: each call (each test) runs under a mock of its own."""
        if inspect.isclass(target):
            return _decorate_class(target)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with MockCognito():
                    return await target(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(target)
        def run(*args: Any, **kwargs: Any) -> Any:
            with MockCognito():
                return target(*args, **kwargs)

        return run  # type: ignore[return-value]


@overload
def mock_cognito(target: None = None) -> MockCognito: ...


@overload
def mock_cognito(target: F) -> F: ...


def mock_cognito(target: F | None = None) -> MockCognito | F:
    """Serve every boto3/botocore client of cognito-identity, cognito-sync, sts and iam in this
    process from a fresh local backend (real RS512 tokens, AWS's rules), with no network and no
    credentials; other services pass through untouched (to moto's mock_aws, if it is active).

        with mock_cognito() as backend:       # backend: a cogid.testing.Backend
            app.sign_in("alice")

        @mock_cognito()                       # or @mock_cognito, as moto's @mock_aws
        def test_sign_in(): ...
    """
    return MockCognito() if target is None else MockCognito()(target)


def _decorate_class(cls: type) -> type:
    """unittest.TestCase: one mock from setUp to the test's last cleanup. Other classes: one
    mock around each test* method."""
    import unittest

    if issubclass(cls, unittest.TestCase):
        set_up = cls.setUp

        def setUp(self: Any) -> None:  # noqa: N802 (unittest's name)
            mock = MockCognito()
            mock.start()
            self.addCleanup(mock.stop)
            set_up(self)

        setattr(cls, "setUp", functools.wraps(set_up)(setUp))  # noqa: B010 (mypy: a method)
        return cls
    for name, value in list(vars(cls).items()):
        if name.startswith("test") and inspect.isfunction(value):
            setattr(cls, name, MockCognito()(value))
    return cls


# -- the hook ------------------------------------------------------------------------------------


# The method every botocore client call goes through (moto patches the same one); private, so
# botocore's stubs don't declare it.
_PATCHED = "_make_api_call"


def _install() -> None:
    """Put the hook on BaseClient._make_api_call (under _lock), if it is not there yet."""
    global _original
    if _original is not None:
        return
    from botocore.client import BaseClient

    original = getattr(BaseClient, _PATCHED)

    def _make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if _active and "_cogid_mock_seen" not in vars(client):
            _hook(client)
        return original(client, operation_name, api_params)

    _make_api_call._cogid_mock_original = original  # type: ignore[attr-defined]
    setattr(BaseClient, _PATCHED, _make_api_call)
    _original = original


def _uninstall() -> None:
    """Take the hook off (under _lock). If someone has wrapped the method since, their wrapper
    stays, and ours with it: with no mock active, ours passes every call through."""
    global _original
    if _original is None:
        return
    from botocore.client import BaseClient

    if getattr(getattr(BaseClient, _PATCHED), "_cogid_mock_original", None) is _original:
        setattr(BaseClient, _PATCHED, _original)
        _original = None


def _hook(client: Any) -> None:
    """Answer `client`'s calls from the active mock's backend, if it is a client of the four
    services that no cogid backend serves already."""
    vars(client)["_cogid_mock_seen"] = True
    service_id = client.meta.service_model.service_id.hyphenize()
    if service_id not in SERVICES:
        return
    host = urlsplit(client.meta.endpoint_url or "").hostname or ""
    if host.endswith(".cogid.invalid"):
        return  # an in-process client of a cogid backend (cogid.local.client, Backend.client)
    from botocore import UNSIGNED

    from cogid.local.transport.inprocess import parsed_reply

    region = client.meta.region_name
    unsigned_client = client.meta.config.signature_version is UNSIGNED

    def before_call(model: Any, params: dict[str, Any], request_signer: Any, context: dict[str, Any], **_: Any) -> Any:
        backend = _serving()
        if backend is None:
            return None  # no mock active: on to the network (or moto)
        unsigned = unsigned_client or context.get("auth_type") == "none"
        if not unsigned and _knows(backend, _access_key(request_signer)):
            return None  # signed by a key the backend knows: answered signed, at before-send
        http = _answer(backend, region, params["method"], params["url"], params["headers"], params["body"])
        return http, parsed_reply(http, model)

    def before_send(request: Any, **_: Any) -> Any:
        backend = _serving()
        if backend is None:
            return None
        return _answer(backend, region, request.method, request.url, request.headers, request.body)

    client.meta.events.register_first(f"before-call.{service_id}", before_call, unique_id="cogid-mock-call")
    client.meta.events.register_first(f"before-send.{service_id}", before_send, unique_id="cogid-mock-send")


def _access_key(request_signer: Any) -> str | None:
    """The access key id the client signs with, read without refreshing credentials (which
    could reach the network): None when it has none."""
    credentials = getattr(request_signer, "_credentials", None)
    if credentials is None:
        return None
    attributes = vars(credentials)
    key = attributes.get("access_key") or attributes.get("_access_key")
    return str(key) if key else None


def _knows(backend: Backend, access_key: str | None) -> bool:
    return access_key is not None and backend.service.store.signer(access_key) is not None


def _answer(backend: Backend, region: str, method: str, url: str, headers: Any, body: Any) -> Any:
    """The backend's reply to one request, as botocore's HTTP layer would have returned it."""
    from cogid.local import protocol
    from cogid.local.transport.inprocess import botocore_response, request_of
    from cogid.local.wire.request import credential_scope

    request = request_of(region, method, url, headers, body)
    lowered = request.headers
    scope = credential_scope(lowered)
    if scope is not None and not _knows(backend, scope[0]):
        # Signed with credentials the backend never issued (the process's own, moto's fake
        # ones): the account's call, as an unsigned one is.
        for name in ("authorization", "x-amz-security-token", "x-amz-date", "x-amz-content-sha256"):
            lowered.pop(name, None)
    return botocore_response(url, protocol.handle(backend.service, request))
