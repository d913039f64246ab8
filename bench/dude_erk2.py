"""The book's Chapter 11 validation: DUD-E ERK2 (MK01) actives vs decoys, three models side by side.

    python bench/dude_erk2.py [--replicates 5] [--splits random,scaffold] [--out bench/results/dude_erk2.json]

Data: data/molecules/dude_erk2_mk01.csv (79 actives, 4,550 DUD-E decoys; see data/README.md), read
as ``{format: csv, input: SMILES, id: ID, targets: [is_active]}``: two decoy rows repeat a ZINC id
and are rejected by biodl's reader, 4,627 molecules are kept (79 actives).

Replicates: replicate ``r`` splits 80/10/10 with ``make_split(..., {"method": ..., "seed": r})`` and
trains every model with seed ``r``, so a rerun gives the same numbers. ``random`` is the book's
split; ``scaffold`` (Bemis–Murcko, ``keep_positives`` so valid and test hold actives) is reported
beside it, labelled as such. Everything that is chosen is chosen on the validation part, never on
test: the early-stopping epoch of the two networks and the probability threshold for MCC (the one
with the largest validation MCC).

Models (all on biodl's own featurizers and split):

* biodl MLP on ECFP (radius 2, 2,048 bits): the book's one hidden layer of 1,000 with dropout 0.5,
  ``biodl.train.fit`` with balanced class weights, early-stopped on validation PR-AUC.
* biodl D-MPNN (``mpnn`` on ``molgraph``, no molecule-level descriptors), the graph model standing
  in for the book's graph convolution; same loss weighting and early stopping. Hidden 128, not
  Chemprop's 300, so that the bench fits in ~15 min on one core (the book's GraphConvModel is of
  that size: 64-wide convolutions, a 128-wide dense layer).
* random forest on the same ECFP bits: ``biodl.baselines`` ``random_forest`` (scikit-learn,
  500 trees, ``max_features="sqrt"``), **no** class weighting.

Test metrics per replicate: EF1% (``rdkit.ML.Scoring.Scoring.CalcEnrichment``), BEDROC α = 20
(``CalcBEDROC``), ROC-AUC and MCC (scikit-learn). The ranking for EF and BEDROC puts decoys before
actives among tied scores (the pessimistic order; the file lists its actives first, so row order
would flatter tied models). With ~460 test molecules the top 1 % is 5 molecules: EF1% moves in steps
and is capped at min(actives, 5) / 5 x N / actives, recorded per replicate beside the test actives.
Anchor: the book's graph-convolution ERK2 MCC ranged 0.35-0.81 across its splits.

Note: DUD-E decoys were chosen to be topologically unlike the actives, so 2D fingerprints separate
them almost perfectly, on scaffold splits too (a known bias of DUD-E, not a property of ERK2 binding).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "molecules" / "dude_erk2_mk01.csv"
SOURCE = {"format": "csv", "path": str(DATA), "input": "SMILES", "id": "ID", "targets": ["is_active"]}
TASKS = ["is_active"]
ECFP = {"type": "ecfp", "radius": 2, "n_bits": 2048}
GRAPH = {"type": "molgraph"}
MLP = {"type": "mlp", "hidden": [1000], "dropout": 0.5}
MLP_TRAIN = {"epochs": 60, "patience": 10, "batch_size": 64, "lr": 1e-3, "class_weight": "balanced",
             "monitor": "pr_auc", "progress": False}
MPNN = {"type": "mpnn", "hidden": 128, "depth": 3, "dropout": 0.1, "ffn_hidden": [128], "aggregation": "mean"}
MPNN_TRAIN = {"epochs": 40, "patience": 8, "batch_size": 64, "lr": 1e-3, "class_weight": "balanced",
              "monitor": "pr_auc", "progress": False}
FOREST = {"type": "random_forest", "n_estimators": 500, "max_features": "sqrt"}
SPLITS = {"random": {"method": "random", "fractions": [0.8, 0.1, 0.1]},
          "scaffold": {"method": "scaffold", "keep_positives": True, "fractions": [0.8, 0.1, 0.1]}}
MODELS = {"mlp": "biodl MLP, ECFP 2048 r2, [1000], dropout 0.5 (balanced BCE, early-stopped on valid PR-AUC)",
          "mpnn": "biodl D-MPNN on molgraph, hidden 128, depth 3 (balanced BCE, early-stopped on valid PR-AUC)",
          "rf": "random forest, ECFP 2048 r2, 500 trees, max_features sqrt, no class weighting"}
METRICS = ("ef1", "bedroc20", "roc_auc", "mcc")
ANCHOR = {"mcc_range": [0.35, 0.81],
          "description": "the book's (Deep Learning for the Life Sciences, Chapter 11) graph-convolution model on "
                         "DUD-E ERK2: test MCC ranged 0.35-0.81 across its splits"}


def ranked(y: np.ndarray, score: np.ndarray) -> list[list[float]]:
    """[score, label] rows best first; among equal scores decoys come first (the pessimistic order)."""
    order = np.lexsort((y, -score))
    return [[float(score[i]), int(y[i])] for i in order]


def mcc_threshold(y_valid: np.ndarray, s_valid: np.ndarray) -> float:
    """The threshold (score > t is active) with the largest validation MCC; the highest such t.

    Candidates: midpoints between consecutive distinct validation scores, and one below them all."""
    from sklearn.metrics import matthews_corrcoef

    u = np.unique(s_valid)
    cands = np.concatenate([(u[1:] + u[:-1]) / 2, [u[0] - 1.0]])[::-1]  # high to low
    mccs = [matthews_corrcoef(y_valid, (s_valid > t).astype(int)) for t in cands]
    return float(cands[int(np.argmax(mccs))])


def scores(y: np.ndarray, s: np.ndarray, threshold: float) -> dict:
    from rdkit.ML.Scoring.Scoring import CalcBEDROC, CalcEnrichment
    from sklearn.metrics import matthews_corrcoef, roc_auc_score

    y = y.astype(int)
    rows = ranked(y, s)
    return {"ef1": float(CalcEnrichment(rows, 1, [0.01])[0]), "bedroc20": float(CalcBEDROC(rows, 1, 20.0)),
            "roc_auc": float(roc_auc_score(y, s)), "mcc": float(matthews_corrcoef(y, (s > threshold).astype(int))),
            "mcc_threshold": threshold}


def ef1_ceiling(n: int, actives: int) -> float:
    top = int(np.ceil(0.01 * n))  # CalcEnrichment's top 1 %
    return min(actives, top) / top * n / actives if actives else 0.0


def replicate(split_name: str, r: int, ecfp, graph, log) -> dict:
    from biodl.baselines import make_baseline
    from biodl.splits import make_split
    from biodl.train import fit

    y = ecfp.y
    split = make_split(ecfp.meta, y, {**SPLITS[split_name], "seed": r})
    parts = {p: np.asarray(split[p]) for p in ("train", "valid", "test")}
    tr, va, te = parts["train"], parts["valid"], parts["test"]
    Xe, Xg = np.asarray(ecfp.X), graph.X
    out = {"seed": r, "sizes": {p: len(v) for p, v in parts.items()},
           "actives": {p: int(np.nansum(y[v])) for p, v in parts.items()},
           "audit_duplicated_keys": split["audit"].get("duplicated_keys"), "models": {}}
    out["ef1_ceiling"] = ef1_ceiling(len(te), out["actives"]["test"])
    yv, yt = y[va, 0].astype(int), y[te, 0].astype(int)
    for key in MODELS:
        t0 = time.perf_counter()
        info = {}
        if key == "rf":
            model = make_baseline(FOREST, task_type="binary", seed=r, n_jobs=1).fit(Xe[tr], y[tr])
            sv, st = model.predict(Xe[va])[:, 0], model.predict(Xe[te])[:, 0]
        else:
            X = Xe if key == "mlp" else Xg
            spec, train = (MLP, MLP_TRAIN) if key == "mlp" else (MPNN, MPNN_TRAIN)
            model, history = fit(spec, X[tr], y[tr], X[va], y[va], task_type="binary", tasks=TASKS,
                                 config={**train, "seed": r})
            sv, st = model.predict(X[va])[:, 0], model.predict(X[te])[:, 0]
            info = {"epochs_run": len(history), "best_epoch": model.info["best_epoch"],
                    "best_valid_pr_auc": model.info["best_valid_pr_auc"]}
        thr = mcc_threshold(yv, sv)
        out["models"][key] = {**scores(yt, st, thr), "valid_mcc": scores(yv, sv, thr)["mcc"], **info,
                              "seconds": round(time.perf_counter() - t0, 1)}
    log(f"  {split_name} {r}: test {out['sizes']['test']} ({out['actives']['test']} actives, valid "
        f"{out['actives']['valid']}) " + "; ".join(
            f"{k} EF1% {m['ef1']:.1f} BEDROC {m['bedroc20']:.3f} AUC {m['roc_auc']:.3f} MCC {m['mcc']:.3f}"
            for k, m in out["models"].items())
        + f"  ({sum(m['seconds'] for m in out['models'].values()):.0f} s, load {os.getloadavg()[0]:.2f})")
    return out


def summarize(reps: list[dict]) -> dict:
    out = {}
    for key in MODELS:
        out[key] = {}
        for metric in METRICS:
            v = np.array([rep["models"][key][metric] for rep in reps], float)
            out[key][metric] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else None}
    return out


def fmt(s: dict, digits: int) -> str:
    return f"{s['mean']:.{digits}f}" + ("" if s["sd"] is None else f" ± {s['sd']:.{digits}f}")


def table(split_name: str, summary: dict, reps: list[dict]) -> str:
    actives = [rep["actives"]["test"] for rep in reps]
    lines = [(f"\nDUD-E ERK2, {split_name} split, {len(reps)} replicate(s); test actives per replicate {actives}; "
              "mean ± sd (sd over replicates, ddof 1)"),
             "| model | EF1% | BEDROC α=20 | ROC-AUC | MCC (threshold chosen on valid) |", "|---|---|---|---|---|"]
    for key, name in MODELS.items():
        s = summary[key]
        lines.append(f"| {name} | {fmt(s['ef1'], 1)} | {fmt(s['bedroc20'], 3)} | {fmt(s['roc_auc'], 3)} | "
                     f"{fmt(s['mcc'], 3)} |")
    lines.append(f"| anchor: {ANCHOR['description']} | | | | {ANCHOR['mcc_range'][0]}–{ANCHOR['mcc_range'][1]} |")
    return "\n".join(lines)


def versions() -> dict:
    import rdkit
    import sklearn
    import torch

    import biodl

    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h", "--", "src"], check=False,
                            capture_output=True, text=True).stdout.strip() or None
    return {"biodl": biodl.__version__, "biodl_src_commit": commit, "torch": torch.__version__,
            "rdkit": rdkit.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=5, help="splits per split method (seeds 0..N-1)")
    parser.add_argument("--splits", default="random,scaffold", help="comma list of: " + ", ".join(SPLITS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dude_erk2.json")
    args = parser.parse_args(argv)
    splits = [s for s in args.splits.split(",") if s]
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or args.replicates < 1:
        parser.error(f"unknown split {unknown[0]!r}" if unknown else "--replicates must be >= 1")

    import torch
    from rdkit import RDLogger

    from biodl.dataset import featurize_source

    torch.set_num_threads(1)
    RDLogger.DisableLog("rdApp.*")
    load_start, t_start = os.getloadavg(), time.perf_counter()

    def log(line: str) -> None:
        print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="biodl-bench-erk2-") as tmp:
        t0 = time.perf_counter()
        ecfp = featurize_source(SOURCE, ECFP, Path(tmp) / "ecfp", n_jobs=1, progress=False)
        graph = featurize_source(SOURCE, GRAPH, Path(tmp) / "graph", n_jobs=1, progress=False)
        if not np.array_equal(ecfp.meta["row"].to_numpy(), graph.meta["row"].to_numpy()):
            sys.exit("dude_erk2: the two featurizers kept different rows")
        data = {"file": str(DATA.relative_to(ROOT)), "source": {**SOURCE, "path": str(DATA.relative_to(ROOT))},
                "kept": len(ecfp.y), "actives": int(np.nansum(ecfp.y)),
                "rejects": [f"row {r.row}: {r.reason}" for r in ecfp.rejects.itertuples()],
                "featurize_s": round(time.perf_counter() - t0, 1)}
        log(f"{data['kept']} molecules kept ({data['actives']} actives), {len(data['rejects'])} rejected "
            f"({data['featurize_s']} s to featurize)")
        results = {}
        for split_name in splits:
            reps = [replicate(split_name, r, ecfp, graph, log) for r in range(args.replicates)]
            results[split_name] = {"spec": SPLITS[split_name], "replicates": reps, "summary": summarize(reps)}
    wall = time.perf_counter() - t_start
    for split_name, res in results.items():
        print(table(split_name, res["summary"], res["replicates"]))
    print("\nMCC: threshold per model and replicate = the one maximizing validation MCC (never chosen on test). "
          "EF1% / BEDROC: decoys ranked before actives among tied scores.")
    result = {
        "what": __doc__.splitlines()[0],
        "command": "python bench/dude_erk2.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": data,
        "settings": {"replicates": args.replicates, "seeds": "replicate r: split seed r and training seed r",
                     "splits": {s: SPLITS[s] for s in splits}, "featurizers": {"ecfp": ECFP, "graph": GRAPH},
                     "models": MODELS, "mlp": {"model": MLP, "train": MLP_TRAIN},
                     "mpnn": {"model": MPNN, "train": MPNN_TRAIN}, "rf": FOREST,
                     "mcc_threshold": "per model and replicate: the score threshold (score > t) with the largest "
                                      "MCC on the validation part, never on test",
                     "ef1": "rdkit CalcEnrichment(fractions=[0.01]): top ceil(1 % of test) molecules",
                     "bedroc": "rdkit CalcBEDROC(alpha=20)",
                     "ties": "decoys ranked before actives among equal scores (pessimistic)",
                     "torch_threads": torch.get_num_threads(), "sklearn_n_jobs": 1,
                     "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "anchor": ANCHOR,
        "results": results,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "machine": platform.machine(),
                    "load_average_start": [round(x, 2) for x in load_start],
                    "load_average_end": [round(x, 2) for x in os.getloadavg()], "versions": versions()},
        "wall_s": round(wall, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n{wall:.0f} s wall, load {result['machine']['load_average_start'][0]} -> "
          f"{result['machine']['load_average_end'][0]}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
