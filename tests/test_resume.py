"""Resumable: ``kill -9`` of Snakemake and its jobs in the middle of a training job, then the documented
resume (``snakemake --unlock``, then ``snakemake --cores 2 --rerun-incomplete``) completes the run,
redoes only what was not finished, and its metrics equal those of an uninterrupted run, byte for byte."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, snakemake_env
from tests.test_workflow import copy_workflow

pytestmark = pytest.mark.slow

CONFIG = ROOT / "tests" / "configs" / "slurm.yaml"  # two small MLPs; fs_gpu trains for 60 epochs
EXPERIMENTS = ("fs_gpu", "fs_cpu")
TARGETS = [f"results/metrics/{name}.json" for name in EXPERIMENTS]


def _env():
    return snakemake_env()


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True,
                          text=True, env=_env(), timeout=600, check=False)


def _workdir(tmp_path_factory, name: str) -> Path:
    work = copy_workflow(tmp_path_factory.mktemp(name))
    shutil.copy(CONFIG, work / "config" / "config.yaml")
    return work


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    work = _workdir(tmp_path_factory, "uninterrupted")
    proc = snakemake(work, "--cores", "2", *TARGETS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A run killed with SIGKILL (Snakemake and every job in its process group) once fs_gpu's training
    has logged its first epoch."""
    work = _workdir(tmp_path_factory, "killed")
    log = work / "logs" / "train" / "fs_gpu" / "rep0.log"
    process = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", *TARGETS], cwd=work,
                               env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not (log.is_file() and "epoch" in log.read_text()):
            assert process.poll() is None, "snakemake ended before training started"
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return work


def test_kill_interrupts_training(killed):
    # the training job was cut off: its epoch log stops early and its model never got written
    log = (killed / "logs" / "train" / "fs_gpu" / "rep0.log").read_text()
    assert "epoch   59" not in log
    assert not (killed / "results" / "models" / "fs_gpu" / "rep0" / "manifest.json").exists()
    assert not any((killed / "results" / "metrics").rglob("*.json"))
    # a plain rerun refuses to start, saying what to do: the lock Snakemake left behind needs --unlock,
    # an output a killed job may have half-written (marked incomplete) needs --rerun-incomplete
    proc = snakemake(killed, "--cores", "2", *TARGETS)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and ("--unlock" in output or "--rerun-incomplete" in output), output[-3000:]


def test_resume_completes_with_the_uninterrupted_metrics(killed, uninterrupted):
    assert snakemake(killed, "--unlock").returncode == 0
    proc = snakemake(killed, "--cores", "2", "--rerun-incomplete", *TARGETS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    output = proc.stdout + proc.stderr
    assert "rule train:" in output
    assert "rule featurize:" not in output and "rule split:" not in output  # finished work is kept
    for name in EXPERIMENTS:
        resumed = (killed / "results" / "metrics" / f"{name}.json").read_bytes()
        assert resumed == (uninterrupted / "results" / "metrics" / f"{name}.json").read_bytes(), name
    assert "Nothing to be done" in snakemake(killed, "--cores", "2", "--dry-run", *TARGETS).stdout
