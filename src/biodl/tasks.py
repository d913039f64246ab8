"""Task types: what a network's outputs mean, and everything that follows from that.

One class per task type, as Chemprop v2's predictors: a task object is built for one dataset's
targets — ``Regression(["logS"])``, ``Binary(["tox_a", "tox_b"])``, ``Multiclass(["cell"],
n_classes=4)`` — with its loss, and it owns

    output size       ``n_outputs``: network outputs for these targets and this loss
    losses            ``losses`` (names in :data:`biodl.losses.LOSSES`), ``default_loss``
    metrics           ``metrics`` (name → function), ``primary_metric`` and its direction, ``score``
    output transform  ``link``: raw outputs → values in target units or probabilities (+ σ)
    targets           ``target_scaling``: what the network's targets are standardized by
    calibration       ``summarize`` samples, ``calibrate`` on the validation split (σ scale and
                      conformal intervals; temperature; conformal sets), ``predict`` with them
    predictions       ``prediction_columns``: its columns of the long prediction table
                      (:mod:`biodl.predictions`), ``arrays_from_table`` and ``uncertainty_scores``
                      to read them back
    report            ``report_sections`` (figures, by name in :mod:`biodl.report`) and
                      ``uncertainty_table`` (the template of its uncertainty table)

No other module tests a task-type name: they ask the task. Adding a task type is one class here
registered in :data:`TASKS` — a pixel-wise segmentation task, say: outputs (B, C, H, W) with
``n_outputs`` classes per pixel, a per-pixel cross-entropy in :mod:`biodl.losses`, IoU / Dice in
``metrics``, a softmax over the channel axis in ``link``, and prediction columns that name mask
files rather than hold values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from biodl import metrics as M
from biodl import predictions
from biodl.errors import UserError
from biodl.losses import LOSSES, Loss
from biodl.registry import Registry
from biodl.uncertainty import (
    PredictionInterval,
    PredictionSets,
    check_conformal_rows,
    classification_uncertainty_metrics,
    conformal_quantile,
    domain_metrics,
    entropy_of,
    level_name,
    minimize_temperature,
    named_intervals,
    regression_uncertainty_metrics,
    sigmoid,
    softmax,
)

TASKS: Registry = Registry("task type")


def task_class(name: str) -> type[Task]:
    """The task class registered as ``name``; an unknown name is one UserError listing the known ones."""
    return TASKS.get(name)


def make_task(name: str, tasks: Sequence[str], *, loss: str | None = None, n_classes: int | None = None) -> Task:
    return task_class(name)(tasks, loss=loss, n_classes=n_classes)


class Task:
    """A task type for the target columns ``tasks``, trained with ``loss`` (default: the type's)."""

    name: ClassVar[str]
    losses: ClassVar[tuple[str, ...]]
    default_loss: ClassVar[str]
    metrics: ClassVar[dict[str, Callable]]
    #: results beside the scalar metrics that may be asked for by name (a confusion matrix)
    extra_metrics: ClassVar[tuple[str, ...]] = ()
    primary_metric: ClassVar[str]
    #: an sklearn baseline for it is a classifier (predict_proba) rather than a regressor
    is_classifier: ClassVar[bool] = False
    #: the loss that adds a variance head (``uncertainty.heteroscedastic``), if the type has one
    heteroscedastic_loss: ClassVar[str | None] = None
    #: figures of its report, in order: names in biodl.report.SECTIONS
    report_sections: ClassVar[tuple[str, ...]] = ()
    #: the template that renders its uncertainty metrics in the report
    uncertainty_table: ClassVar[str]
    #: pixel-wise: a U-Net trained on instance masks (biodl.segmentation), not the generic loop;
    #: ``arrays_from_table`` then gives per-item statistics that ``score`` sums, not labels, so
    #: there is no mean-predictor reference and no constant-output check
    pixelwise: ClassVar[bool] = False

    def __init__(self, tasks: Sequence[str], *, loss: str | None = None, n_classes: int | None = None):
        self.tasks = [str(t) for t in tasks]
        loss = loss or self.default_loss
        if loss not in self.losses:
            raise UserError(f"loss {loss!r} does not fit task type {self.name} (choose from {', '.join(self.losses)})")
        self.loss: Loss = LOSSES.get(loss)()
        self.n_classes: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tasks}, loss={self.loss.name!r})"

    # -- outputs ---------------------------------------------------------------------------------
    @property
    def n_outputs(self) -> int:
        return len(self.tasks) * self.loss.outputs_per_task

    def infer_size(self, y_train: np.ndarray) -> None:
        """Fix what the outputs' size depends on and the config left open, from training labels."""

    def target_scaling(self, y: np.ndarray) -> tuple[list, list] | None:
        """Per-task (mean, std) the network's targets are standardized by; None leaves them as they are."""
        return None

    def link(self, out: np.ndarray, pre) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw outputs (N, n_outputs) → (predictions, aleatoric σ or None)."""
        raise NotImplementedError

    # -- metrics ---------------------------------------------------------------------------------
    @classmethod
    def primary(cls) -> tuple[str, bool]:
        """(metric that ranks models of this type, greater is better)."""
        return cls.primary_metric, M.METRIC_DIRECTION[cls.primary_metric]

    @classmethod
    def score(cls, y_true: Any, y_pred: Any, *, tasks: Sequence[str] | None = None,
              metrics: str | Sequence[str] | None = None) -> dict[str, Any]:
        """:func:`biodl.metrics.compute_metrics` for this type."""
        names = M.select_metrics(cls.name, cls.metrics, metrics, cls.extra_metrics)
        return M.score_columns(y_true, y_pred, cls.metrics, names, tasks, kind=cls.name,
                               check_column=cls.check_column)

    #: checks one task's labelled (y_true, y_pred) before scoring; None: no check
    check_column: ClassVar[Callable | None] = None

    @staticmethod
    def prediction_error(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Per-item error that the applicability domain is measured against."""
        return np.abs(y - pred)

    # -- uncertainty -----------------------------------------------------------------------------
    @classmethod
    def check_calibration_rows(cls, y: np.ndarray, levels: Sequence[float], what: str) -> None:
        """Raise before training when the calibration rows' labels ``y`` cannot support ``levels``."""

    def summarize(self, samples: np.ndarray, pre, temperature: float = 1.0) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def calibrate(self, samples: np.ndarray, y: np.ndarray, spec, pre, what: str) -> dict[str, Any]:
        raise NotImplementedError

    def predict(self, samples: np.ndarray, calibration: dict, pre) -> dict[str, Any]:
        raise NotImplementedError

    # -- the prediction table --------------------------------------------------------------------
    def point_columns(self, pred: np.ndarray) -> list[dict[str, Any]]:
        """Columns of the prediction table from point predictions alone (a baseline's)."""
        return [{"y_pred": pred[:, t].astype(np.float64)} for t in range(len(self.tasks))]

    def prediction_columns(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Columns of the prediction table, one mapping per task row, from :meth:`predict`'s result."""
        return self.point_columns(result["pred"])

    @staticmethod
    def from_class_probabilities(per_task: Sequence[np.ndarray]) -> np.ndarray:
        """What per-task sklearn classifiers' class probabilities (one (N, K) array each) predict."""
        raise NotImplementedError

    def bootstrap(self, y_true: np.ndarray, y_pred: np.ndarray, *, n_boot: int, seed: int) -> dict[str, np.ndarray]:
        """Every metric on ``n_boot`` seeded resamples of the items: ``{name: float64 (n_boot,)}``."""
        from biodl import stats

        return stats.bootstrap_metrics(y_true, y_pred, self.metrics, class_rows=bool(getattr(self, "class_rows", False)),
                                       n_boot=n_boot, seed=seed)

    def arrays_from_table(self, frame) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Rows of one model on one split part → (y_true, y_pred, tasks), items ordered by ``row``."""
        tasks = list(dict.fromkeys(frame["task"]))
        wide_true = frame.pivot(index="row", columns="task", values="y_true")[tasks]
        wide_pred = frame.pivot(index="row", columns="task", values="y_pred")[tasks]
        return wide_true.to_numpy(), wide_pred.to_numpy(), tasks

    def uncertainty_scores(self, labelled) -> dict[str, Any] | None:
        """Uncertainty metrics of one task's labelled rows; None when the rows state no uncertainty."""
        return None

    def scores_by_task(self, frame) -> dict[str, Any]:
        """Uncertainty and applicability-domain metrics of one model on one split part, per task."""
        out: dict[str, Any] = {}
        # predictions of a model and its baseline share one frame: a column the model lacks is all-NaN
        frame = frame.dropna(axis=1, how="all")
        for task, sub in frame.groupby("task", sort=False):
            labelled = sub[sub["y_true"].notna()]
            scores = self.uncertainty_scores(labelled)
            if scores is None:
                continue
            if "max_tanimoto" in labelled:
                from biodl.domain import domain_scores

                error = self.prediction_error(labelled["y_true"].to_numpy(), labelled["y_pred"].to_numpy())
                scores["applicability_domain"] = {**domain_metrics(error, labelled["max_tanimoto"].to_numpy()),
                                                  **domain_scores(error, labelled)}
            out[str(task)] = scores
        return out


@TASKS.register
class Regression(Task):
    """Real-valued targets, one column per task (NaN = missing), standardized for training and
    reported in their own units. σ comes from an ensemble / MC dropout spread and, with the Gaussian
    NLL loss, a variance head; calibration z-scales σ and fits split-conformal intervals."""

    name = "regression"
    losses = ("mse", "gaussian_nll")
    default_loss = "mse"
    heteroscedastic_loss = "gaussian_nll"
    metrics = M.VALUE_METRICS
    primary_metric = "rmse"
    report_sections = ("parity", "domain")
    uncertainty_table = "_uncertainty_regression.html.j2"

    def target_scaling(self, y):
        mean, std = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
        return mean.tolist(), np.where(std > 0, std, 1.0).tolist()

    def link(self, out, pre):
        t = len(self.tasks)
        mean = pre.inverse_y(out[:, :t])
        if self.loss.heteroscedastic:
            sigma = np.exp(0.5 * np.clip(out[:, t:], -10, 10))
            return mean, pre.inverse_y(sigma, scale_only=True)
        return mean, None

    @classmethod
    def check_calibration_rows(cls, y, levels, what):
        check_conformal_rows(y, levels, what)

    def summarize(self, samples, pre, temperature=1.0):
        """``mean``, ``epistemic``, ``aleatoric``, ``sigma``: each (N, T) in target units
        (``aleatoric`` is zero without a variance head, ``epistemic`` zero with one sample)."""
        t = len(self.tasks)
        means = np.stack([pre.inverse_y(s[:, :t].astype(np.float64)) for s in samples])
        mean = means.mean(axis=0)
        epistemic = means.std(axis=0) if len(samples) > 1 else np.zeros_like(mean)
        if self.loss.heteroscedastic:
            var = np.exp(np.clip(samples[:, :, t:].astype(np.float64), -10, 10))
            aleatoric = pre.inverse_y(np.sqrt(var.mean(axis=0)), scale_only=True)
        else:
            aleatoric = np.zeros_like(mean)
        return {"mean": mean, "epistemic": epistemic, "aleatoric": aleatoric,
                "sigma": np.sqrt(epistemic ** 2 + aleatoric ** 2)}

    def calibrate(self, samples, y, spec, pre, what):
        """σ scale per task (z-scaling) and split-conformal quantiles per level and task: of the
        absolute residuals, and of the σ-normalized ones where the model states σ."""
        s = self.summarize(samples, pre)
        has_sigma = bool((s["sigma"] > 0).all())
        scales, absolute, normalized = [], {}, {}
        for t, task in enumerate(self.tasks):
            labelled = ~np.isnan(y[:, t])
            resid = np.abs(y[labelled, t] - s["mean"][labelled, t])
            if has_sigma:
                z = resid / s["sigma"][labelled, t]
                scales.append(float(np.sqrt(np.mean(z ** 2))) if len(z) else 1.0)
            else:
                scales.append(1.0)
            for level in spec.levels:
                key = level_name(level)
                absolute.setdefault(key, []).append(conformal_quantile(resid, level, f"{what}, task {task!r}"))
                if has_sigma:
                    normalized.setdefault(key, []).append(
                        conformal_quantile(resid / s["sigma"][labelled, t], level, f"{what}, task {task!r}"))
        return {"sigma_scale": scales, "conformal": {"absolute": absolute,
                                                      "normalized": normalized if has_sigma else None}}

    def predict(self, samples, calibration, pre):
        """``pred`` (N, T), σ and its parts scaled by the calibrated factor, and ``intervals``."""
        s = self.summarize(samples, pre)
        scale = np.asarray(calibration.get("sigma_scale", [1.0] * len(self.tasks)))
        out = {"pred": s["mean"], "sigma": s["sigma"] * scale, "epistemic": s["epistemic"] * scale,
               "aleatoric": s["aleatoric"] * scale, "intervals": []}
        conformal = calibration.get("conformal") or {}
        for method, half_width in (("absolute", lambda q: np.broadcast_to(np.asarray(q), s["mean"].shape)),
                                   ("normalized", lambda q: np.asarray(q) * s["sigma"])):
            quantiles = conformal.get(method) or {}
            for level in calibration.get("levels", []):
                if level_name(level) in quantiles:
                    half = half_width(quantiles[level_name(level)])
                    out["intervals"].append(PredictionInterval(level, method, s["mean"] - half, s["mean"] + half))
        return out

    def prediction_columns(self, result):
        columns = self.point_columns(result["pred"])
        states_sigma = bool(np.any(result["sigma"] > 0))  # a single network without a variance head states none
        for t, cols in enumerate(columns):
            if states_sigma:
                cols.update({"y_std": result["sigma"][:, t].astype(np.float64),
                             "y_std_epistemic": result["epistemic"][:, t].astype(np.float64),
                             "y_std_aleatoric": result["aleatoric"][:, t].astype(np.float64)})
            if result["intervals"]:
                cols["intervals"] = predictions.nest_intervals(result["intervals"], t)
        return columns

    def uncertainty_scores(self, labelled):
        intervals = predictions.intervals_of(labelled)
        if "y_std" not in labelled and not intervals:
            return None  # a baseline: neither σ nor intervals
        sigma = labelled["y_std"].to_numpy() if "y_std" in labelled else None
        return regression_uncertainty_metrics(labelled["y_true"].to_numpy(), labelled["y_pred"].to_numpy(), sigma,
                                              named_intervals(intervals))


class Classification(Task):
    """What binary and multiclass share: probabilities, temperature scaling on the validation
    split, entropy-based uncertainty and calibration metrics."""

    is_classifier = True
    uncertainty_table = "_uncertainty_classification.html.j2"
    #: probabilities are rows over classes (not one column of class-1 probability per task)
    class_rows: ClassVar[bool]

    def probabilities(self, samples: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        """Per-sample probabilities at ``temperature``: (S, N, T) of class 1 or (S, N, C)."""
        raise NotImplementedError

    def summarize(self, samples, pre, temperature=1.0):
        """``proba`` (mean over samples), predictive ``entropy`` (total), ``expected_entropy``
        (aleatoric) and their difference ``mutual_info`` (epistemic)."""
        probs = self.probabilities(samples, temperature)
        proba = probs.mean(axis=0)
        entropy = entropy_of(proba, self.class_rows)
        expected = entropy_of(probs, self.class_rows).mean(axis=0)
        return {"proba": proba, "entropy": entropy, "expected_entropy": expected,
                "mutual_info": np.maximum(entropy - expected, 0.0)}

    def temperature_nll(self, samples: np.ndarray, y: np.ndarray) -> Callable[[float], float]:
        """log T → validation NLL of the mean probability at temperature T."""
        raise NotImplementedError

    def fit_temperature(self, samples: np.ndarray, y: np.ndarray) -> float:
        return minimize_temperature(self.temperature_nll(samples, y))

    def calibrate(self, samples, y, spec, pre, what):
        return {"temperature": self.fit_temperature(samples, y) if spec.temperature else 1.0}

    def predict(self, samples, calibration, pre):
        """``pred`` (calibrated probabilities), ``pred_uncalibrated``, ``entropy``, ``mutual_info``, ``sets``."""
        temperature = float(calibration.get("temperature", 1.0))
        s = self.summarize(samples, pre, temperature)
        raw = self.summarize(samples, pre, 1.0)["proba"] if temperature != 1.0 else s["proba"]
        return {"pred": s["proba"], "pred_uncalibrated": raw, "entropy": s["entropy"],
                "mutual_info": s["mutual_info"], "sets": []}

    def probability_column(self, frame, column: str) -> np.ndarray:
        """A probability column of the table as the uncertainty metrics read it."""
        raise NotImplementedError

    def uncertainty_scores(self, labelled):
        y = labelled["y_true"].to_numpy()
        sets = {level_name(s.level): s.classes for s in predictions.sets_of(labelled)}
        entropy = labelled["entropy"].to_numpy() if "entropy" in labelled else None
        scores = classification_uncertainty_metrics(y, self.probability_column(labelled, self.proba_column),
                                                    self.class_rows, entropy, sets or None)
        raw_column = f"{self.proba_column}_uncalibrated"
        if raw_column in labelled:
            before = classification_uncertainty_metrics(y, self.probability_column(labelled, raw_column),
                                                        self.class_rows)
            scores["uncalibrated"] = {k: before[k] for k in ("ece", "brier", "nll")}
        return scores

    #: the table column holding its probabilities
    proba_column: ClassVar[str]


@TASKS.register
class Binary(Classification):
    """0 / 1 labels in one or more columns (multi-label, NaN = missing), a sigmoid per column."""

    name = "binary"
    losses = ("bce",)
    default_loss = "bce"
    metrics = M.PROBABILITY_METRICS
    primary_metric = "roc_auc"
    check_column = staticmethod(M.check_probability_column)
    class_rows = False
    proba_column = "y_pred"
    report_sections = ("roc_pr", "domain", "reliability", "confusion")

    def link(self, out, pre):
        from scipy.special import expit  # 1 / (1 + exp(-x)) without exp's overflow warning at large -x

        return expit(out), None

    def probabilities(self, samples, temperature=1.0):
        return sigmoid(samples.astype(np.float64) / temperature)

    def temperature_nll(self, samples, y):
        labelled = ~np.isnan(y)

        def nll(log_t: float) -> float:
            proba = self.probabilities(samples, math.exp(log_t)).mean(axis=0)
            eps = 1e-12
            p, t = proba[labelled], y[labelled]
            return float(-(t * np.log(p + eps) + (1 - t) * np.log(1 - p + eps)).mean())

        return nll

    def prediction_columns(self, result):
        columns = self.point_columns(result["pred"])
        for t, cols in enumerate(columns):
            cols.update({"entropy": result["entropy"][:, t].astype(np.float64),
                         "mutual_info": result["mutual_info"][:, t].astype(np.float64),
                         "y_pred_uncalibrated": result["pred_uncalibrated"][:, t].astype(np.float64)})
        return columns

    def probability_column(self, frame, column):
        return frame[column].to_numpy()

    @staticmethod
    def from_class_probabilities(per_task: Sequence[np.ndarray]) -> np.ndarray:
        """Class-probability arrays of per-task classifiers → (N, T) probabilities of class 1
        (zero where a task's training rows had no positive)."""
        return np.stack([p[:, 1] if p.shape[1] > 1 else np.zeros(len(p)) for p in per_task], axis=1)

    @staticmethod
    def hard_labels(proba: np.ndarray) -> np.ndarray:
        return (proba > M.BINARY_THRESHOLD).astype(int)


@TASKS.register
class Multiclass(Classification):
    """One task of class indices 0..C-1 (column 0, NaN = missing) and a softmax over C outputs;
    calibration adds conformal prediction sets to temperature scaling."""

    name = "multiclass"
    losses = ("ce",)
    default_loss = "ce"
    metrics = M.CLASS_METRICS
    extra_metrics = (M.CONFUSION_MATRIX,)
    primary_metric = "accuracy"
    class_rows = True
    proba_column = "proba"
    report_sections = ("domain", "reliability", "confusion")

    def __init__(self, tasks, *, loss=None, n_classes=None):
        super().__init__(tasks, loss=loss)
        self.n_classes = n_classes

    @property
    def n_outputs(self) -> int:
        return int(self.n_classes)

    def infer_size(self, y_train):
        self.n_classes = self.n_classes or int(np.nanmax(y_train)) + 1

    @classmethod
    def score(cls, y_true, y_pred, *, tasks=None, metrics=None):
        names = M.select_metrics(cls.name, cls.metrics, metrics, cls.extra_metrics)
        return M.score_classes(y_true, y_pred, cls.metrics, names, tasks, kind=cls.name)

    @staticmethod
    def prediction_error(y, pred):
        # a wrong class is the error, not the distance between class indices
        return (y != pred).astype(float)

    def link(self, out, pre):
        z = out - out.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True), None

    def probabilities(self, samples, temperature=1.0):
        return softmax(samples.astype(np.float64) / temperature)

    @classmethod
    def check_calibration_rows(cls, y, levels, what):
        check_conformal_rows(y, levels, what)

    def temperature_nll(self, samples, y):
        labelled = ~np.isnan(y[:, 0])
        target = y[labelled, 0].astype(np.int64)

        def nll(log_t: float) -> float:
            proba = self.probabilities(samples, math.exp(log_t)).mean(axis=0)
            return float(-np.log(proba[labelled, target] + 1e-12).mean())

        return nll

    def calibrate(self, samples, y, spec, pre, what):
        out = super().calibrate(samples, y, spec, pre, what)
        proba = self.probabilities(samples, out["temperature"]).mean(axis=0)
        labelled = ~np.isnan(y[:, 0])
        scores = 1.0 - proba[labelled, y[labelled, 0].astype(np.int64)]
        out["conformal_sets"] = {level_name(level): conformal_quantile(scores, level, what) for level in spec.levels}
        return out

    def predict(self, samples, calibration, pre):
        out = super().predict(samples, calibration, pre)
        quantiles = calibration.get("conformal_sets") or {}
        for level in calibration.get("levels", []):
            if level_name(level) in quantiles:
                q = quantiles[level_name(level)]
                out["sets"].append(PredictionSets(level, [np.flatnonzero(row >= 1.0 - q).tolist()
                                                          for row in out["pred"]]))
        return out

    def point_columns(self, pred):
        return [{"y_pred": pred.argmax(axis=1).astype(np.float64), "proba": [list(map(float, p)) for p in pred]}]

    def prediction_columns(self, result):
        (cols,) = self.point_columns(result["pred"])
        cols.update({"entropy": result["entropy"].astype(np.float64),
                     "mutual_info": result["mutual_info"].astype(np.float64),
                     "proba_uncalibrated": [list(map(float, p)) for p in result["pred_uncalibrated"]]})
        if result["sets"]:
            cols["sets"] = predictions.nest_sets(result["sets"])
        return [cols]

    def arrays_from_table(self, frame):
        tasks = list(dict.fromkeys(frame["task"]))
        frame = frame.sort_values("row")
        return frame["y_true"].to_numpy()[:, None], np.stack(frame["proba"].to_numpy()), tasks

    def probability_column(self, frame, column):
        return np.stack(frame[column].to_numpy())

    @staticmethod
    def from_class_probabilities(per_task: Sequence[np.ndarray]) -> np.ndarray:
        """The one task's classifier's class probabilities, (N, C)."""
        return per_task[0]


@TASKS.register
class Segmentation(Task):
    """Instance segmentation of cell images: a U-Net (``model: {type: unet}``) predicts background /
    interior / boundary per pixel (loss ``ce_dice``), and cells are grown from the interior by
    watershed (:mod:`biodl.segmentation`); the dataset needs masks (an ``images`` source with
    ``masks:``). The prediction table has one row per image, task ``instances``: ``y_true`` /
    ``y_pred`` the true and predicted number of cells, ``mask_true`` / ``mask_pred`` the masks
    (:func:`biodl.instances.encode_mask`). Scores are the imaging field's (StarDist / Cellpose
    matching, :mod:`biodl.instances`), counted per image and summed over the images scored, so a
    bootstrap resamples images."""

    name = "segmentation"
    losses = ("ce_dice",)
    default_loss = "ce_dice"
    #: names only: scores come from summed per-image counts (biodl.instances), not per-item functions
    metrics = dict.fromkeys(M.SEGMENTATION_METRICS)
    primary_metric = "object_f1"
    pixelwise = True
    report_sections = ("segmentation",)
    uncertainty_table = "_uncertainty_regression.html.j2"
    #: the one row per image in the prediction table
    TASK = "instances"

    @property
    def n_outputs(self) -> int:
        return 3

    @classmethod
    def score(cls, y_true, y_pred, *, tasks=None, metrics=None):
        from biodl.instances import scores_from_sums

        names = M.select_metrics(cls.name, cls.metrics, metrics)
        stats = np.asarray(y_true, np.float64)
        scores = scores_from_sums(stats.sum(axis=0)) if len(stats) else {}
        mean = {n: (float(scores[n]) if n in scores and np.isfinite(scores[n]) else None) for n in names}
        task = (tasks or [cls.TASK])[0]
        return {"per_task": {task: dict(mean)}, "mean": mean, "n": {task: len(stats)}, "notes": []}

    def bootstrap(self, y_true, y_pred, *, n_boot, seed):
        from biodl import stats
        from biodl.instances import scores_from_sums

        per_image = np.asarray(y_true, np.float64)
        draws = [scores_from_sums(block @ per_image) for block in stats.iter_counts(len(per_image), n_boot, seed)]
        return {n: np.concatenate([d[n] for d in draws]) for n in self.metrics}

    def arrays_from_table(self, frame):
        """(per-image statistics (n, len(STAT_COLUMNS)), predicted counts (n, 1), [task]), by row."""
        from biodl.instances import decode_mask, image_stats

        frame = frame.sort_values("row")
        stats = np.array([image_stats(decode_mask(t), decode_mask(p))
                          for t, p in zip(frame["mask_true"], frame["mask_pred"])], np.float64)
        stats = stats.reshape(len(frame), -1) if len(frame) else np.zeros((0, 1))
        return stats, frame["y_pred"].to_numpy(np.float64)[:, None], [self.TASK]

    def scores_by_task(self, frame):
        return {}

    def frame(self, model: str, part: str, ds, idx: np.ndarray, pred_masks) -> Any:
        """Prediction-table rows of ``model`` on the images ``idx`` of the dataset ``ds`` (which
        holds the true masks) with their predicted instance masks."""
        import pandas as pd

        from biodl.instances import encode_mask, n_objects

        truths = [ds.masks[i] for i in idx]
        return pd.DataFrame({
            "model": model, "split": part, "id": ds.meta["id"].to_numpy()[idx], "row": ds.meta["row"].to_numpy()[idx],
            "task": self.TASK, "y_true": np.array([n_objects(t) for t in truths], np.float64),
            "y_pred": np.array([n_objects(p) for p in pred_masks], np.float64),
            "mask_true": [encode_mask(t) for t in truths], "mask_pred": [encode_mask(p) for p in pred_masks]})


# -- which task a dataset or a prediction table is ---------------------------------------------------
def infer_task_type(y: Any) -> str:
    """``"binary"`` when every labelled value (NaN = missing) is 0 or 1, in any number of columns;
    otherwise ``"regression"``.

    y: (N,) or (N, T), numeric or bool. Integer targets with more than two values (cell counts,
    class indices alike) are inferred as regression: ``multiclass`` is never inferred and must be
    named in the config.
    """
    arr = M._as_float(y, "targets")
    if arr.ndim > 2:
        raise UserError(f"targets must be 1-D or 2-D (N, T), got shape {arr.shape}")
    values = arr[~np.isnan(arr)]
    if values.size == 0:
        raise UserError("targets have no labelled values; cannot infer the task type")
    if not np.isfinite(values).all():
        raise UserError(f"targets contain inf ({int(np.isinf(values).sum())} values)")
    return Binary.name if np.isin(values, (0.0, 1.0)).all() else Regression.name


def task_type_of_table(frame) -> str:
    """The task type a prediction table was written for: class-probability rows are multiclass;
    otherwise as inferred from the labels."""
    if "mask_pred" in frame.columns:
        return Segmentation.name
    return Multiclass.name if "proba" in frame.columns else infer_task_type(frame["y_true"].to_numpy())
