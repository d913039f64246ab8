"""Bootstrap statistics for evaluation: intervals over items, paired differences, verdicts, references.

Pure functions of arrays; :mod:`biodl.stages.evaluate` reads the prediction table and calls them.

Resampling
    A bootstrap draw resamples the *items* of one split part with replacement (a multitask item
    keeps all its tasks together). A draw is held as counts — how often each item was drawn — so
    ``counts`` is float64 (B, n) with rows summing to n. Draw b depends only on (seed, n, b): two
    models scored on the same n items get the same resamples, which is what makes a difference of
    their draws a *paired* bootstrap, and every replicate of an experiment uses the same stream.

Metrics on all draws at once
    The common metrics (every metric of :data:`biodl.metrics.VALUE_METRICS`,
    :data:`~biodl.metrics.PROBABILITY_METRICS` and :data:`~biodl.metrics.CLASS_METRICS`) are
    computed as count-weighted sums over the items, which is exactly the value scikit-learn / scipy
    give on the resampled rows (ranks for Spearman and ROC-AUC, tie groups for average precision;
    ``tests/test_stats.py`` checks each against the library on explicit resamples). A metric
    without a weighted form here falls back to calling its function on each resample. A draw where
    the metric is undefined (one class left, a constant column) is NaN, as ``compute_metrics``
    makes it None; a multitask draw is the mean over the tasks that define it.

Intervals are percentile intervals (2.5th and 97.5th percentiles of the draws at level 0.95).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from biodl import metrics as M

#: resamples per interval
N_BOOT = 1000
#: central coverage of a bootstrap interval
LEVEL = 0.95
#: the resampling stream; fixed, so the same inputs give the same intervals
SEED = 0
#: an interval from fewer defined draws than this share describes the resamples that happened to keep
#: both classes (say), not the part: report none
MIN_DEFINED = 0.5
#: most resample counts (draws × items) held at once; larger parts are resampled in blocks of draws
CHUNK_CELLS = 2_000_000
#: the search range of :func:`biodl.uncertainty.minimize_temperature` (tests check they agree)
TEMPERATURE_BOUNDS = (0.05, 20.0)
#: verdicts of a paired comparison
BETTER, WORSE, NO_CLEAR_DIFFERENCE = "better", "worse", "no clear difference"

WeightedFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


# -- resampling -------------------------------------------------------------------------------------
def iter_counts(n: int, n_boot: int = N_BOOT, seed: int = SEED, chunk_cells: int | None = None):
    """Yield float64 (b, n) blocks of consecutive draws, together :func:`resample_counts`'s (one stream,
    so the same numbers), each at most ``chunk_cells`` (default :data:`CHUNK_CELLS`) counts: a
    100 000-item part needs no 800 MB array."""
    rng = np.random.default_rng(seed)
    step = max(1, (chunk_cells or CHUNK_CELLS) // max(n, 1))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        if n == 0:
            yield np.zeros((b, 0))
            continue
        flat = (rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def resample_counts(n: int, n_boot: int = N_BOOT, seed: int = SEED) -> np.ndarray:
    """float64 (n_boot, n): how often each of ``n`` items is drawn in each resample of size n."""
    return np.concatenate(list(iter_counts(n, n_boot, seed)))


def resampled_indices(counts_row: np.ndarray) -> np.ndarray:
    """One draw's counts (n,) → the item indices it drew (int64, sorted), for functions that take rows."""
    return np.repeat(np.arange(len(counts_row)), counts_row.astype(np.int64))


def percentile_interval(draws: Any, level: float = LEVEL) -> list[float] | None:
    """[low, high] percentile interval of the defined (finite) draws; None when fewer than
    :data:`MIN_DEFINED` of them are defined. ``draws``: (B,) floats, NaN / None = undefined."""
    values = np.asarray([np.nan if v is None else v for v in draws] if isinstance(draws, list) else draws,
                        dtype=np.float64)
    finite = values[np.isfinite(values)]
    if len(values) == 0 or len(finite) < MIN_DEFINED * len(values):
        return None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [float(low), float(high)]


def verdict(interval: Sequence[float] | None, greater_is_better: bool) -> str:
    """``better`` / ``worse`` for an interval of a difference (model − reference) that excludes zero,
    in the metric's direction; otherwise (or without an interval) ``no clear difference``."""
    if interval is None:
        return NO_CLEAR_DIFFERENCE
    low, high = interval
    if low > 0:
        return BETTER if greater_is_better else WORSE
    if high < 0:
        return WORSE if greater_is_better else BETTER
    return NO_CLEAR_DIFFERENCE


def round_draws(draws: np.ndarray, digits: int = 6) -> list[float | None]:
    """Draws (B,) → JSON-able floats with ``digits`` significant digits; undefined draws are None."""
    return [float(f"{v:.{digits}g}") if math.isfinite(v) else None for v in np.asarray(draws, np.float64)]


def mean_of_draws(draw_lists: Sequence[Sequence[float | None]]) -> np.ndarray:
    """Element-wise mean (B,) of R replicates' draws (each a list of B floats, None = undefined): a
    draw of the replicate mean, NaN where any replicate's draw is undefined. Lists of different
    lengths are a ValueError."""
    lengths = {len(d) for d in draw_lists}
    if len(lengths) != 1:
        raise ValueError(f"replicates hold different numbers of bootstrap draws: {sorted(lengths)}")
    stacked = np.array([[np.nan if v is None else v for v in d] for d in draw_lists], np.float64)
    return stacked.mean(axis=0)


# -- weighted building blocks -----------------------------------------------------------------------
def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _drawn_constant(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) bool: every drawn item of the draw has the same value (values (m,), w (B, m))."""
    drawn = w > 0
    high = np.where(drawn, values, -np.inf).max(axis=1, initial=-np.inf)
    low = np.where(drawn, values, np.inf).min(axis=1, initial=np.inf)
    return high == low


def _tie_groups(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values (m,) → (start of each run of equal values (G,), run number of each position (m,))."""
    new = np.r_[True, sorted_values[1:] != sorted_values[:-1]] if len(sorted_values) else np.zeros(0, bool)
    return np.flatnonzero(new), np.cumsum(new) - 1


def weighted_ranks(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B, m) the mid-rank (1-based, ties averaged) each item's value has among the values of draw b,
    where item i appears ``w[b, i]`` times. values: (m,); w: (B, m)."""
    order = np.argsort(values, kind="stable")
    starts, group = _tie_groups(values[order])
    ranks = np.empty_like(w, dtype=np.float64)
    if len(values) == 0:
        return ranks
    group_w = np.add.reduceat(w[:, order], starts, axis=1)
    mid = np.cumsum(group_w, axis=1) - group_w + (group_w + 1) / 2
    ranks[:, order] = mid[:, group]
    return ranks


def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) Pearson r of x and y over items weighted by w; x, y: (m,) or (B, m); w: (B, m)."""
    total = w.sum(axis=1)
    mx = _div((w * x).sum(axis=1), total)[:, None]
    my = _div((w * y).sum(axis=1), total)[:, None]
    dx, dy = x - mx, y - my
    cov, vx, vy = (w * dx * dy).sum(axis=1), (w * dx * dx).sum(axis=1), (w * dy * dy).sum(axis=1)
    return np.clip(_div(cov, np.sqrt(vx * vy)), -1.0, 1.0)


def _correlation_defined(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    # metrics._correlation_inputs: at least 2 rows, neither column constant
    return (w.sum(axis=1) >= 2) & ~_drawn_constant(y, w) & ~_drawn_constant(p, w)


def weighted_spearman(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) Spearman ρ of a and b (each (m,)) on every draw of ``w`` (B, m); NaN where either is
    constant on the draw or fewer than 2 items are drawn (scipy's ``spearmanr`` on the resampled rows)."""
    rho = _weighted_pearson(weighted_ranks(a, w), weighted_ranks(b, w), w)
    return np.where(_correlation_defined(a, b, w), rho, np.nan)


# -- regression: y (m,), p (m,), w (B, m) -> (B,) --------------------------------------------------------
def _w_rmse(y, p, w):
    return np.sqrt(_div(w @ (y - p) ** 2, w.sum(axis=1)))


def _w_mae(y, p, w):
    return _div(w @ np.abs(y - p), w.sum(axis=1))


def _w_r2(y, p, w):
    total = w.sum(axis=1)
    mean = _div(w @ y, total)[:, None]
    ss_tot = (w * (y - mean) ** 2).sum(axis=1)
    r2 = 1.0 - _div(w @ (y - p) ** 2, ss_tot)
    return np.where((total >= 2) & ~_drawn_constant(y, w), r2, np.nan)


def _w_pearson(y, p, w):
    return np.where(_correlation_defined(y, p, w), _weighted_pearson(y, p, w), np.nan)


# -- binary: y (m,) of 0/1, p (m,) probabilities of class 1 -------------------------------------------
def _class_weights(y, w):
    """(drawn positives, drawn negatives), (B,) each."""
    positive = y == 1
    return w[:, positive].sum(axis=1), w[:, ~positive].sum(axis=1)


def _both_classes(n_pos, n_neg, values):
    return np.where((n_pos > 0) & (n_neg > 0), values, np.nan)


def _positive_levels(y, p, w):
    """Drawn weights arranged by the distinct scores of the positives, v_0 < … < v_{K-1}: (positives at
    v_k, negatives tied at v_k, negatives strictly below v_k), each (K, B). Only the positives' scores
    matter to ROC-AUC and average precision, so the running sums run over K ≪ m levels."""
    from scipy.sparse import csr_matrix

    positive = y == 1
    levels = np.unique(p[positive])
    k = len(levels)
    at = np.searchsorted(levels, p)  # positives: their level; negatives: the number of levels below
    tied = ~positive & (at < k) & (levels[np.minimum(at, k - 1)] == p)
    between = ~positive & ~tied
    items = np.arange(len(p))
    wt = w.T

    def sums(mask, n_rows):
        # a sparse level × item indicator: one product instead of gathering (B, m) copies
        return csr_matrix((np.ones(int(mask.sum())), (at[mask], items[mask])), shape=(n_rows, len(p))) @ wt

    pos, tie, gap = sums(positive, k), sums(tied, k), sums(between, k + 1)
    below = np.cumsum(gap, axis=0)[:k] + np.cumsum(tie, axis=0) - tie
    return pos, tie, below


def _w_roc_auc(y, p, w):
    # Mann–Whitney: P(score of a positive > score of a negative) + ½ P(tie), counted over the draw
    n_pos, n_neg = _class_weights(y, w)
    if not (y == 1).any():
        return np.full(len(w), np.nan)
    pos, tie, below = _positive_levels(y, p, w)
    u = (pos * (below + 0.5 * tie)).sum(axis=0)
    return _both_classes(n_pos, n_neg, _div(u, n_pos * n_neg))


def _w_pr_auc(y, p, w):
    # sklearn's average precision: Σ over the distinct scores, descending, of Δrecall × precision at
    # that threshold; recall moves only where positives are, so only the positives' levels count
    n_pos, n_neg = _class_weights(y, w)
    if not (y == 1).any():
        return np.full(len(w), np.nan)
    pos, _, below = _positive_levels(y, p, w)
    tp = n_pos - (np.cumsum(pos, axis=0) - pos)  # positives scored ≥ v_k
    fp = n_neg - below  # negatives scored ≥ v_k
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(pos > 0, tp / (tp + fp), 0.0)
    return _both_classes(n_pos, n_neg, _div((pos * precision).sum(axis=0), n_pos))


def _w_precision_at_recall50(y, p, w):
    # the best precision over thresholds that recall half of the drawn positives; a threshold at a
    # positive's score level gives the counts of some threshold at a drawn score, and between those
    # levels precision only falls, so the positives' levels are the candidates
    n_pos, n_neg = _class_weights(y, w)
    if not (y == 1).any():
        return np.full(len(w), np.nan)
    pos, _, below = _positive_levels(y, p, w)
    tp = n_pos - (np.cumsum(pos, axis=0) - pos)
    fp = n_neg - below
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        ok = (tp / n_pos >= 0.5) & (tp + fp > 0)
    best = np.where(ok, precision, -np.inf).max(axis=0)
    return _both_classes(n_pos, n_neg, np.where(np.isfinite(best), best, np.nan))


def _binary_confusion(y, p, w):
    positive = y == 1
    hard = p > M.BINARY_THRESHOLD
    return (w @ (positive & hard), w @ (~positive & ~hard), w @ (~positive & hard), w @ (positive & ~hard))


def _w_binary_accuracy(y, p, w):
    return _div(w @ ((p > M.BINARY_THRESHOLD) == (y == 1)), w.sum(axis=1))


def _w_mcc(y, p, w):
    tp, tn, fp, fn = _binary_confusion(y, p, w)
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = np.nan_to_num(_div(tp * tn - fp * fn, den))  # sklearn: 0 where a margin is empty
    return _both_classes(tp + fn, tn + fp, mcc)


def _w_binary_balanced_accuracy(y, p, w):
    tp, tn, fp, fn = _binary_confusion(y, p, w)
    recalls = np.stack([_div(tp, tp + fn), _div(tn, tn + fp)])  # over the classes drawn
    return _nanmean(recalls, axis=0)


def _w_brier(y, p, w):
    return _div(w @ (p - y) ** 2, w.sum(axis=1))


def _clip_probability(p):
    eps = np.finfo(np.float64).eps  # sklearn's log_loss clips to the dtype's eps
    return np.clip(p, eps, 1 - eps)


def _w_binary_log_loss(y, p, w):
    q = _clip_probability(p)
    return _div(w @ -(y * np.log(q) + (1 - y) * np.log(1 - q)), w.sum(axis=1))


# -- multiclass: y (m,) int64 class indices, proba (m, C) rows summing to 1 -----------------------------
def _class_confusion(y, proba, w):
    """(B, C, C) drawn counts, rows = true class, columns = argmax."""
    c = proba.shape[1]
    cell = y * c + proba.argmax(axis=1)
    onehot = np.zeros((len(y), c * c))
    onehot[np.arange(len(y)), cell] = 1.0
    return (w @ onehot).reshape(len(w), c, c)


def _w_mc_accuracy(y, proba, w):
    return _div(w @ (proba.argmax(axis=1) == y), w.sum(axis=1))


def _w_mc_macro_f1(y, proba, w):
    conf = _class_confusion(y, proba, w)
    tp = np.diagonal(conf, axis1=1, axis2=2)
    true_n, pred_n = conf.sum(axis=2), conf.sum(axis=1)
    f1 = _div(2 * tp, true_n + pred_n)  # 2TP / (2TP + FP + FN); NaN for a class neither true nor predicted
    return _nanmean(f1, axis=1)  # sklearn's labels: classes in y_true or y_pred


def _w_mc_balanced_accuracy(y, proba, w):
    conf = _class_confusion(y, proba, w)
    return _nanmean(_div(np.diagonal(conf, axis1=1, axis2=2), conf.sum(axis=2)), axis=1)


def _w_mc_log_loss(y, proba, w):
    return _div(w @ -np.log(_clip_probability(proba[np.arange(len(y)), y])), w.sum(axis=1))


#: metric function of :mod:`biodl.metrics` → its form on all draws at once
WEIGHTED: dict[Callable, WeightedFn] = {
    M.VALUE_METRICS["rmse"]: _w_rmse, M.VALUE_METRICS["mae"]: _w_mae, M.VALUE_METRICS["r2"]: _w_r2,
    M.VALUE_METRICS["pearson"]: _w_pearson, M.VALUE_METRICS["spearman"]: weighted_spearman,
    M.PROBABILITY_METRICS["roc_auc"]: _w_roc_auc, M.PROBABILITY_METRICS["pr_auc"]: _w_pr_auc,
    M.PROBABILITY_METRICS["precision_at_recall50"]: _w_precision_at_recall50,
    M.PROBABILITY_METRICS["accuracy"]: _w_binary_accuracy, M.PROBABILITY_METRICS["mcc"]: _w_mcc,
    M.PROBABILITY_METRICS["balanced_accuracy"]: _w_binary_balanced_accuracy,
    M.PROBABILITY_METRICS["brier"]: _w_brier, M.PROBABILITY_METRICS["log_loss"]: _w_binary_log_loss,
    M.CLASS_METRICS["accuracy"]: _w_mc_accuracy, M.CLASS_METRICS["macro_f1"]: _w_mc_macro_f1,
    M.CLASS_METRICS["balanced_accuracy"]: _w_mc_balanced_accuracy, M.CLASS_METRICS["log_loss"]: _w_mc_log_loss,
}


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over the defined values along ``axis``; NaN where none is defined (without numpy's warning)."""
    defined = np.isfinite(values)
    return _div(np.where(defined, values, 0.0).sum(axis=axis), defined.sum(axis=axis).astype(np.float64))


def _draw_by_draw(fn: Callable, y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A metric without a weighted form: call it on each resample's rows (slow; NaN where undefined)."""
    out = np.full(len(w), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for b, row in enumerate(w):
            idx = resampled_indices(row)
            if len(idx) == 0:
                continue
            try:
                value = float(fn(y[idx], p[idx]))
            except M.Undefined:
                continue
            out[b] = value if math.isfinite(value) else np.nan
    return out


def _metric_draws(fn: Callable, y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    weighted = WEIGHTED.get(fn)
    if weighted is None:
        return _draw_by_draw(fn, y, p, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = weighted(y, p, w)
    return np.where(np.isfinite(out), out, np.nan)


def bootstrap_metrics(y_true: np.ndarray, y_pred: np.ndarray, metrics: Mapping[str, Callable],
                      counts: np.ndarray | None = None, *, class_rows: bool = False, n_boot: int = N_BOOT,
                      seed: int = SEED) -> dict[str, np.ndarray]:
    """Every metric on every draw: ``{name: float64 (B,)}``, NaN where undefined.

    ``y_true`` / ``y_pred`` in a task's layout (:mod:`biodl.metrics`): columns (N, T) of values or
    probabilities with NaN = missing label, or with ``class_rows`` y_true (N,) / (N, 1) class indices
    and y_pred (N, C) class probabilities. The draws are ``counts`` (B, N), or by default
    :func:`resample_counts` ``(N, n_boot, seed)`` made block by block. Each task is scored on its
    labelled rows of each draw; a draw's value is the mean over the tasks that define it, as
    ``compute_metrics``'s ``mean``.
    """
    from threadpoolctl import threadpool_limits

    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    blocks = [counts] if counts is not None else iter_counts(len(y_true), n_boot, seed)
    # matrix-vector products of ~1000 × 1000: BLAS threads cost more than they save (×50 on 2 busy cores)
    with threadpool_limits(limits=1, user_api="blas"):
        parts = [_bootstrap_metrics(y_true, y_pred, metrics, block, class_rows) for block in blocks]
    return {name: np.concatenate([part[name] for part in parts]) for name in metrics}


def bootstrap_spearman(a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, seed: int = SEED) -> np.ndarray:
    """(n_boot,) :func:`weighted_spearman` of a and b (each (m,)) on the resamples of their m items."""
    return np.concatenate([weighted_spearman(a, b, block) for block in iter_counts(len(a), n_boot, seed)])


def _bootstrap_metrics(y_true, y_pred, metrics, counts, class_rows):
    if class_rows:
        y = y_true.reshape(-1)
        labelled = ~np.isnan(y)
        proba = y_pred[labelled] / y_pred[labelled].sum(axis=1, keepdims=True)  # as metrics.score_classes
        w = counts[:, labelled]
        return {name: _metric_draws(fn, y[labelled].astype(np.int64), proba, w) for name, fn in metrics.items()}
    y_true = y_true.reshape(len(y_true), -1)
    y_pred = y_pred.reshape(len(y_pred), -1)
    per_task: dict[str, list[np.ndarray]] = {name: [] for name in metrics}
    for j in range(y_true.shape[1]):
        labelled = ~np.isnan(y_true[:, j])
        w = counts[:, labelled]
        for name, fn in metrics.items():
            per_task[name].append(_metric_draws(fn, y_true[labelled, j], y_pred[labelled, j], w))
    return {name: _nanmean(np.stack(draws), axis=0) for name, draws in per_task.items()}


# -- references: what a model must beat ----------------------------------------------------------------
def reference_scores(score: Callable[..., dict], y_train: np.ndarray | None,
                     y_part: np.ndarray, *, is_classifier: bool, class_rows: bool,
                     tasks: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The chance / mean-predictor reference for one split part.

    ``score(y_true, y_pred, tasks)`` is the task's scorer (its ``mean`` is read); ``y_train`` / ``y_part``
    are labels in the task's layout (columns (N, T), NaN = missing; class rows (N,) / (N, 1)).

    regression: the scores of predicting each target's training mean (metrics undefined for a
    constant prediction, the correlations, are left out); binary: ROC-AUC 0.5 and PR-AUC (average
    precision) equal to the positive share of the part (mean over tasks with both classes, as the
    metric's mean); multiclass: the accuracy of always predicting the training majority class.
    Returns ``{"what": "mean of training targets" | "chance", "scores": {metric: float}}``, or None
    where it needs training labels that are not given, or the part has no labels.
    """
    y_part = np.asarray(y_part, np.float64)
    if class_rows:
        y = y_part.reshape(-1)
        y = y[~np.isnan(y)]
        if y_train is None or len(y) == 0:
            return None
        train = np.asarray(y_train, np.float64).reshape(-1)
        train = train[~np.isnan(train)].astype(np.int64)
        if len(train) == 0:
            return None
        majority = np.bincount(train).argmax()
        return {"what": "chance", "scores": {"accuracy": float(np.mean(y == majority))}}
    y_part = y_part.reshape(len(y_part), -1)
    if is_classifier:
        prevalence = []
        for j in range(y_part.shape[1]):
            labels = y_part[~np.isnan(y_part[:, j]), j]
            if len(np.unique(labels)) == 2:
                prevalence.append(float(labels.mean()))
        if not prevalence:
            return None
        return {"what": "chance", "scores": {"roc_auc": 0.5, "pr_auc": float(np.mean(prevalence))}}
    if y_train is None:
        return None
    y_train = np.asarray(y_train, np.float64).reshape(len(y_train), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a task with no training label: NaN mean, left out below
        train_mean = np.nanmean(y_train, axis=0)
    keep = ~np.isnan(train_mean) & (~np.isnan(y_part)).any(axis=0)
    if not keep.any():
        return None
    names = [tasks[j] for j in np.flatnonzero(keep)] if tasks is not None else None
    constant = np.broadcast_to(train_mean[keep], y_part[:, keep].shape)
    scores = score(y_part[:, keep], constant, names)["mean"]
    return {"what": "mean of training targets",
            "scores": {k: float(v) for k, v in scores.items() if v is not None}}


# -- checks behind the report's warnings ---------------------------------------------------------------
def constant_outputs(y_true: np.ndarray, y_pred: np.ndarray, *, is_classifier: bool, class_rows: bool,
                     rel_tol: float = 1e-3, prob_tol: float = 1e-3) -> list[int]:
    """Indices of the tasks whose predictions are (near) constant over the part's labelled items.

    values: std of the predictions below ``rel_tol`` × std of the labels (a constant label column
    has nothing to compare with and is not flagged); probabilities (per task, or every class column
    of class rows): all within ``prob_tol`` of each other.
    """
    y_true = np.asarray(y_true, np.float64)
    y_pred = np.asarray(y_pred, np.float64)
    if class_rows:
        labelled = ~np.isnan(y_true.reshape(-1))
        p = y_pred[labelled]
        return [0] if len(p) > 1 and np.all(np.ptp(p, axis=0) < prob_tol) else []
    y_true = y_true.reshape(len(y_true), -1)
    y_pred = y_pred.reshape(len(y_pred), -1)
    out = []
    for j in range(y_true.shape[1]):
        labelled = ~np.isnan(y_true[:, j])
        t, p = y_true[labelled, j], y_pred[labelled, j]
        if len(t) < 2:
            continue
        if is_classifier:
            flat = np.ptp(p) < prob_tol
        else:
            spread = np.std(t)
            flat = spread > 0 and np.std(p) < rel_tol * spread
        if flat:
            out.append(j)
    return out


def near_bound(value: float, bounds: tuple[float, float] = TEMPERATURE_BOUNDS, rel: float = 0.01) -> str | None:
    """``"lower"`` / ``"upper"`` when ``value`` lies at or within ``rel`` (relative) of that bound, else None."""
    low, high = bounds
    if value <= low * (1 + rel):
        return "lower"
    if value >= high * (1 - rel):
        return "upper"
    return None
