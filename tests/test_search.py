"""Hyperparameter search beyond a grid (biodl.search): ranges drawn within bounds and log-uniformly,
seeded random search, Optuna TPE whose trial 0 is the configuration as written, median pruning
through fit's per-epoch progress callback, a journal that resumes after a kill or extends to more
trials without training a finished trial again, and one-line config errors naming the key."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from biodl import search as hs
from biodl.errors import UserError
from biodl.stages.train import search_trials, train_experiment
from tests.conftest import DATA, ROOT

# a small MLP on FreeSolv's 642 molecules: each fit takes a fraction of a second
MODEL = {"type": "mlp", "hidden": [16], "dropout": 0.1, "sparse_input": False}
TRAIN = {"epochs": 8, "batch_size": 64, "patience": 4, "lr": 3e-3, "progress": False}
SPACE = {"model.dropout": [0.0, 0.1, 0.3], "train.lr": {"low": 1e-4, "high": 1e-2, "log": True},
         "model.hidden": [[8], [16]]}


def _experiment(**search):
    return {"model": dict(MODEL), "task": "regression", "train": dict(TRAIN),
            "search": {"method": "optuna", "space": SPACE, **search}}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as a Snakemake job with threads: 1 (on a busy 2-core machine, 6x faster)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def freesolv(tmp_path_factory):
    from biodl.dataset import featurize_source
    from biodl.stages.split import split_dataset

    tmp = tmp_path_factory.mktemp("search")
    source = {"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles", "id": "id",
              "targets": ["expt"]}
    featurize_source(source, {"type": "ecfp", "n_bits": 128}, tmp / "features")
    split_dataset(tmp / "features", {"method": "random"}, tmp / "split.json", seed=0)
    return tmp


def _train(freesolv, experiment, out, log=None):
    return train_experiment("fs", experiment, freesolv / "features", freesolv / "split.json", out, seed=0, log=log)


def _rows(out):
    with open(out / "search.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _without_seconds(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


@pytest.fixture
def count_fits(monkeypatch):
    """Counts biodl.train.fit calls (the stage imports fit at each call)."""
    import biodl.train

    calls = []
    real = biodl.train.fit

    def counted(*args, **kwargs):
        calls.append(kwargs.get("config"))
        return real(*args, **kwargs)

    monkeypatch.setattr(biodl.train, "fit", counted)
    return calls


# -- the space ------------------------------------------------------------------------------------
def test_ranges_are_drawn_within_bounds_and_log_uniformly():
    space = {"train.lr": {"low": 1e-5, "high": 1e-1, "log": True}, "model.dropout": {"low": 0.0, "high": 0.5},
             "train.batch_size": {"low": 1, "high": 1024, "log": True}, "train.epochs": {"low": 3, "high": 5},
             "model.hidden": [[8], [16, 16]]}
    trials = search_trials({"method": "random", "n_trials": 4000, "space": space}, seed=7)
    assert len(trials) == 4000
    lr = np.array([t["train.lr"] for t in trials])
    dropout = np.array([t["model.dropout"] for t in trials])
    batch = np.array([t["train.batch_size"] for t in trials])
    epochs = [t["train.epochs"] for t in trials]
    assert lr.min() >= 1e-5 and lr.max() <= 1e-1 and dropout.min() >= 0 and dropout.max() <= 0.5
    assert all(isinstance(t["train.batch_size"], int) and isinstance(t["train.epochs"], int) for t in trials)
    assert all(isinstance(t["train.lr"], float) for t in trials)
    assert batch.min() >= 1 and batch.max() <= 1024 and set(epochs) == {3, 4, 5}  # both ends drawn
    # log-uniform: each decade of lr gets a quarter (a uniform draw would put 90 % in the top decade)
    decades = np.histogram(np.log10(lr), bins=[-5, -4, -3, -2, -1])[0] / len(lr)
    assert np.all(np.abs(decades - 0.25) < 0.03), decades
    # the geometric middle of [0.5, 1024.5] (each integer k covers [k - 1/2, k + 1/2], as in optuna), not 512
    assert abs(np.median(batch) - np.sqrt(0.5 * 1024.5)) < 3
    assert abs(dropout.mean() - 0.25) < 0.01  # linear ranges stay uniform
    assert {json.dumps(t["model.hidden"]) for t in trials} == {"[8]", "[16, 16]"}


def test_random_search_is_seeded_and_a_list_space_keeps_the_grid_subset():
    search = {"method": "random", "n_trials": 5, "space": {"train.lr": {"low": 1e-4, "high": 1e-2, "log": True},
                                                           "model.dropout": [0.0, 0.2]}}
    assert search_trials(search, 3) == search_trials(search, 3)
    assert search_trials(search, 3) != search_trials(search, 4)
    lists = {"method": "random", "n_trials": 3, "space": {"model.dropout": [0.0, 0.1, 0.2, 0.3], "train.lr": [1e-3]}}
    picked = search_trials(lists, 1)
    assert len(picked) == 3 and len({json.dumps(p, sort_keys=True) for p in picked}) == 3  # no repeats
    assert search_trials({"space": {"model.dropout": [0.0, 0.1], "train.lr": [1e-3, 1e-4]}}, 0) == [
        {"model.dropout": d, "train.lr": lr} for d in (0.0, 0.1) for lr in (1e-3, 1e-4)]


def test_direct_callers_get_one_line_errors():
    with pytest.raises(UserError, match=r"search.space.model.dropout: a range needs method random or optuna"):
        search_trials({"space": {"model.dropout": {"low": 0.0, "high": 0.5}}}, 0)
    with pytest.raises(UserError, match=r"low must be < high"):
        search_trials({"method": "random", "space": {"model.dropout": {"low": 0.5, "high": 0.5}}}, 0)
    with pytest.raises(UserError, match=r"log: true needs low > 0"):
        search_trials({"method": "random", "space": {"train.lr": {"low": 0.0, "high": 0.1, "log": True}}}, 0)
    with pytest.raises(UserError, match=r"search.method: 'bayes' \(choose grid, random, optuna\)"):
        search_trials({"method": "bayes", "space": {"model.dropout": [0.1]}}, 0)


BASE = {"dataset": "d", "featurizer": "f", "split": "s", "model": {"type": "mlp", "dropout": 0.1}}
S = "search.space"
BAD = [  # (search block, the key path the message must name, a word it must contain)
    ({"method": "random", "space": {"model.dropout": {"low": 0.3, "high": 0.1}}}, f"{S}.model.dropout",
     "low must be < high"),
    ({"method": "optuna", "space": {"train.lr": {"low": 0.0, "high": 0.1, "log": True}}}, f"{S}.train.lr",
     "log: true needs low > 0"),
    ({"method": "grid", "space": {"model.dropout": {"low": 0.0, "high": 0.3}}}, f"{S}.model.dropout",
     "needs method random or optuna"),
    ({"method": "optuna", "space": {"model.dropout": {"low": 0.0, "high": 1.0}}}, f"{S}.model.dropout.high", "< 1"),
    ({"method": "optuna", "space": {"train.batch_size": {"low": 8.0, "high": 64}}}, f"{S}.train.batch_size.low",
     "integer"),
    ({"method": "optuna", "space": {"model.dropout": {"low": True, "high": 0.3}}}, f"{S}.model.dropout.low",
     "finite number"),
    ({"method": "optuna", "space": {"model.dropout": {"low": 0.1, "hi": 0.3}}}, f"{S}.model.dropout.hi", "high"),
    ({"method": "optuna", "space": {"model.dropout": 0.3}}, f"{S}.model.dropout", "a list of values or a range"),
    ({"method": "random", "pruner": "none", "space": {}}, "search.pruner", "applies to method optuna"),
    ({"method": "grid", "warmup_epochs": 2, "space": {}}, "search.warmup_epochs", "applies to method optuna"),
    ({"method": "optuna", "pruner": "hyperband", "space": {}}, "search.pruner", "median"),
    ({"method": "optuna", "n_trials": 0, "space": {}}, "search.n_trials", ">= 1"),
    ({"method": "tpe", "space": {}}, "search.method", "optuna"),
]


@pytest.mark.parametrize("search, key, word", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_search_specs_are_one_line_naming_the_key(search, key, word):
    from biodl.spec import parse_block

    with pytest.raises(UserError) as info:
        parse_block("experiment", {**BASE, "search": search}, "--experiment")
    message = str(info.value)
    assert key in message and word in message and "\n" not in message, message


def test_good_search_specs_pass_and_keep_integer_ranges():
    from biodl.spec import parse_block

    value = parse_block("experiment", {**BASE, "search": {
        "method": "optuna", "n_trials": 20, "pruner": "median", "warmup_epochs": 3, "startup_trials": 2,
        "space": {"train.batch_size": {"low": 16, "high": 256, "log": True}, "train.lr": {"low": 1e-4, "high": 1e-2},
                  "model.hidden": [[64], [128, 64]]}}}, "--experiment")
    dumped = value.search.dump()
    assert dumped["space"]["train.batch_size"] == {"low": 16, "high": 256, "log": True}
    assert isinstance(dumped["space"]["train.batch_size"]["low"], int)


def test_best_row_follows_the_metric_direction_and_skips_pruned_trials():
    rows = [{"trial": 0, "state": "complete", "valid_roc_auc": 0.7}, {"trial": 1, "state": "pruned", "valid_roc_auc": 0.9},
            {"trial": 2, "state": "complete", "valid_roc_auc": 0.8}, {"trial": 3, "state": "complete",
                                                                      "valid_roc_auc": 0.8}]
    assert hs.best_row(rows, "roc_auc")["trial"] == 2  # greater is better; the earliest of equals
    rmse = [{"trial": 0, "state": "complete", "valid_rmse": 1.0}, {"trial": 1, "state": "failed"},
            {"trial": 2, "state": "complete", "valid_rmse": 0.5}]
    assert hs.best_row(rmse, "rmse")["trial"] == 2


# -- optuna ---------------------------------------------------------------------------------------
def _study(out):
    import optuna

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(hs.journal_path(out))))
    (summary,) = storage.get_all_studies()
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def test_optuna_is_seeded_and_its_first_trial_is_the_config_as_written(freesolv, tmp_path):
    import optuna

    experiment = _experiment(n_trials=4, pruner="none")
    first = _train(freesolv, experiment, tmp_path / "a")
    second = _train(freesolv, experiment, tmp_path / "b")
    a, b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert len(a) == 4 and _without_seconds(a) == _without_seconds(b)  # same parameters, same scores
    assert first["selected_trial"] == second["selected_trial"]
    assert first["selected_overrides"] == second["selected_overrides"]
    # trial 0: the configuration as written (no overrides); the others differ from it and each other
    assert (a[0]["model.dropout"], a[0]["train.lr"], a[0]["model.hidden"]) == ("0.1", "0.003", "[16]")
    assert len({(r["model.dropout"], r["train.lr"], r["model.hidden"]) for r in a}) == 4
    assert all(r["state"] == "complete" for r in a)
    study = _study(tmp_path / "a")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE  # RMSE
    trials = sorted(study.get_trials(), key=lambda t: t.number)
    assert trials[0].user_attrs["as_written"] and trials[0].user_attrs["overrides"] == {}
    assert trials[0].params == {"model.dropout": "0.1", "train.lr": 0.003, "model.hidden": "[16]"}
    for t, row in zip(trials, a):  # the journal and search.csv agree
        assert t.value == pytest.approx(float(row["valid_rmse"]))
    best = min(a, key=lambda r: float(r["valid_rmse"]))
    assert first["selected_trial"] == int(best["trial"])
    assert first["valid_rmse"] == pytest.approx(float(best["valid_rmse"]))
    # a different seed asks for other parameters after trial 0
    other = train_experiment("fs", experiment, freesolv / "features", freesolv / "split.json", tmp_path / "c",
                             seed=1)
    assert other["n_trials"] == 4
    assert [r["train.lr"] for r in _rows(tmp_path / "c")][1:] != [r["train.lr"] for r in a][1:]


def test_median_pruning_stops_hopeless_trials_and_records_them(freesolv, tmp_path):
    # every drawn learning rate is 300x below the written one: those trials fall behind trial 0 at once
    experiment = _experiment(n_trials=5, startup_trials=1, warmup_epochs=0)
    experiment["search"]["space"] = {"train.lr": {"low": 1e-6, "high": 1e-5, "log": True}}
    manifest = _train(freesolv, experiment, tmp_path / "m")
    rows = _rows(tmp_path / "m")
    states = [r["state"] for r in rows]
    assert states[0] == "complete" and rows[0]["train.lr"] == "0.003"  # as written, outside the range
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned, states
    assert all(int(r["epochs_run"]) < TRAIN["epochs"] and r["valid_rmse"] for r in pruned)
    assert all(1e-6 <= float(r["train.lr"]) <= 1e-5 for r in rows[1:])
    from optuna.trial import TrialState

    study = _study(tmp_path / "m")
    assert sum(t.state == TrialState.PRUNED for t in study.get_trials()) == len(pruned)
    assert manifest["selected_trial"] == 0 and manifest["selected_overrides"] == {}
    assert (tmp_path / "m" / "model.pt").is_file()
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]  # nothing half-written


def test_resume_trains_only_the_missing_trials(freesolv, tmp_path, count_fits):
    experiment = _experiment(n_trials=3, startup_trials=1, warmup_epochs=1)
    _train(freesolv, experiment, tmp_path / "r")
    assert len(count_fits) == 3
    three = _rows(tmp_path / "r")
    experiment["search"]["n_trials"] = 5
    log = []
    manifest = _train(freesolv, experiment, tmp_path / "r", log=log.append)
    assert len(count_fits) == 5  # two new trials; the first three come from the journal
    assert any("3 trial(s) finished" in line for line in log), log
    five = _rows(tmp_path / "r")
    assert len(five) == 5 and five[:3] == three  # not redone: the same rows, seconds included
    # an uninterrupted five-trial search asks for the same parameters and selects the same trial
    fresh = _train(freesolv, experiment, tmp_path / "u")
    assert _without_seconds(_rows(tmp_path / "u")) == _without_seconds(five)
    assert fresh["selected_trial"] == manifest["selected_trial"]
    # run again: nothing to train, the selected model comes from the checkpoint
    before = len(count_fits)
    again = _train(freesolv, experiment, tmp_path / "r")
    assert len(count_fits) == before and again["selected_trial"] == manifest["selected_trial"]
    assert again["valid_rmse"] == manifest["valid_rmse"] and hs.checkpoint_path(tmp_path / "r").is_file()
    # another configuration is another study: the old journal goes, all five trials train
    experiment["model"]["hidden"] = [12]
    _train(freesolv, experiment, tmp_path / "r")
    assert len(count_fits) == before + 5 and len(_rows(tmp_path / "r")) == 5


KILL = """
import os, sys
import biodl.train
from biodl.stages.train import train_experiment

real, calls = biodl.train.fit, []

def fit(*args, progress=None, **kwargs):
    calls.append(1)
    def hook(state):
        progress(state)
        if len(calls) == 3 and state["epoch"] == 2:
            os._exit(9)  # killed in the middle of trial 2, like kill -9
    return real(*args, progress=hook, **kwargs)

biodl.train.fit = fit
train_experiment("fs", {experiment}, sys.argv[1] + "/features", sys.argv[1] + "/split.json", sys.argv[2], seed=0)
"""


def test_a_search_killed_mid_trial_resumes_where_it_stopped(freesolv, tmp_path, count_fits):
    experiment = _experiment(n_trials=4, pruner="none")
    script = KILL.replace("{experiment}", repr(experiment))
    proc = subprocess.run([sys.executable, "-c", script, str(freesolv), str(tmp_path / "k")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"})
    assert proc.returncode == 9, proc.stderr[-2000:]
    assert not (tmp_path / "k").exists() and hs.journal_path(tmp_path / "k").is_file()
    log = []
    _train(freesolv, experiment, tmp_path / "k", log=log.append)
    assert len(count_fits) == 2  # trials 2 (cut short) and 3; 0 and 1 finished before the kill
    assert any("cut short by an earlier run" in line for line in log), log
    _train(freesolv, experiment, tmp_path / "u")
    assert _without_seconds(_rows(tmp_path / "k")) == _without_seconds(_rows(tmp_path / "u"))


def test_a_drawn_trial_that_fails_is_recorded_and_the_search_goes_on(freesolv, tmp_path, monkeypatch):
    import biodl.train

    real = biodl.train.fit

    def fit(model_spec, *args, config=None, **kwargs):
        if config.lr < 1e-3:
            raise UserError("validation rmse is NaN at epoch 3 (diverged)")
        return real(model_spec, *args, config=config, **kwargs)

    monkeypatch.setattr(biodl.train, "fit", fit)
    experiment = _experiment(n_trials=6, pruner="none")
    _train(freesolv, experiment, tmp_path / "f")
    rows = _rows(tmp_path / "f")
    assert len(rows) == 6 and rows[0]["state"] == "complete"
    failed = [r for r in rows if r["state"] == "failed"]
    assert failed and all(float(r["train.lr"]) < 1e-3 and "NaN" in r["error"] for r in failed)
    assert all(r["state"] == "complete" for r in rows if float(r["train.lr"]) >= 1e-3)
    # the configuration as written failing fails the job, as a grid does
    experiment["train"]["lr"] = 5e-4
    with pytest.raises(UserError, match="NaN"):
        _train(freesolv, experiment, tmp_path / "g")


def test_written_values_fill_in_defaults():
    dims = hs.parse_space({"model.dropout": [0.1], "model.hidden": [[8]], "train.batch_size": [32],
                           "train.lr": {"low": 1e-4, "high": 1e-2}})
    written = hs.written_values(dims, {"type": "mlp", "hidden": [16]}, {"lr": 0.003})
    assert written == {"model.dropout": 0.2, "model.hidden": [16], "train.batch_size": 64, "train.lr": 0.003}
