"""Stage 3, train: features + split → results/models/{experiment}/.

Every hyperparameter-search trial (grid, random or optuna: :mod:`biodl.search`) trains on the
training part and is scored on the validation part; the best trial is kept, the other members of a deep ensemble are trained with its
configuration, and the uncertainty calibrators are fitted on validation rows. The directory holds
model.pt, history.csv (the selected trial), search.csv (every trial) and manifest.json; an optuna
search also keeps its study beside it (``<dir>.search.journal``, ``<dir>.search.best.pt``) to
resume from. The training loop itself is :func:`biodl.train.fit`.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biodl.errors import UserError
from biodl.search import search_trials
from biodl.stages.split import positions
from biodl.uncertainty import UncertaintySpec


# -- the trials' configurations (search_trials, grid and random: biodl.search) -------------------
def apply_overrides(model: dict, train: dict, overrides: Mapping) -> tuple[dict, dict]:
    model, train = deepcopy(model), deepcopy(train)
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        (model if section == "model" else train)[name] = value
    return model, train


def _model_spec_for(model: dict, featurizer: Mapping) -> dict:
    """Fill in what the features imply: an RNN reads tokens or DNA, with the real vocabulary."""
    model = dict(model)
    if model.get("type") == "rnn":
        if featurizer["type"] == "onehot":
            model.setdefault("input", "dna")
        elif featurizer["type"] == "smiles_tokens":
            model.setdefault("input", "tokens")
            model.setdefault("vocab_size", len(featurizer["vocabulary"]))
    return model


def calibration_halves(valid: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Validation positions → (selection / early-stopping half, calibration half): disjoint, seeded."""
    order = np.random.default_rng(seed).permutation(valid)
    n_cal = (len(order) + 1) // 2
    return np.sort(order[n_cal:]), np.sort(order[:n_cal])


# -- the stage, in the order it runs --------------------------------------------------------------
@dataclass
class _Plan:
    """What one experiment trains on: data, split positions, calibration rows and settings."""

    name: str
    experiment: Mapping
    ds: Any
    split: dict
    pos: dict
    task_type: str
    unc: UncertaintySpec
    calibration_rows: np.ndarray
    where: str
    base_train: dict
    seed: int
    train_seed: int
    #: features left in their memory map, each batch read from disk (train.load)
    from_disk: bool = False

    def fit(self, overrides: Mapping, seed: int, log=None, progress=None):
        """Train the experiment's model with ``overrides`` from ``seed`` on train, early-stopped on valid."""
        from biodl.train import TrainConfig, fit

        model_spec, train_cfg = apply_overrides(self.experiment["model"], self.base_train, overrides)
        model_spec = _model_spec_for(model_spec, self.ds.manifest["featurizer"])
        config = TrainConfig.from_dict({**train_cfg, "seed": seed})
        X, y, train, valid = self.ds.X, self.ds.y, self.pos["train"], self.pos["valid"]
        if self.from_disk:
            from biodl.dataset import RowView

            X_train, X_valid = RowView(X, train), RowView(X, valid)
        else:
            X_train, X_valid = X[train], X[valid]
        return fit(model_spec, X_train, y[train], X_valid, y[valid], task_type=self.task_type, tasks=self.ds.tasks,
                   config=config, n_classes=self.experiment.get("n_classes"),
                   featurizer_spec=self.ds.manifest["featurizer"], log=log, progress=progress)


def _plan(name: str, experiment: Mapping, features, split_path, seed: int) -> _Plan:
    """Load the data, place the split, set the calibration rows aside, and check — before minutes
    of training — that the uncertainty settings fit the task and the validation split."""
    from biodl.dataset import load_dataset
    from biodl.splits import load_split
    from biodl.tasks import TASKS, infer_task_type, task_class
    from biodl.train import derive_seed

    from_disk = _from_disk(features, experiment.get("train", {}).get("load", "auto"))
    ds = load_dataset(features, mmap=from_disk)
    split = load_split(split_path)
    pos = positions(ds, split, str(split_path))
    task_type = experiment.get("task") or infer_task_type(ds.y)
    unc = UncertaintySpec.from_dict(experiment.get("uncertainty"))
    calibration_rows = pos["valid"]
    if unc.calibration_rows == "separate":
        # residuals on rows early stopping already fitted are optimistic (bench/uncertainty.py --diagnose:
        # about -0.04 test coverage at 90 %): calibrate on a seeded half that selection never sees
        pos["valid"], calibration_rows = calibration_halves(pos["valid"], derive_seed(seed, name, "calibration"))
    where = "validation split" if unc.calibration_rows == "shared" else "calibration half of the validation split"
    if len(calibration_rows):
        task_class(task_type).check_calibration_rows(ds.y[calibration_rows], unc.levels,
                                                     f"experiment {name!r}, {where}")
    base_train = dict(experiment.get("train", {}))
    if unc.heteroscedastic:
        variance_loss = task_class(task_type).heteroscedastic_loss
        if variance_loss is None:
            able = ", ".join(n for n, c in TASKS.items() if c.heteroscedastic_loss)
            raise UserError(f"experiment {name!r}: uncertainty.heteroscedastic applies to {able}, not {task_type}")
        base_train.setdefault("loss", variance_loss)
    return _Plan(name, experiment, ds, split, pos, task_type, unc, calibration_rows, where, base_train, seed,
                 derive_seed(seed, name), from_disk)


def _from_disk(features, load: str) -> bool:
    """train.load → whether to train from the memory map: always for disk, never for memory or
    graphs, and for auto when the features would take over a quarter of the memory available."""
    from biodl.train import features_fit_in_memory

    files = [Path(features) / "X.npy", *Path(features).glob("graph_*.npy")]
    if load == "memory" or len(files) > 1:  # graphs (MolGraphs) are gathered in memory
        return False
    return load == "disk" or not features_fit_in_memory(sum(f.stat().st_size for f in files if f.is_file()))


def _search(plan: _Plan, out: Path, log, progress) -> tuple[tuple, list[dict]]:
    """Every trial from the experiment's seed; the best on the validation split and a row per trial."""
    from biodl.metrics import is_better
    from biodl.search import method_of
    from biodl.train import derive_seed

    search = plan.experiment.get("search")
    seed = derive_seed(plan.seed, plan.name, "search")
    if search and method_of(search) == "optuna":
        return _optuna_search(plan, search, seed, out, log, progress)
    trials, best = [], None
    overrides_list = search_trials(search, seed)
    # the job's fits, for its progress and time estimate: every trial, then the other ensemble members
    progress.start(len(overrides_list) + _more_members(plan))
    for i, overrides in enumerate(overrides_list):
        t0 = time.perf_counter()
        log(f"trial {i}: {json.dumps(overrides, sort_keys=True)}")
        progress.begin_fit(f"trial {i}")
        model, history = plan.fit(overrides, plan.train_seed, log, progress.epoch)
        monitor = model.info["monitor"]
        score = model.info[f"best_valid_{monitor}"]
        trials.append({"trial": i, "state": "complete", **{k: json.dumps(v) for k, v in overrides.items()},
                       f"valid_{monitor}": score, "best_epoch": model.info["best_epoch"],
                       "epochs_run": model.info["epochs_run"], "seconds": round(time.perf_counter() - t0, 2)})
        if best is None or is_better(score, best[0], monitor):
            best = (score, i, overrides, model, history)
    return best, trials


def _more_members(plan: _Plan) -> int:
    return plan.unc.members - 1 if plan.unc.method == "ensemble" else 0


def _optuna_search(plan: _Plan, search: Mapping, seed: int, out: Path, log, progress) -> tuple[tuple, list[dict]]:
    """TPE with pruning, resumable: the study is kept in ``<out>.search.journal`` and the best
    trial's model in ``<out>.search.best.pt`` (biodl.search)."""
    import hashlib

    from biodl import search as hs
    from biodl.device import resolve_device
    from biodl.metrics import METRIC_DIRECTION
    from biodl.tasks import task_class
    from biodl.train import TrainConfig, TrainedModel

    dims = hs.parse_space(search.get("space"))
    config = TrainConfig.from_dict(dict(plan.base_train))
    monitor = config.monitor or task_class(plan.task_type).primary_metric
    written = hs.written_values(dims, plan.experiment["model"], plan.base_train)
    data = hashlib.sha256(json.dumps(plan.ds.manifest, sort_keys=True, default=str).encode())
    for part in ("train", "valid"):
        data.update(np.asarray(plan.pos[part], np.int64).tobytes())
    name = hs.study_name(plan.name, {"experiment": _search_identity(plan.experiment), "seed": plan.seed,
                                     "data": data.hexdigest()})
    journal, checkpoint = hs.journal_path(out), hs.checkpoint_path(out)
    study = hs.open_study(journal, name, METRIC_DIRECTION[monitor], hs.pruner(search, config.patience, config.epochs),
                          log)
    hs.enqueue_as_written(study, dims, written)
    n_done = len(hs.finished(study))
    to_go = max(0, hs.trial_budget(search, dims) - n_done)
    if n_done:
        log(f"search: {n_done} trial(s) finished in {journal}; {to_go} to go")
    progress.start(to_go + _more_members(plan))

    def save_best(k: int, model, history) -> None:
        model.info["search_checkpoint"] = {"study": name, "trial": k, "history": history}
        try:
            model.save(checkpoint)
        finally:
            del model.info["search_checkpoint"]

    rows, overrides_of, here = hs.optuna_search(
        search, study=study, seed=seed, dims=dims, written=written, monitor=monitor,
        train=lambda overrides, hook: plan.fit(overrides, plan.train_seed, log, hook), on_best=save_best, log=log,
        begin_fit=progress.begin_fit, epoch=progress.epoch, report=search.get("pruner", "median") != "none")
    best = hs.best_row(rows, monitor)
    if best is None:
        raise UserError(f"experiment {plan.name!r}: no search trial completed (see {journal})")
    k, overrides = best["trial"], overrides_of[best["trial"]]
    if here is not None and here.row["trial"] == k:
        model, history = here.model, here.history
    else:
        model, history = _checkpoint(checkpoint, name, k, resolve_device(config.device), TrainedModel)
        if model is None:
            log(f"trial {k}: training again (its model from an earlier run was not kept)")
            progress.begin_fit(f"trial {k} again")
            model, history = plan.fit(overrides, plan.train_seed, log, progress.epoch)
    return (best[f"valid_{monitor}"], k, overrides, model, history), rows


def _search_identity(experiment: Mapping) -> dict:
    """What shapes an optuna study's trials: not n_trials (a larger one extends the study), not what
    only the report, the baseline or the calibration reads."""
    out = {k: v for k, v in experiment.items()
           if k not in ("description", "baseline", "test_sets", "replicates", "gpu", "uncertainty", "search")}
    out["search"] = {k: v for k, v in experiment["search"].items() if k != "n_trials"}
    unc = experiment.get("uncertainty") or {}
    out["uncertainty"] = {k: unc[k] for k in ("calibration_rows", "heteroscedastic") if k in unc}
    return out


def _checkpoint(path: Path, study: str, k: int, device: str, model_class) -> tuple[Any, list | None]:
    """The model and history trial ``k`` of ``study`` left in ``path``, or (None, None)."""
    if not path.is_file():
        return None, None
    try:
        model = model_class.load(path, device=device)
    except UserError:
        return None, None
    saved = model.info.pop("search_checkpoint", None) or {}
    if saved.get("study") != study or saved.get("trial") != k:
        return None, None
    return model, saved.get("history") or []


def _ensemble_members(plan: _Plan, overrides: Mapping, log, progress) -> list:
    """Members 1..K-1 of a deep ensemble: the selected configuration from other seeds. A member
    that fails to train fails the run: a silently smaller ensemble would understate σ."""
    from biodl.train import derive_seed

    if plan.unc.method != "ensemble":
        return []
    members = []
    for k in range(1, plan.unc.members):
        log(f"ensemble member {k + 1} of {plan.unc.members}")
        progress.begin_fit(f"ensemble member {k + 1} of {plan.unc.members}")
        try:
            member, _ = plan.fit(overrides, derive_seed(plan.seed, plan.name, "member", str(k)), log, progress.epoch)
        except Exception as exc:  # noqa: BLE001 — any failure of a member fails the ensemble, loudly
            raise UserError(f"experiment {plan.name!r}: ensemble member {k + 1} of {plan.unc.members} failed to "
                            f"train ({type(exc).__name__}: {exc}); no smaller ensemble is saved") from None
        members.append(member)
    return members


def _calibrate(plan: _Plan, model) -> None:
    """Uncertainty spec, calibrators (validation rows only) and, for molecules, the training domain."""
    from biodl.domain import domain_payload, is_molecular
    from biodl.uncertainty import calibrate, sample_outputs

    rows = plan.calibration_rows
    model.uncertainty = plan.unc.to_dict()
    model.calibration = calibrate(model, sample_outputs(model, plan.ds.X[rows], plan.unc, seed=plan.train_seed),
                                  plan.ds.y[rows], plan.unc, what=f"experiment {plan.name!r}, {plan.where}")
    if is_molecular(plan.ds.manifest["featurizer"]):
        model.domain = domain_payload(plan.ds.meta["input"].to_numpy()[plan.pos["train"]].tolist())


def train_experiment(name: str, experiment: Mapping, features: str | Path, split_path: str | Path,
                     out: str | Path, *, seed: int = 0, log: Callable[[str], None] | None = None,
                     progress=None) -> dict:
    """Train the experiment's model (every search trial) on train, select on valid, save the best.

    Writes ``out/``: model.pt, history.csv (selected trial), search.csv (all trials, validation
    score each) and manifest.json. Returns the manifest. ``progress``: a
    :class:`biodl.progress.TrainProgress` (fit k of K, epochs, time left).
    """
    from biodl.io import atomic_dir
    from biodl.progress import NoProgress

    log = log or (lambda msg: None)
    progress = progress or NoProgress()
    from biodl.tasks import task_class

    if experiment.get("task") and task_class(experiment["task"]).pixelwise:
        return _train_segmenter(name, experiment, features, split_path, Path(out), seed, log, progress)
    plan = _plan(name, experiment, features, split_path, seed)
    (score, index, overrides, model, history), trials = _search(plan, Path(out), log, progress)
    monitor = model.info["monitor"]
    model.info.update({"experiment": name, "selected_trial": index, "selected_overrides": overrides,
                       "train_seed": plan.train_seed,
                       "split": {"method": plan.split.get("method"), "seed": plan.split.get("seed"),
                                 "path": str(split_path)}})
    members = _ensemble_members(plan, overrides, log, progress)
    model.members = [m.module for m in members]
    _calibrate(plan, model)
    ds = plan.ds
    manifest = {
        "experiment": name, "task_type": plan.task_type, "tasks": ds.tasks, "model_spec": model.model_spec,
        "featurizer": ds.manifest["featurizer"], "features": str(features), "seed": seed,
        "train_seed": plan.train_seed, "selected_trial": index, "selected_overrides": overrides,
        f"valid_{monitor}": score, "n_trials": len(trials), "info": model.info, "versions": ds.manifest["versions"],
        "uncertainty": model.uncertainty, "calibration": model.calibration,
        "ensemble": {"members": 1 + len(members), "member_valid_scores": [score] + [
            m.info[f"best_valid_{monitor}"] for m in members]} if members else None,
    }
    with atomic_dir(Path(out)) as tmp:
        model.save(tmp / "model.pt")
        (tmp / "history.csv").write_text(_csv(history))
        (tmp / "search.csv").write_text(_csv(trials))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    progress.finish(monitor, score)
    return manifest


def _train_segmenter(name: str, experiment: Mapping, features, split_path, out: Path, seed: int, log,
                     progress) -> dict:
    """The segmentation task's training: a U-Net on the training images' masks (random crops),
    early-stopped on the validation images' loss, instance thresholds chosen on validation
    (:func:`biodl.segmentation.fit_unet`); no search, ensemble or calibration (the spec refuses them)."""
    import inspect

    from biodl.dataset import load_dataset
    from biodl.device import describe_device, resolve_device
    from biodl.io import atomic_dir
    from biodl.segmentation import fit_unet
    from biodl.splits import load_split
    from biodl.tasks import Segmentation
    from biodl.train import TrainConfig, derive_seed

    ds = load_dataset(features, mmap=False)
    masks = ds.masks
    if masks is None:
        raise UserError(f"experiment {name!r}: segmentation needs instance masks, and {features} has none "
                        "(give the images source a masks: folder)")
    split = load_split(split_path)
    pos = positions(ds, split, str(split_path))
    config = TrainConfig.from_dict(experiment.get("train"))
    defaults = {k: p.default for k, p in inspect.signature(fit_unet).parameters.items()}
    settings = {"crop": config.crop or defaults["crop"],
                "steps_per_epoch": config.steps_per_epoch or defaults["steps_per_epoch"],
                "batch_size": config.batch_size, "epochs": config.epochs, "patience": config.patience,
                "lr": config.lr, "weight_decay": config.weight_decay}
    model_spec = {"type": "unet", **{k: v for k, v in experiment["model"].items() if k != "type"}}
    train_seed = derive_seed(seed, name)
    device = resolve_device(config.device)
    progress.start(1)
    progress.begin_fit("U-Net")
    fit = fit_unet(ds.X[pos["train"]], masks[pos["train"]], ds.X[pos["valid"]], masks[pos["valid"]],
                   **{k: v for k, v in model_spec.items() if k != "type"}, **settings, seed=train_seed,
                   device=device, log=log, progress=progress.epoch)
    best = min(h["valid_loss"] for h in fit.history)
    fit.featurizer_spec = ds.manifest["featurizer"]
    fit.info = {"experiment": name, "train_config": {**settings, "loss": "ce_dice"},
                "monitor": "loss", "best_epoch": fit.best_epoch,
                "epochs_run": len(fit.history), "best_valid_loss": best,
                "thresholds": {"foreground": fit.foreground, "interior": fit.interior},
                "device": describe_device(device),
                "split": {"method": split.get("method"), "seed": split.get("seed"), "path": str(split_path)}}
    manifest = {
        "experiment": name, "task_type": experiment["task"], "tasks": [Segmentation.TASK], "model_spec": fit.net.spec,
        "featurizer": ds.manifest["featurizer"], "features": str(features), "seed": seed, "train_seed": train_seed,
        "selected_trial": 0, "selected_overrides": {}, "valid_loss": best, "n_trials": 1, "info": fit.info,
        "versions": ds.manifest["versions"], "uncertainty": {"method": "none"}, "calibration": {}, "ensemble": None,
    }
    with atomic_dir(out) as tmp:
        fit.save(tmp / "model.pt")
        (tmp / "history.csv").write_text(_csv(fit.history))
        (tmp / "search.csv").write_text(_csv([{"trial": 0, "state": "complete", "valid_loss": best,
                                               "best_epoch": fit.best_epoch, "epochs_run": len(fit.history)}]))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    progress.finish("loss", best)
    return manifest


def _csv(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()
