"""Stage 4, predict: model + features + split → results/predictions/{experiment}.parquet, and
``biodl predict`` on raw inputs (a user's CSV / FASTA / image folder) → a CSV.

Predictions carry the model's uncertainty (σ and its parts, calibrated intervals or sets) and, for
molecules, the similarity to the training set; the table's layout is :mod:`biodl.predictions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from biodl.errors import UserError
from biodl.graphs import in_memory
from biodl.stages.split import PARTS, positions


def check_features_fit(model, ds, where: str) -> None:
    """One line when the features were not made by the model's featurizer, or have another shape."""
    made_by = ds.manifest.get("featurizer")
    if model.featurizer_spec and made_by != model.featurizer_spec:
        raise UserError(f"{where}: features made by {made_by}, the model reads features made by "
                        f"{model.featurizer_spec}")
    check_shape(model, ds.X, where)


def check_shape(model, X: np.ndarray, where: str) -> None:
    """One line, rather than a torch shape error deep in a layer, when items are not the model's shape."""
    if tuple(X.shape[1:]) != tuple(model.input_shape):
        raise UserError(f"{where}: features of shape {tuple(X.shape[1:])} per item, the model reads "
                        f"{tuple(model.input_shape)}")


def predict_experiment(name: str, model_path: str | Path, features: str | Path, split_path: str | Path,
                       out: str | Path, *, test_sets: Mapping[str, str | Path] | None = None) -> None:
    """Predictions of the trained model on every split part and on each extra test set, with its
    uncertainty (σ components, calibrated intervals or sets) and, for molecules, the applicability
    domain (:func:`biodl.domain.assess`: similarity to the training set, range violations)."""
    import pandas as pd

    from biodl import predictions
    from biodl.dataset import load_dataset
    from biodl.domain import assess
    from biodl.segmentation import is_segmenter
    from biodl.splits import load_split
    from biodl.train import TrainedModel
    from biodl.uncertainty import predict_with_uncertainty

    if is_segmenter(model_path):
        return _predict_segmenter(name, model_path, features, split_path, out, test_sets or {})
    model = TrainedModel.load(model_path)
    label = model.model_spec["type"]
    split = load_split(split_path)
    sources = [(p, load_dataset(features), features, True) for p in PARTS]
    sources += [(n, load_dataset(path), path, False) for n, path in (test_sets or {}).items()]
    frames = []
    for part, ds, path, split_part in sources:
        check_features_fit(model, ds, str(path))
        idx = positions(ds, split, str(split_path))[part] if split_part else np.arange(len(ds))
        result = predict_with_uncertainty(model, in_memory(ds.X[idx]))
        predictions.check_finite(result["pred"], f"experiment {name!r} ({part})")
        if "sigma" in result:
            predictions.check_finite(result["sigma"], f"experiment {name!r} ({part}) uncertainty")
        per_item = {}
        if model.domain:
            per_item.update(assess(model.domain, ds.meta["input"].to_numpy()[idx].tolist()))
        frames.append(predictions.frame_for(label, part, ds, idx, model.task, model.task.prediction_columns(result),
                                            per_item))
    predictions.write(pd.concat(frames, ignore_index=True), out)


def _predict_segmenter(name: str, model_path, features, split_path, out, test_sets: Mapping) -> None:
    """Instance masks of every image of each split part and extra test set, beside the true ones,
    one row per image (:meth:`biodl.tasks.Segmentation.frame`)."""
    import pandas as pd

    from biodl import predictions
    from biodl.dataset import load_dataset
    from biodl.device import resolve_device
    from biodl.segmentation import SegmentationFit, segment
    from biodl.splits import load_split
    from biodl.tasks import Segmentation

    fit = SegmentationFit.load(model_path, device=resolve_device("auto"))
    task = Segmentation([Segmentation.TASK])
    split = load_split(split_path)
    sources = [(p, load_dataset(features), features, True) for p in PARTS]
    sources += [(n, load_dataset(path), path, False) for n, path in test_sets.items()]
    frames = []
    for part, ds, path, split_part in sources:
        made_by = ds.manifest.get("featurizer")
        if fit.featurizer_spec and made_by != fit.featurizer_spec:
            raise UserError(f"{path}: features made by {made_by}, the model reads features made by "
                            f"{fit.featurizer_spec}")
        if ds.masks is None:
            raise UserError(f"{path}: no instance masks to score the segmentation against (give its images "
                            "source a masks: folder)")
        idx = positions(ds, split, str(split_path))[part] if split_part else np.arange(len(ds))
        frames.append(task.frame(fit.net.name, part, ds, idx, segment(fit, ds.X[idx])))
    predictions.write(pd.concat(frames, ignore_index=True), out)


def predict_raw(model_path: str | Path, source: Mapping, out: str | Path, *, n_jobs: int = 1):
    """Featurize raw inputs with the model's own featurizer spec and predict.

    The output CSV (the wide view of the prediction table) has one row per input record, keyed by
    id: predictions and the model's uncertainty for records that featurized, an empty prediction
    and the reason for those that did not; for molecule models the applicability-domain columns
    of every record (unparseable: NaN, ``in_domain`` False). Returns the output as a pandas DataFrame.
    """
    import pandas as pd

    from biodl import predictions
    from biodl.domain import assess
    from biodl.io import atomic_file
    from biodl.segmentation import is_segmenter
    from biodl.train import TrainedModel
    from biodl.uncertainty import predict_with_uncertainty

    if is_segmenter(model_path):
        return _segment_raw(model_path, source, out, n_jobs=n_jobs)
    model = TrainedModel.load(model_path)
    table, rows, result, reasons = _featurize_raw(model.featurizer_spec, model_path, source, n_jobs)
    frame = pd.DataFrame({"id": table.ids, "input": [str(x) if x is not None else "" for x in table.inputs]})
    columns = {}
    if len(result.X):
        check_shape(model, result.X, f"{model_path}: its featurizer's output")
        outputs = predict_with_uncertainty(model, in_memory(result.X))
        unlabelled = np.full((len(rows), len(model.tasks)), np.nan)
        long = predictions.long_table(model.model_spec["type"], "input", np.asarray(table.ids, object)[rows], rows,
                                      unlabelled, model.task, model.task.prediction_columns(outputs))
        columns = predictions.wide(long)
    for col, values in columns.items():
        if isinstance(values, list):
            full = [""] * len(table)
            for r, v in zip(rows, values):
                full[r] = " ".join(map(str, v))
        else:
            full = np.full(len(table), np.nan)
            full[rows] = values
        frame[col] = full
    # every record, rejected ones too: "why is this not predicted" and "is it like training" are
    # separate questions, and the domain columns mix types that the loop above would turn into NaN
    for col, values in (assess(model.domain, list(table.inputs)) if model.domain else {}).items():
        frame[col] = values
    frame["reject_reason"] = [reasons.get(i, "") for i in range(len(table))]
    with atomic_file(out) as tmp:
        frame.to_csv(tmp, index=False)
    return frame


def _featurize_raw(featurizer_spec, model_path, source: Mapping, n_jobs: int):
    """Raw inputs featurized with a model's own featurizer: (the source's table, the table rows that
    featurized, the featurizer's result, {table row: reject reason} of the others)."""
    from biodl.featurizers import make_featurizer
    from biodl.sources import read_source

    if not featurizer_spec:
        raise UserError(f"{model_path}: the model file carries no featurizer spec; predict from features instead")
    table = read_source(source)
    reasons = {r.index: r.reason for r in table.rejects}
    candidates = np.array([i for i in range(len(table)) if i not in reasons], np.int64)
    result = make_featurizer(featurizer_spec, n_jobs=n_jobs).featurize([table.inputs[i] for i in candidates],
                                                                      meta=False)
    reasons.update({int(candidates[r.index]): r.reason for r in result.rejects})
    return table, candidates[result.kept], result, reasons


def masks_folder(out: str | Path) -> Path:
    """Where ``biodl predict`` with a segmentation model writes the masks: beside the CSV, named after it."""
    out = Path(out)
    return out.with_name(out.stem + "_masks")


def _segment_raw(model_path, source: Mapping, out, *, n_jobs: int = 1):
    """A segmentation model on a folder of images: one instance mask per image (16-bit TIFF, 0 =
    background, 1..n = cells; 32-bit past 65,535 cells) in :func:`masks_folder`, and a CSV row per
    image — id, input, ``instances_pred`` (cells found), ``mask`` (its file, relative to the CSV's
    folder), ``reject_reason``. Images that do not featurize are rejects with their reason."""
    import pandas as pd
    import tifffile

    from biodl.io import atomic_dir, atomic_file
    from biodl.segmentation import SegmentationFit, segment

    fit = SegmentationFit.load(model_path)
    table, rows, result, reasons = _featurize_raw(fit.featurizer_spec, model_path, source, n_jobs)
    masks = segment(fit, result.X) if len(rows) else []
    folder = masks_folder(out)
    counts = np.full(len(table), np.nan)
    files = [""] * len(table)
    with atomic_dir(folder) as tmp:
        for row, mask in zip(rows, masks):
            name = f"{Path(str(table.ids[row])).stem}.tif"
            dtype = np.uint16 if mask.max(initial=0) < 2 ** 16 else np.uint32
            tifffile.imwrite(tmp / name, mask.astype(dtype))
            counts[row] = len(np.unique(mask[mask > 0]))
            files[row] = f"{folder.name}/{name}"
    frame = pd.DataFrame({"id": table.ids, "input": [str(x) if x is not None else "" for x in table.inputs],
                          "instances_pred": counts, "mask": files,
                          "reject_reason": [reasons.get(i, "") for i in range(len(table))]})
    with atomic_file(out) as tmp:
        frame.to_csv(tmp, index=False)
    return frame
