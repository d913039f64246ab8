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
    """One row per model × part: every metric's mean over replicates, its sd, 95 % interval and the
    items scored (deep model first), then the chance / mean-predictor reference of each part."""
    deep = metrics.get("deep_model")
    names: list[str] = []
    rows = []
    models = sorted(metrics["models"], key=lambda m: (m != deep, m))
    for model in models:
        for part, scores in _in_part_order(metrics["models"][model]):
            for name in scores["mean"]:
                if name not in names:
                    names.append(name)
            rows.append({"model": model, "deep": model == deep, "part": part, "mean": scores["mean"],
                         "sd": scores.get("sd") or {}, "interval": scores.get("interval") or {},
                         "n": _items(scores)})
    return names, rows


def _in_part_order(by_part: dict) -> list[tuple[str, Any]]:
    """train, valid, test, then extra test sets by name (summaries store parts in sorted order)."""
    order = {p: i for i, p in enumerate(PARTS_ORDER)}
    return sorted(by_part.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def _items(scores: dict) -> int | None:
    """Items scored in one part (the first replicate's where replicates differ in size)."""
    n_items = scores.get("n_items")
    if isinstance(n_items, list):
        return n_items[0] if n_items else None
    if n_items is not None:
        return n_items
    n = scores.get("n")
    return max(n.values()) if isinstance(n, dict) and n else n


def _reference_rows(metrics: dict) -> list[dict]:
    return [{"part": part, "what": ref.get("what", "reference"), "scores": ref.get("scores") or {}}
            for part, ref in _in_part_order(metrics.get("reference") or {})]


def _replicate_rows(metrics: dict) -> list[dict]:
    """One row per replicate: its split seed, the deep model's and the baseline's test score on the
    primary metric, and their paired difference with its interval."""
    primary, _ = _primary(metrics["task_type"])
    deep = metrics.get("deep_model")
    rows = []
    for rep in metrics.get("replicates") or []:
        models = rep.get("models") or {}
        test = lambda m: ((models.get(m) or {}).get("test") or {})
        base = next((m for m in sorted(models) if m != deep), None)
        comparison = (rep.get("comparisons") or {}).get("test") or {}
        rows.append({"replicate": rep.get("replicate"), "seed": rep.get("seed"),
                     "deep": test(deep).get("mean", {}).get(primary),
                     "deep_interval": test(deep).get("interval", {}).get(primary),
                     "n": _items(test(deep)) if test(deep) else None,
                     "baseline": test(base).get("mean", {}).get(primary) if base else None,
                     "difference": comparison.get("difference"), "diff_interval": comparison.get("interval"),
                     "verdict": comparison.get("verdict"), "warnings": len(rep.get("warnings") or [])})
    return rows


def _uncertainty_rows(metrics: dict) -> list[dict]:
    deep = metrics.get("deep_model")
    rows = []
    for model, parts in sorted(metrics["models"].items(), key=lambda kv: (kv[0] != deep, kv[0])):
        for part, scores in _in_part_order(parts):
            for task, u in (scores.get("uncertainty") or {}).items():
                # a count averaged over replicates of equal size is still a count
                n = u.get("n")
                n = int(round(n)) if isinstance(n, float) and math.isfinite(n) else n
                rows.append({"model": model, "part": part, "task": task, **u, "n": n})
    return rows


def _interval_rows(uncertainty_rows: list[dict]) -> list[dict]:
    """Coverage and width one row per model × part × task × level: the σ-normalized conformal
    interval (``L``) beside the absolute one (``abs_L``), instead of lists wrapped in one cell."""
    out = []
    for r in uncertainty_rows:
        coverage, width = r.get("coverage") or {}, r.get("mean_width") or {}
        levels = sorted({k.removeprefix("abs_") for k in coverage}, key=lambda k: float(k))
        for level in levels:
            out.append({"model": r["model"], "part": r["part"], "task": r["task"], "n": r.get("n"),
                        "level": level, "coverage": coverage.get(level), "width": width.get(level),
                        "abs_coverage": coverage.get(f"abs_{level}"), "abs_width": width.get(f"abs_{level}")})
    return out


def _set_rows(uncertainty_rows: list[dict]) -> list[dict]:
    """Conformal prediction sets of classifiers: one row per level."""
    out = []
    for r in uncertainty_rows:
        for level, coverage in (r.get("set_coverage") or {}).items():
            out.append({"model": r["model"], "part": r["part"], "task": r["task"], "level": level,
                        "coverage": coverage, "size": (r.get("set_size") or {}).get(level)})
    return out


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


def _segmentation(ctx: dict) -> list[dict]:
    """Test images with the best, median and worst object F1 of the deep model (image, true and
    predicted outlines), and the count parity of every model that counted the test images."""
    from biodl.instances import decode_mask, segmentation_scores
    from biodl.report import plots

    d = ctx["deep_rows"].sort_values("row")
    figures = []
    X, position = ctx.get("images"), ctx.get("image_position") or {}
    if X is not None and len(d):
        f1 = np.array([segmentation_scores([decode_mask(t)], [decode_mask(p)], thresholds=(0.5,))["objects"][0.5]["f1"]
                       for t, p in zip(d["mask_true"], d["mask_pred"])])
        order = np.argsort(-f1, kind="stable")
        picks = [("best", order[0]), ("median", order[len(order) // 2]), ("worst", order[-1])]
        rows = [(f"{label} (F1 {f1[i]:.2f}, {int(d['y_true'].iloc[i])} cells)", X[position[int(d["row"].iloc[i])]],
                 decode_mask(d["mask_true"].iloc[i]), decode_mask(d["mask_pred"].iloc[i]))
                for label, i in picks if int(d["row"].iloc[i]) in position]
        if rows:
            figures.append({"title": f"Test images: best, median and worst object F1 at IoU 0.5 ({ctx['deep']}; "
                                     "green = truth, magenta = prediction)", "uri": plots.segmentation_overlays(rows)})
    counted = [(ctx["deep"], d.set_index("row")["y_pred"])]
    if ctx["base_rows"] is not None:
        counted.append((ctx["base"], ctx["base_rows"].set_index("row")["y_pred"]))
    for label, frame in (ctx.get("compare") or {}).items():
        test = frame[frame["split"] == "test"]
        counted.append((label, test.set_index("row")["y_pred"]))
    truth = d.set_index("row")["y_true"]
    rows = truth.index
    for _, pred in counted:
        rows = rows.intersection(pred.index)
    if len(rows):
        figures.append({"title": f"Cell counts on the {len(rows)} test images every model counted",
                        "uri": plots.count_parity(truth.loc[rows].to_numpy(),
                                                  [(label, pred.loc[rows].to_numpy()) for label, pred in counted])})
    return figures


#: per-task figures, drawn for each of the first tasks, and figures of the whole model
SECTIONS = {"parity": _parity, "roc_pr": _roc_pr, "domain": _domain, "reliability": _reliability,
            "segmentation": _segmentation}
MODEL_SECTIONS = {"confusion": _confusion}


def _figures(metrics: dict, predictions, history, monitor: str | None, loss_name: str | None = None,
             extra: Mapping | None = None) -> list[dict]:
    from biodl.report import plots
    from biodl.tasks import task_class

    figures = []
    task_cls = task_class(metrics["task_type"])
    deep = metrics.get("deep_model")
    baselines = [m for m in metrics["models"] if m != deep]
    base = baselines[0] if baselines else None
    if history is not None and monitor and f"valid_{monitor}" in history:
        loss = loss_name or "loss"
        scale = "" if task_cls.is_classifier or task_cls.pixelwise else " on standardized targets"
        figures.append({"title": f"Learning curve: training {loss}{scale} and validation {monitor}",
                        "uri": plots.learning_curve(history, monitor, loss)})
    tasks = list(dict.fromkeys(predictions["task"]))
    ctx = {"metrics": metrics, "predictions": predictions, "deep": deep, "base": base, "tasks": tasks,
           "task_class": task_cls, **(extra or {})}
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
                "similarity": r.get("max_tanimoto"), "input": "", "thumbnail": None,
                "domain": _domain_text(r)}
        if meta is not None and int(r["row"]) in position:
            i = position[int(r["row"])]
            text = str(meta["input"].iloc[i])
            if isinstance(X, np.ndarray) and X.ndim == 4:  # images (graphs have 4 dimensions too)
                item["thumbnail"] = plots.image_thumbnail(np.asarray(X[i]))
                text = Path(text).name
            item["input"] = text if len(text) <= 120 else text[:117] + "..."
        items.append(item)
    return label, items


def _domain_text(row) -> str | None:
    """'in domain' or why not (molecule models, biodl.domain); None where the model has no domain."""
    import pandas as pd

    if "in_domain" not in row:
        return None
    flag = row["in_domain"]
    if pd.isna(flag):  # unparsed input, or a model file from before the descriptor ranges
        return row.get("domain_reason") or "unknown"
    return "in domain" if bool(flag) else (row.get("domain_reason") or "out of domain")


def write_experiment_report(name: str, metrics_path: str | Path, predictions: Sequence[str | Path],
                            out: str | Path, *, model_dir: str | Path | None = None,
                            split_path: str | Path | None = None, features: str | Path | None = None,
                            experiment: Mapping | None = None,
                            compare_counts: Mapping[str, str | Path] | None = None,
                            interpretation: str | Path | None = None) -> Path:
    """Render the self-contained HTML report of one experiment. Returns its path.

    ``interpretation``: the folder ``biodl interpret`` wrote (its figures, motif matches and the
    head of its table become the page's interpretation section).

    ``compare_counts``: other experiments' prediction files (segmentation: their counts are drawn
    in the count parity plot beside the segmenter's and its baseline's)."""
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
    info = manifest.get("info") or {}
    monitor = info.get("monitor")
    loss_name = (info.get("train_config") or {}).get("loss") or _task_class(metrics["task_type"]).default_loss
    metric_names, metric_rows = _metric_rows(metrics)
    primary, greater = _primary(metrics["task_type"])
    unc_label, uncertain = _uncertain_items(metrics, preds, features)
    uncertainty_rows = _uncertainty_rows(metrics)
    context = {
        "name": name, "metrics": metrics, "experiment": dict(experiment or {}), "manifest": manifest,
        "data": data, "split": split, "metric_names": metric_names, "metric_rows": metric_rows,
        "reference_rows": _reference_rows(metrics), "replicate_rows": _replicate_rows(metrics),
        "n_replicates": metrics.get("n_replicates", 1), "warnings": _warnings(metrics),
        "audit": _audit_rows(split.get("audit") or {}),
        "primary": primary, "greater": greater, "uncertainty_rows": uncertainty_rows,
        "interval_rows": _interval_rows(uncertainty_rows), "set_rows": _set_rows(uncertainty_rows),
        "figures": _figures(metrics, preds, history, monitor, loss_name,
                            _segmentation_inputs(features, compare_counts or {})),
        "count_rows": _count_rows(metrics),
        "search": search.to_dict("records") if search is not None else [],
        "search_columns": list(search.columns) if search is not None else [],
        "uncertain_label": unc_label, "uncertain": uncertain,
        "headline": _headline(metrics),
        "uncertainty_table": _task_class(metrics["task_type"]).uncertainty_table,
        "interpretation": _interpretation(interpretation) if interpretation else None,
    }
    return _write_page(_env().get_template("experiment.html.j2").render(**context), out)


#: rows of an interpretation's table shown on the page (the folder has them all)
N_INTERPRETED = 15


def _interpretation(folder: str | Path) -> dict:
    """The interpret stage's summary for the page: figures as data URIs, motif rows, the table's head."""
    import base64

    folder = Path(folder)
    summary = _read_json(folder / "summary.json", "interpretation summary")
    figures = []
    for fig in summary.get("figures", []):
        path = folder / fig["file"]
        if not path.is_file():
            raise UserError(f"report: interpretation figure not found: {path}")
        figures.append({"caption": fig["caption"],
                        "uri": "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()})
    motif_rows = []
    entries = [(g["title"], g.get("n"), g.get("motif")) for g in summary.get("groups", [])]
    if (summary.get("optimization") or {}).get("motif"):
        entries.append(("sequences created by evolution", summary["optimization"]["starts"],
                        summary["optimization"]["motif"]))
    for title, n, motif in entries:
        if motif:
            matches = "; ".join(f"{m['matrix_id']} {m['name']} — {m['family']} ({m['score']:.2f})"
                                for m in motif["matches"][:3])
            motif_rows.append({"title": title, "n": n, "matches": matches, "percentile": motif["percentile"],
                               "pair_percentile": motif["pair_percentile"]})
    table = _read_csv(folder / "top_features.csv")
    evolution = summary.get("optimization")
    return {**summary, "folder": str(folder), "figures": figures, "motif_rows": motif_rows,
            "table": table.head(N_INTERPRETED).to_dict("records") if table is not None else [],
            "columns": list(table.columns) if table is not None else [],
            "evolution": {"starts": evolution["starts"], "steps": evolution["steps"],
                          "start_mean": float(np.mean(evolution["output_start"])),
                          "end_mean": float(np.mean(evolution["output_end"]))} if evolution else None,
            "how": summary.get("how"), "legend": summary.get("legend"), "on_cells": summary.get("on_cells"),
            "other_strand_max_difference": summary.get("other_strand_max_difference")}


def _segmentation_inputs(features: Path | None, compare_counts: Mapping) -> dict:
    """What the segmentation figures read besides the predictions: the images (memory-mapped) by
    raw row, and the compared experiments' prediction tables."""
    import pandas as pd

    out: dict[str, Any] = {"compare": {}}
    for name, path in compare_counts.items():
        if not Path(path).is_file():
            raise UserError(f"report: predictions file not found: {path}")
        for model, frame in pd.read_parquet(path).groupby("model", sort=True):
            out["compare"][f"{name}:{model}"] = frame
    if features is not None and (features / "X.npy").is_file() and (features / "meta.parquet").is_file():
        meta = pd.read_parquet(features / "meta.parquet", columns=["row"])
        out["images"] = np.load(features / "X.npy", mmap_mode="r")
        out["image_position"] = {int(r): i for i, r in enumerate(meta["row"])}
    return out


def _count_rows(metrics: dict) -> list[dict]:
    """Count MAE per model on the test images all compared models counted, and each paired
    difference from the deep model (segmentation with compare_counts)."""
    entry = (metrics.get("count_comparison") or {}).get("test")
    if not entry:
        return []
    n = entry["n"][0] if isinstance(entry["n"], list) else entry["n"]
    deep = metrics.get("deep_model")
    rows = []
    for label, m in entry["models"].items():
        diff = entry["differences"].get(label) or {}
        rows.append({"model": label, "deep": label == deep, "mae": m["value"], "interval": m["interval"], "n": n,
                     "difference": diff.get("difference"), "diff_interval": diff.get("interval"),
                     "verdict": diff.get("verdict")})
    return sorted(rows, key=lambda r: (not r["deep"], r["model"]))


def _task_class(task_type: str):
    from biodl.tasks import task_class

    return task_class(task_type)


def _write_page(html: str, out: str | Path) -> Path:
    """Write atomically: a page is complete or absent."""
    from biodl.io import write_text

    return write_text(out, html)


def _warnings(metrics: dict) -> list[dict]:
    """The summary's warnings, each with the replicates it occurred in (every one when absent)."""
    n = metrics.get("n_replicates", 1)
    out = []
    for w in metrics.get("warnings") or []:
        reps = w.get("replicates")
        where = "" if n == 1 or reps is None or len(reps) == n else f" (replicates {', '.join(map(str, reps))} of {n})"
        out.append({**w, "where": where})
    return out


def _pct(share) -> str:
    return "–" if share is None else f"{100 * share:.0f} %"


def _audit_rows(audit: dict) -> dict:
    """The leakage audit for the report: its one-line reading and one row per finding of the
    modality's block (molecules: scaffolds and neighbours; DNA: intervals; images: groups)."""
    rows = []
    molecules = audit.get("molecules") or {}
    for part in ("valid", "test"):
        m = molecules.get(part)
        if not m:
            continue
        q = m.get("max_similarity") or {}
        sample = f" (a sample of {m['audited']} of {m['sample_of']})" if m.get("sample_of") else ""
        rows.append((f"{part} molecules vs train", (
            f"{m.get('shared_scaffold', 0)} of {m.get('n', 0)} share a Bemis–Murcko scaffold with training "
            f"({_pct(m.get('shared_scaffold_share'))}; {m.get('acyclic', 0)} acyclic, without one) · "
            f"{m.get('neighbour', 0)} ({_pct(m.get('neighbour_share'))}) have a training neighbour at Tanimoto ≥ "
            f"{molecules.get('threshold', 0.8)}{sample} · max similarity to training: median {_num(q.get('median'), 2)}, "
            f"10–90 % {_num(q.get('q10'), 2)}–{_num(q.get('q90'), 2)}")))
    intervals = audit.get("intervals") or {}
    for part in ("valid", "test"):
        iv = intervals.get(part)
        if iv:
            rows.append((f"{part} intervals vs train", (
                f"{iv.get('overlap_train', 0)} of {iv.get('n', 0)} overlap a training interval "
                f"({_pct(iv.get('overlap_train_share'))}), {iv.get('adjacent_train', 0)} more touch one "
                f"(gap {intervals.get('gap', 0)} bp; {intervals.get('rows_without_interval', 0)} items without coordinates)")))
    for column, g in (audit.get("groups") or {}).items():
        if not isinstance(g, dict):
            continue
        parts = " · ".join(f"{part}: {g.get(f'{part}_rows_with_train_group', 0)} of {g.get(f'{part}_rows', 0)} items "
                           f"share a {column} with training" for part in ("valid", "test") if f"{part}_rows" in g)
        rows.append((f"group key {column}", f"{g.get('in_several_parts', 0)} of {g.get('groups', 0)} groups in more "
                                            f"than one part" + (f" · {parts}" if parts else "")))
    return {"reading": audit.get("reading"), "rows": rows, "duplicated": audit.get("duplicated_keys"),
            "key": audit.get("key"), "examples": audit.get("examples")}


def _headline(metrics: dict) -> dict:
    """Test score of the deep model and of the best baseline on the primary metric (means over
    replicates, with sd, 95 % interval and items scored), the paired comparison's verdict, the
    chance / mean-predictor reference, and the deep model's key uncertainty numbers on test
    (coverage at 90 %, ECE)."""
    from biodl.metrics import is_better

    primary, greater = _primary(metrics["task_type"])
    deep = metrics.get("deep_model")
    scores = lambda m, part="test": metrics["models"][m].get(part, {})
    test = lambda m: scores(m).get("mean", {}).get(primary)
    baselines = {m: test(m) for m in metrics["models"] if m != deep}
    best_base = None
    for m, v in sorted(baselines.items()):
        if best_base is None or is_better(v, baselines[best_base], primary):
            best_base = m
    u = metrics["models"].get(deep, {}).get("test", {}).get("uncertainty", {}) if deep else {}
    coverage = [t.get("coverage", {}).get("90") for t in u.values() if t.get("coverage", {}).get("90") is not None]
    ece = [t["ece"] for t in u.values() if t.get("ece") is not None]
    deep_score = test(deep) if deep else None
    comparison = (metrics.get("comparisons") or {}).get("test") or {}
    verdict = comparison.get("verdict")
    if verdict is None and best_base and "comparisons" not in metrics:
        # metrics written before intervals existed: no interval, so no claim either way
        verdict = "no interval"
    warning_codes = {w.get("code") for w in metrics.get("warnings") or []}
    reference = ((metrics.get("reference") or {}).get("test") or {})
    return {"metric": primary, "greater": greater, "deep": deep, "deep_test": deep_score,
            "deep_sd": scores(deep).get("sd", {}).get(primary) if deep else None,
            "deep_interval": scores(deep).get("interval", {}).get(primary) if deep else None,
            "n_test": _items(scores(deep)) if deep and scores(deep) else None,
            "n_replicates": metrics.get("n_replicates", 1),
            "baseline": best_base, "baseline_test": baselines.get(best_base) if best_base else None,
            "baseline_sd": scores(best_base).get("sd", {}).get(primary) if best_base else None,
            "baseline_interval": scores(best_base).get("interval", {}).get(primary) if best_base else None,
            "verdict": verdict, "difference": comparison.get("difference"),
            "difference_interval": comparison.get("interval"),
            "reference": reference.get("scores", {}).get(primary), "reference_what": reference.get("what"),
            "coverage90": float(np.mean(coverage)) if coverage else None,
            "sigma_ranks": "sigma_does_not_rank" not in warning_codes,
            "ece": float(np.mean(ece)) if ece else None, "n_warnings": len(metrics.get("warnings") or []),
            "extra_tests": {p: {"mean": s["mean"].get(primary), "sd": (s.get("sd") or {}).get(primary),
                                "interval": (s.get("interval") or {}).get(primary), "n": _items(s),
                                "verdict": ((metrics.get("comparisons") or {}).get(p) or {}).get("verdict")}
                            for p, s in metrics["models"].get(deep, {}).items()
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
                     "leaking": (split.get("audit") or {}).get("duplicated_keys"),
                     "audit_reading": (split.get("audit") or {}).get("reading"), **head,
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


SCREEN_BINS = 40
SCREEN_DRAWN = 24
SCREEN_TABLE = 50


def write_screen_report(folder: str | Path, out: str | Path | None = None, *, name: str | None = None) -> Path:
    """The page of a finished screen folder (``biodl screen`` / ``screen-gather``): counts, pass
    rates per alert catalog, rejects by reason, histograms of the predictions and σ of every
    predicted record, of those that passed the filters and of the candidates, and the picks drawn.
    ``screened.csv`` is read twice in chunks (ranges, then counts): memory does not grow with the
    library. Written to ``folder/report.html`` unless ``out`` is given; ``name`` (default: the
    folder's) titles the page."""
    import pandas as pd

    folder = Path(folder)
    summary = _read_json(folder / "summary.json", "screen summary")
    if "hits" not in summary:
        raise UserError(f"{folder}: a shard of a screen; gather the shards (biodl screen-gather) and report that")
    hits = pd.read_csv(folder / "hits.csv", keep_default_na=False, dtype={"id": str, "smiles": str})
    candidates = pd.read_csv(folder / "candidates.csv", usecols=["prediction", "sigma"])
    c = summary["counts"]
    standardized = c["read"] - sum(c["rejected"].values()) + sum(
        n for reason, n in c["rejected"].items() if reason.startswith("featurize"))
    figures = _screen_histograms(folder / "screened.csv", candidates, hits)
    has_sigma = bool(len(hits)) and pd.to_numeric(hits["sigma"], errors="coerce").notna().any()
    drawn = hits.head(SCREEN_DRAWN)
    # RDKit's drawing font has no ± or σ
    legends = [f"{r.id}: {float(r.prediction):.2f}" + (f" +/- {float(r.sigma):.2f}" if has_sigma else "")
               for r in drawn.itertuples()]
    from biodl import __version__
    from biodl.report import plots

    columns = [col for col in ("pick", "rank", "id", "smiles", "prediction", "sigma", "score", "max_tanimoto",
                               "in_domain") if col in hits.columns and (col != "sigma" or has_sigma)]
    table = [{col: (_num(float(row[col])) if col in ("prediction", "sigma", "score", "max_tanimoto") and row[col] != ""
                    else row[col]) for col in columns} for _, row in hits.head(SCREEN_TABLE).iterrows()]
    context = {
        "name": name or folder.name, "s": summary, "c": c, "version": __version__,
        "n_rejected": sum(c["rejected"].values()),
        "pass_rate": f"{c['passed_filters'] / standardized:.1%}" if standardized else "–",
        "rate": f"{summary['records_per_s']:,.0f}" if summary.get("records_per_s") else None,
        "filters": [{"catalog": name, "flagged": n, "share": f"{n / standardized:.1%}" if standardized else "–"}
                    for name, n in c["flagged"].items()],
        "rejects": sorted(c["rejected"].items(), key=lambda kv: -kv[1]),
        "figures": figures, "grid": plots.molecule_grid(drawn["smiles"].tolist(), legends) if len(drawn) else None,
        "n_drawn": len(drawn), "has_sigma": has_sigma, "hit_columns": columns, "hits": table,
        "more_hits": max(0, len(hits) - SCREEN_TABLE),
        "settings": {k: v for k, v in summary.items() if k not in ("counts",)},
    }
    return _write_page(_env().get_template("screen.html.j2").render(**context), out or folder / "report.html")


def _screen_histograms(screened: Path, candidates, hits) -> list[dict]:
    """Histograms of prediction (and σ) over all predicted records, those that passed the filters,
    and the candidates; two chunked passes over screened.csv."""
    import pandas as pd

    from biodl.report import plots

    columns = ["prediction", "sigma", "passes_filters"]

    def chunks():
        return pd.read_csv(screened, usecols=columns, chunksize=200_000,
                           dtype={"prediction": float, "sigma": float, "passes_filters": str})

    lo = {"prediction": np.inf, "sigma": np.inf}
    hi = {"prediction": -np.inf, "sigma": -np.inf}
    for frame in chunks():
        for col in lo:
            values = frame[col].to_numpy(np.float64)
            values = values[np.isfinite(values)]
            if len(values):
                lo[col], hi[col] = min(lo[col], values.min()), max(hi[col], values.max())
    figures = []
    for col, label in (("prediction", "prediction"), ("sigma", "σ")):
        if not np.isfinite(lo[col]):
            continue
        edges = np.linspace(lo[col], hi[col] if hi[col] > lo[col] else lo[col] + 1, SCREEN_BINS + 1)
        every, passed = np.zeros(SCREEN_BINS), np.zeros(SCREEN_BINS)
        for frame in chunks():
            values = frame[col].to_numpy(np.float64)
            ok = np.isfinite(values)
            every += np.histogram(values[ok], edges)[0]
            passed += np.histogram(values[ok & (frame["passes_filters"] == "True").to_numpy()], edges)[0]
        kept = candidates[col].to_numpy(np.float64)
        picked = pd.to_numeric(hits[col], errors="coerce").to_numpy(np.float64) if col in hits else np.zeros(0)
        uri = plots.screen_distributions(edges, [("predicted", every), ("passed the alerts", passed),
                                                 ("candidates", np.histogram(kept[np.isfinite(kept)], edges)[0])],
                                         picked[np.isfinite(picked)], label)
        figures.append({"uri": uri, "caption": f"{label} of every predicted record, of those that passed the "
                                               "alerts, and of the kept candidates; red ticks: the picks"})
    return figures
