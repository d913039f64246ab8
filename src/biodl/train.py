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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from biodl import __version__
from biodl.dataset import RowView
from biodl.errors import UserError, settings_from_dict
from biodl.encodings import reverse_complement_codes
from biodl.graphs import MolGraphs, to_model_input
from biodl.losses import LOSSES
from biodl.metrics import METRIC_DIRECTION
from biodl.registry import Choices, Interval, Registry
from biodl.tasks import Task, make_task

MODEL_FORMAT = 1


# -- optimizers and learning-rate schedules, by name ---------------------------------------------
OPTIMIZERS: Registry = Registry("optimizer")
SCHEDULES: Registry = Registry("learning-rate schedule")


@dataclass(frozen=True)
class Optimizer:
    """A torch optimizer built from ``train:`` settings: lr and weight decay, plus momentum where the
    method has one; ``fusable``: torch has a fused kernel for it (one pass per tensor), which fit
    asks for when the model wants it."""

    name: str
    torch_class: str
    momentum: bool = False
    fusable: bool = False

    def build(self, params, c, fused=None):
        import torch

        extra = {"momentum": c.momentum} if self.momentum else {"fused": fused}
        return getattr(torch.optim, self.torch_class)(params, lr=c.lr, weight_decay=c.weight_decay, **extra)


for _optimizer in (Optimizer("adam", "Adam", fusable=True), Optimizer("adamw", "AdamW", fusable=True),
                   Optimizer("rmsprop", "RMSprop", momentum=True), Optimizer("sgd", "SGD", momentum=True)):
    OPTIMIZERS.register(_optimizer)


class Schedule:
    """``build(optimizer, config, greater)`` → a torch scheduler (or None); ``step`` once per epoch."""

    name: ClassVar[str]

    @staticmethod
    def build(optimizer, c, greater: bool):
        return None

    @staticmethod
    def step(scheduler, score: float) -> None:
        pass


@SCHEDULES.register
class Constant(Schedule):
    name = "none"


@SCHEDULES.register
class Plateau(Schedule):
    """Halve the rate when the validation score has not improved for a third of the patience."""

    name = "plateau"

    @staticmethod
    def build(optimizer, c, greater):
        import torch

        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max" if greater else "min",
                                                          factor=0.5, patience=max(1, c.patience // 3))

    @staticmethod
    def step(scheduler, score):
        scheduler.step(score)


@SCHEDULES.register
class Cosine(Schedule):
    """Cosine decay over the epoch budget."""

    name = "cosine"

    @staticmethod
    def build(optimizer, c, greater):
        import torch

        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=c.epochs)

    @staticmethod
    def step(scheduler, score):
        scheduler.step()


@dataclass
class TrainConfig:
    """Optimisation settings; ``TrainConfig.from_dict`` rejects unknown keys by name."""

    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    momentum: float = 0.9  # sgd / rmsprop only
    patience: int = 20  # epochs without validation improvement before stopping
    monitor: str | None = None  # validation metric; None = the task's primary metric
    loss: str | None = None  # None = the task type's default; gaussian_nll = heteroscedastic head
    class_weight: str = "none"  # binary: "balanced" weighs positives by negatives / positives per task
    augment: str = "none"  # DNA codes: "reverse_complement" flips a random half of each batch to the other strand
    lr_schedule: str = "none"
    grad_clip: float | None = None  # max gradient norm
    clip_features: float = 10.0  # standardized float features are clipped to ±this (heavy tails)
    device: str = "auto"
    seed: int = 0
    progress: bool = True
    # segmentation (the U-Net trains on random crops, flipped and turned): crop side in pixels and
    # batches per epoch; None = biodl.segmentation's defaults. Other tasks refuse them (biodl.spec).
    crop: int | None = None
    steps_per_epoch: int | None = None
    # how the train stage hands features to the loop: "memory" reads the training rows into memory
    # once; "disk" leaves them in the dataset's memory map and reads each shuffled batch from it
    # (biodl.dataset.RowView), for data larger than RAM; "auto" picks disk when the features take
    # more than a quarter of the memory available. The numbers are the same either way (tested).
    load: str = "auto"

    param_constraints: ClassVar[dict] = {
        "epochs": Interval(1, None), "batch_size": Interval(1, None), "lr": Interval(0, None, closed="neither"),
        "weight_decay": Interval(0, None), "momentum": Interval(0, 1, closed="left"),
        "patience": Interval(1, None), "grad_clip": Interval(0, None, closed="neither"),
        "clip_features": Interval(0, None, closed="neither"), "optimizer": Choices(*OPTIMIZERS.names()),
        "lr_schedule": Choices(*SCHEDULES.names()), "loss": Choices(*LOSSES.names()),
        "monitor": Choices(*METRIC_DIRECTION), "class_weight": Choices("none", "balanced"),
        "augment": Choices("none", "reverse_complement"), "crop": Interval(8, None),
        "steps_per_epoch": Interval(1, None), "load": Choices("auto", "memory", "disk"),
    }

    @classmethod
    def from_dict(cls, values: dict | None) -> TrainConfig:
        config = settings_from_dict(cls, values, "train")
        OPTIMIZERS.get(config.optimizer, "train.optimizer")
        SCHEDULES.get(config.lr_schedule, "train.lr_schedule")
        return config


# -- preprocessing fitted on the training split only -------------------------------------------
@dataclass
class Preprocessor:
    """Feature imputation / scaling and target scaling, fitted on training rows only.

    Float (N, D) features (descriptors): NaN → training median, then standardized and clipped.
    Bits, codes and images pass through unchanged. Targets are standardized per task where the
    task type asks for it (``Task.target_scaling``); predictions are reported back in their units.
    """

    clip: float = 10.0
    x_median: list | None = None
    x_mean: list | None = None
    x_std: list | None = None
    y_mean: list | None = None
    y_std: list | None = None

    def fit(self, X: np.ndarray, y: np.ndarray, task: Task, scale_targets: bool = True) -> Preprocessor:
        X = _float_features(X)
        if X is not None:
            X = np.asarray(X, np.float64)
            median = np.nanmedian(X, axis=0)
            median = np.where(np.isnan(median), 0.0, median)  # a descriptor NaN for every training row
            filled = np.where(np.isnan(X), median, X)
            std = filled.std(axis=0)
            self.x_median, self.x_mean = median.tolist(), filled.mean(axis=0).tolist()
            self.x_std = np.where(std > 0, std, 1.0).tolist()
        scaling = task.target_scaling(y) if scale_targets else None
        if scaling is not None:
            self.y_mean, self.y_std = scaling
        return self

    def transform_X(self, X: np.ndarray) -> np.ndarray:
        if self.x_mean is None:
            return X if isinstance(X, MolGraphs) else np.ascontiguousarray(X)
        F = np.asarray(_float_features(X), np.float64)
        F = np.where(np.isnan(F), np.asarray(self.x_median), F)
        F = (F - np.asarray(self.x_mean)) / np.asarray(self.x_std)
        F = np.clip(F, -self.clip, self.clip).astype(np.float32)
        return X.with_mol_features(F) if isinstance(X, MolGraphs) else F

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        if self.y_mean is None:
            return y.astype(np.float32)
        return ((y - np.asarray(self.y_mean)) / np.asarray(self.y_std)).astype(np.float32)

    def inverse_y(self, y: np.ndarray, scale_only: bool = False) -> np.ndarray:
        """Back to original units (``scale_only`` for standard deviations)."""
        if self.y_mean is None:
            return y
        std = np.asarray(self.y_std)
        return y * std if scale_only else y * std + np.asarray(self.y_mean)

    def state(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict) -> Preprocessor:
        """From a model file; files before the task classes also stored the task type here."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in state.items() if k in known})


def _float_features(X):
    """The float (N, D) block to impute and standardize: X itself (descriptors), a graph set's
    molecule features, or None (bits, codes, images, graphs without molecule features)."""
    if isinstance(X, MolGraphs):
        return X.mol_features
    return X if X.dtype.kind == "f" and X.ndim == 2 else None


# -- the trained model and its file ------------------------------------------------------------
@dataclass
class TrainedModel:
    """A trained network with everything needed to predict from raw inputs.

    ``predict(X)`` returns what the task's ``link`` makes of the outputs: original-unit values
    (regression, (N, T)), probabilities of class 1 (binary, (N, T)) or class probabilities
    (multiclass, (N, C)); with a variance head, ``predict(X, return_std=True)`` also gives the
    aleatoric σ in original units.
    """

    module: Any
    model_spec: dict
    input_shape: tuple
    task: Task
    preprocessor: Preprocessor
    featurizer_spec: dict | None = None
    info: dict = field(default_factory=dict)
    #: further deep-ensemble members (same architecture and preprocessing, other seeds)
    members: list = field(default_factory=list)
    #: the experiment's uncertainty spec and the calibrators fitted on its validation split
    uncertainty: dict | None = None
    calibration: dict | None = None
    #: applicability domain of molecule models: training fingerprints (bits, counts), descriptor
    #: ranges and elements (biodl.domain.domain_payload)
    domain: dict | None = None

    @property
    def task_type(self) -> str:
        return self.task.name

    @property
    def tasks(self) -> list[str]:
        return self.task.tasks

    @property
    def loss(self) -> str:
        return self.task.loss.name

    @property
    def n_classes(self) -> int | None:
        return self.task.n_classes

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
        outs = []
        with torch.no_grad():
            # preprocessed a batch at a time: memory-mapped features are read as they are needed
            for start in range(0, len(X), batch_size):
                batch = self.preprocessor.transform_X(X[start:start + batch_size])
                outs.append(module(to_model_input(batch, device)).float().cpu().numpy())
        module.eval()
        return np.concatenate(outs) if outs else np.zeros((0, self.task.n_outputs), np.float32)

    def link(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Outputs → (predictions in original units / probabilities, aleatoric σ or None)."""
        return self.task.link(out, self.preprocessor)

    def predict(self, X: np.ndarray, batch_size: int = 1024, return_std: bool = False):
        pred, sigma = self.link(self.raw_outputs(X, batch_size))
        return (pred, sigma) if return_std else pred

    # -- persistence: a dict of tensors and plain types, loadable with weights_only=True -----------
    def save(self, path: str | os.PathLike) -> None:
        import torch

        from biodl.io import atomic_file

        payload = {
            "format": MODEL_FORMAT,
            "biodl_version": __version__,
            "model_spec": self.model_spec,
            "input_shape": list(self.input_shape),
            "task_type": self.task.name,
            "tasks": list(self.task.tasks),
            "loss": self.task.loss.name,
            "n_classes": self.task.n_classes,
            "preprocessor": self.preprocessor.state(),
            "featurizer_spec": self.featurizer_spec,
            "info": json.loads(json.dumps(self.info, default=str)),
            "state_dict": _cpu_state(self.module),
            "members": [_cpu_state(m) for m in self.members],
            "uncertainty": self.uncertainty,
            "calibration": self.calibration,
            "domain": self.domain,
        }
        with atomic_file(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> TrainedModel:
        path = Path(path)
        payload = read_model_file(path)
        if payload.get("kind") == "segmentation":
            raise UserError(f"{path}: a segmentation model (U-Net); it predicts masks through biodl.segmentation")
        try:
            task = make_task(payload["task_type"], payload["tasks"], loss=payload["loss"],
                             n_classes=payload["n_classes"])
            preprocessor = Preprocessor.from_state(payload["preprocessor"])
            modules = [_load_module(payload, state, task, device)
                       for state in [payload["state_dict"], *payload.get("members", [])]]
            return cls(module=modules[0], model_spec=payload["model_spec"],
                       input_shape=tuple(payload["input_shape"]), task=task, preprocessor=preprocessor,
                       featurizer_spec=payload["featurizer_spec"], info=payload["info"], members=modules[1:],
                       uncertainty=payload.get("uncertainty"), calibration=payload.get("calibration"),
                       domain=payload.get("domain"))
        except KeyError as exc:
            raise UserError(f"{path}: not a complete biodl model file (no {exc.args[0]!r})") from None
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None


def read_model_file(path: Path) -> dict:
    """The payload of a biodl model file (any kind: ``payload.get("kind")`` is "segmentation" for
    a U-Net segmenter), or a one-line UserError when it is missing, not one, or of another format."""
    import torch

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
    return payload


def _load_module(payload: dict, state: Any, task: Task, device: str | None):
    """One network of a model file, its weights checked against the architecture its spec builds."""
    from biodl.models import build_model

    module = build_model(payload["model_spec"], input_shape=tuple(payload["input_shape"]), n_outputs=task.n_outputs)
    if not isinstance(state, dict):
        raise UserError(f"the weights are a {type(state).__name__}, not a dict of tensors")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        # torch lists every missing / unexpected key and shape; the first is enough to name the fault
        detail = " ".join(str(exc).split("\n\t")[1:2]).strip() or str(exc).splitlines()[0]
        raise UserError(f"the weights do not fit the model spec {payload['model_spec'].get('type')!r}: "
                        f"{detail[:200]}") from None
    if device:
        module.to(device)
    module.eval()
    return module


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


@dataclass
class EarlyStopping:
    """The best validation score so far, its epoch and weights, and how long since it improved."""

    greater: bool
    patience: int
    best: float | None = None
    best_epoch: int = -1
    best_state: dict | None = None
    waited: int = 0

    def update(self, score: float, epoch: int, module) -> None:
        if self.best is None or (score > self.best if self.greater else score < self.best):
            self.best, self.best_epoch, self.waited = score, epoch, 0
            self.best_state = copy.deepcopy(module.state_dict())
        else:
            self.waited += 1

    @property
    def should_stop(self) -> bool:
        return self.waited >= self.patience

    def restore(self, module) -> None:
        module.load_state_dict(self.best_state)
        module.eval()


@dataclass
class _Run:
    """What the epoch loop works on: the model being trained, its tensors and optimizer."""

    model: TrainedModel
    Xt: Any
    yt: Any
    optimizer: Any
    schedule: type[Schedule]
    scheduler: Any
    generator: Any
    device: Any
    loss_fn: Any


def balanced_pos_weight(y: np.ndarray) -> np.ndarray:
    """float32 (T,): negatives / positives among the labelled rows of each task (1 where a task has
    no positive or no negative: there is nothing to balance)."""
    y = np.asarray(y, np.float64)
    pos, neg = np.nansum(y == 1, axis=0), np.nansum(y == 0, axis=0)
    return np.where((pos > 0) & (neg > 0), neg / np.maximum(pos, 1), 1.0).astype(np.float32)


def _setup(model_spec: dict, task: Task, X_train: np.ndarray, y_train: np.ndarray, config: TrainConfig,
           greater: bool, featurizer_spec: dict | None) -> _Run:
    """Seed, fit the preprocessing on the training rows, build the network and its optimizer."""
    import torch

    from biodl.device import resolve_device
    from biodl.models import build_model

    device = resolve_device(config.device)
    seed_everything(config.seed)
    module = build_model(model_spec, input_shape=tuple(X_train.shape[1:]), n_outputs=task.n_outputs).to(device)
    pre = Preprocessor(clip=config.clip_features).fit(X_train, y_train, task, scale_targets=not module.bounded_output)
    model = TrainedModel(module=module, model_spec={"type": model_spec["type"], **module.config},
                         input_shape=tuple(X_train.shape[1:]), task=task, preprocessor=pre,
                         featurizer_spec=featurizer_spec)
    if isinstance(X_train, RowView):  # training from disk: each batch read from the memory map
        Xt = _DiskBatches(X_train, pre, device)
    else:
        Xt = to_model_input(pre.transform_X(X_train), device)  # a tensor, or GraphTensors for graphs
    yt = torch.from_numpy(pre.transform_y(np.asarray(y_train))).to(device)
    method = OPTIMIZERS[config.optimizer]
    # a model whose step is mostly the optimizer (the MLP on sparse fingerprints) asks for torch's fused kernel
    wants_fused = getattr(module, "wants_fused_optimizer", None)
    fused = True if (wants_fused is not None and method.fusable
                     and wants_fused(Xt[:config.batch_size])) else None
    optimizer = method.build(module.parameters(), config, fused=fused)
    schedule = SCHEDULES[config.lr_schedule]
    scheduler = schedule.build(optimizer, config, greater)
    generator = torch.Generator().manual_seed(config.seed)
    loss_fn = task.loss
    if config.class_weight == "balanced":
        if task.loss.name != "bce":
            raise UserError(f"train.class_weight balanced applies to binary tasks (loss bce), not {task.name}")
        loss_fn = type(task.loss)(pos_weight=torch.from_numpy(balanced_pos_weight(y_train)).to(device))
    sample = Xt[:1] if isinstance(Xt, _DiskBatches) else Xt
    if config.augment == "reverse_complement" and not (isinstance(sample, torch.Tensor)
                                                       and sample.dtype == torch.uint8 and sample.dim() == 2):
        raise UserError("train.augment reverse_complement applies to DNA codes (the 'onehot' featurizer), "
                        f"not to {model_spec['type']} inputs of this featurizer")
    return _Run(model, Xt, yt, optimizer, schedule, scheduler, generator, device, loss_fn)


class _DiskBatches:
    """Training rows left on disk: ``batches[idx]`` is the model input of rows ``idx`` (read from the
    memory map, preprocessed, on the device), what ``Xt[idx]`` gives for rows held in memory, so the
    loop and its numbers are the same."""

    def __init__(self, rows: RowView, pre: Preprocessor, device):
        self.rows, self.pre, self.device = rows, pre, device

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            idx = np.arange(len(self.rows))[idx]
        return to_model_input(self.pre.transform_X(self.rows[idx]), self.device)


def features_fit_in_memory(nbytes: int) -> bool:
    """Whether ``nbytes`` of features take at most a quarter of the memory available now
    (``MemAvailable`` of /proc/meminfo; True where that cannot be read)."""
    try:
        with open("/proc/meminfo") as fh:
            available = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return True
    return nbytes <= available / 4


def _train_epoch(run: _Run, config: TrainConfig) -> float:
    """One pass over the training rows in a seeded order; the mean training loss."""
    import torch

    module, loss_fn = run.model.module, run.loss_fn
    module.train()
    order = torch.randperm(len(run.Xt), generator=run.generator).to(run.device)
    has_batch_norm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())
    total, seen = 0.0, 0
    for start in range(0, len(order), config.batch_size):
        idx = order[start:start + config.batch_size]
        if len(idx) < 2 and has_batch_norm:
            continue  # batch norm cannot train on a single sample
        run.optimizer.zero_grad(set_to_none=True)
        x = run.Xt[idx]
        if config.augment == "reverse_complement":
            # a binding site reads the same on either strand: show each window as one or the other
            flip = (torch.rand(len(idx), generator=run.generator) < 0.5).to(run.device)
            x = torch.where(flip[:, None], reverse_complement_codes(x), x)
        loss = loss_fn(module(x), run.yt[idx])
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(module.parameters(), config.grad_clip)
        run.optimizer.step()
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
    return total / max(seen, 1)


def _score(model: TrainedModel, X, y, monitor: str) -> float:
    pred = model.predict(X)
    value = model.task.score(y, pred, tasks=model.tasks, metrics=[monitor])["mean"][monitor]
    return float("nan") if value is None else float(value)


def _epochs(config: TrainConfig, label: str):
    """The epoch numbers, with a progress bar when asked for and on a terminal."""
    epochs = range(config.epochs)
    if not config.progress:
        return epochs, None
    from tqdm.auto import tqdm

    bar = tqdm(epochs, desc=f"train {label}", leave=False, dynamic_ncols=True,
               disable=None)  # None: off when not a terminal (Snakemake logs)
    return bar, bar


def fit(model_spec: dict, X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray,
        *, task_type: str, tasks: list[str], config: TrainConfig | dict | None = None,
        n_classes: int | None = None, featurizer_spec: dict | None = None, log=None,
        progress=None) -> tuple[TrainedModel, list]:
    """Train one model on the training split, early-stopped on the validation split.

    X_*: arrays as stored on disk (N, ...); y_*: float32 (N, T), NaN = missing label (multiclass:
    class index in column 0). Returns the model with the best validation weights restored, and
    the per-epoch history (list of dicts). ``log(line)`` gets every epoch; ``progress(state)`` too,
    as a dict (epoch, epochs, monitor, greater, score, best, best_epoch, patience, last: the fit's
    final epoch), for ``biodl.progress``.
    """
    from biodl.device import describe_device
    from biodl.metrics import select_metrics

    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    task = make_task(task_type, tasks, loss=config.loss, n_classes=n_classes)
    if len(X_train) == 0 or len(X_valid) == 0:
        raise UserError("training needs non-empty train and validation splits")
    task.infer_size(y_train)
    monitor = config.monitor or task.primary_metric
    if monitor not in METRIC_DIRECTION:
        raise UserError(f"train.monitor: unknown metric {monitor!r}")
    select_metrics(task.name, task.metrics, [monitor])  # a metric of another task type: one line, before training
    greater = METRIC_DIRECTION[monitor]

    run = _setup(model_spec, task, X_train, y_train, config, greater, featurizer_spec)
    model, stopper, history = run.model, EarlyStopping(greater, config.patience), []
    epochs, bar = _epochs(config, model_spec["type"])
    for epoch in epochs:
        t0 = time.perf_counter()
        train_loss = _train_epoch(run, config)
        score = _score(model, X_valid, y_valid, monitor)
        if math.isnan(score):
            raise UserError(f"validation {monitor} is NaN at epoch {epoch} (diverged, or the validation "
                            "split holds one class): lower the learning rate or change the split")
        stopper.update(score, epoch, model.module)
        lr = run.optimizer.param_groups[0]["lr"]
        history.append({"epoch": epoch, "train_loss": train_loss, f"valid_{monitor}": score,
                        "lr": lr, "seconds": time.perf_counter() - t0})
        if bar is not None:
            bar.set_postfix({monitor: f"{score:.4f}", "best": f"{stopper.best:.4f}"})
        if log:
            log(f"epoch {epoch:4d}  train_loss {train_loss:.4f}  valid_{monitor} {score:.4f}  lr {lr:.2e}")
        run.schedule.step(run.scheduler, score)
        if progress:
            progress({"epoch": epoch, "epochs": config.epochs, "monitor": monitor, "greater": greater,
                      "score": score, "best": stopper.best, "best_epoch": stopper.best_epoch,
                      "patience": config.patience, "last": stopper.should_stop or epoch == config.epochs - 1})
        if stopper.should_stop:
            break
    stopper.restore(model.module)
    model.info = {"train_config": asdict(config), "monitor": monitor, "best_epoch": stopper.best_epoch,
                  f"best_valid_{monitor}": stopper.best, "epochs_run": len(history),
                  "device": describe_device(run.device), "n_train": len(X_train),
                  "n_valid": len(X_valid)}
    return model, history
