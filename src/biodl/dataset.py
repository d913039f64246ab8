"""Featurized datasets on disk: one directory per (dataset, featurizer).

Layout (DESIGN.md)::

    X.npy          features, memory-mappable; uint8 for bits / codes
    y.npy          float32 (N, T), NaN = missing label
    meta.parquet   row (index of the raw record), id, input, + featurizer / source columns
    rejects.csv    row, id, input, stage (read | featurize), reason
    manifest.json  featurizer spec, versions, input sha256, counts, shapes, dtypes

A directory is complete or absent: it is written under a temporary name and renamed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections import Counter
import csv
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from biodl import __version__
from biodl.errors import UserError

FILES = ("X.npy", "y.npy", "meta.parquet", "rejects.csv", "manifest.json")
REJECT_COLUMNS = ["row", "id", "input", "stage", "reason"]


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that shape the numbers, read without importing them."""
    out = {"biodl": __version__}
    for dist in ("numpy", "rdkit", "torch", "scikit-learn", "pandas"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


@dataclass
class FeaturizedDataset:
    """A featurized dataset on disk. ``X`` is memory-mapped unless loaded with ``mmap=False``.

    X: (N, ...) features; y: float32 (N, T); manifest: dict. ``meta`` (N rows) and ``rejects``
    are pandas DataFrames read from disk on first use.
    """

    path: Path
    X: np.ndarray
    y: np.ndarray
    manifest: dict

    @cached_property
    def meta(self):
        import pandas as pd

        return pd.read_parquet(self.path / "meta.parquet")

    @cached_property
    def rejects(self):
        import pandas as pd

        return pd.read_csv(self.path / "rejects.csv", dtype={"id": str, "input": str}, keep_default_na=False)

    @property
    def ids(self) -> list[str]:
        return self.meta["id"].tolist()

    @property
    def tasks(self) -> list[str]:
        return list(self.manifest["y"]["tasks"])

    def __len__(self) -> int:
        return len(self.X)

    def to_deepchem(self, data_dir: str | os.PathLike | None = None, onehot: bool = True):
        """A DeepChem dataset (``NumpyDataset``, or ``DiskDataset`` when ``data_dir`` is given).

        Missing labels become y = 0 with weight 0, as DeepChem expects. DNA codes are expanded to
        DeepChem's own one-hot layout (N, 4, L) float32 when ``onehot=True``.
        """
        try:
            import deepchem as dc
        except ImportError:
            raise UserError("to_deepchem needs deepchem: pip install 'biodl[deepchem]' (Python < 3.12)") from None
        X = np.asarray(self.X)
        if onehot and self.manifest["featurizer"]["type"] == "onehot":
            from biodl.featurizers.dna import codes_to_onehot

            X = codes_to_onehot(X).numpy()
        w = (~np.isnan(self.y)).astype(np.float32)
        y = np.nan_to_num(self.y, nan=0.0)
        ids = np.asarray(self.ids, dtype=object)
        if data_dir is None:
            return dc.data.NumpyDataset(X, y, w, ids)
        return dc.data.DiskDataset.from_numpy(X, y, w, ids, tasks=self.tasks, data_dir=str(data_dir))


def load_dataset(path: str | os.PathLike, mmap: bool = True) -> FeaturizedDataset:
    path = Path(path)
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise UserError(f"{path}: not a featurized dataset (missing {', '.join(missing)})")
    return FeaturizedDataset(
        path=path,
        X=np.load(path / "X.npy", mmap_mode="r" if mmap else None),
        y=np.load(path / "y.npy"),
        manifest=json.loads((path / "manifest.json").read_text()),
    )


def atomic_dir(out: Path):
    """Context: yields a temporary sibling directory that replaces ``out`` on success."""
    from contextlib import contextmanager

    @contextmanager
    def cm():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if out.exists():
            trash = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, trash)
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out)

    return cm()


def featurize_source(source: Mapping, featurizer_spec: Mapping | str, out: str | os.PathLike,
                     *, n_jobs: int | None = 1, name: str | None = None,
                     progress: bool = False) -> FeaturizedDataset:
    """Read a raw source, featurize it and write the dataset directory ``out``. Returns it loaded.

    Every raw record ends up in ``meta.parquet`` (kept) or ``rejects.csv`` (with its reason).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from biodl.featurizers import make_featurizer
    from biodl.sources import read_source, sha256_file

    out = Path(out)
    table = read_source(source)
    featurizer = make_featurizer(featurizer_spec, n_jobs=n_jobs)
    read_rejected = {r.index for r in table.rejects}
    candidates = np.array([i for i in range(len(table)) if i not in read_rejected], np.int64)
    result = featurizer.featurize([table.inputs[i] for i in candidates], meta=True)
    rows = candidates[result.kept]

    # kept inputs are strings (SMILES, sequences, image paths): a missing one is always a reject
    meta = {"row": rows, "id": _take(table.ids, rows), "input": _take(table.inputs, rows)}
    meta.update({col: _take(values, rows) for col, values in table.meta.items()})
    meta.update(result.meta)
    rejects = [(r.index, table.ids[r.index], r.input, "read", r.reason) for r in table.rejects]
    rejects += [(int(candidates[r.index]), table.ids[candidates[r.index]], r.input, "featurize", r.reason)
                for r in result.rejects]
    rejects.sort()

    covered = np.concatenate([rows, np.array([r[0] for r in rejects], np.int64)])
    if len(covered) != len(table) or len(np.unique(covered)) != len(table):
        raise AssertionError(f"{out}: {len(table)} records in, {len(rows)} kept + {len(rejects)} rejected")

    X, y = result.X, table.y[rows].astype(np.float32)
    manifest = {
        "dataset": name or out.parent.name,
        "featurizer": featurizer.spec(),
        "source": dict(source),
        "inputs": [{"path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in table.files]
        if len(table.files) <= 50 else _summarize_many(table.files),
        "versions": library_versions(),
        "counts": {"in": len(table), "kept": int(len(rows)), "rejected": len(rejects),
                   "rejected_by_reason": dict(Counter(_reason_class(r[-1]) for r in rejects))},
        "X": {"shape": list(X.shape), "dtype": str(X.dtype)},
        "y": {"shape": list(y.shape), "dtype": str(y.dtype), "tasks": list(table.tasks),
              "missing": {t: int(np.isnan(y[:, j]).sum()) for j, t in enumerate(table.tasks)}},
    }
    if hasattr(featurizer, "feature_names") and X.ndim == 2 and X.shape[1] <= 4096:
        manifest["feature_names"] = featurizer.feature_names()
    if X.dtype.kind == "f" and X.ndim == 2 and len(X):
        nan_cols = np.isnan(X).sum(axis=0)
        names = manifest.get("feature_names") or [str(j) for j in range(X.shape[1])]
        manifest["nonfinite_features"] = {names[j]: int(nan_cols[j]) for j in np.flatnonzero(nan_cols)}

    with atomic_dir(out) as tmp:
        np.save(tmp / "X.npy", X)
        np.save(tmp / "y.npy", y)
        # ids and raw inputs are (nearly) all distinct: a dictionary page for them is wasted work
        pq.write_table(pa.table(meta), tmp / "meta.parquet",
                       use_dictionary=[c for c in meta if c not in ("id", "input", "canonical_smiles")])
        with open(tmp / "rejects.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(REJECT_COLUMNS)
            writer.writerows(rejects)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
    return FeaturizedDataset(path=out, X=X, y=y, manifest=manifest)


def _take(values, rows: np.ndarray):
    """Rows of a meta column held as a list, numpy array or pyarrow Array (same kind out)."""
    if isinstance(values, list):
        if len(rows) == len(values):  # nothing rejected: rows is 0..N-1
            return values
        return [values[i] for i in rows.tolist()]
    if isinstance(values, np.ndarray):
        return values[rows]
    return values.take(rows)


def _reason_class(reason: str) -> str:
    """Group reasons for the manifest summary: drop the row-specific tail after ':' or '('."""
    return reason.split(":")[0].split("(")[0].strip()


def _summarize_many(files: list[Path]) -> list[dict]:
    """Many inputs (image folders): one entry for the folder with a digest over name + hash."""
    from biodl.sources import sha256_file

    import hashlib

    digest = hashlib.sha256()
    total = 0
    for p in files:
        digest.update(p.name.encode() + b"\0" + sha256_file(p).encode() + b"\n")
        total += p.stat().st_size
    return [{"path": str(files[0].parent), "files": len(files), "sha256_of_listing": digest.hexdigest(),
             "bytes": total}]


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.ndarray, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serializable: {type(obj).__name__}")
