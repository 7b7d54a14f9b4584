"""Multi-step flows the commands share: pools with roles, tokens, links, credentials.

Everything here works on boto3 clients handed in (or made from a profile), so the same code
runs against AWS, a `cogid serve` endpoint or the embedded service.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import signal
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cogid import clients, output
from cogid.config import Profile, check_pool_region, data_dir, write_private
from cogid.errors import CogidError, ConfigError, Conflict, Denied, NotFound, UsageError, from_exception

COGNITO_KEY = "cognito-identity.amazonaws.com"
# Short names for the public providers' Logins keys.
PROVIDERS = {
    "facebook": "graph.facebook.com",
    "google": "accounts.google.com",
    "amazon": "www.amazon.com",
    "apple": "appleid.apple.com",
    "twitter": "api.twitter.com",
}
CACHE_MARGIN = 300  # cached credentials are renewed this many seconds before they expire


def pool_id(profile: Profile) -> str:
    if not profile.identity_pool_id:
        raise ConfigError(
            f"profile {profile.name!r} has no identity pool: pass --pool, set COGID_IDENTITY_POOL_ID,"
            " or create one with `cogid pool create NAME --use`"
        )
    check_pool_region(profile.identity_pool_id, profile.region)
    return profile.identity_pool_id


def developer_provider(profile: Profile, cognito: Any) -> str:
    """The pool's developer provider name: from the profile, else asked of the pool."""
    if profile.developer_provider:
        return profile.developer_provider
    name = cognito.describe_identity_pool(IdentityPoolId=pool_id(profile)).get("DeveloperProviderName")
    if not name:
        raise ConfigError(
            f"identity pool {pool_id(profile)} has no developer provider: set one with `cogid provider set NAME`"
        )
    return str(name)


def login_key(name: str) -> str:
    """The Logins key for a provider given by short name (facebook) or by key."""
    return PROVIDERS.get(name.lower(), name)


# -- roles -----------------------------------------------------------------------------------


def trust_policy(identity_pool_id: str, kind: str) -> str:
    """The console's standard trust policy for a pool's authenticated or unauthenticated role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": COGNITO_KEY},
                    # TagSession as the console adds it for attributes for access control, so tokens
                    # issued with principal tags (`token issue --tag`) can be exchanged too.
                    "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                    "Condition": {
                        "StringEquals": {f"{COGNITO_KEY}:aud": identity_pool_id},
                        "ForAnyValue:StringLike": {f"{COGNITO_KEY}:amr": kind},
                    },
                }
            ],
        }
    )


ROLE_TAG = "cogid:identity-pool"  # on the roles cogid makes for a pool: the pool's id


def delete_pool(cognito: Any, iam: Any | None, identity_pool_id: str) -> tuple[list[str], list[str]]:
    """DeleteIdentityPool; with `iam`, then the pool's roles that cogid made for it (tagged
    ROLE_TAG with its id): the names of the roles deleted, and of those kept (made otherwise)."""
    from botocore.exceptions import ClientError

    arns = cognito.get_identity_pool_roles(IdentityPoolId=identity_pool_id).get("Roles", {}).values() if iam else []
    cognito.delete_identity_pool(IdentityPoolId=identity_pool_id)
    deleted, kept = [], []
    for name in dict.fromkeys(arn.rpartition("/")[2] for arn in arns):
        try:
            tags = iam.get_role(RoleName=name)["Role"].get("Tags", [])  # type: ignore[union-attr]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            continue  # gone already
        if {"Key": ROLE_TAG, "Value": identity_pool_id} in tags:
            iam.delete_role(RoleName=name)  # type: ignore[union-attr]
            deleted.append(name)
        else:
            kept.append(name)
    return deleted, kept


def create_roles(
    iam: Any, pool_name: str, identity_pool_id: str, guests: bool, made: list[str] | None = None
) -> dict[str, str]:
    """Create the pool's roles as the console does (Cognito_<name>Auth_Role ...); returns Roles.
    The names of the roles created are appended to `made` as they are created."""
    suffix = identity_pool_id.rpartition(":")[2][:8]
    # IAM role names are at most 64 characters: "Cognito_" + base + "Unauth_Role_" + 8.
    base = re.sub(r"[^\w+=,.@-]", "", pool_name)[: 64 - 28] or "pool"
    roles = {}
    for kind, word in (("authenticated", "Auth"), ("unauthenticated", "Unauth")):
        if kind == "unauthenticated" and not guests:
            continue
        made_role = iam.create_role(
            RoleName=f"Cognito_{base}{word}_Role_{suffix}",
            AssumeRolePolicyDocument=trust_policy(identity_pool_id, kind),
            Description=f"Cognito identity pool {identity_pool_id} ({kind})",
            Tags=[{"Key": ROLE_TAG, "Value": identity_pool_id}],  # what `pool delete --delete-roles` deletes
        )["Role"]
        if made is not None:
            made.append(made_role["RoleName"])
        roles[kind] = made_role["Arn"]
    return roles


def answer(response: dict[str, Any]) -> dict[str, Any]:
    """What an operation answered: a boto3 response without its ResponseMetadata."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def pool_settings(cognito: Any, pool_id: str) -> dict[str, Any]:
    return answer(cognito.describe_identity_pool(IdentityPoolId=pool_id))


def update_pool(cognito: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """UpdateIdentityPool with `settings` (the whole pool: the call replaces it), empty ones left out."""
    request = {k: v for k, v in settings.items() if v not in ({}, [], None)}
    request.setdefault("AllowUnauthenticatedIdentities", False)
    return answer(cognito.update_identity_pool(**request))


def create_pool(
    cognito: Any, iam: Any, request: dict[str, Any], make_roles: bool, roles: dict[str, str | None] | None = None
) -> dict[str, Any]:
    """CreateIdentityPool, then its roles (made as the console does, or the ARNs given) set on
    it. Should anything after the pool fail, the pool and the roles made so far are deleted, so
    that a retry starts clean (a developer provider name can be in one pool only)."""
    pool = answer(cognito.create_identity_pool(**request))
    made: list[str] = []
    try:
        if make_roles:
            roles = {}
            roles.update(
                create_roles(
                    iam,
                    request["IdentityPoolName"],
                    pool["IdentityPoolId"],
                    request["AllowUnauthenticatedIdentities"],
                    made,
                )
            )
        chosen = {kind: arn for kind, arn in (roles or {}).items() if arn}
        if chosen:
            cognito.set_identity_pool_roles(IdentityPoolId=pool["IdentityPoolId"], Roles=chosen)
    except BaseException:
        for name in made:
            iam.delete_role(RoleName=name)
        cognito.delete_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
        raise
    pool["Roles"] = chosen
    return pool


# -- tokens ----------------------------------------------------------------------------------


def issue_token(
    profile: Profile,
    cognito: Any,
    user: str,
    *,
    duration: int | None = None,
    links: dict[str, str] | None = None,
    identity_id: str | None = None,
    provider: str | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """GetOpenIdTokenForDeveloperIdentity for `user`: {IdentityId, Token}."""
    request: dict[str, Any] = {
        "IdentityPoolId": pool_id(profile),
        "Logins": {provider or developer_provider(profile, cognito): user, **(links or {})},
    }
    if duration is not None:
        request["TokenDuration"] = duration
    if identity_id is not None:  # an empty one is the service's to refuse, not to ignore
        request["IdentityId"] = identity_id
    if tags:
        request["PrincipalTags"] = tags
    response = cognito.get_open_id_token_for_developer_identity(**request)
    return {"IdentityId": response["IdentityId"], "Token": response["Token"]}


def issue_linking(
    profile: Profile,
    cognito: Any,
    user: str,
    links: dict[str, str],
    allow_merge: bool,
    ask: Callable[[str], bool] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """issue_token for `user` with `links` (Logins to link), which never merges two identities
    unless `allow_merge`. Cognito merges without a word when a login presented belongs to
    another identity: each login's owner is asked for first (GetId with that login alone), and a
    merge refused (exit 2) naming both identities. An identity GetId makes for a login nobody
    had is deleted again, and the login then linked as if it had not been asked about. Without
    `allow_merge`, `ask` (a terminal's yes/no question), if given, decides instead. Merges that
    happen anyway (allowed, or raced) are said on stderr: which identity went into which."""
    from botocore.exceptions import ClientError

    where = pool_id(profile)
    try:
        mine: str | None = identity_of_user(cognito, where, user)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        mine = None
    device = clients.unsigned_client(profile, "cognito-identity")
    others: dict[str, str] = {}  # identity -> what it is, for each other identity a login belongs to
    for key, token in links.items():
        started = time.time()
        owner = str(device.get_id(IdentityPoolId=where, Logins={key: token})["IdentityId"])
        if clients.is_stand_in(owner):  # a dry run: GetId, which makes an identity if nobody has the login, not made
            then = "merges" if allow_merge else "asks before merging" if ask is not None else "refuses to merge"
            output.dry_note(
                f"whether the {key} login belongs to another identity is not known (GetId would ask);"
                f" if it does, the real run {then}" + ("" if allow_merge else " unless --allow-merge")
            )
            continue
        if owner == mine or owner in others:  # linked already
            continue
        described = cognito.describe_identity(IdentityId=owner)
        users = developer_users(cognito, where, owner)
        made = described["CreationDate"].timestamp()
        if not users and described.get("Logins") == [key] and started - 5 <= made <= time.time() + 5:
            cognito.delete_identities(IdentityIdsToDelete=[owner])  # made by GetId just now: nobody's yet
            continue
        others[owner] = (
            f"identity {owner} (developer user {', '.join(map(repr, users))})"
            if users
            else f"identity {owner} (logins {', '.join(described.get('Logins', []))})"
        )
    refusal = None
    if others and mine is None:
        joined = [text for text in others.values() if "developer user" in text]
        if joined:
            refusal = (
                f"the login given belongs to {joined[0]}: linking it would make {user!r} a user of that identity too",
                "pass --allow-merge to do so",
            )
    elif others:
        refusal = (
            f"the login given belongs to {next(iter(others.values()))}: linking it to {user!r}'s identity {mine}"
            " would merge the two",
            "pass --allow-merge to merge them",
        )
    if refusal is not None and not allow_merge and not (ask is not None and ask(f"{refusal[0]}. Go on?")):
        raise UsageError("; ".join(refusal))
    issued = issue_token(profile, cognito, user, links=links, **options)
    survivor = issued["IdentityId"]
    for gone in [*([mine] if mine else []), *others]:
        if gone != survivor and not clients.is_stand_in(survivor):
            output.message(f"merged: identity {gone} went into {survivor}")
    return issued


def developer_users(cognito: Any, identity_pool_id: str, identity_id: str) -> list[str]:
    """An identity's developer user ids (LookupDeveloperIdentity, every page)."""
    from cogid.local.sdk.paging import paginate

    pages = paginate(cognito, "LookupDeveloperIdentity", IdentityPoolId=identity_pool_id, IdentityId=identity_id)
    return [user for page in pages for user in page.get("DeveloperUserIdentifierList", [])]


_worker: dict[str, Any] = {}


def _start_worker(profile: Profile, provider: str, duration: int | None, tags: dict[str, str] | None) -> None:
    _worker.update(
        profile=profile,
        provider=provider,
        duration=duration,
        tags=tags,
        client=clients.client(profile, "cognito-identity"),
        # The embedded service's bulk call (cogid.local.developer_tokens, see _issue_together),
        # once a call has shown the pool, provider, tags and duration good; a dry run's calls go
        # through its client.
        bulk=clients.in_process(profile) and not output.dry_running(),
        checked=False,
    )


def _start_process(parent: int, lifeline: tuple[int, int], *arguments: Any) -> None:
    # Ctrl-C reaches the whole process group: the parent stops the workers, quietly. SIGTERM
    # ends a worker at once, as before the parent's handler (see issue_many) was copied by fork.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Results go back through the pool's queues, never to stdout: a worker left holding the
    # pipeline's stdout would keep its reader from seeing EOF once the parent is gone.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    _die_with_parent(parent, lifeline)
    _start_worker(*arguments)


def _die_with_parent(parent: int, lifeline: tuple[int, int]) -> None:
    """End this worker as soon as its parent ends, however it ended (SIGKILL included): on
    Linux the kernel sends SIGKILL; everywhere, a thread waits for EOF on the read end of the
    `lifeline` pipe, whose write end only the parent holds. Whatever a worker was writing to
    the store is one SQLite transaction, kept whole or not at all."""
    import sys

    reader, writer = lifeline
    os.close(writer)  # copied by fork: only the parent may hold it
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG; on failure the thread still watches
    if os.getppid() != parent:  # the parent died before the kernel was told
        os._exit(1)

    def watch() -> None:
        with contextlib.suppress(OSError):
            os.read(reader, 1)  # nothing is ever written: this returns when the parent is gone
        os._exit(1)

    threading.Thread(target=watch, name="cogid-lifeline", daemon=True).start()


Issued = tuple[str, str | CogidError]  # a user and its JSON line (User, IdentityId, Token), or its error


def _issue_batch(users: list[str]) -> list[Issued]:
    """The users' results in order. In a worker of the embedded service, once one call has
    succeeded, a batch is one bulk call (_issue_together); each user it does not answer, and
    every user before that, is a call of its own."""
    results: list[Issued] = []
    rest = list(users)
    while rest and not _worker["checked"]:
        results.append(_issue_for(rest.pop(0)))
        _worker["checked"] = _worker["bulk"] and isinstance(results[-1][1], str)
    if rest:
        results += _issue_together(rest)
    return results


def _issue_together(users: list[str]) -> list[Issued]:
    """GetOpenIdTokenForDeveloperIdentity for each user, through the embedded service's bulk
    call (cogid.local.developer_tokens: the same answers, the batch's new users made in one
    transaction) for the user ids its wire format takes as they are (1 to 1,024 characters;
    for another, or anything the bulk call refuses, the user's own call says what is wrong)."""
    import cogid.local
    from cogid.local.identity.model import MAX_DEVELOPER_USER

    profile = _worker["profile"]
    fast = [i for i, user in enumerate(users) if 0 < len(user) <= MAX_DEVELOPER_USER]
    try:
        answers = cogid.local.developer_tokens(
            pool_id(profile),
            _worker["provider"],
            [users[i] for i in fast],
            _worker["tags"] or None,
            _worker["duration"],
            region=profile.region,
            home=data_dir(),
        )
    except Exception:  # nothing of the batch stored: each user's own call reports it
        answers = [None] * len(fast)
    found = dict(zip(fast, answers, strict=True))
    results: list[Issued] = []
    for i, user in enumerate(users):
        answer = found.get(i)
        results.append(_issue_for(user) if answer is None else (user, _line(user, answer)))
    return results


def _line(user: str, issued: dict[str, Any]) -> str:
    return output.jsonl_lines([{"User": user, "IdentityId": issued["IdentityId"], "Token": issued["Token"]}])


def _issue_for(user: str) -> Issued:
    try:
        issued = issue_token(
            _worker["profile"],
            _worker["client"],
            user,
            duration=_worker["duration"],
            provider=_worker["provider"],
            tags=_worker["tags"],
        )
    except Exception as error:
        known = from_exception(error)
        if known is None:
            raise
        return user, known
    return user, _line(user, issued)


def issue_many(
    profile: Profile, users: Iterable[str], duration: int | None = None, tags: dict[str, str] | None = None
) -> Generator[list[Issued], None, None]:
    """Tokens for many users, in input order, a batch of users' results as soon as it is
    issued: each user's JSON line ({"User", "IdentityId", "Token"}, made where it was issued),
    or the user's error instead of stopping the rest.

    The embedded service signs in worker processes, one per core (RS512 signing is CPU-bound);
    a remote endpoint is called from threads (its cost is the network). SIGTERM raises
    Terminated here, after the workers are stopped; a worker ends with its parent, however the
    parent ended. Close the generator to stop them at once.
    """
    from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    provider = developer_provider(profile, clients.client(profile, "cognito-identity"))
    arguments = (profile, provider, duration, tags)
    executor: Executor
    # A dry run plans its calls in this process (workers could not write them out).
    threaded = not clients.in_process(profile) or output.dry_running()
    lifeline: tuple[int, int] | None = None
    with _terminated_on_sigterm():
        if threaded:  # no round trip to a worker to amortise: each user a call of its own, 8 at a time
            workers, batch = 8, 1
            executor = ThreadPoolExecutor(workers, initializer=_start_worker, initargs=arguments)
        else:
            workers, batch = os.cpu_count() or 1, BATCH
            lifeline = os.pipe()  # its write end, held by this process alone, keeps the workers alive
            initargs = (os.getpid(), lifeline, *arguments)
            executor = ProcessPoolExecutor(workers, get_context("fork"), _start_process, initargs)
        try:
            if not threaded:
                executor.submit(int).result()  # forks every worker now, before the input thread starts
            yield from _in_order(executor, _ReadAhead(users, batch), in_flight_limit=2 * workers)
        except BrokenProcessPool:
            raise CogidError("a worker process stopped unexpectedly (killed, or out of memory?)") from None
        finally:
            # Worker processes finish their batch in milliseconds (even on Ctrl-C or SIGTERM) and
            # are waited for: not waiting races the pool's thread at exit on Python 3.11, which
            # closes its wake-up pipe while the exit hook writes to it ("Exception ignored ... Bad
            # file descriptor"). A thread may sit in a call to an endpoint until its timeout: it
            # is not waited for here (after Ctrl-C or SIGTERM the CLI leaves such threads at exit).
            executor.shutdown(wait=not threaded, cancel_futures=True)
            for end in lifeline or ():
                os.close(end)


class Terminated(BaseException):
    """SIGTERM came while tokens were being issued: raised on the main thread, as Ctrl-C raises
    KeyboardInterrupt, so the workers are stopped and waited for before cogid exits."""


@contextlib.contextmanager
def _terminated_on_sigterm() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals (and SIGTERM then ends the process)
        return

    def terminated(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)  # None: not Python's


BATCH = 64  # users sent to a worker at once when the input has them ready
POLL = 0.02  # seconds between looks at the input and at the results, while both are pending


def _in_order(executor: Any, ahead: _ReadAhead, in_flight_limit: int) -> Iterator[list[Issued]]:
    """Send batches of the users the input has ready, a few per worker at a time, and give back
    the results in input order as they come. Only this thread waits: on the input or on the
    oldest batch, never long on one while the other has something."""
    from concurrent.futures import wait

    in_flight: deque[Any] = deque()
    while not ahead.ended or in_flight:
        if not ahead.ended and len(in_flight) < in_flight_limit:
            batch = ahead.take(wait=POLL if in_flight else None)
            if batch:
                in_flight.append(executor.submit(_issue_batch, batch))
        else:
            wait([in_flight[0]], timeout=POLL)
        while in_flight and in_flight[0].done():
            yield in_flight.popleft().result()
    if ahead.error is not None:
        raise ahead.error


class _ReadAhead:
    """The items of an iterable, read on a thread of their own (input may come slowly), taken
    in batches of what has come: a file goes in full batches (fewer round trips to the
    workers), a slow pipe line by line (each token as soon as its line is in)."""

    _END = object()

    def __init__(self, items: Iterable[Any], batch: int = BATCH):
        self.batch = batch
        self._ready: queue.Queue[Any] = queue.Queue(maxsize=4 * BATCH)
        self.ended = False
        self.error: BaseException | None = None
        threading.Thread(target=self._read, args=(items,), daemon=True).start()

    def _read(self, items: Iterable[Any]) -> None:
        try:
            for item in items:
                self._ready.put(item)
        except BaseException as error:  # raised again on the taking thread, after the results
            self._ready.put(error)
        self._ready.put(self._END)

    def take(self, wait: float | None) -> list[Any]:
        """Up to `batch` items, waiting at most `wait` seconds (None: for good) for the first."""
        batch: list[Any] = []
        try:
            item = self._ready.get(timeout=wait)
            while True:
                if item is self._END or isinstance(item, BaseException):
                    self.ended = True
                    self.error = item if isinstance(item, BaseException) else None
                    break
                batch.append(item)
                if len(batch) == self.batch:
                    break
                item = self._ready.get_nowait()
        except queue.Empty:
            pass
        return batch


# -- credentials -----------------------------------------------------------------------------


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def credential_process(credentials: dict[str, Any]) -> dict[str, Any]:
    """The `credential_process` version 1 object (what -o json prints for `cogid creds`)."""
    expiration = datetime.fromtimestamp(_epoch(credentials["Expiration"]), UTC)
    return {
        "Version": 1,
        "AccessKeyId": credentials["AccessKeyId"],
        "SecretAccessKey": credentials.get("SecretAccessKey") or credentials["SecretKey"],
        "SessionToken": credentials["SessionToken"],
        "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def exchange(
    profile: Profile,
    user: str | None,
    *,
    identity_id: str | None = None,
    flow: str = "enhanced",
    role_arn: str | None = None,
    duration: int | None = None,
    session_name: str | None = None,
) -> dict[str, Any]:
    """Temporary credentials (credential_process shape plus IdentityId): for developer user
    `user`, its token exchanged; for a guest (`user` None), those of guest `identity_id`, or of
    a new guest (GetId) if that is None too. The enhanced flow asks GetCredentialsForIdentity;
    the basic flow AssumeRoleWithWebIdentity with the token (a guest's from GetOpenIdToken) for
    `role_arn`, by default the pool's authenticated (or unauthenticated) role."""
    if flow == "enhanced" and duration is not None:
        raise UsageError("--duration applies to --flow basic only: the enhanced flow always gives one hour")
    if flow == "enhanced" and role_arn is not None:
        # Spec Q27: with a developer token the enhanced flow gives the pool's authenticated role.
        raise UsageError("--role-arn applies to --flow basic only: the enhanced flow gives the pool's role")
    if role_arn is not None and not role_arn.startswith("arn:"):
        raise UsageError(f"--role-arn {role_arn[:40]!r}: expected an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    cognito = clients.client(profile, "cognito-identity")
    device = clients.unsigned_client(profile, "cognito-identity")
    if user is not None:
        issued = issue_token(profile, cognito, user)
        identity_id, logins = issued["IdentityId"], {COGNITO_KEY: issued["Token"]}
    else:
        if identity_id is None:
            identity_id = str(device.get_id(IdentityPoolId=pool_id(profile))["IdentityId"])
        logins = {}
    if flow == "enhanced":
        credentials = device.get_credentials_for_identity(
            IdentityId=identity_id, **({"Logins": logins} if logins else {})
        )["Credentials"]
        return {**credential_process(credentials), "IdentityId": identity_id}
    kind = "authenticated" if user is not None else "unauthenticated"
    token = logins.get(COGNITO_KEY) or device.get_open_id_token(IdentityId=identity_id)["Token"]
    role = role_arn or cognito.get_identity_pool_roles(IdentityPoolId=pool_id(profile))["Roles"].get(kind)
    if not role:
        raise ConfigError(f"identity pool {pool_id(profile)} has no {kind} role: pass --role-arn")
    credentials = clients.unsigned_client(profile, "sts").assume_role_with_web_identity(
        RoleArn=role,
        RoleSessionName=session_name or _session_name(identity_id),
        WebIdentityToken=token,
        **({"DurationSeconds": duration} if duration else {}),
    )["Credentials"]
    return {**credential_process(credentials), "IdentityId": identity_id}


def _session_name(identity_id: str) -> str:
    # RoleSessionName allows [\w+=,.@-]: the identity id without its region prefix's colon.
    return identity_id.replace(":", "@")[:64]


def cached_exchange(profile: Profile, user: str | None, **options: Any) -> dict[str, Any]:
    """`exchange`, reusing credentials cached (0600) until shortly before they expire. A new
    guest (no user, no identity_id) is made once: later calls renew that guest's credentials,
    as its device would, while the identity exists."""
    key = json.dumps(
        [
            profile.backend,
            profile.region,
            profile.endpoint_url,
            profile.aws_profile,
            profile.identity_pool_id,
            user,
            sorted(options.items()),
        ]
    )
    path = data_dir() / "cache" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")
    cached = _cached_credentials(path, expired_too=user is None and options.get("identity_id") is None)
    if cached is not None and _still_theirs(profile, user, cached["IdentityId"]):
        if _fresh(cached):
            return cached
        options["identity_id"] = cached["IdentityId"]  # the guest made before: renewed
    fresh = exchange(profile, user, **options)
    with contextlib.suppress(OSError):  # the cache only saves time: uncached credentials are still good
        write_private(path, json.dumps(fresh).encode())
    return fresh


def _fresh(credentials: dict[str, Any]) -> bool:
    expires = datetime.strptime(credentials["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return expires.timestamp() - CACHE_MARGIN > time.time()


def _cached_credentials(path: Path, expired_too: bool = False) -> dict[str, Any] | None:
    """The credentials cached at `path` if they are whole and good for a while yet (or at all,
    `expired_too`), in a file of ours that nobody else could have written (a regular file, not a
    link, owned by this user, not writable by group or others); anything else there is a cache
    miss, and is overwritten."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as file:
            status = os.fstat(file.fileno())
            trusted = stat.S_ISREG(status.st_mode) and status.st_uid == os.getuid() and not status.st_mode & 0o022
            if not trusted:
                return None
            cached = json.loads(file.read())
        fields = ("IdentityId", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
        if not all(isinstance(cached.get(name), str) and cached[name] for name in fields):
            return None
        fresh = _fresh(cached)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return dict(cached) if fresh or expired_too else None


def _still_theirs(profile: Profile, user: str | None, identity_id: str) -> bool:
    """On the local backend (in process or a `cogid serve`), are cached credentials still what a
    call would give: developer user `user`'s identity now, or, for a guest, an identity still
    without logins? Unlinking a user, deleting its identity or signing a guest in does not expire
    credentials given before, as STS would not on AWS; but a cache that answers for an identity
    the user no longer has, or that the service would now refuse, only misleads. On AWS: trusted
    (the check would cost as much as the calls the cache saves). Not seen here: a guest disabled
    after losing a login it had gained (DescribeIdentity does not say; see guest_enabled)."""
    if profile.backend != "local":
        return True
    from botocore.exceptions import ClientError

    cognito = clients.client(profile, "cognito-identity")
    try:
        if user is not None:
            return identity_of_user(cognito, pool_id(profile), user) == identity_id
        return not cognito.describe_identity(IdentityId=identity_id).get("Logins")
    except ClientError:  # the user or the identity is gone
        return False


def guest_enabled(profile: Profile, identity_id: str) -> bool:
    """Is an identity without logins a guest still in use (False: disabled, having lost its last
    login or a merge)? DescribeIdentity does not say: GetCredentialsForIdentity without logins
    does, refusing a disabled identity with "Access to Identity '...' is forbidden." (spec §1.2,
    E8) before anything else. A guest's credentials it may hand out are dropped."""
    from botocore.exceptions import ClientError

    try:
        clients.unsigned_client(profile, "cognito-identity").get_credentials_for_identity(IdentityId=identity_id)
    except ClientError as error:
        details = error.response.get("Error", {})
        return not (details.get("Code") == "NotAuthorizedException" and "forbidden" in details.get("Message", ""))
    return True


# -- Cognito Sync ----------------------------------------------------------------------------


def datasets(sync: Any, identity_pool_id: str, identity_id: str) -> Iterator[dict[str, Any]]:
    """An identity's Cognito Sync datasets (ListDatasets, every page)."""
    from cogid.local.sdk.paging import paginate

    for page in paginate(sync, "ListDatasets", IdentityPoolId=identity_pool_id, IdentityId=identity_id):
        yield from page.get("Datasets", [])


SYNC_ATTEMPTS = 3  # a forced write reads and writes again at most this many times in all
SHOWN = 40  # characters of a key or value quoted in a message


def identity_of_user(cognito: Any, identity_pool_id: str, user: str) -> str:
    """The identity id of developer user `user` (LookupDeveloperIdentity: not found, exit 4,
    when the user has none)."""
    found = cognito.lookup_developer_identity(IdentityPoolId=identity_pool_id, DeveloperUserIdentifier=user)
    return str(found["IdentityId"])


def identity_credentials(profile: Profile, identity_id: str, user: str | None = None) -> dict[str, Any]:
    """An identity's own temporary credentials (credential_process shape plus IdentityId), as
    its device holds them: a developer user's token exchanged (GetOpenIdTokenForDeveloperIdentity,
    then GetCredentialsForIdentity), else a guest's (GetCredentialsForIdentity with no logins)."""
    if user is not None:
        credentials = exchange(profile, user)
        if clients.is_stand_in(credentials["IdentityId"]):  # a dry run: its stand-in credentials, for this identity
            return {**credentials, "IdentityId": identity_id}
        if credentials["IdentityId"] != identity_id:  # the user moved between the lookup and the token
            raise CogidError(f"developer user {user!r} now has identity {credentials['IdentityId']}, not {identity_id}")
        return credentials
    from botocore.exceptions import ClientError

    try:
        return exchange(profile, None, identity_id=identity_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NotAuthorizedException":
            raise
        raise Denied(
            f"--as-identity with --identity-id works for guest identities only: {identity_id} needs its login"
            f" ({error.response['Error'].get('Message')}); give its developer user with --user instead"
        ) from None


def sync_records(sync: Any, identity_pool_id: str, identity_id: str, dataset: str) -> dict[str, Any]:
    """Every record of a dataset (removed ones too: no Value) as a device's first sync reads
    them: ListRecords from sync count 0, following NextToken within one sync session (by hand:
    each page must present the SyncSessionToken of the one before, which no paginator carries).
    The last page's answer, with all the Records, each key once (its newest), in key order."""
    request: dict[str, Any] = {
        "IdentityPoolId": identity_pool_id,
        "IdentityId": identity_id,
        "DatasetName": dataset,
        "LastSyncCount": 0,
    }
    records: dict[str, dict[str, Any]] = {}
    while True:
        page = answer(sync.list_records(**request))
        for record in page.get("Records", []):  # a record written meanwhile comes again, later
            known = records.get(record["Key"])
            if known is None or record.get("SyncCount", 0) >= known.get("SyncCount", 0):
                records[record["Key"]] = record
        token = page.pop("NextToken", None)
        if not token:
            break
        request.update(NextToken=token, SyncSessionToken=page["SyncSessionToken"])
    page["Records"] = [records[key] for key in sorted(records)]
    page["Count"] = len(page["Records"])
    return page


def _short(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def _state(key: str, record: dict[str, Any] | None) -> str:
    if record is None:
        return f"{_short(key)} has no record now"
    if "Value" not in record:
        return f"{_short(key)} is at sync count {record['SyncCount']}, removed"
    return f"{_short(key)} is at sync count {record['SyncCount']} with value {_short(record['Value'])!r}"


def sync_write(
    sync: Any,
    identity_pool_id: str,
    identity_id: str,
    dataset: str,
    changes: dict[str, str | None],
    *,
    verb: str,
    device_id: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Write `changes` ({key: new value, or None to remove}) as a device syncs: ListRecords for
    the session token and each key's sync count, then one UpdateRecords. The UpdateRecords answer.

    Removing a key that has no live record is not found (nothing is written). If someone else
    synced in between (ResourceConflictException), the records are read again and the error
    (exit 7) names each key that moved with its sync count and value now; with `force` they are
    written again at the fresh counts instead, up to SYNC_ATTEMPTS times in all.
    """
    from botocore.exceptions import ClientError

    where = {"IdentityPoolId": identity_pool_id, "IdentityId": identity_id, "DatasetName": dataset}
    for attempt in range(SYNC_ATTEMPTS):
        listed = sync_records(sync, identity_pool_id, identity_id, dataset)
        current = {record["Key"]: record for record in listed["Records"]}
        gone = [key for key, value in changes.items() if value is None and "Value" not in current.get(key, {})]
        if gone and attempt == 0:
            names = ", ".join(repr(_short(key)) for key in gone)
            raise NotFound(f"sync {verb}: no record {names} in dataset {dataset!r} of identity {identity_id}")
        now = datetime.now(UTC)
        patches: list[dict[str, Any]] = []
        for key, value in changes.items():
            if value is None and key in gone:  # removed meanwhile by someone else: done already
                continue
            patch = {"Op": "replace" if value is not None else "remove", "Key": key, "DeviceLastModifiedDate": now}
            patch["SyncCount"] = current.get(key, {}).get("SyncCount", 0)
            if value is not None:
                patch["Value"] = value
            patches.append(patch)
        if not patches:
            return {"Records": []}
        try:
            return answer(
                sync.update_records(
                    **where,
                    SyncSessionToken=listed["SyncSessionToken"],
                    RecordPatches=patches,
                    **({"DeviceId": device_id} if device_id is not None else {}),
                )
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceConflictException":
                raise
            if force and attempt + 1 < SYNC_ATTEMPTS:
                continue
            fresh = {r["Key"]: r for r in sync_records(sync, identity_pool_id, identity_id, dataset)["Records"]}
            moved = [p["Key"] for p in patches if fresh.get(p["Key"], {}).get("SyncCount", 0) != p["SyncCount"]]
            detail = ", ".join(_state(key, fresh.get(key)) for key in moved)
            detail = detail or error.response["Error"].get("Message") or "the records moved"
            hint = f"still moving after {SYNC_ATTEMPTS} attempts" if force else "--force overwrites"
            raise Conflict(f"sync {verb}: conflict: someone else synced first: {detail} ({hint})") from None
    raise AssertionError("unreachable")  # the last attempt returns or raises
