"""This process's signing keys, made once: a template store that every test backend copies.

RSA-2048 key generation costs tens of milliseconds (two keys: Cognito's and the test identity
provider's), far more than a test's whole backend; so the keys are made once per process (one
pytest session), in a store holding the schema and nothing else, and each backend starts as a
copy of that file (~1 ms). Every backend of the session, and its `cogid serve`, therefore
publishes the same JWKS: `cogid.testing.jwks()`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_template: Path | None = None
_jwks: dict[str, Any] | None = None


class SetupError(RuntimeError):
    """A test backend, or the test server, could not be set up; the message names the cause."""


def temporary_directory(what: str) -> Path:
    """A new private directory under the temporary directory, or SetupError naming the cause."""
    try:
        return Path(tempfile.mkdtemp(prefix="cogid-test-"))
    except OSError as error:
        where = tempfile.tempdir or os.environ.get("TMPDIR") or "the temporary directory"
        raise SetupError(
            f"{what}: no writable temporary directory ({where}: {error.strerror or error});"
            " set TMPDIR to a directory this user can write to"
        ) from None


def template(what: str = "cogid.testing") -> Path:
    """The template store (schema and this process's keys), made on first use; `what` names
    the caller in a SetupError."""
    global _template, _jwks
    with _lock:
        if _template is not None and _template.exists():
            return _template
        from cogid.local.service import STORE_FILE, Service

        directory = temporary_directory(what)
        path = directory / STORE_FILE
        service = Service(path)
        _jwks = service.jwks()  # makes Cognito's key
        service.federation.mint("facebook", "key", "key")  # makes the test identity provider's key
        service.store.close()  # the last connection: the WAL is checkpointed into the file and removed
        atexit.register(_remove, directory, os.getpid())
        _template = path
        return path


def _remove(directory: Path, owner: int) -> None:
    """At exit, by the process that made it only: a forked child exiting must not take its
    parent's template along."""
    if os.getpid() == owner:
        shutil.rmtree(directory, ignore_errors=True)


def jwks() -> dict[str, Any]:
    """The JWKS that verifies every token the test backends of this process sign."""
    template()
    assert _jwks is not None
    return _jwks


def copy_template(directory: Path, what: str) -> Path:
    """A new store in `directory`, a copy of the template; SetupError if it cannot be written."""
    from cogid.local.service import STORE_FILE

    source = template(what)
    target = directory / STORE_FILE
    try:
        # Private from the start, as cogid creates its stores (a looser one draws a warning).
        with open(source, "rb") as old, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as new:
            shutil.copyfileobj(old, new)
    except OSError as error:
        raise SetupError(f"{what}: cannot write its store {target}: {error.strerror or error}") from None
    return target
