"""Uncertainty: estimation (MC dropout, ensembles, heteroscedastic head), calibration on the validation
split, the uncertainty metrics, the applicability domain, and their bad-input errors."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from biodl.errors import UserError
from biodl.tasks import Binary, Multiclass, Regression
from biodl.uncertainty import (
    UncertaintySpec,
    calibrate,
    classification_uncertainty_metrics,
    conformal_quantile,
    ence,
    expected_calibration_error,
    fit_temperature,
    gaussian_nll,
    miscalibration_area,
    predict_with_uncertainty,
    regression_uncertainty_metrics,
    sample_outputs,
    summarize,
)
from tests.conftest import DATA

DESCRIPTORS = ["MolWt", "MolLogP", "TPSA", "NumHDonors", "NumHAcceptors", "NumRotatableBonds", "RingCount"]


@pytest.fixture(scope="module")
def freesolv(tmp_path_factory):
    """FreeSolv on a few RDKit descriptors, with a seeded random split."""
    from biodl.dataset import featurize_source
    from biodl.stages.split import split_dataset

    tmp = tmp_path_factory.mktemp("fs")
    featurize_source({"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles",
                      "id": "id", "targets": ["expt"]}, {"type": "rdkit_descriptors", "descriptors": DESCRIPTORS},
                     tmp / "features")
    split_dataset(tmp / "features", {"method": "random"}, tmp / "split.json", seed=3)
    return tmp


def experiment(uncertainty, **model):
    return {"dataset": "fs", "featurizer": "d", "split": "random", "task": "regression",
            "model": {"type": "mlp", "hidden": [32], "dropout": 0.2, **model},
            "train": {"epochs": 12, "batch_size": 32, "patience": 12, "progress": False},
            "uncertainty": uncertainty}


def train(freesolv, name, uncertainty, **model):
    from biodl.stages.train import train_experiment
    from biodl.train import TrainedModel

    out = freesolv / name
    train_experiment(name, experiment(uncertainty, **model), freesolv / "features", freesolv / "split.json", out,
                     seed=0)
    return TrainedModel.load(out / "model.pt"), json.loads((out / "manifest.json").read_text())


# -- spec ------------------------------------------------------------------------------------------
def test_spec_rejects_unknown_keys_and_bad_values():
    with pytest.raises(UserError, match="unknown setting.*memebers"):
        UncertaintySpec.from_dict({"memebers": 3})
    with pytest.raises(UserError, match="uncertainty.method"):
        UncertaintySpec.from_dict({"method": "bayes"})
    with pytest.raises(UserError, match="at least 2 members"):
        UncertaintySpec.from_dict({"method": "ensemble", "members": 1})
    with pytest.raises(UserError, match="levels"):
        UncertaintySpec.from_dict({"levels": [90]})
    assert UncertaintySpec.from_dict(None).levels == [0.9]


# -- conformal -------------------------------------------------------------------------------------
def test_conformal_quantile_is_the_finite_sample_order_statistic():
    scores = np.arange(1, 20, dtype=float)  # 19 scores: the 90 % quantile is the ceil(20 * 0.9) = 18th
    assert conformal_quantile(scores, 0.9, "x") == 18.0
    assert conformal_quantile(np.arange(1, 10, dtype=float), 0.9, "x") == 9.0  # 9 is just enough


def test_conformal_with_too_few_validation_rows_names_the_minimum():
    with pytest.raises(UserError, match=r"level 0.9 needs at least 9 labelled validation rows.*has 8"):
        conformal_quantile(np.ones(8), 0.9, "experiment 'x', validation split")
    with pytest.raises(UserError, match="level 0.95 needs at least 19"):
        conformal_quantile(np.ones(10), 0.95, "x")


def test_conformal_intervals_cover_at_the_requested_rate():
    """Exchangeable data: a heteroscedastic 'model' whose σ is right up to a factor; the calibrated
    σ-normalized and absolute intervals both reach 90 % on a large fresh sample."""
    rng = np.random.default_rng(0)
    model = SimpleNamespace(task=Regression(["t"], loss="gaussian_nll"),
                            preprocessor=SimpleNamespace(inverse_y=lambda v, scale_only=False: v))

    def draw(n):
        x = rng.uniform(0.2, 2.0, n)
        y = rng.normal(0, x)
        samples = np.stack([np.zeros(n), np.log((0.5 * x) ** 2)], axis=1)[None]  # σ stated half the truth
        return samples, y[:, None]

    cal_samples, cal_y = draw(2000)
    cal = calibrate(model, cal_samples, cal_y, UncertaintySpec(levels=[0.9]))
    assert cal["sigma_scale"][0] == pytest.approx(2.0, rel=0.1)  # z-scaling recovers the factor
    test_samples, test_y = draw(20000)
    sigma = summarize(model, test_samples)["sigma"][:, 0]
    q_norm, q_abs = cal["conformal"]["normalized"]["90"][0], cal["conformal"]["absolute"]["90"][0]
    assert np.mean(np.abs(test_y[:, 0]) <= q_norm * sigma) == pytest.approx(0.9, abs=0.015)
    assert np.mean(np.abs(test_y[:, 0]) <= q_abs) == pytest.approx(0.9, abs=0.015)
    # the σ-normalized interval adapts: narrower where the noise is small
    assert np.mean(q_norm * sigma) < q_abs


def test_multiclass_conformal_sets_and_temperature():
    rng = np.random.default_rng(1)
    model = SimpleNamespace(task=Multiclass(["c"]), preprocessor=None)
    n, c = 3000, 4
    y = rng.integers(0, c, n)
    logits = rng.normal(0, 1, (n, c))
    logits[np.arange(n), y] += 1.5
    # the Bayes posterior is softmax(1.5 * logits); three times the logits is twice too confident
    logits *= 3.0
    cal = calibrate(model, logits[None, : n // 2], y[: n // 2, None].astype(float), UncertaintySpec(levels=[0.9]))
    assert cal["temperature"] == pytest.approx(2.0, rel=0.15)
    q = cal["conformal_sets"]["90"]
    z = logits[n // 2:] / cal["temperature"]
    proba = np.exp(z - z.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    sets = proba >= 1 - q
    assert sets[np.arange(n // 2), y[n // 2:]].mean() == pytest.approx(0.9, abs=0.03)
    assert 1 < sets.sum(1).mean() < c


def test_temperature_scaling_lowers_ece_of_an_overconfident_classifier():
    rng = np.random.default_rng(2)
    model = SimpleNamespace(task=Binary(["t"]), preprocessor=None)
    n = 4000
    true_logit = rng.normal(0, 2, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-true_logit))).astype(float)
    samples = (4.0 * true_logit)[None, :, None]  # four times too confident
    t = fit_temperature(model, samples[:, : n // 2], y[: n // 2, None])
    assert t == pytest.approx(4.0, rel=0.15)

    def ece(temperature):
        p = 1 / (1 + np.exp(-samples[0, n // 2:, 0] / temperature))
        pred = (p > 0.5).astype(float)
        return expected_calibration_error(np.where(pred == 1, p, 1 - p), (pred == y[n // 2:]).astype(float))

    assert ece(t) < 0.03 < ece(1.0)


# -- metrics ---------------------------------------------------------------------------------------
def test_regression_uncertainty_metrics_on_calibrated_and_miscalibrated_sigma():
    rng = np.random.default_rng(3)
    sigma = rng.uniform(0.5, 3.0, 5000)
    y = rng.normal(0, sigma)
    mu = np.zeros_like(y)
    good = regression_uncertainty_metrics(y, mu, sigma, {"90": (mu - 1.645 * sigma, mu + 1.645 * sigma)})
    assert good["coverage"]["90"] == pytest.approx(0.9, abs=0.015)
    assert good["miscalibration_area"] < 0.02 and good["ence"] < 0.1
    assert good["spearman_error_sigma"] > 0.3 and good["auroc_sigma_large_error"] > 0.6
    bad = regression_uncertainty_metrics(y, mu, sigma / 3, {})
    assert bad["miscalibration_area"] > 0.2 and bad["ence"] > 1.0 and bad["nll"] > good["nll"]
    assert gaussian_nll(np.zeros(1), np.zeros(1), np.ones(1)) == pytest.approx(0.5 * np.log(2 * np.pi))
    assert miscalibration_area(y, mu, sigma) == good["miscalibration_area"]
    assert ence(y, mu, sigma) == good["ence"]


def test_classification_uncertainty_metrics():
    y = np.array([0, 1, 1, 0, 1, 0], float)
    perfect = classification_uncertainty_metrics(y, y.copy(), multiclass=False)
    assert perfect["ece"] == pytest.approx(0.0) and perfect["brier"] == 0.0
    assert perfect["auroc_entropy_error"] is None  # no mistakes to flag
    hedged = classification_uncertainty_metrics(y, np.full(6, 0.9), multiclass=False)
    assert hedged["ece"] == pytest.approx(0.4)  # confidence 0.9, accuracy 0.5
    mc = classification_uncertainty_metrics(np.array([0, 1, 2]), np.eye(3) * 0.8 + 0.2 / 3, multiclass=True,
                                            sets={"90": [[0], [1, 2], [0]]})
    assert mc["set_coverage"]["90"] == pytest.approx(2 / 3) and mc["set_size"]["90"] == pytest.approx(4 / 3)


# -- estimation on real trained models -------------------------------------------------------------
def test_ensemble_members_are_saved_and_give_epistemic_sigma(freesolv):
    from biodl.dataset import load_dataset

    model, manifest = train(freesolv, "ens", {"method": "ensemble", "members": 3})
    assert len(model.members) == 2 and manifest["ensemble"]["members"] == 3
    assert len(manifest["ensemble"]["member_valid_scores"]) == 3
    X = np.asarray(load_dataset(freesolv / "features").X[:50])
    outs = [model.raw_outputs(X, module=m) for m in model.all_modules()]
    assert not np.allclose(outs[0], outs[1])  # members really differ
    result = predict_with_uncertainty(model, X)
    assert (result["epistemic"] > 0).all() and (result["aleatoric"] == 0).all()
    np.testing.assert_allclose(result["sigma"], result["epistemic"])
    np.testing.assert_allclose(result["pred"], np.mean([model.preprocessor.inverse_y(o) for o in outs], axis=0),
                               rtol=1e-6)
    (lo, hi), = [(i.lower, i.upper) for i in result["intervals"] if i.level == 0.9 and i.method == "absolute"]
    assert (lo < result["pred"]).all() and (hi > result["pred"]).all()
    assert manifest["calibration"]["n_valid"] == 64


def test_mc_dropout_is_seeded_and_needs_dropout(freesolv):
    from biodl.dataset import load_dataset

    model, _ = train(freesolv, "mc", {"method": "mc_dropout", "passes": 8})
    X = np.asarray(load_dataset(freesolv / "features").X[:40])
    spec = UncertaintySpec.from_dict(model.uncertainty)
    a, b = sample_outputs(model, X, spec, seed=5), sample_outputs(model, X, spec, seed=5)
    assert a.shape == (8, 40, 1) and np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])
    state = torch.random.get_rng_state()
    sample_outputs(model, X, spec, seed=6)
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator is left alone
    no_dropout, _ = train(freesolv, "mc0", {"method": "none"}, dropout=0.0)
    (plain,) = no_dropout.task.prediction_columns(predict_with_uncertainty(no_dropout, X))
    assert "y_std" not in plain and [(c["level"], c["method"]) for c in plain["intervals"][0]] == [(0.9, "absolute")]
    with pytest.raises(UserError, match="mc_dropout needs a model with dropout > 0"):
        sample_outputs(no_dropout, X, spec)


def test_heteroscedastic_head_gives_aleatoric_sigma(freesolv):
    model, manifest = train(freesolv, "het", {"heteroscedastic": True, "method": "mc_dropout", "passes": 5})
    assert model.loss == "gaussian_nll" and manifest["info"]["train_config"]["loss"] == "gaussian_nll"
    from biodl.dataset import load_dataset

    result = predict_with_uncertainty(model, np.asarray(load_dataset(freesolv / "features").X[:30]))
    assert (result["aleatoric"] > 0).all() and (result["epistemic"] > 0).all()
    np.testing.assert_allclose(result["sigma"] ** 2, result["epistemic"] ** 2 + result["aleatoric"] ** 2)


def test_a_failing_ensemble_member_fails_the_run(freesolv, monkeypatch):
    import biodl.train

    real_fit = biodl.train.fit
    calls = {"n": 0}

    def flaky_fit(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the search trial, member 2, then member 3 fails
            raise RuntimeError("CUDA out of memory")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(biodl.train, "fit", flaky_fit)
    with pytest.raises(UserError, match=r"ensemble member 3 of 4 failed.*no smaller ensemble"):
        train(freesolv, "flaky", {"method": "ensemble", "members": 4})
    assert not (freesolv / "flaky").exists()


def test_too_small_validation_split_for_the_level(freesolv, monkeypatch):
    import biodl.train
    from biodl.splits import load_split, save_split
    from biodl.stages.train import train_experiment

    def no_training(*args, **kwargs):  # the check comes before any training, not after minutes of it
        raise AssertionError("trained before checking the calibration size")

    monkeypatch.setattr(biodl.train, "fit", no_training)

    split = load_split(freesolv / "split.json")
    split["train"] += split["valid"][8:]
    split["valid"] = split["valid"][:8]
    save_split(split, freesolv / "tiny_valid.json")
    with pytest.raises(UserError, match="level 0.9 needs at least 9 labelled validation rows, the validation "
                                        "split has 8"):
        train_experiment("tiny", experiment({"method": "none"}), freesolv / "features", freesolv / "tiny_valid.json",
                         freesolv / "tiny", seed=0)


def test_predictions_metrics_and_nan_error(freesolv):
    from biodl.stages.evaluate import evaluate_experiment
    from biodl.stages.predict import predict_experiment

    train(freesolv, "pm", {"method": "ensemble", "members": 2, "levels": [0.8, 0.9]})
    predict_experiment("pm", freesolv / "pm" / "model.pt", freesolv / "features", freesolv / "split.json",
                       freesolv / "pm.parquet")
    frame = pd.read_parquet(freesolv / "pm.parquet")
    for column in ("y_std", "y_std_epistemic", "y_std_aleatoric", "intervals", "max_tanimoto"):
        assert frame[column].notna().all(), column
    cell = frame["intervals"].iloc[0]  # levels are data, not column names
    assert [(c["level"], c["method"]) for c in cell] == [(0.8, "absolute"), (0.9, "absolute"),
                                                         (0.8, "normalized"), (0.9, "normalized")]
    assert all(c["lower"] < frame["y_pred"].iloc[0] < c["upper"] for c in cell)
    assert frame.loc[frame["split"] == "train", "max_tanimoto"].eq(1.0).all()  # a training molecule is itself
    assert frame.loc[frame["split"] == "test", "max_tanimoto"].lt(1.0).any()
    metrics = evaluate_experiment("pm", [freesolv / "pm.parquet"], freesolv / "split.json", freesolv / "pm.json",
                                  task_type="regression")
    u = metrics["models"]["mlp"]["test"]["uncertainty"]["expt"]
    assert set(u["coverage"]) == {"80", "90", "abs_80", "abs_90"}
    assert 0 <= u["coverage"]["90"] <= 1 and u["mean_width"]["90"] > u["mean_width"]["80"]
    for key in ("nll", "miscalibration_area", "ence", "spearman_error_sigma", "auroc_sigma_large_error"):
        assert u[key] is not None, key
    assert -1 <= u["applicability_domain"]["spearman_error_similarity"] <= 1
    assert 0 < u["applicability_domain"]["mean_max_tanimoto"] < 1

    # a model that outputs NaN: the error names the experiment
    from biodl.train import TrainedModel

    broken = TrainedModel.load(freesolv / "pm" / "model.pt")
    with torch.no_grad():
        broken.module.head.bias.fill_(float("nan"))
    broken.save(freesolv / "broken.pt")
    with pytest.raises(UserError, match="experiment 'broken_exp'.*NaN"):
        predict_experiment("broken_exp", freesolv / "broken.pt", freesolv / "features", freesolv / "split.json",
                           freesolv / "broken.parquet")


def test_predict_raw_reports_uncertainty_and_domain(freesolv, write):
    from biodl.stages.predict import predict_raw

    train(freesolv, "raw", {"method": "ensemble", "members": 2})
    csv = write("new.csv", "id,smiles\na,CCO\nb,c1ccccc1CCCCCCCCCCCCCC(=O)O\nc,not_a_smiles\n")
    frame = predict_raw(freesolv / "raw" / "model.pt", {"format": "csv", "path": str(csv), "input": "smiles",
                                                         "id": "id", "targets": []}, freesolv / "raw.csv")
    assert list(frame["id"]) == ["a", "b", "c"]
    for column in ("expt_pred", "expt_std", "expt_lower_90", "expt_upper_90", "max_tanimoto"):
        assert frame[column].iloc[:2].notna().all() and np.isnan(frame[column].iloc[2]), column
    assert frame["reject_reason"].iloc[2] != ""
    assert (frame["expt_lower_90"] < frame["expt_pred"]).iloc[:2].all()
    assert 0 < frame["max_tanimoto"].iloc[0] <= 1.0


def test_domain_similarity():
    from biodl.domain import domain_payload, similarity_to_training

    domain = domain_payload(["CCO", "c1ccccc1O", "bad((smiles"])
    assert domain["n_train"] == 2
    sim = similarity_to_training(domain, ["CCO", "CCCO", "C1CCCCC1N", "###"])
    assert sim[0] == 1.0 and 0 < sim[1] < 1 and sim[2] < sim[1] and np.isnan(sim[3])

    from biodl.uncertainty import domain_metrics

    errors = np.array([0.1, 0.5, 0.9, 5.0])
    m = domain_metrics(errors, sim)  # the unparseable row is left out
    assert m["spearman_error_similarity"] == pytest.approx(-1.0)
    assert m["mean_max_tanimoto"] == pytest.approx(np.mean(sim[:3]))
    assert domain_metrics(errors, np.full(4, 0.5))["spearman_error_similarity"] is None  # constant: undefined
    assert domain_metrics(errors, np.full(4, np.nan)) == {"mean_max_tanimoto": None, "spearman_error_similarity": None}


def test_multiclass_end_to_end_sets_and_temperature(tmp_path):
    """FreeSolv binned into three classes by hydration free energy: MC dropout, temperature scaling and
    conformal prediction sets through predict and evaluate, and in raw predict."""
    from biodl.dataset import featurize_source
    from biodl.stages.evaluate import evaluate_experiment
    from biodl.stages.predict import predict_experiment, predict_raw
    from biodl.stages.split import split_dataset
    from biodl.stages.train import train_experiment

    table = pd.read_csv(DATA / "molecules" / "freesolv.csv")
    table["band"] = pd.qcut(table["expt"], 3, labels=False).astype(float)
    table.to_csv(tmp_path / "bands.csv", index=False)
    source = {"format": "csv", "path": str(tmp_path / "bands.csv"), "input": "smiles", "id": "id",
              "targets": ["band"]}
    featurize_source(source, {"type": "rdkit_descriptors", "descriptors": DESCRIPTORS}, tmp_path / "features")
    split_dataset(tmp_path / "features", {"method": "random"}, tmp_path / "split.json", seed=1)
    spec = {**experiment({"method": "mc_dropout", "passes": 6, "levels": [0.9]}), "task": "multiclass",
            "n_classes": 3}
    manifest = train_experiment("bands", spec, tmp_path / "features", tmp_path / "split.json", tmp_path / "m", seed=0)
    assert manifest["calibration"]["temperature"] > 0 and "90" in manifest["calibration"]["conformal_sets"]
    predict_experiment("bands", tmp_path / "m" / "model.pt", tmp_path / "features", tmp_path / "split.json",
                       tmp_path / "p.parquet")
    frame = pd.read_parquet(tmp_path / "p.parquet")
    assert {"proba", "proba_uncalibrated", "entropy", "mutual_info", "sets"} <= set(frame.columns)
    assert all([c["level"] for c in cell] == [0.9] for cell in frame["sets"])
    assert frame["sets"].map(lambda cell: len(cell[0]["classes"])).between(1, 3).all()
    metrics = evaluate_experiment("bands", [tmp_path / "p.parquet"], tmp_path / "split.json", tmp_path / "m.json",
                                  task_type="multiclass")
    u = metrics["models"]["mlp"]["test"]["uncertainty"]["band"]
    assert 0 < u["set_coverage"]["90"] <= 1 and 1 <= u["set_size"]["90"] <= 3
    assert u["ece"] is not None and "uncalibrated" in u
    raw = predict_raw(tmp_path / "m" / "model.pt", {**source, "targets": []}, tmp_path / "raw.csv")
    assert {"proba_0", "proba_2", "band_pred", "band_entropy", "set_90", "max_tanimoto"} <= set(raw.columns)
    assert raw["set_90"].str.len().gt(0).all()


def test_separate_calibration_rows_are_never_used_for_early_stopping(freesolv):
    from biodl.stages.train import calibration_halves

    valid = np.arange(100, 164)
    stop, cal = calibration_halves(valid, seed=4)
    assert len(stop) == len(cal) == 32 and not set(stop) & set(cal) and set(stop) | set(cal) == set(valid)
    assert np.array_equal(calibration_halves(valid, seed=4)[1], cal)
    _, manifest = train(freesolv, "sep", {"method": "mc_dropout", "passes": 5, "calibration_rows": "separate"})
    assert manifest["calibration"]["n_valid"] == 32 and manifest["info"]["n_valid"] == 32
    with pytest.raises(UserError, match="calibration_rows"):
        UncertaintySpec.from_dict({"calibration_rows": "both"})


def test_binary_link_is_quiet_and_exact_at_extreme_logits():
    import warnings

    logits = np.array([[-200.0], [-90.0], [-5.0], [0.0], [5.0], [200.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exp overflow would be a RuntimeWarning
        proba, _ = Binary(["t"]).link(logits, None)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba[:, 0], 1 / (1 + np.exp(-logits[:, 0].astype(np.float64))), rtol=1e-6, atol=1e-30)
