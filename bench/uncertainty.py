"""Uncertainty quality on test, calibrated on the validation split (a script, not a test).

    python bench/uncertainty.py [--seeds 5] [--skip-freesolv] [--skip-solubility] [--skip-dna]
                                [--skip-deepchem] [--members 5] [--passes 30] [--epochs 300]
                                [--dna-epochs 25] [--no-ensemble-hetero] [--diagnose SEEDS]

Runs the product's path: per seed, ``biodl.stages.split.split_dataset`` (random 80/10/10), then
``train_experiment`` with an ``uncertainty:`` block (which trains the ensemble members and fits the
calibrators on the validation split), then ``predict_with_uncertainty`` on the test split, scored with
``biodl.uncertainty``'s metrics. The deep-ensemble runs are also pushed through ``predict_experiment`` /
``evaluate_experiment`` and the script checks that the metrics JSON agrees with its own numbers.

Regression (FreeSolv, RDKit descriptors; solubility logS, RDKit descriptors; MLP 1000 wide, dropout 0.5,
the book's and DeepChem's architecture): MC dropout, deep ensemble, heteroscedastic head, MC dropout +
heteroscedastic head (DeepChem's ``uncertainty=True`` recipe) and ensemble + heteroscedastic head. The
single-network methods reuse member 0 of the matching ensemble (the network an experiment with that
method would train: same seed, same data) with their own calibration on the validation split. Side by
side: DeepChem 2.8 ``MultitaskRegressor(uncertainty=True)`` on the same standardized features and split,
epoch count picked on valid (10-epoch steps, as bench/quality.py), ``predict_uncertainty(masks=50)``;
its raw σ (±1.645σ interval: DeepChem has no calibration), and the same σ calibrated by biodl's method.

Oct4 vs MafK (one-hot DNA, reverse-complement CNN as the oct4_cnn_rc experiment, chromosome hold-out
split as in config/config.yaml; the seed changes the training only): ECE, Brier, NLL before and after
temperature scaling fitted on valid, AUROC — on the held-out chromosomes and on the shipped test files.

``--diagnose SEEDS`` adds the experiment behind the calibration advice: single networks trained with
early stopping on one half of the validation split and calibrated on that half or on the untouched other
half (paired: the same network), against biodl's whole-split calibration.

Goals (issue 4): 90 % conformal mean test coverage within [0.87, 0.93] on FreeSolv and solubility;
temperature-scaled ECE ≤ 0.05 on Oct4 vs MafK; Spearman(|error|, σ) ≥ 0.3 for the FreeSolv ensemble.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LEVEL = 0.9
Z90 = 1.6448536269514722  # two-sided 90 % Gaussian interval, for raw σ
COVERAGE_GOAL = (0.87, 0.93)
ECE_GOAL = 0.05
SPEARMAN_GOAL = 0.3

MLP = {"type": "mlp", "hidden": [1000], "dropout": 0.5}
MLP_TRAIN = {"epochs": 300, "batch_size": 32, "lr": 1e-3, "weight_decay": 1e-5, "patience": 40, "progress": False}
CNN = {"type": "cnn1d", "channels": [32], "kernel_sizes": [21], "rc": True, "global_pool": "max", "dropout": 0.3}
CNN_TRAIN = {"batch_size": 64, "lr": 1e-3, "weight_decay": 1e-4, "patience": 8, "progress": False}

REGRESSION = {
    "freesolv": {"label": "FreeSolv (expt, kcal/mol)", "file": "freesolv.csv", "target": "expt"},
    "solubility": {"label": "Solubility (logS)", "file": "solubility_train.csv", "target": "logS"},
}


def fmt(values, digits: int = 3) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# -- regression --------------------------------------------------------------------------------
def variant(model, spec: dict, X_valid, y_valid):
    """The trained model as an experiment with uncertainty ``spec`` would save it: member 0 only
    (unless an ensemble), calibrated on the validation split exactly as ``train_experiment`` does."""
    from biodl.uncertainty import UncertaintySpec, calibrate, sample_outputs

    unc = UncertaintySpec.from_dict(spec)
    out = dataclasses.replace(model, members=list(model.members) if unc.method == "ensemble" else [],
                              uncertainty=unc.to_dict(), calibration=None)
    samples = sample_outputs(out, X_valid, unc, seed=out.info["train_seed"])
    out.calibration = calibrate(out, samples, y_valid, unc, what="bench, validation split")
    return out


def raw_sigma(model, X) -> np.ndarray:
    """σ before the validation z-scaling (what the network(s) themselves say)."""
    from biodl.uncertainty import UncertaintySpec, sample_outputs, summarize

    unc = UncertaintySpec.from_dict(model.uncertainty)
    return summarize(model, sample_outputs(model, X, unc, seed=model.info["train_seed"]))["sigma"][:, 0]


def score_regression(y, mu, sigma, intervals, sigma_raw=None, scale=None, valid_rmse=None) -> dict:
    from biodl.uncertainty import gaussian_nll, miscalibration_area, regression_uncertainty_metrics

    m = regression_uncertainty_metrics(y, mu, sigma, intervals)
    row = {"rmse": float(np.sqrt(np.mean((y - mu) ** 2))), "valid_rmse": valid_rmse, "scale": scale,
           "cov": m["coverage"].get("90"), "width": m["mean_width"].get("90"),
           "cov_abs": m["coverage"].get("abs_90"), "width_abs": m["mean_width"].get("abs_90"),
           "cov_gauss": m["coverage"].get("gauss"), "width_gauss": m["mean_width"].get("gauss"),
           "nll": m.get("nll"), "miscal": m.get("miscalibration_area"), "ence": m.get("ence"),
           "spearman": m.get("spearman_error_sigma"), "auroc": m.get("auroc_sigma_large_error")}
    if sigma_raw is not None:
        row["cov_raw"] = float(np.mean(np.abs(y - mu) <= Z90 * sigma_raw))
        row["nll_raw"] = gaussian_nll(y, mu, sigma_raw)
        row["miscal_raw"] = miscalibration_area(y, mu, sigma_raw)
    return row


def score_biodl(model, X, y, X_valid, y_valid) -> dict:
    from biodl.uncertainty import named_intervals, predict_with_uncertainty

    res = predict_with_uncertainty(model, X)
    mu, sigma = res["pred"][:, 0], res["sigma"][:, 0]
    intervals = {k: (lo[:, 0], hi[:, 0]) for k, (lo, hi) in named_intervals(res["intervals"]).items()
                 if k in ("90", "abs_90")}
    valid_mu = predict_with_uncertainty(model, X_valid)["pred"][:, 0]
    return score_regression(y, mu, sigma, intervals, sigma_raw=raw_sigma(model, X),
                            scale=model.calibration["sigma_scale"][0],
                            valid_rmse=float(np.sqrt(np.mean((y_valid - valid_mu) ** 2))))


def deepchem_run(model, X_tr, y_tr, X_va, y_va, X_te, y_te, seed: int, epochs: int = 300) -> tuple[dict, dict]:
    """DeepChem MultitaskRegressor(uncertainty=True) on biodl's standardized features (the
    Preprocessor fitted on this split's training rows); epochs picked on valid in 10-epoch steps."""
    import deepchem as dc
    import torch

    from biodl.uncertainty import conformal_quantile

    pre = model.preprocessor
    torch.manual_seed(seed)
    np.random.seed(seed)
    train = dc.data.NumpyDataset(pre.transform_X(X_tr), pre.transform_y(y_tr))
    valid = dc.data.NumpyDataset(pre.transform_X(X_va), pre.transform_y(y_va))
    test = dc.data.NumpyDataset(pre.transform_X(X_te), pre.transform_y(y_te))
    net = dc.models.MultitaskRegressor(1, X_tr.shape[1], layer_sizes=[1000], dropouts=0.5, uncertainty=True,
                                       batch_size=100, learning_rate=1e-3)
    best = None
    for step in range(max(1, epochs // 10)):
        net.fit(train, nb_epoch=10)
        va_pred = pre.inverse_y(net.predict(valid).reshape(-1, 1))[:, 0]
        score = float(np.sqrt(np.mean((va_pred - y_va[:, 0]) ** 2)))
        if best is None or score < best[0]:
            best = (score, 10 * (step + 1), net.predict_uncertainty(valid, masks=50),
                    net.predict_uncertainty(test, masks=50))
    valid_rmse, best_epochs, (va_mu, va_sd), (te_mu, te_sd) = best
    ystd = float(pre.y_std[0])
    va_mu, va_sd = pre.inverse_y(va_mu.reshape(-1, 1))[:, 0], va_sd.reshape(-1) * ystd
    mu, sd = pre.inverse_y(te_mu.reshape(-1, 1))[:, 0], te_sd.reshape(-1) * ystd
    y, yv = y_te[:, 0], y_va[:, 0]
    raw = score_regression(y, mu, sd, {"gauss": (mu - Z90 * sd, mu + Z90 * sd)}, sigma_raw=sd, scale=1.0,
                           valid_rmse=valid_rmse)
    raw["epochs"] = best_epochs
    # the same σ, calibrated on valid the way biodl calibrates its own (z-scaling + split conformal)
    resid = np.abs(yv - va_mu)
    s = float(np.sqrt(np.mean((resid / va_sd) ** 2)))
    q_norm = conformal_quantile(resid / va_sd, LEVEL, "deepchem")
    q_abs = conformal_quantile(resid, LEVEL, "deepchem")
    cal = score_regression(y, mu, s * sd, {"90": (mu - q_norm * sd, mu + q_norm * sd),
                                            "abs_90": (mu - q_abs, mu + q_abs)},
                           sigma_raw=sd, scale=s, valid_rmse=valid_rmse)
    return raw, cal


def check_product_path(name, experiment, features, split_path, model_dir, row, tmp: Path) -> None:
    """predict_experiment + evaluate_experiment on the same model: the metrics JSON must agree."""
    from biodl.stages.evaluate import evaluate_experiment
    from biodl.stages.predict import predict_experiment

    pred = tmp / f"{model_dir.name}.parquet"
    predict_experiment(name, model_dir / "model.pt", features, split_path, pred)
    result = evaluate_experiment(name, [pred], split_path, tmp / f"{model_dir.name}.json",
                                 model_manifest=model_dir / "manifest.json")
    unc = result["models"]["mlp"]["test"]["uncertainty"]
    task = next(iter(unc.values()))
    for ours, theirs in ((row["cov"], task["coverage"]["90"]), (row["cov_abs"], task["coverage"]["abs_90"]),
                         (row["nll"], task["nll"]), (row["spearman"], task["spearman_error_sigma"])):
        if abs(ours - theirs) > 1e-6:
            raise SystemExit(f"{name}: bench metrics {ours} differ from evaluate_experiment's {theirs}")


METHODS = ["MC dropout ×{passes}", "deep ensemble ×{members}", "heteroscedastic head",
           "MC dropout ×{passes} + heteroscedastic", "ensemble ×{members} + heteroscedastic",
           "DeepChem uncertainty=True, raw σ (±1.645σ)", "DeepChem σ, calibrated on valid as biodl"]


def molecule_features(key: str, tmp: Path) -> Path:
    """RDKit descriptors of the dataset (featurized once per run; unparseable SMILES become rejects)."""
    from biodl.dataset import featurize_source

    features = tmp / f"{key}_desc"
    if not features.exists():
        info = REGRESSION[key]
        source = {"format": "csv", "path": str(ROOT / "data/molecules" / info["file"]), "input": "smiles",
                  "id": "id", "targets": [info["target"]]}
        featurize_source(source, "rdkit_descriptors", features, n_jobs=2)
    return features


def regression(key: str, args, tmp: Path) -> dict:
    import torch  # noqa: F401 — imported before the loop so the first seed's time is not import time

    from biodl.dataset import load_dataset
    from biodl.splits import load_split
    from biodl.stages.split import positions, split_dataset
    from biodl.stages.train import train_experiment
    from biodl.train import TrainedModel

    info = REGRESSION[key]
    features = molecule_features(key, tmp)
    ds = load_dataset(features, mmap=False)
    X, y = np.asarray(ds.X), ds.y
    names = [m.format(passes=args.passes, members=args.members) for m in METHODS]
    results = {n: [] for n in names}
    mc = {"method": "mc_dropout", "passes": args.passes, "levels": [LEVEL]}
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        split_path = tmp / f"{key}_split{seed}.json"
        split_dataset(features, {"method": "random", "fractions": [0.8, 0.1, 0.1]}, split_path, seed=seed,
                      dataset=key)
        pos = positions(ds, load_split(split_path))
        tr, va, te = pos["train"], pos["valid"], pos["test"]
        trained = {}
        for hetero in (False, True):
            unc = {"method": "ensemble", "members": args.members, "levels": [LEVEL], "heteroscedastic": hetero}
            if hetero and args.no_ensemble_hetero:
                unc = {"method": "none", "levels": [LEVEL], "heteroscedastic": True}
            experiment = {"task": "regression", "model": MLP, "train": {**MLP_TRAIN, "epochs": args.epochs},
                          "uncertainty": unc}
            out = tmp / f"{key}_{seed}_{'het' if hetero else 'mse'}"
            train_experiment(key, experiment, features, split_path, out, seed=seed)
            trained[hetero] = (experiment, out, TrainedModel.load(out / "model.pt"))
        ens, het = trained[False][2], trained[True][2]
        models = {names[0]: variant(ens, mc, X[va], y[va]),
                  names[1]: ens,
                  names[2]: variant(het, {"method": "none", "levels": [LEVEL]}, X[va], y[va]),
                  names[3]: variant(het, mc, X[va], y[va]),
                  names[4]: het if not args.no_ensemble_hetero else None}
        for name, model in models.items():
            if model is not None:
                results[name].append(score_biodl(model, X[te], y[te, 0], X[va], y[va, 0]))
        for hetero in (False, True):
            experiment, out, model = trained[hetero]
            if model.uncertainty["method"] == "ensemble":
                row = results[names[4] if hetero else names[1]][-1]
                check_product_path(key, experiment, features, split_path, out, row, tmp)
        if not args.skip_deepchem:
            raw, cal = deepchem_run(ens, X[tr], y[tr], X[va], y[va], X[te], y[te], seed, args.epochs)
            results[names[5]].append(raw)
            results[names[6]].append(cal)
        line = ", ".join(f"{n.split(',')[0].split(' ×')[0][:18]} cov {r[-1]['cov'] if r[-1]['cov'] is not None else r[-1]['cov_gauss']:.3f}"
                         for n, r in results.items() if r)
        print(f"  {key} seed {seed} ({len(tr)}/{len(va)}/{len(te)}, {time.perf_counter() - t0:.0f} s): {line}",
              flush=True)
    return {"label": info["label"], "n": (len(tr), len(va), len(te)), "results": results}


def print_regression(key: str, res: dict, seeds: int) -> None:
    print(f"\n### {res['label']}: random 80/10/10 ({'/'.join(map(str, res['n']))} rows), {seeds} seeds, "
          "test split, mean ± sd over seeds\n")
    header = ["method", "RMSE", "90 % coverage (σ-norm.)", "width", "90 % coverage (abs.)", "width", "NLL",
              "miscal. area", "ENCE", "Spearman(|err|, σ)", "AUROC σ → top-20 % errors"]
    rows = []
    for name, r in res["results"].items():
        if not r:
            continue
        def col(k, r=r):
            return [x.get(k) for x in r]

        if r[0].get("cov") is None:  # DeepChem raw σ: its ±1.645σ interval in the σ-normalized columns
            cov, width, cov_abs, width_abs = fmt(col("cov_gauss")) + " (±1.645σ)", fmt(col("width_gauss")), "—", "—"
        else:
            cov, width, cov_abs, width_abs = fmt(col("cov")), fmt(col("width")), fmt(col("cov_abs")), fmt(col("width_abs"))
        rows.append([name, fmt(col("rmse")), cov, width, cov_abs, width_abs, fmt(col("nll")), fmt(col("miscal")),
                     fmt(col("ence")), fmt(col("spearman")), fmt(col("auroc"))])
    print(table(header, rows))
    print(f"\n{res['label']}: the networks' own σ before the validation z-scaling, and the validation split\n")
    header = ["method", "σ scale s (valid)", "coverage ±1.645 raw σ", "NLL raw σ", "miscal. area raw σ",
              "valid RMSE", "test RMSE / valid RMSE"]
    rows = []
    for name, r in res["results"].items():
        if r and "cov_raw" in r[0]:
            def col(k, r=r):
                return [x.get(k) for x in r]

            ratio = [x["rmse"] / x["valid_rmse"] for x in r]
            rows.append([name, fmt(col("scale"), 2), fmt(col("cov_raw")), fmt(col("nll_raw")),
                         fmt(col("miscal_raw")), fmt(col("valid_rmse")), fmt(ratio, 2)])
    print(table(header, rows))


# -- Oct4 vs MafK ----------------------------------------------------------------------------
def dna(args, tmp: Path) -> dict:
    from sklearn.metrics import roc_auc_score

    from biodl.dataset import featurize_source, load_dataset
    from biodl.splits import load_split
    from biodl.stages.split import positions, split_dataset
    from biodl.stages.train import train_experiment
    from biodl.train import TrainedModel
    from biodl.uncertainty import classification_uncertainty_metrics, predict_with_uncertainty

    def source(kind):
        return {"format": "fasta", "target": "oct4", "files": [
            {"path": str(ROOT / f"data/dna/oct4_{kind}.fa"), "label": 1},
            {"path": str(ROOT / f"data/dna/mafk_{kind}.fa"), "label": 0}]}

    featurize_source(source("train"), {"type": "onehot", "length": 200}, tmp / "dna_train")
    featurize_source(source("test"), {"type": "onehot", "length": 200}, tmp / "dna_test")
    ds, shipped = load_dataset(tmp / "dna_train", mmap=False), load_dataset(tmp / "dna_test", mmap=False)
    X, y = np.asarray(ds.X), ds.y
    split_path = tmp / "dna_split.json"
    split_dataset(tmp / "dna_train", {"method": "chromosome", "valid": ["chr6", "chr7"], "test": ["chr8", "chr9"]},
                  split_path, dataset="oct4_mafk_train")
    pos = positions(ds, load_split(split_path))
    sets = {"held-out chr8/chr9": (X[pos["test"]], y[pos["test"], 0]),
            "shipped test files": (np.asarray(shipped.X), shipped.y[:, 0])}
    methods = ["single network", f"MC dropout ×{args.passes}"]
    results = {(m, s): [] for m in methods for s in sets}
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        experiment = {"task": "binary", "model": CNN, "train": {**CNN_TRAIN, "epochs": args.dna_epochs},
                      "uncertainty": {"method": "none"}}
        out = tmp / f"dna_{seed}"
        manifest = train_experiment("oct4_cnn_rc", experiment, tmp / "dna_train", split_path, out, seed=seed)
        model = TrainedModel.load(out / "model.pt")
        models = {methods[0]: model,
                  methods[1]: variant(model, {"method": "mc_dropout", "passes": args.passes},
                                      X[pos["valid"]], y[pos["valid"]])}
        for method, m in models.items():
            for set_name, (Xs, ys) in sets.items():
                res = predict_with_uncertainty(m, Xs)
                after = classification_uncertainty_metrics(ys, res["pred"][:, 0], False)
                before = classification_uncertainty_metrics(ys, res["pred_uncalibrated"][:, 0], False)
                results[(method, set_name)].append({
                    "auroc": float(roc_auc_score(ys, res["pred"][:, 0])), "T": m.calibration["temperature"],
                    **{f"{k}_raw": before[k] for k in ("ece", "brier", "nll")},
                    **{k: after[k] for k in ("ece", "brier", "nll")}})
        r = results[(methods[0], "shipped test files")][-1]
        print(f"  oct4 seed {seed} ({manifest['info']['epochs_run']} epochs, {time.perf_counter() - t0:.0f} s): "
              f"T {r['T']:.2f}, shipped-test AUROC {r['auroc']:.4f}, ECE {r['ece_raw']:.3f} -> {r['ece']:.3f}",
              flush=True)
    return {"n": tuple(len(pos[p]) for p in ("train", "valid", "test")), "results": results}


def print_dna(res: dict, seeds: int) -> None:
    print(f"\n### Oct4 vs MafK: RC-CNN, chromosome hold-out ({'/'.join(map(str, res['n']))} rows; valid chr6/chr7, "
          f"test chr8/chr9) + shipped test files (200), {seeds} training seeds, mean ± sd\n")
    header = ["method", "test set", "AUROC", "temperature T", "ECE raw", "ECE T-scaled", "Brier raw",
              "Brier T-scaled", "NLL raw", "NLL T-scaled"]
    rows = []
    for (method, set_name), r in res["results"].items():
        def col(k, r=r):
            return [x[k] for x in r]

        rows.append([method, set_name, fmt(col("auroc"), 4), fmt(col("T"), 2), fmt(col("ece_raw")), fmt(col("ece")),
                     fmt(col("brier_raw")), fmt(col("brier")), fmt(col("nll_raw")), fmt(col("nll"))])
    print(table(header, rows))


# -- diagnosis: is the validation split's double duty (early stopping + calibration) the cause? --
def diagnose(key: str, args, tmp: Path) -> dict:
    """More seeds, single networks (MC dropout; heteroscedastic head). Per seed, the product's split is
    trained three ways:

    ``product``   early stopping and calibration on the whole validation split (what biodl does);
    ``same half`` early stopping and calibration on one random half of it (control: half the rows);
    ``split``     early stopping on that half, calibration on the other, untouched half.

    If ``split`` covers ~0.90 where ``product`` and ``same half`` fall short, the optimism comes from
    calibrating on rows the early stopping already fitted, not from the number of rows.
    """
    from biodl.dataset import load_dataset
    from biodl.splits import load_split, save_split
    from biodl.stages.split import positions, split_dataset
    from biodl.stages.train import train_experiment
    from biodl.train import TrainedModel

    features = molecule_features(key, tmp)
    ds = load_dataset(features, mmap=False)
    X, y = np.asarray(ds.X), ds.y
    rows = ds.meta["row"].to_numpy()
    methods = {"MC dropout": ({"method": "mc_dropout", "passes": args.passes, "levels": [LEVEL]}, False),
               "heteroscedastic head": ({"method": "none", "levels": [LEVEL], "heteroscedastic": True}, True)}
    out = {(m, v): [] for m in methods for v in ("product", "same half", "split")}
    for seed in range(args.diagnose):
        t0 = time.perf_counter()
        split_path = tmp / f"diag_{key}_{seed}.json"
        split = split_dataset(features, {"method": "random", "fractions": [0.8, 0.1, 0.1]}, split_path, seed=seed,
                              dataset=key)
        pos = positions(ds, load_split(split_path))
        rng = np.random.default_rng(10_000 + seed)
        valid = rng.permutation(pos["valid"])
        half_a, half_b = np.sort(valid[: len(valid) // 2]), np.sort(valid[len(valid) // 2:])
        half_path = tmp / f"diag_{key}_{seed}_half.json"
        save_split({**split, "valid": rows[half_a].tolist(), "dropped": rows[half_b].tolist()}, half_path)
        te = pos["test"]
        for method, (unc, hetero) in methods.items():
            experiment = {"task": "regression", "model": MLP, "train": {**MLP_TRAIN, "epochs": args.epochs},
                          "uncertainty": unc}
            for variant_name, path in (("product", split_path), ("same half", half_path)):
                model_dir = tmp / f"diag_{key}_{seed}_{hetero}_{variant_name.replace(' ', '_')}"
                train_experiment(key, experiment, features, path, model_dir, seed=seed)
                model = TrainedModel.load(model_dir / "model.pt")
                out[(method, variant_name)].append(score_biodl(model, X[te], y[te, 0], X[half_a], y[half_a, 0]))
                if variant_name == "same half":
                    fresh = variant(model, unc, X[half_b], y[half_b])
                    out[(method, "split")].append(score_biodl(fresh, X[te], y[te, 0], X[half_b], y[half_b, 0]))
        print(f"  diagnose {key} seed {seed} ({time.perf_counter() - t0:.0f} s): " + ", ".join(
            f"{m[:6]}/{v} {r[-1]['cov']:.2f}" for (m, v), r in out.items()), flush=True)
    return out


def print_diagnosis(key: str, out: dict, seeds: int) -> None:
    print(f"\n### {REGRESSION[key]['label']}: where the calibration rows come from ({seeds} seeds, "
          "mean ± standard error over seeds)\n")
    header = ["method", "early stopping on / calibration on", "90 % coverage (σ-norm.)", "90 % coverage (abs.)",
              "width (σ-norm.)", "RMSE"]
    labels = {"product": "all valid / the same rows (biodl now)", "same half": "half A / half A (control)",
              "split": "half A / half B (untouched)"}
    rows = []
    for (method, v), r in out.items():
        def se(k, r=r):
            values = np.array([x[k] for x in r], float)
            return f"{values.mean():.3f} ± {values.std(ddof=1) / np.sqrt(len(values)):.3f}"

        rows.append([method, labels[v], se("cov"), se("cov_abs"), se("width"), se("rmse")])
        if v == "split":  # same network, only the calibration rows differ: a paired difference
            paired = {k: [b[k] - a[k] for a, b in zip(out[(method, "same half")], r)] for k in ("cov", "cov_abs")}
            rows.append([method, "paired difference, untouched − reused rows",
                         *(f"{np.mean(d):+.3f} ± {np.std(d, ddof=1) / np.sqrt(len(d)):.3f}"
                           for d in paired.values()), "", ""])
    print(table(header, rows))


# -- goals -------------------------------------------------------------------------------------
def goals(reg: dict, dna_res: dict | None, members: int) -> None:
    print("\n### Goals\n")
    lo, hi = COVERAGE_GOAL
    for res in reg.values():
        for name, r in res["results"].items():
            if not r or name.startswith("DeepChem"):
                continue
            for col, label in (("cov", "σ-normalized"), ("cov_abs", "absolute")):
                values = np.array([x[col] for x in r], float)
                cov = float(values.mean())
                se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
                miss = 0.0 if lo <= cov <= hi else (lo - cov if cov < lo else cov - hi)
                verdict = "met" if miss == 0 else f"MISSED by {miss:.3f}"
                print(f"- {res['label'].split(' (')[0]}, {name}, 90 % conformal ({label}): mean test coverage "
                      f"{cov:.3f} (standard error over seeds {se:.3f}), goal [{lo}, {hi}]: {verdict}")
    if "freesolv" in reg:
        r = reg["freesolv"]["results"][f"deep ensemble ×{members}"]
        rho = float(np.mean([x["spearman"] for x in r]))
        verdict = "met" if rho >= SPEARMAN_GOAL else f"MISSED by {SPEARMAN_GOAL - rho:.3f}"
        print(f"- FreeSolv, deep ensemble ×{members}: Spearman(|error|, σ) {rho:.3f}, goal ≥ {SPEARMAN_GOAL}: {verdict}")
    if dna_res:
        for (method, set_name), r in dna_res["results"].items():
            ece = float(np.mean([x["ece"] for x in r]))
            verdict = "met" if ece <= ECE_GOAL else f"MISSED by {ece - ECE_GOAL:.3f}"
            print(f"- Oct4 vs MafK, {method}, {set_name}: temperature-scaled ECE {ece:.3f}, goal ≤ {ECE_GOAL}: "
                  f"{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--members", type=int, default=5, help="deep-ensemble size K")
    parser.add_argument("--passes", type=int, default=30, help="MC dropout passes T")
    parser.add_argument("--epochs", type=int, default=300, help="most epochs of the MLPs (config: 300)")
    parser.add_argument("--dna-epochs", type=int, default=25, help="most epochs of the Oct4 CNN (config: 40)")
    parser.add_argument("--no-ensemble-hetero", action="store_true",
                        help="train the heteroscedastic head once per seed, no ensemble of it")
    parser.add_argument("--diagnose", type=int, default=0, metavar="SEEDS",
                        help="also test calibrating on rows early stopping did not see, over SEEDS seeds")
    parser.add_argument("--skip-freesolv", action="store_true")
    parser.add_argument("--skip-solubility", action="store_true")
    parser.add_argument("--skip-dna", action="store_true")
    parser.add_argument("--skip-deepchem", action="store_true")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is several times faster than 2 on busy shared cores)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if not args.skip_deepchem:
        try:
            import deepchem  # noqa: F401
        except ImportError:
            print("DeepChem is not installed: its rows are skipped", flush=True)
            args.skip_deepchem = True
    t_start = time.perf_counter()
    reg, dna_res = {}, None
    with tempfile.TemporaryDirectory(prefix="biodl-bench-unc-") as tmp:
        diag = {}
        for key in REGRESSION:
            if not getattr(args, f"skip_{key}"):
                reg[key] = regression(key, args, Path(tmp)) if args.seeds else None
                if args.diagnose:
                    diag[key] = diagnose(key, args, Path(tmp))
        reg = {k: v for k, v in reg.items() if v is not None}
        if not args.skip_dna:
            dna_res = dna(args, Path(tmp))
    for key, res in reg.items():
        print_regression(key, res, args.seeds)
    if dna_res:
        print_dna(dna_res, args.seeds)
    for key, out in diag.items():
        print_diagnosis(key, out, args.diagnose)
    goals(reg, dna_res, args.members)
    import subprocess

    import biodl

    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h", "--", "src"], check=False,
                            capture_output=True, text=True).stdout.strip() or "?"
    print(f"\nTotal {time.perf_counter() - t_start:.0f} s ({args.threads} torch thread(s)), biodl {biodl.__version__} "
          f"(src at {commit}); command: python bench/uncertainty.py {' '.join(sys.argv[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
