"""Images: which pixels drive a counting or segmentation model's output.

* :func:`occlusion_map` — Captum's ``Occlusion``: the output's drop when a ``window``² patch of the
  image is set to 0 (the background of a fluorescence image), slid with ``stride``; each pixel
  gets the mean drop of the patches covering it;
* :func:`saliency_map` — Captum's ``Saliency``: the largest |∂ output / ∂ pixel| over channels.

The output is one number per image: a counting model's predicted count (:func:`module_output`), or
for a U-Net the predicted cell area — the summed probability of the cell classes over the image
(:func:`unet_area_output`), which the network's cells make up.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def _check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {images.shape}")
    return images.astype(np.float32, copy=False)


def module_output(module: torch.nn.Module, *, task: int = 0, scale: float = 1.0,
                  offset: float = 0.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """images (B, C, H, W) → (B,): output ``task`` of a network, × ``scale`` + ``offset`` (a
    regression's target standardization, so the maps are in target units)."""
    module.eval()
    return lambda x: module(x)[:, task] * scale + offset


def unet_area_output(net: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """images (B, C, H, W) → (B,): predicted cell area in pixels (probability of every class but
    background, summed). Images are reflect-padded to the network's pooling multiple inside."""
    net.eval()

    def area(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = -h % net.multiple, -w % net.multiple
        if ph or pw:
            x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="reflect")
        return torch.softmax(net(x), 1)[:, 1:, :h, :w].sum(dim=(1, 2, 3))

    return area


def occlusion_map(output: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray, *, window: int = 16,
                  stride: int = 8, batch_size: int = 64, device: str | None = None) -> np.ndarray:
    """float32 (N, H, W): mean drop of ``output`` when a window × window patch (all channels)
    covering the pixel is set to 0. ``images``: (N, C, H, W) float as the ``image`` featurizer stores them; ``device``: the network's."""
    from captum.attr import Occlusion

    images = _check_images(images)
    n, c, h, w = images.shape
    if not 1 <= stride <= window <= min(h, w):
        raise ValueError(f"need 1 <= stride ({stride}) <= window ({window}) <= image side ({min(h, w)})")
    method = Occlusion(output)
    dev = torch.device(device or "cpu")
    out = np.zeros((n, h, w), np.float32)
    for i in range(n):
        x = torch.from_numpy(images[i:i + 1]).to(dev)
        with torch.no_grad():
            attr = method.attribute(x, sliding_window_shapes=(c, window, window), strides=(c, stride, stride),
                                    baselines=0.0, perturbations_per_eval=batch_size)
        # Captum gives every channel the same value per patch: one is the map
        out[i] = attr[0, 0].float().cpu().numpy()
    return out


def saliency_map(output: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray, *, batch_size: int = 16,
                 device: str | None = None) -> np.ndarray:
    """float32 (N, H, W): max over channels of |∂ output / ∂ pixel| (Captum ``Saliency``)."""
    from captum.attr import Saliency

    images = _check_images(images)
    method = Saliency(output)
    dev = torch.device(device or "cpu")
    parts = []
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(images[start:start + batch_size]).to(dev).requires_grad_(True)
        parts.append(method.attribute(x, abs=True).amax(dim=1).detach().float().cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, *images.shape[2:]), np.float32)
