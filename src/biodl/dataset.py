"""Featurized datasets on disk: one directory per (dataset, featurizer).

Layout (DESIGN.md)::

    X.npy          features, memory-mappable; uint8 for bits / codes (graphs: the molecules'
                   offsets, with graph_atoms / graph_bonds / graph_edges[ / graph_mol_features].npy
                   beside it, see biodl.graphs)
    y.npy          float32 (N, T), NaN = missing label
    meta.parquet   row (index of the raw record), id, input, + featurizer / source columns
    rejects.csv    row, id, input, stage (read | featurize), reason
    manifest.json  featurizer spec, versions, input sha256, counts, shapes, dtypes

A directory is complete or absent: it is written under a temporary name and renamed at the end
(:func:`biodl.io.atomic_dir`, which also removes the temporaries of a killed earlier run).
:func:`load_dataset` trusts none of the files: a truncated or corrupt one, or one whose row count
disagrees with the others, is one :class:`UserError` line naming it.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path

import numpy as np

from biodl import __version__
from biodl.encodings import SequenceBlock
from biodl.errors import UserError
from biodl.io import atomic_dir

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

        try:
            return pd.read_parquet(self.path / "meta.parquet")
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise _corrupt(self.path / "meta.parquet", "Parquet table", exc) from None

    @cached_property
    def rejects(self):
        import pandas as pd

        path = self.path / "rejects.csv"
        try:
            frame = pd.read_csv(path, dtype={"id": str, "input": str}, keep_default_na=False)
        except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise _corrupt(path, "CSV table", exc) from None
        expected = self.manifest.get("counts", {}).get("rejected")
        if list(frame.columns) != REJECT_COLUMNS or (expected is not None and len(frame) != expected):
            # a file cut at a line end still parses: only the count tells
            raise UserError(f"{path}: {len(frame)} rows with columns {', '.join(map(str, frame.columns))}, "
                            f"but manifest.json says {expected} rejects with columns "
                            f"{', '.join(REJECT_COLUMNS)}; featurize again")
        return frame

    @cached_property
    def masks(self) -> np.ndarray | None:
        """Instance masks (N, H, W) of an image dataset featurized with a ``masks`` folder
        (memory-mapped), else None."""
        if "masks" not in self.manifest:
            return None
        masks = _load_npy(self.path / "masks.npy", mmap_mode="r")
        if len(masks) != len(self.X):
            raise UserError(f"{self.path / 'masks.npy'}: {len(masks)} masks for {len(self.X)} images; featurize again")
        return masks

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
            from biodl.encodings import codes_to_onehot

            X = codes_to_onehot(X).numpy()
        w = (~np.isnan(self.y)).astype(np.float32)
        y = np.nan_to_num(self.y, nan=0.0)
        ids = np.asarray(self.ids, dtype=object)
        if data_dir is None:
            return dc.data.NumpyDataset(X, y, w, ids)
        return dc.data.DiskDataset.from_numpy(X, y, w, ids, tasks=self.tasks, data_dir=str(data_dir))


class RowView:
    """Rows ``rows`` of a (memory-mapped) feature array, read only when indexed: what training from
    disk hands the loop instead of ``X[rows]``.

    Looks like an array of ``len(rows)`` rows (``shape``, ``dtype``, ``ndim``, ``len``); ``view[idx]``
    (integer positions as a NumPy array, a CPU / device tensor or a slice) returns those rows as an
    ordinary array, in ``idx``'s order, read from the file in ascending order so a shuffled batch
    costs one forward sweep over the pages it touches. ``np.asarray(view)`` reads every row.
    """

    def __init__(self, X: np.ndarray, rows: np.ndarray):
        self.X = X
        self.rows = np.asarray(rows, np.int64)

    @property
    def shape(self) -> tuple:
        return (len(self.rows), *self.X.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @property
    def ndim(self) -> int:
        return self.X.ndim

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx) -> np.ndarray:
        if isinstance(idx, slice):
            return np.asarray(self.X[self.rows[idx]])
        if hasattr(idx, "detach"):  # a torch tensor, possibly on the GPU
            idx = idx.detach().cpu().numpy()
        wanted = self.rows[np.asarray(idx, np.int64)]
        order = np.argsort(wanted, kind="stable")
        out = np.empty((len(wanted), *self.X.shape[1:]), self.X.dtype)
        out[order] = self.X[wanted[order]]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        rows = np.asarray(self.X[self.rows])
        return rows if dtype is None else rows.astype(dtype, copy=False)


def load_dataset(path: str | os.PathLike, mmap: bool = True) -> FeaturizedDataset:
    """Open a featurized dataset directory. ``X`` is memory-mapped unless ``mmap=False``.

    Every file is checked before it is trusted: unreadable JSON / NumPy / Parquet, a manifest
    without its keys, and row counts that disagree (X, y and meta have one row per kept record,
    as the manifest says) are each one UserError naming the file. meta.parquet is checked from
    its footer (row count) here and read in full on first use of ``.meta``.
    """
    path = Path(path)
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise UserError(f"{path}: not a featurized dataset (missing {', '.join(missing)})")
    manifest = _read_manifest(path / "manifest.json")
    X = _load_npy(path / "X.npy", mmap_mode="r" if mmap else None)
    if manifest["X"].get("kind") == "graph":
        from biodl.graphs import load_graphs

        try:
            X = load_graphs(path, X, mmap, _load_npy)
        except ValueError as exc:
            raise UserError(f"{exc}; featurize again") from None
    y = _load_npy(path / "y.npy", mmap_mode=None)
    n_meta = _parquet_rows(path / "meta.parquet")
    _check_shapes(path, manifest, X, y, n_meta)
    return FeaturizedDataset(path=path, X=X, y=y, manifest=manifest)


def _corrupt(path: Path, what: str, exc: BaseException) -> UserError:
    first = (str(exc).strip().splitlines() or [""])[0][:200] or type(exc).__name__
    return UserError(f"{path}: not a readable {what}, truncated or corrupt ({first}); featurize again")


def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _corrupt(path, "JSON file", exc) from None
    if not isinstance(manifest, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(manifest).__name__}; featurize again")
    for key, sub in (("featurizer", "type"), ("X", "shape"), ("y", "tasks")):
        if not isinstance(manifest.get(key), dict) or sub not in manifest[key]:
            raise UserError(f"{path}: missing key {key}.{sub}; not a manifest written by biodl featurize")
    return manifest


def _load_npy(path: Path, mmap_mode: str | None) -> np.ndarray:
    try:
        return np.load(path, mmap_mode=mmap_mode)  # allow_pickle stays False: data, never code
    except (ValueError, OSError, EOFError) as exc:
        raise _corrupt(path, "NumPy array", exc) from None


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows  # the footer only: cheap, and a cut file has none
    except Exception as exc:  # ArrowInvalid, OSError, thrift errors: all mean the same to a user
        raise _corrupt(path, "Parquet table", exc) from None


def _check_shapes(path: Path, manifest: dict, X: np.ndarray, y: np.ndarray, n_meta: int) -> None:
    """X, y and meta agree with the manifest (rows, X's shape and dtype, y's tasks)."""
    want_X = [int(n) for n in manifest["X"]["shape"]]
    tasks = list(manifest["y"]["tasks"])
    rows = want_X[0] if want_X else None
    where = "manifest.json"
    if list(X.shape) != want_X or str(X.dtype) != manifest["X"].get("dtype", str(X.dtype)):
        raise UserError(f"{path / 'X.npy'}: shape {list(X.shape)} {X.dtype}, but {where} says {want_X} "
                        f"{manifest['X'].get('dtype')}; featurize again")
    if y.ndim != 2 or y.shape != (rows, len(tasks)):
        raise UserError(f"{path / 'y.npy'}: shape {list(y.shape)}, but {where} says {rows} rows × "
                        f"{len(tasks)} tasks; featurize again")
    if n_meta != rows:
        raise UserError(f"{path / 'meta.parquet'}: {n_meta} rows, but X.npy, y.npy and {where} have {rows}; "
                        "featurize again")


def progress_bar(total: int, desc: str, *, file=None, mininterval: float | None = None):
    """A tqdm bar counting rows, with rows/s, on stderr.

    On a terminal it redraws in place. Anywhere else (a Snakemake log, a SLURM output file) it
    writes a whole line at most every ``LOG_INTERVAL_S`` seconds, plus the first and last: tqdm's
    default of disabling itself off a terminal would leave a long job's log silent, and its
    carriage-return redraws would pile up into one unreadable line.
    """
    from tqdm import tqdm

    stream = file if file is not None else sys.stderr
    tty = bool(getattr(stream, "isatty", lambda: False)())
    if mininterval is None:
        mininterval = 0.5 if tty else LOG_INTERVAL_S
    return tqdm(total=total, desc=desc, unit="rows", file=stream if tty else _Lines(stream),
                mininterval=mininterval, maxinterval=max(mininterval, 10.0), dynamic_ncols=tty,
                ncols=None if tty else 100, disable=False)


#: seconds between progress lines in a log file
LOG_INTERVAL_S = 5.0


class _Lines:
    """tqdm output for a file: every refresh a line of its own instead of a carriage-return redraw."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def featurize_source(source: Mapping, featurizer_spec: Mapping | str, out: str | os.PathLike,
                     *, n_jobs: int | None = 1, name: str | None = None,
                     progress: bool = True, block_rows: int | None = None) -> FeaturizedDataset:
    """Read a raw source, featurize it and write the dataset directory ``out``. Returns it loaded.

    Every raw record ends up in ``meta.parquet`` (kept) or ``rejects.csv`` (with its reason).
    ``progress`` shows a bar with rows/s on stderr (see :func:`progress_bar`).

    Array features stream to disk: the inputs are featurized ``block_rows`` at a time (default
    :func:`default_block_rows`: ~64 MiB of features, at least one worker chunk, at most 100,000
    rows) and each block is appended to ``X.npy`` and written as one row group of ``meta.parquet``
    before the next starts, so the features never sit in memory whole. The files do not depend on
    the block size (tested): a dataset of one block is byte for byte what an in-memory write gives.
    Graphs and images with instance masks are built in memory and written at the end.
    """
    from biodl.featurizers import make_featurizer
    from biodl.sources import read_source

    out = Path(out)
    table = read_source(source)
    featurizer = make_featurizer(featurizer_spec, n_jobs=n_jobs)
    read_rejected = {r.index for r in table.rejects}
    candidates = np.array([i for i in range(len(table)) if i not in read_rejected], np.int64)
    inputs = _take(table.inputs, candidates)
    bar = progress_bar(len(candidates), f"featurize {name or out.parent.name}/{featurizer.name}") \
        if progress else None
    try:
        if "mask" in table.meta or featurizer.layout == "graph":
            return _featurize_in_memory(table, featurizer, candidates, inputs, out, source, name, bar)
        return _featurize_streaming(table, featurizer, candidates, inputs, out, source, name, bar, block_rows)
    finally:
        if bar is not None:
            bar.close()


def default_block_rows(featurizer) -> int:
    """Rows per streamed block: ~64 MiB of features, between one worker chunk and 100,000 rows."""
    empty = featurizer._empty_X()
    row_bytes = max(1, empty.dtype.itemsize * int(np.prod(empty.shape[1:], dtype=np.int64)))
    return int(min(100_000, max(featurizer.chunk_size, (64 << 20) // row_bytes)))


def _featurize_streaming(table, featurizer, candidates, inputs, out, source, name, bar, block_rows):
    """Featurize ``inputs`` block by block, appending each block's features to X.npy and its meta
    as one Parquet row group; what stays in memory grows only with the kept row numbers (and the
    raw input table, which the source readers still load whole: ~0.5 KB per SMILES row)."""
    import pyarrow.parquet as pq

    featurizer.fit(inputs)  # once, on every input, so each block sees the same learned state
    block_rows = block_rows or default_block_rows(featurizer)
    kept_rows, featurize_rejects = [], []
    nonfinite = None
    writer = None
    with atomic_dir(out) as tmp:
        empty = featurizer._empty_X()
        with featurizer.worker_pool(), NpyAppender(tmp / "X.npy", empty.dtype, empty.shape[1:]) as X_out:
            try:
                for start in range(0, max(len(candidates), 1), block_rows):
                    block = candidates[start:start + block_rows]
                    result = featurizer.featurize(inputs[start:start + block_rows], meta=True,
                                                  progress=bar.update if bar is not None else None)
                    rows = block[result.kept]
                    kept_rows.append(rows)
                    featurize_rejects += [(int(block[r.index]), r.input, r.reason) for r in result.rejects]
                    X_out.append(result.X)
                    if result.X.dtype.kind == "f" and result.X.ndim == 2:
                        counts = np.isnan(result.X).sum(axis=0)
                        nonfinite = counts if nonfinite is None else nonfinite + counts
                    meta = _meta_columns(table, rows, result.meta)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp / "meta.parquet", _meta_schema(meta, table.meta),
                                                  use_dictionary=_dictionary_columns(meta))
                    writer.write_table(_arrow_table(meta, writer.schema))
            finally:
                if writer is not None:
                    writer.close()
        rows = np.concatenate(kept_rows) if kept_rows else np.zeros(0, np.int64)
        X_info = {"shape": [len(rows), *empty.shape[1:]], "dtype": str(empty.dtype)}
        nan_cols = nonfinite if nonfinite is not None and len(rows) else None
        manifest, y, rejects = _finish(table, featurizer, source, name, out, rows, featurize_rejects, [],
                                       X_info, nan_cols, X_ndim=empty.ndim)
        _write_small_files(tmp, y, rejects, manifest)
    return load_dataset(out)


def _featurize_in_memory(table, featurizer, candidates, inputs, out, source, name, bar):
    """Graphs (one object of flat arrays, see biodl.graphs) and images with instance masks (each
    mask checked against its featurized image): featurized whole, then written."""
    import pyarrow.parquet as pq

    from biodl.featurizers.images import n_objects

    result = featurizer.featurize(inputs, meta=True, progress=bar.update if bar is not None else None)
    rows = candidates[result.kept]
    X = result.X
    masks, mask_rejects = None, []
    if "mask" in table.meta:  # segmentation: each kept image's instance mask, checked against it
        keep, masks, mask_rejects = _read_masks([table.meta["mask"][r] for r in rows.tolist()], X)
        mask_rejects = [(int(rows[k]), table.ids[rows[k]], table.inputs[rows[k]], "mask", reason)
                        for k, reason in mask_rejects]
        if len(keep) < len(rows):
            rows, X = rows[keep], X[keep]
            result.meta = {k: _take(v, keep) for k, v in result.meta.items()}
    meta = _meta_columns(table, rows, result.meta)
    featurize_rejects = [(int(candidates[r.index]), r.input, r.reason) for r in result.rejects]
    X_info = {"shape": list(X.shape), "dtype": str(X.dtype), **({"kind": X.kind} if hasattr(X, "kind") else {})}
    masks_info = None if masks is None else {"shape": list(masks.shape), "dtype": str(masks.dtype),
                                             "objects": sum(n_objects(m) for m in masks)}
    nan_cols = np.isnan(X).sum(axis=0) if X.dtype.kind == "f" and X.ndim == 2 and len(X) else None
    manifest, y, rejects = _finish(table, featurizer, source, name, out, rows, featurize_rejects, mask_rejects,
                                   X_info, nan_cols, X_ndim=X.ndim, masks_info=masks_info,
                                   graphs=X if hasattr(X, "kind") else None)
    with atomic_dir(out) as tmp:
        if hasattr(X, "save"):  # graphs: X.npy holds their index, graph_*.npy the arrays (biodl.graphs)
            X.save(tmp)
        else:
            np.save(tmp / "X.npy", X)
        if masks is not None:
            np.save(tmp / "masks.npy", masks)
        pq.write_table(_arrow_table(meta), tmp / "meta.parquet", use_dictionary=_dictionary_columns(meta))
        _write_small_files(tmp, y, rejects, manifest)
    return FeaturizedDataset(path=out, X=X, y=y, manifest=manifest)


def _meta_columns(table, rows: np.ndarray, featurizer_meta: Mapping) -> dict:
    """meta.parquet's columns for the kept raw records ``rows``: row, id, input, the source's own
    columns, then the featurizer's (canonical SMILES, scaffold, ...)."""
    inputs = _take(table.inputs, rows)
    meta = {"row": rows, "id": _take(table.ids, rows),
            "input": inputs.to_arrow() if isinstance(inputs, SequenceBlock) else inputs}
    meta.update({col: _take(values, rows) for col, values in table.meta.items()})
    meta.update(featurizer_meta)
    return meta


def _dictionary_columns(meta: Mapping) -> list[str]:
    # ids and raw inputs are (nearly) all distinct: a dictionary page for them is wasted work
    return [c for c in meta if c not in ("id", "input", "canonical_smiles")]


def _meta_schema(first_block: Mapping, source_meta: Mapping):
    """meta.parquet's schema, from the first streamed block; a source column that is all null in
    that block takes its type from the whole column (a FASTA whose first headers carry no region)."""
    import pyarrow as pa

    schema = pa.table(dict(first_block)).schema
    for i, f in enumerate(schema):
        if pa.types.is_null(f.type) and f.name in source_meta:
            schema = schema.set(i, pa.field(f.name, _arrow_array(source_meta[f.name]).type))
    return schema


def _arrow_array(values, type=None):
    import pyarrow as pa

    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values if type is None else values.cast(type)
    return pa.array(values, type=type)


def _arrow_table(meta: Mapping, schema=None):
    """The meta columns as an Arrow table, each cast to ``schema`` (the first block's) if given."""
    import pyarrow as pa

    if schema is None:
        return pa.table(dict(meta))
    return pa.table({f.name: _arrow_array(meta[f.name], f.type) for f in schema}, schema=schema)


def _finish(table, featurizer, source, name, out, rows, featurize_rejects, mask_rejects, X_info, nan_cols,
            *, X_ndim: int, masks_info: dict | None = None, graphs=None):
    """The manifest, y and the sorted reject rows of a featurized source; checks that every raw
    record is kept or rejected exactly once."""
    from biodl.sources import sha256_file

    rejects = [(r.index, table.ids[r.index], r.input, "read", r.reason) for r in table.rejects]
    rejects += [(row, table.ids[row], text, "featurize", reason) for row, text, reason in featurize_rejects]
    rejects += mask_rejects
    rejects.sort()
    covered = np.concatenate([rows, np.array([r[0] for r in rejects], np.int64)])
    if len(covered) != len(table) or len(np.unique(covered)) != len(table):
        raise AssertionError(f"{out}: {len(table)} records in, {len(rows)} kept + {len(rejects)} rejected")

    y = table.y[rows].astype(np.float32)
    manifest = {
        "dataset": name or out.parent.name,
        "featurizer": featurizer.spec(),
        "source": dict(source),
        "inputs": [{"path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in table.files]
        if len(table.files) <= 50 else _summarize_many(table.files),
        "versions": library_versions(),
        **({"skipped_files": {"count": len(table.skipped), "names": [p.name for p in table.skipped[:20]],
                              "reason": "not image files, so not inputs"}} if table.skipped else {}),
        "counts": {"in": len(table), "kept": len(rows), "rejected": len(rejects),
                   "rejected_by_reason": dict(Counter(_reason_class(r[-1]) for r in rejects))},
        "X": X_info,
        **({"masks": masks_info} if masks_info is not None else {}),
        "y": {"shape": list(y.shape), "dtype": str(y.dtype), "tasks": list(table.tasks),
              "missing": {t: int(np.isnan(y[:, j]).sum()) for j, t in enumerate(table.tasks)}},
    }
    if graphs is not None and graphs.n_mol_features:
        manifest["mol_feature_names"] = featurizer.feature_names()
    if hasattr(featurizer, "feature_names") and X_ndim == 2 and X_info["shape"][1] <= 4096:
        manifest["feature_names"] = featurizer.feature_names()
    if nan_cols is not None:
        names = manifest.get("feature_names") or [str(j) for j in range(len(nan_cols))]
        manifest["nonfinite_features"] = {names[j]: int(nan_cols[j]) for j in np.flatnonzero(nan_cols)}
    return manifest, y, rejects


def _write_small_files(tmp: Path, y: np.ndarray, rejects: list, manifest: dict) -> None:
    np.save(tmp / "y.npy", y)
    with open(tmp / "rejects.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REJECT_COLUMNS)
        writer.writerows(rejects)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")


class NpyAppender:
    """Write an ``.npy`` file by appending row blocks, without holding the array.

    The header is written first for zero rows and rewritten with the final row count on close.
    NumPy pads every header so that the first axis can grow to 21 digits in place, so the final
    header has the same length and the file is byte for byte what ``np.save`` writes. Plain file
    writes, not a writable memory map: the blocks go through the page cache, not this process's
    resident memory.
    """

    def __init__(self, path: Path, dtype, trailing_shape: tuple):
        self.path, self.dtype, self.trailing = Path(path), np.dtype(dtype), tuple(trailing_shape)
        self.rows = 0
        self._fh = open(self.path, "wb")
        self._header_len = self._fh.write(self._header(0))

    def _header(self, rows: int) -> bytes:
        import io

        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (rows, *self.trailing)})
        return buf.getvalue()

    def append(self, block: np.ndarray) -> None:
        if block.dtype != self.dtype or tuple(block.shape[1:]) != self.trailing:
            raise AssertionError(f"{self.path}: block {block.dtype} {block.shape[1:]} "
                                 f"does not fit {self.dtype} {self.trailing}")
        self._fh.write(memoryview(np.ascontiguousarray(block)).cast("B"))
        self.rows += len(block)

    def __enter__(self) -> NpyAppender:
        return self

    def __exit__(self, exc_type, *_) -> None:
        try:
            if exc_type is None:
                header = self._header(self.rows)
                if len(header) != self._header_len:  # beyond 21 digits of rows: not reachable
                    raise AssertionError(f"{self.path}: npy header grew from {self._header_len} to {len(header)}")
                self._fh.seek(0)
                self._fh.write(header)
        finally:
            self._fh.close()


def _read_masks(paths: list[str], X: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Instance masks for the kept images X (N, C, H, W): (rows whose mask is good, uint16 / int32
    masks (n, H, W) of those rows, [(row, reason)] for the others). A mask must be a 2-D integer
    label image of the image's featurized size (no resizing: labels cannot be interpolated)."""
    from biodl.featurizers.images import check_mask, read_label_image

    good, masks, bad = [], [], []
    for k, path in enumerate(paths):
        name = f"mask {Path(path).name}"
        try:
            mask = read_label_image(path)
        except (OSError, ValueError) as exc:
            bad.append((k, f"{name}: {str(exc).splitlines()[0]}"))
            continue
        try:
            mask = check_mask(mask, name=name)
        except ValueError as exc:
            bad.append((k, str(exc)))
            continue
        if mask.shape != tuple(X.shape[-2:]):
            bad.append((k, f"mask {Path(path).name} is {mask.shape[0]} x {mask.shape[1]} but the featurized "
                           f"image is {X.shape[-2]} x {X.shape[-1]} (set the image featurizer's size to the "
                           "images' own, so masks need no resizing)"))
            continue
        good.append(k)
        masks.append(mask)
    dtype = np.uint16 if not masks or max(int(m.max()) for m in masks) < 2**16 else np.int32
    stacked = np.stack(masks).astype(dtype) if masks else np.zeros((0, *X.shape[-2:]), dtype)
    return np.asarray(good, np.int64), stacked, bad


def _take(values, rows: np.ndarray):
    """Rows of a meta column held as a list, numpy array, pyarrow Array or (inputs)
    :class:`SequenceBlock` (same kind out)."""
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
    import hashlib

    from biodl.sources import sha256_file

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
