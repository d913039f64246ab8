"""Which torch device to train on: auto (cuda, then mps, then cpu), overridable by config or
``BIODL_DEVICE``. Asking for a device that is not there is one clear error, not a silent fallback.

On a cluster the scheduler decides which GPU a job gets: SLURM sets ``CUDA_VISIBLE_DEVICES`` to the
granted device(s), so "cuda" is always the first GPU this job may use. ``describe_device`` records
what was granted (job id, partition, node, GPUs) next to what torch actually used.
"""

from __future__ import annotations

import os
import socket
import warnings

from biodl.errors import UserError

CHOICES = ("auto", "cpu", "cuda", "mps")

# What a scheduler grants, as environment variables (SLURM sets them in the job's environment;
# GPU_DEVICE_ORDINAL is also set by Grid Engine / ROCm setups). Recorded under their lowercase names.
SCHEDULER_VARS = ("SLURM_JOB_ID", "SLURM_JOB_PARTITION", "SLURM_JOB_NODELIST", "SLURM_CPUS_PER_TASK",
                  "SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "GPU_DEVICE_ORDINAL", "CUDA_VISIBLE_DEVICES")
_FALSE = ("", "0", "false", "no", "off")


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def granted_gpus() -> str | None:
    """The GPU(s) a scheduler granted this job, as it wrote them (e.g. "0" or "0,1"); None if none."""
    for name in ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "GPU_DEVICE_ORDINAL"):
        if _env(name):
            return _env(name)
    return None


def gpu_requested() -> bool:
    """True when this job asked for a GPU: ``BIODL_EXPECT_GPU`` is set (the workflow's train rule sets
    it for experiments with ``gpu: true``) or the scheduler granted one."""
    expect = (os.environ.get("BIODL_EXPECT_GPU") or "").strip().lower()
    return expect not in _FALSE or granted_gpus() is not None


def resolve_device(preference: str | None = None) -> str:
    """Return a torch device string ("cpu", "cuda", "cuda:1", "mps").

    ``BIODL_DEVICE`` wins over ``preference``. "auto" picks the first available accelerator;
    "auto" when a GPU was requested (``BIODL_EXPECT_GPU`` set, or a scheduler granted one) but CUDA
    is not visible falls back to CPU with a warning.
    """
    import torch

    choice = (os.environ.get("BIODL_DEVICE") or preference or "auto").strip().lower()
    base = choice.split(":")[0]
    if base not in CHOICES:
        raise UserError(f"unknown device {choice!r} (choose from {', '.join(CHOICES)}, or cuda:N)")
    if base == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device {choice!r} requested but CUDA is not available on this machine "
                            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})")
        return choice
    if base == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserError("device 'mps' requested but Apple MPS is not available")
        return "mps"
    if base == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    if gpu_requested():
        warnings.warn("a GPU was requested for this job (granted: "
                      f"{granted_gpus() or 'none'}, CUDA_VISIBLE_DEVICES="
                      f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}) but CUDA is not available "
                      "to torch here; training on CPU", stacklevel=2)
    return "cpu"


def describe_device(device: str) -> dict:
    """What the manifest records about the device a model was trained on and what the scheduler granted.

    Keys: device (what torch used), gpu_name (CUDA only), gpu_requested, granted_gpus, hostname, torch,
    and each of SCHEDULER_VARS in lowercase (None when unset; slurm_job_id is None outside SLURM).
    """
    import torch

    info = {"device": device, "hostname": socket.gethostname(), "torch": torch.__version__,
            "gpu_requested": gpu_requested(), "granted_gpus": granted_gpus()}
    info.update({name.lower(): _env(name) for name in SCHEDULER_VARS})
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        info["gpu_name"] = torch.cuda.get_device_name(index)
        info["cuda_device_count"] = torch.cuda.device_count()
    return info


def limit_threads(n: int) -> int:
    """Use ``n`` CPU threads for torch and its BLAS / OpenMP pools, waiting passively.

    Snakemake gives each job ``threads``; more would oversubscribe the cores it gave other jobs.
    OpenMP's default wait policy spins idle threads for a while before sleeping, which on a busy
    machine burns the cores other processes need (bench/threads.py measures it). The environment
    settings take effect only before torch is first imported, so the CLI calls this first.
    """
    n = max(1, int(n))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # already set, or inter-op work has started: the intra-op setting still holds
        pass
    return n
