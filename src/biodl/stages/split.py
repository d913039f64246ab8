"""Stage 2, split: a featurized dataset → results/splits/{dataset}/{split}.json.

Splits are stored as raw record numbers (the ``row`` column of meta.parquet), so every
featurization of one dataset shares one split, whichever rows each featurizer rejected. A split
records what it was made for — the dataset's record count and a checksum of its input files — and
:func:`positions` refuses features of other inputs: a split of one dataset must not select rows of
another that happen to share record numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biodl.errors import UserError

PARTS = ("train", "valid", "test")


def inputs_checksum(manifest: Mapping[str, Any]) -> str:
    """sha256 over the input files' sha256s, in reading order: the same for every featurization of
    one dataset's inputs, wherever the files lie."""
    digests = "\n".join(str(i.get("sha256", "")) for i in manifest.get("inputs", []))
    return hashlib.sha256(digests.encode()).hexdigest()


def split_dataset(features: str | Path, spec: Mapping, out: str | Path, *, seed: int = 0,
                  dataset: str | None = None) -> dict:
    """Split the featurized dataset at ``features`` by ``spec`` and write the split JSON."""
    from biodl.dataset import load_dataset
    from biodl.splits import make_split, save_split

    ds = load_dataset(features)
    spec = {"seed": seed, **spec}
    split = make_split(ds.meta, ds.y, spec, tasks=ds.tasks)
    rows = ds.meta["row"].to_numpy()
    for part in (*PARTS, "dropped"):
        split[part] = rows[np.asarray(split[part], np.int64)].tolist()
    split.update({"n": ds.manifest["counts"]["in"], "index": "row", "dataset": dataset or ds.manifest["dataset"],
                  "reference_features": ds.manifest["featurizer"], "inputs_sha256": inputs_checksum(ds.manifest)})
    save_split(split, out)
    return split


def check_split_fits(ds, split: Mapping, where: str = "split") -> None:
    """One line when ``split`` was made for other inputs than the featurized dataset ``ds``."""
    n_in = ds.manifest["counts"]["in"]
    made_for = split.get("inputs_sha256")
    checksum = inputs_checksum(ds.manifest)
    if split.get("n") not in (None, n_in) or (made_for is not None and made_for != checksum):
        raise UserError(f"{where}: made for {split.get('dataset') or 'another dataset'} ({split.get('n')} records, "
                        f"inputs {str(made_for)[:12]}), not for {ds.path} ({n_in} records, inputs "
                        f"{checksum[:12]}); split these features anew")


def positions(ds, split: Mapping, where: str = "split") -> dict[str, np.ndarray]:
    """Split rows → positions in this featurized dataset (rows it rejected are absent)."""
    check_split_fits(ds, split, where)
    pos = {int(r): i for i, r in enumerate(ds.meta["row"].tolist())}
    return {p: np.array([pos[r] for r in split[p] if r in pos], np.int64) for p in PARTS}
