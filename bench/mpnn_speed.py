"""Graph-model training throughput: biodl's D-MPNN vs Chemprop 2.3 on identical molecules, side by side.

    python bench/mpnn_speed.py [--epochs 5] [--threads 2] [--runs 2] [--json bench/results/mpnn_speed.json]

Data: Tox21 (data/molecules/tox21.csv.gz, 7,823 molecules after both tools' rejects, 12 tasks with
missing labels), the first 90 % to train, the rest to validate every epoch. Both models: Chemprop's
defaults — directed bond messages, hidden 300, depth 3, mean aggregation, one FFN layer of 300, no
dropout, no batch norm, batch 64, Adam — the same epochs, the same torch threads, one process.
Chemprop runs as its users run it: ``MoleculeDataset`` with its graph cache on (its CLI default),
``build_dataloader`` (no workers, its CLI default) and a Lightning ``Trainer`` with validation each
epoch. biodl runs ``biodl.train.fit`` on the ``molgraph`` arrays (validation scored every epoch
too). Featurization is timed apart from training: Chemprop's cache fill and biodl's featurizer.

Prints molecules/s per training epoch (wall clock) and the ratio (goal: biodl >= 1.5x Chemprop),
plus process CPU seconds and the load average. ``--runs N`` trains each N times, round robin, and
compares the best runs, because other jobs on a shared machine move wall-clock numbers.

Chemprop is a bench-only peer (``pip install --no-deps chemprop==2.3.1`` then the ``bench`` extra):
chemprop 2.3.1 requires ``cuik_molmaker_pin``, which pins RDKit 2026.03 and conflicts with biodl's
RDKit; cuik_molmaker serves only Chemprop's optional GPU featurizer, so an empty module stands in
for it here and the ordinary RDKit featurizer runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOX21 = ROOT / "data" / "molecules" / "tox21.csv.gz"
TASKS = ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
         "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53"]
HIDDEN, DEPTH, FFN, BATCH = 300, 3, 300, 64


def import_chemprop():
    sys.modules.setdefault("cuik_molmaker", types.ModuleType("cuik_molmaker"))  # see the module docstring
    try:
        import chemprop  # noqa: F401
        import lightning  # noqa: F401
    except ImportError as e:
        sys.exit(f"mpnn_speed: Chemprop is not installed ({e}); see this script's docstring")
    return chemprop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="write the measurements here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    chemprop = import_chemprop()
    from chemprop import data as cdata
    from chemprop import featurizers as cfeat
    from chemprop import models as cmodels
    from chemprop import nn as cnn
    from lightning import pytorch as pl

    from biodl.dataset import featurize_source
    from biodl.train import fit

    tmp = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    ds = featurize_source({"format": "csv", "path": str(TOX21), "input": "smiles", "id": "mol_id", "targets": TASKS},
                          "molgraph", tmp / "graphs", n_jobs=1, progress=False)
    t_biodl_feat = time.perf_counter() - t0
    smiles = ds.meta["smiles"].tolist() if "smiles" in ds.meta else None
    if smiles is None:
        import pandas as pd

        raw = pd.read_csv(TOX21)
        smiles = raw["smiles"].to_numpy()[ds.meta["row"].to_numpy()].tolist()
    y = ds.y
    n_train = int(len(y) * 0.9)
    tr, va = np.arange(n_train), np.arange(n_train, len(y))
    X = ds.X
    Xtr, Xva = X[tr], X[va]  # compacted in memory, as fit's callers hand them over

    t0 = time.perf_counter()
    featurizer = cfeat.SimpleMoleculeMolGraphFeaturizer()
    def dataset(rows):
        points = [cdata.MoleculeDatapoint.from_smi(smiles[i], y[i]) for i in rows]
        d = cdata.MoleculeDataset(points, featurizer)
        d.cache = True  # featurizes every molecule now, as Chemprop's CLI does by default
        return d
    ctrain, cvalid = dataset(tr), dataset(va)
    t_chemprop_feat = time.perf_counter() - t0
    print(f"Tox21: {len(tr):,} training + {len(va):,} validation molecules, {len(TASKS)} tasks; {args.epochs} "
          f"epochs; torch threads {torch.get_num_threads()}; chemprop {chemprop.__version__}, torch "
          f"{torch.__version__}")
    print(f"featurize: biodl molgraph {t_biodl_feat:.1f} s (all {len(y):,}, to disk), Chemprop cache "
          f"{t_chemprop_feat:.1f} s")

    spec = {"type": "mpnn", "hidden": HIDDEN, "depth": DEPTH, "aggregation": "mean", "ffn_hidden": [FFN],
            "dropout": 0.0, "batch_norm": False}

    def biodl():
        model, history = fit(spec, Xtr, y[tr], Xva, y[va], task_type="binary", tasks=TASKS,
                             config={"epochs": args.epochs, "batch_size": BATCH, "lr": 1e-3,
                                     "patience": args.epochs, "progress": False, "seed": 0})
        return history[-1]["valid_roc_auc"] if "valid_roc_auc" in history[-1] else None

    def chemprop_run():
        torch.manual_seed(0)
        train_loader = cdata.build_dataloader(ctrain, batch_size=BATCH, num_workers=0, seed=0)
        valid_loader = cdata.build_dataloader(cvalid, batch_size=BATCH, num_workers=0, shuffle=False)
        mp = cnn.BondMessagePassing(d_v=featurizer.atom_fdim, d_e=featurizer.bond_fdim, d_h=HIDDEN, depth=DEPTH)
        ffn = cnn.BinaryClassificationFFN(n_tasks=len(TASKS), input_dim=mp.output_dim, hidden_dim=FFN,
                                          n_layers=1)
        model = cmodels.MPNN(mp, cnn.MeanAggregation(), ffn, batch_norm=False, metrics=[cnn.metrics.BinaryAUROC()])
        trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(model, train_loader, valid_loader)
        return float(trainer.callback_metrics.get("val/roc", float("nan")))

    # warm-up: one-time imports and kernel selection are not training throughput
    fit(spec, Xtr[:128], y[tr[:128]], Xva[:64], y[va[:64]], task_type="binary", tasks=TASKS,
        config={"epochs": 1, "progress": False})
    runners = {"biodl mpnn": biodl, "Chemprop 2.3 MPNN (cached graphs)": chemprop_run}
    wall: dict[str, list] = {k: [] for k in runners}
    cpu: dict[str, list] = {k: [] for k in runners}
    loads = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and logging
        for run in range(args.runs):
            for label, train_once in runners.items():
                t0, c0 = time.perf_counter(), time.process_time()
                auc = train_once()
                wall[label].append(time.perf_counter() - t0)
                cpu[label].append(time.process_time() - c0)
                loads.append(os.getloadavg()[0])
                print(f"  run {run + 1}  {label:<34} {wall[label][-1]:7.1f} s  "
                      f"{len(tr) * args.epochs / wall[label][-1]:8,.0f} molecules/s  valid ROC-AUC "
                      f"{auc if auc is not None else float('nan'):.3f}  (CPU {cpu[label][-1]:.1f} s, load "
                      f"{loads[-1]:.1f})", flush=True)
    rates = {k: len(tr) * args.epochs / min(v) for k, v in wall.items()}
    ratio = rates["biodl mpnn"] / rates["Chemprop 2.3 MPNN (cached graphs)"]
    cpu_ratio = min(cpu["Chemprop 2.3 MPNN (cached graphs)"]) / min(cpu["biodl mpnn"])
    print(f"\nbest of {args.runs} run(s): " + ", ".join(f"{k} {v:,.0f} molecules/s" for k, v in rates.items()))
    print(f"ratio biodl / Chemprop: {ratio:.2f}x per epoch (goal >= 1.5x); CPU-time ratio {cpu_ratio:.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "data": "tox21", "n_train": len(tr), "n_valid": len(va), "epochs": args.epochs,
            "threads": args.threads, "runs": args.runs, "chemprop": chemprop.__version__,
            "torch": torch.__version__, "molecules_per_s": rates, "ratio": ratio, "cpu_ratio": cpu_ratio,
            "wall_s": wall, "cpu_s": cpu, "featurize_s": {"biodl": t_biodl_feat, "chemprop": t_chemprop_feat},
            "load": loads}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
