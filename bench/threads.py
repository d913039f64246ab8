"""CPU seconds of one training job, alone and beside a second CPU-bound process, with OpenMP's
passive wait policy (what `biodl train --threads N` sets) and with its spinning default.

A job that spins idle threads burns the cores Snakemake gave other jobs: on a busy machine its CPU
time grows while its result stays the same. Each condition trains the same model from the same
seed; the script checks the validation scores are identical and prints CPU seconds, wall seconds
and the ratio to the quiet passive run.

    python bench/threads.py [--threads 2] [--epochs 30] [--out bench/results/threads.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _spin(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x += 1


def _prepare(work: Path) -> tuple[Path, Path]:
    features, split = work / "features", work / "split.json"
    source = {"format": "csv", "path": str(ROOT / "data" / "molecules" / "freesolv.csv"), "input": "smiles",
              "id": "id", "targets": ["expt"]}
    subprocess.run([sys.executable, "-m", "biodl", "featurize", "--source", json.dumps(source), "--featurizer",
                    '{"type": "ecfp", "radius": 2, "n_bits": 2048, "counts": true}', "-o", str(features)],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "biodl", "split", "--features", str(features), "--spec",
                    '{"method": "random"}', "-o", str(split)], check=True, capture_output=True)
    return features, split


def _train(work: Path, features: Path, split: Path, threads: int, epochs: int, wait_policy: str | None) -> dict:
    experiment = {"dataset": "freesolv", "featurizer": "ecfp", "split": "random", "task": "regression",
                  "model": {"type": "mlp", "hidden": [512, 128], "dropout": 0.2},
                  "train": {"epochs": epochs, "batch_size": 32, "patience": epochs, "progress": False}}
    env = {**os.environ}
    env.pop("OMP_WAIT_POLICY", None)
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    out = work / f"model-{wait_policy}-{time.time_ns()}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "biodl", "train", "--name", "bench", "--experiment", json.dumps(experiment),
                    "--features", str(features), "--split", str(split), "--threads", str(threads), "-o", str(out)],
                   check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    manifest = json.loads((out / "manifest.json").read_text())
    score = {k: v for k, v in manifest.items() if k.startswith("valid_")}
    return {"cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
            "wall_s": round(wall, 2), "valid": score}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "threads.json"))
    args = parser.parse_args()
    results = {"load_before": os.getloadavg(), "cores": os.cpu_count(), "threads": args.threads, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        features, split = _prepare(work)
        # ACTIVE is what an unset policy does in practice for GNU OpenMP while work is frequent
        for busy in (False, True):
            for policy in ("PASSIVE", "ACTIVE"):
                spinner = None
                if busy:
                    spinner = mp.Process(target=_spin, args=(time.time() + 3600,), daemon=True)
                    spinner.start()
                try:
                    run = _train(work, features, split, args.threads, args.epochs, policy)
                finally:
                    if spinner is not None:
                        spinner.terminate()
                        spinner.join()
                key = f"{'busy' if busy else 'quiet'}_{policy.lower()}"
                results["runs"][key] = run
                print(f"{key:16s} cpu {run['cpu_s']:7.1f} s  wall {run['wall_s']:6.1f} s  {run['valid']}", flush=True)
    base = results["runs"]["quiet_passive"]["cpu_s"]
    for key, run in results["runs"].items():
        run["cpu_ratio_to_quiet_passive"] = round(run["cpu_s"] / base, 2)
    scores = {json.dumps(run["valid"], sort_keys=True) for run in results["runs"].values()}
    results["same_result_every_run"] = len(scores) == 1
    results["load_after"] = os.getloadavg()
    print(f"CPU ratio busy/quiet: passive {results['runs']['busy_passive']['cpu_ratio_to_quiet_passive']}, "
          f"active {results['runs']['busy_active']['cpu_ratio_to_quiet_passive']}; same result every run: "
          f"{results['same_result_every_run']}; load {results['load_before']} -> {results['load_after']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
