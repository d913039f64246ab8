"""Readers of raw inputs: CSV, SDF, FASTA, and image folders (BBBC005 names or a labels CSV).

A *source spec* is a small dict (the ``source:`` block of a dataset in config.yaml)::

    {format: csv,    path: data/molecules/freesolv.csv, input: smiles, id: id, targets: [expt]}
    {format: sdf,    path: mols.sdf, id: ID, targets: [SOL]}
    {format: fasta,  files: [{path: oct4.fa, label: 1}, {path: mafk.fa, label: 0}], target: oct4}
    {format: fasta,  path: jund.fa.gz, header_targets: [jund]}      # labels from ``>chr22:1-101 jund=1``
    {format: bed,    files: [{path: bound.bed, label: 1}, {path: unbound.bed, label: 0}], target: bound,
                     genome: hg38.fa, length: 200}
    {format: bed,    path: peaks.bed, score_column: 5, target: signal, genome: hg38.fa, length: 200}
    {format: images, path: results/raw/cells, labels: bbbc005, targets: [count]}
    {format: images, path: my_images/, labels: labels.csv, id: file, targets: [n_cells]}

``read_source(spec)`` returns a :class:`RawTable`: one entry per raw record, in file order. Records
the reader itself cannot use (a duplicate id, a label that is not a number) are listed in
``rejects`` with their reason; structural faults (missing file or column) raise :class:`UserError`.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biodl import bbbc005
from biodl.bbbc005 import parse_bbbc005_name
from biodl.encodings import SequenceBlock
from biodl.errors import UserError
from biodl.featurizers.base import Reject

#: image files the image featurizer reads
IMAGE_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
#: image files it cannot read: still inputs in an image folder, so each is a reject that says why
OTHER_IMAGE_EXTENSIONS = (".bmp", ".dib", ".gif", ".webp", ".jp2", ".j2k", ".jpx", ".jxl", ".heic", ".heif",
                          ".ico", ".pbm", ".pgm", ".ppm", ".pnm", ".tga", ".psd", ".exr", ".dcm", ".czi",
                          ".nd2", ".lif", ".lsm", ".svs", ".ndpi", ".vsi", ".ims", ".oib", ".oif")
_REGION_RE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>\d+)-(?P<end>\d+)")
#: compressed CSVs read as they are (pandas infers the same ones from the name); others must be unpacked
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


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
    skipped: files seen but not read as inputs (non-image files in an image folder).
    """

    ids: list[str]
    inputs: list
    y: np.ndarray
    tasks: list[str]
    meta: dict[str, list] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

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


#: the largest label y.npy (float32) can hold; a larger one would silently become inf
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _label_problem(col: str, raw: Any, value: float) -> str | None:
    """Why ``value`` (parsed from ``raw``) cannot be a label of target ``col``; None if it can.
    NaN here is a written 'nan', not a blank: blanks are missing labels and never reach this."""
    if not np.isfinite(value):
        return f"target {col!r} is not a number: {raw!r}"  # nan, inf, -inf, 1e999 alike
    if abs(value) > _FLOAT32_MAX:
        return f"target {col!r} is out of the float32 range: {raw!r}"
    return None


def _parse_targets(frame, targets: list[str], bad: dict[int, str] | None = None):
    """Columns → float32 matrix; blanks are NaN (missing label), anything else that is not a finite
    number (text, 'nan', 'inf', beyond float32) is a row reject. ``bad`` (row → reason) is extended
    and returned; a row keeps its first reason."""
    import pandas as pd

    y = np.full((len(frame), len(targets)), np.nan, np.float32)
    bad = {} if bad is None else bad
    for j, col in enumerate(targets):
        raw = frame[col]
        numeric = pd.to_numeric(raw, errors="coerce")
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        given = (raw.notna() & (raw.astype(str).str.strip() != "")).to_numpy()
        with np.errstate(invalid="ignore", over="ignore"):  # the rows that overflow are rejected
            suspect = given & ~(np.abs(values) <= _FLOAT32_MAX)  # NaN compares False: caught here
            y[:, j] = values
        for i in np.flatnonzero(suspect):
            bad.setdefault(int(i), _label_problem(col, raw.iloc[i], values[i]))
    return y, bad


def _read_frame(path: Path, sep: str):
    """The CSV as a DataFrame of str (NaN for blank fields) and {row: reason} for rows whose number
    of fields differs from the header's.

    pandas pads a short row with NaN without a word, skips a long one with only a warning, and
    takes the first column as the index when the first data row has one field too many (every
    value shifts one column): so when it warns, or when the last column has blanks (how a short
    row shows), the file is read again record by record with the csv module, which sees each
    record's fields. Well-formed files take the pandas path alone.
    """
    import warnings

    import pandas as pd

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                                on_bad_lines="warn", index_col=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, ValueError) as exc:
        raise UserError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
    suspicious = bool(caught) or (len(frame.columns) and frame.iloc[:, -1].isna().any())
    if not suspicious or len(sep) != 1:  # a regex separator: pandas' python engine, no csv module
        return frame, {}
    return _read_frame_by_record(path, sep)


def _read_frame_by_record(path: Path, sep: str):
    """:func:`_read_frame` the slow way: every record's fields counted (blank lines skipped as
    pandas does; a short row padded and a long one cut to the header, both rejected)."""
    import csv

    import pandas as pd

    rows: list[list[str]] = []
    bad: dict[int, str] = {}
    try:
        with _OPENERS.get(path.suffix.lower(), open)(path, "rt", newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=sep)
            header = None
            for record in reader:
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # a blank line: pandas skips it too
                if header is None:
                    header = _unique_names(record)
                    continue
                if len(record) != len(header):
                    bad[len(rows)] = (f"line {reader.line_num} has {len(record)} fields, "
                                      f"the header has {len(header)}")
                    record = (record + [""] * len(header))[: len(header)]
                rows.append(record)
    except UnicodeDecodeError:  # pandas unpacked it (.zip, .zst), the csv module cannot
        raise UserError(f"{path}: cannot check its rows one by one; give it uncompressed or as "
                        f"{' / '.join(_OPENERS)}") from None
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return frame.mask(frame == ""), bad


def _unique_names(header: list[str]) -> list[str]:
    """Repeated column names as pandas renames them: a, a.1, a.2."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        k = seen.get(name, 0)
        seen[name] = k + 1
        out.append(name if k == 0 else f"{name}.{k}")
    return out


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
    suffix = Path(path.stem).suffix if path.suffix.lower() in _OPENERS else path.suffix  # x.tsv.gz: .tsv
    sep = spec.get("sep", "\t" if suffix in (".tsv", ".tab") else ",")
    frame, bad = _read_frame(path, sep)
    for col in [input_col, *([id_col] if id_col else []), *targets]:
        if col not in frame.columns:
            raise UserError(f"{path}: column {col!r} not found (columns: {', '.join(map(str, frame.columns))})")
    inputs = [None if pd.isna(v) else v for v in frame[input_col].tolist()]
    ids = (frame[id_col].fillna("").astype(str).tolist() if id_col
           else [f"{path.stem}-{i}" for i in range(len(frame))])
    y, bad = _parse_targets(frame, targets, bad)
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
    checked = False  # property names are checked against the first record RDKit can read
    for i, mol in enumerate(Chem.ForwardSDMolSupplier(str(path), sanitize=True)):
        if mol is None:
            ids.append(f"{path.stem}-{i}")
            inputs.append(None)
            rows.append([np.nan] * len(targets))
            rejects.append(Reject(i, "", "RDKit could not read this SDF record"))
            continue
        props = mol.GetPropsAsDict()
        if not checked:
            for name in [*([id_prop] if id_prop else []), *targets]:
                if name not in props:
                    raise UserError(f"{path}: property {name!r} not found in the first record "
                                    f"(properties: {', '.join(props)})")
            checked = True
        ident = str(props.get(id_prop, "")).strip() if id_prop else (mol.GetProp("_Name") or f"{path.stem}-{i}")
        ids.append(ident)
        inputs.append(Chem.MolToSmiles(mol))
        values, problems = [], []
        for t in targets:
            raw = props.get(t, "")
            if isinstance(raw, str) and not raw.strip():
                values.append(np.nan)  # absent or blank: a missing label
                continue
            try:
                value = float(raw)
            except (TypeError, ValueError):
                value = np.nan
            values.append(value)
            problem = _label_problem(t, str(raw), value)  # RDKit may have parsed it already
            if problem:
                problems.append(problem)
        if id_prop and not ident:
            problems.insert(0, f"empty id in property {id_prop!r}")
        if problems:  # one reject per record, with its first reason
            rejects.append(Reject(i, inputs[-1], problems[0]))
        rows.append(values)
    y = np.asarray(rows, np.float32).reshape(len(inputs), len(targets))
    return _finish(RawTable(ids, inputs, y, targets, {}, rejects, [path]))


def read_bytes(path: Path) -> bytes:
    """A file's bytes, decompressed when its name ends in .gz / .bz2 / .xz (one line if that fails)."""
    opener = _OPENERS.get(path.suffix.lower())
    if opener is None:
        return path.read_bytes()
    try:
        with opener(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, lzma.LZMAError) as exc:  # gzip.BadGzipFile is an OSError
        raise UserError(f"{path}: cannot decompress ({exc})") from None


def parse_fasta(path: Path, *, block: bool = False) -> tuple[list[str], list[str] | SequenceBlock]:
    """(headers, sequences) of a FASTA file (plain or .gz / .bz2 / .xz); multi-line records are
    joined, case is kept. ``block=True``: sequences of one length, one line each (peaks, windows),
    come back as one :class:`SequenceBlock` of their letters instead of strings."""
    data = read_bytes(path)
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
        names = [h[1:].decode("latin-1").strip() for h in headers]
        width = len(seqs[0]) if seqs else 0
        if block and width and all(len(s) == width for s in seqs):
            joined = b"".join(seqs)
            if len(joined.translate(None, _WHITESPACE)) == len(joined):  # else strip() decides each length
                return names, SequenceBlock(np.frombuffer(joined, np.uint8).reshape(len(seqs), width))
        return names, [s.decode("latin-1").strip() for s in seqs]
    headers, seqs = [], []
    for k, record in enumerate(data.decode("latin-1").split("\n>")):
        if k == 0 and not record.strip():
            continue  # blank lines before the first record
        # a bare '>' line later is a record with an empty header: the reader rejects it, not drops it
        header, _, body = record.lstrip(">").partition("\n")
        headers.append(header.strip())
        seqs.append("".join(body.split()))
    return headers, seqs


_WHITESPACE = b" \t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"  # the bytes str.strip() removes (as latin-1)


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
    """FASTA files: labels per file (``files: [{path, label}]`` + ``target``), from ``name=value``
    fields of each header (``header_targets``), or none. A header without one of the fields has a
    missing label for it (NaN); a value that is not a number makes the record a reject; a field that
    no header of a file has is a UserError (a misspelt name would otherwise leave no labels)."""
    files = spec.get("files") or [{"path": spec.get("path")}]
    target = spec.get("target")
    header_targets = list(spec.get("header_targets") or [])
    labelled = [f for f in files if "label" in f]
    if labelled and len(labelled) != len(files):
        raise UserError("source (format fasta): give a label for every file or for none")
    if labelled and not target:
        raise UserError("source (format fasta): labelled files need a 'target' name")
    if labelled and header_targets:
        raise UserError("source (format fasta): labels come from the files or from the headers, not both")
    ids, inputs, labels, paths, regions, names, rejects = [], [], [], [], [], [], []
    for entry in files:
        path = _require_file(entry.get("path"))
        paths.append(path)
        label = _file_label(entry, path) if labelled else None
        headers, seqs = parse_fasta(path, block=True)
        if not headers:  # an empty file would add no rows and no reject: nothing would say it
            raise UserError(f"{path}: no FASTA records")
        if header_targets:
            labels.append(_header_labels(headers, header_targets, path, len(ids), rejects))
        elif labelled:
            labels.append(np.full((len(seqs), 1), label, np.float32))
        ids += headers
        inputs.append(seqs)
        regions.append(parse_regions(headers))
        names += [path.name] * len(seqs)
    import pyarrow as pa

    meta = {col: pa.concat_arrays([r[col] for r in regions]) for col in ("chrom", "start", "end")}
    meta["file"] = names
    inputs = _join_sequences(inputs)
    tasks = header_targets or ([target] if labelled else [])
    y = np.concatenate(labels) if labels else np.zeros((len(inputs), 0), np.float32)
    rejects += [Reject(i, "", "empty FASTA header") for i, h in enumerate(ids) if not h]
    rejects.sort(key=lambda r: r.index)
    return _finish(RawTable(ids, inputs, y, tasks, meta, rejects, paths))


def _join_sequences(parts: list) -> SequenceBlock | list[str]:
    """The files' sequences as one block where every file gave a block of one width, else strings."""
    if parts and all(isinstance(p, SequenceBlock) for p in parts) and len({p.width for p in parts}) == 1:
        return parts[0] if len(parts) == 1 else SequenceBlock(np.concatenate([p.letters for p in parts]))
    return [seq for part in parts for seq in part]


def _header_labels(headers: list[str], names: list[str], path: Path, offset: int,
                   rejects: list[Reject]) -> np.ndarray:
    """float32 (len(headers), len(names)) from ``name=value`` fields; NaN where a header lacks one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pa.array(headers, pa.string())
    y = np.full((len(headers), len(names)), np.nan, np.float32)
    for t, name in enumerate(names):
        # a field is a whitespace- or '|'-separated token: 'jund=1', 'chr1:5-9|jund=1'
        raw = pc.extract_regex(column, rf"(?:^|[\s|;]){re.escape(name)}=(?P<v>[^\s|;]*)")
        found = pc.is_valid(raw).to_numpy(zero_copy_only=False)
        if not found.any():
            raise UserError(f"{path}: no FASTA header has a field '{name}=' (header_targets)")
        values = raw.field("v").to_pylist()
        for i in np.flatnonzero(found):
            try:
                value = float(values[i])
            except ValueError:
                value = np.nan
            problem = None if np.isfinite(value) and abs(value) <= _FLOAT32_MAX else \
                f"header field {name}={values[i]!r} is not a finite number"
            if problem:
                rejects.append(Reject(offset + int(i), "", problem))
            else:
                y[i, t] = value
    return y


def _file_label(entry: Mapping, path: Path) -> float:
    """The label every record of one FASTA file gets: a finite number, or a UserError naming it."""
    raw = entry["label"]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = np.nan
    if not np.isfinite(value) or abs(value) > _FLOAT32_MAX:
        raise UserError(f"source (format fasta): label of {path} must be a finite number, got {raw!r}")
    return value


def read_bed(spec: Mapping) -> RawTable:
    """BED intervals → windows of ``length`` bp centred on each interval, cut from ``genome``.

    Labels per file (``files: [{path, label}]`` + ``target``) or from a numeric BED column
    (``score_column``, 1-based: 5 is BED's score) named ``target``. A window that reaches past either
    end of its chromosome is padded with N (meta ``n_fraction`` says how much); an interval on a
    chromosome the genome lacks, one that ends past its chromosome's end, an empty or malformed line,
    or a score that is not a number is a reject with its reason. Strand ``-`` (column 6) windows are
    reverse-complemented. ids are ``chrom:start-end`` of the interval; meta chrom / start / end are
    the window's (what the splits and the leakage audit compare).
    """
    from biodl.genome import Genome, reverse_complement_bytes

    length = spec.get("length")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise UserError(f"source (format bed): length must be a positive integer (window bp), got {length!r}")
    genome = Genome(_require_key(spec, "genome", "bed"))
    files = spec.get("files") or [{"path": spec.get("path")}]
    target, score_column = spec.get("target"), spec.get("score_column")
    labelled = [f for f in files if "label" in f]
    if labelled and len(labelled) != len(files):
        raise UserError("source (format bed): give a label for every file or for none")
    if (labelled or score_column) and not target:
        raise UserError("source (format bed): labels need a 'target' name")
    if labelled and score_column:
        raise UserError("source (format bed): labels come from the files or from score_column, not both")
    if score_column is not None and (isinstance(score_column, bool) or not isinstance(score_column, int)
                                     or score_column < 4):
        raise UserError(f"source (format bed): score_column must be a BED column number >= 4, got {score_column!r}")
    ids, labels, parts, rejects, paths, names = [], [], [], [], [], []
    for entry in files:
        path = _require_file(entry.get("path"))
        paths.append(path)
        part = _parse_bed(path, genome, score_column)
        if not part.ids:
            raise UserError(f"{path}: no BED intervals")
        rejects += [Reject(len(ids) + k, text, f"{path.name} line {line_no}: {problem}")
                    for k, line_no, text, problem in part.problems]
        ids += part.ids
        names += [path.name] * len(part.ids)
        labels.append(np.full(len(part.ids), _file_label(entry, path) if labelled else np.nan)
                      if not score_column else part.score)
        parts.append(part)
    which = np.concatenate([p.contig for p in parts])
    ok = which >= 0
    lo, hi = (np.concatenate([getattr(p, k) for p in parts]) for k in ("lo", "hi"))
    start = (lo + hi) // 2 - length // 2
    letters = np.zeros((len(ids), length), np.uint8)
    if ok.any():
        rows = np.flatnonzero(ok)
        raw = genome.windows(which[rows], start[rows], length)
        minus = np.concatenate([p.strand for p in parts])[rows] == "-"
        if minus.any():
            raw[minus] = reverse_complement_bytes(raw[minus])
        letters[rows] = raw
    import pyarrow as pa

    contig_names = np.asarray(list(genome.contigs), object)
    meta = {"chrom": pa.array(np.where(ok, contig_names[np.maximum(which, 0)], None), pa.string()),
            "start": pa.array(start, pa.int64(), mask=~ok),
            "end": pa.array(start + length, pa.int64(), mask=~ok),
            "strand": pa.array(np.concatenate([p.strand for p in parts]), pa.string()),
            "file": names}
    y = (np.concatenate(labels).astype(np.float32).reshape(len(ids), 1) if (labelled or score_column)
         else np.zeros((len(ids), 0), np.float32))
    tasks = [target] if (labelled or score_column) else []
    return _finish(RawTable(ids, SequenceBlock(letters, ok), y, tasks, meta, rejects, paths + [genome.path]))


@dataclass
class _BedIntervals:
    """The intervals of one BED file, one entry per data line: ``contig`` is the position in the
    genome's index (-1 for a line that is a reject), ``problems`` (row, line number, line, reason)."""

    ids: list[str]
    contig: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    strand: np.ndarray
    score: np.ndarray
    problems: list[tuple[int, int, str, str]]


#: bytes that str.splitlines reads as line breaks besides \n (and \r, checked apart)
_OTHER_BREAKS = tuple(bytes([c]) for c in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85))


def _parse_bed(path: Path, genome, score_column: int | None) -> _BedIntervals:
    """A BED file's intervals: parsed as whole columns (pyarrow's CSV reader, then column checks)
    when the file is plain (ASCII, one field count, headers only at the top); line by line otherwise.
    Both give the same intervals and the same reasons: a line the column checks doubt is read by
    the line-by-line rules (:func:`_bed_problem`), which alone decide a reject."""
    data = read_bytes(path)
    fast = _parse_bed_columns(data, genome, score_column)
    if fast is not None:
        return fast
    text = data.decode("latin-1")
    rows = [(line_no, line.rstrip("\r").split("\t")) for line_no, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.startswith(("#", "track", "browser"))]
    return _parse_bed_rows(rows, genome, score_column)


def _parse_bed_rows(rows: list[tuple[int, list[str]]], genome, score_column: int | None) -> _BedIntervals:
    n = len(rows)
    out = _BedIntervals([], np.full(n, -1, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64),
                        np.full(n, "+", object), np.full(n, np.nan), [])
    code = {name: i for i, name in enumerate(genome.contigs)}
    for k, (line_no, fields) in enumerate(rows):
        out.ids.append(f"{fields[0]}:{fields[1]}-{fields[2]}" if len(fields) > 2 else fields[0])
        problem = _bed_problem(fields, genome, score_column)
        if problem:
            out.problems.append((k, line_no, "\t".join(fields), problem))
            continue
        out.contig[k], out.lo[k], out.hi[k] = code[fields[0]], int(fields[1]), int(fields[2])
        out.strand[k] = fields[5] if len(fields) > 5 else "+"
        if score_column:
            out.score[k] = float(fields[score_column - 1])
    return out


def _parse_bed_columns(data: bytes, genome, score_column: int | None) -> _BedIntervals | None:
    """The column-wise parse, or None where the file is not plain enough for it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    if (not data.isascii() or data.count(b"\r") != data.count(b"\r\n")
            or any(c in data for c in _OTHER_BREAKS)):
        return None
    arr = np.frombuffer(data, np.uint8)
    breaks = np.flatnonzero(arr == ord("\n"))
    line_start = np.concatenate([[0], breaks + 1])
    line_end = np.concatenate([breaks, [len(arr)]])
    if line_start[-1] == len(arr):  # the file ends with a line break: no line after it
        line_start, line_end = line_start[:-1], line_end[:-1]

    def line(i: int) -> str:
        return data[line_start[i]:line_end[i]].decode("ascii").rstrip("\r")

    def skipped(i: int) -> bool:
        text = line(i)
        return not text.strip() or text.startswith(("#", "track", "browser"))

    head = 0
    while head < len(line_start) and skipped(head):
        head += 1
    if head == len(line_start):
        return _parse_bed_rows([], genome, score_column)
    first_byte = arr[np.minimum(line_start[head:], len(arr) - 1)]
    doubtful = np.flatnonzero(np.isin(first_byte, np.frombuffer(b"#tb \t\r\n", np.uint8))
                              | (line_start[head:] == line_end[head:]))
    if any(skipped(head + int(i)) for i in doubtful):
        return None  # a header, comment or blank line among the data lines
    n_fields = line(head).count("\t") + 1
    if n_fields < 3 or (score_column and score_column > n_fields):
        return None
    columns = sorted({0, 1, 2, *([5] if n_fields > 5 else []), *([score_column - 1] if score_column else [])})
    try:
        table = pcsv.read_csv(
            pa.py_buffer(data),
            read_options=pcsv.ReadOptions(skip_rows=head, column_names=[f"c{j}" for j in range(n_fields)],
                                          use_threads=False),
            parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False,
                                            escape_char=False, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(column_types={f"c{j}": pa.string() for j in range(n_fields)},
                                                include_columns=[f"c{j}" for j in columns],
                                                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None  # a line with another field count: the line-by-line rules name it
    n = table.num_rows
    if n != len(line_start) - head:
        return None
    chrom, lo_text, hi_text = (table[f"c{j}"] for j in range(3))
    contig = pc.fill_null(pc.index_in(chrom, value_set=pa.array(list(genome.contigs), pa.string())), -1)
    contig = contig.to_numpy().astype(np.int64)
    doubt = contig < 0
    bounds = []
    for text in (lo_text, hi_text):
        digits = pc.and_(pc.utf8_is_digit(text), pc.less_equal(pc.utf8_length(text), 18)).to_numpy(
            zero_copy_only=False)
        doubt |= ~digits
        bounds.append(pc.cast(pc.if_else(digits, text, "0"), pa.int64()).to_numpy().copy())
    lo, hi = bounds
    lengths = np.array([c.length for c in genome.contigs.values()], np.int64)
    doubt |= (hi <= lo) | (hi > lengths[np.maximum(contig, 0)])
    strand = np.full(n, "+", object)
    if n_fields > 5:
        strand = table["c5"].to_numpy(zero_copy_only=False).astype(object)
        doubt |= ~np.isin(strand, ["+", "-", "."])
    score = np.full(n, np.nan)
    if score_column:
        text = table[f"c{score_column - 1}"]
        try:
            score = pc.cast(text, pa.float64()).to_numpy().copy()
        except pa.ArrowInvalid:  # some value is not a number: Python's float decides for every row
            score = np.array([_float_or_nan(v) for v in text.to_pylist()])
        doubt |= ~np.isfinite(score)
    ids = [f"{c}:{a}-{b}" for c, a, b in zip(chrom.to_pylist(), lo_text.to_pylist(), hi_text.to_pylist())]
    out = _BedIntervals(ids, np.where(doubt, -1, contig), lo, hi, strand, score, [])
    if doubt.any():
        rows = np.flatnonzero(doubt)
        exact = _parse_bed_rows([(head + int(k) + 1, line(head + int(k)).split("\t")) for k in rows],
                                genome, score_column)
        for j, k in enumerate(rows.tolist()):
            out.contig[k], out.lo[k], out.hi[k] = exact.contig[j], exact.lo[j], exact.hi[j]
            out.strand[k], out.score[k] = exact.strand[j], exact.score[j]
        out.problems = [(int(rows[j]), line_no, text, problem) for j, line_no, text, problem in exact.problems]
    return out


def _float_or_nan(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def _bed_problem(fields: list[str], genome, score_column: int | None) -> str | None:
    if len(fields) < 3:
        return f"{len(fields)} fields, a BED line needs chrom, start, end"
    chrom, lo, hi = fields[0], fields[1], fields[2]
    if not (lo.isascii() and lo.isdigit() and hi.isascii() and hi.isdigit()):  # '²' is a digit to isdigit
        return f"start / end are not non-negative integers: {lo!r}, {hi!r}"
    lo, hi = int(lo), int(hi)
    if hi <= lo:
        return f"empty interval (end {hi} <= start {lo})"
    contig = genome.contigs.get(chrom)
    if contig is None:
        shown = ", ".join(list(genome.contigs)[:10]) + (", ..." if len(genome.contigs) > 10 else "")
        return f"chromosome {chrom!r} is not in the genome {genome.path.name} (it has {shown})"
    if hi > contig.length:
        return f"interval ends at {hi}, past the end of {chrom} ({contig.length:,} bp)"
    if len(fields) > 5 and fields[5] not in ("+", "-", "."):
        return f"strand must be +, - or ., got {fields[5]!r}"
    if score_column:
        if len(fields) < score_column:
            return f"no column {score_column} (score_column) on this line"
        try:
            value = float(fields[score_column - 1])
        except ValueError:
            value = np.nan
        if not np.isfinite(value):
            return f"score_column {score_column} is not a finite number: {fields[score_column - 1]!r}"
    return None


def read_images(spec: Mapping) -> RawTable:
    """Every image file in a folder (sorted by name). Labels from BBBC005 names or a labels CSV.

    Files are inputs by extension: readable images, and images of a type the featurizer cannot
    read (they become rejects that say so). Anything else (the labels CSV itself, a README, our
    manifest) is not an input and not a reject; the dataset's manifest lists it as skipped.
    With a labels CSV, an image is a reject when the CSV has no row for it, more than one row,
    or a row the CSV reader rejected (a label that is not a number, a short row); a row naming an
    image the folder does not have is a reject too, so no labelled record disappears unseen.
    """
    folder = Path(_require_key(spec, "path", "images"))
    if not folder.is_dir():
        raise UserError(f"image folder not found: {folder}")
    labels = spec.get("labels")
    targets = _as_list(spec.get("targets"))
    listing = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    files = [p for p in listing if p.suffix.lower() in IMAGE_EXTENSIONS + OTHER_IMAGE_EXTENSIONS]
    skipped = [p for p in listing if p.suffix.lower() not in IMAGE_EXTENSIONS + OTHER_IMAGE_EXTENSIONS]
    ids = [p.name for p in files]
    inputs = [str(p) for p in files]
    y = np.full((len(files), len(targets)), np.nan, np.float32)
    rejects: list[Reject] = []
    inputs_files = list(files)
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
        y, extra = _labels_from_csv(spec, files, targets, rejects)
        for name, reason in extra:
            rejects.append(Reject(len(ids), str(folder / name) if name else "", reason))
            ids.append(name)
            inputs.append(str(folder / name) if name else None)
        inputs_files.append(Path(labels))  # its sha256 belongs in the manifest as much as the images'
    meta = {}
    if spec.get("masks"):
        meta["mask"] = _mask_paths(Path(spec["masks"]), ids, rejects)
        inputs_files += sorted({Path(p) for p in meta["mask"] if p})
    return _finish(RawTable(ids, inputs, y, targets, meta, rejects, inputs_files, skipped))


def _mask_paths(folder: Path, names: list[str], rejects: list[Reject]) -> list[str | None]:
    """Each image's instance mask in ``folder``: a file of the image's name, or for a BBBC005 name
    its scene's in-focus (F1) name, as BBBC005's ground-truth folder holds one mask per scene. An
    image without one is a reject saying where it was looked for."""
    if not folder.is_dir():
        raise UserError(f"mask folder not found: {folder}")
    present = {p.name for p in folder.iterdir() if p.is_file()}
    rejected = {r.index for r in rejects}
    out: list[str | None] = []
    for i, name in enumerate(names):
        candidates = [name]
        parsed = parse_bbbc005_name(name)
        if parsed is not None:
            candidates.append(bbbc005.bbbc005_name(parsed["count"], 1, parsed["site"], parsed["stain"]))
        found = next((c for c in candidates if c in present), None)
        out.append(str(folder / found) if found else None)
        if found is None and i not in rejected:
            rejects.append(Reject(i, name, f"no mask for it in {folder} (looked for {' or '.join(dict.fromkeys(candidates))})"))
    return out


def _labels_from_csv(spec: Mapping, files: list[Path], targets: list[str], rejects: list[Reject]):
    """Labels of ``files`` from the labels CSV: (y (len(files) + extra, T) float32, extra rows as
    (name, reject reason)). Rejects of ``files`` are appended to ``rejects``."""
    labels, id_col = spec["labels"], spec.get("id", "file")
    table = read_csv({"path": labels, "input": id_col, "targets": targets})
    reason_of = {r.index: r.reason for r in table.rejects}
    rows_of: dict[str, list[int]] = {}
    extra: list[tuple[str, str]] = []
    for i, name in enumerate(table.inputs):
        if name is None or not str(name).strip():
            extra.append(("", f"labels file {labels}, row {i}: no file name in column {id_col!r}"))
        else:
            rows_of.setdefault(Path(str(name)).name, []).append(i)
    y = np.full((len(files) + len(extra), len(targets)), np.nan, np.float32)
    for i, p in enumerate(files):
        rows = rows_of.get(p.name, [])
        if not rows:
            rejects.append(Reject(i, str(p), f"no row for {p.name!r} in labels file {labels}"))
        elif len(rows) > 1:  # which label is right is the user's call, not ours
            rejects.append(Reject(i, str(p), f"{len(rows)} rows for {p.name!r} in labels file {labels} "
                                             f"(rows {', '.join(map(str, rows))})"))
        elif rows[0] in reason_of:
            rejects.append(Reject(i, str(p), f"labels file {labels}, row {rows[0]}: {reason_of[rows[0]]}"))
        else:
            y[i] = table.y[rows[0]]
    present = {p.name for p in files}
    absent = [(name, f"listed in labels file {labels}, but {spec['path']} has no image file of that name")
              for name in rows_of if name not in present]
    y = np.concatenate([y, np.full((len(absent), len(targets)), np.nan, np.float32)])
    return y, extra + absent


READERS: dict[str, Callable[[Mapping], RawTable]] = {
    "csv": read_csv,
    "sdf": read_sdf,
    "fasta": read_fasta,
    "bed": read_bed,
    "images": read_images,
}


def read_source(spec: Mapping) -> RawTable:
    fmt = spec.get("format")
    if fmt not in READERS:
        raise UserError(f"unknown source format {fmt!r} (known: {', '.join(READERS)})")
    return READERS[fmt](spec)
