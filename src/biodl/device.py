"""Which torch device to train on: auto (cuda, then mps, then cpu), overridable by config or
``BIODL_DEVICE``. Asking for a device that is not there is one clear error, not a silent fallback."""

from __future__ import annotations

import os
import warnings

from biodl.errors import UserError

CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(preference: str | None = None) -> str:
    """Return a torch device string ("cpu", "cuda", "cuda:1", "mps").

    ``BIODL_DEVICE`` wins over ``preference``. "auto" picks the first available accelerator;
    "auto" when ``BIODL_EXPECT_GPU`` is set (a cluster job that asked for a GPU) but none is
    visible falls back to CPU with a warning.
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
    if os.environ.get("BIODL_EXPECT_GPU"):
        warnings.warn("a GPU was requested for this job but none is visible; training on CPU", stacklevel=2)
    return "cpu"


def describe_device(device: str) -> dict:
    """What the manifest records about the device a model was trained on."""
    import torch

    info = {"device": device, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "torch": torch.__version__}
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        info["gpu_name"] = torch.cuda.get_device_name(index)
    return info
