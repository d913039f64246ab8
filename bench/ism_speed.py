"""ISM speed (issue 14): biodl.interpret.saturation_mutagenesis beside tangermeme's
saturation_mutagenesis, same model, same sequences, one process, side by side.

    python bench/ism_speed.py --n 1000 --length 200 --json bench/results/ism_speed.json

The model is the default run's Oct4/MafK architecture (cnn1d, 32 filters x 21 bp, both strands,
global max), randomly initialized (speed and agreement do not need a trained model); sequences are
random A/C/G/T. The two sides alternate, best of ``--repeats`` each. Agreement: tangermeme's ``hypothetical=True`` attributions are the ISM changes
centred over the four bases at each position, so biodl's (N, L, 4) changes are centred the same way
and compared. Each side runs ``--repeats`` times; the best time counts. tangermeme 1.6 uses fastISM
(recomputing only the positions an edit can change) for jobs over ~30 s; biodl scores whole variants.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from tangermeme.saturation_mutagenesis import saturation_mutagenesis as tm_ism

    from biodl.encodings import codes_to_onehot
    from biodl.interpret import saturation_mutagenesis
    from biodl.models import build_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model({"type": "cnn1d", "channels": [32], "kernel_sizes": [21], "rc": True, "global_pool": "max",
                         "dropout": 0.3}, input_shape=(args.length,), n_outputs=1).eval()
    codes = np.random.default_rng(0).integers(0, 4, (args.n, args.length)).astype(np.uint8)
    onehot = codes_to_onehot(torch.from_numpy(codes))

    sides = {"biodl": lambda: saturation_mutagenesis(model, codes),
             "tangermeme": lambda: tm_ism(model, onehot, batch_size=256, target=0, hypothetical=True,
                                          device="cpu").numpy()}
    times, outputs = {k: [] for k in sides}, {}
    for r in range(args.repeats):  # alternating, so a slow spell of this shared machine hits both sides
        for name in (sides if r % 2 == 0 else reversed(list(sides))):
            t0 = time.perf_counter()
            outputs[name] = sides[name]()
            times[name].append(time.perf_counter() - t0)
    biodl_s, tm_s = min(times["biodl"]), min(times["tangermeme"])
    ours, theirs = outputs["biodl"], outputs["tangermeme"]
    ours_centred = ours - ours.mean(axis=2, keepdims=True)
    theirs = np.asarray(theirs, np.float32).transpose(0, 2, 1)  # (N, 4, L) -> (N, L, 4)
    max_diff = float(np.abs(ours_centred - theirs).max())
    result = {"n": args.n, "length": args.length, "threads": args.threads, "repeats": args.repeats,
              "biodl_s": round(biodl_s, 2), "tangermeme_s": round(tm_s, 2),
              "all_s": {k: [round(t, 2) for t in v] for k, v in times.items()},
              "ratio": round(tm_s / biodl_s, 3), "max_abs_difference": max_diff,
              "biodl_seq_per_s": round(args.n / biodl_s, 1), "tangermeme_seq_per_s": round(args.n / tm_s, 1),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                         f"Python {platform.python_version()}, torch {torch.__version__}",
              "load_end": round(os.getloadavg()[0], 2)}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
