"""One `cogid serve` for a test session: started on a free port with a developer key, its store
emptied between tests (the signing keys and that key stay)."""

from __future__ import annotations

import contextlib
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cogid.testing._keys import SetupError, copy_template, temporary_directory
from cogid.testing.backend import REGION, SERVICES, Helpers, inprocess_client, offline_fetch

if TYPE_CHECKING:
    from cogid.local.service import Service

START_TIMEOUT = 30.0  # seconds `cogid serve` gets to print its URL; then it is killed and the error says so
KEPT_TABLES = ("signing_keys", "access_keys")  # what a reset keeps (access_keys: the developer key only)


def _die_with_parent() -> Callable[[], None] | None:
    """What the child runs before exec so that it gets SIGTERM when the test process dies,
    however it dies (Linux's PR_SET_PDEATHSIG): no server outlives its session. Looked up here,
    in the parent: the child must not import anything between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server(Helpers):
    """`cogid serve` in a child process. `url`, `region`, `access_key_id`/`secret_access_key`
    (a developer key of the server), `client(service)` (boto3 over HTTP, signed with that key),
    `jwks_url`, `dashboard_url` (its dashboard, key included: open it while a test is paused),
    and the helpers of every backend (pool, social_token, decode, jwks)."""

    def __init__(
        self,
        home: Path,
        process: subprocess.Popen[str],
        url: str,
        log: Path,
        service: Service,
        key: dict[str, Any],
        dashboard_key: str,
    ):
        super().__init__()
        self.home, self.process, self.url, self.log = home, process, url, log
        self.region = REGION
        self.jwks_url = f"{url}/.well-known/jwks_uri"
        self.dashboard_url = f"{url}/_cogid/?key={dashboard_key}"
        # The server's store, opened in this process too: to mint test logins, check tokens, reset
        # it, read its outbox (also through cogid.local's functions given its home).
        from cogid.local.service import share

        self.service = service
        share(service, home)
        self.access_key_id: str = key["AccessKeyId"]
        self.secret_access_key: str = key["SecretAccessKey"]

    @classmethod
    def start(cls, port: int = 0, host: str = "127.0.0.1", what: str = "cogid_server") -> Server:
        """Start `cogid serve` on `port` (0: a free one), or SetupError naming why it did not start."""
        from cogid.local.service import Service

        home = temporary_directory(what)
        service = None
        try:
            service = Service(copy_template(home, what), fetch=offline_fetch)
            key = inprocess_client(service, "iam", REGION).create_access_key()["AccessKey"]
            dashboard_key = secrets.token_urlsafe(24)
            log = home / "serve.log"
            with open(log, "wb") as errors:
                process = subprocess.Popen(
                    [sys.executable, "-m", "cogid", "serve", "--host", host, "--port", str(port), "--workers", "1"]
                    + ["--quiet", "--unsigned-rate", "0"],  # no request log; no throttle carried between tests
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    env={**os.environ, "COGID_HOME": str(home), "COGID_DASHBOARD_KEY": dashboard_key},
                    # Its own process group, so that stop() ends gunicorn's master and workers at once.
                    start_new_session=True,
                    preexec_fn=_die_with_parent(),
                )
            url = _first_line(process, START_TIMEOUT)
            if not url.startswith("http"):
                _stop(process)
                why = log.read_text(errors="replace").strip().splitlines()
                detail = why[-1] if why else f"no URL within {START_TIMEOUT:g} s"
                raise SetupError(
                    f"{what}: `cogid serve --host {host} --port {port}` did not start: {detail}"
                    f" (exit code {process.returncode})"
                )
        except BaseException:
            if service is not None:
                service.store.close()
            shutil.rmtree(home, ignore_errors=True)
            raise
        return cls(home, process, url, log, service, key, dashboard_key)

    def client(self, service_name: str, region: str | None = None, **kwargs: Any) -> Any:
        """A boto3 client of the server over HTTP, signed with its developer key (or with the
        aws_access_key_id/aws_secret_access_key/aws_session_token given)."""
        if service_name not in SERVICES:
            raise ValueError(f"service_name must be one of {', '.join(SERVICES)}, not {service_name!r}")
        from botocore.config import Config

        if "aws_access_key_id" not in kwargs:
            kwargs.update(aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key)
        config = Config(retries={"total_max_attempts": 1}, proxies={})  # a local server: never through a proxy
        if "config" in kwargs:
            config = config.merge(kwargs.pop("config"))
        from cogid.local import boto3_session

        return boto3_session(region or self.region).client(service_name, endpoint_url=self.url, config=config, **kwargs)

    def reset(self) -> None:
        """Empty the store as the server's workers see it: every pool, identity, role, session,
        dataset and key, but the signing keys and the developer key. One transaction, queued with
        the server's writes."""
        if self.process.poll() is not None:
            raise SetupError(
                f"cogid_server: `cogid serve` has stopped (exit code {self.process.returncode}); see {self.log}"
            )
        self._pools.clear()
        self.service.store.empty(("signing_keys",), keep_key=self.access_key_id)

    def stop(self) -> None:
        """Stop the server and delete its directory (and so its store: nothing of it is kept,
        so its processes are killed rather than left to finish their requests, ~1 s)."""
        from cogid.local.service import unshare

        _stop(self.process)
        unshare(self.home)
        self.service.store.close()
        shutil.rmtree(self.home, ignore_errors=True)


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line `process` prints, or '' if it exits or stays silent for `timeout` seconds."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:  # not select(): the test process may hold >1024 fds
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(min(0.5, max(0.0, deadline - time.monotonic()))):
                return process.stdout.readline().strip()
            if process.poll() is not None:
                return ""
    return ""


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill the server's process group (gunicorn's master and its workers), and reap the master."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if process.stdout is not None:
        process.stdout.close()
