"""BED intervals → one-hot windows cut from a reference genome, against the per-window loop a user
writes with pyfaidx and DeepChem's encoder (a script, not a test).

    python bench/genome_windows.py [--genome-mb 100] [--windows 200000] [--peer-windows 5000]
        [--repeats 3] [--json bench/results/genome_windows.json]

Writes a random genome of ``--genome-mb`` Mb (4 chromosomes, 60-column lines) and a BED file of
``--windows`` random intervals to a temporary folder, then times, in one process:

* biodl: ``read_source({format: bed, genome, length: 200})`` + ``OneHot(length=200).featurize`` —
  index, BED parse, window cut from the memory-mapped FASTA, encode (the featurize stage minus
  writing the arrays) — with the ``.fai`` index built beforehand (pyfaidx, once per genome);
* the peer loop: ``pyfaidx.Fasta(genome)[chrom][start:end]`` and DeepChem's
  ``seq_one_hot_encode`` per window, on the first ``--peer-windows`` intervals (it is slow; its rate
  is windows per second either way).

Both sides are timed --repeats times, the best run counts (the memory sampler is off while timing).
Peak memory is the growth of this process's resident set during one more biodl run (sampled every
2 ms), beside the genome's size: the memory map reads only the pages the windows touch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from featurize import PeakRSS, machine  # noqa: E402

LENGTH = 200


def write_inputs(folder: Path, genome_mb: int, n_windows: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    sizes = [genome_mb * 1_000_000 // 4] * 4
    genome = folder / "genome.fa"
    letters = np.frombuffer(b"ACGT", np.uint8)
    with genome.open("wb") as fh:
        for k, size in enumerate(sizes):
            fh.write(f">chr{k + 1}\n".encode())
            seq = letters[rng.integers(0, 4, size)]
            n_lines = -(-size // 60)
            padded = np.full(n_lines * 61, ord("\n"), np.uint8)
            body = padded.reshape(n_lines, 61)
            flat = np.full(n_lines * 60, 0, np.uint8)
            flat[:size] = seq
            body[:, :60] = flat.reshape(n_lines, 60)
            data = body.ravel()
            last = size % 60
            if last:  # the last line is short: drop its padding
                data = data[: (n_lines - 1) * 61 + last + 1]
                data[-1] = ord("\n")
            fh.write(data.tobytes())
    chrom = rng.integers(0, 4, n_windows)
    start = rng.integers(1_000, sizes[0] - 1_000, n_windows)
    width = rng.integers(50, 500, n_windows)
    bed = folder / "peaks.bed"
    with bed.open("w") as fh:
        fh.writelines(f"chr{c + 1}\t{s}\t{s + w}\tpeak{i}\t{i % 1000}\t+\n"
                      for i, (c, s, w) in enumerate(zip(chrom, start, width)))
    return genome, bed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome-mb", type=int, default=100)
    parser.add_argument("--windows", type=int, default=200_000)
    parser.add_argument("--peer-windows", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side; the best counts")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from biodl.featurizers import OneHot
    from biodl.genome import Genome
    from biodl.sources import read_source

    print(f"machine: {machine()}; load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        genome, bed = write_inputs(Path(tmp), args.genome_mb, args.windows)
        t0 = time.perf_counter()
        Genome(genome)  # builds the .fai once, as the first featurize of a genome does
        index_s = time.perf_counter() - t0
        spec = {"format": "bed", "path": str(bed), "genome": str(genome), "length": LENGTH, "score_column": 5,
                "target": "score"}
        featurizer = OneHot(length=LENGTH)
        read_source({**spec, "path": str(_head(bed, 1000, Path(tmp)))})  # imports and first page faults apart

        def biodl_run():
            table = read_source(spec)
            return table, featurizer.featurize(table.inputs, meta=False)

        # time without the memory sampler (its thread takes the GIL every 2 ms), best of --repeats;
        # then one run for the peak memory
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            table, result = biodl_run()
            times.append(time.perf_counter() - t0)
            del result
        biodl_s = min(times)
        del table
        with PeakRSS() as mem:
            table, result = biodl_run()
        assert result.X.shape == (args.windows, LENGTH) and not table.rejects
        biodl_rate = args.windows / biodl_s
        print(f"  biodl BED + genome -> one-hot codes: {args.windows:,} windows in {biodl_s:.2f} s (best of "
              f"{args.repeats}: {', '.join(f'{t:.2f}' for t in times)}), {biodl_rate:,.0f} windows/s, "
              f"+{mem.peak / 2**20:.0f} MiB RSS (genome {genome.stat().st_size / 2**20:.0f} "
              f"MiB; index built in {index_s:.1f} s)", flush=True)

        import pyfaidx
        from deepchem.utils.genomics_utils import seq_one_hot_encode

        lines = [ln.split("\t") for ln in bed.read_text().splitlines()[: args.peer_windows]]
        fasta = pyfaidx.Fasta(str(genome), sequence_always_upper=True)
        peer_times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            encoded = []
            for chrom, s, e, *_ in lines:
                centre = (int(s) + int(e)) // 2 - LENGTH // 2
                seq = fasta[chrom][centre:centre + LENGTH].seq
                encoded.append(seq_one_hot_encode(iter([seq])))
            peer_times.append(time.perf_counter() - t0)
        peer_s = min(peer_times)
        peer_rate = len(lines) / peer_s
        print(f"  pyfaidx fetch + DeepChem seq_one_hot_encode per window: {len(lines):,} windows in {peer_s:.2f} s, "
              f"{peer_rate:,.0f} windows/s", flush=True)
        # the same windows, the same bases
        for i in (0, len(lines) - 1):
            chrom, s, e, *_ = lines[i]
            centre = (int(s) + int(e)) // 2 - LENGTH // 2
            assert fasta[chrom][centre:centre + LENGTH].seq == table.inputs[i].upper()
    ratio = biodl_rate / peer_rate
    print(f"\nratio biodl / pyfaidx + DeepChem loop: {ratio:.1f}x (goal >= 20x); biodl {biodl_rate:,.0f} windows/s "
          f"(goal >= 200,000); peak +{mem.peak / 2**20:.0f} MiB (goal < 1 GiB)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "genome_mb": args.genome_mb, "windows": args.windows, "length": LENGTH, "peer_windows": len(lines),
            "biodl_s": round(biodl_s, 3), "biodl_windows_per_s": round(biodl_rate), "peak_rss_mib": round(mem.peak / 2**20),
            "index_s": round(index_s, 2), "repeats": args.repeats, "peer_s": round(peer_s, 3), "peer_windows_per_s": round(peer_rate),
            "ratio": round(ratio, 2), "machine": machine(), "load_end": round(os.getloadavg()[0], 2)}, indent=1) + "\n")
    return 0


def _head(path: Path, n: int, folder: Path) -> Path:
    out = folder / "head.bed"
    with path.open() as fh:
        out.write_text("".join(next(fh) for _ in range(n)))
    return out


if __name__ == "__main__":
    sys.exit(main())
