"""Screening speed per core (issue 15): `biodl screen` beside the bare RDKit loop, one process.

    python bench/screen_speed.py --n 5000 --json bench/results/screen_speed.json

The library is the first ``--n`` SMILES of MUV (data/molecules/muv.csv.gz: real screening
compounds). The anchor is the issue's: a bare RDKit loop that parses each SMILES and computes its
Morgan fingerprint (radius 2, 1,024 bits), molecules per second on one core. biodl's screen runs on
one torch thread with a small ECFP MLP trained here on the solubility training file (no σ: the
model's cost is not the point), once with the default alerts (PAINS, Brenk, Inpharmatica), once with
Brenk and Inpharmatica, once without alerts; each side runs ``--repeats`` times, alternating, best
counts. The stage breakdown comes from one profiled pass of the default screen.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bare(smiles: list[str]) -> float:
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    start = time.perf_counter()
    for text in smiles:
        mol = Chem.MolFromSmiles(text)
        if mol is not None:
            gen.GetFingerprintAsNumPy(mol)
    return time.perf_counter() - start


def _model(work: Path) -> Path:
    from biodl.cli import main

    data = ROOT / "data" / "molecules" / "solubility_train.csv"
    steps = [["featurize", str(data), "--input-col", "smiles", "--id-col", "id", "--targets", "logS", "--featurizer",
              json.dumps({"type": "ecfp", "radius": 2, "n_bits": 1024}), "-o", str(work / "fs")],
             ["split", "--features", str(work / "fs"), "--spec", '{"method": "random"}', "-o", str(work / "split.json")],
             ["train", "--name", "bench", "--features", str(work / "fs"), "--split", str(work / "split.json"),
              "--experiment", json.dumps({"task": "regression", "model": {"type": "mlp", "hidden": [256]},
                                          "train": {"epochs": 5, "progress": False}}),
              "--progress", "0", "-o", str(work / "model")]]
    for step in steps:
        if main(step) != 0:
            sys.exit(f"screen_speed: {step[0]} failed")
    return work / "model" / "model.pt"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import pandas as pd
    import torch
    from rdkit import RDLogger

    from biodl.stages.screen import screen_library

    torch.set_num_threads(1)
    RDLogger.DisableLog("rdApp.*")
    smiles = pd.read_csv(ROOT / "data" / "molecules" / "muv.csv.gz", usecols=["smiles"])["smiles"].head(args.n).tolist()
    variants = {"default alerts (PAINS, Brenk, Inpharmatica)": None,
                "Brenk + Inpharmatica": ["brenk", "inpharmatica"], "no alerts": []}
    times: dict[str, list[float]] = {"bare RDKit loop": [], **{k: [] for k in variants}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = _model(work)
        library = work / "library.smi"
        library.write_text("".join(f"{s} m{i}\n" for i, s in enumerate(smiles)))
        for _ in range(args.repeats):
            times["bare RDKit loop"].append(_bare(smiles))
            for label, catalogs in variants.items():
                start = time.perf_counter()
                screen_library(model, library, work / "out", catalogs=catalogs, progress=False)
                times[label].append(time.perf_counter() - start)
        profile = cProfile.Profile()
        profile.enable()
        screen_library(model, library, work / "out", progress=False)
        profile.disable()
    stats = pstats.Stats(profile).stats
    stage_functions = {"standardize": "standardize", "alerts": "alerts", "domain": "assess",
                       "predict": "predict_with_uncertainty", "featurize": "featurize"}
    total = max(v[3] for v in stats.values())
    stages = {}
    for stage, function in stage_functions.items():
        cumulative = sum(v[3] for (file, _, name), v in stats.items() if name == function and "biodl" in file)
        stages[stage] = round(cumulative / total, 3)
    rates = {label: round(len(smiles) / min(t), 1) for label, t in times.items()}
    bare = rates["bare RDKit loop"]
    result = {"n": len(smiles), "repeats": args.repeats, "molecules_per_s": rates,
              "ratio_to_bare": {label: round(rate / bare, 4) for label, rate in rates.items()},
              "best_s": {label: round(min(t), 2) for label, t in times.items()},
              "all_s": {label: [round(x, 2) for x in t] for label, t in times.items()},
              "default_screen_time_share": stages, "load_end": round(os.getloadavg()[0], 2),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, 1 torch thread, Python "
                         f"{platform.python_version()}, torch {torch.__version__}"}
    for label, rate in rates.items():
        print(f"{label:45s} {rate:>9,.0f} molecules/s  {result['ratio_to_bare'][label]:.3f}x the bare loop")
    print("time share of the default screen:", stages)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
