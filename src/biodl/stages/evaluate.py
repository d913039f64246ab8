"""Stage 5, evaluate: prediction tables + split → results/metrics/{experiment}/rep{r}.json, and the
replicates' summary → results/metrics/{experiment}.json.

Per replicate (:func:`evaluate_experiment`): metrics per model × split part (and extra test set) ×
task, the deep model and its baseline side by side, each with a 95 % bootstrap interval over items
and the number of items scored; the paired deep − baseline difference on the test parts with its
interval and verdict; the chance / mean-predictor reference; warnings where a score says less than
it seems (few test items, at chance, calibration at its bound, constant outputs, σ that does not rank
errors); the split's method, seed, sizes and leakage audit and, from the model manifest, what the
search selected. Which metrics, and how uncertainty is scored, is the task class's; the statistics
are :mod:`biodl.stats`'s.

Over replicates (:func:`summarize_replicates`): the same shape with each score the mean over
replicates, plus its sd, the per-replicate values and an interval of the mean.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biodl import stats
from biodl.errors import UserError
from biodl.metrics import VALUE_METRICS
from biodl.stages.split import PARTS

_MAE = VALUE_METRICS["mae"]
#: parts a model was fitted or selected on; every other part (test, extra test sets) is held out
FIT_PARTS = ("train", "valid")
#: fewer scored test items than this gets a warning
SMALL_TEST = 30
#: the σ / entropy of a model "ranks errors" when Spearman(uncertainty, |error|) is above this
RANKS_ERRORS = 0.1
#: intervals / sets "cover" when their coverage is within this of the nominal level
COVERAGE_TOLERANCE = 0.05
#: a binary classifier without intervals "looks calibrated" at an ECE up to this
CALIBRATED_ECE = 0.05
METRIC_LABEL = {"rmse": "RMSE", "mae": "MAE", "r2": "R²", "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC",
                "mcc": "MCC", "accuracy": "accuracy", "macro_f1": "macro F1"}


class _Part:
    """One model's labelled items on one split part, in the task's layout, items ordered by ``row``.

    rows int64 (n,); y_true / y_pred as ``task.arrays_from_table`` returns them, restricted to items
    with at least one label; ``sub`` the table rows they came from."""

    def __init__(self, task, sub):
        y_true, y_pred, self.tasks = task.arrays_from_table(sub)
        rows = np.sort(sub["row"].unique())
        labelled = ~np.isnan(y_true.reshape(len(y_true), -1)).all(axis=1)
        self.rows, self.y_true, self.y_pred = rows[labelled], y_true[labelled], y_pred[labelled]
        self.all_y_true, self.all_y_pred = y_true, y_pred
        self.sub = sub

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = np.searchsorted(self.rows, rows)
        return self.y_true[at], self.y_pred[at]


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3g}"


def _fmt_interval(interval: Sequence[float] | None) -> str:
    return "no interval" if interval is None else f"95 % interval {interval[0]:.3g} to {interval[1]:.3g}"


def _label(metric: str) -> str:
    return METRIC_LABEL.get(metric, metric)


def evaluate_experiment(name: str, predictions: list[str | Path], split_path: str | Path, out: str | Path,
                        *, task_type: str | None = None, model_manifest: str | Path | None = None,
                        replicate: int = 0, n_boot: int = stats.N_BOOT, seed: int = stats.SEED,
                        compare_counts: dict[str, str | Path] | None = None) -> dict:
    """Score one replicate's prediction tables and write deterministic JSON (sorted keys, no NaN).

    Returns the written dict::

        experiment, task_type, replicate, primary_metric, greater_is_better, deep_model (from the
        manifest), split, selection, resampling {n_boot, level, seed},
        models[m][part]: per_task, mean, n (labels per task), notes, [confusion_matrix],
            [uncertainty], n_items (items with a label), interval {metric: [low, high] | None},
            bootstrap {primary: [n_boot floats | None]}   (held-out parts only)
        comparisons[part] (held-out parts, when a deep model and a baseline scored them):
            deep, baseline, metric, difference, interval, verdict, n, bootstrap [n_boot]
        reference[part]: {what, scores {metric: value}}
        warnings: [{code, message, part, model}]
        count_comparison[part] (``compare_counts``: other experiments' prediction files, by name,
            on the same items — a count-regression CNN beside a segmenter): metric "count_mae",
            models {label: {value, interval, n}}, differences {name: {difference (deep − it),
            interval, verdict}} on the items all of them scored, every count against the deep
            model's true count

    Intervals are 95 % percentile intervals of ``n_boot`` resamples of the part's items (seeded,
    so the same inputs give the same numbers; a multitask item keeps its tasks together). Every
    model scored on the same n items gets the same resamples, and so does every replicate: draw b of
    two models is paired, and draw b of R replicates averages to a draw of the replicate mean.
    Several baselines: the comparison is with the one that scores best on the part.
    """
    from biodl import predictions as table
    from biodl.io import write_text
    from biodl.splits import load_split
    from biodl.tasks import task_class, task_type_of_table

    frame = table.read(predictions)
    task_type = task_type or task_type_of_table(frame)
    task = task_class(task_type)(list(dict.fromkeys(frame["task"])))
    primary, greater = task.primary()
    split = load_split(split_path)
    manifest = json.loads(Path(model_manifest).read_text()) if model_manifest else None
    deep = manifest["model_spec"]["type"] if manifest else None
    result: dict[str, Any] = {
        "experiment": name, "task_type": task_type, "replicate": int(replicate),
        "primary_metric": primary, "greater_is_better": greater,
        "resampling": {"n_boot": n_boot, "level": stats.LEVEL, "seed": seed},
        "split": {k: split.get(k) for k in ("method", "seed", "sizes", "audit", "params", "dataset")},
        "models": {}, "comparisons": {}, "reference": {}, "warnings": [],
    }
    if manifest:
        result["selection"] = {k: manifest.get(k) for k in ("selected_trial", "selected_overrides", "n_trials")}
        result["selection"]["valid_score"] = {k: v for k, v in manifest.items() if k.startswith("valid_")}
        result["deep_model"] = deep
    def draws_of(y_true, y_pred):
        return task.bootstrap(y_true, y_pred, n_boot=n_boot, seed=seed)

    order = {p: i for i, p in enumerate(PARTS)}
    parts: dict[tuple[str, str], _Part] = {}
    primary_draws: dict[tuple[str, str], np.ndarray] = {}
    for model_name, by_model in frame.groupby("model", sort=True):
        scores = {}
        for part in sorted(by_model["split"].unique(), key=lambda p: (order.get(p, 99), p)):
            sub = by_model[by_model["split"] == part]
            scored = parts[model_name, part] = _Part(task, sub)
            try:
                scores[part] = task.score(scored.all_y_true, scored.all_y_pred, tasks=scored.tasks)
            except UserError as exc:
                raise UserError(f"experiment {name!r}, model {model_name}, {part}: {exc}") from None
            draws = draws_of(scored.y_true, scored.y_pred)
            scores[part]["n_items"] = len(scored.rows)
            scores[part]["interval"] = {m: stats.percentile_interval(draws[m]) for m in scores[part]["mean"]}
            if part not in FIT_PARTS:
                primary_draws[model_name, part] = draws[primary]
                scores[part]["bootstrap"] = {primary: stats.round_draws(draws[primary])}
            uncertainty = task.scores_by_task(sub)
            if uncertainty:
                scores[part]["uncertainty"] = uncertainty
        result["models"][str(model_name)] = scores

    models = result["models"]
    all_parts = sorted({p for _, p in parts}, key=lambda p: (order.get(p, 99), p))
    held_out = [p for p in all_parts if p not in FIT_PARTS]
    if deep in models:
        for part in held_out:
            comparison = _compare(task, models, parts, primary_draws, deep, part, draws_of)
            if comparison:
                result["comparisons"][part] = comparison
    result["reference"] = {} if task.pixelwise else _references(task, parts, deep, all_parts)
    if compare_counts:
        result["count_comparison"] = _count_comparison(frame, deep, compare_counts, held_out, n_boot, seed)
    result["warnings"] = _warnings(task, result, parts, manifest, deep, held_out, n_boot, seed)
    write_text(out, json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return result


def _count_comparison(frame, deep, others: dict, held_out, n_boot, seed) -> dict:
    """Count MAE of the deep model, its baselines and other experiments' count predictions on the
    held-out items they all predicted, with paired bootstrap differences (see evaluate_experiment)."""
    from biodl import predictions as table

    counts = {str(m): sub for m, sub in frame.groupby("model", sort=True)}
    for name, path in others.items():
        other = table.read([path])
        if other["task"].nunique() != 1:
            raise UserError(f"{path}: compare_counts reads one count per item; this table has tasks "
                            f"{', '.join(map(str, other['task'].unique()))}")
        for model, sub in other.groupby("model", sort=True):
            counts[f"{name}:{model}"] = sub
    out = {}
    for part in held_out:
        truth = counts[deep][counts[deep]["split"] == part].set_index("row")["y_true"] if deep in counts else None
        if truth is None or truth.empty:
            continue
        preds = {label: sub[sub["split"] == part].set_index("row")["y_pred"] for label, sub in counts.items()}
        preds = {label: p for label, p in preds.items() if not p.empty}
        rows = truth.index
        for p in preds.values():
            rows = rows.intersection(p.index)
        rows = rows.sort_values()
        if len(rows) == 0:
            continue
        y = truth.loc[rows].to_numpy(np.float64)[:, None]
        draws, entry = {}, {"metric": "count_mae", "n": len(rows), "models": {}, "differences": {}}
        for label, p in preds.items():
            pred = p.loc[rows].to_numpy(np.float64)[:, None]
            draws[label] = stats.bootstrap_metrics(y, pred, {"mae": _MAE}, n_boot=n_boot, seed=seed)["mae"]
            entry["models"][label] = {"value": float(np.abs(pred - y).mean()),
                                      "interval": stats.percentile_interval(draws[label])}
        for label in preds:
            if label == deep:
                continue
            diff = entry["models"][deep]["value"] - entry["models"][label]["value"]
            interval = stats.percentile_interval(draws[deep] - draws[label])
            entry["differences"][label] = {"difference": diff, "interval": interval,
                                           "verdict": stats.verdict(interval, False)}
        out[part] = entry
    return out


def _compare(task, models, parts, primary_draws, deep, part, draws_of) -> dict | None:
    """The paired deep − baseline comparison on ``part``, on the items both scored."""
    from biodl.metrics import is_better

    primary, greater = task.primary()
    baselines = [m for m in models if m != deep and part in models[m]]
    if part not in models[deep] or not baselines:
        return None
    baseline = baselines[0]
    for m in baselines[1:]:
        if is_better(models[m][part]["mean"].get(primary), models[baseline][part]["mean"].get(primary), primary):
            baseline = m
    a, b = parts[deep, part], parts[baseline, part]
    common = np.intersect1d(a.rows, b.rows)
    if len(common) == 0:
        return None
    point, draws = [], []
    for model, scored in ((deep, a), (baseline, b)):
        if len(common) == len(scored.rows):  # the model's own resamples: the same n, the same draws
            point.append(models[model][part]["mean"].get(primary))
            draws.append(primary_draws[model, part])
        else:
            y_true, y_pred = scored.take(common)
            point.append(task.score(y_true, y_pred, tasks=scored.tasks, metrics=[primary])["mean"][primary])
            draws.append(draws_of(y_true, y_pred)[primary])
    difference = None if None in point else float(point[0] - point[1])
    interval = stats.percentile_interval(draws[0] - draws[1]) if difference is not None else None
    return {"deep": deep, "baseline": baseline, "metric": primary, "difference": difference,
            "interval": interval, "verdict": stats.verdict(interval, greater), "n": len(common),
            "bootstrap": stats.round_draws(draws[0] - draws[1])}


def _references(task, parts, deep, all_parts) -> dict:
    """reference[part] for every part; labels and training targets from the deep model's rows
    (a baseline's where the deep model has none)."""
    def rows_of(part):
        keys = sorted((k for k in parts if k[1] == part), key=lambda k: (k[0] != deep, k[0]))
        return parts[keys[0]] if keys else None

    train = rows_of("train")
    out = {}
    for part in all_parts:
        scored = rows_of(part)
        y_train = None
        if train is not None:
            # an extra test set lists its own tasks: each column's training mean is found by name
            y_train = np.full((len(train.y_true), len(scored.tasks)), np.nan)
            for j, name in enumerate(scored.tasks):
                if name in train.tasks:
                    y_train[:, j] = train.y_true[:, train.tasks.index(name)]
        reference = stats.reference_scores(
            lambda y, p, names: task.score(y, p, tasks=names), y_train, scored.y_true,
            is_classifier=task.is_classifier, class_rows=bool(getattr(task, "class_rows", False)),
            tasks=scored.tasks)
        if reference:
            out[part] = reference
    return out


def _warnings(task, result, parts, manifest, deep, held_out, n_boot, seed) -> list[dict]:
    """The report's warnings: where a score says less than it seems (see the module docstring)."""
    models = result["models"]
    out: list[dict] = []

    def warn(code, part, model, message):
        out.append({"code": code, "part": part, "model": model, "message": message})

    for part in held_out:
        first = deep if (deep, part) in parts else next((m for m in sorted(models) if (m, part) in parts), None)
        n_items = models[first][part]["n_items"] if first else 0
        if first and 0 < n_items < SMALL_TEST:  # no labels at all: nothing was scored, nothing to warn of
            warn("small_test", part, first,
                 f"{part}: only {n_items} items were scored (fewer than {SMALL_TEST}); intervals are wide and "
                 f"one split of this size can rank models either way.")
    for (model, part), scored in sorted(parts.items()):
        if part not in held_out:
            continue
        scores = models[model][part]
        at_chance = _at_chance(task, scores, result["reference"].get(part), model, part)
        if at_chance:
            warn("at_chance", part, model, at_chance)
        flat = [] if task.pixelwise else stats.constant_outputs(
            scored.y_true, scored.y_pred, is_classifier=task.is_classifier,
            class_rows=bool(getattr(task, "class_rows", False)))
        if flat:
            names = [scored.tasks[j] for j in flat]
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            what = ("all probabilities within 0.001 of each other" if task.is_classifier else
                    "spread of the predictions below 0.1 % of the labels' spread")
            warn("constant_outputs", part, model,
                 f"{model} on {part}: predictions are (near) constant for {len(names)} of {len(scored.tasks)} "
                 f"task(s) ({shown}; {what}); the model has not learnt to tell the items apart.")
        for message in _sigma_does_not_rank(task, scores.get("uncertainty") or {}, scored, model, part, n_boot, seed):
            warn("sigma_does_not_rank", part, model, message)
    temperature = ((manifest or {}).get("calibration") or {}).get("temperature")
    if temperature is not None and deep:
        bound = stats.near_bound(float(temperature))
        if bound:
            low, high = stats.TEMPERATURE_BOUNDS
            effect = ("the validation outputs carry little signal, so calibration flattened every probability "
                      "towards the base rate" if bound == "upper" else
                      "calibration sharpened the probabilities as far as it may; the model is far too unsure on "
                      "validation")
            warn("calibration_bound", "valid", deep,
                 f"{deep}: the fitted temperature {float(temperature):.3g} is at the {bound} bound of its search "
                 f"range ({low:g} to {high:g}): {effect}.")
    return out


def _at_chance(task, scores, reference, model, part) -> str | None:
    """A message when the primary metric's interval does not lie wholly on the better side of the
    chance / mean-predictor reference (or the score itself is no better), else None."""
    primary, greater = task.primary()
    value = scores["mean"].get(primary)
    ref = ((reference or {}).get("scores") or {}).get(primary)
    if value is None or ref is None:
        return None
    interval = scores["interval"].get(primary)
    beyond = (lambda v: v > ref) if greater else (lambda v: v < ref)
    if beyond(value) and interval is not None and beyond(interval[0] if greater else interval[1]):
        return None
    side = "above" if greater else "below"
    what = "chance" if reference.get("what") == "chance" else "the mean predictor"
    return (f"{model} on {part}: {_label(primary)} {_fmt(value)} ({_fmt_interval(interval)}) is not clearly "
            f"{side} {what} ({_fmt(ref)}).")


def _sigma_does_not_rank(task, uncertainty, scored, model, part, n_boot, seed) -> list[str]:
    """Messages for tasks whose stated σ / entropy looks calibrated (intervals or sets cover their
    level; a binary classifier: ECE ≤ 0.05) but does not rank errors: Spearman(uncertainty, error)
    ≤ 0.1 or its bootstrap interval reaching 0. Error: |y − ŷ| for values, 1 − p(true class) for
    classifiers; the uncertainty: σ (``y_std``) or the predictive entropy."""
    out = []
    for name, u in uncertainty.items():
        sub = scored.sub[(scored.sub["task"] == name) & scored.sub["y_true"].notna()].sort_values("row")
        if task.is_classifier:
            if "entropy" not in sub or sub["entropy"].isna().any():
                continue
            y = sub["y_true"].to_numpy()
            proba = task.probability_column(sub, task.proba_column)
            p_true = proba[np.arange(len(y)), y.astype(np.int64)] if proba.ndim == 2 else np.where(y == 1, proba,
                                                                                                    1 - proba)
            error, spread, what = 1.0 - p_true, sub["entropy"].to_numpy(), "entropy"
            looks, covered = _classifier_looks_calibrated(u)
        else:
            if "y_std" not in sub or sub["y_std"].isna().any() or not (sub["y_std"] > 0).all():
                continue
            error = np.abs(sub["y_true"].to_numpy() - sub["y_pred"].to_numpy())
            spread, what = sub["y_std"].to_numpy(), "σ"
            looks, covered = _intervals_cover(u.get("coverage") or {}, "intervals")
        if not looks or len(error) < 3:
            continue
        rho = stats.weighted_spearman(spread, error, np.ones((1, len(error))))[0]
        interval = stats.percentile_interval(stats.bootstrap_spearman(spread, error, n_boot, seed))
        if math.isnan(rho) or (rho > RANKS_ERRORS and interval is not None and interval[0] > 0):
            continue
        out.append(f"{model} on {part}, task {name}: {covered}, but its {what} does not rank errors "
                   f"(Spearman of {what} and error {rho:.2f}, {_fmt_interval(interval)}); it says how wide, "
                   f"not which predictions to distrust.")
    return out


def _intervals_cover(coverage: dict, what: str) -> tuple[bool, str]:
    """(every model-own level's coverage within ±0.05 of the level, a phrase naming them)."""
    own = {k: v for k, v in coverage.items() if not k.startswith("abs_") and v is not None}
    if not own:
        return False, ""
    ok = all(abs(v - float(k) / 100) <= COVERAGE_TOLERANCE for k, v in own.items())
    phrase = ", ".join(f"the {k} % {what} cover {v:.3f}" for k, v in sorted(own.items(), key=lambda kv: float(kv[0])))
    return ok, phrase


def _classifier_looks_calibrated(u: dict) -> tuple[bool, str]:
    if u.get("set_coverage"):
        return _intervals_cover(u["set_coverage"], "prediction sets")
    ece = u.get("ece")
    return (ece is not None and ece <= CALIBRATED_ECE), f"its probabilities look calibrated (ECE {_fmt(ece)})"


# -- over replicates ----------------------------------------------------------------------------------
def summarize_replicates(metrics_paths: Sequence[str | Path], out: str | Path) -> dict:
    """One experiment's summary over R ≥ 1 replicate metrics files (written by
    :func:`evaluate_experiment`), written as deterministic JSON (sorted keys, no NaN). Returns it.

    The shape readers of a single metrics file use holds: ``models[m][part]["mean"][metric]`` is
    the score, here the mean over replicates. Top level: experiment, task_type, deep_model,
    primary_metric, greater_is_better, n_replicates, split, selection and resampling (replicate 0's), and

        replicates   [{replicate, seed (the split's), models {m: {part: {mean, interval, n_items}}},
                       comparisons (without draws), warnings}], in replicate order
        models[m][part]
            mean {metric: mean over replicates of the defined values}
            sd {metric: sample sd (ddof 1); 0.0 for one replicate; None with fewer than 2 defined}
            values {metric: [one per replicate, None where undefined]}
            interval {metric: [low, high] | None}: one replicate — its bootstrap interval. Several —
                the primary metric on held-out parts: the percentile interval of the element-wise
                mean of the replicates' bootstrap draws (a bootstrap of the replicate mean, items
                resampled within each replicate); other metrics and parts: the replicates' intervals
                averaged bound by bound (the typical single-replicate interval, not one of the mean)
            n_items [per replicate], n (replicate 0's), per_task and uncertainty (numbers averaged
            over replicates where the structure matches; lists, such as reliability bins, and
            confusion_matrix are replicate 0's), notes (every replicate's, once)
        comparisons[part]: deep, baseline, metric (replicate 0's), difference (mean over replicates),
            interval (from the element-wise mean of the replicates' draws of the difference; one
            replicate: its own), verdict, per_replicate [differences], n [per replicate]
        reference[part]: {what, scores (averaged)}
        warnings: each distinct (code, part, model) once, the first occurrence's message, with
            ``replicates`` [indices where it occurred]

    Files of different experiments or task types, or two files of one replicate, are a UserError.
    """
    from biodl.io import write_text

    if not metrics_paths:
        raise UserError("summarize: no replicate metrics files given")
    loaded = []
    for path in metrics_paths:
        try:
            loaded.append((Path(path), json.loads(Path(path).read_text())))
        except FileNotFoundError:
            raise UserError(f"{path}: replicate metrics file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: not a metrics file (invalid JSON: {exc})") from None
    first_path, first = loaded[0]
    for path, rep in loaded:
        if not isinstance(rep, dict) or "models" not in rep or "experiment" not in rep:
            raise UserError(f"{path}: not a metrics file written by biodl evaluate")
        if (rep["experiment"], rep.get("task_type")) != (first["experiment"], first.get("task_type")):
            raise UserError(f"{path} is experiment {rep['experiment']!r} ({rep.get('task_type')}), but {first_path} "
                            f"is {first['experiment']!r} ({first.get('task_type')}): summarize one experiment's "
                            "replicates")
    seen: dict[int, Path] = {}
    for path, rep in loaded:
        index = int(rep.get("replicate", 0))
        if index in seen:
            raise UserError(f"{path} and {seen[index]} are both replicate {index} of {rep['experiment']!r}")
        seen[index] = path
    draws = {(rep.get("resampling") or {}).get("n_boot") for _, rep in loaded}
    if len(draws) > 1:
        raise UserError(f"the replicates of {first['experiment']!r} were resampled different numbers of times "
                        f"({', '.join(map(str, sorted(draws, key=str)))}); evaluate them with one n_boot")
    reps = [rep for _, rep in sorted(loaded, key=lambda pr: int(pr[1].get("replicate", 0)))]
    base = reps[0]
    primary = base.get("primary_metric")
    greater = base.get("greater_is_better")
    if primary is None:
        from biodl.tasks import task_class

        primary, greater = task_class(base["task_type"]).primary()
    summary: dict[str, Any] = {
        "experiment": base["experiment"], "task_type": base["task_type"], "deep_model": base.get("deep_model"),
        "primary_metric": primary, "greater_is_better": greater, "n_replicates": len(reps),
        "split": base.get("split"), "selection": base.get("selection"), "resampling": base.get("resampling"),
        "replicates": [_replicate_entry(rep) for rep in reps],
        "models": {}, "comparisons": {}, "reference": {}, "warnings": [],
    }
    order = {p: i for i, p in enumerate(PARTS)}
    model_names = list(dict.fromkeys(m for rep in reps for m in rep["models"]))
    for model in model_names:
        part_names = sorted({p for rep in reps for p in rep["models"].get(model, {})},
                            key=lambda p: (order.get(p, 99), p))
        summary["models"][model] = {
            part: _summarize_part([rep["models"].get(model, {}).get(part) for rep in reps], part, primary)
            for part in part_names}
    parts = sorted({p for rep in reps for p in rep.get("comparisons") or {}}, key=lambda p: (order.get(p, 99), p))
    for part in parts:
        summary["comparisons"][part] = _summarize_comparison(
            [(rep.get("comparisons") or {}).get(part) for rep in reps], greater)
    for part in sorted({p for rep in reps for p in rep.get("reference") or {}}, key=lambda p: (order.get(p, 99), p)):
        refs = [(rep.get("reference") or {}).get(part) for rep in reps]
        present = [r for r in refs if r]
        summary["reference"][part] = {"what": present[0]["what"],
                                      "scores": _average_tree([r["scores"] for r in present])}
    summary["warnings"] = _union_warnings(reps)
    if any(rep.get("count_comparison") for rep in reps):
        summary["count_comparison"] = _summarize_count_comparison([rep.get("count_comparison") or {} for rep in reps])
    write_text(out, json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return summary


def _replicate_entry(rep: dict) -> dict:
    return {
        "replicate": int(rep.get("replicate", 0)), "seed": (rep.get("split") or {}).get("seed"),
        "models": {m: {part: {"mean": s.get("mean"), "interval": s.get("interval"), "n_items": s.get("n_items")}
                       for part, s in parts.items()} for m, parts in rep["models"].items()},
        "comparisons": {part: {k: v for k, v in c.items() if k != "bootstrap"}
                        for part, c in (rep.get("comparisons") or {}).items()},
        "warnings": rep.get("warnings") or [],
    }


def _mean_sd(values: list) -> tuple[float | None, float | None]:
    defined = [float(v) for v in values if v is not None]
    mean = float(np.mean(defined)) if defined else None
    if len(values) == 1:
        return mean, 0.0 if defined else None
    return mean, float(np.std(defined, ddof=1)) if len(defined) >= 2 else None


def _summarize_part(scores: list[dict | None], part: str, primary: str) -> dict:
    """One model × part over replicates (None where a replicate lacks it); see summarize_replicates."""
    present = [s for s in scores if s]
    names = list(dict.fromkeys(k for s in present for k in s.get("mean", {})))
    out: dict[str, Any] = {"mean": {}, "sd": {}, "values": {}, "interval": {},
                           "n_items": [s.get("n_items") if s else None for s in scores],
                           "n": present[0].get("n"), "per_task": _average_tree([s.get("per_task") for s in present]),
                           "notes": list(dict.fromkeys(n for s in present for n in s.get("notes") or []))}
    for name in names:
        values = [(s.get("mean") or {}).get(name) if s else None for s in scores]
        out["values"][name] = values
        out["mean"][name], out["sd"][name] = _mean_sd(values)
        out["interval"][name] = _summary_interval(scores, name, part, primary)
    if "confusion_matrix" in present[0]:
        out["confusion_matrix"] = present[0]["confusion_matrix"]
    uncertainty = [s["uncertainty"] for s in present if s.get("uncertainty")]
    if uncertainty:
        out["uncertainty"] = _average_tree(uncertainty)
    return out


def _summary_interval(scores: list[dict | None], name: str, part: str, primary: str) -> list[float] | None:
    if len(scores) == 1:
        return ((scores[0] or {}).get("interval") or {}).get(name)
    draws = [((s or {}).get("bootstrap") or {}).get(name) for s in scores]
    if name == primary and part not in FIT_PARTS and all(d is not None for d in draws):
        return stats.percentile_interval(stats.mean_of_draws(draws))
    intervals = [((s or {}).get("interval") or {}).get(name) for s in scores]
    intervals = [i for i in intervals if i is not None]
    if not intervals:
        return None
    return [float(np.mean([i[0] for i in intervals])), float(np.mean([i[1] for i in intervals]))]


def _summarize_comparison(comparisons: list[dict | None], greater: bool) -> dict:
    present = [c for c in comparisons if c]
    first = present[0]
    per_replicate = [c.get("difference") if c else None for c in comparisons]
    difference, _ = _mean_sd(per_replicate)
    if len(comparisons) == 1:
        interval = first.get("interval")
    elif all(c and c.get("bootstrap") is not None for c in comparisons):
        interval = stats.percentile_interval(stats.mean_of_draws([c["bootstrap"] for c in comparisons]))
    else:
        interval = None  # a replicate without a comparison: no paired interval of the mean
    return {"deep": first["deep"], "baseline": first["baseline"], "metric": first["metric"],
            "difference": difference, "interval": interval, "verdict": stats.verdict(interval, greater),
            "per_replicate": per_replicate, "n": [c.get("n") if c else None for c in comparisons]}


def _summarize_count_comparison(reps: list[dict]) -> dict:
    """Count comparisons over replicates: values and differences averaged, intervals averaged bound
    by bound (the typical replicate's interval, as for secondary metrics), verdicts from those."""
    def mean_interval(intervals):
        intervals = [i for i in intervals if i is not None]
        return [float(np.mean([i[0] for i in intervals])), float(np.mean([i[1] for i in intervals]))] if intervals \
            else None

    out = {}
    for part in dict.fromkeys(p for rep in reps for p in rep):
        entries = [rep[part] for rep in reps if part in rep]
        summary = {"metric": entries[0]["metric"], "n": [e["n"] for e in entries], "models": {}, "differences": {}}
        for key, field in (("models", "value"), ("differences", "difference")):
            for label in dict.fromkeys(k for e in entries for k in e[key]):
                got = [e[key][label] for e in entries if label in e[key]]
                values = [g[field] for g in got]
                item = {field: _mean_sd(values)[0], "per_replicate": values,
                        "interval": mean_interval([g["interval"] for g in got])}
                if key == "differences":
                    item["verdict"] = stats.verdict(item["interval"], False)
                summary[key][label] = item
        out[part] = summary
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _average_tree(trees: list) -> Any:
    """Numbers averaged over the trees (None left out; None when none is defined); dicts key by key
    (replicate 0's keys, each averaged over the trees that have it); anything else — lists,
    strings — is the first tree's."""
    trees = [t for t in trees if t is not None]
    if not trees:
        return None
    head = trees[0]
    if isinstance(head, dict):
        return {k: _average_tree([t.get(k) for t in trees if isinstance(t, dict)]) for k in head}
    if _is_number(head) or head is None:
        numbers = [float(t) for t in trees if _is_number(t)]
        return float(np.mean(numbers)) if numbers else None
    return head


def _union_warnings(reps: list[dict]) -> list[dict]:
    out: dict[tuple, dict] = {}
    for rep in reps:
        for w in rep.get("warnings") or []:
            key = (w.get("code"), w.get("part"), w.get("model"))
            if key not in out:
                out[key] = {**w, "replicates": []}
            out[key]["replicates"].append(int(rep.get("replicate", 0)))
    return list(out.values())
