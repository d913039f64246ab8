"""Readers of raw inputs: CSV, SDF, FASTA, and image folders (BBBC005 names or a labels CSV).

A *source spec* is a small dict (the ``source:`` block of a dataset in config.yaml)::

    {format: csv,    path: data/molecules/freesolv.csv, input: smiles, id: id, targets: [expt]}
    {format: sdf,    path: mols.sdf, id: ID, targets: [SOL]}
    {format: fasta,  files: [{path: oct4.fa, label: 1}, {path: mafk.fa, label: 0}], target: oct4}
    {format: images, path: results/raw/cells, labels: bbbc005, targets: [count]}
    {format: images, path: my_images/, labels: labels.csv, id: file, targets: [n_cells]}

``read_source(spec)`` returns a :class:`RawTable`: one entry per raw record, in file order. Records
the reader itself cannot use (a duplicate id, a label that is not a number) are listed in
``rejects`` with their reason; structural faults (missing file or column) raise :class:`UserError`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from biodl import bbbc005
from biodl.bbbc005 import parse_bbbc005_name
from biodl.errors import UserError
from biodl.featurizers.base import Reject

IMAGE_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
_REGION_RE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>\d+)-(?P<end>\d+)")


@dataclass
class RawTable:
    """Raw records of one source.

    ids:     list[str] (N,), unique among non-rejected rows.
    inputs:  list (N,) of SMILES / sequences / image paths (str).
    y:       float32 (N, T); NaN where a label is missing. T = 0 for unlabeled data.
    tasks:   list[str] (T,) target names.
    meta:    extra per-row columns (name, chrom/start/end, source file, ...), each of length N:
             a list, numpy array or pyarrow Array.
    rejects: reader-level rejects (row index, input, reason).
    files:   input files, for the manifest's sha256.
    """

    ids: list[str]
    inputs: list
    y: np.ndarray
    tasks: list[str]
    meta: dict[str, list] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.inputs)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _require_file(path: Any, what: str = "input file") -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    return path


def _require_key(spec: Mapping, key: str, fmt: str):
    if key not in spec:
        raise UserError(f"source (format {fmt}): missing key {key!r}")
    return spec[key]


def _as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _parse_targets(frame, targets: list[str], path: Path, first_row: int = 0):
    """Columns → float32 matrix; blanks are NaN (missing label), non-numbers are row rejects."""
    import pandas as pd

    y = np.full((len(frame), len(targets)), np.nan, np.float32)
    bad: dict[int, str] = {}
    for j, col in enumerate(targets):
        raw = frame[col]
        numeric = pd.to_numeric(raw, errors="coerce")
        not_number = numeric.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        for i in np.flatnonzero(not_number.to_numpy()):
            bad.setdefault(int(i), f"target {col!r} is not a number: {raw.iloc[i]!r}")
        y[:, j] = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    return y, bad


def _dedupe(ids: list[str], inputs: list, rejects: list[Reject]) -> None:
    """Reject the second and later rows of a repeated id (the first keeps it)."""
    if not rejects and len(set(ids)) == len(ids):
        return  # the usual case, checked at C speed
    first: dict[str, int] = {}
    rejected = {r.index for r in rejects}
    for i, ident in enumerate(ids):
        if i in rejected:
            continue
        if ident in first:
            rejects.append(Reject(i, str(inputs[i]), f"duplicate id {ident!r} (first at row {first[ident]})"))
        else:
            first[ident] = i


def _finish(table: RawTable) -> RawTable:
    _dedupe(table.ids, table.inputs, table.rejects)
    table.rejects.sort(key=lambda r: r.index)
    return table


def read_csv(spec: Mapping) -> RawTable:
    import pandas as pd

    path = _require_file(_require_key(spec, "path", "csv"))
    input_col = spec.get("input", "smiles")
    id_col = spec.get("id")
    targets = _as_list(spec.get("targets"))
    sep = spec.get("sep", "\t" if path.suffix in (".tsv", ".tab") else ",")
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
    for col in [input_col, *([id_col] if id_col else []), *targets]:
        if col not in frame.columns:
            raise UserError(f"{path}: column {col!r} not found (columns: {', '.join(map(str, frame.columns))})")
    inputs = [None if pd.isna(v) else v for v in frame[input_col].tolist()]
    ids = (frame[id_col].fillna("").astype(str).tolist() if id_col
           else [f"{path.stem}-{i}" for i in range(len(frame))])
    y, bad = _parse_targets(frame, targets, path)
    rejects = [Reject(i, str(inputs[i] or ""), reason) for i, reason in bad.items()]
    for i, ident in enumerate(ids):
        if id_col and not ident.strip() and i not in bad:
            rejects.append(Reject(i, str(inputs[i] or ""), f"empty id in column {id_col!r}"))
    meta_cols = [c for c in _as_list(spec.get("meta")) if c in frame.columns]
    meta = {c: frame[c].tolist() for c in meta_cols}
    return _finish(RawTable(ids, inputs, y, targets, meta, rejects, [path]))


def read_sdf(spec: Mapping) -> RawTable:
    """SDF records → SMILES inputs; properties give id and targets. Unreadable records are rejects."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    path = _require_file(_require_key(spec, "path", "sdf"))
    id_prop, targets = spec.get("id"), _as_list(spec.get("targets"))
    ids, inputs, rows, rejects = [], [], [], []
    for i, mol in enumerate(Chem.ForwardSDMolSupplier(str(path), sanitize=True)):
        if mol is None:
            ids.append(f"{path.stem}-{i}")
            inputs.append(None)
            rows.append([np.nan] * len(targets))
            rejects.append(Reject(i, "", "RDKit could not read this SDF record"))
            continue
        props = mol.GetPropsAsDict()
        ident = str(props.get(id_prop, "")) if id_prop else (mol.GetProp("_Name") or f"{path.stem}-{i}")
        ids.append(ident)
        inputs.append(Chem.MolToSmiles(mol))
        values = []
        for t in targets:
            if t not in props and i == 0:
                raise UserError(f"{path}: property {t!r} not found in the first record "
                                f"(properties: {', '.join(props)})")
            try:
                values.append(float(props[t]) if t in props and str(props[t]).strip() else np.nan)
            except ValueError:
                values.append(np.nan)
                rejects.append(Reject(i, inputs[-1], f"target {t!r} is not a number: {props[t]!r}"))
        rows.append(values)
    y = np.asarray(rows, np.float32).reshape(len(inputs), len(targets))
    return _finish(RawTable(ids, inputs, y, targets, {}, rejects, [path]))


def parse_fasta(path: Path) -> tuple[list[str], list[str]]:
    """(headers, sequences) of a FASTA file; multi-line records are joined, case is kept."""
    data = path.read_bytes()
    first = re.search(rb"\S", data)
    if first and data[first.start():first.start() + 1] != b">":
        raise UserError(f"{path}: not a FASTA file (first character is not '>')")
    lines = (data.replace(b"\r", b"") if b"\r" in data else data).split(b"\n")
    while lines and not lines[-1]:
        lines.pop()
    headers, seqs = lines[0::2], lines[1::2]
    if len(headers) == len(seqs) and all(h[:1] == b">" for h in headers) \
            and not any(s[:1] == b">" for s in seqs):
        # one line per sequence, the usual layout for peaks: bytes-level split, no per-record parsing
        return [h[1:].decode("latin-1").strip() for h in headers], [s.decode("latin-1").strip() for s in seqs]
    headers, seqs = [], []
    for record in data.decode("latin-1").split("\n>"):
        header, _, body = record.lstrip(">").partition("\n")
        if not header and not body:
            continue
        headers.append(header.strip())
        seqs.append("".join(body.split()))
    return headers, seqs


def parse_regions(headers: list[str]) -> dict[str, Any]:
    """Headers like ``chr1:100-300 ...`` → Arrow columns chrom / start / end (null where no match)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.extract_regex(pa.array(headers, pa.string()), _REGION_RE.pattern)
    missing = pc.is_null(parts)  # a header that does not match leaves a null struct

    def column(name, type_):
        values = pc.if_else(missing, pa.scalar(None, pa.string()), parts.field(name))
        return pc.cast(values, type_)  # kept in Arrow: 10x faster than Python lists for big files

    return {"chrom": column("chrom", pa.string()), "start": column("start", pa.int64()),
            "end": column("end", pa.int64())}


def parse_region(header: str) -> tuple[str | None, int | None, int | None]:
    """``chr1:100-300 ...`` → ('chr1', 100, 300); anything else → (None, None, None)."""
    m = _REGION_RE.match(header)
    return (m["chrom"], int(m["start"]), int(m["end"])) if m else (None, None, None)


def read_fasta(spec: Mapping) -> RawTable:
    files = spec.get("files") or [{"path": spec.get("path")}]
    target = spec.get("target")
    labelled = [f for f in files if "label" in f]
    if labelled and len(labelled) != len(files):
        raise UserError("source (format fasta): give a label for every file or for none")
    if labelled and not target:
        raise UserError("source (format fasta): labelled files need a 'target' name")
    ids, inputs, labels, paths, regions, names = [], [], [], [], [], []
    for entry in files:
        path = _require_file(entry.get("path"))
        paths.append(path)
        headers, seqs = parse_fasta(path)
        ids += headers
        inputs += seqs
        labels += [float(entry["label"])] * len(seqs) if labelled else []
        regions.append(parse_regions(headers))
        names += [path.name] * len(seqs)
    import pyarrow as pa

    meta = {col: pa.concat_arrays([r[col] for r in regions]) for col in ("chrom", "start", "end")}
    meta["file"] = names
    y = np.asarray(labels, np.float32).reshape(len(inputs), 1 if labelled else 0)
    rejects = [Reject(i, "", "empty FASTA header") for i, h in enumerate(ids) if not h]
    return _finish(RawTable(ids, inputs, y, [target] if labelled else [], meta, rejects, paths))


def read_images(spec: Mapping) -> RawTable:
    """Every file in a folder (sorted by name). Labels from BBBC005 names or a labels CSV."""
    folder = Path(_require_key(spec, "path", "images"))
    if not folder.is_dir():
        raise UserError(f"image folder not found: {folder}")
    labels = spec.get("labels")
    targets = _as_list(spec.get("targets"))
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name != "manifest.json")
    ids = [p.name for p in files]
    inputs = [str(p) for p in files]
    y = np.full((len(files), len(targets)), np.nan, np.float32)
    rejects: list[Reject] = []
    if labels == "bbbc005":
        targets = targets or ["count"]
        if targets != ["count"]:
            raise UserError(f"labels: bbbc005 gives the target 'count', not {targets}")
        y = np.full((len(files), 1), np.nan, np.float32)
        for i, p in enumerate(files):
            parsed = parse_bbbc005_name(p.name)
            if parsed is None:
                rejects.append(Reject(i, str(p), f"file name does not follow the BBBC005 pattern {bbbc005.PATTERN}"))
            else:
                y[i, 0] = parsed["count"]
    elif labels:
        table = read_csv({"path": labels, "input": spec.get("id", "file"), "targets": targets})
        by_name = {Path(str(f)).name: table.y[i] for i, f in enumerate(table.inputs)}
        for i, p in enumerate(files):
            if p.name in by_name:
                y[i] = by_name[p.name]
            else:
                rejects.append(Reject(i, str(p), f"no row for {p.name!r} in labels file {labels}"))
    return _finish(RawTable(ids, inputs, y, targets, {}, rejects, list(files)))


READERS: dict[str, Callable[[Mapping], RawTable]] = {
    "csv": read_csv,
    "sdf": read_sdf,
    "fasta": read_fasta,
    "images": read_images,
}


def read_source(spec: Mapping) -> RawTable:
    fmt = spec.get("format")
    if fmt not in READERS:
        raise UserError(f"unknown source format {fmt!r} (known: {', '.join(READERS)})")
    return READERS[fmt](spec)
