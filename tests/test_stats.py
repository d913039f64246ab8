"""Statistics in every report: bootstrap intervals over items, paired deep − baseline verdicts, the
chance / mean-predictor reference, warnings, and the summary over replicates. Every prediction table
here is built by the test (biodl.predictions helpers), never read from the demo files."""

import json

import numpy as np
import pandas as pd
import pytest

from biodl import predictions, stats
from biodl.errors import UserError
from biodl.metrics import compute_metrics
from biodl.stages.evaluate import evaluate_experiment, summarize_replicates
from biodl.tasks import make_task
from biodl.uncertainty import PredictionInterval

SIZES = {"train": 200, "valid": 50, "test": 64}


# -- building experiments ----------------------------------------------------------------------------
def _rows(sizes, offset=0):
    """Disjoint record numbers per part."""
    out, start = {}, offset
    for part, n in sizes.items():
        out[part] = np.arange(start, start + n)
        start += n
    return out


def run(tmp_path, name, task_type, y, preds, *, rows=None, manifest=None, replicate=0, split_seed=0,
        experiment=None, tasks=None, n_classes=None, **kwargs):
    """Write prediction tables and a split for labels ``y`` {part: (n, T) or (n,) class indices} and
    ``preds`` {model: {part: columns per task}}, evaluate, return the metrics dict.

    A model's first part list is its deep model when ``manifest`` names it."""
    rows = rows or _rows({p: len(v) for p, v in y.items()})
    t = make_task(task_type, tasks or [f"t{j}" for j in range(np.asarray(y["test"]).reshape(len(y["test"]), -1).shape[1])],
                  n_classes=n_classes)
    frames = []
    for model, parts in preds.items():
        for part, columns in parts.items():
            labels = np.asarray(y[part], np.float64).reshape(len(rows[part]), -1)
            frames.append(predictions.long_table(model, part, np.array([f"i{r}" for r in rows[part]]), rows[part],
                                                 labels, t, columns))
    path = tmp_path / f"{name}_{replicate}.parquet"
    predictions.write(pd.concat(frames, ignore_index=True), path)
    split = {p: rows[p].tolist() for p in ("train", "valid", "test")}
    split.update({"method": "random", "seed": split_seed, "sizes": {p: len(rows[p]) for p in split}})
    (tmp_path / f"split_{name}_{replicate}.json").write_text(json.dumps(split))
    manifest_path = None
    if manifest is not None:
        manifest_path = tmp_path / f"manifest_{name}_{replicate}.json"
        manifest_path.write_text(json.dumps(manifest))
    return evaluate_experiment(experiment or name, [path], tmp_path / f"split_{name}_{replicate}.json",
                               tmp_path / f"{name}_{replicate}.json", task_type=task_type,
                               model_manifest=manifest_path, replicate=replicate, **kwargs)


def regression_data(rng, sizes=SIZES, tasks=1):
    return {p: rng.normal(size=(n, tasks)) for p, n in sizes.items()}


def values(pred):
    """Point columns of a regression prediction (n, T)."""
    return [{"y_pred": pred[:, j]} for j in range(pred.shape[1])]


def noisy(y, rng, sd):
    return {p: values(v + rng.normal(scale=sd, size=v.shape)) for p, v in y.items()}


def deep_manifest(model="mlp", **extra):
    return {"model_spec": {"type": model}, **extra}


def binary_data(rng, sizes=SIZES, tasks=1, prevalence=0.3):
    return {p: (rng.random((n, tasks)) < prevalence).astype(float) for p, n in sizes.items()}


def probabilities(y, rng, signal):
    """Probabilities that separate the classes by ``signal`` (0 = chance), plus their columns."""
    out = {}
    for p, v in y.items():
        logit = signal * (2 * v - 1) + rng.normal(size=v.shape)
        out[p] = [{"y_pred": 1 / (1 + np.exp(-logit[:, j]))} for j in range(v.shape[1])]
    return out


# -- the weighted metrics are the library's metrics on the resampled rows ------------------------------
@pytest.mark.parametrize("task_type", ["regression", "binary", "multiclass"])
def test_bootstrap_draws_equal_the_metrics_on_explicit_resamples(task_type):
    rng = np.random.default_rng(5)
    n = 25  # small, so that some draws lose a class or a task's labels: undefined must agree too
    if task_type == "regression":
        y = rng.normal(size=(n, 3))
        p = y + rng.normal(size=(n, 3))
        p[:6, 0] = p[6, 0]  # ties
        y[rng.random((n, 3)) < 0.3] = np.nan
    elif task_type == "binary":
        y = (rng.random((n, 3)) < [0.5, 0.15, 0.08]).astype(float)
        p = np.round(rng.random((n, 3)), 1)  # many tied probabilities
        y[rng.random((n, 3)) < 0.2] = np.nan
    else:
        y = rng.integers(0, 4, n).astype(float)
        y[:3] = np.nan
        p = rng.dirichlet(np.ones(4), n)
    task = make_task(task_type, ["a", "b", "c"] if task_type != "multiclass" else ["a"], n_classes=4)
    class_rows = task_type == "multiclass"
    if task_type == "regression":
        y[3:, 2] = np.nan  # three labels: many draws see one value only (r2, correlations undefined)
    counts = stats.resample_counts(n, 60, seed=2)
    # each task alone (undefined per task must agree), then all tasks (the mean over defined tasks)
    columns = [[j] for j in range(y.shape[1])] if not class_rows else []
    cases = [(y[:, c], p[:, c], [task.tasks[c[0]]]) for c in columns] + [(y, p, task.tasks)]
    undefined = 0
    for yy, pp, names in cases:
        draws = stats.bootstrap_metrics(yy, pp, task.metrics, counts, class_rows=class_rows)
        for b in range(len(counts)):
            idx = stats.resampled_indices(counts[b])
            expected = compute_metrics(yy[idx], pp[idx], task_type, tasks=names)["mean"]
            for name, value in expected.items():
                got = draws[name][b]
                if value is None:
                    undefined += 1
                    assert np.isnan(got), (names, name, b)
                else:
                    assert got == pytest.approx(value, abs=1e-12), (names, name, b)
    if not class_rows:
        assert undefined > 0  # the case built for it happened


def test_every_metric_has_a_weighted_form_and_others_fall_back():
    from biodl.metrics import Undefined
    from biodl.tasks import TASKS

    # a metric without one would still be right, but scored resample by resample (minutes for Tox21)
    # (a task with its own bootstrap — segmentation sums per-image counts — does not use these)
    from biodl.tasks import Task

    assert [name for cls in TASKS.values() if cls.bootstrap is Task.bootstrap
            for name, fn in cls.metrics.items() if fn not in stats.WEIGHTED] == []

    def median_error(y, p):
        if len(np.unique(y)) < 3:
            raise Undefined("fewer than 3 distinct labels")
        return float(np.median(np.abs(y - p)))

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 12).astype(float), rng.normal(size=12)
    counts = stats.resample_counts(12, 40, seed=1)
    draws = stats.bootstrap_metrics(y, p, {"median_error": median_error}, counts)["median_error"]
    for b in range(40):
        idx = stats.resampled_indices(counts[b])
        expected = median_error(y[idx], p[idx]) if len(np.unique(y[idx])) >= 3 else np.nan
        np.testing.assert_equal(draws[b], expected)


def test_resamples_are_seeded_and_shared_by_equal_sizes(monkeypatch):
    a = stats.resample_counts(50, 200, seed=0)
    assert np.array_equal(a, stats.resample_counts(50, 200, seed=0))
    assert not np.array_equal(a, stats.resample_counts(50, 200, seed=1))
    assert (a.sum(axis=1) == 50).all()
    assert np.array_equal(a[:100], stats.resample_counts(50, 100, seed=0))  # draw b depends on b, not on B
    # a large part is resampled in blocks of draws: the same stream, so the same numbers
    blocks = list(stats.iter_counts(50, 200, seed=0, chunk_cells=50 * 30))
    assert len(blocks) == 7 and np.array_equal(np.concatenate(blocks), a)
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    task = make_task("regression", ["a", "b"])
    whole = stats.bootstrap_metrics(y, p, task.metrics, a)
    monkeypatch.setattr(stats, "CHUNK_CELLS", 50 * 30)
    blocked = stats.bootstrap_metrics(y, p, task.metrics, n_boot=200, seed=0)
    for name in whole:  # BLAS may sum a block of draws in another order: the last bit can differ
        np.testing.assert_allclose(blocked[name], whole[name], rtol=1e-12, atol=1e-14)


def test_weighted_spearman_equals_scipy_with_ties():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 40).astype(float), rng.normal(size=40)
    counts = stats.resample_counts(40, 30, seed=3)
    got = stats.weighted_spearman(a, b, counts)
    for k in range(30):
        idx = stats.resampled_indices(counts[k])
        assert got[k] == pytest.approx(spearmanr(a[idx], b[idx]).statistic, abs=1e-12)


def test_verdict_follows_the_metric_direction():
    assert stats.verdict([0.1, 0.3], greater_is_better=True) == "better"
    assert stats.verdict([0.1, 0.3], greater_is_better=False) == "worse"
    assert stats.verdict([-0.3, -0.1], greater_is_better=False) == "better"
    assert stats.verdict([-0.1, 0.2], greater_is_better=True) == "no clear difference"
    assert stats.verdict(None, greater_is_better=True) == "no clear difference"


def test_temperature_bounds_are_the_searchs():
    from biodl.uncertainty import minimize_temperature

    # an objective falling without end towards each side ends at that side's bound
    assert minimize_temperature(lambda log_t: -log_t) == pytest.approx(stats.TEMPERATURE_BOUNDS[1], rel=1e-3)
    assert minimize_temperature(lambda log_t: log_t) == pytest.approx(stats.TEMPERATURE_BOUNDS[0], rel=1e-3)


# -- per-replicate evaluation --------------------------------------------------------------------------
def test_interval_contains_the_score_and_shrinks_with_n(tmp_path):
    rng = np.random.default_rng(1)
    widths = {}
    for n in (40, 640):
        y = regression_data(rng, {"train": 100, "valid": 30, "test": n})
        metrics = run(tmp_path, f"n{n}", "regression", y, {"mlp": noisy(y, rng, 0.5)}, manifest=deep_manifest())
        test = metrics["models"]["mlp"]["test"]
        assert test["n_items"] == n
        for name, value in test["mean"].items():
            low, high = test["interval"][name]
            assert low < value < high, name
        assert len(test["bootstrap"]["rmse"]) == stats.N_BOOT
        assert "bootstrap" not in metrics["models"]["mlp"]["valid"]
        widths[n] = test["interval"]["rmse"][1] - test["interval"]["rmse"][0]
    # the width of a mean's interval falls as 1/√n: 16 × the items, about a quarter of the width
    assert widths[640] < 0.4 * widths[40]


def test_same_inputs_same_numbers_and_the_seed_matters(tmp_path):
    rng = np.random.default_rng(2)
    y = binary_data(rng, tasks=3)
    preds = {"mlp": probabilities(y, rng, 1.0), "rf": probabilities(y, rng, 0.5)}
    a = run(tmp_path, "a", "binary", y, preds, manifest=deep_manifest())
    b = run(tmp_path, "b", "binary", y, preds, manifest=deep_manifest(), experiment="a")
    assert (tmp_path / "a_0.json").read_text() == (tmp_path / "b_0.json").read_text()
    c = run(tmp_path, "c", "binary", y, preds, manifest=deep_manifest(), seed=7)
    assert c["models"]["mlp"]["test"]["interval"]["roc_auc"] != a["models"]["mlp"]["test"]["interval"]["roc_auc"]
    assert c["models"]["mlp"]["test"]["mean"] == b["models"]["mlp"]["test"]["mean"]


def test_paired_verdicts_regression(tmp_path):
    rng = np.random.default_rng(3)
    y = regression_data(rng)
    good, bad = noisy(y, rng, 0.3), noisy(y, rng, 1.0)
    better = run(tmp_path, "better", "regression", y, {"mlp": good, "rf": bad}, manifest=deep_manifest())
    c = better["comparisons"]["test"]
    assert (c["deep"], c["baseline"], c["metric"], c["n"]) == ("mlp", "rf", "rmse", 64)
    m = better["models"]
    assert c["difference"] == pytest.approx(m["mlp"]["test"]["mean"]["rmse"] - m["rf"]["test"]["mean"]["rmse"])
    assert c["difference"] < 0 and c["interval"][1] < 0 and c["verdict"] == "better"
    assert len(c["bootstrap"]) == stats.N_BOOT
    # the same resamples for both models: the difference's draws are the models' draws subtracted
    deep_draws, base_draws = m["mlp"]["test"]["bootstrap"]["rmse"], m["rf"]["test"]["bootstrap"]["rmse"]
    assert c["bootstrap"][:5] == pytest.approx(np.subtract(deep_draws[:5], base_draws[:5]), abs=1e-5)
    worse = run(tmp_path, "worse", "regression", y, {"mlp": bad, "rf": good}, manifest=deep_manifest())
    assert worse["comparisons"]["test"]["verdict"] == "worse" and worse["comparisons"]["test"]["difference"] > 0
    equal = run(tmp_path, "equal", "regression", y, {"mlp": noisy(y, rng, 1.0), "rf": noisy(y, rng, 1.0)},
                manifest=deep_manifest())
    c = equal["comparisons"]["test"]
    assert c["interval"][0] < 0 < c["interval"][1] and c["verdict"] == "no clear difference"
    assert set(equal["comparisons"]) == {"test"}  # never on the parts a model was fitted or selected on

    # an extra test set is held out too: its own comparison, reference and draws
    y["external"] = rng.normal(size=(80, 1))
    extra = run(tmp_path, "extra", "regression", y, {"mlp": noisy(y, rng, 0.3), "rf": noisy(y, rng, 1.0)},
                manifest=deep_manifest())
    assert set(extra["comparisons"]) == {"test", "external"}
    assert extra["comparisons"]["external"]["verdict"] == "better" and extra["comparisons"]["external"]["n"] == 80
    assert len(extra["models"]["mlp"]["external"]["bootstrap"]["rmse"]) == stats.N_BOOT
    assert extra["reference"]["external"]["scores"]["rmse"] == pytest.approx(
        np.sqrt(np.mean((y["external"] - y["train"].mean()) ** 2)))


def test_paired_verdicts_roc_auc_and_only_items_both_scored(tmp_path):
    rng = np.random.default_rng(4)
    y = binary_data(rng, tasks=2, sizes={"train": 200, "valid": 50, "test": 300})
    strong, weak = probabilities(y, rng, 2.0), probabilities(y, rng, 0.3)
    better = run(tmp_path, "b", "binary", y, {"cnn": strong, "rf": weak}, manifest=deep_manifest("cnn"))
    c = better["comparisons"]["test"]
    assert c["metric"] == "roc_auc" and c["difference"] > 0 and c["interval"][0] > 0 and c["verdict"] == "better"
    worse = run(tmp_path, "w", "binary", y, {"cnn": weak, "rf": strong}, manifest=deep_manifest("cnn"))
    assert worse["comparisons"]["test"]["verdict"] == "worse"

    # the baseline's featurizer rejected 40 test items: the pair is scored on the 260 both have
    rows = _rows({p: len(v) for p, v in y.items()})
    base_rows = {**rows, "test": rows["test"][40:]}
    table = []
    for model, parts, r in (("cnn", strong, rows), ("rf", weak, base_rows)):
        for part, cols in parts.items():
            keep = slice(40, None) if (model == "rf" and part == "test") else slice(None)
            cols = [{k: v[keep] for k, v in c.items()} for c in cols]
            table.append(predictions.long_table(model, part, np.array([f"i{x}" for x in r[part]]), r[part],
                                                y[part][keep], make_task("binary", ["t0", "t1"]), cols))
    predictions.write(pd.concat(table, ignore_index=True), tmp_path / "partial.parquet")
    split = {p: rows[p].tolist() for p in rows}
    (tmp_path / "partial_split.json").write_text(json.dumps(split))
    (tmp_path / "partial_manifest.json").write_text(json.dumps(deep_manifest("cnn")))
    partial = evaluate_experiment("partial", [tmp_path / "partial.parquet"], tmp_path / "partial_split.json",
                                  tmp_path / "partial.json", task_type="binary",
                                  model_manifest=tmp_path / "partial_manifest.json")
    c = partial["comparisons"]["test"]
    assert c["n"] == 260 and partial["models"]["cnn"]["test"]["n_items"] == 300
    on_common = compute_metrics(y["test"][40:], np.stack([strong["test"][j]["y_pred"][40:] for j in range(2)], 1),
                                "binary", metrics="roc_auc")["mean"]["roc_auc"]
    assert c["difference"] == pytest.approx(on_common - partial["models"]["rf"]["test"]["mean"]["roc_auc"])


def test_multiclass_runs_end_to_end_with_reference(tmp_path):
    rng = np.random.default_rng(6)
    y = {p: rng.choice(3, size=n, p=[0.5, 0.3, 0.2]).astype(float) for p, n in SIZES.items()}
    preds = {}
    for model, signal in (("mlp", 3.0), ("lr", 0.5)):
        preds[model] = {}
        for part, labels in y.items():
            logits = rng.normal(size=(len(labels), 3)) + signal * np.eye(3)[labels.astype(int)]
            proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            preds[model][part] = make_task("multiclass", ["cell"], n_classes=3).point_columns(proba)
    metrics = run(tmp_path, "mc", "multiclass", y, preds, manifest=deep_manifest(), tasks=["cell"], n_classes=3)
    majority = np.bincount(y["train"].astype(int)).argmax()
    assert metrics["reference"]["test"] == {"what": "chance",
                                            "scores": {"accuracy": pytest.approx(np.mean(y["test"] == majority))}}
    assert metrics["comparisons"]["test"]["verdict"] == "better"
    test = metrics["models"]["mlp"]["test"]
    assert set(test["interval"]) == {"accuracy", "macro_f1", "balanced_accuracy", "log_loss"}
    assert not [w for w in metrics["warnings"] if w["model"] == "mlp"]


def test_reference_is_the_training_mean_and_the_prevalence(tmp_path):
    rng = np.random.default_rng(7)
    y = regression_data(rng, tasks=2)
    y["train"] += 3.0  # a training mean away from the test labels' mean: the reference must use train's
    metrics = run(tmp_path, "ref", "regression", y, {"mlp": noisy(y, rng, 0.3)}, manifest=deep_manifest())
    ref = metrics["reference"]["test"]
    expected = np.mean([np.sqrt(np.mean((y["test"][:, j] - y["train"][:, j].mean()) ** 2)) for j in range(2)])
    assert ref["what"] == "mean of training targets"
    assert ref["scores"]["rmse"] == pytest.approx(expected)
    assert ref["scores"]["r2"] < 0 and "pearson" not in ref["scores"]  # undefined for a constant prediction

    yb = binary_data(rng, tasks=2, prevalence=0.2)
    metrics = run(tmp_path, "refb", "binary", yb, {"mlp": probabilities(yb, rng, 1.0)}, manifest=deep_manifest())
    assert metrics["reference"]["test"] == {
        "what": "chance", "scores": {"roc_auc": 0.5, "pr_auc": pytest.approx(yb["test"].mean(axis=0).mean())}}


# -- warnings: each on the case built for it, none on a healthy one ---------------------------------------
def codes(metrics, model=None):
    return {w["code"] for w in metrics["warnings"] if model is None or w["model"] == model}


def test_a_healthy_experiment_has_no_warnings(tmp_path):
    rng = np.random.default_rng(8)
    y = {p: 3 * v for p, v in regression_data(rng, {"train": 200, "valid": 50, "test": 200}).items()}
    sigma = {p: rng.uniform(0.2, 2.0, size=v.shape) for p, v in y.items()}
    deep = {}
    for part, v in y.items():
        pred = v + rng.normal(size=v.shape) * sigma[part]  # errors as large as σ says: σ ranks them
        deep[part] = with_intervals(pred, sigma[part])
    metrics = run(tmp_path, "healthy", "regression", y, {"mlp": deep, "rf": noisy(y, rng, 1.5)},
                  manifest=deep_manifest())
    assert metrics["warnings"] == []
    u = metrics["models"]["mlp"]["test"]["uncertainty"]["t0"]
    assert abs(u["coverage"]["90"] - 0.9) <= 0.05 and u["spearman_error_sigma"] > 0.3


def with_intervals(pred, sigma, level=0.9):
    """Regression columns with σ and a normalized interval at ``level`` (z = 1.645 for 90 %)."""
    half = 1.645 * sigma
    task_count = pred.shape[1]
    intervals = [PredictionInterval(level, "normalized", pred - half, pred + half)]
    return [{"y_pred": pred[:, j], "y_std": sigma[:, j], "y_std_epistemic": sigma[:, j],
             "y_std_aleatoric": np.zeros(len(pred)), "intervals": predictions.nest_intervals(intervals, j)}
            for j in range(task_count)]


def test_small_test_part(tmp_path):
    rng = np.random.default_rng(9)
    for n, fires in ((13, True), (30, False)):
        y = regression_data(rng, {"train": 100, "valid": 30, "test": n})
        metrics = run(tmp_path, f"s{n}", "regression", y, {"mlp": noisy(y, rng, 0.2)}, manifest=deep_manifest())
        assert ("small_test" in codes(metrics)) is fires
    (w,) = [w for w in run(tmp_path, "s13b", "regression", regression_data(rng, {"train": 50, "valid": 20, "test": 13}),
                           {"mlp": noisy(regression_data(rng, {"train": 50, "valid": 20, "test": 13}), rng, 0.2)},
                           manifest=deep_manifest())["warnings"] if w["code"] == "small_test"]
    assert w["part"] == "test" and "13 items" in w["message"]


def test_at_chance_classifier_and_regressor(tmp_path):
    rng = np.random.default_rng(10)
    y = binary_data(rng, tasks=3)
    # test items in pairs, one of each class, sharing one probability: ROC-AUC exactly 0.5, varied outputs
    y["test"] = np.tile([[0.0], [1.0]], (32, 3))
    at_chance = probabilities(y, rng, 2.0)
    at_chance["test"] = [{"y_pred": np.repeat(rng.random(32), 2)} for _ in range(3)]
    chance = run(tmp_path, "chance", "binary", y, {"cnn": at_chance, "rf": probabilities(y, rng, 2.0)},
                 manifest=deep_manifest("cnn"))
    assert chance["models"]["cnn"]["test"]["mean"]["roc_auc"] == pytest.approx(0.5)
    assert "at_chance" in codes(chance, "cnn") and "at_chance" not in codes(chance, "rf")
    (w,) = [w for w in chance["warnings"] if w["code"] == "at_chance"]
    assert "ROC-AUC" in w["message"] and "chance (0.5)" in w["message"]

    yr = regression_data(rng)
    guess = {p: values(rng.normal(size=v.shape)) for p, v in yr.items()}  # predictions unrelated to the labels
    metrics = run(tmp_path, "guess", "regression", yr, {"mlp": guess, "rf": noisy(yr, rng, 0.3)},
                  manifest=deep_manifest())
    assert "at_chance" in codes(metrics, "mlp") and "at_chance" not in codes(metrics, "rf")
    assert "mean predictor" in next(w["message"] for w in metrics["warnings"] if w["code"] == "at_chance")


def test_calibration_bound(tmp_path):
    rng = np.random.default_rng(11)
    y = binary_data(rng)
    preds = {"cnn": probabilities(y, rng, 2.0)}
    for temperature, bound in ((20.0, "upper"), (19.9, "upper"), (0.0502, "lower"), (15.0, None), (1.0, None)):
        metrics = run(tmp_path, "cal", "binary", y, preds,
                      manifest=deep_manifest("cnn", calibration={"temperature": temperature, "levels": [0.9]}))
        found = [w for w in metrics["warnings"] if w["code"] == "calibration_bound"]
        assert bool(found) is (bound is not None), temperature
        if found:
            assert f"{bound} bound" in found[0]["message"] and found[0]["model"] == "cnn"


def test_constant_outputs(tmp_path):
    rng = np.random.default_rng(12)
    y = binary_data(rng, tasks=2)
    flat = {p: [{"y_pred": np.full(len(v), 0.5) + rng.uniform(0, 1e-4, len(v))} for _ in range(2)]
            for p, v in y.items()}
    metrics = run(tmp_path, "flat", "binary", y, {"cnn": flat, "rf": probabilities(y, rng, 1.0)},
                  manifest=deep_manifest("cnn"))
    assert "constant_outputs" in codes(metrics, "cnn") and "constant_outputs" not in codes(metrics, "rf")
    assert "2 of 2 task(s)" in next(w["message"] for w in metrics["warnings"] if w["code"] == "constant_outputs")

    yr = regression_data(rng)
    mean_only = {p: values(np.full(v.shape, 0.1) + rng.normal(scale=1e-5, size=v.shape)) for p, v in yr.items()}
    metrics = run(tmp_path, "flatr", "regression", yr, {"mlp": mean_only, "rf": noisy(yr, rng, 1.0)},
                  manifest=deep_manifest())
    assert "constant_outputs" in codes(metrics, "mlp") and "constant_outputs" not in codes(metrics, "rf")


def test_sigma_that_covers_but_does_not_rank(tmp_path):
    rng = np.random.default_rng(13)
    y = regression_data(rng, {"train": 200, "valid": 50, "test": 300})
    deep = {}
    for part, v in y.items():
        pred = v + rng.normal(size=v.shape)  # errors of sd 1 everywhere
        sigma = rng.uniform(0.9, 1.1, size=v.shape)  # a σ of the right size, unrelated to which errors are large
        deep[part] = with_intervals(pred, sigma)
    metrics = run(tmp_path, "norank", "regression", y, {"mlp": deep}, manifest=deep_manifest())
    u = metrics["models"]["mlp"]["test"]["uncertainty"]["t0"]
    assert abs(u["coverage"]["90"] - 0.9) <= 0.05  # the intervals do cover ...
    (w,) = [w for w in metrics["warnings"] if w["code"] == "sigma_does_not_rank"]
    assert w["model"] == "mlp" and "t0" in w["message"] and "cover" in w["message"]  # ... and it is said


def test_entropy_that_looks_calibrated_but_does_not_rank(tmp_path):
    """The classifier branch: calibrated probabilities (ECE small), an entropy column that either is the
    probabilities' own entropy (ranks mistakes) or is unrelated to them (does not)."""
    from biodl.uncertainty import entropy_of

    rng = np.random.default_rng(14)
    sizes = {"train": 100, "valid": 50, "test": 3000}
    p = {part: rng.random((n, 1)) for part, n in sizes.items()}
    y = {part: (rng.random(v.shape) < v).astype(float) for part, v in p.items()}  # calibrated by construction
    for name, entropy, fires in (("own", lambda v: entropy_of(v, False), False),
                                 ("unrelated", lambda v: rng.random(v.shape), True)):
        cols = {part: [{"y_pred": v[:, 0], "entropy": entropy(v)[:, 0], "mutual_info": np.zeros(len(v)),
                        "y_pred_uncalibrated": v[:, 0]}] for part, v in p.items()}
        metrics = run(tmp_path, name, "binary", y, {"cnn": cols}, manifest=deep_manifest("cnn"))
        assert metrics["models"]["cnn"]["test"]["uncertainty"]["t0"]["ece"] <= 0.05
        found = [w for w in metrics["warnings"] if w["code"] == "sigma_does_not_rank"]
        assert bool(found) is fires, name
        assert not [w for w in metrics["warnings"] if w["code"] != "sigma_does_not_rank"]


# -- the summary over replicates -------------------------------------------------------------------------
def replicates(tmp_path, r, *, experiment="exp", n_test=64):
    rng = np.random.default_rng(20)
    paths = []
    for k in range(r):
        y = regression_data(rng, {"train": 150, "valid": 40, "test": n_test})
        run(tmp_path, experiment, "regression", y, {"mlp": noisy(y, rng, 0.5), "rf": noisy(y, rng, 0.7)},
            manifest=deep_manifest(), replicate=k, split_seed=100 + k, rows=_rows({p: len(v) for p, v in y.items()}))
        paths.append(tmp_path / f"{experiment}_{k}.json")
    return paths


def test_summary_of_three_replicates(tmp_path):
    paths = replicates(tmp_path, 3)
    reps = [json.loads(p.read_text()) for p in paths]
    summary = summarize_replicates(paths[::-1], tmp_path / "summary.json")  # any order: sorted by replicate
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert summary["n_replicates"] == 3 and [r["replicate"] for r in summary["replicates"]] == [0, 1, 2]
    assert [r["seed"] for r in summary["replicates"]] == [100, 101, 102]
    assert summary["primary_metric"] == "rmse" and summary["greater_is_better"] is False
    for model in ("mlp", "rf"):
        test = summary["models"][model]["test"]
        for name in test["mean"]:
            per_rep = [r["models"][model]["test"]["mean"][name] for r in reps]
            assert test["values"][name] == per_rep
            assert test["mean"][name] == pytest.approx(np.mean(per_rep))
            assert test["sd"][name] == pytest.approx(np.std(per_rep, ddof=1))
        assert test["n_items"] == [64, 64, 64]
        # the replicate mean is known more precisely than any one replicate's score
        width = test["interval"]["rmse"][1] - test["interval"]["rmse"][0]
        single = [r["models"][model]["test"]["interval"]["rmse"] for r in reps]
        assert width < min(hi - lo for lo, hi in single)
        assert test["interval"]["rmse"][0] < test["mean"]["rmse"] < test["interval"]["rmse"][1]
        # other metrics: the replicates' intervals averaged bound by bound
        assert test["interval"]["mae"][0] == pytest.approx(np.mean([r["models"][model]["test"]["interval"]["mae"][0]
                                                                    for r in reps]))
    c = summary["comparisons"]["test"]
    per_rep = [r["comparisons"]["test"]["difference"] for r in reps]
    assert c["per_replicate"] == per_rep and c["difference"] == pytest.approx(np.mean(per_rep))
    assert c["verdict"] == stats.verdict(c["interval"], False) and c["n"] == [64, 64, 64]
    assert c["interval"][1] - c["interval"][0] < min(r["comparisons"]["test"]["interval"][1]
                                                     - r["comparisons"]["test"]["interval"][0] for r in reps)
    assert "bootstrap" not in summary["replicates"][0]["comparisons"]["test"]
    assert summary["reference"]["test"]["scores"]["rmse"] == pytest.approx(
        np.mean([r["reference"]["test"]["scores"]["rmse"] for r in reps]))


def test_summary_of_one_replicate_is_that_replicate(tmp_path):
    (path,) = replicates(tmp_path, 1)
    rep = json.loads(path.read_text())
    summary = summarize_replicates([path], tmp_path / "summary.json")
    for model, parts in rep["models"].items():
        for part, scores in parts.items():
            s = summary["models"][model][part]
            assert s["mean"] == scores["mean"] and s["interval"] == scores["interval"]
            assert s["sd"] == dict.fromkeys(scores["mean"], 0.0) and s["n_items"] == [scores["n_items"]]
            assert s["n"] == scores["n"]
    c, rc = summary["comparisons"]["test"], rep["comparisons"]["test"]
    assert (c["difference"], c["interval"], c["verdict"]) == (rc["difference"], rc["interval"], rc["verdict"])
    assert summary["reference"] == rep["reference"] and summary["split"] == rep["split"]


def test_summary_warnings_name_their_replicates(tmp_path):
    rng = np.random.default_rng(30)
    paths = []
    for k, n in enumerate((20, 64, 25)):
        y = regression_data(rng, {"train": 100, "valid": 30, "test": n})
        run(tmp_path, "w", "regression", y, {"mlp": noisy(y, rng, 0.3)}, manifest=deep_manifest(), replicate=k)
        paths.append(tmp_path / f"w_{k}.json")
    summary = summarize_replicates(paths, tmp_path / "s.json")
    (w,) = [w for w in summary["warnings"] if w["code"] == "small_test"]
    assert w["replicates"] == [0, 2]


def test_summary_refuses_mixed_experiments_and_repeated_replicates(tmp_path):
    a = replicates(tmp_path, 1, experiment="alpha")[0]
    b = replicates(tmp_path, 1, experiment="beta")[0]
    with pytest.raises(UserError, match="'beta'.*'alpha'"):
        summarize_replicates([a, b], tmp_path / "s.json")
    with pytest.raises(UserError, match="both replicate 0"):
        summarize_replicates([a, a], tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()


def test_without_a_manifest_no_deep_model_is_assumed(tmp_path):
    rng = np.random.default_rng(40)
    y = regression_data(rng, {"train": 60, "valid": 20, "test": 20})
    metrics = run(tmp_path, "nomanifest", "regression", y, {"mlp": noisy(y, rng, 0.3), "rf": noisy(y, rng, 0.4)})
    assert "deep_model" not in metrics and metrics["comparisons"] == {}
    assert metrics["models"]["rf"]["test"]["interval"]["rmse"] is not None
    assert [w["code"] for w in metrics["warnings"]] == ["small_test"]  # said once for the part
