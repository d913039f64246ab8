"""How sure is each prediction: estimate, calibrate on the validation split, measure on test.

Estimate (``UncertaintySpec.method``)
    ``none``        one pass; σ only from a heteroscedastic head (``heteroscedastic: true`` trains
                    with the Gaussian NLL and a log-variance output, as DeepChem's ``uncertainty=True``).
    ``mc_dropout``  ``passes`` forward passes with the dropout layers on (Gal & Ghahramani 2016).
    ``ensemble``    ``members`` networks trained from different seeds (Lakshminarayanan et al. 2017);
                    member 0 is the model the hyperparameter search selected.

    Regression: mean over samples; epistemic σ = spread of the sample means, aleatoric σ = root of the
    mean predicted variance, total σ = √(epistemic² + aleatoric²) (all in target units).
    Classification: mean probability over samples; predictive entropy H[p̄] (total), expected
    entropy E[H[p]] (aleatoric) and their difference, the mutual information (epistemic).

Calibrate (fitted on the validation split only, stored in the model file)
    regression      σ scale ``s`` (z-scaling: s² = mean((y-μ)²/σ²) on valid), then split-conformal
                    intervals at each level from absolute residuals |y-μ| and from σ-normalized
                    residuals |y-μ|/σ (finite-sample quantile ⌈(n+1)·level⌉ / n).
    binary          temperature scaling of the logits (minimum validation NLL).
    multiclass      temperature scaling, then conformal prediction sets (score 1 - p_true).

Measure (test split): interval coverage and width, Gaussian NLL, miscalibration area, ENCE,
Spearman(|error|, σ), AUROC of σ for flagging the largest errors; for classifiers ECE, Brier, NLL,
AUROC of the entropy for flagging mistakes, set coverage and size.

This module holds the task-independent parts (the spec, sampling, conformal quantiles, temperature
search, the measures); what a sample means for a task type — and so how it is summarized and
calibrated — is the task class's (:mod:`biodl.tasks`). ``summarize`` / ``calibrate`` /
``predict_with_uncertainty`` below hand a model's samples to its task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from biodl.errors import UserError, settings_from_dict
from biodl.registry import Choices, Interval

METHODS = ("none", "mc_dropout", "ensemble")
CALIBRATION_ROWS = ("shared", "separate")
#: the largest |errors| an uncertainty should flag: those above this quantile of the split's |errors|
LARGE_ERROR_QUANTILE = 0.8


@dataclass
class UncertaintySpec:
    """An experiment's ``uncertainty:`` block; ``from_dict`` rejects unknown keys by name."""

    method: str = "none"
    members: int = 5  # ensemble size K
    passes: int = 30  # MC dropout passes T
    heteroscedastic: bool = False  # train a mean + log-variance head with the Gaussian NLL
    levels: list[float] = field(default_factory=lambda: [0.9])  # conformal coverage levels
    temperature: bool = True  # temperature-scale classifiers on the validation split
    #: shared: calibrate on the rows that early stopping and selection used (more rows for both);
    #: separate: a seeded half of the validation split is kept for calibration alone
    calibration_rows: str = "shared"

    param_constraints: ClassVar[dict] = {
        "method": Choices(*METHODS), "members": Interval(2, None), "passes": Interval(2, None),
        "levels": Interval(0, 1, closed="neither"), "calibration_rows": Choices(*CALIBRATION_ROWS)}

    @classmethod
    def from_dict(cls, values: Mapping | None) -> UncertaintySpec:
        values = dict(values or {})
        spec = settings_from_dict(cls, values, "uncertainty")
        if spec.method not in METHODS:
            raise UserError(f"uncertainty.method: {spec.method!r} (choose from {', '.join(METHODS)})")
        if spec.method == "ensemble" and spec.members < 2:
            raise UserError(f"uncertainty.members: an ensemble needs at least 2 members, got {spec.members}")
        if spec.method == "mc_dropout" and spec.passes < 2:
            raise UserError(f"uncertainty.passes: MC dropout needs at least 2 passes, got {spec.passes}")
        if spec.calibration_rows not in CALIBRATION_ROWS:
            raise UserError(f"uncertainty.calibration_rows: {spec.calibration_rows!r} (choose shared or separate)")
        spec.levels = sorted({float(v) for v in spec.levels})
        if not spec.levels or not all(0 < v < 1 for v in spec.levels):
            raise UserError(f"uncertainty.levels: coverage levels must lie in (0, 1), got {values.get('levels')}")
        return spec

    def to_dict(self) -> dict:
        return asdict(self)


def level_name(level: float) -> str:
    """0.9 → '90', 0.95 → '95', 0.975 → '97.5' (the key of a level in calibrators and metrics)."""
    return f"{100 * level:g}"


class PredictionInterval(NamedTuple):
    """A conformal interval at ``level``: ``method`` is ``normalized`` (half-width q·σ) or
    ``absolute`` (half-width q); ``lower`` / ``upper`` are (N, T) in target units."""

    level: float
    method: str
    lower: np.ndarray
    upper: np.ndarray


def interval_key(level: float, method: str) -> str:
    """Metrics key of an interval: ``abs_90`` for the absolute one, ``90`` for the model's own."""
    return f"abs_{level_name(level)}" if method == "absolute" else level_name(level)


def named_intervals(intervals) -> dict[str, tuple]:
    """Intervals → ``{key: (lower, upper)}`` as the metrics name them: ``abs_L`` is the absolute
    interval, ``L`` the σ-normalized one where the model states σ, else the absolute one again
    (so every model has an ``L`` interval to compare)."""
    out = {interval_key(i.level, i.method): (i.lower, i.upper) for i in intervals}
    for i in intervals:
        out.setdefault(level_name(i.level), (i.lower, i.upper))
    return out


class PredictionSets(NamedTuple):
    """Conformal prediction sets at ``level``: the classes of each item, a list per item."""

    level: float
    classes: list


# -- estimation ---------------------------------------------------------------------------------
def sample_outputs(model, X: np.ndarray, spec: UncertaintySpec, *, seed: int = 0,
                   batch_size: int = 1024) -> np.ndarray:
    """Raw network outputs, one sample per ensemble member or dropout pass: float32 (S, N, n_out).

    MC dropout draws its masks from a generator seeded by ``seed``, so the same model, inputs and
    seed give identical samples on CPU.
    """
    import torch

    if spec.method == "ensemble":
        if len(model.members) + 1 != spec.members:
            raise UserError(f"the model file holds {len(model.members) + 1} ensemble member(s), "
                            f"the uncertainty spec asks for {spec.members}: retrain it")
        return np.stack([model.raw_outputs(X, batch_size, module=m) for m in model.all_modules()])
    if spec.method == "mc_dropout":
        if not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.module.modules()):
            raise UserError("uncertainty.method mc_dropout needs a model with dropout > 0 "
                            f"(model spec: {model.model_spec})")
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            return np.stack([model.raw_outputs(X, batch_size, dropout=True) for _ in range(spec.passes)])
        finally:
            torch.random.set_rng_state(state)
    return model.raw_outputs(X, batch_size)[None]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def entropy_of(p: np.ndarray, multiclass: bool) -> np.ndarray:
    """Natural-log entropy; binary p: (..., T) → (..., T); multiclass p: (..., C) → (...)."""
    eps = 1e-12
    if multiclass:
        return -(p * np.log(p + eps)).sum(axis=-1)
    return -(p * np.log(p + eps) + (1 - p) * np.log(1 - p + eps))


def class_probabilities(model, samples: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Per-sample class probabilities: binary (S, N, T) of class 1, multiclass (S, N, C)."""
    return model.task.probabilities(samples, temperature)


def summarize(model, samples: np.ndarray, temperature: float = 1.0) -> dict[str, np.ndarray]:
    """Samples (S, N, n_out) → per-item summaries (float64); see the task's ``summarize``.

    regression: ``mean``, ``epistemic``, ``aleatoric``, ``sigma`` — each (N, T) in target units.
    classifiers: ``proba``, ``entropy``, ``expected_entropy``, ``mutual_info``.
    """
    return model.task.summarize(samples, model.preprocessor, temperature)


# -- calibration (validation split only) ----------------------------------------------------------
def conformal_quantile(scores: np.ndarray, level: float, what: str) -> float:
    """Split-conformal quantile: the ⌈(n+1)·level⌉-th smallest of n calibration scores.

    Needs n ≥ level / (1 - level) scores (9 for 90 %, 19 for 95 %); fewer is a UserError naming
    the minimum, because the finite-sample guarantee would need an infinite interval.
    """
    scores = np.sort(np.asarray(scores, np.float64))
    n = len(scores)
    k = math.ceil((n + 1) * level)
    if k > n:
        minimum = next(m for m in range(1, 10**7) if math.ceil((m + 1) * level) <= m)
        raise UserError(f"{what}: conformal calibration at level {level:g} needs at least {minimum} labelled "
                        f"validation rows, the validation split has {n}")
    return float(scores[k - 1])


def check_conformal_rows(y: np.ndarray, levels, what: str) -> None:
    """Fail before training, not after it: the conformal levels need enough labelled rows in
    ``y`` (N, T) — counted in the task with the fewest."""
    labelled = int((~np.isnan(y)).sum(axis=0).min())
    for level in levels:
        conformal_quantile(np.zeros(labelled), level, what)


def minimize_temperature(nll) -> float:
    """The temperature minimizing ``nll(log T)`` (bounded search over T in [0.05, 20])."""
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded",
                             options={"xatol": 1e-4})
    # keep T = 1 unless scaling really lowers the validation NLL (flat objective: no change)
    return float(math.exp(result.x)) if result.fun < nll(0.0) - 1e-9 else 1.0


def fit_temperature(model, samples: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimizing the validation NLL of the mean probability."""
    return model.task.fit_temperature(samples, y)


def calibrate(model, samples: np.ndarray, y: np.ndarray, spec: UncertaintySpec,
              what: str = "calibration") -> dict[str, Any]:
    """Fit the calibrators on validation ``samples`` (S, N, n_out) and labels ``y`` (N, T).

    Returns a JSON-able dict stored in the model file: the levels and row count, then the task's
    calibrators — regression ``{"sigma_scale": [T], "conformal": {"absolute": {level: [T]},
    "normalized": {level: [T]} | None}}``; classification ``{"temperature": T, "conformal_sets":
    {level: q} (multiclass)}``.
    """
    y = np.asarray(y, np.float64)
    out: dict[str, Any] = {"levels": [float(v) for v in spec.levels], "n_valid": len(y)}
    out.update(model.task.calibrate(samples, y, spec, model.preprocessor, what))
    return out


# -- prediction with uncertainty ------------------------------------------------------------------
def predict_with_uncertainty(model, X: np.ndarray, *, batch_size: int = 1024) -> dict[str, Any]:
    """Everything the model can say about ``X``: predictions, σ components, calibrated intervals or
    sets (see the task's ``predict``); the caller adds the applicability domain.

    Uses the model's own ``uncertainty`` spec and ``calibration`` (both stored by training); a model
    without them gives plain predictions and, with a heteroscedastic head, its raw σ.
    """
    spec = UncertaintySpec.from_dict(model.uncertainty)
    samples = sample_outputs(model, X, spec, seed=model.info.get("train_seed", 0), batch_size=batch_size)
    return model.task.predict(samples, model.calibration or {}, model.preprocessor)


# -- measurement ----------------------------------------------------------------------------------
def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def gaussian_nll(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """Mean negative log-likelihood of y under N(μ, σ²) (nats)."""
    var = np.maximum(sigma, 1e-12) ** 2
    return float(np.mean(0.5 * np.log(2 * np.pi * var) + (y - mu) ** 2 / (2 * var)))


def miscalibration_area(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, n_levels: int = 99) -> float:
    """Mean |observed - expected| fraction of y inside central Gaussian intervals, over levels
    1 %..99 % (Chemprop's / Uncertainty Toolbox's miscalibration area; 0 is perfect, 0.5 the worst)."""
    from scipy.stats import norm

    expected = np.linspace(0.01, 0.99, n_levels)
    z = np.abs(y - mu) / np.maximum(sigma, 1e-12)
    observed = np.array([(z <= norm.ppf(0.5 + p / 2)).mean() for p in expected])
    return float(np.mean(np.abs(observed - expected)))


def ence(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, n_bins: int | None = None) -> float:
    """Expected normalized calibration error (Levi et al. 2019): items sorted by σ into equal-count
    bins; mean over bins of |RMV - RMSE| / RMV (RMV = root mean variance). Default bins: n // 10,
    between 2 and 20."""
    n = len(y)
    n_bins = n_bins or int(min(20, max(2, n // 10)))
    order = np.argsort(sigma, kind="stable")
    parts = []
    for idx in np.array_split(order, n_bins):
        if len(idx) == 0:
            continue
        rmv = float(np.sqrt(np.mean(sigma[idx] ** 2)))
        rmse = float(np.sqrt(np.mean((y[idx] - mu[idx]) ** 2)))
        if rmv > 0:
            parts.append(abs(rmv - rmse) / rmv)
    return float(np.mean(parts)) if parts else float("nan")


def _flag_auroc(flag_score: np.ndarray, is_bad: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if is_bad.all() or not is_bad.any():
        return None
    return float(roc_auc_score(is_bad, flag_score))


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return None
    return _finite(spearmanr(a, b).statistic)


def domain_metrics(error: np.ndarray, similarity: np.ndarray) -> dict[str, Any]:
    """Applicability domain of one task's labelled rows: mean max-Tanimoto similarity to the training
    set and Spearman(error, similarity) (negative when errors grow away from the training data).
    Rows with no similarity (unparseable SMILES) are left out."""
    ok = ~np.isnan(similarity)
    return {"mean_max_tanimoto": float(similarity[ok].mean()) if ok.any() else None,
            "spearman_error_similarity": _spearman(error[ok], similarity[ok])}


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    """ECE (Guo et al. 2017): top-label confidence in ``n_bins`` equal-width bins; the count-weighted
    mean |accuracy - confidence| over bins."""
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            total += inside.sum() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total / max(len(confidence), 1))


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Per equal-width confidence bin: count, mean confidence, accuracy (for reliability diagrams)."""
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    out = []
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            out.append({"lo": b / n_bins, "hi": (b + 1) / n_bins, "count": int(inside.sum()),
                        "confidence": float(confidence[inside].mean()), "accuracy": float(correct[inside].mean())})
    return out


def regression_uncertainty_metrics(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray | None,
                                   intervals: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """One task's labelled rows: y, mu, sigma (n,) and intervals {name: (lower, upper)}."""
    out: dict[str, Any] = {"n": len(y), "coverage": {}, "mean_width": {}}
    for name, (lo, hi) in sorted(intervals.items()):
        out["coverage"][name] = float(np.mean((y >= lo) & (y <= hi))) if len(y) else None
        out["mean_width"][name] = float(np.mean(hi - lo)) if len(y) else None
    if sigma is None or len(y) == 0 or not np.all(sigma > 0):
        return out
    err = np.abs(y - mu)
    threshold = np.quantile(err, LARGE_ERROR_QUANTILE)
    out.update({
        "nll": _finite(gaussian_nll(y, mu, sigma)),
        "miscalibration_area": _finite(miscalibration_area(y, mu, sigma)),
        "ence": _finite(ence(y, mu, sigma)),
        "spearman_error_sigma": _spearman(err, sigma),
        "auroc_sigma_large_error": _flag_auroc(sigma, err > threshold),
        "mean_sigma": float(np.mean(sigma)),
    })
    return out


def classification_uncertainty_metrics(y: np.ndarray, proba: np.ndarray, multiclass: bool,
                                       entropy: np.ndarray | None = None,
                                       sets: list | None = None) -> dict[str, Any]:
    """One task's labelled rows. binary: y (n,) 0/1, proba (n,) of class 1; multiclass: y (n,) int,
    proba (n, C). ``entropy`` (n,) flags mistakes; ``sets`` is {level: [list of classes per row]}."""
    if len(y) == 0:
        return {"n": 0}
    if multiclass:
        y_int = y.astype(np.int64)
        predicted = proba.argmax(axis=1)
        confidence = proba.max(axis=1)
        onehot = np.eye(proba.shape[1])[y_int]
        brier = float(np.mean(((proba - onehot) ** 2).sum(axis=1)))
        nll = float(-np.mean(np.log(proba[np.arange(len(y)), y_int] + 1e-12)))
    else:
        y_int = y.astype(np.int64)
        predicted = (proba > 0.5).astype(np.int64)
        confidence = np.where(predicted == 1, proba, 1 - proba)
        brier = float(np.mean((proba - y) ** 2))
        nll = float(-np.mean(y * np.log(proba + 1e-12) + (1 - y) * np.log(1 - proba + 1e-12)))
    correct = (predicted == y_int).astype(np.float64)
    if entropy is None:
        entropy = entropy_of(proba, multiclass)
    out: dict[str, Any] = {
        "n": len(y), "ece": expected_calibration_error(confidence, correct), "brier": brier, "nll": nll,
        "auroc_entropy_error": _flag_auroc(entropy, correct == 0),
        "reliability": reliability_bins(confidence, correct),
    }
    if sets:
        out["set_coverage"] = {k: float(np.mean([yy in s for yy, s in zip(y_int, v)])) for k, v in sets.items()}
        out["set_size"] = {k: float(np.mean([len(s) for s in v])) for k, v in sets.items()}
    return out
