"""Stage 5, evaluate: prediction tables + split → results/metrics/{experiment}.json.

Metrics per model × split part (and extra test set) × task, the deep model and its baseline side
by side, with the split's method, seed, sizes and leakage audit and, from the model manifest,
what the search selected. Which metrics, and how uncertainty is scored, is the task class's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from biodl.errors import UserError
from biodl.stages.split import PARTS


def evaluate_experiment(name: str, predictions: list[str | Path], split_path: str | Path, out: str | Path,
                        *, task_type: str | None = None, model_manifest: str | Path | None = None) -> dict:
    """Score the prediction tables and write deterministic JSON (sorted keys, no NaN). Returns it."""
    from biodl import predictions as table
    from biodl.io import write_text
    from biodl.splits import load_split
    from biodl.tasks import task_class, task_type_of_table

    frame = table.read(predictions)
    task_type = task_type or task_type_of_table(frame)
    task = task_class(task_type)(list(dict.fromkeys(frame["task"])))
    split = load_split(split_path)
    result: dict[str, Any] = {
        "experiment": name, "task_type": task_type,
        "split": {k: split.get(k) for k in ("method", "seed", "sizes", "audit", "params", "dataset")},
        "models": {},
    }
    order = {p: i for i, p in enumerate(PARTS)}
    for model_name, by_model in frame.groupby("model", sort=True):
        scores = {}
        for part in sorted(by_model["split"].unique(), key=lambda p: (order.get(p, 99), p)):
            sub = by_model[by_model["split"] == part]
            y_true, y_pred, tasks = task.arrays_from_table(sub)
            try:
                scores[part] = task.score(y_true, y_pred, tasks=tasks)
            except UserError as exc:
                raise UserError(f"experiment {name!r}, model {model_name}, {part}: {exc}") from None
            uncertainty = task.scores_by_task(sub)
            if uncertainty:
                scores[part]["uncertainty"] = uncertainty
        result["models"][model_name] = scores
    if model_manifest:
        manifest = json.loads(Path(model_manifest).read_text())
        result["selection"] = {k: manifest.get(k) for k in ("selected_trial", "selected_overrides", "n_trials")}
        result["selection"]["valid_score"] = {k: v for k, v in manifest.items() if k.startswith("valid_")}
        result["deep_model"] = manifest["model_spec"]["type"]
    write_text(out, json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return result
