"""Non-deep baselines, trained on the same split as the deep model and reported beside it.

Each baseline has ``fit(X_train, y_train, X_valid, y_valid)`` (hyperparameters, where there are
any, are chosen on the validation split) and ``predict(X) -> (N, T)`` in original units /
probabilities — the same shapes the deep models give. A segmentation baseline takes instance masks
for ``y`` and predicts a list of masks.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from biodl.errors import UserError
from biodl.registry import Interval, Registry
from biodl.tasks import Binary, Multiclass, Regression, Segmentation, task_class

BASELINES: Registry = Registry("baseline")
register_baseline = BASELINES.register


def make_baseline(spec: dict, *, task_type: str, seed: int, n_jobs: int = 1):
    spec = dict(spec)
    kind = spec.pop("type", None)
    spec.pop("featurizer", None)  # which features it reads is the workflow's business
    if kind not in BASELINES:
        raise UserError(f"unknown baseline {kind!r} (known: {', '.join(sorted(BASELINES))})")
    cls = BASELINES[kind]
    if task_class(task_type) not in cls.task_types:
        raise UserError(f"baseline {kind!r} does not fit task type {task_type} "
                        f"(it does {', '.join(t.name for t in cls.task_types)})")
    try:
        return cls(task_type=task_type, seed=seed, n_jobs=n_jobs, **spec)
    except TypeError as exc:
        raise UserError(f"baseline {kind!r}: {exc}") from None


def _flat_float(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, np.float32).reshape(len(X), -1)


class _Imputer:
    """Training-split medians for NaN features (RDKit descriptors)."""

    def fit(self, X):
        med = np.nanmedian(X, axis=0) if np.isnan(X).any() else np.zeros(X.shape[1], X.dtype)
        self.median = np.where(np.isnan(med), 0.0, med).astype(np.float32)
        return self

    def transform(self, X):
        return np.where(np.isnan(X), self.median, X) if np.isnan(X).any() else X


class Baseline:
    name: ClassVar[str]
    #: the task classes (biodl.tasks) it can be trained for
    task_types: ClassVar[tuple[type, ...]]
    param_constraints: ClassVar[dict] = {}

    def __init__(self, task_type: str, seed: int = 0, n_jobs: int = 1):
        self.task_type, self.seed, self.n_jobs = task_type, seed, n_jobs
        self.task = task_class(task_type)

    @property
    def params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and k not in ("n_jobs", "task")}


@register_baseline
class RandomForest(Baseline):
    """scikit-learn random forest per task (labelled rows only), on flattened float features."""

    name = "random_forest"
    task_types = (Regression, Binary, Multiclass)
    param_constraints: ClassVar[dict] = {"n_estimators": Interval(1, None), "min_samples_leaf": Interval(1, None)}

    def __init__(self, task_type, seed=0, n_jobs=1, n_estimators: int = 500, max_features: Any = 1.0,
                 min_samples_leaf: int = 1):
        super().__init__(task_type, seed, n_jobs)
        self.n_estimators, self.max_features, self.min_samples_leaf = n_estimators, max_features, min_samples_leaf

    def fit(self, X, y, X_valid=None, y_valid=None):
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        X = _flat_float(X)
        self.imputer_ = _Imputer().fit(X)
        X = self.imputer_.transform(X)
        cls = RandomForestClassifier if self.task.is_classifier else RandomForestRegressor
        self.models_ = []
        for t in range(y.shape[1]):
            labelled = ~np.isnan(y[:, t])
            model = cls(n_estimators=self.n_estimators, max_features=self.max_features,
                        min_samples_leaf=self.min_samples_leaf, n_jobs=self.n_jobs, random_state=self.seed)
            model.fit(X[labelled], y[labelled, t])
            # threads add the trees' outputs in whatever order they finish: one thread predicts the
            # same last digits every run (fitting is seeded per tree, so it may use all threads)
            model.set_params(n_jobs=1)
            self.models_.append(model)
        return self

    def predict(self, X):
        X = self.imputer_.transform(_flat_float(X))
        if not self.task.is_classifier:
            return np.stack([m.predict(X) for m in self.models_], axis=1)
        return self.task.from_class_probabilities([_class_probabilities(m, X) for m in self.models_])


def _class_probabilities(model, X) -> np.ndarray:
    """(N, largest class + 1): a column per class index, zero for classes the training rows lacked."""
    proba = np.zeros((len(X), int(model.classes_.max()) + 1))
    proba[:, model.classes_.astype(int)] = model.predict_proba(X)
    return proba


@register_baseline
class LogisticRegression(Baseline):
    """Logistic regression on row-normalized, standardized counts (k-mer baseline); the
    regularization strength C is chosen on the validation split from ``C_grid``."""

    name = "logistic_regression"
    task_types = (Binary,)
    param_constraints: ClassVar[dict] = {"C_grid": Interval(0, None, closed="neither"), "max_iter": Interval(1, None)}

    def __init__(self, task_type, seed=0, n_jobs=1, C_grid: tuple = (0.001, 0.01, 0.1, 1.0, 10.0),
                 normalize_rows: bool = True, max_iter: int = 2000):
        super().__init__(task_type, seed, n_jobs)
        self.C_grid, self.normalize_rows, self.max_iter = list(C_grid), normalize_rows, max_iter

    def _prep(self, X):
        X = _flat_float(X)
        if self.normalize_rows:
            X = X / np.maximum(X.sum(axis=1, keepdims=True), 1)
        return X

    def fit(self, X, y, X_valid, y_valid):
        from sklearn.linear_model import LogisticRegression as LR
        from sklearn.metrics import roc_auc_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, Xv = self._prep(X), self._prep(X_valid)
        self.models_, self.chosen_C_ = [], []
        for t in range(y.shape[1]):
            lab, labv = ~np.isnan(y[:, t]), ~np.isnan(y_valid[:, t])
            best = None
            for C in self.C_grid:
                model = make_pipeline(StandardScaler(), LR(C=C, max_iter=self.max_iter, random_state=self.seed))
                model.fit(X[lab], y[lab, t])
                score = roc_auc_score(y_valid[labv, t], model.predict_proba(Xv[labv])[:, 1])
                if best is None or score > best[0]:
                    best = (score, C, model)
            self.chosen_C_.append(best[1])
            self.models_.append(best[2])
        return self

    def predict(self, X):
        X = self._prep(X)
        return np.stack([m.predict_proba(X)[:, 1] for m in self.models_], axis=1)


@register_baseline
class Ridge(Baseline):
    """Ridge regression per task on standardized features; the L2 strength ``alpha`` is chosen on
    the validation split (RMSE) from ``alpha_grid``.

    onehot_codes: read DNA codes (the ``onehot`` featurizer's uint8 (N, L), A C G T N = 0..4) as a
        position-specific one-hot (N, 4·L), N as all zeros: a weight per base per position, the
        classic siRNA-design baseline. False: the features as they are (k-mer counts, descriptors).
    """

    name = "ridge"
    task_types = (Regression,)
    param_constraints: ClassVar[dict] = {"alpha_grid": Interval(0, None, closed="neither")}

    def __init__(self, task_type, seed=0, n_jobs=1, alpha_grid: tuple = (0.1, 1.0, 10.0, 100.0, 1000.0),
                 onehot_codes: bool = False):
        super().__init__(task_type, seed, n_jobs)
        self.alpha_grid, self.onehot_codes = list(alpha_grid), bool(onehot_codes)

    def _prep(self, X):
        if not self.onehot_codes:
            return _flat_float(X)
        codes = np.asarray(X)
        if codes.ndim != 2 or codes.dtype != np.uint8 or codes.max(initial=0) > 4:
            raise UserError("baseline 'ridge': onehot_codes needs DNA codes from the 'onehot' featurizer "
                            f"(uint8 (N, L), values 0-4); got {codes.dtype} {codes.shape}")
        return np.eye(5, 4, dtype=np.float32)[codes].reshape(len(codes), -1)

    def fit(self, X, y, X_valid, y_valid):
        from sklearn.linear_model import Ridge as SkRidge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, Xv = self._prep(X), self._prep(X_valid)
        self.models_, self.chosen_alpha_ = [], []
        for t in range(y.shape[1]):
            lab, labv = ~np.isnan(y[:, t]), ~np.isnan(y_valid[:, t])
            best = None
            for alpha in self.alpha_grid:
                model = make_pipeline(StandardScaler(), SkRidge(alpha=alpha)).fit(X[lab], y[lab, t])
                rmse = float(np.sqrt(np.mean((model.predict(Xv[labv]) - y_valid[labv, t]) ** 2)))
                if best is None or rmse < best[0]:
                    best = (rmse, alpha, model)
            self.chosen_alpha_.append(best[1])
            self.models_.append(best[2])
        return self

    def predict(self, X):
        X = self._prep(X)
        return np.stack([m.predict(X) for m in self.models_], axis=1)


@register_baseline
class ClassicalCount(Baseline):
    """Cell counting without learning features: Otsu threshold + connected components
    (scikit-image) per image, then a linear calibration fitted on the training split from
    (components, foreground area / median single-object area) to the count — touching cells
    merge into one component, and the area term recovers part of that."""

    name = "classical_count"
    task_types = (Regression,)
    param_constraints: ClassVar[dict] = {"min_size": Interval(0, None)}

    def __init__(self, task_type, seed=0, n_jobs=1, min_size: int = 4, calibrate: bool = True):
        super().__init__(task_type, seed, n_jobs)
        self.min_size, self.calibrate = min_size, calibrate

    def _measure(self, X):
        from skimage.filters import threshold_otsu
        from skimage.measure import label, regionprops
        from skimage.morphology import remove_small_objects

        rows = []
        for img in np.asarray(X, np.float32).reshape(len(X), -1, *X.shape[-2:]).mean(axis=1):
            mask = img > threshold_otsu(img) if img.max() > img.min() else np.zeros(img.shape, bool)
            mask = remove_small_objects(mask, max_size=self.min_size)
            regions = regionprops(label(mask))
            areas = np.array([r.area for r in regions]) if regions else np.zeros(0)
            rows.append((len(regions), areas.sum(), np.median(areas) if len(areas) else 0.0))
        return np.array(rows, np.float64)

    def _design(self, m):
        unit = self.unit_area_ if self.unit_area_ > 0 else 1.0
        return np.column_stack([m[:, 0], m[:, 1] / unit])

    def fit(self, X, y, X_valid=None, y_valid=None):
        from sklearn.linear_model import LinearRegression

        m = self._measure(X)
        self.unit_area_ = float(np.median(m[m[:, 0] > 0, 2])) if (m[:, 0] > 0).any() else 1.0
        self.model_ = LinearRegression().fit(self._design(m), y[:, 0]) if self.calibrate else None
        return self

    def predict(self, X):
        m = self._measure(X)
        if self.model_ is None:
            return m[:, :1]
        return self.model_.predict(self._design(m))[:, None]


@register_baseline
class ClassicalWatershed(Baseline):
    """The classical segmentation a CellProfiler user would run (:func:`biodl.instances.
    watershed_instances`: Gaussian smoothing, Otsu threshold, distance-transform watershed), its
    smoothing and seed distance chosen on the validation images by object F1 at IoU 0.5 (the
    training images are not needed: nothing is learnt from them). ``y`` are instance masks."""

    name = "classical_watershed"
    task_types = (Segmentation,)
    param_constraints: ClassVar[dict] = {"smooth": Interval(0, None), "min_distance": Interval(1, None),
                                         "min_size": Interval(0, None)}

    def __init__(self, task_type, seed=0, n_jobs=1, smooth: Any = (0.5, 1.0, 2.0), min_distance: Any = (2, 3, 5, 7),
                 min_size: int = 8):
        super().__init__(task_type, seed, n_jobs)
        self.smooth, self.min_distance, self.min_size = smooth, min_distance, min_size

    @staticmethod
    def _grid(value) -> list:
        return list(value) if isinstance(value, (list, tuple)) else [value]

    def fit(self, X, y, X_valid=None, y_valid=None):
        from biodl.instances import segmentation_scores, watershed_instances

        grid = [(s, d) for s in self._grid(self.smooth) for d in self._grid(self.min_distance)]
        if len(grid) == 1 or X_valid is None or not len(X_valid):
            self.smooth_, self.min_distance_ = grid[0]
            return self
        f1 = [segmentation_scores(list(y_valid), [watershed_instances(x, smooth=s, min_distance=d,
                                                                      min_size=self.min_size) for x in X_valid],
                                  thresholds=(0.5,))["objects"][0.5]["f1"] for s, d in grid]
        self.smooth_, self.min_distance_ = grid[int(np.argmax(f1))]
        return self

    def predict(self, X):
        from biodl.instances import watershed_instances

        return [watershed_instances(x, smooth=self.smooth_, min_distance=self.min_distance_, min_size=self.min_size)
                for x in X]
