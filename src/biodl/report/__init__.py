"""HTML reports: one self-contained page per experiment and an index that ranks them.

``write_experiment_report`` reads what the earlier stages wrote — metrics JSON, predictions
parquet(s), the model directory (manifest, history.csv, search.csv), the split JSON and the
featurized dataset (manifest, meta, X for image thumbnails) — and renders
``templates/experiment.html.j2``; figures are embedded as PNG data URIs, so the page works offline
and can be mailed as one file. ``write_index`` ranks every experiment of a run beside its baseline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biodl.errors import UserError

TEMPLATES = Path(__file__).parent / "templates"
PARTS_ORDER = ("train", "valid", "test")
N_UNCERTAIN = 12


def _env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)
    return env


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{float(value):.{digits}f}"


def _read_json(path: str | Path, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"report: {what} not found: {path}")
    return json.loads(path.read_text())


def _read_csv(path: Path):
    import pandas as pd

    return pd.read_csv(path) if path.is_file() else None


def _primary(task_type: str) -> tuple[str, bool]:
    return _task_class(task_type).primary()


def _metric_rows(metrics: dict) -> tuple[list[str], list[dict]]:
    """One row per model × part with every mean metric (deep model first)."""
    deep = metrics.get("deep_model")
    names: list[str] = []
    rows = []
    models = sorted(metrics["models"], key=lambda m: (m != deep, m))
    for model in models:
        for part, scores in metrics["models"][model].items():
            for name in scores["mean"]:
                if name not in names:
                    names.append(name)
            rows.append({"model": model, "deep": model == deep, "part": part, "mean": scores["mean"],
                         "n": sum(scores["n"].values())})
    return names, rows


def _uncertainty_rows(metrics: dict) -> list[dict]:
    deep = metrics.get("deep_model")
    rows = []
    for model, parts in sorted(metrics["models"].items(), key=lambda kv: (kv[0] != deep, kv[0])):
        for part, scores in parts.items():
            for task, u in (scores.get("uncertainty") or {}).items():
                rows.append({"model": model, "part": part, "task": task, **u})
    return rows


def _frame_for(predictions, model: str, part: str, task: str | None = None):
    sub = predictions[(predictions["model"] == model) & (predictions["split"] == part)]
    if task is not None:
        sub = sub[sub["task"] == task]
    return sub[sub["y_true"].notna()]


# -- figures: each task class names its sections (Task.report_sections) --------------------------
def _parity(ctx: dict) -> list[dict]:
    """Parity plot (deep model and baseline), and where the model states σ its calibration curve
    and error against σ."""
    from biodl.report import plots

    d, b, task, suffix = ctx["deep_rows"], ctx["base_rows"], ctx["task"], ctx["suffix"]
    y, pred = d["y_true"].to_numpy(), d["y_pred"].to_numpy()
    sigma = d["y_std"].to_numpy() if "y_std" in d and d["y_std"].gt(0).all() else None
    figures = [{"title": f"Parity{suffix}", "uri": plots.parity(
        y, pred, sigma, b["y_true"].to_numpy() if b is not None else None,
        b["y_pred"].to_numpy() if b is not None else None, task, ctx["deep"], ctx["base"])}]
    if sigma is not None:
        figures.append({"title": f"Calibration curve{suffix}", "uri": plots.regression_calibration(y, pred, sigma)})
        figures.append({"title": f"Error vs σ{suffix}", "uri": plots.error_vs_sigma(y, pred, sigma)})
    return figures


def _roc_pr(ctx: dict) -> list[dict]:
    from biodl.report import plots

    d, b = ctx["deep_rows"], ctx["base_rows"]
    curves = [(ctx["deep"], d["y_true"].to_numpy(), d["y_pred"].to_numpy())]
    if b is not None:
        curves.append((ctx["base"], b["y_true"].to_numpy(), b["y_pred"].to_numpy()))
    return [{"title": f"ROC and precision-recall{ctx['suffix']}", "uri": plots.roc_pr(curves)}]


def _domain(ctx: dict) -> list[dict]:
    from biodl.report import plots

    d = ctx["deep_rows"]
    if "max_tanimoto" not in d or d["max_tanimoto"].notna().sum() <= 2:
        return []
    error = np.abs(d["y_true"].to_numpy() - d["y_pred"].to_numpy())
    return [{"title": f"Applicability domain{ctx['suffix']}",
             "uri": plots.error_vs_similarity(d["max_tanimoto"].to_numpy(), error)}]


def _reliability(ctx: dict) -> list[dict]:
    from biodl.report import plots

    metrics, deep, base, task = ctx["metrics"], ctx["deep"], ctx["base"], ctx["task"]
    u = metrics["models"][deep].get("test", {}).get("uncertainty", {}).get(str(task), {})
    variants = [(f"{deep} (calibrated)" if "uncalibrated" in u else deep, u.get("reliability", []))]
    if base:
        bu = metrics["models"][base].get("test", {}).get("uncertainty", {}).get(str(task), {})
        variants.append((base, bu.get("reliability", [])))
    return [{"title": f"Reliability diagram{ctx['suffix']}", "uri": plots.reliability(variants)}]


def _confusion(ctx: dict) -> list[dict]:
    """The test confusion matrix of the deep model: from the metrics where they hold one (class
    rows), else from the first task's thresholded probabilities."""
    from biodl.report import plots

    matrix = ctx["metrics"]["models"][ctx["deep"]].get("test", {}).get("confusion_matrix")
    labels = None
    hard_labels = getattr(ctx["task_class"], "hard_labels", None)
    if matrix is None and hard_labels is None:
        return []
    if matrix is None:
        from sklearn.metrics import confusion_matrix

        d = _frame_for(ctx["predictions"], ctx["deep"], "test", ctx["tasks"][0])
        hard = hard_labels(d["y_pred"].to_numpy())
        matrix = confusion_matrix(d["y_true"].astype(int), hard, labels=[0, 1]).tolist()
        labels = ["0", "1"]
    labels = labels or [str(i) for i in range(len(matrix))]
    return [{"title": "Confusion matrix", "uri": plots.confusion(matrix, labels)}]


#: per-task figures, drawn for each of the first tasks, and figures of the whole model
SECTIONS = {"parity": _parity, "roc_pr": _roc_pr, "domain": _domain, "reliability": _reliability}
MODEL_SECTIONS = {"confusion": _confusion}


def _figures(metrics: dict, predictions, history, monitor: str | None) -> list[dict]:
    from biodl.report import plots
    from biodl.tasks import task_class

    figures = []
    task_cls = task_class(metrics["task_type"])
    deep = metrics.get("deep_model")
    baselines = [m for m in metrics["models"] if m != deep]
    base = baselines[0] if baselines else None
    if history is not None and monitor and f"valid_{monitor}" in history:
        figures.append({"title": "Learning curve", "uri": plots.learning_curve(history, monitor)})
    tasks = list(dict.fromkeys(predictions["task"]))
    ctx = {"metrics": metrics, "predictions": predictions, "deep": deep, "base": base, "tasks": tasks,
           "task_class": task_cls}
    for task in tasks[:4]:  # a page, not a catalogue: the first tasks of a multitask model
        d = _frame_for(predictions, deep, "test", task)
        if len(d) == 0:
            continue
        ctx.update({"task": task, "deep_rows": d, "suffix": f" — {task}" if len(tasks) > 1 else "",
                    "base_rows": _frame_for(predictions, base, "test", task) if base else None})
        for section in task_cls.report_sections:
            if section in SECTIONS:
                figures += SECTIONS[section](ctx)
    for section in task_cls.report_sections:
        if section in MODEL_SECTIONS:
            figures += MODEL_SECTIONS[section](ctx)
    return figures


def _uncertain_items(metrics: dict, predictions, features: Path | None) -> tuple[str, list[dict]]:
    """The test items the deep model is least sure about, with their input (SMILES, sequence or
    image thumbnail)."""
    from biodl.report import plots

    deep = metrics.get("deep_model")
    d = _frame_for(predictions, deep, "test")
    if len(d) == 0:
        return "", []
    if "y_std" in d and d["y_std"].gt(0).any():
        key, label = "y_std", "σ"
    elif "entropy" in d:
        key, label = "entropy", "entropy"
    else:
        return "", []
    top = d.sort_values([key, "row"], ascending=[False, True], kind="stable").drop_duplicates("row").head(N_UNCERTAIN)
    meta = X = None
    if features is not None and (features / "meta.parquet").is_file():
        import pandas as pd

        meta = pd.read_parquet(features / "meta.parquet")
        position = {int(r): i for i, r in enumerate(meta["row"])}
        if (features / "X.npy").is_file():
            X = np.load(features / "X.npy", mmap_mode="r")
    items = []
    for _, r in top.iterrows():
        item = {"id": r["id"], "task": r["task"], "y_true": r["y_true"], "y_pred": r["y_pred"], "u": r[key],
                "similarity": r.get("max_tanimoto"), "input": "", "thumbnail": None}
        if meta is not None and int(r["row"]) in position:
            i = position[int(r["row"])]
            text = str(meta["input"].iloc[i])
            if X is not None and X.ndim == 4:
                item["thumbnail"] = plots.image_thumbnail(np.asarray(X[i]))
                text = Path(text).name
            item["input"] = text if len(text) <= 120 else text[:117] + "..."
        items.append(item)
    return label, items


def write_experiment_report(name: str, metrics_path: str | Path, predictions: Sequence[str | Path],
                            out: str | Path, *, model_dir: str | Path | None = None,
                            split_path: str | Path | None = None, features: str | Path | None = None,
                            experiment: Mapping | None = None) -> Path:
    """Render the self-contained HTML report of one experiment. Returns its path."""
    import pandas as pd

    metrics = _read_json(metrics_path, "metrics file")
    frames = []
    for p in predictions:
        if not Path(p).is_file():
            raise UserError(f"report: predictions file not found: {p}")
        frames.append(pd.read_parquet(p))
    preds = pd.concat(frames, ignore_index=True)
    model_dir = Path(model_dir) if model_dir else None
    manifest = _read_json(model_dir / "manifest.json", "model manifest") if model_dir else {}
    history = _read_csv(model_dir / "history.csv") if model_dir else None
    search = _read_csv(model_dir / "search.csv") if model_dir else None
    split = _read_json(split_path, "split file") if split_path else metrics.get("split", {})
    features = Path(features) if features else None
    data = _read_json(features / "manifest.json", "features manifest") if features else {}
    monitor = (manifest.get("info") or {}).get("monitor")
    metric_names, metric_rows = _metric_rows(metrics)
    primary, greater = _primary(metrics["task_type"])
    unc_label, uncertain = _uncertain_items(metrics, preds, features)
    context = {
        "name": name, "metrics": metrics, "experiment": dict(experiment or {}), "manifest": manifest,
        "data": data, "split": split, "metric_names": metric_names, "metric_rows": metric_rows,
        "primary": primary, "greater": greater, "uncertainty_rows": _uncertainty_rows(metrics),
        "figures": _figures(metrics, preds, history, monitor),
        "search": search.to_dict("records") if search is not None else [],
        "search_columns": list(search.columns) if search is not None else [],
        "uncertain_label": unc_label, "uncertain": uncertain,
        "headline": _headline(metrics),
        "uncertainty_table": _task_class(metrics["task_type"]).uncertainty_table,
    }
    return _write_page(_env().get_template("experiment.html.j2").render(**context), out)


def _task_class(task_type: str):
    from biodl.tasks import task_class

    return task_class(task_type)


def _write_page(html: str, out: str | Path) -> Path:
    """Write atomically: a page is complete or absent."""
    from biodl.io import write_text

    return write_text(out, html)


def _headline(metrics: dict) -> dict:
    """Test score of the deep model and of the best baseline on the primary metric, and the key
    uncertainty numbers of the deep model on test (coverage at 90 %, ECE)."""
    from biodl.metrics import is_better

    primary, greater = _primary(metrics["task_type"])
    deep = metrics.get("deep_model")
    test = lambda m: metrics["models"][m].get("test", {}).get("mean", {}).get(primary)
    baselines = {m: test(m) for m in metrics["models"] if m != deep}
    best_base = None
    for m, v in sorted(baselines.items()):
        if best_base is None or is_better(v, baselines[best_base], primary):
            best_base = m
    u = metrics["models"].get(deep, {}).get("test", {}).get("uncertainty", {}) if deep else {}
    coverage = [t.get("coverage", {}).get("90") for t in u.values() if t.get("coverage", {}).get("90") is not None]
    ece = [t["ece"] for t in u.values() if t.get("ece") is not None]
    deep_score = test(deep) if deep else None
    return {"metric": primary, "greater": greater, "deep": deep, "deep_test": deep_score, "baseline": best_base,
            "baseline_test": baselines.get(best_base) if best_base else None,
            "beats_baseline": (is_better(deep_score, baselines[best_base], primary) if best_base else None),
            "coverage90": float(np.mean(coverage)) if coverage else None,
            "ece": float(np.mean(ece)) if ece else None,
            "extra_tests": {p: s["mean"].get(primary) for p, s in metrics["models"].get(deep, {}).items()
                            if p not in PARTS_ORDER} if deep else {}}


def write_index(metrics_paths: Sequence[str | Path], out: str | Path) -> Path:
    """The leaderboard: every experiment, grouped by dataset and task type, ranked by its deep
    model's test score on the primary metric, with its baseline and uncertainty numbers beside it."""
    rows = []
    for path in metrics_paths:
        metrics = _read_json(path, "metrics file")
        head = _headline(metrics)
        split = metrics.get("split", {})
        rows.append({"experiment": metrics["experiment"], "dataset": split.get("dataset") or "",
                     "split": split.get("method"), "task_type": metrics["task_type"],
                     "leaking": (split.get("audit") or {}).get("duplicated_keys"), **head,
                     "report": f"{metrics['experiment']}.html"})
    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["task_type"], row["metric"]), []).append(row)
    ranked = []
    for (dataset, task_type, metric), members in sorted(groups.items()):
        greater = members[0]["greater"]
        members.sort(key=lambda r: (r["deep_test"] is None,
                                    -(r["deep_test"] or 0) if greater else (r["deep_test"] or 0), r["experiment"]))
        for rank, row in enumerate(members, 1):
            row["rank"] = rank
        ranked.append({"dataset": dataset, "task_type": task_type, "metric": metric, "greater": greater,
                       "rows": members})
    return _write_page(_env().get_template("index.html.j2").render(groups=ranked, n=len(rows)), out)
