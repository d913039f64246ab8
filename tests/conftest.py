import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture
def write(tmp_path):
    """write(name, text) -> Path of a file in tmp_path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write


def run_cli(*args: str, cwd: Path | None = None):
    """Run the installed ``biodl`` CLI in a subprocess: (returncode, stdout, stderr)."""
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "biodl", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return proc.returncode, proc.stdout, proc.stderr
