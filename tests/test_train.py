import itertools
import json

import numpy as np
import pytest
import torch

from biodl.dataset import featurize_source
from biodl.errors import UserError
from biodl.losses import masked_loss
from biodl.stages.predict import predict_raw
from biodl.stages.train import search_trials
from biodl.train import OPTIMIZERS, TrainConfig, TrainedModel, fit
from tests.conftest import DATA, run_cli

FAST = {"epochs": 30, "batch_size": 32, "patience": 8, "progress": False}


def regression_data(n=240, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, :3] @ np.array([1.5, -2.0, 0.5]) + 3.0 + 0.1 * rng.normal(size=n)).astype(np.float32)[:, None]
    return X, y


def test_regression_learns_and_reports_original_units():
    X, y = regression_data()
    model, history = fit({"type": "mlp", "hidden": [32], "dropout": 0.0}, X[:200], y[:200], X[200:], y[200:],
                         task_type="regression", tasks=["y"], config=FAST)
    pred = model.predict(X[200:])
    assert pred.shape == (40, 1)
    assert np.sqrt(np.mean((pred - y[200:]) ** 2)) < 0.5 * y.std()  # learned, in original units
    best = min(h["valid_rmse"] for h in history)
    assert model.info["best_valid_rmse"] == pytest.approx(best)
    assert history[model.info["best_epoch"]]["valid_rmse"] == pytest.approx(best)


def test_early_stopping_restores_the_best_weights():
    X, y = regression_data()
    config = {**FAST, "epochs": 200, "patience": 3, "lr": 0.05}
    model, history = fit({"type": "mlp", "hidden": [64], "dropout": 0.0}, X[:200], y[:200], X[200:], y[200:],
                         task_type="regression", tasks=["y"], config=config)
    assert len(history) < 200  # stopped early
    rmse = float(np.sqrt(np.mean((model.predict(X[200:]) - y[200:]) ** 2)))
    assert rmse == pytest.approx(model.info["best_valid_rmse"], rel=1e-5)


def test_same_seed_same_numbers_on_cpu():
    X, y = regression_data()
    runs = [fit({"type": "mlp", "hidden": [16], "dropout": 0.2}, X[:200], y[:200], X[200:], y[200:],
                task_type="regression", tasks=["y"], config={**FAST, "seed": 3})[0].predict(X) for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    other = fit({"type": "mlp", "hidden": [16], "dropout": 0.2}, X[:200], y[:200], X[200:], y[200:],
                task_type="regression", tasks=["y"], config={**FAST, "seed": 4})[0].predict(X)
    assert not np.array_equal(runs[0], other)


def test_masked_losses_ignore_missing_labels():
    out = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    y = torch.tensor([[0.0, float("nan")], [1.0, 3.0]])
    assert masked_loss("mse", out, y).item() == pytest.approx((0 + 1 + 0) / 3)
    bce = masked_loss("bce", out, torch.tensor([[1.0, float("nan")], [float("nan"), float("nan")]]))
    assert bce.item() == pytest.approx(np.log(2))
    nll = masked_loss("gaussian_nll", torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0]]))
    assert nll.item() == pytest.approx(0.0)


def test_multitask_binary_with_missing_labels_and_save_load(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    y = np.stack([(X[:, 0] > 0), (X[:, 1] > 0)], axis=1).astype(np.float32)
    y[rng.random(y.shape) < 0.3] = np.nan
    model, _ = fit({"type": "mlp", "hidden": [16]}, X[:240], y[:240], X[240:], y[240:], task_type="binary",
                   tasks=["a", "b"], config=FAST)
    assert model.info["best_valid_roc_auc"] > 0.9
    model.save(tmp_path / "model.pt")
    loaded = TrainedModel.load(tmp_path / "model.pt")  # torch.load(weights_only=True) inside
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.tasks == ["a", "b"] and loaded.task_type == "binary"


def test_incompatible_model_file_is_a_clear_error(tmp_path):
    X, y = regression_data(60)
    model, _ = fit({"type": "mlp", "hidden": [4]}, X[:40], y[:40], X[40:], y[40:], task_type="regression",
                   tasks=["y"], config={**FAST, "epochs": 2})
    model.save(tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["format"] = 999
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(UserError, match="model file format 999 .* reads format 1"):
        TrainedModel.load(tmp_path / "old.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a biodl model file"):
        TrainedModel.load(tmp_path / "junk.pt")


def test_bad_training_settings():
    X, y = regression_data(60)
    with pytest.raises(UserError, match="unknown setting"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(UserError, match="loss 'bce' does not fit task type regression"):
        fit({"type": "mlp"}, X, y, X, y, task_type="regression", tasks=["y"], config={"loss": "bce"})
    with pytest.raises(UserError, match="metric 'roc_auc' does not apply to regression"):
        fit({"type": "mlp", "hidden": [4]}, X, y, X, y, task_type="regression", tasks=["y"],
            config={**FAST, "epochs": 1, "monitor": "roc_auc"})


def test_device_request_without_cuda_is_one_clear_error(monkeypatch):
    from biodl.device import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("BIODL_DEVICE", "cuda")
    with pytest.raises(UserError, match="CUDA is not available"):
        resolve_device("auto")
    monkeypatch.setenv("BIODL_DEVICE", "tpu")
    with pytest.raises(UserError, match="unknown device 'tpu'"):
        resolve_device()


def test_search_trials_grid_and_random():
    grid = search_trials({"space": {"model.dropout": [0.0, 0.1], "train.lr": [1e-3, 1e-4]}}, seed=0)
    assert len(grid) == 4 and {"model.dropout": 0.1, "train.lr": 1e-4} in grid
    picked = search_trials({"method": "random", "n_trials": 2, "space": {"model.dropout": [0, 0.1, 0.2, 0.3]}}, 1)
    assert len(picked) == 2 and picked == search_trials(
        {"method": "random", "n_trials": 2, "space": {"model.dropout": [0, 0.1, 0.2, 0.3]}}, 1)
    with pytest.raises(UserError, match="must be model.<param> or train.<param>"):
        search_trials({"space": {"dropout": [0.1]}}, 0)


def test_predict_from_raw_inputs_keeps_rejects_keyed_by_id(tmp_path, write):
    source = {"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles", "id": "id",
              "targets": ["expt"]}
    ds = featurize_source(source, {"type": "ecfp", "n_bits": 256}, tmp_path / "fs")
    X, y = np.asarray(ds.X), ds.y
    model, _ = fit({"type": "mlp", "hidden": [16]}, X[:500], y[:500], X[500:], y[500:], task_type="regression",
                   tasks=["expt"], config={**FAST, "epochs": 5}, featurizer_spec=ds.manifest["featurizer"])
    model.save(tmp_path / "model.pt")
    new = write("new.csv", "id,smiles\nq1,CCO\nq2,C1CC\nq3,\nq4,c1ccccc1\n")
    frame = predict_raw(tmp_path / "model.pt", {"format": "csv", "path": str(new), "id": "id"}, tmp_path / "p.csv")
    assert frame["id"].tolist() == ["q1", "q2", "q3", "q4"]
    assert frame["expt_pred"].notna().tolist() == [True, False, False, True]
    assert frame["reject_reason"].tolist()[1:3] == ["invalid SMILES syntax", "missing SMILES"]
    expected = model.predict(np.asarray(featurize_source({"format": "csv", "path": str(new), "id": "id"},
                                                         ds.manifest["featurizer"], tmp_path / "n").X))
    np.testing.assert_allclose(frame["expt_pred"].dropna().to_numpy(), expected[:, 0], rtol=1e-6)

    code, _, err = run_cli("predict", "--model", tmp_path / "model.pt", new, "--id-col", "id",
                           "-o", tmp_path / "cli.csv")
    assert code == 0 and "4 inputs, 2 predicted, 2 rejected" in err
    code, _, err = run_cli("predict", "--model", tmp_path / "nope.pt", new, "-o", tmp_path / "x.csv")
    assert code == 2 and "model file not found" in err and err.strip().count("\n") == 0


def test_cli_train_errors_are_one_line(tmp_path):
    experiment = {"dataset": "d", "featurizer": "f", "split": "s", "model": {"type": "mlp"}}
    code, _, err = run_cli("train", "--name", "x", "--experiment", json.dumps(experiment),
                           "--features", tmp_path / "none", "--split", tmp_path / "s.json", "-o", tmp_path / "m")
    assert code == 2 and "not a featurized dataset" in err and err.strip().count("\n") == 0


@pytest.mark.parametrize("optimizer,lr", [("adam", 0.01), ("adamw", 0.01), ("rmsprop", 0.001), ("sgd", 0.01)])
def test_optimizers_train(optimizer, lr):
    X, y = regression_data(120)
    model, history = fit({"type": "mlp", "hidden": [16]}, X[:100], y[:100], X[100:], y[100:],
                         task_type="regression", tasks=["y"],
                         config={**FAST, "epochs": 8, "optimizer": optimizer, "lr": lr})
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert type(OPTIMIZERS[optimizer].build(model.module.parameters(), TrainConfig())).__name__.lower() == optimizer


def test_cosine_schedule_and_gradient_clipping():
    X, y = regression_data(120)
    _, history = fit({"type": "mlp", "hidden": [16]}, X[:100], y[:100], X[100:], y[100:], task_type="regression",
                     tasks=["y"], config={**FAST, "epochs": 6, "patience": 6, "lr_schedule": "cosine",
                                          "grad_clip": 1.0})
    lrs = [h["lr"] for h in history]
    assert lrs[0] == pytest.approx(1e-3) and all(a > b for a, b in itertools.pairwise(lrs))
    with pytest.raises(UserError, match="lr_schedule"):
        TrainConfig.from_dict({"lr_schedule": "step"})


def test_multiclass_softmax_head():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = X[:, :3].argmax(axis=1).astype(np.float32)[:, None]
    model, _ = fit({"type": "mlp", "hidden": [32]}, X[:240], y[:240], X[240:], y[240:], task_type="multiclass",
                   tasks=["cls"], config=FAST)
    proba = model.predict(X[240:])
    assert proba.shape == (60, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert model.info["best_valid_accuracy"] > 0.8


# -- files that lie: a model file, features or a split that do not belong together ----------------
@pytest.fixture(scope="module")
def two_feature_sets(tmp_path_factory):
    """FreeSolv as ECFP-256 and as descriptors, solubility as ECFP-256; a FreeSolv split; a model on
    FreeSolv's ECFP."""
    from biodl.stages.split import split_dataset

    tmp = tmp_path_factory.mktemp("lie")
    fs = {"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles", "id": "id",
          "targets": ["expt"]}
    sol = {"format": "csv", "path": str(DATA / "molecules" / "solubility_test.csv"), "input": "smiles", "id": "id",
           "targets": ["logS"]}
    featurize_source(fs, {"type": "ecfp", "n_bits": 256}, tmp / "fs_ecfp")
    featurize_source(fs, {"type": "rdkit_descriptors", "descriptors": ["MolWt", "MolLogP"]}, tmp / "fs_desc")
    featurize_source(sol, {"type": "ecfp", "n_bits": 256}, tmp / "sol_ecfp")
    split_dataset(tmp / "fs_ecfp", {"method": "random"}, tmp / "fs_split.json", seed=0)
    experiment = {"task": "regression", "model": {"type": "mlp", "hidden": [8]},
                  "train": {**FAST, "epochs": 2}}
    from biodl.stages.train import train_experiment

    train_experiment("fs", experiment, tmp / "fs_ecfp", tmp / "fs_split.json", tmp / "model", seed=0)
    return tmp, experiment


def test_a_split_for_other_inputs_is_refused(two_feature_sets):
    from biodl.stages.train import train_experiment

    tmp, experiment = two_feature_sets
    split = json.loads((tmp / "fs_split.json").read_text())
    assert split["n"] == 642 and len(split["inputs_sha256"]) == 64
    with pytest.raises(UserError, match=r"fs_split.json: made for .*642 records.*sol_ecfp.*split these features anew"):
        train_experiment("x", experiment, tmp / "sol_ecfp", tmp / "fs_split.json", tmp / "m2", seed=0)
    # another featurization of the same inputs shares the split
    train_experiment("d", {**experiment, "model": {"type": "mlp", "hidden": [4]}}, tmp / "fs_desc",
                     tmp / "fs_split.json", tmp / "m3", seed=0)
    code, _, err = run_cli("predict", "--model", tmp / "model" / "model.pt", "--features", tmp / "sol_ecfp",
                           "--split", tmp / "fs_split.json", "-o", tmp / "p.parquet")
    assert code == 2 and "made for" in err and err.strip().count("\n") == 0


def test_predict_checks_the_features_against_the_model(two_feature_sets):
    from biodl.stages.predict import predict_experiment

    tmp, _ = two_feature_sets
    with pytest.raises(UserError, match=r"fs_desc: features made by .*rdkit_descriptors.* the model reads features "
                                        r"made by .*ecfp"):
        predict_experiment("fs", tmp / "model" / "model.pt", tmp / "fs_desc", tmp / "fs_split.json", tmp / "p.parquet")
    code, _, err = run_cli("predict", "--model", tmp / "model" / "model.pt", "--features", tmp / "fs_desc",
                           "--split", tmp / "fs_split.json", "-o", tmp / "p.parquet")
    assert code == 2 and "features made by" in err and err.strip().count("\n") == 0
    assert not (tmp / "p.parquet").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.pop("state_dict"), r"not a complete biodl model file \(no 'state_dict'\)"),
    (lambda p: p.update(state_dict=None), "the weights are a NoneType, not a dict of tensors"),
    (lambda p: p["state_dict"].pop("head.weight"), r"weights do not fit the model spec 'mlp': Missing key.*head\.weight"),
    (lambda p: p["state_dict"].update({"head.weight": torch.zeros(3, 8)}), "weights do not fit .*size mismatch"),
    (lambda p: p.update(task_type="ranking"), "unknown task type 'ranking'"),
])
def test_a_damaged_model_file_is_one_line(two_feature_sets, damage, message):
    tmp, _ = two_feature_sets
    payload = torch.load(tmp / "model" / "model.pt", weights_only=True)
    damage(payload)
    torch.save(payload, tmp / "damaged.pt")
    with pytest.raises(UserError, match=message) as info:
        TrainedModel.load(tmp / "damaged.pt")
    assert str(info.value).startswith(str(tmp / "damaged.pt")) and "\n" not in str(info.value)


def test_random_forest_baseline_predicts_the_same_digits_with_several_threads():
    """Fitting may use every thread (trees are seeded one by one); prediction runs on one, because
    threads add the trees' outputs in the order they finish and move the last digits between runs."""
    from biodl.baselines import make_baseline

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 20)), rng.normal(size=(300, 1))
    fits = [make_baseline({"type": "random_forest", "n_estimators": 60}, task_type="regression", seed=3,
                          n_jobs=2).fit(X, y, X[:50], y[:50]) for _ in range(2)]
    assert all(m.n_jobs == 1 for fit in fits for m in fit.models_)
    first = fits[0].predict(X)
    assert np.array_equal(first, fits[1].predict(X)) and np.array_equal(first, fits[0].predict(X))


def test_balanced_class_weight_weighs_positives_by_the_class_ratio_per_task():
    from biodl.train import balanced_pos_weight, fit

    y = np.array([[1, 0], [0, np.nan], [0, 1], [0, 1], [np.nan, 1]], np.float32)
    np.testing.assert_allclose(balanced_pos_weight(y), [3.0, 1 / 3])
    assert balanced_pos_weight(np.zeros((4, 1), np.float32)).tolist() == [1.0]  # no positive: nothing to balance
    rng = np.random.default_rng(0)
    X = rng.random((600, 8)).astype(np.float32)
    y = (X[:, 0] + 0.3 * rng.random(600) > 1.05).astype(np.float32)[:, None]  # ~4 % positives
    spec = {"type": "mlp", "hidden": [16], "dropout": 0.0}
    base = {"epochs": 30, "batch_size": 32, "patience": 30, "progress": False}
    plain, _ = fit(spec, X[:400], y[:400], X[400:], y[400:], task_type="binary", tasks=["t"], config=base)
    balanced, _ = fit(spec, X[:400], y[:400], X[400:], y[400:], task_type="binary", tasks=["t"],
                      config={**base, "class_weight": "balanced"})
    # weighted positives raise every predicted probability towards the balanced prior
    assert balanced.predict(X[400:]).mean() > 2 * plain.predict(X[400:]).mean()
    with pytest.raises(UserError, match="class_weight balanced applies to binary tasks"):
        fit(spec, X[:400], y[:400], X[400:], y[400:], task_type="regression", tasks=["t"],
            config={**base, "class_weight": "balanced"})


def test_reverse_complement_augmentation_is_seeded_and_refused_for_non_dna_inputs():
    from biodl.train import fit

    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, size=(300, 30)).astype(np.uint8)
    X[:150, 10:16] = [0, 0, 0, 2, 2, 2]  # AAAGGG on one strand only (its reverse complement is CCCTTT)
    y = np.r_[np.ones(150), np.zeros(150)].astype(np.float32)[:, None]
    order = rng.permutation(300)
    X, y = X[order], y[order]
    spec = {"type": "cnn1d", "channels": [8], "kernel_sizes": [6], "rc": False, "dropout": 0.0}
    config = {"epochs": 15, "batch_size": 32, "lr": 0.01, "patience": 15, "progress": False,
              "augment": "reverse_complement"}
    a, _ = fit(spec, X[:240], y[:240], X[240:], y[240:], task_type="binary", tasks=["t"], config=config)
    b, _ = fit(spec, X[:240], y[:240], X[240:], y[240:], task_type="binary", tasks=["t"], config=config)
    plain, _ = fit(spec, X[:240], y[:240], X[240:], y[240:], task_type="binary", tasks=["t"],
                   config={**config, "augment": "none"})
    np.testing.assert_array_equal(a.predict(X), b.predict(X))  # same seed, same flips
    assert not np.array_equal(a.predict(X), plain.predict(X))
    # trained on both strands, a (non-RC) network scores the reverse complement of a site as a site
    from biodl.encodings import reverse_complement_codes

    site = X[y[:, 0] == 1]
    assert a.predict(reverse_complement_codes(site)).mean() > plain.predict(reverse_complement_codes(site)).mean() + 0.1
    with pytest.raises(UserError, match="augment reverse_complement applies to DNA codes"):
        fit({"type": "mlp", "hidden": [8]}, rng.random((50, 4)).astype(np.float32), y[:50], rng.random((20, 4)).astype(np.float32),
            y[:20], task_type="binary", tasks=["t"], config=config)


# -- training from disk ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["ecfp_mlp", "descriptors_mlp", "dna_cnn_rc_augment"])
def test_training_from_the_memory_map_gives_the_in_memory_numbers(tmp_path, case):
    """The same fit with its training and validation rows left on disk (RowView over the memory
    map, each shuffled batch read from the file) and read into memory: the same history, weights
    and predictions, bit for bit."""
    from biodl.dataset import RowView, load_dataset

    if case == "dna_cnn_rc_augment":
        src = {"format": "fasta", "path": str(DATA / "dna" / "oct4_test.fa")}
        featurizer, model = {"type": "onehot", "length": 200}, {"type": "cnn1d", "channels": [8], "kernel_sizes": [9]}
        extra = {"augment": "reverse_complement"}
        src_y = None
    else:
        src = {"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles", "id": "id",
               "targets": ["expt"]}
        featurizer = {"type": "ecfp", "n_bits": 512} if case == "ecfp_mlp" else {"type": "rdkit_descriptors"}
        model, extra, src_y = {"type": "mlp", "hidden": [32], "dropout": 0.2}, {}, "regression"
    featurize_source(src, featurizer, tmp_path / "ds", progress=False)
    ds = load_dataset(tmp_path / "ds")  # memory-mapped
    y = ds.y if src_y else (np.arange(len(ds))[:, None] % 3 == 0).astype(np.float32)
    task = src_y or "binary"
    order = np.random.default_rng(0).permutation(len(ds))
    train, valid = np.sort(order[: int(0.8 * len(ds))]), np.sort(order[int(0.8 * len(ds)):])
    config = {**FAST, "epochs": 6, "batch_size": 16, **extra}
    X_mem = np.load(tmp_path / "ds" / "X.npy")
    mem, hist_mem = fit(model, X_mem[train], y[train], X_mem[valid], y[valid], task_type=task, tasks=["t"], config=config)
    disk, hist_disk = fit(model, RowView(ds.X, train), y[train], RowView(ds.X, valid), y[valid], task_type=task,
                          tasks=["t"], config=config)
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in hist_mem] == \
        [{k: v for k, v in h.items() if k != "seconds"} for h in hist_disk]
    for (name, a), (_, b) in zip(mem.module.state_dict().items(), disk.module.state_dict().items()):
        assert torch.equal(a, b), name
    np.testing.assert_array_equal(mem.predict(X_mem), disk.predict(ds.X))


def test_row_view_reads_rows_in_the_asked_order():
    from biodl.dataset import RowView

    X = np.arange(40, dtype=np.uint8).reshape(20, 2)
    view = RowView(X, np.array([3, 9, 1, 17]))
    assert view.shape == (4, 2) and len(view) == 4 and view.dtype == np.uint8
    np.testing.assert_array_equal(view[np.array([2, 0, 3, 0])], X[[1, 3, 17, 3]])
    np.testing.assert_array_equal(view[torch.tensor([1, 2])], X[[9, 1]])
    np.testing.assert_array_equal(view[1:3], X[[9, 1]])
    np.testing.assert_array_equal(np.asarray(view, np.float32), X[[3, 9, 1, 17]].astype(np.float32))


def test_the_train_stage_loads_from_disk_when_asked_with_the_same_model(two_feature_sets):
    from biodl.stages.train import _from_disk, train_experiment

    tmp, experiment = two_feature_sets
    assert _from_disk(tmp / "fs_ecfp", "disk") and not _from_disk(tmp / "fs_ecfp", "memory")
    assert not _from_disk(tmp / "fs_ecfp", "auto")  # 642 x 256 bytes fit in memory
    train_experiment("fs", {**experiment, "train": {**experiment["train"], "load": "disk"}}, tmp / "fs_ecfp",
                     tmp / "fs_split.json", tmp / "model_disk", seed=0)
    a = TrainedModel.load(tmp / "model" / "model.pt")
    b = TrainedModel.load(tmp / "model_disk" / "model.pt")
    X = np.load(tmp / "fs_ecfp" / "X.npy")
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
