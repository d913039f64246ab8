"""Pipeline stages after featurization, one function per CLI command and Snakemake rule:

    split     featurized dataset        -> results/splits/{dataset}/{split}.json
    train     features + split          -> results/models/{experiment}/  (model.pt, history, search)
    predict   model + features + split  -> results/predictions/{experiment}.parquet
    baseline  features + split          -> results/predictions/{experiment}.baseline.parquet
    evaluate  predictions + split       -> results/metrics/{experiment}.json

Splits are stored as raw record numbers (the ``row`` column of meta.parquet), so every
featurization of one dataset shares one split, whichever rows each featurizer rejected.
The test part is only read by ``predict`` / ``baseline`` (to write its predictions) and
``evaluate`` (to score them): model and hyperparameter choices see train and valid only.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections.abc import Callable, Mapping
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np

from biodl.domain import domain_payload, is_molecular, similarity_to_training
from biodl.errors import UserError
from biodl.uncertainty import UncertaintySpec, calibrate, sample_outputs

PARTS = ("train", "valid", "test")


# -- split --------------------------------------------------------------------------------------
def split_dataset(features: str | Path, spec: Mapping, out: str | Path, *, seed: int = 0,
                  dataset: str | None = None) -> dict:
    """Split the featurized dataset at ``features`` by ``spec`` and write the split JSON."""
    from biodl.dataset import load_dataset
    from biodl.splits import make_split, save_split

    ds = load_dataset(features)
    spec = {"seed": seed, **spec}
    split = make_split(ds.meta, ds.y, spec, tasks=ds.tasks)
    rows = ds.meta["row"].to_numpy()
    for part in (*PARTS, "dropped"):
        split[part] = rows[np.asarray(split[part], np.int64)].tolist()
    split.update({"n": ds.manifest["counts"]["in"], "index": "row", "dataset": dataset or ds.manifest["dataset"],
                  "reference_features": ds.manifest["featurizer"]})
    save_split(split, out)
    return split


def positions(ds, split: Mapping) -> dict[str, np.ndarray]:
    """Split rows → positions in this featurized dataset (rows it rejected are absent)."""
    pos = {int(r): i for i, r in enumerate(ds.meta["row"].tolist())}
    return {p: np.array([pos[r] for r in split[p] if r in pos], np.int64) for p in PARTS}


# -- hyperparameter search on the validation split ---------------------------------------------
def search_trials(search: Mapping | None, seed: int) -> list[dict]:
    """Overrides to try: ``{"method": grid|random, "space": {"model.dropout": [..], ...},
    "n_trials": k}``. The first trial is always the configuration as written (no overrides)
    when it is not in the grid anyway, so a search can only improve on the validation split."""
    if not search:
        return [{}]
    space = dict(search.get("space") or {})
    for key, values in space.items():
        if key.split(".")[0] not in ("model", "train") or not isinstance(values, list) or not values:
            raise UserError(f"search.space: {key!r} must be model.<param> or train.<param> with a list of values")
    keys = sorted(space)
    grid = [dict(zip(keys, combo)) for combo in itertools.product(*(space[k] for k in keys))]
    method = search.get("method", "grid")
    if method == "random":
        rng = np.random.default_rng(seed)
        n = min(int(search.get("n_trials", 10)), len(grid))
        grid = [grid[i] for i in sorted(rng.choice(len(grid), size=n, replace=False))]
    elif method != "grid":
        raise UserError(f"search.method: {method!r} (choose grid or random)")
    return grid


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


def train_experiment(name: str, experiment: Mapping, features: str | Path, split_path: str | Path,
                     out: str | Path, *, seed: int = 0, log: Callable[[str], None] | None = None) -> dict:
    """Train the experiment's model (every search trial) on train, select on valid, save the best.

    Writes ``out/``: model.pt, history.csv (selected trial), search.csv (all trials, validation
    score each) and manifest.json. Returns the manifest.
    """
    from biodl.dataset import atomic_dir, load_dataset
    from biodl.metrics import is_better
    from biodl.splits import load_split
    from biodl.tasks import TASKS, infer_task_type, task_class
    from biodl.train import TrainConfig, derive_seed, fit

    log = log or (lambda msg: None)
    ds = load_dataset(features, mmap=False)
    split = load_split(split_path)
    pos = positions(ds, split)
    task = experiment.get("task") or infer_task_type(ds.y)
    X, y = ds.X, ds.y
    unc = UncertaintySpec.from_dict(experiment.get("uncertainty"))
    calibration_rows = pos["valid"]
    if unc.calibration_rows == "separate":
        # residuals on rows early stopping already fitted are optimistic (bench/uncertainty.py --diagnose:
        # about -0.04 test coverage at 90 %): calibrate on a seeded half that selection never sees
        pos["valid"], calibration_rows = calibration_halves(pos["valid"], derive_seed(seed, name, "calibration"))
    where = "validation split" if unc.calibration_rows == "shared" else "calibration half of the validation split"
    if len(calibration_rows):
        # fail before minutes of training, not after
        task_class(task).check_calibration_rows(y[calibration_rows], unc.levels, f"experiment {name!r}, {where}")
    base_train = dict(experiment.get("train", {}))
    if unc.heteroscedastic:
        variance_loss = task_class(task).heteroscedastic_loss
        if variance_loss is None:
            able = ", ".join(n for n, c in TASKS.items() if c.heteroscedastic_loss)
            raise UserError(f"experiment {name!r}: uncertainty.heteroscedastic applies to {able}, not {task}")
        base_train.setdefault("loss", variance_loss)
    train_seed = derive_seed(seed, name)
    trials = []
    best = None
    for i, overrides in enumerate(search_trials(experiment.get("search"), derive_seed(seed, name, "search"))):
        model_spec, train_cfg = apply_overrides(experiment["model"], base_train, overrides)
        model_spec = _model_spec_for(model_spec, ds.manifest["featurizer"])
        config = TrainConfig.from_dict({**train_cfg, "seed": train_seed})
        t0 = time.perf_counter()
        log(f"trial {i}: {json.dumps(overrides, sort_keys=True)}")
        model, history = fit(model_spec, X[pos["train"]], y[pos["train"]], X[pos["valid"]], y[pos["valid"]],
                             task_type=task, tasks=ds.tasks, config=config, n_classes=experiment.get("n_classes"),
                             featurizer_spec=ds.manifest["featurizer"], log=log)
        monitor = model.info["monitor"]
        score = model.info[f"best_valid_{monitor}"]
        trials.append({"trial": i, **{k: json.dumps(v) for k, v in overrides.items()}, f"valid_{monitor}": score,
                       "best_epoch": model.info["best_epoch"], "epochs_run": model.info["epochs_run"],
                       "seconds": round(time.perf_counter() - t0, 2)})
        if best is None or is_better(score, best[0], monitor):
            best = (score, i, overrides, model, history)
    score, index, overrides, model, history = best
    monitor = model.info["monitor"]
    model.info.update({"experiment": name, "selected_trial": index, "selected_overrides": overrides,
                       "train_seed": train_seed,
                       "split": {"method": split.get("method"), "seed": split.get("seed"), "path": str(split_path)}})
    members = _train_ensemble_members(name, experiment, base_train, overrides, unc, ds, pos, task, seed, log)
    model.members = [m.module for m in members]
    model.uncertainty = unc.to_dict()
    model.calibration = calibrate(model, sample_outputs(model, X[calibration_rows], unc, seed=train_seed),
                                  y[calibration_rows], unc, what=f"experiment {name!r}, {where}")
    if is_molecular(ds.manifest["featurizer"]):
        model.domain = domain_payload(ds.meta["input"].to_numpy()[pos["train"]].tolist())
    manifest = {
        "experiment": name, "task_type": task, "tasks": ds.tasks, "model_spec": model.model_spec,
        "featurizer": ds.manifest["featurizer"], "features": str(features), "seed": seed, "train_seed": train_seed,
        "selected_trial": index, "selected_overrides": overrides, f"valid_{monitor}": score,
        "n_trials": len(trials), "info": model.info, "versions": ds.manifest["versions"],
        "uncertainty": model.uncertainty, "calibration": model.calibration,
        "ensemble": {"members": 1 + len(members), "member_valid_scores": [score] + [
            m.info[f"best_valid_{monitor}"] for m in members]} if members else None,
    }
    with atomic_dir(Path(out)) as tmp:
        model.save(tmp / "model.pt")
        _write_csv(tmp / "history.csv", history)
        _write_csv(tmp / "search.csv", trials)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return manifest


def calibration_halves(valid: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Validation positions → (selection / early-stopping half, calibration half): disjoint, seeded."""
    order = np.random.default_rng(seed).permutation(valid)
    n_cal = (len(order) + 1) // 2
    return np.sort(order[n_cal:]), np.sort(order[:n_cal])


def _train_ensemble_members(name, experiment, base_train, overrides, unc, ds, pos, task, seed, log) -> list:
    """Members 1..K-1 of a deep ensemble: the selected configuration from other seeds. A member
    that fails to train fails the run: a silently smaller ensemble would understate σ."""
    from biodl.train import TrainConfig, derive_seed, fit

    if unc.method != "ensemble":
        return []
    model_spec, train_cfg = apply_overrides(experiment["model"], base_train, overrides)
    model_spec = _model_spec_for(model_spec, ds.manifest["featurizer"])
    members = []
    for k in range(1, unc.members):
        log(f"ensemble member {k + 1} of {unc.members}")
        config = TrainConfig.from_dict({**train_cfg, "seed": derive_seed(seed, name, "member", str(k))})
        try:
            member, _ = fit(model_spec, ds.X[pos["train"]], ds.y[pos["train"]], ds.X[pos["valid"]],
                            ds.y[pos["valid"]], task_type=task, tasks=ds.tasks, config=config,
                            n_classes=experiment.get("n_classes"), featurizer_spec=ds.manifest["featurizer"])
        except Exception as exc:  # noqa: BLE001 — any failure of a member fails the ensemble, loudly
            raise UserError(f"experiment {name!r}: ensemble member {k + 1} of {unc.members} failed to train "
                            f"({type(exc).__name__}: {exc}); no smaller ensemble is saved") from None
        members.append(member)
    return members


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


# -- predictions (long format: one row per sample × task) ------------------------------------
def prediction_frame(model_name: str, split_name: str, ds, idx: np.ndarray, task, columns, per_item=None):
    """The long prediction table (biodl.predictions) of one model on rows ``idx`` of ``ds``."""
    from biodl import predictions

    return predictions.long_table(model_name, split_name, ds.meta["id"].to_numpy()[idx],
                                  ds.meta["row"].to_numpy()[idx], ds.y[idx], task, columns, per_item)


def _check_finite(pred: np.ndarray, what: str) -> None:
    if not np.isfinite(pred).all():
        raise UserError(f"{what}: {int((~np.isfinite(pred)).sum())} predictions are NaN or infinite")


def predict_experiment(name: str, model_path: str | Path, features: str | Path, split_path: str | Path,
                       out: str | Path, *, test_sets: Mapping[str, str | Path] | None = None) -> None:
    """Predictions of the trained model on every split part and on each extra test set, with its
    uncertainty (σ components, calibrated intervals or sets) and, for molecules, the maximum
    Tanimoto similarity to the training set."""
    import pandas as pd

    from biodl import predictions
    from biodl.dataset import load_dataset
    from biodl.splits import load_split
    from biodl.train import TrainedModel
    from biodl.uncertainty import predict_with_uncertainty

    model = TrainedModel.load(model_path)
    label = model.model_spec["type"]
    frames = []
    sources = [(p, load_dataset(features), None) for p in PARTS]
    sources += [(n, load_dataset(path), "all") for n, path in (test_sets or {}).items()]
    split = load_split(split_path)
    for part, ds, scope in sources:
        idx = np.arange(len(ds)) if scope == "all" else positions(ds, split)[part]
        result = predict_with_uncertainty(model, np.asarray(ds.X[idx]))
        _check_finite(result["pred"], f"experiment {name!r} ({part})")
        if "sigma" in result:
            _check_finite(result["sigma"], f"experiment {name!r} ({part}) uncertainty")
        per_item = {}
        if model.domain:
            per_item["max_tanimoto"] = similarity_to_training(model.domain, ds.meta["input"].to_numpy()[idx].tolist())
        frames.append(prediction_frame(label, part, ds, idx, model.task, model.task.prediction_columns(result),
                                       per_item))
    predictions.write(pd.concat(frames, ignore_index=True), out)


def baseline_experiment(name: str, experiment: Mapping, features: str | Path, split_path: str | Path,
                        out: str | Path, *, test_sets: Mapping[str, str | Path] | None = None,
                        seed: int = 0, n_jobs: int = 1) -> None:
    """Train the experiment's non-deep baseline on the same split and write its predictions."""
    import pandas as pd

    from biodl import predictions
    from biodl.baselines import make_baseline
    from biodl.dataset import load_dataset
    from biodl.splits import load_split
    from biodl.tasks import infer_task_type, make_task
    from biodl.train import derive_seed

    ds = load_dataset(features, mmap=False)
    split = load_split(split_path)
    pos = positions(ds, split)
    task_type = experiment.get("task") or infer_task_type(ds.y)
    task = make_task(task_type, ds.tasks)
    spec = experiment["baseline"]
    baseline = make_baseline(spec, task_type=task_type, seed=derive_seed(seed, name, "baseline"), n_jobs=n_jobs)
    baseline.fit(ds.X[pos["train"]], ds.y[pos["train"]], ds.X[pos["valid"]], ds.y[pos["valid"]])
    frames = []
    for part in PARTS:
        pred = baseline.predict(ds.X[pos[part]])
        _check_finite(pred, f"experiment {name!r} baseline ({part})")
        frames.append(prediction_frame(spec["type"], part, ds, pos[part], task, task.point_columns(pred)))
    for test_name, path in (test_sets or {}).items():
        other = load_dataset(path, mmap=False)
        idx = np.arange(len(other))
        other_task = make_task(task_type, other.tasks)
        frames.append(prediction_frame(spec["type"], test_name, other, idx, other_task,
                                       other_task.point_columns(baseline.predict(other.X))))
    predictions.write(pd.concat(frames, ignore_index=True), out)


# -- evaluate -----------------------------------------------------------------------------------
def evaluate_experiment(name: str, predictions: list[str | Path], split_path: str | Path, out: str | Path,
                        *, task_type: str | None = None, model_manifest: str | Path | None = None) -> dict:
    """Metrics per model × split part (and extra test set) × task, deep model and baseline side
    by side, with the split's method, seed, sizes and leakage audit. Deterministic JSON."""
    from biodl import predictions as table
    from biodl.io import write_text
    from biodl.splits import load_split
    from biodl.tasks import task_class, task_type_of_table

    frame = table.read(predictions)
    task_type = task_type or task_type_of_table(frame)
    task = task_class(task_type)(list(dict.fromkeys(frame["task"])))
    split = load_split(split_path)
    result: dict[str, Any] = {
        "experiment": name, "task_type": task_type,
        "split": {k: split.get(k) for k in ("method", "seed", "sizes", "audit", "params", "dataset")},
        "models": {},
    }
    order = {p: i for i, p in enumerate(PARTS)}
    for model_name, by_model in frame.groupby("model", sort=True):
        scores = {}
        for part in sorted(by_model["split"].unique(), key=lambda p: (order.get(p, 99), p)):
            sub = by_model[by_model["split"] == part]
            y_true, y_pred, tasks = task.arrays_from_table(sub)
            try:
                scores[part] = task.score(y_true, y_pred, tasks=tasks)
            except UserError as exc:
                raise UserError(f"experiment {name!r}, model {model_name}, {part}: {exc}") from None
            uncertainty = task.scores_by_task(sub)
            if uncertainty:
                scores[part]["uncertainty"] = uncertainty
        result["models"][model_name] = scores
    if model_manifest:
        manifest = json.loads(Path(model_manifest).read_text())
        result["selection"] = {k: manifest.get(k) for k in ("selected_trial", "selected_overrides", "n_trials")}
        result["selection"]["valid_score"] = {k: v for k, v in manifest.items() if k.startswith("valid_")}
        result["deep_model"] = manifest["model_spec"]["type"]
    write_text(out, json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return result


# -- predict from raw inputs (a user's CSV / FASTA / image folder) ------------------------------
def predict_raw(model_path: str | Path, source: Mapping, out: str | Path, *, n_jobs: int = 1):
    """Featurize raw inputs with the model's own featurizer spec and predict.

    The output CSV has one row per input record, keyed by id: predictions (and σ where the model
    has one) for records that featurized, an empty prediction and the reason for those that did
    not. Returns the output as a pandas DataFrame.
    """
    import pandas as pd

    from biodl import predictions
    from biodl.featurizers import make_featurizer
    from biodl.io import atomic_file
    from biodl.sources import read_source
    from biodl.train import TrainedModel
    from biodl.uncertainty import predict_with_uncertainty

    model = TrainedModel.load(model_path)
    if not model.featurizer_spec:
        raise UserError(f"{model_path}: the model file carries no featurizer spec; predict from features instead")
    table = read_source(source)
    read_rejected = {r.index: r.reason for r in table.rejects}
    candidates = np.array([i for i in range(len(table)) if i not in read_rejected], np.int64)
    featurizer = make_featurizer(model.featurizer_spec, n_jobs=n_jobs)
    result = featurizer.featurize([table.inputs[i] for i in candidates], meta=False)
    reasons = dict(read_rejected)
    reasons.update({int(candidates[r.index]): r.reason for r in result.rejects})
    frame = pd.DataFrame({"id": table.ids, "input": [str(x) if x is not None else "" for x in table.inputs]})
    rows = candidates[result.kept]
    columns = {}
    if len(result.X):
        per_item = {}
        if model.domain:
            per_item["max_tanimoto"] = similarity_to_training(model.domain, [table.inputs[i] for i in rows])
        outputs = predict_with_uncertainty(model, np.asarray(result.X))
        unlabelled = np.full((len(rows), len(model.tasks)), np.nan)
        long = predictions.long_table(model.model_spec["type"], "input", np.asarray(table.ids, object)[rows], rows,
                                      unlabelled, model.task, model.task.prediction_columns(outputs), per_item)
        columns = predictions.wide(long)
    for col, values in columns.items():
        if isinstance(values, list):
            full = [""] * len(table)
            for r, v in zip(rows, values):
                full[r] = " ".join(map(str, v))
        else:
            full = np.full(len(table), np.nan)
            full[rows] = values
        frame[col] = full
    frame["reject_reason"] = [reasons.get(i, "") for i in range(len(table))]
    with atomic_file(out) as tmp:
        frame.to_csv(tmp, index=False)
    return frame
