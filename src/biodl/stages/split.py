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
                  dataset: str | None = None, audit_gap: int = 0) -> dict:
    """Split the featurized dataset at ``features`` by ``spec`` and write the split JSON.

    The leakage audit (:func:`biodl.splits.audit_split`) is told the featurizer's modality, and
    reads the features themselves when they are the audit's own Morgan bits; ``audit_gap``: bp
    between two intervals of different parts that still count as adjacent.
    """
    from biodl.dataset import load_dataset
    from biodl.splits import make_split, save_split

    ds = load_dataset(features)
    spec = {"seed": seed, **spec}
    split = make_split(ds.meta, ds.y, spec, tasks=ds.tasks, modality=featurizer_modality(ds.manifest),
                       fingerprints=audit_fingerprints(ds), audit_gap=audit_gap)
    rows = ds.meta["row"].to_numpy()
    for part in (*PARTS, "dropped"):
        split[part] = rows[np.asarray(split[part], np.int64)].tolist()
    split.update({"n": ds.manifest["counts"]["in"], "index": "row", "dataset": dataset or ds.manifest["dataset"],
                  "reference_features": ds.manifest["featurizer"], "inputs_sha256": inputs_checksum(ds.manifest)})
    save_split(split, out)
    return split


def featurizer_modality(manifest: Mapping[str, Any]) -> str | None:
    """"molecule", "sequence" or "image": the modality of the featurizer that made the dataset."""
    from biodl.featurizers import FEATURIZERS

    kind = (manifest.get("featurizer") or {}).get("type")
    return FEATURIZERS[kind].modality if kind in FEATURIZERS else None


def audit_fingerprints(ds) -> np.ndarray | None:
    """uint8 (N, 2048) X when the features are Morgan radius-2 bits as the audit computes them, else
    None: parsing 100k SMILES again costs 15 s, reading the bits back costs nothing."""
    from biodl import similarity as fp

    f = ds.manifest.get("featurizer") or {}
    same = (f.get("type") == "ecfp" and f.get("radius", 2) == fp.RADIUS and f.get("n_bits", 2048) == fp.N_BITS
            and not f.get("counts", False) and not f.get("chirality", False))
    if not same or ds.X.ndim != 2 or ds.X.shape[1] != fp.N_BITS or ds.X.dtype != np.uint8:
        return None
    return np.asarray(ds.X)


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
