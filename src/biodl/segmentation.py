"""Cell segmentation with a U-Net (the book's Ch. 7): pixel targets from instance masks, the
network, training on random crops, tiled prediction of full fields of view, instances from the
predicted maps.

Touching cells are the hard part: a foreground / background map merges them. The network therefore
predicts three classes per pixel — background, cell interior, cell boundary (a cell's pixels next to
another label or to background) — and instances are grown by watershed from the connected interior
regions over the foreground, so two touching cells are two seeds separated by their boundary.

Full images are predicted tile by tile (:func:`predict_tiled`): tiles start on the network's pooling
grid and overlap by twice a margin wider than the receptive field's reach, and each tile gives only
its central part, so the result equals one pass over the whole image (tested) while memory stays that
of one batch of tiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from biodl.instances import check_mask, drop_small
from biodl.losses import CrossEntropyDice
from biodl.models.unet import UNet

BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2
#: pixels per validation forward pass in :func:`fit_unet` (128 images of 128 x 128, 5 of 696 x 520)
VALID_PIXELS = 2 ** 21
#: ``kind`` of a segmentation model file (other biodl model files have none)
KIND = "segmentation"


def pixel_targets(mask: np.ndarray) -> np.ndarray:
    """uint8 (H, W) classes of an instance mask: 0 background, 1 interior, 2 boundary (a cell pixel
    with a 4-neighbour of another label, background included, or on the image edge)."""
    mask = check_mask(mask)
    padded = np.pad(mask, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    edge = np.zeros(mask.shape, bool)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        edge |= padded[dy:dy + mask.shape[0], dx:dx + mask.shape[1]] != centre
    out = np.where(mask > 0, INTERIOR, BACKGROUND).astype(np.uint8)
    out[(mask > 0) & edge] = BOUNDARY
    return out


def _scale(images: np.ndarray) -> np.ndarray:
    """float32 images in [0, 1]-ish from uint8 (÷255) or float input (as is); (C, H, W) kept."""
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)


def _pad_to(image: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    h, w = image.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        image = np.pad(image, [(0, 0)] * (image.ndim - 2) + [(0, ph), (0, pw)], mode="reflect")
    return image, (h, w)


def _device(net: torch.nn.Module) -> torch.device:
    return next(net.parameters()).device


@torch.no_grad()
def predict_full(net: UNet, image: np.ndarray) -> np.ndarray:
    """float32 (n_classes, H, W) class probabilities of one image (C, H, W) in one pass (reflect-
    padded to the pooling multiple, then cropped), computed on the network's device."""
    net.eval()
    padded, (h, w) = _pad_to(_scale(image), net.multiple)
    logits = net(torch.from_numpy(np.ascontiguousarray(padded))[None].to(_device(net)))
    return torch.softmax(logits, 1)[0, :, :h, :w].cpu().numpy()


def _tile_starts(size: int, tile: int, step: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile + 1, step))
    if starts[-1] != size - tile:
        starts.append(size - tile)
    return starts


@torch.no_grad()
def predict_tiled(net: UNet, image: np.ndarray, *, tile: int = 1024, margin: int | None = None,
                  batch_size: int = 1) -> np.ndarray:
    """float32 (n_classes, H, W) probabilities of a large image (C, H, W) from overlapping tiles of
    at most ``tile`` px a side (memory grows with it). Each output pixel comes from a tile in which
    it lies at least ``margin`` px (default: the network's reach, rounded up to the pooling multiple)
    from any cut edge, so the result equals :func:`predict_full` up to float rounding. Tiles are
    sized to split each side evenly: the fewest tiles that fit, no larger than needed, as the
    overlap is computed twice."""
    net.eval()
    m = net.multiple
    margin = -(-(net.reach if margin is None else margin) // m) * m
    tile = max(m, tile // m * m)
    if tile <= 2 * margin:
        tile = 2 * margin + m  # a tile must keep something after both margins
    padded, (h, w) = _pad_to(_scale(image), m)
    H, W = padded.shape[-2:]

    def even(size: int) -> int:
        if size <= tile:
            return size
        n = -(-(size - 2 * margin) // (tile - 2 * margin))  # tiles needed along this side
        return min(tile, -(-(-(-(size - 2 * margin) // n) + 2 * margin) // m) * m)

    tile_h, tile_w = even(H), even(W)
    ys, xs = _tile_starts(H, tile_h, tile_h - 2 * margin), _tile_starts(W, tile_w, tile_w - 2 * margin)

    def cuts(starts, size, length):
        # the boundary between neighbouring tiles' kept parts: the middle of their overlap
        inner = [(starts[i] + starts[i - 1] + length) // 2 for i in range(1, len(starts))]
        return [0, *inner, size]

    cy, cx = cuts(ys, H, tile_h), cuts(xs, W, tile_w)
    out = np.empty((net.head.out_channels, H, W), np.float32)
    jobs = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
    for k in range(0, len(jobs), batch_size):
        part = jobs[k:k + batch_size]
        batch = np.stack([padded[:, ys[i]:ys[i] + tile_h, xs[j]:xs[j] + tile_w] for i, j in part])
        probs = torch.softmax(net(torch.from_numpy(batch).to(_device(net))), 1).cpu().numpy()
        for (i, j), p in zip(part, probs):
            out[:, cy[i]:cy[i + 1], cx[j]:cx[j + 1]] = p[:, cy[i] - ys[i]:cy[i + 1] - ys[i], cx[j] - xs[j]:cx[j + 1] - xs[j]]
    return out[:, :h, :w]


def scaled_shape(shape: Sequence[int], scale: float) -> tuple[int, int]:
    """(h, w) of an image of ``shape`` (..., H, W) resized by ``scale`` (at least 1 px a side)."""
    return max(1, round(shape[-2] * scale)), max(1, round(shape[-1] * scale))


def resize_images(images: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """float32 (N, C, h, w) of float images (N, C, H, W): bilinear, anti-aliased when shrinking."""
    x = torch.from_numpy(np.ascontiguousarray(images, np.float32))
    shrink = shape[0] < x.shape[-2] or shape[1] < x.shape[-1]
    return torch.nn.functional.interpolate(x, size=tuple(shape), mode="bilinear", align_corners=False,
                                           antialias=shrink).numpy()


def resize_mask(mask: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """An instance mask resized to ``shape`` by nearest pixel centres (labels kept as they are)."""
    H, W = mask.shape
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * H / shape[0]).astype(np.int64), H - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * W / shape[1]).astype(np.int64), W - 1)
    return np.asarray(mask)[rows[:, None], cols[None, :]]


def predict_maps(net: UNet, image: np.ndarray, *, tile: int = 1024) -> np.ndarray:
    """float32 (n_classes, H, W) probabilities of one image (C, H, W) at its own size: resized by
    the network's ``scale`` first (maps resized back, bilinear), tiled when larger than ``tile``."""
    x = _scale(image)
    small = x if net.scale == 1 else resize_images(x[None], scaled_shape(x.shape, net.scale))[0]
    big = max(small.shape[-2:]) > tile
    probs = predict_tiled(net, small, tile=tile) if big else predict_full(net, small)
    if small.shape[-2:] != x.shape[-2:]:
        probs = torch.nn.functional.interpolate(torch.from_numpy(probs)[None], size=x.shape[-2:], mode="bilinear",
                                                align_corners=False)[0].numpy()
    return probs


def min_object_size(net: UNet, pixels: int = 8) -> int:
    """Smallest object kept, in pixels of the image: ``pixels`` at the network's scale."""
    return max(1, round(pixels / net.scale ** 2))


def instances_from_maps(probs: np.ndarray, *, foreground: float = 0.5, interior: float = 0.5,
                        min_size: int = 8) -> np.ndarray:
    """int32 (H, W) instance labels from (3, H, W) probabilities: seeds are connected regions where
    P(interior) > ``interior``; each grows by watershed over P(interior) within the pixels where
    P(interior) + P(boundary) > ``foreground``; objects under ``min_size`` px are dropped."""
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    fg = probs[INTERIOR] + probs[BOUNDARY] > foreground
    seeds, _ = ndi.label((probs[INTERIOR] > interior) & fg)
    return drop_small(watershed(-probs[INTERIOR], seeds, mask=fg), min_size)


@dataclass
class SegmentationFit:
    """What :func:`fit_unet` learned: the network, the thresholds chosen on validation and the
    training history (per epoch: train loss, validation loss)."""

    net: UNet
    foreground: float = 0.5
    interior: float = 0.5
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    #: the featurizer spec of the images it was trained on (predict checks features against it)
    featurizer_spec: dict | None = None
    info: dict = field(default_factory=dict)

    def save(self, path) -> None:
        """One model file (torch.save of plain data: weights, architecture, thresholds), written
        atomically; :meth:`load` reads it back."""
        import json

        from biodl import __version__
        from biodl.io import atomic_file
        from biodl.train import MODEL_FORMAT

        payload = {"format": MODEL_FORMAT, "kind": KIND, "biodl_version": __version__,  # weights saved from the CPU
                   "model_spec": self.net.spec, "input_shape": list(self.net.input_shape),
                   "n_outputs": self.net.n_outputs,
                   "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                   "foreground": float(self.foreground), "interior": float(self.interior),
                   "history": self.history, "best_epoch": int(self.best_epoch),
                   "featurizer_spec": self.featurizer_spec, "info": json.loads(json.dumps(self.info, default=str))}
        with atomic_file(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path, device: str = "cpu") -> SegmentationFit:
        """A fit saved by :meth:`save`, its network on ``device``; any other file is one UserError line."""
        from pathlib import Path

        from biodl.errors import UserError
        from biodl.models import build_model
        from biodl.train import read_model_file

        payload = read_model_file(Path(path))
        if payload.get("kind") != KIND:
            raise UserError(f"{path}: not a segmentation model (a {payload.get('task_type', 'non-pixel')} model)")
        net = build_model(payload["model_spec"], input_shape=payload["input_shape"], n_outputs=payload["n_outputs"])
        try:
            net.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise UserError(f"{path}: weights do not fit the U-Net its spec builds ({str(exc)[:160]})") from None
        net.to(device).eval()
        return cls(net, payload["foreground"], payload["interior"], payload["history"], payload["best_epoch"],
                   payload["featurizer_spec"], payload["info"])


def is_segmenter(path) -> bool:
    """True when ``path`` is a segmentation model file (predict and evaluate branch on it)."""
    from pathlib import Path

    from biodl.train import read_model_file

    return read_model_file(Path(path)).get("kind") == KIND


def _crops(images: np.ndarray, targets: np.ndarray, size: int, n: int, rng: np.random.Generator):
    """``n`` random ``size`` crops with random flips and 90° rotations (images (N, C, H, W), targets
    (N, H, W)); images smaller than ``size`` are reflect-padded to it."""
    N, _, H, W = images.shape
    if H < size or W < size:
        ph, pw = max(0, size - H), max(0, size - W)
        images = np.pad(images, [(0, 0), (0, 0), (0, ph), (0, pw)], mode="reflect")
        targets = np.pad(targets, [(0, 0), (0, ph), (0, pw)], mode="reflect")
        H, W = images.shape[-2:]
    idx = rng.integers(0, N, n)
    ys, xs = rng.integers(0, H - size + 1, n), rng.integers(0, W - size + 1, n)
    xb = np.stack([images[i, :, y:y + size, x:x + size] for i, y, x in zip(idx, ys, xs)])
    yb = np.stack([targets[i, y:y + size, x:x + size] for i, y, x in zip(idx, ys, xs)])
    for k in range(n):
        rot, flip = int(rng.integers(4)), bool(rng.integers(2))
        xb[k] = np.rot90(xb[k], rot, axes=(1, 2))
        yb[k] = np.rot90(yb[k], rot)
        if flip:
            xb[k], yb[k] = xb[k][:, :, ::-1], yb[k][:, ::-1]
    return np.ascontiguousarray(xb), np.ascontiguousarray(yb)


def fit_unet(images: np.ndarray, masks: Sequence[np.ndarray], valid_images: np.ndarray,
             valid_masks: Sequence[np.ndarray], *, depth: int = 3, width: int = 16, dropout: float = 0.1,
             scale: float = 1.0, crop: int = 96, batch_size: int = 16, steps_per_epoch: int = 40, epochs: int = 60,
             patience: int = 10, lr: float = 1e-3, weight_decay: float = 1e-4, seed: int = 0,
             choose_thresholds: bool = True, device: str = "cpu", log=None, progress=None) -> SegmentationFit:
    """Train a :class:`UNet` on random crops (flips, 90° rotations) of ``images`` (N, C, H, W; uint8
    or float) with instance ``masks`` (N × (H, W)); loss = cross-entropy + soft Dice; early stopping
    on the validation loss of whole validation images (the best epoch's weights are kept). Then the
    two thresholds of :func:`instances_from_maps` are chosen on the validation images by object F1
    at IoU 0.5 (never on test). ``log(line)`` gets one line per epoch; ``progress(state)`` the
    state :func:`biodl.train.fit` gives its hook (monitor ``valid_loss``)."""
    from biodl.instances import segmentation_scores

    if epochs < 1 or steps_per_epoch < 1 or patience < 1:
        raise ValueError(f"epochs, steps_per_epoch and patience must be >= 1, got {epochs}, {steps_per_epoch}, {patience}")
    if len(images) == 0 or len(valid_images) == 0:
        raise ValueError("segmentation training needs training and validation images")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_train, x_valid = _scale(images), _scale(valid_images)
    masks, small_valid_masks = list(masks), list(valid_masks)
    if scale != 1:  # the network learns and is early-stopped at its own scale; thresholds at full size
        shape = scaled_shape(x_train.shape, scale)
        x_train, masks = resize_images(x_train, shape), [resize_mask(m, shape) for m in masks]
        shape = scaled_shape(x_valid.shape, scale)
        x_valid, small_valid_masks = resize_images(x_valid, shape), [resize_mask(m, shape) for m in valid_masks]
    t_train = np.stack([pixel_targets(m) for m in masks])
    t_valid = torch.from_numpy(np.stack([pixel_targets(m) for m in small_valid_masks]).astype(np.int64))
    net = UNet(x_train.shape[1:], 3, depth=depth, width=width, dropout=dropout, scale=scale).to(device)
    t_valid = t_valid.to(device)
    crop = max(net.multiple, crop // net.multiple * net.multiple)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    # interior and boundary pixels are rarer than background: weigh classes by inverse frequency
    freq = np.bincount(t_train.ravel(), minlength=3).astype(np.float64) + 1
    weight = torch.tensor((freq.sum() / (3 * freq)).clip(0.2, 10), dtype=torch.float32, device=device)
    loss_fn = CrossEntropyDice(weight)
    best, best_state, best_epoch, history, bad = np.inf, None, 0, [], 0
    for epoch in range(epochs):
        net.train()
        total = 0.0
        for _ in range(steps_per_epoch):
            xb, yb = _crops(x_train, t_train, crop, batch_size, rng)
            xb, yb = torch.from_numpy(xb).to(device), torch.from_numpy(yb.astype(np.int64)).to(device)
            logits = net(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        net.eval()
        with torch.no_grad():
            # a few images at a time: the activations of 40 full fields of view at once take GBs,
            # their three output maps only MBs; the loss is then taken over all of them at once
            per_pass = max(1, VALID_PIXELS // (x_valid.shape[2] * x_valid.shape[3]))
            logits = torch.cat([
                net(torch.from_numpy(np.stack([_pad_to(x, net.multiple)[0] for x in x_valid[k:k + per_pass]])).to(device))
                for k in range(0, len(x_valid), per_pass)])[:, :, :x_valid.shape[2], :x_valid.shape[3]]
            valid_loss = float(loss_fn(logits, t_valid))
        if not np.isfinite(valid_loss):
            raise ValueError(f"validation loss is {valid_loss} at epoch {epoch} (diverged): lower the learning rate")
        history.append({"epoch": epoch, "train_loss": total / steps_per_epoch, "valid_loss": valid_loss})
        if log is not None:
            log(f"epoch {epoch:3d}  train_loss {total / steps_per_epoch:.4f}  valid_loss {valid_loss:.4f}")
        if valid_loss < best - 1e-4:
            best, bad = valid_loss, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            best_epoch = epoch
        else:
            bad += 1
        if progress is not None:
            progress({"epoch": epoch, "epochs": epochs, "monitor": "loss", "greater": False,
                      "score": valid_loss, "best": best, "best_epoch": best_epoch, "patience": patience,
                      "last": bad >= patience or epoch == epochs - 1})
        if bad >= patience:
            break
    net.load_state_dict(best_state)
    fit = SegmentationFit(net, history=history, best_epoch=best_epoch)
    if choose_thresholds:
        probs = [predict_maps(net, x) for x in valid_images]
        grid = [(f, i) for f in (0.3, 0.4, 0.5, 0.6, 0.7) for i in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
        size = min_object_size(net)
        scores = [segmentation_scores(list(valid_masks), [instances_from_maps(p, foreground=f, interior=i,
                                                                             min_size=size) for p in probs],
                                      thresholds=(0.5,))["objects"][0.5]["f1"] for f, i in grid]
        fit.foreground, fit.interior = grid[int(np.argmax(scores))]
    return fit


def segment(fit: SegmentationFit, images: Sequence[np.ndarray], *, tile: int = 1024) -> list[np.ndarray]:
    """Instance masks of images (each (C, H, W)), at their own size, with the fitted network (at its
    scale) and thresholds; images larger than ``tile`` (after scaling) are predicted by overlapping tiles."""
    size = min_object_size(fit.net)
    return [instances_from_maps(predict_maps(fit.net, image, tile=tile), foreground=fit.foreground,
                                interior=fit.interior, min_size=size) for image in images]
