"""Featurization throughput: biodl vs DeepChem vs a bare RDKit loop, side by side in one process.

    python bench/featurize.py [--repeat 4] [--dna-repeat 10] [--n-jobs 2]

Molecules: RDKit's NCI first_5K.smi repeated 4x (20,000 SMILES, a few unparseable).
DNA: the vendored Oct4 + MafK training FASTA files repeated 10x (77,970 sequences x 200 bp).
Prints rates, the peak growth of this process's resident memory during each step (worker
processes of n_jobs > 1 not included) and the ratios the project targets:
  biodl ECFP (n_jobs cores) >= 10x DeepChem CircularFingerprint
  biodl ECFP on 1 core       >= 0.9x the bare RDKit loop
  biodl FASTA -> dataset on disk >= 20x DeepChem seq_one_hot_encode (given sequences in memory)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import threading
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Samples this process's resident memory every 2 ms; ``peak`` is the growth over the start.

    Unlike tracemalloc it sees RDKit's C++ heap and does not slow Python allocations down.
    Worker processes (n_jobs > 1) are not included.
    """

    def __enter__(self):
        self.start = self.peak_abs = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.002):
            self.peak_abs = max(self.peak_abs, rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak_abs, rss_bytes()) - self.start


def measure(label, fn, n_items, unit):
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t0
    rate = n_items / elapsed
    print(f"  {label:<52} {elapsed:7.2f} s {rate:13,.0f} {unit}/s  +{mem.peak / 2**20:7.1f} MiB RSS", flush=True)
    return rate, out


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores available, Python {platform.python_version()}"


def bench_molecules(repeat: int, n_jobs: int) -> dict:
    import rdkit
    from rdkit import Chem, RDLogger
    from rdkit.Chem import rdFingerprintGenerator

    from biodl.featurizers import ECFP

    RDLogger.DisableLog("rdApp.*")
    path = Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"
    base = [line.split()[0] for line in path.read_text().splitlines() if line.split()]
    smiles = base * repeat
    n = len(smiles)
    print(f"\nECFP4 2048 bits on {n:,} SMILES (first_5K.smi x {repeat})")

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

    def bare():
        rows = []
        for s in smiles:
            mol = Chem.MolFromSmiles(s)
            if mol is not None:
                rows.append(gen.GetFingerprintAsNumPy(mol))
        return np.stack(rows)

    rates = {}
    rates["bare"], ref = measure("bare RDKit loop (1 core)", bare, n, "mol")
    rates["biodl_1"], r1 = measure("biodl ECFP, n_jobs=1, meta=False", lambda: ECFP().featurize(smiles, meta=False),
                                   n, "mol")
    rates["biodl_n"], rn = measure(f"biodl ECFP, n_jobs={n_jobs}, meta=False",
                                   lambda: ECFP(n_jobs=n_jobs).featurize(smiles, meta=False), n, "mol")
    rates["biodl_meta"], _ = measure(f"biodl ECFP, n_jobs={n_jobs}, meta=True (canonical+scaffold)",
                                     lambda: ECFP(n_jobs=n_jobs).featurize(smiles, meta=True), n, "mol")
    assert np.array_equal(r1.X, ref) and np.array_equal(rn.X, ref), "biodl and bare RDKit disagree"
    try:
        import deepchem as dc
    except ImportError:
        print("  deepchem not installed: DeepChem column skipped")
        return rates
    featurizer = dc.feat.CircularFingerprint(size=2048, radius=2)
    rates["deepchem"], _ = measure("DeepChem CircularFingerprint(2048, r=2)",
                                   lambda: featurizer.featurize(smiles), n, "mol")
    return rates


def bench_dna(repeat: int) -> dict:
    from biodl.dataset import featurize_source
    from biodl.sources import parse_fasta

    files = [ROOT / "data" / "dna" / "oct4_train.fa", ROOT / "data" / "dna" / "mafk_train.fa"]
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "oct4_mafk_x.fa"
        # each copy gets its own headers: repeated ids would (rightly) be rejected as duplicates
        big.write_text("".join(f.read_text().replace(">", f">copy{r}_") for r in range(repeat) for f in files))
        headers, seqs = parse_fasta(big)
        n_bases = sum(map(len, seqs))
        print(f"\nDNA one-hot on {len(seqs):,} sequences, {n_bases:,} bases (Oct4 + MafK x {repeat})")
        # warm-up on the small test file: one-time imports (pyarrow, parquet) are not throughput
        featurize_source({"format": "fasta", "path": str(ROOT / "data" / "dna" / "oct4_test.fa")}, "onehot",
                         Path(tmp) / "warm")
        rates = {}
        rates["biodl"], ds = measure(
            "biodl FASTA file -> dataset on disk (onehot)",
            lambda: featurize_source({"format": "fasta", "path": str(big)}, {"type": "onehot", "length": 200},
                                     Path(tmp) / "ds"), n_bases, "bases")
        assert ds.X.shape == (len(seqs), 200)
        rates["biodl_mem"], _ = measure(
            "biodl OneHot.featurize (in memory, meta=False)",
            lambda: __import__("biodl.featurizers", fromlist=["OneHot"]).OneHot(length=200).featurize(
                seqs, meta=False), n_bases, "bases")
        try:
            from deepchem.utils.genomics_utils import seq_one_hot_encode
        except ImportError:
            print("  deepchem not installed: DeepChem column skipped")
            return rates
        upper = [s.upper() for s in seqs]  # DeepChem raises KeyError on soft-masked lowercase
        rates["deepchem"], _ = measure("DeepChem seq_one_hot_encode (uppercased, in memory)",
                                       lambda: seq_one_hot_encode(iter(upper)), n_bases, "bases")
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=4, help="copies of first_5K.smi")
    parser.add_argument("--dna-repeat", type=int, default=10, help="copies of the Oct4 + MafK files")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    mol = bench_molecules(args.repeat, args.n_jobs)
    dna = bench_dna(args.dna_repeat)
    print("\nratios (target)")
    if "deepchem" in mol:
        print(f"  biodl ECFP n_jobs={args.n_jobs} / DeepChem        {mol['biodl_n'] / mol['deepchem']:6.1f}x  (>= 10x)")
    print(f"  biodl ECFP n_jobs=1 / bare RDKit loop    {mol['biodl_1'] / mol['bare']:6.2f}x  (>= 0.9x per core)")
    print(f"  biodl ECFP n_jobs={args.n_jobs} / bare RDKit loop    {mol['biodl_n'] / mol['bare']:6.2f}x")
    if "deepchem" in dna:
        print(f"  biodl FASTA->disk / DeepChem encoder     {dna['biodl'] / dna['deepchem']:6.1f}x  (>= 20x)")
        print(f"  biodl in-memory / DeepChem encoder       {dna['biodl_mem'] / dna['deepchem']:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
