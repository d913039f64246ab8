"""README's result tables, generated from result files — never typed by hand.

    python bench/readme_results.py collect [--metrics results/metrics] [--snakemake-log PATH]
        copies the summary metrics of a finished default run (results/metrics/<experiment>.json,
        one per experiment, mean ± sd over replicates) into bench/results/default_run/, without the
        bootstrap draws, plus the run's wall time from Snakemake's log
        [--out bench/results/jund_run]  (another run's snapshot: the JUND benchmark experiments)
        and, from results/interpret/ beside the metrics folder, each interpreted experiment's
        summary.json (to <out>/interpret/<experiment>.json) and the figures README shows
        (README_FIGURES)
    python bench/readme_results.py write      # README.md's marked tables from bench/results/
    python bench/readme_results.py check      # exit 1 when README.md differs from what write gives

A table lives between ``<!-- BEGIN <name> (bench/readme_results.py) -->`` and ``<!-- END <name> -->``;
tests/test_readme_results.py runs ``check``, so a number edited by hand, or a result file replaced
without ``write``, fails the suite.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "bench" / "results" / "default_run"
JUND_RUN = ROOT / "bench" / "results" / "jund_run"
SEGMENTATION_FULL_RUN = ROOT / "bench" / "results" / "segmentation_full_run"
README = ROOT / "README.md"
PARTS = ("train", "valid", "test")


def _num(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(interval) -> str:
    return f"[{_num(interval[0])}, {_num(interval[1])}]" if interval else "–"


def _strip_draws(value):
    """The summary without bootstrap draws (thousands of numbers no table reads)."""
    if isinstance(value, dict):
        return {k: _strip_draws(v) for k, v in value.items() if k != "bootstrap"}
    if isinstance(value, list):
        return [_strip_draws(v) for v in value]
    return value


def collect(metrics_dir: Path, snakemake_log: Path | None, out: Path = SNAPSHOT) -> None:
    summaries = sorted(p for p in metrics_dir.glob("*.json"))
    if not summaries:
        sys.exit(f"readme_results: no summary metrics in {metrics_dir}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    for path in summaries:
        data = _strip_draws(json.loads(path.read_text()))
        (out / path.name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    if snakemake_log:
        # Snakemake names its log by the start time; the file was last written when the run ended
        start = datetime.strptime(snakemake_log.name.split(".snakemake")[0], "%Y-%m-%dT%H%M%S.%f")
        end = datetime.fromtimestamp(snakemake_log.stat().st_mtime)
        text = snakemake_log.read_text()
        done = re.findall(r"(\d+) of (\d+) steps \(100%\) done", text)
        run = {"wall_s": round((end - start).total_seconds()), "jobs": int(done[-1][1]) if done else None,
               "log": snakemake_log.name}
        (out / "_run.json").write_text(json.dumps(run, indent=1, sort_keys=True) + "\n")
    print(f"{len(summaries)} summaries -> {out}")


#: figures of the default run that README shows: (experiment, file in its interpret folder) -> name
README_FIGURES = {("oct4_cnn_rc", "figures/logos_positives.png"): "oct4_cnn_rc_logos.png",
                  ("solubility_mlp_ecfp", "figures/molecule_errors_0.png"): "solubility_mlp_ecfp_molecule.png"}


def _fresh_folder(target: Path) -> Path:
    """``target`` emptied (a snapshot folder holds only what this collect wrote)."""
    import shutil

    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return target


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def collect_interpretation(interpret_dir: Path, out: Path) -> None:
    """Each interpreted experiment's summary (without the evolved sequences) and README's figures."""
    import shutil

    target = _fresh_folder(out / "interpret")
    for summary in sorted(interpret_dir.glob("*/summary.json")):
        data = json.loads(summary.read_text())
        data.get("optimization", {}).pop("evolved", None)
        _write_json(target / f"{summary.parent.name}.json", data)
    for (experiment, file), name in README_FIGURES.items():
        source = interpret_dir / experiment / file
        if not source.is_file():
            sys.exit(f"readme_results: {source} not found (README shows it)")
        shutil.copyfile(source, target / name)


def collect_screens(screens_dir: Path, out: Path) -> None:
    """Each gathered screen's summary and its first ten picks."""
    import pandas as pd

    target = _fresh_folder(out / "screens")
    for summary in sorted(screens_dir.glob("*/gathered/summary.json")):
        data = json.loads(summary.read_text())
        hits = pd.read_csv(summary.parent / "hits.csv", dtype={"id": str}, keep_default_na=False).head(10)
        data["first_picks"] = hits[["pick", "rank", "id", "smiles", "prediction", "max_tanimoto",
                                    "in_domain"]].to_dict(orient="records")
        _write_json(target / f"{summary.parent.parent.name}.json", data)


def screen_default(_runs, _meta, folder: Path = SNAPSHOT) -> str:
    """The default run's screens: counts and the first picks."""
    paths = sorted((folder / "screens").glob("*.json"))
    if not paths:
        return "(no screens in the default run's snapshot: bench/readme_results.py collect)"
    out = []
    for path in paths:
        s = json.loads(path.read_text())
        c = s["counts"]
        rejected = sum(c["rejected"].values())
        flagged = ", ".join(f"{k} {v:,}" for k, v in c["flagged"].items())
        out += [f"**{path.stem}** — `{s['model']}` on `{s['library']}` ({s.get('shards', 1)} shards), ranked by "
                f"{'UCB' if s['acquisition'] == 'ucb' else 'the predicted'} {s['task']}:", "",
                "| read | rejected | flagged (per catalog) | passed the alerts | predicted | in domain | candidates "
                "| picks |", "|---|---|---|---|---|---|---|---|",
                f"| {c['read']:,} | {rejected:,} | {flagged} | {c['passed_filters']:,} | {c['predicted']:,} | "
                f"{c['in_domain']:,} | {c['candidates']:,} | {s['hits']} ({s['pick_method']}) |", "",
                "| pick | rank by score | id | SMILES | prediction | max Tanimoto to training | in domain |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {h['pick']} | {h['rank']} | {h['id']} | `{h['smiles']}` | {float(h['prediction']):.3f} | "
                f"{float(h['max_tanimoto']):.2f} | {h['in_domain']} |" for h in s["first_picks"]]
        out.append("")
    return "\n".join(out).rstrip()


def _interpretations(folder: Path = SNAPSHOT) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((folder / "interpret").glob("*.json"))}


def _matches(motif: dict, n: int = 2) -> str:
    return "; ".join(f"{m['matrix_id']} {m['name']} ({m['family']}, {m['score']:.3f})" for m in motif["matches"][:n])


def _motif_verdict(family_ok: bool, percentile: float, pair: float) -> str:
    if not family_ok:
        return "missed: another family"
    if percentile >= 0.99:
        return "met"
    return (f"family met; beyond the 99th percentile against the matched matrix ({_num(pair)}) but not over "
            f"the whole database ({_num(percentile)})")


def interpret_targets(_runs, _meta) -> str:
    """Issue 14's motif targets: the default run's Oct4 / MafK model, bench/interpret_jund.py's JUND run."""
    header = ("| check | model and data | best JASPAR matches (family, score) | beyond shuffled copies' best over "
              "JASPAR | beyond shuffled copies vs that matrix | control (shuffled labels) | goal | verdict |")
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    oct4 = _interpretations().get("oct4_cnn_rc")
    if oct4:
        for group in oct4["groups"]:
            motif = group.get("motif")
            if not motif:
                continue
            family = "POU domain factors" if group["name"] == "positives" else "Maf-related"
            ok = family in motif["matches"][0]["family"]
            lines.append(f"| Oct4 vs MafK, {'Oct4' if group['name'] == 'positives' else 'MafK'} class | default run's "
                         f"`oct4_cnn_rc`, ISM on {group['n']} shipped-test {group['name']} | {_matches(motif)} | "
                         f"{_num(motif['percentile'])} | {_num(motif['pair_percentile'])} | fails in "
                         f"tests/test_interpret.py | {family}, > 99th percentile | "
                         f"{_motif_verdict(ok, motif['percentile'], motif['pair_percentile'])} |")
    path = ROOT / "bench" / "results" / "interpret_jund.json"
    if path.is_file():
        r = json.loads(path.read_text())
        real, control = r["real"]["discovery"], r["control"]["discovery"]
        ok = real["right_family"]
        lines.append(f"| JUND (AP-1) | bench/interpret_jund.py: the benchmark's `jund_cnn_rc`, ISM on the "
                     f"{real['n_sequences']} bound test windows, {r['settings']['seqlet_width']}-bp seqlets | "
                     f"{_matches(real)} | {_num(real['null_percentile'])} | {_num(real['pair_percentile'])} | "
                     f"{control['best']['name']} ({control['best']['family']}, {control['best']['score']:.3f}; "
                     f"{_num(control['null_percentile'])}) | Jun / Fos-related, > 99th percentile | "
                     f"{_motif_verdict(ok, real['null_percentile'], real['pair_percentile'])} |")
    lines.append("| molecule atoms, label = has a sulfonamide | tests/test_attributions.py: Tox21 molecules, ECFP "
                 "MLP (bit occlusion) and D-MPNN (atom integrated gradients) | – | – | – | must stay below 90 % "
                 "(asserted) | sulfonamide atoms on top in ≥ 90 % of test positives | asserted by the test |")
    return "\n".join(lines)


def interpret_figures(_runs, _meta) -> str:
    """README's figures from the default run, each with its caption from the run's summary."""
    summaries = _interpretations()
    lines = []
    for (experiment, file), name in README_FIGURES.items():
        caption = next(f["caption"] for f in summaries[experiment]["figures"] if f["file"] == file)
        lines += [f"![{caption}](bench/results/default_run/interpret/{name})", "", f"*{experiment}: {caption}*", ""]
    return "\n".join(lines).rstrip()


def interpret_default(_runs, _meta) -> str:
    """What each interpreted experiment of the default run found."""
    lines = ["| experiment | method, part | items | found |", "|---|---|---|---|"]
    for name, s in _interpretations().items():
        found = []
        for group in s.get("groups", []):
            if group.get("motif"):
                found.append(f"{group['name']}: {_matches(group['motif'], 1)}")
        evolution = s.get("optimization")
        if evolution:
            start, end = evolution["output_start"], evolution["output_end"]
            text = (f"evolution of {evolution['starts']} random sequences, {evolution['steps']} steps: mean "
                    f"{_num(sum(start) / len(start))} → {_num(sum(end) / len(end))} ({s['units']})")
            if evolution.get("motif"):
                text += f", creating {_matches(evolution['motif'], 1)}"
            found.append(text)
        if s.get("on_cells"):
            found.append(f"positive attribution on cell pixels {_num(s['on_cells']['positive_attribution_on_cells'])} "
                         f"of the total; cells are {_num(s['on_cells']['cell_pixel_share'])} of the pixels")
        if s["kind"] in ("ecfp", "molgraph"):
            found.append(", ".join(f"{g['n']} {g['title']}" for g in s["groups"]) + " (atom maps in the report)")
        lines.append(f"| {name} | {s['method']}, {s['part']} | {s['n_items']} | {'; '.join(found)} |")
    return "\n".join(lines)


def _load(folder: Path = SNAPSHOT) -> tuple[list[dict], dict]:
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json")) if not p.name.startswith("_")]
    meta_path = folder / "_run.json"
    return runs, (json.loads(meta_path.read_text()) if meta_path.is_file() else {})


def _score(scores: dict, metric: str, n_rep: int) -> str:
    mean = (scores.get("mean") or {}).get(metric)
    sd = (scores.get("sd") or {}).get(metric)
    return _num(mean) + (f" ± {_num(sd)}" if n_rep > 1 and sd is not None else "")


def _items(scores: dict):
    n = scores.get("n_items")
    return n[0] if isinstance(n, list) and n else n


def default_results_table(runs: list[dict]) -> str:
    """One row per experiment × model: test score (mean ± sd over replicates, 95 % interval), the
    shipped test files, and the paired verdict against the baseline."""
    lines = ["| experiment | split | R | n test | model | test metric, mean ± sd | 95 % CI | shipped test files "
             "| deep − baseline (95 % CI) | warnings |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m in sorted(runs, key=lambda r: r["experiment"]):
        metric, deep, n_rep = m["primary_metric"], m["deep_model"], m.get("n_replicates", 1)
        models = sorted(m["models"], key=lambda name: (name != deep, name))
        comparison = (m.get("comparisons") or {}).get("test") or {}
        for i, model in enumerate(models):
            parts = m["models"][model]
            test = parts.get("test") or {}
            extra = "; ".join(f"{p}: {_score(s, metric, n_rep)}" for p, s in parts.items() if p not in PARTS)
            first = i == 0
            verdict = (f"{comparison['verdict']}: {_num(comparison.get('difference'))} "
                       f"{_ci(comparison.get('interval'))}" if first and comparison else "")
            codes = sorted({w["code"] for w in m.get("warnings") or []}) if first else []
            lines.append("| " + " | ".join([
                m["experiment"] if first else "", (m.get("split") or {}).get("method", "") if first else "",
                str(n_rep) if first else "", str(_items(test) or "") if first else "",
                model + ("" if model == deep else " (baseline)"), f"{metric} {_score(test, metric, n_rep)}",
                _ci((test.get("interval") or {}).get(metric)), extra, verdict, ", ".join(codes)]) + " |")
    return "\n".join(lines)


def run_line(meta: dict) -> str:
    if not meta.get("wall_s"):
        return ""
    minutes, seconds = divmod(int(meta["wall_s"]), 60)
    jobs = f", {meta['jobs']} jobs" if meta.get("jobs") else ""
    return f"\n\nWall time of the run these numbers come from: {minutes} min {seconds} s{jobs} (Snakemake log {meta['log']})."


def molecule_targets(_runs, _meta) -> str:
    """Issue 11's target table, from bench/quality.py --molecules's result file."""
    path = ROOT / "bench" / "results" / "quality_molecules.json"
    if not path.is_file():
        return "(no bench/results/quality_molecules.json: run python bench/quality.py --molecules)"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from quality import target_table

    res = json.loads(path.read_text())
    seeds = sorted({v["seeds"] for v in res.values() if isinstance(v, dict) and "seeds" in v})
    seconds = sum(v.get("seconds", 0) for v in res.values() if isinstance(v, dict))
    return ("\n".join(target_table(res)) + f"\n\nSeeds: {', '.join(map(str, seeds))} per data set; "
            f"{res.get('machine', '')}; {seconds / 60:.0f} min in all.")


def genomics_targets(_runs, _meta) -> str:
    """Issue 12's target table, from bench/genomics.py's result file."""
    path = ROOT / "bench" / "results" / "quality_genomics.json"
    if not path.is_file():
        return "(no bench/results/quality_genomics.json: run python bench/genomics.py)"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from genomics import target_table

    res = json.loads(path.read_text())
    parts = [f"{name}: {v['seeds']} seeds, {v['seconds'] / 60:.0f} min, load {v['load_end']} at the end"
             for name, v in res.items() if isinstance(v, dict) and "seeds" in v]
    return "\n".join(target_table(res)) + f"\n\n{'; '.join(parts)}; {res.get('machine', '')}."


def genome_windows(_runs, _meta) -> str:
    """Issue 12's BED-windows speed row, from bench/genome_windows.py's result file."""
    path = ROOT / "bench" / "results" / "genome_windows.json"
    if not path.is_file():
        return "(no bench/results/genome_windows.json: run python bench/genome_windows.py --json ...)"
    r = json.loads(path.read_text())
    return "\n".join([
        "| step | windows | seconds | windows/s | peak RSS growth |", "|---|---|---|---|---|",
        f"| biodl: BED + {r['genome_mb']} Mb genome → {r['length']} bp one-hot codes | {r['windows']:,} | "
        f"{r['biodl_s']:.2f} | {r['biodl_windows_per_s']:,} (goal ≥ 200,000) | +{r['peak_rss_mib']} MiB (goal < 1 GiB) |",
        f"| pyfaidx fetch + DeepChem `seq_one_hot_encode`, per window | {r['peer_windows']:,} | {r['peer_s']:.2f} | "
        f"{r['peer_windows_per_s']:,} | |",
        f"| **ratio biodl / peer loop** | | | **{r['ratio']:.1f}×** (goal ≥ 20×) | |",
        "", f"{r['machine']}; best of {r.get('repeats', 1)} runs each side; load {r['load_end']} at the end; "
            "the `.fai` index was built once beforehand "
            f"({r['index_s']:.1f} s, pyfaidx)."])


def featurize_speed(_runs, _meta) -> str:
    """The featurization throughput tables, from bench/featurize.py's result file."""
    path = ROOT / "bench" / "results" / "featurize.json"
    if not path.is_file():
        return "(no bench/results/featurize.json: run python bench/featurize.py --json bench/results/featurize.json)"
    r = json.loads(path.read_text())
    lines = [f"| step (best of {r['runs']} runs) | time | rate | peak RSS growth |", "|---|---|---|---|"]
    for step in r["steps"]:
        rate = (f"{step['rate'] / 1e6:.1f} M {step['unit']}/s" if step["rate"] >= 1e6
                else f"{step['rate']:,} {step['unit']}/s")
        lines.append(f"| {step['label']} | {step['seconds']:.2f} s | {rate} | +{step['peak_mib']:.0f} MiB |")
    goals = {"ecfp_n_vs_deepchem": (f"biodl ECFP {r['n_jobs']} cores / DeepChem", "≥ 10×"),
             "ecfp_1_vs_bare": ("biodl ECFP 1 core / bare RDKit loop", "≥ 0.9×"),
             "fasta_disk_vs_deepchem": ("biodl FASTA → disk / DeepChem encoder", "≥ 20×")}
    lines += ["", "| ratio | this run | target |", "|---|---|---|"]
    lines += [f"| {goals[k][0]} | {v:.2f}× | {goals[k][1]} |" for k, v in r["ratios"].items()]
    steps = {step["key"]: step for step in r["steps"]}
    if "biodl_meta" in steps and "deepchem_ecfp" in steps:  # issue 15's row
        ratio = steps["biodl_meta"]["rate"] / steps["deepchem_ecfp"]["rate"]
        lines.append(f"| biodl ECFP {r['n_jobs']} cores with meta (canonical SMILES + scaffold) / DeepChem | "
                     f"{ratio:.2f}× | ≥ 10×{'' if ratio >= 10 else ': missed'} |")
    return "\n".join(lines) + f"\n\n{r['machine']}; load {r['load_end']} at the end."


def segmentation_targets(_runs, _meta) -> str:
    """Issue 13's targets, from bench/segmentation.py's result file."""
    path = ROOT / "bench" / "results" / "segmentation.json"
    if not path.is_file():
        return "(no bench/results/segmentation.json: run python bench/segmentation.py --json ...)"
    r = json.loads(path.read_text())
    runs = r["runs"]

    def stat(method, key, *sub):
        values = []
        for run in runs:
            v = run[method][key]
            for k in sub:
                v = v[k]
            values.append(v)
        mean = sum(values) / len(values)
        sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
        return mean, sd

    def cell(method, key, *sub, digits=3):
        mean, sd = stat(method, key, *sub)
        return f"{mean:.{digits}f} ± {sd:.{digits}f}"

    f1_u, f1_c = stat("unet", "f1_05")[0], stat("classical", "f1_05")[0]
    mae = {m: stat(m, "count_mae")[0] for m in ("unet", "classical", "count_cnn")}
    lines = ["| measure (test images) | U-Net | classical watershed | count-regression CNN | goal | verdict |",
             "|---|---|---|---|---|---|",
             f"| object F1 at IoU 0.5, all blur levels | {cell('unet', 'f1_05')} | {cell('classical', 'f1_05')} | – | "
             f"≥ classical + 0.1 | {'met' if f1_u >= f1_c + 0.1 else 'missed'} |"]
    for blur in ("1", "10", "23", "48"):
        lines.append(f"| object F1 at IoU 0.5, blur F{blur} | {cell('unet', 'f1_by_blur', blur)} | "
                     f"{cell('classical', 'f1_by_blur', blur)} | – | | |")
    for thr in ("0.5", "0.7", "0.9"):
        lines.append(f"| average precision at IoU {thr} | {cell('unet', 'ap', thr)} | {cell('classical', 'ap', thr)} | – | | |")
    lines += [f"| pixel IoU / Dice | {cell('unet', 'pixel_iou')} / {cell('unet', 'dice')} | "
              f"{cell('classical', 'pixel_iou')} / {cell('classical', 'dice')} | – | | |",
              f"| count MAE (cells per image) | {cell('unet', 'count_mae', digits=2)} | "
              f"{cell('classical', 'count_mae', digits=2)} | {cell('count_cnn', 'count_mae', digits=2)} | "
              f"lower than both | {'met' if mae['unet'] < min(mae['classical'], mae['count_cnn']) else 'missed'} |"]
    t = r["tiled"]
    lines.append(f"| tiled prediction of a {t['shape'][0]:,} × {t['shape'][1]:,} image, CPU | {t['seconds']:.1f} s, "
                 f"+{t['peak_mib']} MiB | – | – | < 10 s, < 1.5 GB | "
                 f"{'met' if t['seconds'] < 10 and t['peak_mib'] < 1536 else 'missed'} |")
    n = runs[0]["n_images"]
    return "\n".join(lines) + (f"\n\n{len(runs)} seeds (simulation, split and training); {n['train']} / {n['valid']} / "
                               f"{n['test']} train / valid / test images per seed; U-Net up to {r['epochs']} epochs; "
                               f"{r['machine']}; load {r['load_end']} at the end.")


def segmentation_workflow(runs, _meta) -> str:
    """The default run's segmentation experiments: every scored measure of the U-Net and its
    baseline on the test images, and the count comparison (compare_counts)."""
    lines = []
    for m in sorted((r for r in runs if r.get("task_type") == "segmentation"), key=lambda r: r["experiment"]):
        n_rep = m.get("n_replicates", 1)
        deep = m["deep_model"]
        models = sorted(m["models"], key=lambda name: (name != deep, name))
        names = [("object_f1", "object F1 @0.5"), ("precision", "precision"), ("recall", "recall"),
                 ("ap_50", "AP @0.5"), ("ap_70", "AP @0.7"), ("ap_90", "AP @0.9"), ("mean_ap", "mean AP"),
                 ("pixel_iou", "pixel IoU"), ("dice", "Dice"), ("count_mae", "count MAE"), ("count_bias", "count bias")]
        lines += [f"`{m['experiment']}` ({n_rep} replicate{'s' * (n_rep != 1)}), test images:", "",
                  "| measure | " + " | ".join(f"{x} (95 % CI)" for x in models) + " |",
                  "|---|" + "---|" * len(models)]
        for key, label in names:
            cells = []
            for model in models:
                test = m["models"][model].get("test") or {}
                cells.append(f"{_score(test, key, n_rep)} {_ci((test.get('interval') or {}).get(key))}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        counts = (m.get("count_comparison") or {}).get("test")
        if counts:
            n = counts["n"][0] if isinstance(counts["n"], list) else counts["n"]
            lines += ["", f"Count MAE on the {n} test images every method counted ({deep} − method: paired, 95 % CI):",
                      "", "| method | count MAE (95 % CI) | " + deep + " − it (95 % CI) | verdict for " + deep + " |",
                      "|---|---|---|---|"]
            for label, entry in sorted(counts["models"].items(), key=lambda kv: (kv[0] != deep, kv[0])):
                diff = counts["differences"].get(label) or {}
                lines.append(f"| {label} | {_num(entry['value'])} {_ci(entry['interval'])} | "
                             f"{_num(diff.get('difference')) if diff else '–'} {_ci(diff.get('interval')) if diff else ''} | "
                             f"{diff.get('verdict', '–')} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def ism_speed(_runs, _meta) -> str:
    """Issue 14's ISM speed row, from bench/ism_speed.py's result file."""
    r = json.loads((ROOT / "bench" / "results" / "ism_speed.json").read_text())
    verdict = "met" if r["ratio"] >= 1.0 and r["max_abs_difference"] <= 1e-5 else "missed"
    return "\n".join([
        "| ISM, {n} sequences x {length} bp, CPU ({threads} threads) | biodl | tangermeme | ratio | max abs difference "
        "| goal | verdict |".format(**r),
        "|---|---|---|---|---|---|---|",
        f"| `saturation_mutagenesis`, best of {r['repeats']} | {r['biodl_s']} s ({r['biodl_seq_per_s']} seq/s) | "
        f"{r['tangermeme_s']} s ({r['tangermeme_seq_per_s']} seq/s) | {r['ratio']}x | {r['max_abs_difference']:.1e} "
        f"| >= 1.0x, equal within 1e-5 | {verdict} |",
        "", f"{r['machine']}; load {r['load_end']} at the end."])


def screen_speed(_runs, _meta) -> str:
    """Issue 15's per-core screening rate against the bare RDKit loop, from bench/screen_speed.py."""
    path = ROOT / "bench" / "results" / "screen_speed.json"
    if not path.is_file():
        return "(no bench/results/screen_speed.json: run python bench/screen_speed.py --json bench/results/screen_speed.json)"
    r = json.loads(path.read_text())
    lines = [f"| {r['n']:,} MUV SMILES, one core | molecules/s | ratio to the bare loop | goal |", "|---|---|---|---|"]
    for label, rate in r["molecules_per_s"].items():
        ratio = r["ratio_to_bare"][label]
        goal = "" if label == "bare RDKit loop" else ("≥ 0.7x: met" if ratio >= 0.7 else f"≥ 0.7x: missed ({ratio:.3f}x)")
        lines.append(f"| {label} | {rate:,.0f} | {ratio:.3f}x | {goal} |")
    shares = ", ".join(f"{k} {v:.0%}" for k, v in r["default_screen_time_share"].items())
    return "\n".join(lines) + (f"\n\nTime of the default screen by stage: {shares}. Best of {r['repeats']}, sides "
                               f"alternating; {r['machine']}; load {r['load_end']} at the end.")


def _verdict(ok: bool, missed: str) -> str:
    return "met" if ok else f"missed ({missed})"


def stream_scale(_runs, _meta) -> str:
    """Issue 15's memory and scaling targets, from bench/stream_scale.py's result file."""
    path = ROOT / "bench" / "results" / "stream_scale.json"
    if not path.is_file():
        return "(no bench/results/stream_scale.json: run the commands in bench/stream_scale.py's docstring)"
    r = json.loads(path.read_text())
    lines = ["| measure | result | goal | verdict |", "|---|---|---|---|"]
    notes = []
    if "featurize" in r:
        f = r["featurize"]
        stream = {x["n"]: x for x in f["runs"] if x["mode"] == "stream"}
        memory = {x["n"]: x for x in f["runs"] if x["mode"] == "memory"}
        big = max(stream)
        peaks = ", ".join(f"{n:,}: {x['peak_mib']:,.0f} MiB ({x['rows_per_s']:,} rows/s)" for n, x in sorted(stream.items()))
        before = ", ".join(f"{n:,}: {x['peak_mib']:,.0f} MiB" for n, x in sorted(memory.items()))
        flat = stream[big]["peak_mib"] < 1536
        lines.append(f"| featurize MOSES SMILES to disk (ECFP 2,048 + meta, {f['n_jobs']} workers), peak memory "
                     f"of the job | streamed: {peaks}; the in-memory path it replaced: {before} | < 1.5 GB at "
                     f"{big:,}, same bytes on 10k | {_verdict(flat and all(f['same_bytes_10k'].values()), 'see result')} |")
        notes.append(f"featurize: {f['machine']['affinity']} cores, load {f['machine']['load_start'][0]:.1f} → "
                     f"{f['machine']['load_end'][0]:.1f}")
    if "train" in r:
        t = r["train"]
        runs = {x["mode"]: x for x in t["runs"]}
        lines.append(f"| train one epoch from the memory map vs from memory ({t['rows']:,} ECFP rows, "
                     f"{t['model']}) | disk {runs['disk']['rows_per_s']:,} rows/s, memory "
                     f"{runs['memory']['rows_per_s']:,} rows/s ({t['disk_vs_memory_speed']:.2f}x); peak "
                     f"{runs['disk']['peak_mib']:,.0f} vs {runs['memory']['peak_mib']:,.0f} MiB; same first-epoch loss: "
                     f"{'yes' if t['same_first_epoch_loss'] else 'no'} | same numbers | "
                     f"{_verdict(t['same_first_epoch_loss'], 'numbers differ')} |")
    if "screen_scaling" in r:
        sc = r["screen_scaling"]
        screens = [x for x in sc["runs"] if not x["setup"].startswith("bare")]
        rates = ", ".join(f"{x['setup']} {x['mol_per_s']:,.0f}/s" for x in screens)
        best = max(sc["speedup_2_shards"], sc["speedup_2_workers"])
        ceiling = (f"; the machine itself: two bare RDKit loops side by side run "
                   f"{sc['machine_two_core_ceiling']:.2f}x one" if "machine_two_core_ceiling" in sc else "")
        every = {x["setup"]: x.get("all_s", [x["wall_s"]]) for x in sc["runs"]}
        per_round = [one / shards for one, shards in zip(every["1 process"], every["2 shards"])]
        if len(per_round) > 1:
            ceiling += f" (2 shards round by round: {', '.join(f'{x:.2f}x' for x in per_round)})"
        lines.append(f"| screen {sc['n']:,} MOSES molecules, {sc['filters']}: scaling | {rates}; 2 shards "
                     f"{sc['speedup_2_shards']:.2f}x, 2 workers {sc['speedup_2_workers']:.2f}x one process{ceiling} "
                     f"| 2 cores ≥ 1.8x one | {_verdict(best >= 1.8, f'{best:.2f}x')}"
                     f"{' at best, not in every round' if best >= 1.8 and min(per_round) < 1.8 else ''} |")
        notes.append(f"scaling: best of {sc.get('repeats', 1)} alternating rounds, load "
                     f"{sc['machine']['load_start'][0]:.1f} → {sc['machine']['load_end'][0]:.1f}")
    if "screen_memory" in r:
        m = r["screen_memory"]
        peaks = ", ".join(f"{x['n']:,}: {x['peak_mib']:,.0f} MiB ({x['mol_per_s']:,.0f} molecules/s)" for x in m["runs"])
        top = max(x["peak_mib"] for x in m["runs"])
        ratio = m["peak_ratio_largest_smallest"]
        ok = top < 2048 and ratio <= 1.2
        lines.append(f"| screen peak memory, {m['n_jobs']} workers, alerts: {m['filters']} | {peaks}; largest / "
                     f"smallest {m['peak_ratio_largest_smallest']:.2f} | < 2 GB, flat within 20 % | "
                     f"{_verdict(ok, f'{top:,.0f} MiB, ratio {ratio:.2f}')} |")
        notes.append(f"screen memory: load {m['machine']['load_start'][0]:.1f} → {m['machine']['load_end'][0]:.1f}")
    first = next(iter(r.values()))["machine"]
    return "\n".join(lines) + (f"\n\nPeak = memory of the job's whole process tree (workers included; proportional set size, so pages shared by forked workers count once), sampled "
                               f"every 50 ms; each measurement in a fresh process. {first['cpus']} CPUs, Python "
                               f"{first['python']}, torch {first['torch']}, RDKit {first['rdkit']}; "
                               + "; ".join(notes) + ".")


def erk2_validation(_runs, _meta) -> str:
    """The book's Chapter 11 validation on DUD-E ERK2, from bench/dude_erk2.py's result file."""
    path = ROOT / "bench" / "results" / "dude_erk2.json"
    if not path.is_file():
        return "(no bench/results/dude_erk2.json: run python bench/dude_erk2.py)"
    r = json.loads(path.read_text())
    low, high = r["anchor"]["mcc_range"]
    names = {"mlp": "biodl MLP (ECFP)", "mpnn": "biodl D-MPNN (graph)", "rf": "random forest (ECFP)"}

    def cell(summary: dict, metric: str, digits: int) -> str:
        return f"{summary[metric]['mean']:.{digits}f} ± {summary[metric]['sd']:.{digits}f}"

    lines = ["| split | model | EF1% (replicates at its ceiling) | BEDROC α=20 | ROC-AUC | MCC | replicates with "
             f"MCC ≥ {low} (the book's graph conv.: {low}–{high}) |", "|---|---|---|---|---|---|---|"]
    for split, result in r["results"].items():
        reps = result["replicates"]
        for model, summary in result["summary"].items():
            at_ceiling = sum(rep["models"][model]["ef1"] >= rep["ef1_ceiling"] - 1e-9 for rep in reps)
            mccs = [rep["models"][model]["mcc"] for rep in reps]
            lines.append(f"| {split} | {names.get(model, model)} | {cell(summary, 'ef1', 1)} ({at_ceiling}/{len(reps)}) "
                         f"| {cell(summary, 'bedroc20', 3)} | {cell(summary, 'roc_auc', 3)} | {cell(summary, 'mcc', 2)} | "
                         f"{sum(m >= low for m in mccs)}/{len(mccs)} |")
    d, m = r["data"], r["machine"]
    actives = sorted(rep["actives"]["test"] for res in r["results"].values() for rep in res["replicates"])
    return "\n".join(lines) + (
        f"\n\nMean ± sd over {r['settings']['replicates']} replicates per split (split and training seed r); "
        f"{d['kept']:,} molecules kept ({d['actives']} actives; {len(d['rejects'])} repeated decoy ids rejected); "
        f"test parts of {reps[0]['sizes']['test']} molecules with {actives[0]}–{actives[-1]} actives, so EF1% "
        f"(top 1 %) often hits its ceiling and one replicate moves it a lot. MCC at the threshold chosen on "
        f"validation. {m['cpu_count']} CPUs, 1 thread, load {m['load_average_start'][0]:.1f} → "
        f"{m['load_average_end'][0]:.1f}; {r['wall_s'] / 60:.0f} min; biodl at {m['versions']['biodl_src_commit']}, "
        f"torch {m['versions']['torch']}, RDKit {m['versions']['rdkit']}.")


def mpnn_speed(_runs, _meta) -> str:
    path = ROOT / "bench" / "results" / "mpnn_speed.json"
    if not path.is_file():
        return "(no bench/results/mpnn_speed.json: run python bench/mpnn_speed.py --json bench/results/mpnn_speed.json)"
    r = json.loads(path.read_text())
    lines = ["| model (Tox21, hidden 300, depth 3, batch 64, same epochs and threads) | best wall s | molecules/s "
             "per epoch | CPU s |", "|---|---|---|---|"]
    for name, rate in r["molecules_per_s"].items():
        lines.append(f"| {name} | {min(r['wall_s'][name]):.1f} | {rate:,.0f} | {min(r['cpu_s'][name]):.1f} |")
    lines.append(f"| **ratio biodl / Chemprop** | | **{r['ratio']:.2f}×** (goal ≥ 1.5×) | {r['cpu_ratio']:.2f}× |")
    return "\n".join(lines) + (f"\n\n{r['n_train']:,} training molecules, {r['epochs']} epochs, {r['threads']} torch "
                               f"threads, best of {r['runs']} round-robin runs, load average "
                               f"{min(r['load']):.1f}–{max(r['load']):.1f}; chemprop {r['chemprop']}, torch {r['torch']}.")


TABLES = {"default-results": lambda runs, meta: default_results_table(runs) + run_line(meta),
          "molecule-targets": molecule_targets, "mpnn-speed": mpnn_speed, "genomics-targets": genomics_targets,
          "genome-windows": genome_windows, "featurize-speed": featurize_speed,
          "segmentation-targets": segmentation_targets, "segmentation-workflow": segmentation_workflow,
          "ism-speed": ism_speed, "interpret-targets": interpret_targets, "interpret-default": interpret_default,
          "interpret-figures": interpret_figures, "screen-speed": screen_speed,
          "stream-scale": stream_scale, "screen-default": screen_default, "erk2-validation": erk2_validation,
          # issue 13's full-size experiment from config/benchmark.yaml (collect --out bench/results/segmentation_full_run)
          "segmentation-full": lambda _runs, _meta: segmentation_workflow(_load(SEGMENTATION_FULL_RUN)[0], None)
          + run_line(_load(SEGMENTATION_FULL_RUN)[1]),
          # issue 12's JUND experiments, run from config/benchmark.yaml (collect --out bench/results/jund_run)
          "jund-workflow": lambda _runs, _meta: default_results_table(_load(JUND_RUN)[0]) + run_line(_load(JUND_RUN)[1])}


def render(text: str) -> str:
    runs, meta = _load()
    for name, make in TABLES.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} \(bench/readme_results.py\) -->\n).*?(<!-- END {name} -->)",
                             re.DOTALL)
        if not pattern.search(text):
            sys.exit(f"readme_results: README.md has no '{name}' markers")
        text = pattern.sub(lambda match: match.group(1) + make(runs, meta) + "\n" + match.group(2), text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--metrics", type=Path, default=ROOT / "results" / "metrics")
    c.add_argument("--snakemake-log", type=Path)
    c.add_argument("--out", type=Path, default=SNAPSHOT, help="snapshot folder (default: the default run's)")
    sub.add_parser("write")
    sub.add_parser("check")
    args = parser.parse_args(argv)
    if args.command == "collect":
        collect(args.metrics, args.snakemake_log, args.out)
        if (args.metrics.parent / "interpret").is_dir():
            collect_interpretation(args.metrics.parent / "interpret", args.out)
        if (args.metrics.parent / "screens").is_dir():
            collect_screens(args.metrics.parent / "screens", args.out)
        return 0
    current = README.read_text()
    expected = render(current)
    if args.command == "write":
        README.write_text(expected)
        return 0
    if current != expected:
        print("README.md's result tables differ from bench/results/: run python bench/readme_results.py write",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
