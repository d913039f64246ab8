"""End to end: the default workflow featurizes every configured dataset from the vendored data, and a
small config runs every stage (split, train with search, baseline, predict, evaluate) twice with
byte-identical metrics."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from biodl.dataset import load_dataset
from tests.conftest import ROOT, snakemake_env


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = snakemake_env()
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=workdir,
                          capture_output=True, text=True, env=env)


def copy_workflow(work: Path) -> Path:
    for name in ("Snakefile", "workflow", "config", "data"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    return work


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    """The default config, featurization stage (training everything takes minutes: not a unit test)."""
    work = copy_workflow(tmp_path_factory.mktemp("wf"))
    proc = snakemake(work, "features")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory):
    """Two clean runs of the small config, every stage."""
    works = []
    for i in range(2):
        work = copy_workflow(tmp_path_factory.mktemp(f"small{i}"))
        shutil.copy(ROOT / "tests" / "configs" / "small.yaml", work / "config" / "config.yaml")
        proc = snakemake(work)
        assert proc.returncode == 0, proc.stderr[-4000:]
        works.append(work)
    return works


def test_every_dataset_and_featurizer_is_written(workflow_run):
    config = yaml.safe_load((workflow_run / "config" / "config.yaml").read_text())
    expected = {(d, f) for d, spec in config["datasets"].items() for f in spec["featurizers"]}
    written = {(p.parent.parent.name, p.parent.name)
               for p in (workflow_run / "results" / "features").glob("*/*/manifest.json")}
    assert written == expected
    for dataset, featurizer in expected:
        ds = load_dataset(workflow_run / "results" / "features" / dataset / featurizer)
        counts = ds.manifest["counts"]
        assert counts["kept"] + counts["rejected"] == counts["in"] == len(ds.meta) + len(ds.rejects)
        assert (workflow_run / "logs" / "featurize" / dataset / f"{featurizer}.log").is_file()


def test_real_data_counts(workflow_run):
    features = workflow_run / "results" / "features"
    assert load_dataset(features / "freesolv" / "ecfp").manifest["counts"]["kept"] == 642
    dna = load_dataset(features / "oct4_mafk_train" / "onehot")
    assert dna.X.shape == (7797, 200) and dna.X.dtype == np.uint8
    assert set(np.unique(dna.y)) == {0.0, 1.0}
    cells = load_dataset(features / "cells" / "image128")
    assert cells.X.shape[1:] == (1, 128, 128) and cells.X.dtype == np.float32
    assert len(cells) == 360 and cells.y.min() == 1 and cells.y.max() == 30
    # blur variants of one scene share the scene key, so a group split can keep them together
    assert cells.meta.groupby("scene").size().eq(4).all()
    solubility = json.loads((features / "solubility_train" / "ecfp" / "manifest.json").read_text())
    assert solubility["counts"]["rejected"] == 14  # SMILES RDKit cannot parse, each with its reason


def test_second_run_has_nothing_to_do(workflow_run):
    proc = snakemake(workflow_run, "features", "--dry-run")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_small_config_every_stage_and_identical_metrics(small_runs):
    first, second = small_runs
    for name in ("fs_mlp", "dna_cnn", "cells_cnn"):
        a = (first / "results" / "metrics" / f"{name}.json").read_bytes()
        assert a == (second / "results" / "metrics" / f"{name}.json").read_bytes(), name
        metrics = json.loads(a)
        assert set(metrics["models"]) == {metrics["deep_model"], *{"fs_mlp": ["random_forest"],
                                          "dna_cnn": ["logistic_regression"],
                                          "cells_cnn": ["classical_count"]}[name]}
        for scores in metrics["models"].values():
            assert set(scores) == {"train", "valid", "test"}
        assert metrics["split"]["audit"]["duplicated_keys"] == 0
    fs = json.loads((first / "results" / "metrics" / "fs_mlp.json").read_text())
    assert fs["selection"]["n_trials"] == 2 and fs["split"]["method"] == "scaffold"
    assert fs["models"]["mlp"]["test"]["mean"]["rmse"] > 0
    search = (first / "results" / "models" / "fs_mlp" / "rep0" / "search.csv").read_text().splitlines()
    assert len(search) == 3  # header + one row per trial, each scored on the validation split
    for stage in ("split", "train", "predict", "baseline", "evaluate", "report"):
        assert any((first / "logs" / stage).rglob("*.log")), stage


def test_interpretation_folders_and_report_sections(small_runs):
    """dna_cnn and cells_cnn ask for interpretation: the rule writes the folder (same bytes in both
    clean runs) and the report shows it; fs_mlp does not ask and has neither."""
    first, second = small_runs
    for name, method in (("dna_cnn", "ism"), ("cells_cnn", "occlusion")):
        folder = first / "results" / "interpret" / name
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["method"] == method and summary["n_items"] > 0
        for fig in summary["figures"]:
            assert (folder / fig["file"]).read_bytes()[:4] == b"\x89PNG"
        for file in ("summary.json", "top_features.csv"):
            assert (folder / file).read_bytes() == (second / "results" / "interpret" / name / file).read_bytes()
        html = (first / "results" / "reports" / f"{name}.html").read_text()
        assert "<h2>Interpretation</h2>" in html and html.count('src="data:image/png;base64,') >= 5
    dna = json.loads((first / "results" / "interpret" / "dna_cnn" / "summary.json").read_text())
    assert {g["name"] for g in dna["groups"]} == {"positives", "negatives"}
    assert all(g["motif"]["matches"][0]["matrix_id"].startswith("MA") for g in dna["groups"])
    assert dna["optimization"]["steps"] == 2 and len(dna["optimization"]["evolved"]) == 5
    assert not (first / "results" / "interpret" / "fs_mlp").exists()
    assert "<h2>Interpretation</h2>" not in (first / "results" / "reports" / "fs_mlp.html").read_text()
    assert any((first / "logs" / "interpret").rglob("*.log"))


def test_screen_rules_shard_and_gather_like_one_screen(small_runs, tmp_path):
    """fs_screen: two shard jobs and a gather; the result equals one unsharded biodl screen with the
    same model and options, and both clean runs wrote the same bytes."""
    import torch

    from biodl.stages.screen import screen_library

    first, second = small_runs
    gathered = first / "results" / "screens" / "fs_screen" / "gathered"
    summary = json.loads((gathered / "summary.json").read_text())
    assert summary["shards"] == 2 and summary["counts"]["read"] == 257 and summary["hits"] == 5
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the rule: float sums in another order move the 8th digit
    try:
        whole = screen_library(first / "results" / "models" / "fs_mlp" / "rep0" / "model.pt",
                               first / "data" / "molecules" / "solubility_test.csv", tmp_path / "whole", id_col="id",
                               acquisition="ucb", top=20, picks=5, chunk_size=50, seed=7, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert whole["counts"] == summary["counts"]
    for name in ("screened.csv", "candidates.csv", "hits.csv"):
        assert (gathered / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
        assert (gathered / name).read_bytes() == \
            (second / "results" / "screens" / "fs_screen" / "gathered" / name).read_bytes(), name
    assert any((first / "logs" / "screen").rglob("*.log"))
    page = (first / "results" / "reports" / "screens" / "fs_screen.html").read_text()
    for text in ("Screen: fs_screen", "passed the structural alerts", "Filters", "Picks", "2 shards gathered"):
        assert text in page, text
    assert page.count('src="data:image/png;base64,') == 3  # prediction and σ histograms, the picks drawn
    assert not (gathered / "report.html").exists()  # the workflow's page is under results/reports


# -- reports ------------------------------------------------------------------------------------
def test_small_config_uncertainty_in_metrics(small_runs):
    first = small_runs[0]
    fs = json.loads((first / "results" / "metrics" / "fs_mlp.json").read_text())
    u = fs["models"]["mlp"]["test"]["uncertainty"]["expt"]
    assert set(u["coverage"]) == {"80", "90", "abs_80", "abs_90"} and u["nll"] is not None
    assert "uncertainty" not in fs["models"]["random_forest"]["test"]  # a forest states no σ here
    dna = json.loads((first / "results" / "metrics" / "dna_cnn.json").read_text())
    for model in ("cnn1d", "logistic_regression"):  # every classifier is scored for calibration
        assert dna["models"][model]["test"]["uncertainty"]["oct4"]["ece"] is not None
    assert "uncalibrated" in dna["models"]["cnn1d"]["test"]["uncertainty"]["oct4"]
    cells = json.loads((first / "results" / "models" / "cells_cnn" / "rep0" / "manifest.json").read_text())
    assert cells["info"]["train_config"]["loss"] == "gaussian_nll" and cells["calibration"]["levels"] == [0.8]


def test_reports_are_self_contained_pages(small_runs):
    reports = small_runs[0] / "results" / "reports"
    for name in ("fs_mlp", "dna_cnn", "cells_cnn"):
        html = (reports / f"{name}.html").read_text()
        for section in ("Data and split", "Scores", "Uncertainty", "Figures", "Most uncertain test items",
                        "Configuration and selection", "leakage audit"):
            assert section in html, (name, section)
        assert html.count('src="data:image/png;base64,') >= 4, name
        assert "http://" not in html and "https://" not in html  # nothing to fetch: works offline
    assert (reports / "cells_cnn.html").read_text().count('width="64"') >= 3  # image thumbnails
    index = (reports / "index.html").read_text()
    for name in ("fs_mlp", "dna_cnn", "cells_cnn"):
        assert f'href="{name}.html"' in index


def test_replicates_are_summarized_with_intervals_and_verdicts(small_runs):
    """dna_cnn has `replicates: 2`: two splits (seed 7 and 8), two models, one summary whose means
    and sds are those of the replicate files, and a report and leaderboard that say so."""
    work = small_runs[0]
    reps = [json.loads((work / "results" / "metrics" / "dna_cnn" / f"rep{r}.json").read_text()) for r in (0, 1)]
    assert [r["replicate"] for r in reps] == [0, 1]
    splits = [json.loads((work / "results" / "splits" / "dna" / "random" / f"rep{r}.json").read_text()) for r in (0, 1)]
    assert [s["seed"] for s in splits] == [7, 8] and splits[0]["test"] != splits[1]["test"]
    summary = json.loads((work / "results" / "metrics" / "dna_cnn.json").read_text())
    assert summary["n_replicates"] == 2 and [r["seed"] for r in summary["replicates"]] == [7, 8]
    for model in ("cnn1d", "logistic_regression"):
        values = [r["models"][model]["test"]["mean"]["roc_auc"] for r in reps]
        test = summary["models"][model]["test"]
        assert test["values"]["roc_auc"] == values
        assert test["mean"]["roc_auc"] == pytest.approx(np.mean(values))
        assert test["sd"]["roc_auc"] == pytest.approx(np.std(values, ddof=1))
        low, high = test["interval"]["roc_auc"]
        assert low <= test["mean"]["roc_auc"] <= high
    comparison = summary["comparisons"]["test"]
    assert comparison["verdict"] in ("better", "worse", "no clear difference")
    low, high = comparison["interval"]
    assert (comparison["verdict"] == "no clear difference") == (low <= 0 <= high)
    assert summary["reference"]["test"]["scores"]["roc_auc"] == 0.5
    # a single-replicate experiment: sd 0, its one value
    fs = json.loads((work / "results" / "metrics" / "fs_mlp.json").read_text())
    assert fs["n_replicates"] == 1 and fs["models"]["mlp"]["test"]["sd"]["rmse"] == 0.0
    html = (work / "results" / "reports" / "dna_cnn.html").read_text()
    assert "Replicates" in html and "mean of 2 replicates" in html and "95 % CI" in html
    assert ("better" if comparison["verdict"] == "better" else comparison["verdict"]) in html
    index = (work / "results" / "reports" / "index.html").read_text()
    assert "± " in index and comparison["verdict"] in index


def _chromium() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def _load_in_browser(browser: str, page: Path) -> dict:
    """Open ``page`` in headless Chromium; the page's own script records errors and decoded images
    as attributes of <body> (see report/templates/_base.html.j2)."""
    import re

    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    body = re.search(r"<body([^>]*)>", proc.stdout)
    assert body, proc.stderr[-2000:]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))


def test_reports_load_in_a_headless_browser(small_runs, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on PATH (.ci/run installs Debian's chromium)")
    pages = sorted((small_runs[0] / "results" / "reports").rglob("*.html"))
    assert any(p.parent.name == "screens" for p in pages)
    for page in pages:
        state = _load_in_browser(browser, page)
        assert state.get("ready") == "1", page.name
        assert "errors" not in state, (page.name, state.get("errors"))
        if page.name != "index.html":
            least = 3 if page.parent.name == "screens" else 4
            assert int(state["images-total"]) >= least and state["images-loaded"] == state["images-total"], page.name
    # the check can fail: a page with an undecodable figure is caught
    good = (small_runs[0] / "results" / "reports" / "fs_mlp.html").read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(good.replace('src="data:image/png;base64,', 'src="data:image/png;base64,AAAA', 1))
    state = _load_in_browser(browser, broken)
    assert int(state["images-loaded"]) == int(state["images-total"]) - 1


def test_snakemake_report(small_runs):
    work = small_runs[0]
    proc = snakemake(work, "--report", "report.zip")
    assert proc.returncode == 0, proc.stderr[-3000:]
    import zipfile

    names = zipfile.ZipFile(work / "report.zip").namelist()
    assert any(n.endswith("fs_mlp.html") for n in names) and any(n.endswith("index.html") for n in names)
