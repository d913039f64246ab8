"""Training: a clean PyTorch loop with masked losses, early stopping and reproducible seeds.

Why not PyTorch Lightning: these datasets fit in memory (the largest here is 7.8k × 200 bytes),
one device per job is what the cluster profile schedules, and the loop below is short enough to
read in one sitting. Lightning would add a dependency, seconds of import time per job and a
second place where seeds and devices are set.

The test split never enters this module: ``fit`` sees train and validation arrays only.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biodl import __version__
from biodl.errors import UserError, settings_from_dict

MODEL_FORMAT = 1
TASK_TYPES = ("regression", "binary", "multiclass")
DEFAULT_LOSS = {"regression": "mse", "binary": "bce", "multiclass": "ce"}
LOSSES_FOR = {"regression": ("mse", "gaussian_nll"), "binary": ("bce",), "multiclass": ("ce",)}


@dataclass
class TrainConfig:
    """Optimisation settings; ``TrainConfig.from_dict`` rejects unknown keys by name."""

    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam | adamw | rmsprop | sgd
    momentum: float = 0.9  # sgd / rmsprop only
    patience: int = 20  # epochs without validation improvement before stopping
    monitor: str | None = None  # validation metric; None = the task's primary metric
    loss: str | None = None  # None = mse / bce / ce by task type; gaussian_nll = heteroscedastic head
    lr_schedule: str = "none"  # none | plateau | cosine
    grad_clip: float | None = None  # max gradient norm
    clip_features: float = 10.0  # standardized float features are clipped to ±this (heavy tails)
    device: str = "auto"
    seed: int = 0
    progress: bool = True

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainConfig":
        config = settings_from_dict(cls, values, "train")
        if config.optimizer not in OPTIMIZERS:
            raise UserError(f"train.optimizer: {config.optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
        if config.lr_schedule not in ("none", "plateau", "cosine"):
            raise UserError(f"train.lr_schedule: {config.lr_schedule!r} (choose from none, plateau, cosine)")
        return config


def _adam(params, c, fused=None):
    import torch

    return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay, fused=fused)


def _adamw(params, c, fused=None):
    import torch

    return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay, fused=fused)


def _rmsprop(params, c):
    import torch

    return torch.optim.RMSprop(params, lr=c.lr, weight_decay=c.weight_decay, momentum=c.momentum)


def _sgd(params, c):
    import torch

    return torch.optim.SGD(params, lr=c.lr, weight_decay=c.weight_decay, momentum=c.momentum)


OPTIMIZERS = {"adam": _adam, "adamw": _adamw, "rmsprop": _rmsprop, "sgd": _sgd}


# -- preprocessing fitted on the training split only -------------------------------------------
@dataclass
class Preprocessor:
    """Feature imputation / scaling and target scaling, fitted on training rows only.

    Float (N, D) features (descriptors): NaN → training median, then standardized and clipped.
    Bits, codes and images pass through unchanged. Regression targets are standardized per task;
    predictions are reported back in original units.
    """

    task_type: str
    clip: float = 10.0
    x_median: list | None = None
    x_mean: list | None = None
    x_std: list | None = None
    y_mean: list | None = None
    y_std: list | None = None

    def fit(self, X: np.ndarray, y: np.ndarray) -> "Preprocessor":
        if X.dtype.kind == "f" and X.ndim == 2:
            X = np.asarray(X, np.float64)
            median = np.nanmedian(X, axis=0)
            median = np.where(np.isnan(median), 0.0, median)  # a descriptor NaN for every training row
            filled = np.where(np.isnan(X), median, X)
            std = filled.std(axis=0)
            self.x_median, self.x_mean = median.tolist(), filled.mean(axis=0).tolist()
            self.x_std = np.where(std > 0, std, 1.0).tolist()
        if self.task_type == "regression":
            mean, std = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
            self.y_mean, self.y_std = mean.tolist(), np.where(std > 0, std, 1.0).tolist()
        return self

    def transform_X(self, X: np.ndarray) -> np.ndarray:
        if self.x_mean is None:
            return np.ascontiguousarray(X)
        X = np.asarray(X, np.float64)
        X = np.where(np.isnan(X), np.asarray(self.x_median), X)
        X = (X - np.asarray(self.x_mean)) / np.asarray(self.x_std)
        return np.clip(X, -self.clip, self.clip).astype(np.float32)

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        if self.task_type != "regression":
            return y.astype(np.float32)
        return ((y - np.asarray(self.y_mean)) / np.asarray(self.y_std)).astype(np.float32)

    def inverse_y(self, y: np.ndarray, scale_only: bool = False) -> np.ndarray:
        """Back to original units (``scale_only`` for standard deviations)."""
        if self.task_type != "regression":
            return y
        std = np.asarray(self.y_std)
        return y * std if scale_only else y * std + np.asarray(self.y_mean)

    def state(self) -> dict:
        return asdict(self)


# -- losses ------------------------------------------------------------------------------------
def masked_loss(name: str, out, y):
    """Mean loss over labelled entries. out: (B, T) — or (B, 2T) for gaussian_nll, (B, C) for ce."""
    import torch
    import torch.nn.functional as F

    if name == "ce":
        return F.cross_entropy(out, y.view(-1).long())
    mask = ~torch.isnan(y)
    target = torch.where(mask, y, torch.zeros_like(y))
    if name == "mse":
        per = (out - target) ** 2
    elif name == "bce":
        per = F.binary_cross_entropy_with_logits(out, target, reduction="none")
    elif name == "gaussian_nll":
        t = y.shape[1]
        mean, log_var = out[:, :t], out[:, t:].clamp(-10, 10)
        per = 0.5 * (log_var + (target - mean) ** 2 * torch.exp(-log_var))
    else:
        raise UserError(f"unknown loss {name!r}")
    return (per * mask).sum() / mask.sum().clamp(min=1)


def n_outputs_for(task_type: str, loss: str, n_tasks: int, n_classes: int | None) -> int:
    if task_type == "multiclass":
        return int(n_classes)
    return 2 * n_tasks if loss == "gaussian_nll" else n_tasks


# -- the trained model and its file ------------------------------------------------------------
@dataclass
class TrainedModel:
    """A trained network with everything needed to predict from raw inputs.

    ``predict(X)`` returns original-unit values (regression, (N, T)), probabilities of class 1
    (binary, (N, T)) or class probabilities (multiclass, (N, C)); with a gaussian_nll head,
    ``predict(X, return_std=True)`` also gives the aleatoric σ in original units.
    """

    module: Any
    model_spec: dict
    input_shape: tuple
    task_type: str
    tasks: list
    loss: str
    preprocessor: Preprocessor
    n_classes: int | None = None
    featurizer_spec: dict | None = None
    info: dict = field(default_factory=dict)
    #: further deep-ensemble members (same architecture and preprocessing, other seeds)
    members: list = field(default_factory=list)
    #: the experiment's uncertainty spec and the calibrators fitted on its validation split
    uncertainty: dict | None = None
    calibration: dict | None = None
    #: applicability domain of molecule models: packed training fingerprints (biodl.domain)
    domain: dict | None = None

    def all_modules(self) -> list:
        """The selected network first, then the other ensemble members."""
        return [self.module, *self.members]

    def raw_outputs(self, X: np.ndarray, batch_size: int = 1024, device: str | None = None,
                    dropout: bool = False, module=None) -> np.ndarray:
        """Network outputs (N, n_outputs) before any link function; ``dropout=True`` keeps
        dropout layers active (MC dropout) while everything else (batch norm) stays in eval mode.
        ``module``: another ensemble member (default: the selected network)."""
        import torch

        module = module if module is not None else self.module
        device = device or next(module.parameters()).device
        module.eval()
        if dropout:
            for layer in module.modules():
                if isinstance(layer, torch.nn.Dropout):
                    layer.train()
        Xt = self.preprocessor.transform_X(X)
        outs = []
        with torch.no_grad():
            for start in range(0, len(Xt), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(Xt[start:start + batch_size])).to(device)
                outs.append(module(batch).float().cpu().numpy())
        module.eval()
        n_out = n_outputs_for(self.task_type, self.loss, len(self.tasks), self.n_classes)
        return np.concatenate(outs) if outs else np.zeros((0, n_out), np.float32)

    def link(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Outputs → (predictions in original units / probabilities, aleatoric σ or None)."""
        if self.task_type == "multiclass":
            z = out - out.max(axis=1, keepdims=True)
            p = np.exp(z)
            return p / p.sum(axis=1, keepdims=True), None
        if self.task_type == "binary":
            return 1.0 / (1.0 + np.exp(-out)), None
        t = len(self.tasks)
        mean = self.preprocessor.inverse_y(out[:, :t])
        if self.loss == "gaussian_nll":
            sigma = np.exp(0.5 * np.clip(out[:, t:], -10, 10))
            return mean, self.preprocessor.inverse_y(sigma, scale_only=True)
        return mean, None

    def predict(self, X: np.ndarray, batch_size: int = 1024, return_std: bool = False):
        pred, sigma = self.link(self.raw_outputs(X, batch_size))
        return (pred, sigma) if return_std else pred

    # -- persistence: a dict of tensors and plain types, loadable with weights_only=True -----------
    def save(self, path: str | os.PathLike) -> None:
        import torch

        payload = {
            "format": MODEL_FORMAT,
            "biodl_version": __version__,
            "model_spec": self.model_spec,
            "input_shape": list(self.input_shape),
            "task_type": self.task_type,
            "tasks": list(self.tasks),
            "loss": self.loss,
            "n_classes": self.n_classes,
            "preprocessor": self.preprocessor.state(),
            "featurizer_spec": self.featurizer_spec,
            "info": json.loads(json.dumps(self.info, default=str)),
            "state_dict": _cpu_state(self.module),
            "members": [_cpu_state(m) for m in self.members],
            "uncertainty": self.uncertainty,
            "calibration": self.calibration,
            "domain": self.domain,
        }
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> "TrainedModel":
        import torch

        from biodl.models import build_model

        path = Path(path)
        if not path.is_file():
            raise UserError(f"model file not found: {path}")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 — any unpickling failure means "not a biodl model"
            raise UserError(f"{path}: not a biodl model file ({type(exc).__name__}: {str(exc)[:120]})") from None
        if not isinstance(payload, dict) or "format" not in payload:
            raise UserError(f"{path}: not a biodl model file")
        if payload["format"] != MODEL_FORMAT:
            raise UserError(f"{path}: model file format {payload['format']} (biodl "
                            f"{payload.get('biodl_version', '?')}); this biodl {__version__} reads format "
                            f"{MODEL_FORMAT} — retrain the model or use the matching biodl version")
        task_type, loss = payload["task_type"], payload["loss"]
        n_out = n_outputs_for(task_type, loss, len(payload["tasks"]), payload["n_classes"])
        modules = []
        for state in [payload["state_dict"], *payload.get("members", [])]:
            module = build_model(payload["model_spec"], input_shape=tuple(payload["input_shape"]), n_outputs=n_out)
            module.load_state_dict(state)
            if device:
                module.to(device)
            module.eval()
            modules.append(module)
        return cls(module=modules[0], model_spec=payload["model_spec"], input_shape=tuple(payload["input_shape"]),
                   task_type=task_type, tasks=payload["tasks"], loss=loss,
                   preprocessor=Preprocessor(**payload["preprocessor"]), n_classes=payload["n_classes"],
                   featurizer_spec=payload["featurizer_spec"], info=payload["info"], members=modules[1:],
                   uncertainty=payload.get("uncertainty"), calibration=payload.get("calibration"),
                   domain=payload.get("domain"))


def _cpu_state(module) -> dict:
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


# -- the loop ----------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seed(seed: int, *names: str) -> int:
    """A stable 31-bit seed for one random step, from the config seed and the step's names."""
    import hashlib

    digest = hashlib.sha256(":".join([str(seed), *names]).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _score(model: TrainedModel, X, y, monitor: str) -> float:
    from biodl.metrics import compute_metrics

    pred = model.predict(X)
    result = compute_metrics(y, pred, model.task_type, tasks=model.tasks, metrics=[monitor])
    value = result["mean"][monitor]
    return float("nan") if value is None else float(value)


def fit(model_spec: dict, X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray,
        *, task_type: str, tasks: list[str], config: TrainConfig | dict | None = None,
        n_classes: int | None = None, featurizer_spec: dict | None = None, log=None) -> tuple[TrainedModel, list]:
    """Train one model on the training split, early-stopped on the validation split.

    X_*: arrays as stored on disk (N, ...); y_*: float32 (N, T), NaN = missing label (multiclass:
    class index in column 0). Returns the model with the best validation weights restored, and
    the per-epoch history (list of dicts).
    """
    import torch

    from biodl.device import describe_device, resolve_device
    from biodl.metrics import METRIC_DIRECTION, primary_metric
    from biodl.models import build_model

    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    if task_type not in TASK_TYPES:
        raise UserError(f"unknown task type {task_type!r} (choose from {', '.join(TASK_TYPES)})")
    loss_name = config.loss or DEFAULT_LOSS[task_type]
    if loss_name not in LOSSES_FOR[task_type]:
        raise UserError(f"loss {loss_name!r} does not fit task type {task_type} "
                        f"(choose from {', '.join(LOSSES_FOR[task_type])})")
    if len(X_train) == 0 or len(X_valid) == 0:
        raise UserError("training needs non-empty train and validation splits")
    if task_type == "multiclass":
        n_classes = n_classes or int(np.nanmax(y_train)) + 1
    monitor = config.monitor or primary_metric(task_type)[0]
    if monitor not in METRIC_DIRECTION:
        raise UserError(f"train.monitor: unknown metric {monitor!r}")
    greater = METRIC_DIRECTION[monitor]

    device = resolve_device(config.device)
    seed_everything(config.seed)
    pre = Preprocessor(task_type, clip=config.clip_features).fit(X_train, y_train)
    n_out = n_outputs_for(task_type, loss_name, len(tasks), n_classes)
    module = build_model(model_spec, input_shape=tuple(X_train.shape[1:]), n_outputs=n_out).to(device)
    model = TrainedModel(module=module, model_spec={"type": model_spec["type"], **module.config},
                         input_shape=tuple(X_train.shape[1:]), task_type=task_type, tasks=list(tasks),
                         loss=loss_name, preprocessor=pre, n_classes=n_classes, featurizer_spec=featurizer_spec)

    Xt = torch.from_numpy(pre.transform_X(X_train)).to(device)
    yt = torch.from_numpy(pre.transform_y(np.asarray(y_train))).to(device)
    # a model whose step is mostly the optimizer (the MLP on sparse fingerprints) asks for torch's fused Adam
    wants_fused = getattr(module, "wants_fused_optimizer", None)
    fused = {"fused": True} if (wants_fused is not None and config.optimizer in ("adam", "adamw")
                                and wants_fused(Xt[:config.batch_size])) else {}
    optimizer = OPTIMIZERS[config.optimizer](module.parameters(), config, **fused)
    scheduler = None
    if config.lr_schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max" if greater else "min",
                                                               factor=0.5, patience=max(1, config.patience // 3))
    elif config.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    generator = torch.Generator().manual_seed(config.seed)

    best, best_epoch, best_state, history, waited = None, -1, None, [], 0
    epochs = range(config.epochs)
    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(epochs, desc=f"train {model_spec['type']}", leave=False, dynamic_ncols=True,
                   disable=None)  # None: off when not a terminal (Snakemake logs)
        epochs = bar
    for epoch in epochs:
        t0 = time.perf_counter()
        module.train()
        order = torch.randperm(len(Xt), generator=generator).to(device)
        total, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            if len(idx) < 2 and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules()):
                continue  # batch norm cannot train on a single sample
            optimizer.zero_grad(set_to_none=True)
            loss = masked_loss(loss_name, module(Xt[idx]), yt[idx])
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(module.parameters(), config.grad_clip)
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        score = _score(model, X_valid, y_valid, monitor)
        if math.isnan(score):
            raise UserError(f"validation {monitor} is NaN at epoch {epoch} (diverged, or the validation "
                            "split holds one class): lower the learning rate or change the split")
        improved = best is None or (score > best if greater else score < best)
        if improved:
            best, best_epoch, waited = score, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            waited += 1
        lr = optimizer.param_groups[0]["lr"]
        history.append({"epoch": epoch, "train_loss": total / max(seen, 1), f"valid_{monitor}": score,
                        "lr": lr, "seconds": time.perf_counter() - t0})
        if bar is not None:
            bar.set_postfix({monitor: f"{score:.4f}", "best": f"{best:.4f}"})
        if log:
            log(f"epoch {epoch:4d}  train_loss {total / max(seen, 1):.4f}  valid_{monitor} {score:.4f}  lr {lr:.2e}")
        if scheduler is not None:
            scheduler.step(score) if config.lr_schedule == "plateau" else scheduler.step()
        if waited >= config.patience:
            break
    module.load_state_dict(best_state)
    module.eval()
    model.info = {"train_config": asdict(config), "monitor": monitor, "best_epoch": best_epoch,
                  f"best_valid_{monitor}": best, "epochs_run": len(history), "device": describe_device(device),
                  "n_train": int(len(X_train)), "n_valid": int(len(X_valid))}
    return model, history
