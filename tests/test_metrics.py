import json
import math

import numpy as np
import pytest
import scipy.stats
import sklearn.metrics as skm

from biodl.errors import UserError
from biodl.metrics import METRIC_DIRECTION, compute_metrics, is_better
from biodl.tasks import TASKS, infer_task_type, task_class

METRICS = {name: cls.metrics for name, cls in TASKS.items()}


def primary_metric(task_type):
    return task_class(task_type).primary()


NAN = np.nan

REG_TRUE = np.array([[1.0, 0.5], [2.0, NAN], [3.5, 1.5], [4.0, 2.0], [NAN, 3.0], [6.0, 2.5]])
REG_PRED = np.array([[1.2, 0.7], [1.8, 9.9], [3.0, 1.0], [4.5, 2.2], [9.9, 2.0], [5.5, 3.0]])

BIN_TRUE = np.array([[1, 0], [0, NAN], [1, 1], [0, 0], [NAN, 1], [1, 0], [0, 1], [1, NAN]], dtype=float)
BIN_PRED = np.array([[0.9, 0.2], [0.3, 0.5], [0.4, 0.8], [0.6, 0.1], [0.5, 0.7], [0.7, 0.6], [0.2, 0.4],
                     [0.8, 0.5]])

MC_TRUE = np.array([0, 1, 2, 2, 1, 0, 2])
MC_PRED = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4], [0.3, 0.3, 0.4],
                    [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])


def _labelled(y_true, y_pred, j):
    mask = ~np.isnan(y_true[:, j])
    return y_true[mask, j], y_pred[mask, j]


def _plain(obj):
    """True when obj holds only dict / list / str / int / float / None / bool (no numpy scalars)."""
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_plain(v) for v in obj)
    return obj is None or type(obj) in (str, int, float, bool)


def test_regression_matches_sklearn_and_scipy_with_nan_masking():
    res = compute_metrics(REG_TRUE, REG_PRED, "regression", tasks=["a", "b"])
    assert res["n"] == {"a": 5, "b": 5}
    assert res["notes"] == []
    for j, task in enumerate(["a", "b"]):
        t, p = _labelled(REG_TRUE, REG_PRED, j)
        got = res["per_task"][task]
        assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(t, p))
        assert got["mae"] == pytest.approx(skm.mean_absolute_error(t, p))
        assert got["r2"] == pytest.approx(skm.r2_score(t, p))
        assert got["pearson"] == pytest.approx(scipy.stats.pearsonr(t, p).statistic)
        assert got["spearman"] == pytest.approx(scipy.stats.spearmanr(t, p).statistic)
    for name in METRICS["regression"]:
        expected = np.mean([res["per_task"][t][name] for t in ("a", "b")])
        assert res["mean"][name] == pytest.approx(expected)


def test_binary_multitask_matches_sklearn_with_nan_masking():
    res = compute_metrics(BIN_TRUE, BIN_PRED, "binary", tasks=["tox_a", "tox_b"])
    assert res["n"] == {"tox_a": 7, "tox_b": 6}
    assert set(res["per_task"]["tox_a"]) == set(METRICS["binary"])
    for j, task in enumerate(["tox_a", "tox_b"]):
        t, p = _labelled(BIN_TRUE, BIN_PRED, j)
        hard = (p > 0.5).astype(int)
        got = res["per_task"][task]
        assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(t, p))
        assert got["pr_auc"] == pytest.approx(skm.average_precision_score(t, p))
        # brute force: every threshold that recalls at least half of the positives
        best = max(((t == 1) & (p >= c)).sum() / (p >= c).sum() for c in np.unique(p)
                   if ((t == 1) & (p >= c)).sum() >= 0.5 * (t == 1).sum())
        assert got["precision_at_recall50"] == pytest.approx(best)
        assert got["accuracy"] == pytest.approx(skm.accuracy_score(t, hard))
        assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(t, hard))
        assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(t, hard))
        assert got["brier"] == pytest.approx(skm.brier_score_loss(t, p))
        assert got["log_loss"] == pytest.approx(skm.log_loss(t, p, labels=[0, 1]))
    assert res["mean"]["roc_auc"] == pytest.approx(
        (res["per_task"]["tox_a"]["roc_auc"] + res["per_task"]["tox_b"]["roc_auc"]) / 2)


def test_nan_masking_ignores_predictions_on_unlabelled_rows():
    base = compute_metrics(BIN_TRUE, BIN_PRED, "binary")
    changed = BIN_PRED.copy()
    changed[np.isnan(BIN_TRUE)] = 1.0 - changed[np.isnan(BIN_TRUE)]
    assert compute_metrics(BIN_TRUE, changed, "binary") == base
    assert list(base["per_task"]) == ["task_0", "task_1"]


def test_one_class_task_gives_none_and_note_not_a_crash():
    y = np.array([[1, 0], [0, 0], [1, NAN], [0, 0]], dtype=float)
    p = np.array([[0.8, 0.3], [0.3, 0.6], [0.6, 0.2], [0.4, 0.1]])
    res = compute_metrics(y, p, "binary", tasks=["ok", "flat"])
    flat = res["per_task"]["flat"]
    assert flat["roc_auc"] is None and flat["pr_auc"] is None and flat["mcc"] is None
    assert flat["accuracy"] == pytest.approx(2 / 3)
    assert "task 'flat': only one class in y_true; roc_auc undefined" in res["notes"]
    assert len(res["notes"]) == 4  # roc_auc, pr_auc, precision_at_recall50, mcc
    # the mean skips the undefined task rather than becoming None / NaN
    assert res["mean"]["roc_auc"] == res["per_task"]["ok"]["roc_auc"] == 1.0
    json.dumps(res, allow_nan=False)


def test_all_tasks_undefined_gives_none_mean_and_empty_task_is_noted():
    y = np.array([[1, NAN], [1, NAN]], dtype=float)
    res = compute_metrics(y, np.array([[0.9, 0.5], [0.7, 0.5]]), "binary", tasks=["pos", "empty"])
    assert res["mean"]["roc_auc"] is None
    assert res["n"] == {"pos": 2, "empty": 0}
    assert all(v is None for v in res["per_task"]["empty"].values())
    assert "task 'empty': no labelled rows; all metrics undefined" in res["notes"]


def test_regression_undefined_correlations_are_none():
    res = compute_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], "regression", tasks=["y"])
    assert res["per_task"]["y"]["pearson"] is None and res["per_task"]["y"]["spearman"] is None
    assert res["per_task"]["y"]["rmse"] == pytest.approx(math.sqrt(2 / 3))
    assert "task 'y': y_pred is constant; pearson undefined" in res["notes"]


def test_metric_subset_and_wrong_metric_for_task_type():
    res = compute_metrics(REG_TRUE, REG_PRED, "regression", metrics=["mae", "rmse"])
    assert list(res["mean"]) == ["mae", "rmse"]
    with pytest.raises(UserError, match=r"^metric 'roc_auc' does not apply to regression "
                                        r"\(available: rmse, mae, r2, pearson, spearman\)$"):
        compute_metrics(REG_TRUE, REG_PRED, "regression", metrics=["rmse", "roc_auc"])
    with pytest.raises(UserError, match="unknown metric 'rmsee'"):
        compute_metrics(REG_TRUE, REG_PRED, "regression", metrics=["rmsee"])
    with pytest.raises(UserError, match="unknown task type 'classification'"):
        compute_metrics(BIN_TRUE, BIN_PRED, "classification")


@pytest.mark.parametrize("bad, kind", [(np.nan, "NaN"), (np.inf, "inf")])
def test_nonfinite_predictions_are_user_errors(bad, kind):
    p = BIN_PRED.copy()
    p[[1, 4], 1] = bad  # even on unlabelled rows
    with pytest.raises(UserError, match=rf"^predictions contain {kind} for task 'tox_b' \(2 rows\)$"):
        compute_metrics(BIN_TRUE, p, "binary", tasks=["tox_a", "tox_b"])
    q = MC_PRED.copy()
    q[0, 2] = bad
    with pytest.raises(UserError, match=rf"predictions contain {kind} for task 'label' \(1 rows\)"):
        compute_metrics(MC_TRUE, q, "multiclass", tasks=["label"])


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(UserError, match=r"y_true shape \(6, 2\) does not match y_pred shape \(6, 3\)"):
        compute_metrics(REG_TRUE, np.zeros((6, 3)), "regression")
    with pytest.raises(UserError, match=r"y_true shape \(7,\) does not match y_pred shape \(6, 3\)"):
        compute_metrics(MC_TRUE, MC_PRED[:6], "multiclass")
    with pytest.raises(UserError, match="got 1 task names"):
        compute_metrics(REG_TRUE, REG_PRED, "regression", tasks=["a"])


def test_binary_input_checks():
    with pytest.raises(UserError, match="must be 0 or 1 \\(found 2\\)"):
        compute_metrics([0.0, 2.0, 1.0], [0.1, 0.2, 0.3], "binary")
    with pytest.raises(UserError, match="probabilities in \\[0, 1\\] \\(1 rows outside"):
        compute_metrics([0.0, 1.0, 1.0], [-0.5, 0.2, 0.3], "binary")


def test_multiclass_matches_sklearn_and_confusion_matrix():
    res = compute_metrics(MC_TRUE, MC_PRED, "multiclass", tasks=["cell_type"])
    hard = MC_PRED.argmax(axis=1)
    got = res["per_task"]["cell_type"]
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(MC_TRUE, hard))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(MC_TRUE, hard, average="macro"))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(MC_TRUE, hard))
    assert got["log_loss"] == pytest.approx(skm.log_loss(MC_TRUE, MC_PRED))
    assert res["mean"] == got
    assert res["n"] == {"cell_type": 7}
    assert res["confusion_matrix"] == skm.confusion_matrix(MC_TRUE, hard).tolist()
    assert res["confusion_matrix"] == [[2, 0, 0], [0, 1, 1], [1, 0, 2]]


def test_multiclass_float_column_with_missing_labels_and_absent_class():
    y = np.array([[0.0], [NAN], [1.0], [1.0]])
    p = np.array([[0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]], dtype=np.float32)
    res = compute_metrics(y, p, "multiclass", metrics=["accuracy", "confusion_matrix"])
    assert res["n"] == {"task_0": 3}
    assert res["per_task"]["task_0"] == {"accuracy": pytest.approx(2 / 3)}
    assert res["confusion_matrix"] == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]


def test_multiclass_input_checks():
    with pytest.raises(UserError, match="class indices 0..2 .* \\(found 3\\)"):
        compute_metrics([0, 3], MC_PRED[:2], "multiclass")
    with pytest.raises(UserError, match="rows summing to 1 \\(2 rows do not; apply a softmax\\)"):
        compute_metrics([0, 1], MC_PRED[:2] * 2, "multiclass")


@pytest.mark.parametrize("task_type, y, p", [
    ("regression", REG_TRUE.astype(np.float32), REG_PRED.astype(np.float32)),
    ("binary", BIN_TRUE.astype(np.float32), BIN_PRED.astype(np.float32)),
    ("multiclass", MC_TRUE, MC_PRED.astype(np.float32)),
    ("binary", np.array([[1.0], [1.0]]), np.array([[0.4], [0.6]])),
])
def test_output_is_plain_json(task_type, y, p):
    res = compute_metrics(y, p, task_type)
    assert _plain(res)
    assert json.loads(json.dumps(res, allow_nan=False)) == res


def test_primary_metric_direction_and_is_better():
    assert primary_metric("regression") == ("rmse", False)
    assert primary_metric("binary") == ("roc_auc", True)
    assert primary_metric("multiclass") == ("accuracy", True)
    assert set(METRIC_DIRECTION) == {name for reg in METRICS.values() for name in reg}
    assert is_better(0.5, 0.7, "rmse") and not is_better(0.7, 0.5, "rmse")
    assert is_better(0.9, 0.8, "roc_auc") and not is_better(0.8, 0.8, "roc_auc")
    assert is_better(0.1, None, "roc_auc") and not is_better(None, 0.1, "roc_auc")
    assert is_better(0.1, float("nan"), "mae") and not is_better(None, None, "mae")
    with pytest.raises(UserError, match="unknown metric 'auc'"):
        is_better(1.0, 0.0, "auc")
    with pytest.raises(UserError, match="unknown task type"):
        primary_metric("ranking")


@pytest.mark.parametrize("y, expected", [
    ([0.5, 1.2, -3.0], "regression"),
    ([[1.5, NAN], [2.0, 3.25]], "regression"),
    ([0, 1, 1, 0], "binary"),
    ([0.0, NAN, 1.0], "binary"),
    ([True, False], "binary"),
    ([[1, 0, NAN], [0, NAN, 1], [1, 1, 0]], "binary"),
    (np.arange(1, 31), "regression"),  # integer cell counts 1..30
    ([0, 1, 2, 2, 1], "regression"),  # integer classes: multiclass is never inferred
    ([[0, 1], [1, 2]], "regression"),  # one non-binary column makes the whole target regression
])
def test_infer_task_type(y, expected):
    assert infer_task_type(y) == expected


def test_infer_task_type_errors():
    with pytest.raises(UserError, match="no labelled values"):
        infer_task_type([NAN, NAN])
    with pytest.raises(UserError, match="must be numeric"):
        infer_task_type(["a", "b"])


def test_degenerate_inputs_give_nones_not_crashes():
    res = compute_metrics([[1.0]], [[2.0]], "regression", tasks=["y"])
    assert res["per_task"]["y"] == {"rmse": 1.0, "mae": 1.0, "r2": None, "pearson": None, "spearman": None}
    assert "task 'y': fewer than 2 labelled rows; r2 undefined" in res["notes"]
    empty = compute_metrics([NAN, NAN], [[0.2, 0.8], [0.5, 0.5]], "multiclass")
    assert empty["n"] == {"task_0": 0} and empty["confusion_matrix"] == [[0, 0], [0, 0]]
    assert empty["mean"]["accuracy"] is None
    with pytest.raises(UserError, match=r"y_true must be \(N, T\) or \(N,\), got shape \(3, 2, 1\)"):
        compute_metrics(np.zeros((3, 2, 1)), np.zeros((3, 2, 1)), "regression")
