"""cogid as a real process: signals, pipes that close, slow input, killed workers, exec's child."""

import json
import os
import time

import pytest
from conftest import DEV


def _cogid(*args):
    """cogid as a process of its own, in a new session so a test can signal its whole group."""
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "cogid", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)

def _first_line(process, timeout=20):
    """The first line the process writes, failing (not hanging) if none comes in time."""
    import select

    assert select.select([process.stdout], [], [], timeout)[0], "no output in time"
    return process.stdout.readline()

def _interrupt_group_when(process, ready, timeout=20):
    import signal

    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    return process.communicate(timeout=timeout)

def test_exec_leaves_ctrl_c_to_the_command_and_reports_how_it_ended(cli_pool, tmp_path):
    started = tmp_path / "started"
    script = (f"trap 'echo got-INT >&2' INT; touch {started}; sleep 2 & wait; echo finished; exit 3")
    child = _cogid("exec", "--user", "alice", "--", "sh", "-c", script)
    out, err = _interrupt_group_when(child, started.exists)
    assert (child.returncode, out, err) == (3, b"finished\n", b"got-INT\n")

    terminated = _cogid("exec", "--user", "alice", "--", "sh", "-c", "kill -TERM $$")
    assert terminated.wait(20) == 143  # 128 + SIGTERM, as a shell says it

def test_exec_options_after_the_command_are_the_commands(cli_pool):
    child = _cogid("exec", "--user", "alice", "printf", "%s|", "--region", "--help")
    out, err = child.communicate(timeout=20)
    assert (child.returncode, out) == (0, b"--region|--help|"), err

def test_users_from_a_slow_pipe_streams_each_token_as_its_line_comes(cli_pool):
    child = _cogid("token", "issue", "--users-from", "-")
    child.stdin.write(b"first\n")
    child.stdin.flush()
    assert json.loads(_first_line(child))["User"] == "first"  # while stdin is still open
    child.stdin.write(b"\xff\xfe\nsecond\n")
    out, err = child.communicate(timeout=20)
    assert json.loads(out)["User"] == "second" and child.returncode == 1
    assert err.decode().splitlines() == ["cogid: error: line 2: not UTF-8 text (byte 1)",
                                         "cogid: error: 1 user(s) failed"]

def test_users_from_exits_with_nothing_but_its_messages_on_stderr(cli_pool):
    # Python 3.11's process pool could race its own exit hook and print a traceback there.
    for _ in range(12):
        child = _cogid("token", "issue", "--users-from", "-")
        out, err = child.communicate(b"first\n\xff\nsecond\n", timeout=20)
        assert [json.loads(line)["User"] for line in out.splitlines()] == ["first", "second"]
        assert err.decode().splitlines() == ["cogid: error: line 2: not UTF-8 text (byte 1)",
                                             "cogid: error: 1 user(s) failed"]

def test_users_from_reports_an_overlong_line_and_goes_on(cli_pool):
    child = _cogid("token", "issue", "--users-from", "-")
    out, err = child.communicate(b"alice\n" + b"b" * 10_000_000 + b"\n" + b"c" * 65536 + b"\r\nbob\n", timeout=20)
    assert [json.loads(line)["User"] for line in out.splitlines()] == ["alice", "bob"]
    assert err.decode().splitlines()[0] == "cogid: error: line 2: longer than 65536 bytes"
    assert err.decode().splitlines()[1].startswith("cogid: error: line 3: ValidationException")  # 65536: kept whole
    assert err.decode().splitlines()[2:] == ["cogid: error: 2 user(s) failed"]

def test_ctrl_c_while_cogid_starts_exits_130_without_a_traceback():
    """Ctrl-C lands in the imports of the first ~100 ms as often as in a command."""
    import subprocess
    import sys

    starting = (
        "import sys, cogid.cli\n"
        "class Interrupted:\n"
        "    def find_spec(self, name, *args):\n"
        "        if name == 'cogid.cli.app':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupted())\n"
        "sys.argv = ['cogid', 'pool', 'list']\n"
        "cogid.cli.main()\n"
    )
    run = subprocess.run([sys.executable, "-c", starting], capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stderr) == (130, "")

def test_users_from_stops_quietly_on_ctrl_c_and_on_a_closed_pipe_while_input_waits(cli_pool):
    import signal
    import subprocess

    interrupted = _cogid("token", "issue", "--users-from", "-")
    interrupted.stdin.write(b"alice\n")
    interrupted.stdin.flush()
    assert json.loads(_first_line(interrupted))["User"] == "alice"
    os.killpg(interrupted.pid, signal.SIGINT)  # stdin stays open: no more input is coming
    try:
        assert interrupted.wait(20) == 130
    finally:
        interrupted.stdin.close()
    assert interrupted.stderr.read() == b""

    reader_gone = _cogid("token", "issue", "--users-from", "-")
    reader_gone.stdout.close()
    reader_gone.stdin.write(b"".join(b"user%d\n" % n for n in range(200)))
    reader_gone.stdin.flush()  # and stays open
    try:
        assert reader_gone.wait(30) == 141
    except subprocess.TimeoutExpired:
        reader_gone.kill()
        raise
    finally:
        reader_gone.stdin.close()
    assert reader_gone.stderr.read() == b""

def test_users_from_fails_cleanly_when_a_worker_process_is_killed(cli_pool):
    import signal

    child = _cogid("token", "issue", "--users-from", "-")
    child.stdin.write(b"alice\n")
    child.stdin.flush()
    assert json.loads(_first_line(child))["User"] == "alice"  # the workers are up
    from pathlib import Path

    (worker, *_) = map(int, Path(f"/proc/{child.pid}/task/{child.pid}/children").read_text().split())
    os.kill(worker, signal.SIGKILL)  # as the kernel's OOM killer would
    try:
        child.stdin.write(b"".join(b"user%d\n" % n for n in range(100)))
        child.stdin.flush()
    except BrokenPipeError:
        pass  # cogid may already have stopped
    try:
        assert child.wait(30) == 1
    finally:
        child.stdin.close()
    assert child.stderr.read().decode().splitlines()[-1] == (
        "cogid: error: a worker process stopped unexpectedly (killed, or out of memory?)")

def test_a_table_to_a_closed_pipe_stops_quietly(cli_pool):
    reader_gone = _cogid("identity", "list", "-o", "table")
    reader_gone.stdout.close()
    assert reader_gone.wait(20) == 141 and reader_gone.stderr.read() == b""

@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_long_output_to_a_pipe_closed_midway_is_exit_141(cli_pool, cognito, monkeypatch, unbuffered):
    for n in range(800):  # ~120 KB of JSON: more than a pipe holds
        cognito.get_open_id_token_for_developer_identity(IdentityPoolId=cli_pool, Logins={DEV: f"u{n}"})
    monkeypatch.setenv("PYTHONUNBUFFERED", unbuffered)  # under -u a write can take part of the data
    reader_gone = _cogid("identity", "list", "-o", "json")
    assert reader_gone.stdout.read(6) == b'[\n  {\n'
    reader_gone.stdout.close()
    assert reader_gone.wait(20) == 141 and reader_gone.stderr.read() == b""
