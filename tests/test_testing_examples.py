"""examples/ (the README's "Testing your application") runs in CI: its suite, run as a user's
project would run it, in a pytest of its own (issue 16)."""

import re
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


def test_the_readme_shows_the_example_as_it_is():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Testing your application\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    sources = [(EXAMPLES / name).read_text() for name in ("signin.py", "test_signin.py")]
    assert len(blocks) == 2
    for block, source in zip(blocks, sources, strict=True):
        assert block in source, "README's 'Testing your application' and examples/ differ"
    for name in ("cogid_local", "cogid_server", "cogid_env", "mock_cognito()", "cogid.testing.jwks()",
                 ".clock.advance(seconds)", "-p no:cogid"):
        assert name in section
