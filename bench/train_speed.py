"""Training throughput: biodl MLP vs DeepChem MultitaskRegressor on identical data, side by side.

    python bench/train_speed.py [--epochs 10] [--repeat 2]

Data: RDKit's NCI first_5K.smi x repeat, ECFP4 2048 bits; target: Crippen logP (a real property
computed by RDKit). Both models: one hidden layer of 1000, dropout 0.5, batch 100, Adam lr 1e-3,
the same epochs (DeepChem's MultitaskRegressor defaults). biodl also scores a 10 % validation split
every epoch (early-stopping bookkeeping), which DeepChem's fit does not; that time is included.
Prints training samples/s and the ratio (goal >= 2x).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def data(repeat: int):
    import rdkit
    from rdkit import Chem, RDLogger
    from rdkit.Chem import Crippen

    from biodl.featurizers import ECFP

    RDLogger.DisableLog("rdApp.*")
    path = Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"
    smiles = [line.split()[0] for line in path.read_text().splitlines() if line.split()] * repeat
    result = ECFP(n_jobs=2).featurize(smiles, meta=False)
    y = np.array([Crippen.MolLogP(Chem.MolFromSmiles(smiles[i])) for i in result.kept], np.float32)[:, None]
    return result.X, y


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    import torch

    X, y = data(args.repeat)
    n_valid = len(X) // 10
    Xtr, ytr, Xva, yva = X[n_valid:], y[n_valid:], X[:n_valid], y[:n_valid]
    print(f"{len(Xtr):,} training molecules x 2048 bits, {args.epochs} epochs, torch threads "
          f"{torch.get_num_threads()}")

    from biodl.train import fit

    # warm-up: one-time imports (scikit-learn metrics, model registry) are not training throughput
    fit({"type": "mlp", "hidden": [8]}, Xtr[:64], ytr[:64], Xva[:16], yva[:16], task_type="regression",
        tasks=["logp"], config={"epochs": 1, "progress": False})
    t0 = time.perf_counter()
    model, history = fit({"type": "mlp", "hidden": [1000], "dropout": 0.5}, Xtr, ytr, Xva, yva,
                         task_type="regression", tasks=["logp"],
                         config={"epochs": args.epochs, "batch_size": 100, "lr": 1e-3, "patience": args.epochs,
                                 "progress": False, "seed": 0})
    biodl_s = time.perf_counter() - t0
    biodl_rate = len(Xtr) * args.epochs / biodl_s
    rmse = float(np.sqrt(np.mean((model.predict(Xva) - yva) ** 2)))
    print(f"  biodl mlp                      {biodl_s:7.2f} s  {biodl_rate:10,.0f} samples/s  valid RMSE {rmse:.3f}")

    try:
        import deepchem as dc
    except ImportError:
        print("  deepchem not installed: no comparison")
        return 0
    train = dc.data.NumpyDataset(Xtr.astype(np.float32), ytr)
    dc_model = dc.models.MultitaskRegressor(1, 2048, layer_sizes=[1000], dropouts=0.5, batch_size=100,
                                            learning_rate=1e-3)
    t0 = time.perf_counter()
    dc_model.fit(train, nb_epoch=args.epochs)
    dc_s = time.perf_counter() - t0
    dc_rate = len(Xtr) * args.epochs / dc_s
    dc_rmse = float(np.sqrt(np.mean((dc_model.predict_on_batch(Xva.astype(np.float32)).reshape(-1, 1) - yva) ** 2)))
    print(f"  DeepChem MultitaskRegressor    {dc_s:7.2f} s  {dc_rate:10,.0f} samples/s  valid RMSE {dc_rmse:.3f}")
    print(f"\nratio biodl / DeepChem: {biodl_rate / dc_rate:.2f}x  (goal >= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
