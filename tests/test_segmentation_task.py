"""The segmentation task through the stages (issue 13): spec checks, train → predict → baseline →
evaluate (with a count comparison) → summarize → report, the model file, and the scores' sums."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from biodl.errors import UserError
from biodl.instances import (
    STAT_COLUMNS,
    decode_mask,
    encode_mask,
    image_stats,
    scores_from_sums,
    segmentation_scores,
)
from biodl.tasks import Segmentation, task_type_of_table


def box(mask, label, y0, y1, x0, x1):
    mask[y0:y1, x0:x1] = label
    return mask


def _masks():
    rng = np.random.default_rng(3)
    truths, preds = [], []
    for k in range(7):
        t = np.zeros((24, 24), np.int32)
        p = np.zeros((24, 24), np.int32)
        for j in range(1 + k % 3):
            y, x = 2 + 7 * j, int(rng.integers(1, 16))
            box(t, j + 1, y, y + 5, x, x + 6)
            if (j + k) % 4:  # some cells missed, others shifted
                box(p, 10 + j, y + int(rng.integers(0, 3)), y + 5, x + int(rng.integers(0, 3)), x + 6)
        if k == 4:
            box(p, 40, 20, 23, 18, 23)  # a false positive
        truths.append(t)
        preds.append(p)
    return truths, preds


def test_summed_image_statistics_give_the_scores_of_the_whole_set():
    truths, preds = _masks()
    stats = np.array([image_stats(t, p) for t, p in zip(truths, preds)])
    assert stats.shape == (7, len(STAT_COLUMNS))
    got = scores_from_sums(stats.sum(axis=0))
    ref = segmentation_scores(truths, preds)
    assert got["object_f1"] == pytest.approx(ref["objects"][0.5]["f1"])
    assert got["precision"] == pytest.approx(ref["objects"][0.5]["precision"])
    assert got["ap_70"] == pytest.approx(ref["objects"][0.7]["average_precision"])
    assert got["pixel_iou"] == pytest.approx(ref["pixel_iou"]) and got["dice"] == pytest.approx(ref["dice"])
    assert got["count_mae"] == pytest.approx(ref["count_mae"]) and got["count_bias"] == pytest.approx(ref["count_bias"])
    # the task's bootstrap: draw b is the score of the images that draw picked, each as often as drawn
    task = Segmentation(["instances"])
    draws = task.bootstrap(stats, None, n_boot=50, seed=1)
    from biodl.stats import resample_counts

    counts = resample_counts(7, 50, 1)
    for b in (0, 17, 49):
        picked = [i for i in range(7) for _ in range(int(counts[b, i]))]
        again = segmentation_scores([truths[i] for i in picked], [preds[i] for i in picked])
        assert draws["object_f1"][b] == pytest.approx(again["objects"][0.5]["f1"])
        assert draws["count_mae"][b] == pytest.approx(again["count_mae"])
    scored = task.score(stats, None)
    assert scored["mean"]["object_f1"] == pytest.approx(ref["objects"][0.5]["f1"]) and scored["n"] == {"instances": 7}


def test_masks_round_trip_through_a_table_cell():
    mask = np.zeros((5, 7), np.int64)
    mask[1:3, 2:6] = 70_000  # beyond uint16
    back = decode_mask(encode_mask(mask))
    assert back.dtype == np.uint32 and (back == mask).all()
    small = decode_mask(encode_mask(mask.clip(0, 3)))
    assert small.dtype == np.uint16 and (small == mask.clip(0, 3)).all()


def _config(**experiment):
    exp = {"dataset": "cells", "featurizer": "img", "split": "scenes", "task": "segmentation",
           "model": {"type": "unet", "depth": 2, "width": 4}, **experiment}
    return {
        "featurizers": {"img": {"type": "image", "size": [64, 64]}},
        "datasets": {"cells": {"source": {"format": "images", "path": "cells", "labels": "bbbc005", "targets": ["count"],
                                          "masks": "cells/ground_truth"},
                               "featurizers": ["img"],
                               "splits": {"scenes": {"method": "group", "key": "scene"},
                                          "other": {"method": "random"}}}},
        "experiments": {"seg": exp, "cnn": {"dataset": "cells", "featurizer": "img", "split": "scenes",
                                            "task": "regression", "model": {"type": "cnn2d"}}},
    }


@pytest.mark.parametrize("change, where, message", [
    ({"model": {"type": "cnn2d"}}, "experiments.seg.model.type", "task segmentation trains a unet, not 'cnn2d'"),
    ({"task": "regression"}, "experiments.seg.task", "model unet predicts pixel classes: set task: segmentation"),
    ({"search": {"space": {"model.width": [4, 8]}}}, "experiments.seg.search", "not available for segmentation"),
    ({"uncertainty": {"method": "mc_dropout"}}, "experiments.seg.uncertainty", "states no uncertainty"),
    ({"compare_counts": ["nope"]}, "experiments.seg.compare_counts[0]", "is not another experiment"),
    ({"baseline": {"type": "random_forest"}}, "experiments.seg.baseline.type", "not segmentation"),
    ({"train": {"optimizer": "sgd"}}, "experiments.seg.train.optimizer", "not used by segmentation training"),
    ({"train": {"lr_schedule": "cosine"}}, "experiments.seg.train.lr_schedule", "not used by segmentation"),
    ({"train": {"loss": "mse"}}, "experiments.seg.train.loss", "segmentation trains with ce_dice"),
])
def test_spec_names_what_does_not_fit_a_segmentation_experiment(change, where, message):
    from biodl.spec import parse_config

    with pytest.raises(UserError) as err:
        parse_config(_config(**change), where="c")
    assert str(err.value).startswith(f"c: {where}: ") and message in str(err.value) and "\n" not in str(err.value)


def test_spec_refuses_crops_elsewhere_masks_missing_and_counts_from_another_split():
    from biodl.spec import parse_config

    parse_config(_config(compare_counts=["cnn"], baseline={"type": "classical_watershed"},
                         train={"crop": 32, "steps_per_epoch": 3}), where="c")
    config = _config()
    config["experiments"]["cnn"]["train"] = {"crop": 32}
    with pytest.raises(UserError, match=r"^c: experiments.cnn.train.crop: applies to a pixel-wise task"):
        parse_config(config, where="c")
    config = _config()
    del config["datasets"]["cells"]["source"]["masks"]
    with pytest.raises(UserError, match=r"^c: datasets.cells.source.masks: experiment 'seg' segments cells"):
        parse_config(config, where="c")
    config = _config(test_sets=["plain"])
    config["datasets"]["plain"] = {"source": {"format": "images", "path": "more_cells", "labels": "bbbc005"},
                                   "featurizers": ["img"]}
    with pytest.raises(UserError, match=r"^c: experiments.seg.test_sets\[0\]: dataset 'plain' has no masks"):
        parse_config(config, where="c")
    config = _config(compare_counts=["cnn"])
    config["experiments"]["cnn"]["split"] = "other"
    with pytest.raises(UserError, match="counts are compared on the same images"):
        parse_config(config, where="c")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny segmentation experiment through every stage (2 epochs: behaviour, not quality)."""
    from biodl.dataset import featurize_source
    from biodl.simulate import GROUND_TRUTH, simulate_cells
    from biodl.stages.baseline import baseline_experiment
    from biodl.stages.predict import predict_experiment
    from biodl.stages.split import split_dataset
    from biodl.stages.train import train_experiment

    tmp = tmp_path_factory.mktemp("seg")
    cells = tmp / "cells"
    # non-square (width 84, height 60, as BBBC005's 696 x 520), sides not multiples of the pooling grid's 8
    simulate_cells(cells, counts=[2, 14], sites=2, blurs=[1, 23], size=[84, 60])
    source = {"format": "images", "path": str(cells), "labels": "bbbc005", "targets": ["count"],
              "masks": str(cells / GROUND_TRUTH)}
    featurize_source(source, {"type": "image", "size": [60, 84]}, tmp / "f", progress=False)
    split_dataset(tmp / "f", {"method": "group", "key": "scene", "fractions": [0.6, 0.2, 0.2]}, tmp / "split.json")
    experiment = {"task": "segmentation", "model": {"type": "unet", "depth": 3, "width": 4},
                  "train": {"epochs": 2, "batch_size": 4, "crop": 32, "steps_per_epoch": 2, "patience": 2},
                  "baseline": {"type": "classical_watershed", "smooth": [1.0], "min_distance": [3, 5]}}
    manifest = train_experiment("seg", experiment, tmp / "f", tmp / "split.json", tmp / "model", seed=0)
    predict_experiment("seg", tmp / "model" / "model.pt", tmp / "f", tmp / "split.json", tmp / "pred.parquet")
    baseline_experiment("seg", experiment, tmp / "f", tmp / "split.json", tmp / "base.parquet")
    return tmp, manifest


def test_a_segmentation_experiment_trains_predicts_masks_and_its_baseline_too(run):
    from biodl.dataset import load_dataset
    from biodl.segmentation import SegmentationFit, segment
    from biodl.splits import load_split
    from biodl.stages.split import positions

    tmp, manifest = run
    assert manifest["task_type"] == "segmentation" and manifest["model_spec"]["type"] == "unet"
    assert len(manifest["info"]["thresholds"]) == 2 and manifest["info"]["epochs_run"] == 2
    table = pd.read_parquet(tmp / "pred.parquet")
    base = pd.read_parquet(tmp / "base.parquet")
    assert task_type_of_table(table) == "segmentation" and set(base["model"]) == {"classical_watershed"}
    ds = load_dataset(tmp / "f")
    pos = positions(ds, load_split(tmp / "split.json"))
    for part in ("train", "valid", "test"):
        rows = table[table["split"] == part].sort_values("row")
        assert list(rows["row"]) == sorted(ds.meta["row"].to_numpy()[pos[part]])
    test = table[table["split"] == "test"].sort_values("row")
    # the table's masks are the model file's predictions, and its counts are their objects
    fit = SegmentationFit.load(tmp / "model" / "model.pt")
    idx = pos["test"][np.argsort(ds.meta["row"].to_numpy()[pos["test"]])]
    again = segment(fit, ds.X[idx])
    assert ds.masks.shape[1:] == (60, 84) and all(m.shape == (60, 84) for m in again)
    for cell, mask, count in zip(test["mask_pred"], again, test["y_pred"]):
        assert (decode_mask(cell) == mask).all() and count == len(np.unique(mask[mask > 0]))
    for cell, i in zip(test["mask_true"], idx):
        assert (decode_mask(cell) == ds.masks[i]).all()
    # the generic model loader names the kind instead of failing on a missing key
    from biodl.train import TrainedModel

    with pytest.raises(UserError, match="a segmentation model"):
        TrainedModel.load(tmp / "model" / "model.pt")


def test_evaluation_scores_images_with_intervals_compares_counts_and_reports(run):
    from biodl.report import write_experiment_report
    from biodl.stages.evaluate import evaluate_experiment, summarize_replicates

    tmp, _ = run
    table = pd.read_parquet(tmp / "pred.parquet")
    # a count model on the same images: off by one on every test image
    counts = table[["split", "id", "row", "y_true"]].assign(model="cnn2d", task="count")
    counts["y_pred"] = counts["y_true"] + 1.0
    counts.to_parquet(tmp / "counts.parquet")
    metrics = evaluate_experiment("seg", [tmp / "pred.parquet", tmp / "base.parquet"], tmp / "split.json",
                                  tmp / "rep0.json", model_manifest=tmp / "model" / "manifest.json",
                                  compare_counts={"cnn": tmp / "counts.parquet"}, n_boot=200)
    assert metrics["task_type"] == "segmentation" and metrics["primary_metric"] == "object_f1"
    test = table[table["split"] == "test"]
    ref = segmentation_scores([decode_mask(c) for c in test["mask_true"]], [decode_mask(c) for c in test["mask_pred"]])
    unet = metrics["models"]["unet"]["test"]
    assert unet["mean"]["object_f1"] == pytest.approx(ref["objects"][0.5]["f1"])
    assert unet["mean"]["count_mae"] == pytest.approx(ref["count_mae"]) and unet["n_items"] == len(test)
    low, high = unet["interval"]["object_f1"]
    assert low <= unet["mean"]["object_f1"] <= high
    comparison = metrics["comparisons"]["test"]
    assert comparison["baseline"] == "classical_watershed" and comparison["metric"] == "object_f1"
    counted = metrics["count_comparison"]["test"]
    assert counted["models"]["cnn:cnn2d"]["value"] == pytest.approx(1.0)
    assert counted["models"]["unet"]["value"] == pytest.approx(ref["count_mae"])
    assert set(counted["differences"]) == {"cnn:cnn2d", "classical_watershed"}
    assert metrics["reference"] == {}
    summary = summarize_replicates([tmp / "rep0.json"], tmp / "summary.json")
    assert summary["count_comparison"]["test"]["models"]["cnn:cnn2d"]["value"] == pytest.approx(1.0)
    html = write_experiment_report("seg", tmp / "summary.json", [tmp / "pred.parquet", tmp / "base.parquet"],
                                   tmp / "seg.html", model_dir=tmp / "model", split_path=tmp / "split.json",
                                   features=tmp / "f", compare_counts={"cnn": tmp / "counts.parquet"}).read_text()
    assert "Cell counts beside other methods" in html and "best, median and worst object F1" in html
    assert "cnn:cnn2d" in html and html.count("data:image/png") >= 3
    json.loads((tmp / "summary.json").read_text())  # strict JSON (no NaN)


def test_simulate_cells_takes_several_sets_each_with_its_own_folder():
    from biodl.spec import parse_config, simulated_sets

    config = _config()
    config["simulate_cells"] = [{"out": "cells"}, {"out": "cells_full", "size": [696, 520], "counts": [10, 40]}]
    spec = parse_config(config, where="c")
    assert [s.out for s in simulated_sets(spec)] == ["cells", "cells_full"]
    assert simulated_sets(spec)[1].size == [696, 520]
    config["simulate_cells"][1]["out"] = "cells"
    with pytest.raises(UserError, match=r"^c: simulate_cells\[1\].out: 'cells' is written by simulate_cells\[0\] too"):
        parse_config(config, where="c")
    config["simulate_cells"] = "cells"
    with pytest.raises(UserError, match="must be one simulator block or a list of them"):
        parse_config(config, where="c")


def test_biodl_predict_segments_a_folder_of_images_and_names_the_rejects(run, capsys):
    import shutil

    import tifffile

    from biodl.cli import main
    from biodl.featurizers import make_featurizer
    from biodl.segmentation import SegmentationFit, segment

    tmp, _ = run
    folder = tmp / "new_images"
    folder.mkdir()
    images = sorted((tmp / "cells").glob("*.TIF"))[:3]
    for path in images:
        shutil.copy(path, folder / path.name)
    (folder / "broken.tif").write_bytes(b"not an image")
    out = tmp / "segmented" / "cells.csv"
    assert main(["predict", "--model", str(tmp / "model" / "model.pt"), str(folder), "-o", str(out)]) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert len(frame) == 4 and "1 rejected" in capsys.readouterr().err
    broken = frame[frame["id"] == "broken.tif"].iloc[0]
    assert broken["reject_reason"] != "" and broken["mask"] == "" and broken["instances_pred"] == ""
    fit = SegmentationFit.load(tmp / "model" / "model.pt")
    expected = segment(fit, make_featurizer(fit.featurizer_spec).featurize([str(p) for p in images], meta=False).X)
    for path, mask in zip(images, expected):
        row = frame[frame["id"] == path.name].iloc[0]
        written = tifffile.imread(out.parent / row["mask"])
        assert written.dtype == np.uint16 and (written == mask).all()
        assert float(row["instances_pred"]) == len(np.unique(mask[mask > 0]))
