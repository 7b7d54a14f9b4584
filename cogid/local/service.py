"""The local service: one store, its keys, and the AWS services built on them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cogid.local.iam.iam import IAM
from cogid.local.iam.sts import STS
from cogid.local.identity.federation import Federation
from cogid.local.identity.model import CognitoIdentity
from cogid.local.signing import KeyRing
from cogid.local.store import Store
from cogid.local.sync.model import CognitoSync

STORE_FILE = "local.sqlite3"


class Service:
    def __init__(
        self,
        path: Path | str,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] | None = None,
        fetch: Callable[[str], dict[str, Any]] | None = None,
        store_timeout: float | None = None,
    ):
        """`store_timeout`: seconds a wait for the store lasts at most (StoreBusy after); None
        for COGID_STORE_TIMEOUT's, else 10."""
        self.store = Store(path, timeout=store_timeout)
        self.clock = clock
        self.keys = KeyRing(self.store, "cognito", clock)
        self.federation = Federation(self.store, KeyRing(self.store, "test-idp", clock), clock, fetch)
        self.iam = IAM(self.store, clock)
        self.sts = STS(self.store, self.iam, self.keys, clock)
        extra = {"new_id": new_id} if new_id else {}
        self.cognito = CognitoIdentity(self.store, self.keys, self.federation, self.sts, clock, **extra)
        self.sync = CognitoSync(self.store, clock)
        self.cognito.merge_listeners.append(self.sync.identity_merged)

    def jwks(self) -> dict[str, Any]:
        return self.keys.jwks()


_services: dict[Path, Service] = {}
_lock = threading.Lock()


def _store_path(home: Path | str) -> Path:
    return Path(home).resolve() / STORE_FILE  # the file itself never resolved: a link there is refused


def open_service(home: Path) -> Service:
    """The service stored under `home`, shared by every client of this process."""
    path = _store_path(home)
    with _lock:
        if path not in _services:
            _services[path] = Service(path)
        return _services[path]


def share(service: Service, home: Path) -> None:
    """Make `service`, opened on the store under `home` with settings of its own (a test
    backend's clock), the one open_service(home) gives in this process: cogid.local's functions
    given that home (register_sync_trigger, sync_outbox...) then act on it."""
    with _lock:
        _services[_store_path(home)] = service


def unshare(home: Path) -> None:
    """Forget the service shared for `home` (its owner closes it)."""
    with _lock:
        _services.pop(_store_path(home), None)


def close_services() -> None:
    """Close and forget every service this process opened (their next use opens them anew)."""
    with _lock:
        for service in _services.values():
            service.store.close()
        _services.clear()
