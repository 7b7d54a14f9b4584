"""What a user installing cogid's wheel gets."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_installs_the_completion_scripts_where_shells_look(tmp_path):
    # Built as pip builds it for a user (an isolated build from the source tree).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("cogid-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = {name.split(".data/data/", 1)[1] for name in names if ".data/data/" in name}
    assert data == {"share/bash-completion/completions/cogid.bash", "share/zsh/site-functions/_cogid",
                    "share/fish/vendor_completions.d/cogid.fish"}
    assert {path.name for path in (ROOT / "completions").iterdir()} == {Path(name).name for name in data}
    assert "cogid/testing/plugin.py" in names  # the pytest plugin its pytest11 entry point names
    # Every file `cogid serve`'s dashboard reads: its templates, stylesheet and script.
    board = ROOT / "cogid/local/dashboard"
    wanted = {str(path.relative_to(ROOT)) for folder in ("templates", "static") for path in (board / folder).iterdir()}
    assert wanted and wanted <= set(names), wanted - set(names)
