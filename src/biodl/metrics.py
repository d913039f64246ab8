"""Evaluation metrics for regression, binary (multitask) and multiclass predictions.

Every metric is a thin call into scikit-learn / scipy; this module only masks missing labels,
checks inputs (a fault is a :class:`~biodl.errors.UserError`, one line) and returns plain Python
values that ``json.dumps`` accepts. Which metrics a task type reports, and which one ranks models,
is the task class's choice (:mod:`biodl.tasks`); the metric tables below are grouped by the
layout of the predictions they read.

Layouts
    columns of values       y_true float (N, T), NaN = missing; y_pred float (N, T) predicted values.
    columns of probability  y_true float (N, T) of 0 / 1, NaN = missing (T > 1 = multitask
                            classification); y_pred float (N, T) probabilities of class 1, in [0, 1].
    class probabilities     one task: y_true int (N,) or float (N, 1) class indices 0..C-1 (NaN =
                            missing); y_pred float (N, C) class probabilities (rows sum to 1).

A metric that is undefined for a task's labels (one class only for ``roc_auc``, a constant target for
``pearson``, no labelled rows at all) is ``None`` with an entry in the result's ``notes``; it never raises.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from biodl.errors import UserError

BINARY_THRESHOLD = 0.5  # a binary prediction is class 1 when its probability is > 0.5 (ties -> 0, as argmax)
PROBA_SUM_ATOL = 1e-3  # tolerance on multiclass probability rows summing to 1 (float32 softmax passes)


class Undefined(Exception):
    """Raised inside a metric function when the metric is undefined for these labels; the message is why."""


# ---------------------------------------------------------------------------- preconditions


def _require_n(y_true: np.ndarray, n: int) -> None:
    if len(y_true) < n:
        raise Undefined(f"fewer than {n} labelled rows")


def _require_varying(values: np.ndarray, what: str) -> None:
    if np.all(values == values[0]):
        raise Undefined(f"{what} is constant")


def _require_both_classes(y_true: np.ndarray) -> None:
    if np.unique(y_true).size < 2:
        raise Undefined("only one class in y_true")


# ---------------------------------------------------------------------------- regression
# f(y_true float64 (n,), y_pred float64 (n,)) -> float


def _rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import root_mean_squared_error

    return root_mean_squared_error(y_true, y_pred)


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import mean_absolute_error

    return mean_absolute_error(y_true, y_pred)


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import r2_score

    _require_n(y_true, 2)
    _require_varying(y_true, "y_true")
    return r2_score(y_true, y_pred)


def _correlation_inputs(y_true: np.ndarray, y_pred: np.ndarray) -> None:
    _require_n(y_true, 2)
    _require_varying(y_true, "y_true")
    _require_varying(y_pred, "y_pred")


def _pearson(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from scipy.stats import pearsonr

    _correlation_inputs(y_true, y_pred)
    return pearsonr(y_true, y_pred).statistic


def _spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from scipy.stats import spearmanr

    _correlation_inputs(y_true, y_pred)
    return spearmanr(y_true, y_pred).statistic


# ---------------------------------------------------------------------------- binary
# f(y_true float64 (n,) of 0/1, y_pred float64 (n,) probabilities of class 1) -> float


def _binary_labels(y_pred: np.ndarray) -> np.ndarray:
    """Hard 0/1 labels (int64, (n,)) from probabilities of class 1."""
    return (y_pred > BINARY_THRESHOLD).astype(np.int64)


def _roc_auc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    _require_both_classes(y_true)
    return roc_auc_score(y_true, y_pred)


def _pr_auc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    _require_both_classes(y_true)
    return average_precision_score(y_true, y_pred)


def _precision_at_recall50(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The best precision at any threshold that finds at least half of the positives: what a user
    who must test the top-ranked items pays per true site at a fixed sensitivity (imbalanced data,
    where ROC-AUC flatters)."""
    from sklearn.metrics import precision_recall_curve

    _require_both_classes(y_true)
    precision, recall, _ = precision_recall_curve(y_true, y_pred)
    return float(precision[recall >= 0.5].max())


def _binary_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return accuracy_score(y_true.astype(np.int64), _binary_labels(y_pred))


def _mcc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import matthews_corrcoef

    _require_both_classes(y_true)
    return matthews_corrcoef(y_true.astype(np.int64), _binary_labels(y_pred))


def _balanced_accuracy_of(y_true: np.ndarray, labels: np.ndarray) -> float:
    """sklearn's balanced accuracy (mean recall over the classes present in y_true), without the warnings
    it gives when y_pred holds a class that y_true lacks or only one class appears at all."""
    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")
        return balanced_accuracy_score(y_true, labels)


def _binary_balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _balanced_accuracy_of(y_true.astype(np.int64), _binary_labels(y_pred))


def _brier(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import brier_score_loss

    return brier_score_loss(y_true.astype(np.int64), y_pred, pos_label=1)


def _binary_log_loss(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return log_loss(y_true.astype(np.int64), y_pred, labels=[0, 1])


# ---------------------------------------------------------------------------- multiclass
# f(y_true int64 (n,) in 0..C-1, proba float64 (n, C) rows summing to 1) -> float


def _mc_accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return accuracy_score(y_true, proba.argmax(axis=1))


def _mc_macro_f1(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Macro F1 over the classes present in y_true or in the predictions (sklearn's default labels)."""
    from sklearn.metrics import f1_score

    return f1_score(y_true, proba.argmax(axis=1), average="macro", zero_division=0)


def _mc_balanced_accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    return _balanced_accuracy_of(y_true, proba.argmax(axis=1))


def _mc_log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return log_loss(y_true, proba, labels=list(range(proba.shape[1])))


def _confusion_matrix(y_true: np.ndarray, proba: np.ndarray) -> list[list[int]]:
    """(C, C) counts as a list of lists of int: rows = true class, columns = predicted class (argmax)."""
    from sklearn.metrics import confusion_matrix

    n_classes = proba.shape[1]
    if len(y_true) == 0:
        return [[0] * n_classes for _ in range(n_classes)]
    return confusion_matrix(y_true, proba.argmax(axis=1), labels=list(range(n_classes))).tolist()


# ---------------------------------------------------------------------------- registries

MetricFn = Callable[[np.ndarray, np.ndarray], float]

#: metrics of predicted values, one column per task
VALUE_METRICS: dict[str, MetricFn] = {"rmse": _rmse, "mae": _mae, "r2": _r2, "pearson": _pearson,
                                      "spearman": _spearman}
#: metrics of probabilities of class 1, one column per task
PROBABILITY_METRICS: dict[str, MetricFn] = {
    "roc_auc": _roc_auc,
    "pr_auc": _pr_auc,
    "precision_at_recall50": _precision_at_recall50,
    "accuracy": _binary_accuracy,
    "mcc": _mcc,
    "balanced_accuracy": _binary_balanced_accuracy,
    "brier": _brier,
    "log_loss": _binary_log_loss,
}
#: metrics of class-probability rows, one task
CLASS_METRICS: dict[str, MetricFn] = {
    "accuracy": _mc_accuracy,
    "macro_f1": _mc_macro_f1,
    "balanced_accuracy": _mc_balanced_accuracy,
    "log_loss": _mc_log_loss,
}

# Reported beside the scalar metrics, not averaged; naming it in ``metrics=`` is allowed and changes nothing.
CONFUSION_MATRIX = "confusion_matrix"

#: instance-segmentation scores (biodl.instances.SCORE_NAMES; computed there from per-image counts)
SEGMENTATION_METRICS: tuple[str, ...] = (
    "object_f1", "precision", "recall", "ap_50", "ap_60", "ap_70", "ap_80", "ap_90", "mean_ap", "pixel_iou", "dice",
    "count_mae", "count_bias")

METRIC_DIRECTION: dict[str, bool] = {  # metric name -> greater is better
    "rmse": False,
    "mae": False,
    "r2": True,
    "pearson": True,
    "spearman": True,
    "roc_auc": True,
    "pr_auc": True,
    "precision_at_recall50": True,
    "accuracy": True,
    "mcc": True,
    "balanced_accuracy": True,
    "brier": False,
    "log_loss": False,
    "macro_f1": True,
    # segmentation: object F1 / precision / recall at IoU 0.5, AP at each IoU, pixel overlap, count error
    **{name: True for name in SEGMENTATION_METRICS},
    "count_mae": False,
    "count_bias": False,  # signed: nearer 0 is better; never a primary metric
}

# ---------------------------------------------------------------------------- public helpers


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def is_better(a: float | None, b: float | None, metric: str) -> bool:
    """True when score ``a`` is strictly better than ``b`` for ``metric``.

    ``None`` / NaN (an undefined metric) is worse than any number, and never better than anything.
    """
    if metric not in METRIC_DIRECTION:
        raise UserError(f"unknown metric {metric!r} (known: {', '.join(METRIC_DIRECTION)})")
    if _missing(a):
        return False
    if _missing(b):
        return True
    return a > b if METRIC_DIRECTION[metric] else a < b


# ---------------------------------------------------------------------------- input checks


def _as_float(a: Any, what: str) -> np.ndarray:
    """float64 array of ``a``, or a UserError naming ``what``."""
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{what} must be numeric ({exc})") from None


def select_metrics(kind: str, available: dict[str, MetricFn], metrics: str | Iterable[str] | None,
                   extra: Sequence[str] = ()) -> list[str]:
    """Names of the scalar metrics to compute, in the order asked (all of ``available`` by default).

    ``kind`` names the task type in messages; ``extra`` are non-scalar results (a confusion matrix)
    that may be named but are not computed here.
    """
    names = list(available)
    if metrics is None:
        return names
    asked = [metrics] if isinstance(metrics, str) else list(metrics)
    if not asked:
        raise UserError(f"no metrics selected (available for {kind}: {', '.join(names)})")
    allowed = names + list(extra)
    for name in asked:
        if name in allowed:
            continue
        known = name in METRIC_DIRECTION or name == CONFUSION_MATRIX
        what = f"metric {name!r} does not apply to {kind}" if known else f"unknown metric {name!r}"
        raise UserError(f"{what} (available: {', '.join(allowed)})")
    return [name for name in dict.fromkeys(asked) if name in names]


def _task_names(tasks: Sequence[str] | None, n_tasks: int) -> list[str]:
    if tasks is None:
        return [f"task_{i}" for i in range(n_tasks)]
    names = [str(t) for t in tasks]
    if len(names) != n_tasks:
        raise UserError(f"got {len(names)} task names {names} for {n_tasks} target column(s)")
    if len(set(names)) != len(names):
        raise UserError(f"task names must be unique, got {names}")
    return names


def _check_finite_predictions(y_pred: np.ndarray, task: str) -> None:
    """y_pred: (n,) or (n, C) for one task; NaN / inf in any row is a UserError."""
    rows = y_pred if y_pred.ndim == 2 else y_pred[:, None]
    for kind, bad in (("NaN", np.isnan(rows)), ("inf", np.isinf(rows))):
        k = int(bad.any(axis=1).sum())
        if k:
            raise UserError(f"predictions contain {kind} for task {task!r} ({k} rows)")


def check_probability_column(y_true: np.ndarray, y_pred: np.ndarray, task: str) -> None:
    """y_true: labelled rows only (n,); y_pred: (n,) probabilities."""
    bad = y_true[~np.isin(y_true, (0.0, 1.0))]
    if bad.size:
        raise UserError(f"binary labels for task {task!r} must be 0 or 1 (found {bad[0]:g})")
    outside = int(((y_pred < 0) | (y_pred > 1)).sum())
    if outside:
        raise UserError(f"binary predictions for task {task!r} must be probabilities in [0, 1] "
                        f"({outside} rows outside; apply a sigmoid)")


def _check_labels(y_true: np.ndarray, task: str, kind: str) -> None:
    """y_true: (N,) one task's labels, NaN = missing; inf is a UserError."""
    k = int(np.isinf(y_true).sum())
    if k:
        raise UserError(f"{kind} labels contain inf for task {task!r} ({k} rows)")


# ---------------------------------------------------------------------------- computation


def _evaluate(registry: dict[str, MetricFn], names: list[str], y_true: np.ndarray, y_pred: np.ndarray,
              task: str, notes: list[str]) -> dict[str, float | None]:
    """{metric: float | None} for one task's labelled rows; undefined metrics become None plus a note."""
    if len(y_true) == 0:
        notes.append(f"task {task!r}: no labelled rows; all metrics undefined")
        return dict.fromkeys(names)
    out: dict[str, float | None] = {}
    for name in names:
        try:
            value = float(registry[name](y_true, y_pred))
        except Undefined as why:
            notes.append(f"task {task!r}: {why}; {name} undefined")
            value = None
        if value is not None and not math.isfinite(value):
            notes.append(f"task {task!r}: {name} is not finite; reported as null")
            value = None
        out[name] = value
    return out


def _mean_over_tasks(per_task: dict[str, dict[str, float | None]],
                     names: list[str]) -> dict[str, float | None]:
    """{metric: mean over tasks of the defined values, or None when no task defines it}."""
    mean: dict[str, float | None] = {}
    for name in names:
        values = [scores[name] for scores in per_task.values() if scores[name] is not None]
        mean[name] = float(np.mean(values)) if values else None
    return mean


def _as_columns(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 (N, T); a 1-D array is one task. Shapes must match."""
    t, p = _as_float(y_true, "y_true"), _as_float(y_pred, "y_pred")
    for what, arr in (("y_true", t), ("y_pred", p)):
        if arr.ndim not in (1, 2):
            raise UserError(f"{what} must be (N, T) or (N,), got shape {arr.shape}")
    t2 = t.reshape(-1, 1) if t.ndim == 1 else t
    p2 = p.reshape(-1, 1) if p.ndim == 1 else p
    if t2.shape != p2.shape:
        raise UserError(f"y_true shape {t.shape} does not match y_pred shape {p.shape} "
                        "(expected both (N, T))")
    if t2.shape[1] == 0:
        raise UserError(f"y_true has no task columns (shape {t.shape})")
    return t2, p2


def score_columns(y_true: Any, y_pred: Any, registry: dict[str, MetricFn], names: list[str],
                  tasks: Sequence[str] | None, *, kind: str,
                  check_column: Callable[[np.ndarray, np.ndarray, str], None] | None = None) -> dict[str, Any]:
    """Each column is a task, masked to its labelled rows; ``check_column(y_true, y_pred, task)``
    checks one task's labelled rows before scoring (probabilities in [0, 1], say)."""
    t, p = _as_columns(y_true, y_pred)
    task_names = _task_names(tasks, t.shape[1])
    per_task: dict[str, dict[str, float | None]] = {}
    n: dict[str, int] = {}
    notes: list[str] = []
    for j, task in enumerate(task_names):
        _check_labels(t[:, j], task, kind)
        _check_finite_predictions(p[:, j], task)
        labelled = ~np.isnan(t[:, j])
        tj, pj = t[labelled, j], p[labelled, j]
        if check_column is not None:
            check_column(tj, pj, task)
        n[task] = int(labelled.sum())
        per_task[task] = _evaluate(registry, names, tj, pj, task, notes)
    return {"per_task": per_task, "mean": _mean_over_tasks(per_task, names), "n": n, "notes": notes}


def _multiclass_inputs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """y_true float64 (N,) with NaN = missing; y_pred float64 (N, C), C >= 2. Shapes must agree."""
    t, p = _as_float(y_true, "y_true"), _as_float(y_pred, "y_pred")
    t1 = t.reshape(-1) if t.ndim == 2 and t.shape[1] == 1 else t
    if t1.ndim != 1 or p.ndim != 2 or p.shape[1] < 2 or len(t1) != len(p):
        raise UserError(f"y_true shape {t.shape} does not match y_pred shape {p.shape} "
                        "(multiclass expects y_true (N,) or (N, 1) and y_pred (N, C) with C >= 2)")
    return t1, p


def _check_multiclass(y_true: np.ndarray, proba: np.ndarray, task: str) -> None:
    """y_true: labelled rows (n,); proba: (n, C). Labels are class indices, rows are probabilities."""
    n_classes = proba.shape[1]
    bad = y_true[(y_true != np.round(y_true)) | (y_true < 0) | (y_true >= n_classes)]
    if bad.size:
        raise UserError(f"multiclass labels for task {task!r} must be class indices 0..{n_classes - 1} "
                        f"matching y_pred's {n_classes} columns (found {bad[0]:g})")
    off = int(((proba < 0).any(axis=1) | (proba > 1).any(axis=1)
               | ~np.isclose(proba.sum(axis=1), 1.0, rtol=0, atol=PROBA_SUM_ATOL)).sum())
    if off:
        raise UserError(f"multiclass predictions for task {task!r} must be class probabilities in [0, 1] "
                        f"with rows summing to 1 ({off} rows do not; apply a softmax)")


def score_classes(y_true: Any, y_pred: Any, registry: dict[str, MetricFn], names: list[str],
                  tasks: Sequence[str] | None, *, kind: str) -> dict[str, Any]:
    """One task of class indices and class-probability rows; argmax is the predicted class.
    Adds ``confusion_matrix``: (C, C) list of lists, rows = true class, columns = predicted class."""
    t, p = _multiclass_inputs(y_true, y_pred)
    (task,) = _task_names(tasks, 1)
    _check_labels(t, task, kind)
    _check_finite_predictions(p, task)
    labelled = ~np.isnan(t)
    tj, pj = t[labelled].astype(np.int64), p[labelled]
    _check_multiclass(tj, pj, task)
    pj = pj / pj.sum(axis=1, keepdims=True)  # exact normalisation, so log_loss does not warn on float32 sums
    notes: list[str] = []
    scores = _evaluate(registry, names, tj, pj, task, notes)
    return {"per_task": {task: scores}, "mean": dict(scores), "n": {task: int(labelled.sum())},
            "notes": notes, "confusion_matrix": _confusion_matrix(tj, pj)}


def compute_metrics(y_true: Any, y_pred: Any, task_type: str, *, tasks: Sequence[str] | None = None,
                    metrics: str | Iterable[str] | None = None) -> dict[str, Any]:
    """Score predictions against labels; every value in the result is a plain Python float / int / None.

    ``task_type`` names a task class of :data:`biodl.tasks.TASKS`, which picks the layout (see the
    module docstring) and the metrics. A 1-D array of values or probabilities is one task.
    ``tasks`` names the task columns (default ``task_0``, ``task_1``, ...); ``metrics`` selects a
    subset of the task type's metrics (default: all).

    Returns ``{"per_task": {task: {metric: value}}, "mean": {metric: mean over tasks of the defined
    values}, "n": {task: labelled rows}, "notes": [why a value is None, ...]}``; class-probability
    tasks add ``"confusion_matrix"``.

    Raises UserError for an unknown task type or metric, mismatched shapes, NaN / inf predictions,
    labels outside the task type's range, or probabilities outside [0, 1].
    """
    from biodl.tasks import task_class  # the task classes are built from this module's tables

    return task_class(task_type).score(y_true, y_pred, tasks=tasks, metrics=metrics)
