"""examples/ (the README's "Testing your application") runs in CI: its suite, in a pytest
session of its own (pytester, in this process: its imports are this run's), with nothing of this
suite's conftest (issue 16)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

pytest_plugins = ["pytester"]


def test_the_example_suite_passes_each_way(pytester):
    result = pytester.runpytest("-p", "no:cacheprovider", "-rA", str(EXAMPLES))
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines_random([
        f"PASSED *test_signin.py::{test}" for test in
        ("test_sign_in_links_facebook_to_the_same_identity", "test_sign_in_over_http", "test_sign_in_under_the_mock")
    ])


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
