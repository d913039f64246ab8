"""Streaming and scale (issue 15): memory and speed of featurizing, training and screening large sets.

Data: the MOSES training set (1,584,663 drug-like SMILES from ZINC Clean Leads) shipped in the
`molsets` wheel on PyPI. Fetch it once, like an install step (nothing is downloaded at run time):

    pip download molsets==0.3.1 --no-deps -d bench/cache

Then, each part writing its entry of bench/results/stream_scale.json:

    python bench/stream_scale.py featurize --sizes 30000 300000 1000000 --n-jobs 2
    python bench/stream_scale.py train --rows 300000
    python bench/stream_scale.py screen-scaling --n 20000
    python bench/stream_scale.py screen-memory --sizes 100000 1584663 --filters none --n-jobs 2

Every measurement runs in a fresh child process; the parent samples the memory of that child and
all its descendants (worker processes included) every 50 ms from /proc — proportional set sizes,
so pages shared by forked workers count once — and "peak" is the whole job's, not one process's. featurize compares streaming to disk (biodl's featurize) with the
in-memory path it replaced (featurize everything, then write) on the same inputs, and checks on the
first 10,000 that both write the same X.npy bytes. train compares one epoch from the memory map
(train.load: disk) with one from memory. screen-scaling screens the same molecules with one worker,
two workers, and two shards run side by side (as `snakemake --cores 2` runs the workflow's shard
jobs), default alerts, and beside them the issue's bare RDKit loop (parse + Morgan bits) once and
twice at the same time — the two-core ceiling of the machine itself; the setups alternate over
`--repeats` rounds and the best of each counts. screen-memory screens the first N molecules with
two workers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEEL = ROOT / "bench" / "cache" / "molsets-0.3.1-py3-none-any.whl"
RESULTS = ROOT / "bench" / "results" / "stream_scale.json"


# -- data -----------------------------------------------------------------------------------------
def moses_smiles(n: int | None = None) -> list[str]:
    """The first ``n`` SMILES of MOSES's training split (all 1,584,663 when None)."""
    import gzip
    import io

    if not WHEEL.is_file():
        sys.exit(f"{WHEEL} missing: run  pip download molsets==0.3.1 --no-deps -d bench/cache")
    with zipfile.ZipFile(WHEEL) as wheel:
        text = gzip.decompress(wheel.read("moses/dataset/data/train.csv.gz")).decode()
    lines = io.StringIO(text).read().splitlines()
    header = lines[0].split(",")
    col = header.index("SMILES")
    smiles = [line.split(",")[col] for line in lines[1:]]
    return smiles if n is None else smiles[:n]


def write_library(path: Path, smiles: list[str]) -> Path:
    with open(path, "w") as fh:
        fh.write("id,smiles\n")
        fh.writelines(f"Z{i},{s}\n" for i, s in enumerate(smiles))
    return path


# -- memory of a process tree ---------------------------------------------------------------------
def _pss(pid: int) -> int:
    """Proportional set size: a page shared by k processes (fork's copy-on-write pages, shared
    libraries) counts 1/k in each, so the sum over a process tree counts it once."""
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def _tree_rss(root: int) -> int:
    """Memory of ``root`` and all its descendants (PSS, from /proc; children by parent id)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for pid in tree:
        try:
            total += _pss(pid)
        except OSError:  # ended between the listing and the read
            pass
    return total


def run_measured(args: list[str], env: dict | None = None) -> dict:
    """Run ``python bench/stream_scale.py _one ...`` in a child; its JSON line plus the peak
    resident memory of its whole process tree and the wall time."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "_one", *args], stdout=subprocess.PIPE,
                            env={**os.environ, **(env or {})}, text=True)
    peak, stop = [0], threading.Event()

    def sample():
        while not stop.wait(0.05):
            try:
                peak[0] = max(peak[0], _tree_rss(proc.pid))
            except OSError:
                pass

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    stop.set()
    thread.join()
    if proc.returncode != 0:
        sys.exit(f"stream_scale: {' '.join(args)} failed ({proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(peak_mib=round(peak[0] / 2**20, 1), wall_s=round(time.perf_counter() - start, 2))
    return result


def machine() -> dict:
    import numpy
    import rdkit
    import torch

    from biodl import __version__

    return {"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "load_start": os.getloadavg(),
            "python": platform.python_version(), "biodl": __version__, "numpy": numpy.__version__,
            "rdkit": rdkit.__version__, "torch": torch.__version__}


def save(part: str, entry: dict) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    entry["machine"]["load_end"] = os.getloadavg()
    results[part] = entry
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {RESULTS} [{part}]")


# -- one measured job (in a child process) --------------------------------------------------------
def one(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("job")
    p.add_argument("--library")
    p.add_argument("--out")
    p.add_argument("--mode", default="stream")
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--model")
    p.add_argument("--filters", default="default")
    p.add_argument("--shard")
    p.add_argument("--chunk-size", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--passes", type=int, default=1)
    a = p.parse_args(argv)
    import numpy as np

    start = time.perf_counter()
    if a.job == "featurize":
        from biodl import dataset as D

        src = {"format": "csv", "path": a.library, "input": "smiles", "id": "id"}
        spec = {"type": "ecfp", "radius": 2, "n_bits": 2048}
        if a.mode == "stream":
            ds = D.featurize_source(src, spec, a.out, n_jobs=a.n_jobs, progress=False)
            kept = len(ds)
        else:  # the path featurize took before streaming: everything in memory, then written
            from biodl.featurizers import make_featurizer
            from biodl.sources import read_source

            table = read_source(src)
            rejected = {r.index for r in table.rejects}
            candidates = np.array([i for i in range(len(table)) if i not in rejected], np.int64)
            kept = len(D._featurize_in_memory(table, make_featurizer(spec, n_jobs=a.n_jobs), candidates,
                                              D._take(table.inputs, candidates), Path(a.out), src, "bench", None))
        print(json.dumps({"rows": kept, "seconds": round(time.perf_counter() - start, 2)}))
    elif a.job == "train":
        import torch

        from biodl.dataset import RowView, load_dataset
        from biodl.train import fit

        torch.set_num_threads(1)
        ds = load_dataset(a.out)
        n = len(ds)
        rng = np.random.default_rng(0)
        y = rng.normal(size=(n, 1)).astype(np.float32)  # throughput only: the target does not matter
        train, valid = np.arange(n - 5000), np.arange(n - 5000, n)
        if a.mode == "disk":
            X_train, X_valid = RowView(ds.X, train), RowView(ds.X, valid)
        else:
            X_train, X_valid = np.asarray(ds.X[train]), np.asarray(ds.X[valid])
        loaded = time.perf_counter() - start
        _, history = fit({"type": "mlp", "hidden": [256], "dropout": 0.1}, X_train, y[train], X_valid, y[valid],
                         task_type="regression", tasks=["y"],
                         config={"epochs": a.epochs, "batch_size": 128, "progress": False, "patience": 5})
        epoch_s = sum(h["seconds"] for h in history) / len(history)
        print(json.dumps({"rows": len(train), "load_s": round(loaded, 2), "epoch_s": round(epoch_s, 2),
                          "rows_per_s": round(len(train) / epoch_s), "train_loss": history[0]["train_loss"]}))
    elif a.job == "bare":  # the anchor loop: parse + Morgan bits, `passes` times over the library
        from rdkit import Chem
        from rdkit.Chem import rdFingerprintGenerator

        with open(a.library) as handle:
            smiles = [line.split(",", 1)[1] for line in handle.read().splitlines()[1:]]  # id,smiles
        generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
        start = time.perf_counter()
        for _ in range(a.passes):
            for text in smiles:
                mol = Chem.MolFromSmiles(text)
                if mol is None:
                    sys.exit(f"bare loop: {text!r} does not parse")  # MOSES parses whole: a wrong column
                generator.GetFingerprintAsNumPy(mol)
        print(json.dumps({"rows": len(smiles) * a.passes, "seconds": round(time.perf_counter() - start, 2)}))
    elif a.job == "screen":
        import torch

        from biodl.stages.screen import screen_library

        torch.set_num_threads(1)
        catalogs = None if a.filters == "default" else [c for c in a.filters.split(",") if c and c != "none"]
        shard = tuple(int(x) for x in a.shard.split("/")) if a.shard else None
        summary = screen_library(a.model, a.library, a.out, id_col="id", catalogs=catalogs, top=1000, picks=100,
                                 chunk_size=a.chunk_size, progress=False, n_jobs=a.n_jobs, shard=shard)
        print(json.dumps({"rows": summary["counts"]["read"], "seconds": round(time.perf_counter() - start, 2)}))


# -- the parts ------------------------------------------------------------------------------------
def part_featurize(a) -> None:
    entry = {"machine": machine(), "featurizer": "ecfp radius 2, 2048 bits, with meta (canonical SMILES, "
                                                 "scaffold)", "n_jobs": a.n_jobs, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        smiles = moses_smiles(max(a.sizes))
        for n in sorted(a.sizes):
            lib = write_library(tmp / f"lib{n}.csv", smiles[:n])
            modes = ["stream"] + (["memory"] if n <= a.memory_max else [])
            for mode in modes:
                r = run_measured(["featurize", "--library", str(lib), "--out", str(tmp / f"{mode}{n}"),
                                  "--mode", mode, "--n-jobs", str(a.n_jobs)])
                r.update(n=n, mode=mode, rows_per_s=round(n / r["seconds"]))
                entry["runs"].append(r)
                print(f"  featurize {mode:<6} {n:>9,}: {r['seconds']:8.1f} s  {r['rows_per_s']:>7,} rows/s  "
                      f"peak {r['peak_mib']:8.1f} MiB (process tree)")
                import shutil

                if n != 10_000:
                    shutil.rmtree(tmp / f"{mode}{n}", ignore_errors=True)
        # same bytes on a 10k subset
        lib = write_library(tmp / "lib10k.csv", smiles[:10_000])
        for mode in ("stream", "memory"):
            run_measured(["featurize", "--library", str(lib), "--out", str(tmp / f"{mode}10k"), "--mode", mode,
                          "--n-jobs", str(a.n_jobs)])
        same = {name: (tmp / "stream10k" / name).read_bytes() == (tmp / "memory10k" / name).read_bytes()
                for name in ("X.npy", "y.npy", "rejects.csv")}
        entry["same_bytes_10k"] = same
        print(f"  10k subset, stream vs memory, same bytes: {same}")
    save("featurize", entry)


def part_train(a) -> None:
    entry = {"machine": machine(), "rows": a.rows, "model": "mlp [256], dropout 0.1, batch 128, 1 torch thread",
             "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lib = write_library(tmp / "lib.csv", moses_smiles(a.rows))
        run_measured(["featurize", "--library", str(lib), "--out", str(tmp / "ds"), "--n-jobs", "2"])
        for mode in ("memory", "disk"):
            r = run_measured(["train", "--out", str(tmp / "ds"), "--mode", mode, "--epochs", str(a.epochs)])
            r["mode"] = mode
            entry["runs"].append(r)
            print(f"  train from {mode:<6}: load {r['load_s']:6.1f} s, epoch {r['epoch_s']:7.1f} s, "
                  f"{r['rows_per_s']:>7,} rows/s, peak {r['peak_mib']:8.1f} MiB, first loss {r['train_loss']:.6f}")
    runs = {r["mode"]: r for r in entry["runs"]}
    entry["disk_vs_memory_speed"] = round(runs["disk"]["rows_per_s"] / runs["memory"]["rows_per_s"], 3)
    entry["same_first_epoch_loss"] = runs["disk"]["train_loss"] == runs["memory"]["train_loss"]
    print(f"  disk / memory speed {entry['disk_vs_memory_speed']}, same loss: {entry['same_first_epoch_loss']}")
    save("train", entry)


def _screen_model(tmp: Path) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    import screen_speed

    return screen_speed._model(tmp)


def _side_by_side(jobs: list[list[str]]) -> float:
    """Wall seconds for ``jobs`` run at the same time, each in its own measured child."""
    start = time.perf_counter()
    threads = [threading.Thread(target=run_measured, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def part_screen_scaling(a) -> None:
    entry = {"machine": machine(), "n": a.n, "filters": "default (PAINS, Brenk, Inpharmatica)",
             "repeats": a.repeats, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = _screen_model(tmp)
        lib = write_library(tmp / "lib.csv", moses_smiles(a.n))
        base = ["screen", "--library", str(lib), "--model", str(model), "--chunk-size", "1000"]
        bare = ["bare", "--library", str(lib), "--passes", str(a.bare_passes)]
        setups = {
            "1 process": lambda: run_measured([*base, "--out", str(tmp / "one")])["wall_s"],
            "2 workers": lambda: run_measured([*base, "--out", str(tmp / "two"), "--n-jobs", "2"])["wall_s"],
            "2 shards": lambda: _side_by_side([[*base, "--out", str(tmp / f"shard{i}"), "--shard", f"{i}/2"]
                                               for i in range(2)]),
            # the machine's own ceiling: the same independent loop once, then twice at the same time
            "bare loop, 1": lambda: _side_by_side([bare]),
            "bare loop, 2 side by side": lambda: _side_by_side([bare, bare]),
        }
        seconds = {label: [] for label in setups}
        for rep in range(a.repeats):  # alternating, so a slow spell of the host hits every setup
            for label, run in setups.items():
                seconds[label].append(round(run(), 2))
                print(f"  round {rep + 1}: {label:<26} {seconds[label][-1]:7.1f} s")
        for label, values in seconds.items():
            work = a.n * (a.bare_passes * (2 if label.endswith("side by side") else 1) if "bare" in label else 1)
            entry["runs"].append({"setup": label, "wall_s": min(values), "all_s": values,
                                  "mol_per_s": round(work / min(values), 1)})
        best = {r["setup"]: r["wall_s"] for r in entry["runs"]}
        entry["speedup_2_workers"] = round(best["1 process"] / best["2 workers"], 3)
        entry["speedup_2_shards"] = round(best["1 process"] / best["2 shards"], 3)
        entry["machine_two_core_ceiling"] = round(2 * best["bare loop, 1"] / best["bare loop, 2 side by side"], 3)
        entry["same_files_2_workers"] = all((tmp / "one" / f).read_bytes() == (tmp / "two" / f).read_bytes()
                                            for f in ("screened.csv", "candidates.csv", "hits.csv"))
        print(f"  best of {a.repeats}: 2 workers {entry['speedup_2_workers']}x, 2 shards "
              f"{entry['speedup_2_shards']}x; two bare loops side by side {entry['machine_two_core_ceiling']}x "
              f"one; same files: {entry['same_files_2_workers']}")
    save("screen_scaling", entry)


def part_screen_memory(a) -> None:
    entry = {"machine": machine(), "filters": a.filters, "n_jobs": a.n_jobs, "chunk_size": 2000, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = _screen_model(tmp)
        smiles = moses_smiles(max(a.sizes))
        for n in sorted(a.sizes):
            lib = write_library(tmp / f"lib{n}.csv", smiles[:n])
            r = run_measured(["screen", "--library", str(lib), "--model", str(model), "--out", str(tmp / f"s{n}"),
                              "--filters", a.filters, "--n-jobs", str(a.n_jobs)])
            r.update(n=n, mol_per_s=round(n / r["seconds"], 1))
            entry["runs"].append(r)
            print(f"  screen {n:>9,}: {r['seconds']:8.1f} s  {r['mol_per_s']:8.1f} molecules/s  "
                  f"peak {r['peak_mib']:8.1f} MiB (process tree)")
            import shutil

            shutil.rmtree(tmp / f"s{n}", ignore_errors=True)
    peaks = [r["peak_mib"] for r in entry["runs"]]
    entry["peak_ratio_largest_smallest"] = round(peaks[-1] / peaks[0], 3)
    save("screen_memory", entry)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_one":
        one(argv[1:])
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="part", required=True)
    f = sub.add_parser("featurize")
    f.add_argument("--sizes", type=int, nargs="+", default=[30_000, 300_000, 1_000_000])
    f.add_argument("--memory-max", type=int, default=300_000, help="largest size also run in memory")
    f.add_argument("--n-jobs", type=int, default=2)
    t = sub.add_parser("train")
    t.add_argument("--rows", type=int, default=300_000)
    t.add_argument("--epochs", type=int, default=1)
    s = sub.add_parser("screen-scaling")
    s.add_argument("--repeats", type=int, default=2, help="rounds, setups alternating; the best counts")
    s.add_argument("--bare-passes", type=int, default=5, help="passes of the bare loop over the library")
    s.add_argument("--n", type=int, default=20_000)
    m = sub.add_parser("screen-memory")
    m.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_584_663])
    m.add_argument("--filters", default="none")
    m.add_argument("--n-jobs", type=int, default=2)
    a = p.parse_args(argv)
    {"featurize": part_featurize, "train": part_train, "screen-scaling": part_screen_scaling,
     "screen-memory": part_screen_memory}[a.part](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
