"""examples/ (the README's "Testing your application") runs in CI: its suite, run as a user's
project would run it, in a pytest of its own (issue 16)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def test_the_example_suite_passes_each_way():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(EXAMPLES)],
        cwd=EXAMPLES, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for test in ("test_sign_in_links_facebook_to_the_same_identity", "test_sign_in_over_http",
                 "test_sign_in_under_the_mock"):
        assert f"PASSED test_signin.py::{test}" in done.stdout, done.stdout
