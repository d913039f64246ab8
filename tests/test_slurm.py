"""The workflow on a real SLURM scheduler: a single-node cluster from Debian's packages (slurm-wlm,
munge; fake GPUs as gres), set up by .ci/setup-slurm.sh and started here. A tiny config runs through
``--executor slurm --workflow-profile workflow/profiles/slurm``; its training jobs ran under SLURM, the
GPU experiment was granted a GPU (both recorded in the model manifest), and the metrics are
byte-identical to a local ``snakemake --cores 2`` run of the same config.

Skipped, with the reason, where there is no sbatch, no root (the fixture starts the daemons), no
test-cluster config, or no SLURM executor plugin."""

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_workflow import copy_workflow

pytestmark = pytest.mark.slow

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "written by biodl .ci/setup-slurm.sh"
# (pid file, command); started in this order, stopped in reverse
DAEMONS = [
    ("/run/munge/munged.pid", ["runuser", "-u", "munge", "--", "/usr/sbin/munged"]),
    ("/run/slurmctld.pid", ["/usr/sbin/slurmctld"]),
    ("/run/slurmd.pid", ["/usr/sbin/slurmd"]),
]
CONFIG = ROOT / "tests" / "configs" / "slurm.yaml"
EXPERIMENTS = ("fs_gpu", "fs_cpu")
# the stages up to the metrics (reports are not what this test is about)
TARGETS = [f"results/metrics/{name}.json" for name in EXPERIMENTS]


def _pid(pidfile: str) -> int | None:
    """The pid in ``pidfile`` if that process is alive."""
    try:
        pid = int(Path(pidfile).read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def _skip_reason() -> str | None:
    if shutil.which("sbatch") is None or shutil.which("slurmctld", path="/usr/sbin:" + os.environ["PATH"]) is None:
        return "SLURM not installed (no sbatch / slurmctld): run `bash .ci/setup-slurm.sh` as root"
    if os.geteuid() != 0:
        return "not root: this test starts munged, slurmctld and slurmd itself"
    if not SLURM_CONF.is_file() or MARKER not in SLURM_CONF.read_text():
        return f"{SLURM_CONF} is not the single-node test cluster: run `bash .ci/setup-slurm.sh` as root"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm not installed: pip install -c constraints.txt -e '.[slurm]'"
    return None


def _node_state() -> str:
    proc = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


@pytest.fixture(scope="module")
def slurm_cluster():
    """Start munged / slurmctld / slurmd (those not already running), wait for an idle node, and at the
    end stop the ones started here, by their pid files."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    started = []
    try:
        for pidfile, command in DAEMONS:
            if _pid(pidfile) is None:
                subprocess.run(command, check=True, timeout=60)
                for _ in range(100):
                    if _pid(pidfile):
                        break
                    time.sleep(0.1)
                assert _pid(pidfile), f"{command[-1]} did not start (no live pid in {pidfile})"
                started.append(pidfile)
        state = ""
        for attempt in range(120):
            state = _node_state()
            if state in ("idle", "mix", "alloc"):
                break
            if attempt == 20 and state.startswith(("drain", "down")):
                # left drained / down by an earlier unclean stop (saved state): put it back in service
                subprocess.run(["scontrol", "update", f"nodename={socket.gethostname().split('.')[0]}",
                                "state=resume"], capture_output=True, check=False)
            time.sleep(0.5)
        assert state in ("idle", "mix", "alloc"), f"SLURM node not ready: sinfo says {state!r}"
        yield
    finally:
        for pidfile in reversed(started):
            pid = _pid(pidfile)
            if pid is None:
                continue
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if _pid(pidfile) is None:
                    break
                time.sleep(0.1)


def snakemake_process(workdir: Path, *args: str) -> subprocess.Popen:
    bindir = str(Path(sys.executable).parent)  # the biodl CLI of this environment
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    process = snakemake_process(workdir, *args)
    stdout, stderr = process.communicate(timeout=900)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def runs(slurm_cluster, tmp_path_factory):
    """The tiny config locally and through the SLURM executor, each in its own copy of the workflow."""
    local = copy_workflow(tmp_path_factory.mktemp("local"))
    shutil.copy(CONFIG, local / "config" / "config.yaml")
    cluster = copy_workflow(tmp_path_factory.mktemp("cluster"))
    shutil.copy(CONFIG, cluster / "config" / "config.yaml")
    # what a user's own profile adds for this cluster: partition, memory, run time, and squeue for job
    # status (no accounting database here); the first status check after 2 s keeps the test short
    profile = tmp_path_factory.mktemp("profile")
    (profile / "config.yaml").write_text(
        "default-resources:\n  slurm_partition: main\n  mem_mb: 1000\n  runtime: 10\n"
        "slurm-status-command: squeue\n"
        "slurm-init-seconds-before-status-checks: 2\n")
    # the local run goes alongside (the SLURM run mostly waits between status checks)
    local_run = snakemake_process(local, "--cores", "2", *TARGETS)
    proc = run_snakemake(cluster, "--workflow-profile", "workflow/profiles/slurm", "--profile", str(profile),
                         *TARGETS)
    _, local_err = local_run.communicate(timeout=900)
    assert local_run.returncode == 0, local_err[-4000:]
    assert proc.returncode == 0, proc.stderr[-6000:]
    return local, cluster, proc.stdout + proc.stderr


def _device(work: Path, name: str) -> dict:
    return json.loads((work / "results" / "models" / name / "rep0" / "manifest.json").read_text())["info"]["device"]


def test_training_ran_under_slurm_with_the_granted_gpu(runs):
    _, cluster, _ = runs
    gpu, cpu = _device(cluster, "fs_gpu"), _device(cluster, "fs_cpu")
    for info in (gpu, cpu):
        assert info["slurm_job_id"] and info["slurm_job_id"].isdigit()
        assert info["slurm_job_partition"] == "main"
        assert info["hostname"] == socket.gethostname()
    assert gpu["slurm_job_id"] != cpu["slurm_job_id"]  # one SLURM job per training job
    # the GPU experiment was granted one of the two (fake) GPUs and knew it had asked for one
    assert gpu["gpu_requested"] is True
    assert gpu["granted_gpus"] in ("0", "1") and gpu["cuda_visible_devices"] in ("0", "1")
    # the fake GPU has no CUDA behind it: auto fell back to the CPU, with a warning in the job's log
    assert gpu["device"] == "cpu"
    log = (cluster / "logs" / "train" / "fs_gpu" / "rep0.log").read_text()
    assert "a GPU was requested for this job" in log and "training on CPU" in log
    # the CPU experiment asked for no GPU and got none
    assert cpu["gpu_requested"] is False and cpu["granted_gpus"] is None and cpu["cuda_visible_devices"] is None


def test_every_job_was_submitted_to_slurm(runs):
    _, _, output = runs
    # the profile's groups: featurize + split as one job, predict + evaluate + summarize as one job per experiment
    submitted = [line for line in output.splitlines() if "has been submitted with SLURM jobid" in line]
    assert len(submitted) == 1 + 2 + 2, output[-4000:]
    assert sum("rule_train/" in line for line in submitted) == 2
    assert sum("/group_prepare" in line for line in submitted) == 1
    assert sum("/group_score" in line for line in submitted) == 2
    assert "localrule" not in output  # nothing ran outside SLURM


def test_local_run_records_no_scheduler(runs):
    local, _, _ = runs
    info = _device(local, "fs_gpu")
    assert info["slurm_job_id"] is None and info["granted_gpus"] is None
    assert info["gpu_requested"] is True and info["device"] == "cpu"


def test_metrics_equal_the_local_run(runs):
    local, cluster, _ = runs
    for name in EXPERIMENTS:
        a = (local / "results" / "metrics" / f"{name}.json").read_bytes()
        assert a == (cluster / "results" / "metrics" / f"{name}.json").read_bytes(), name
