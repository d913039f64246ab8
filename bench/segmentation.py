"""Cell segmentation (issue 13): a U-Net against the classical pipeline and the count-regression CNN,
on the same simulated BBBC005-style images and scene-grouped splits (a script, not a test).

    python bench/segmentation.py [--seeds 2] [--epochs 40] [--cnn-epochs 150]
        [--json bench/results/segmentation.json] [--figures bench/results]

Per seed: ``simulate_cells`` (30 counts × 3 sites × blur F1, F10, F23, F48, 128 px, instance masks in
``ground_truth/``), featurized by the product's ``image`` featurizer; scenes (count, site) split 70 /
15 / 15 at random, every blur level of a scene in one part. Then, on the same parts:

* U-Net (``biodl.segmentation.fit_unet``): random 96-px crops, flips, rotations; early stopping on
  the validation loss; the two instance thresholds chosen on validation object F1;
* classical pipeline (``biodl.instances.watershed_instances``: smoothing, Otsu, distance-transform
  watershed), its smoothing and seed distance chosen on validation object F1;
* count-regression CNN (the ``cells_cnn_count`` experiment's model and training, ``biodl.train.fit``).

Scored on test images only: object precision / recall / F1 and AP at IoU 0.5 ... 0.9 (StarDist /
Cellpose definitions), pixel IoU and Dice, F1 per blur level, count MAE (instances counted for the two
segmenters, the regression's rounded output for the CNN). Last, the fitted U-Net predicts a
2,048 × 2,048 mosaic by overlapping tiles: wall time and peak memory growth (goal < 10 s, < 1.5 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from featurize import PeakRSS, machine  # noqa: E402

BLURS = (1, 10, 23, 48)


def load(folder: Path, seed: int):
    import tifffile

    from biodl.bbbc005 import bbbc005_name, parse_bbbc005_name, scene_key
    from biodl.dataset import featurize_source
    from biodl.simulate import GROUND_TRUTH, simulate_cells

    simulate_cells(folder / "cells", blurs=BLURS, seed=seed)
    ds = featurize_source({"format": "images", "path": str(folder / "cells"), "labels": "bbbc005",
                           "targets": ["count"]}, {"type": "image", "size": [128, 128]}, folder / "features",
                          progress=False)
    names = ds.meta["id"].astype(str).tolist()
    info = [parse_bbbc005_name(n) for n in names]
    masks = [tifffile.imread(folder / "cells" / GROUND_TRUTH / bbbc005_name(i["count"], 1, i["site"], i["stain"]))
             for i in info]
    scenes = np.array([scene_key(n) for n in names])
    blur = np.array([i["blur"] for i in info])
    return np.asarray(ds.X), ds.y.astype(np.float32), masks, scenes, blur


def split_scenes(scenes: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    unique = np.unique(scenes)
    order = np.random.default_rng(seed).permutation(len(unique))
    n_train, n_valid = round(0.7 * len(unique)), round(0.15 * len(unique))
    parts = {"train": unique[order[:n_train]], "valid": unique[order[n_train:n_train + n_valid]],
             "test": unique[order[n_train + n_valid:]]}
    return {k: np.flatnonzero(np.isin(scenes, v)) for k, v in parts.items()}


def scores(truths, preds, blur):
    from biodl.instances import segmentation_scores

    out = segmentation_scores(truths, preds)
    result = {"f1_05": out["objects"][0.5]["f1"], "precision_05": out["objects"][0.5]["precision"],
              "recall_05": out["objects"][0.5]["recall"],
              "ap": {str(t): v["average_precision"] for t, v in out["objects"].items()},
              "pixel_iou": out["pixel_iou"], "dice": out["dice"], "count_mae": out["count_mae"],
              "f1_by_blur": {}}
    for b in BLURS:
        idx = np.flatnonzero(blur == b)
        result["f1_by_blur"][str(b)] = segmentation_scores([truths[i] for i in idx], [preds[i] for i in idx],
                                                           thresholds=(0.5,))["objects"][0.5]["f1"]
    return result


def classical(X, masks, parts):
    """The workflow's segmentation baseline (biodl.baselines.ClassicalWatershed): its smoothing and
    seed distance chosen on the validation images."""
    from biodl.baselines import make_baseline

    baseline = make_baseline({"type": "classical_watershed"}, task_type="segmentation", seed=0)
    baseline.fit(X[parts["train"]], [masks[i] for i in parts["train"]], X[parts["valid"]],
                 [masks[i] for i in parts["valid"]])
    return baseline.predict(X[parts["test"]]), {"smooth": baseline.smooth_, "min_distance": baseline.min_distance_}


def count_cnn(X, y, parts, seed, epochs):
    from biodl.train import fit

    spec = {"type": "cnn2d", "channels": [16, 32, 64, 128], "kernel_size": 3, "stride": 2, "dropout": 0.1}
    model, history = fit(spec, X[parts["train"]], y[parts["train"]], X[parts["valid"]], y[parts["valid"]],
                         task_type="regression", tasks=["count"],
                         config={"epochs": epochs, "batch_size": 16, "lr": 0.001, "patience": 25, "seed": seed})
    return model.predict(X[parts["test"]])[:, 0], len(history)


def tiled_speed(net_fit, X):
    from biodl.segmentation import segment

    mosaic = np.tile(X[0], (1, 16, 16))  # 2,048 × 2,048
    segment(net_fit, [X[0]])  # one-time costs apart
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        labels = segment(net_fit, [mosaic])[0]
        seconds = time.perf_counter() - t0
    return {"shape": list(mosaic.shape[-2:]), "seconds": round(seconds, 2), "peak_mib": round(mem.peak / 2**20),
            "objects": int(labels.max())}


def figures(folder: Path, images, truths, unet_pred, classical_pred, true_counts, cnn_counts) -> None:
    """The U-Net's best, median and worst test images by object F1 at IoU 0.5 (image, truth and
    prediction outlines), and the count parity of the three methods, as PNG files."""
    import base64

    from biodl.instances import match, n_objects
    from biodl.report.plots import count_parity, segmentation_overlays

    f1 = np.array([match(t, p, (0.5,))[0.5].f1 for t, p in zip(truths, unet_pred)])
    order = np.argsort(f1, kind="stable")
    picks = [("best", order[-1]), ("median", order[len(order) // 2]), ("worst", order[0])]
    rows = [(f"{name}, F1 {f1[i]:.2f}", images[i], truths[i], unet_pred[i]) for name, i in picks]
    counts = [("U-Net instances", [n_objects(p) for p in unet_pred]),
              ("classical watershed", [n_objects(p) for p in classical_pred]),
              ("count-regression CNN", np.rint(cnn_counts))]
    folder.mkdir(parents=True, exist_ok=True)
    for name, uri in (("segmentation_overlays.png", segmentation_overlays(rows)),
                      ("segmentation_counts.png", count_parity(true_counts, counts))):
        (folder / name).write_bytes(base64.b64decode(uri.split(",", 1)[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--cnn-epochs", type=int, default=150, help="the cells_cnn_count experiment's 150")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--figures", type=Path, help="folder for the overlay and count-parity PNGs (seed 0)")
    args = parser.parse_args()
    import torch

    from biodl.device import limit_threads
    from biodl.segmentation import fit_unet, segment

    limit_threads(2)
    print(f"machine: {machine()}; load {os.getloadavg()[0]:.2f}; torch threads {torch.get_num_threads()}", flush=True)
    runs, speed = [], None
    for seed in range(args.seeds):
        t_seed = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            X, y, masks, scenes, blur = load(Path(tmp), seed)
        parts = split_scenes(scenes, seed)
        test_masks = [masks[i] for i in parts["test"]]
        t0 = time.perf_counter()
        fit = fit_unet(X[parts["train"]], [masks[i] for i in parts["train"]], X[parts["valid"]],
                       [masks[i] for i in parts["valid"]], epochs=args.epochs, seed=seed,
                       log=lambda line: print(f"  seed {seed} U-Net {line}", flush=True))
        unet_s = time.perf_counter() - t0
        unet_pred = segment(fit, list(X[parts["test"]]))
        classical_pred, chosen = classical(X, masks, parts)
        t0 = time.perf_counter()
        cnn_counts, cnn_epochs = count_cnn(X, y, parts, seed, args.cnn_epochs)
        cnn_s = time.perf_counter() - t0
        true_counts = y[parts["test"], 0]
        run = {"seed": seed, "n_images": {k: len(v) for k, v in parts.items()},
               "unet": {**scores(test_masks, unet_pred, blur[parts["test"]]), "train_s": round(unet_s, 1),
                        "best_epoch": fit.best_epoch, "thresholds": [fit.foreground, fit.interior]},
               "classical": {**scores(test_masks, classical_pred, blur[parts["test"]]), "chosen": chosen},
               "count_cnn": {"count_mae": float(np.abs(np.rint(cnn_counts) - true_counts).mean()),
                             "count_mae_unrounded": float(np.abs(cnn_counts - true_counts).mean()),
                             "train_s": round(cnn_s, 1), "epochs": cnn_epochs}}
        runs.append(run)
        print(f"seed {seed} ({time.perf_counter() - t_seed:.0f} s): F1@0.5 U-Net {run['unet']['f1_05']:.3f} "
              f"classical {run['classical']['f1_05']:.3f}; F1 at F48 U-Net {run['unet']['f1_by_blur']['48']:.3f} "
              f"classical {run['classical']['f1_by_blur']['48']:.3f}; count MAE U-Net {run['unet']['count_mae']:.2f} "
              f"classical {run['classical']['count_mae']:.2f} CNN {run['count_cnn']['count_mae']:.2f}", flush=True)
        if seed == 0 and args.figures:
            figures(args.figures, X[parts["test"]], test_masks, unet_pred, classical_pred, true_counts, cnn_counts)
        if speed is None:
            speed = tiled_speed(fit, X)
            print(f"tiled prediction of a {speed['shape']} mosaic: {speed['seconds']} s, +{speed['peak_mib']} MiB",
                  flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": runs, "tiled": speed, "epochs": args.epochs, "machine": machine(),
                                         "load_end": round(os.getloadavg()[0], 2)}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
