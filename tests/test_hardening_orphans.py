"""Issue 15, item 2: a bulk `token issue --users-from -` killed by SIGKILL or SIGTERM leaves no
worker process behind, its pipeline sees EOF, and running the same users again loses and
duplicates nothing (a developer user's identity is the same on every run).

Each test runs cogid as a real process (in a session of its own) and finds its workers in /proc."""

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds workers through /proc")

GONE_WITHIN = 2.0  # seconds: the workers' and the pipeline's deadline once the parent is dead


def _cogid(*args):
    return subprocess.Popen([sys.executable, "-m", "cogid", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def _children(pid):
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that has ended
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _started(pid):
    """The process's start time (telling it from a later process given the same pid), or None
    once it has exited (gone, or a zombie no one has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields[19]


class _Out:
    """The child's stdout, read without blocking: complete lines, and EOF with a deadline."""

    def __init__(self, process):
        self.fd = process.stdout.fileno()
        self.data = b""
        self.eof = False

    def _read(self, timeout):
        if select.select([self.fd], [], [], max(timeout, 0))[0]:
            chunk = os.read(self.fd, 1 << 16)
            self.data += chunk
            self.eof = not chunk

    def lines(self, count, timeout=20):
        deadline = time.monotonic() + timeout
        while self.data.count(b"\n") < count and not self.eof and time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        assert self.data.count(b"\n") >= count, f"{count} lines expected in time, got {self.data!r}"
        return [json.loads(line) for line in self.data.splitlines()[:count]]

    def until_eof(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        return self.eof


def _kill(process, how):
    if how == "group-SIGTERM":  # as a service manager or `kill -- -PGID` does
        os.killpg(process.pid, signal.SIGTERM)
    else:
        os.kill(process.pid, getattr(signal, how))  # the parent alone


def _assert_gone_in_time(workers, out):
    deadline = time.monotonic() + GONE_WITHIN
    while any(_started(pid) == started for pid, started in workers.items()) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = [pid for pid, started in workers.items() if _started(pid) == started]
    assert not left, f"worker processes {left} outlived their parent by {GONE_WITHIN} s"
    assert out.until_eof(max(deadline - time.monotonic(), 0.1)), "stdout never reached EOF"


def _clean_up(process, workers):
    for pid, started in workers.items():
        if _started(pid) == started:
            os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
    for stream in (process.stdin, process.stdout, process.stderr):
        with contextlib.suppress(OSError):
            stream.close()
    process.wait(5)


def _issued_again(users):
    again = _cogid("token", "issue", "--users-from", "-")
    out, err = again.communicate(b"".join(user.encode() + b"\n" for user in users), timeout=60)
    assert again.returncode == 0, err
    return {line["User"]: line["IdentityId"] for line in map(json.loads, out.splitlines())}


def _identity_count(cognito, pool):
    count, token = 0, None
    while True:
        page = cognito.list_identities(IdentityPoolId=pool, MaxResults=60, **({"NextToken": token} if token else {}))
        count += len(page["Identities"])
        token = page.get("NextToken")
        if not token:
            return count


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_killing_the_parent_while_input_waits_leaves_no_worker_and_ends_the_pipeline(cli_pool, how):
    child = _cogid("token", "issue", "--users-from", "-")
    out = _Out(child)
    workers = {}
    try:
        printed = []
        for n, user in enumerate(["alice", "bob"], 1):  # slowly: a line, its token, the next line
            child.stdin.write(user.encode() + b"\n")
            child.stdin.flush()
            printed = out.lines(n)
        workers = {pid: _started(pid) for pid in _children(child.pid)}
        assert workers, "no worker process found"
        _kill(child, how)  # stdin stays open: more input could still come
        _assert_gone_in_time(workers, out)
        code = child.wait(5)
        if how == "SIGTERM":
            assert (code, child.stderr.read()) == (128 + signal.SIGTERM, b"")
        assert [line["User"] for line in printed] == ["alice", "bob"]
    finally:
        _clean_up(child, workers)
    assert _issued_again(["alice", "bob"]) == {line["User"]: line["IdentityId"] for line in printed}


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "group-SIGTERM"])
def test_killing_a_busy_run_loses_and_duplicates_nothing_when_it_is_run_again(cli_pool, cognito, how):
    users = [f"user{n:04d}" for n in range(600)]
    child = _cogid("token", "issue", "--users-from", "-")
    out = _Out(child)
    workers = {}
    try:
        child.stdin.write(b"".join(user.encode() + b"\n" for user in users))
        child.stdin.flush()  # and stays open
        out.lines(3)  # the workers are busy with the rest
        workers = {pid: _started(pid) for pid in _children(child.pid)}
        assert workers, "no worker process found"
        _kill(child, how)
        _assert_gone_in_time(workers, out)
        code = child.wait(5)
        if how != "SIGKILL":
            assert (code, child.stderr.read()) == (128 + signal.SIGTERM, b"")
    finally:
        _clean_up(child, workers)
    *complete, rest = out.data.split(b"\n")
    printed = [json.loads(line) for line in complete]  # every whole line is a whole result...
    if rest:
        with pytest.raises(ValueError):  # ...and a line cut short is never taken for one
            json.loads(rest)
    assert [line["User"] for line in printed] == users[: len(printed)]  # in input order, once each
    again = _issued_again(users)
    assert {line["User"]: line["IdentityId"] for line in printed}.items() <= again.items()
    assert len(set(again.values())) == len(users) == _identity_count(cognito, cli_pool)
