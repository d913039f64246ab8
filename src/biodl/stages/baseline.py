"""Stage 4b, baseline: features + split → results/predictions/{experiment}.baseline.parquet.

The experiment's non-deep baseline (:mod:`biodl.baselines`), trained on the same split as the
deep model and written in the same prediction table, so evaluate scores both side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from biodl.stages.split import PARTS, positions


def baseline_experiment(name: str, experiment: Mapping, features: str | Path, split_path: str | Path,
                        out: str | Path, *, test_sets: Mapping[str, str | Path] | None = None,
                        seed: int = 0, n_jobs: int = 1) -> None:
    """Train the experiment's non-deep baseline on the same split and write its predictions."""
    import pandas as pd

    from biodl import predictions
    from biodl.baselines import make_baseline
    from biodl.dataset import load_dataset
    from biodl.splits import load_split
    from biodl.tasks import infer_task_type, make_task
    from biodl.train import derive_seed

    ds = load_dataset(features, mmap=False)
    split = load_split(split_path)
    pos = positions(ds, split, str(split_path))
    task_type = experiment.get("task") or infer_task_type(ds.y)
    spec = experiment["baseline"]
    baseline = make_baseline(spec, task_type=task_type, seed=derive_seed(seed, name, "baseline"), n_jobs=n_jobs)
    task = make_task(task_type, ds.tasks)
    if task.pixelwise:
        return _segmentation_baseline(name, baseline, spec, ds, pos, out, test_sets or {})
    baseline.fit(ds.X[pos["train"]], ds.y[pos["train"]], ds.X[pos["valid"]], ds.y[pos["valid"]])
    sources = [(part, ds, pos[part]) for part in PARTS]
    for test_name, path in (test_sets or {}).items():
        other = load_dataset(path, mmap=False)
        sources.append((test_name, other, np.arange(len(other))))
    frames = []
    for part, data, idx in sources:
        pred = baseline.predict(data.X[idx])
        predictions.check_finite(pred, f"experiment {name!r} baseline ({part})")
        task = make_task(task_type, data.tasks)
        frames.append(predictions.frame_for(spec["type"], part, data, idx, task, task.point_columns(pred)))
    predictions.write(pd.concat(frames, ignore_index=True), out)


def _segmentation_baseline(name, baseline, spec, ds, pos, out, test_sets) -> None:
    """A segmentation baseline: fitted on the masks (settings chosen on validation), masks predicted
    for every part, rows as the U-Net's (:meth:`biodl.tasks.Segmentation.frame`)."""
    import pandas as pd

    from biodl import predictions
    from biodl.dataset import load_dataset
    from biodl.errors import UserError
    from biodl.tasks import Segmentation

    if ds.masks is None:
        raise UserError(f"experiment {name!r}: the segmentation baseline needs instance masks (images source masks:)")
    task = Segmentation([Segmentation.TASK])
    baseline.fit(ds.X[pos["train"]], ds.masks[pos["train"]], ds.X[pos["valid"]], ds.masks[pos["valid"]])
    sources = [(part, ds, pos[part]) for part in PARTS]
    for test_name, path in test_sets.items():
        other = load_dataset(path, mmap=False)
        if other.masks is None:
            raise UserError(f"{path}: no instance masks to score the segmentation baseline against")
        sources.append((test_name, other, np.arange(len(other))))
    frames = [task.frame(spec["type"], part, data, idx, baseline.predict(data.X[idx])) for part, data, idx in sources]
    predictions.write(pd.concat(frames, ignore_index=True), out)
