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


_NO_SCONTROL = None


def snakemake_env() -> dict[str, str]:
    """Environment for a local Snakemake run: this venv's biodl first on PATH, and an ``scontrol``
    that fails at once. Snakemake imports the SLURM executor plugin at every start, and the plugin
    asks ``scontrol show config``; with SLURM installed (CI installs it for tests/test_slurm.py) but
    no controller running, that waits 9 s per start. tests/test_slurm.py uses the real one."""
    global _NO_SCONTROL
    import tempfile

    if _NO_SCONTROL is None:
        _NO_SCONTROL = Path(tempfile.mkdtemp(prefix="biodl-no-scontrol-"))
        fake = _NO_SCONTROL / "scontrol"
        fake.write_text("#!/bin/sh\nexit 1\n")
        fake.chmod(0o755)
    bindir = str(Path(sys.executable).parent)  # the biodl CLI of this environment
    return {**os.environ, "PATH": os.pathsep.join([bindir, str(_NO_SCONTROL), os.environ.get("PATH", "")])}


def run_cli(*args: str, cwd: Path | None = None):
    """Run the installed ``biodl`` CLI in a subprocess: (returncode, stdout, stderr)."""
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "biodl", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return proc.returncode, proc.stdout, proc.stderr
