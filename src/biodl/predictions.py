"""The prediction table: one long format for every model, split part and task type.

``biodl predict`` and ``biodl baseline`` write it (results/predictions/{experiment}[.baseline].parquet),
``evaluate`` and ``report`` read it. One row per model × split part × item × task (a multiclass
task is one row per item, its class probabilities a list):

    model, split, id, row, task   the model's label (mlp, random_forest), the split part or extra
                                  test set, the item's id and raw record number, the task name
    y_true                        the label, NaN = missing (multiclass: the class index)
    y_pred                        value in target units | probability of class 1 | predicted class
    proba                         multiclass: class probabilities
    y_std, y_std_epistemic, y_std_aleatoric
                                  regression, where the model states σ (total and its parts)
    intervals                     regression: [{level, method, lower, upper}, ...] — conformal
                                  intervals; ``method`` is ``normalized`` (q·σ) or ``absolute`` (q)
    entropy, mutual_info          classifiers: predictive entropy and its epistemic part
    y_pred_uncalibrated, proba_uncalibrated
                                  classifiers: before temperature scaling
    sets                          multiclass: [{level, classes}, ...] — conformal prediction sets
    max_tanimoto                  molecules: Tanimoto similarity (Morgan bits) to the nearest training
                                  molecule
    max_tanimoto_counts           molecules: the same on Morgan counts (Σ min / Σ max), which sees size
    in_domain                     molecules: no descriptor range or element violation and
                                  max_tanimoto_counts ≥ biodl.domain.MIN_COUNT_SIMILARITY (boolean;
                                  <NA> from a model file that predates the ranges)
    domain_reason                 molecules: why not in domain, "" when in ("300 heavy atoms (training 2–45)")

Levels are data (``level`` = 0.9), never parsed back out of a column name. Which of these columns
a model writes is its task's choice (``Task.prediction_columns``); this module builds, writes,
reads and pivots the table. The wide view (:func:`wide`) is that pivot by task — one row per item,
``<task>_<quantity>`` columns — and is what ``biodl predict`` writes for raw inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biodl.uncertainty import PredictionInterval, PredictionSets, level_name

KEYS = ("model", "split", "id", "row", "task")
#: long-table column → suffix of its ``<task>_<suffix>`` column in the wide view
WIDE_SUFFIX = {"y_pred": "pred", "y_std": "std", "y_std_epistemic": "std_epistemic",
               "y_std_aleatoric": "std_aleatoric", "entropy": "entropy", "mutual_info": "mutual_info"}


def long_table(model: str, split: str, ids: np.ndarray, rows: np.ndarray, y_true: np.ndarray, task,
               columns: Sequence[Mapping[str, Any]], per_item: Mapping[str, Any] | None = None):
    """Rows of one model on one split part.

    ``y_true`` (N, T) labels; ``columns`` one mapping per task row of ``task`` (what
    ``task.prediction_columns`` returns), each column a length-N sequence; ``per_item`` columns
    are the same for every task row of an item (max_tanimoto).
    """
    import pandas as pd

    frames = []
    for t, cols in enumerate(columns):
        frame = pd.DataFrame({"model": model, "split": split, "id": ids, "row": rows, "task": task.tasks[t],
                              "y_true": y_true[:, t].astype(np.float64)})
        for name, values in {**cols, **(per_item or {})}.items():
            frame[name] = values
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def frame_for(model: str, split: str, ds, idx: np.ndarray, task, columns: Sequence[Mapping[str, Any]],
              per_item: Mapping[str, Any] | None = None):
    """:func:`long_table` of one model on the rows ``idx`` of the featurized dataset ``ds``."""
    return long_table(model, split, ds.meta["id"].to_numpy()[idx], ds.meta["row"].to_numpy()[idx], ds.y[idx], task,
                      columns, per_item)


def check_finite(values: np.ndarray, what: str) -> None:
    """A model that outputs NaN / inf is one line naming ``what``, not a table of NaN."""
    from biodl.errors import UserError

    if not np.isfinite(values).all():
        raise UserError(f"{what}: {int((~np.isfinite(values)).sum())} predictions are NaN or infinite")


# -- nested columns -------------------------------------------------------------------------------
def nest_intervals(intervals: Sequence[PredictionInterval], t: int) -> list[list[dict]]:
    """Task ``t``'s intervals → the ``intervals`` cell of each item."""
    if not intervals:
        return []
    n = len(intervals[0].lower)
    return [[{"level": float(i.level), "method": i.method, "lower": float(i.lower[r, t]),
              "upper": float(i.upper[r, t])} for i in intervals] for r in range(n)]


def intervals_of(frame) -> list[PredictionInterval]:
    """The ``intervals`` column of rows of one task → intervals with (n,) bounds (rows in order);
    [] where the rows carry none (a baseline)."""
    if "intervals" not in frame or len(frame) == 0:
        return []
    cells = frame["intervals"].tolist()
    if any(cell is None for cell in cells):
        return []
    out = []
    for k, first in enumerate(cells[0]):
        lower = np.array([cell[k]["lower"] for cell in cells], np.float64)
        upper = np.array([cell[k]["upper"] for cell in cells], np.float64)
        out.append(PredictionInterval(float(first["level"]), str(first["method"]), lower, upper))
    return out


def nest_sets(sets: Sequence[PredictionSets]) -> list[list[dict]]:
    """Prediction sets → the ``sets`` cell of each item."""
    if not sets:
        return []
    return [[{"level": float(s.level), "classes": list(s.classes[r])} for s in sets]
            for r in range(len(sets[0].classes))]


def sets_of(frame) -> list[PredictionSets]:
    """The ``sets`` column of rows of one task → prediction sets (a list of classes per row)."""
    if "sets" not in frame or len(frame) == 0:
        return []
    cells = frame["sets"].tolist()
    if any(cell is None for cell in cells):
        return []
    return [PredictionSets(float(first["level"]), [list(cell[k]["classes"]) for cell in cells])
            for k, first in enumerate(cells[0])]


# -- files ----------------------------------------------------------------------------------------
def write(frame, out: str | Path) -> Path:
    """Write the table atomically (complete or absent)."""
    from biodl.io import atomic_file

    with atomic_file(out) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(out)


def read(paths: Sequence[str | Path]):
    """Prediction files (a model's and its baseline's) → one table."""
    import pandas as pd

    return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)


# -- the wide view --------------------------------------------------------------------------------
def wide(long) -> dict[str, Any]:
    """Pivot one model's rows on one set of items by task → ``{column: values per item}``.

    ``<task>_pred`` / ``_std`` (+ ``_epistemic`` / ``_aleatoric``) / ``_entropy`` /
    ``_mutual_info`` / ``_lower_<L>`` / ``_upper_<L>`` (the model's own interval at level L %)
    per task; ``proba_<c>``, ``set_<L>`` (a list of classes) and ``max_tanimoto`` once per item.
    Uncalibrated probabilities and labels stay in the long table.
    """
    columns: dict[str, Any] = {}
    first = None
    for task, sub in long.groupby("task", sort=False):
        first = sub if first is None else first
        if "proba" in sub:
            proba = np.stack(sub["proba"].to_numpy())
            columns.update({f"proba_{c}": proba[:, c] for c in range(proba.shape[1])})
        for column, suffix in WIDE_SUFFIX.items():
            if column in sub:
                columns[f"{task}_{suffix}"] = sub[column].to_numpy()
        intervals = intervals_of(sub)
        own = {i.level: i for i in intervals if i.method == "absolute"}
        own.update({i.level: i for i in intervals if i.method == "normalized"})
        for level, interval in own.items():
            columns[f"{task}_lower_{level_name(level)}"] = interval.lower
            columns[f"{task}_upper_{level_name(level)}"] = interval.upper
        columns.update({f"set_{level_name(s.level)}": s.classes for s in sets_of(sub)})
    if first is not None and "max_tanimoto" in first:
        columns["max_tanimoto"] = first["max_tanimoto"].to_numpy()
    return columns
