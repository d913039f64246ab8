"""Device choice and what the manifest records about it: the scheduler's grant (SLURM job, partition,
GPUs), the host, the fallback to CPU with a warning when a requested GPU is not visible, and one clear
error for BIODL_DEVICE=cuda without CUDA. CUDA is switched off here by monkeypatching torch, so the
tests mean the same on a GPU machine."""

import socket
import warnings

import pytest
import torch

from biodl.device import describe_device, gpu_requested, granted_gpus, resolve_device
from biodl.errors import UserError

SCHEDULER = ("SLURM_JOB_ID", "SLURM_JOB_PARTITION", "SLURM_JOB_NODELIST", "SLURM_CPUS_PER_TASK",
             "SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "GPU_DEVICE_ORDINAL", "CUDA_VISIBLE_DEVICES",
             "BIODL_EXPECT_GPU", "BIODL_DEVICE")


@pytest.fixture
def no_scheduler(monkeypatch):
    """No scheduler variables, no device override, and no CUDA / MPS visible to torch."""
    for name in SCHEDULER:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if getattr(torch.backends, "mps", None):
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    return monkeypatch


def test_outside_a_scheduler_nothing_is_granted(no_scheduler):
    info = describe_device("cpu")
    assert info["device"] == "cpu" and info["hostname"] == socket.gethostname()
    assert info["slurm_job_id"] is None and info["granted_gpus"] is None
    assert info["cuda_visible_devices"] is None and info["gpu_requested"] is False
    assert info["torch"] == torch.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no GPU asked for: CPU without a word
        assert resolve_device("auto") == "cpu"


def test_slurm_grant_is_recorded(no_scheduler):
    no_scheduler.setenv("SLURM_JOB_ID", "4711")
    no_scheduler.setenv("SLURM_JOB_PARTITION", "gpu")
    no_scheduler.setenv("SLURM_JOB_NODELIST", "node07")
    no_scheduler.setenv("SLURM_JOB_GPUS", "2")
    no_scheduler.setenv("CUDA_VISIBLE_DEVICES", "2")
    info = describe_device("cpu")
    assert info["slurm_job_id"] == "4711" and info["slurm_job_partition"] == "gpu"
    assert info["slurm_job_nodelist"] == "node07"
    assert info["slurm_job_gpus"] == "2" and info["granted_gpus"] == "2"
    assert info["cuda_visible_devices"] == "2" and info["slurm_step_gpus"] is None
    assert info["gpu_requested"] is True


def test_step_gpus_win_over_job_gpus_and_empty_means_none(no_scheduler):
    no_scheduler.setenv("SLURM_JOB_GPUS", "0,1")
    no_scheduler.setenv("SLURM_STEP_GPUS", "1")
    assert granted_gpus() == "1"
    no_scheduler.setenv("SLURM_STEP_GPUS", "")
    assert granted_gpus() == "0,1"
    no_scheduler.delenv("SLURM_JOB_GPUS")
    no_scheduler.setenv("GPU_DEVICE_ORDINAL", "3")
    assert granted_gpus() == "3"
    no_scheduler.setenv("GPU_DEVICE_ORDINAL", "")
    assert granted_gpus() is None and gpu_requested() is False


@pytest.mark.parametrize("value, requested", [("1", True), ("true", True), ("0", False), ("", False),
                                              ("false", False)])
def test_expect_gpu_flag(no_scheduler, value, requested):
    no_scheduler.setenv("BIODL_EXPECT_GPU", value)  # the train rule writes 1 or 0
    assert gpu_requested() is requested


@pytest.mark.parametrize("variable, value", [("BIODL_EXPECT_GPU", "1"), ("SLURM_JOB_GPUS", "0")])
def test_requested_gpu_not_visible_falls_back_to_cpu_with_a_warning(no_scheduler, variable, value):
    no_scheduler.setenv(variable, value)
    with pytest.warns(UserWarning, match="a GPU was requested for this job .* training on CPU"):
        assert resolve_device("auto") == "cpu"


def test_cuda_without_cuda_is_one_clear_error(no_scheduler):
    no_scheduler.setenv("BIODL_DEVICE", "cuda")
    no_scheduler.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(UserError, match=r"device 'cuda' requested but CUDA is not available.*"
                                        r"CUDA_VISIBLE_DEVICES=0"):
        resolve_device("auto")
    no_scheduler.delenv("BIODL_DEVICE")
    with pytest.raises(UserError, match="CUDA is not available"):
        resolve_device("cuda:1")


def test_explicit_cpu_never_warns(no_scheduler):
    no_scheduler.setenv("SLURM_JOB_GPUS", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_device("cpu") == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_granted_gpu_is_used_and_named():
    device = resolve_device("auto")
    assert device == "cuda"
    info = describe_device(device)
    assert info["gpu_name"] == torch.cuda.get_device_name(0) and info["cuda_device_count"] >= 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cli_train_with_cuda_forced_but_absent_is_one_line_exit_2(tmp_path, monkeypatch):
    from tests.conftest import DATA, run_cli

    features, split = tmp_path / "features", tmp_path / "split.json"
    code, _, err = run_cli("featurize", DATA / "molecules" / "freesolv.csv", "--id-col", "id", "--targets", "expt",
                           "--featurizer", "rdkit_descriptors", "--param", 'descriptors=["MolWt","MolLogP"]',
                           "-o", features)
    assert code == 0, err
    code, _, err = run_cli("split", "--features", features, "--spec", '{"method": "random"}', "-o", split)
    assert code == 0, err
    monkeypatch.setenv("BIODL_DEVICE", "cuda")
    code, _, err = run_cli("train", "--name", "x", "--features", features, "--split", split, "-o",
                             tmp_path / "model", "--experiment",
                             '{"model": {"type": "mlp", "hidden": [4]}, "train": {"epochs": 1}}')
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "device 'cuda' requested but CUDA is not available" in lines[0], err
    assert not (tmp_path / "model" / "manifest.json").exists()
