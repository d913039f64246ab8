"""``biodl init DIR --data ...``: a project directory with a commented config made from the user's data.

A project is a directory with its own ``config/config.yaml`` (Snakemake's convention), run from the
biodl checkout with ``snakemake --cores 2 --directory DIR``: results, logs and reports go under DIR,
and the data paths in the config are relative to DIR. ``init_project`` looks at the data through
biodl's own readers (``biodl.sources``) — the SMILES column, the id, the targets and the task type of
a table; the classes, lengths and coordinates of FASTA files; the labels and image size of a folder
— and writes a config that ``biodl.spec`` accepts, with comments on what to change. Anything it cannot
decide is one line naming what it saw and the option that settles it (exit code 2).
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from biodl.errors import UserError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")
#: names an id column goes by (compared in lower case, without spaces / underscores / dashes)
ID_NAMES = ("id", "compoundid", "molid", "moleculeid", "molregno", "chemblid", "moleculechemblid", "cid",
            "sid", "cas", "inchikey", "name", "compound", "compoundname", "molecule", "title")
#: split-conformal intervals at level l need at least this many labelled validation rows
CONFORMAL_LEVELS = (0.8, 0.9, 0.95)
#: below this many labelled records a validation part cannot calibrate even 80 % intervals
MIN_ROWS = 40
SMILES_SAMPLE = 50


@dataclass
class Project:
    """What init found and wrote: the config text and the lines the CLI prints."""

    directory: Path
    config_path: Path
    text: str
    found: list[str] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)


# -- small helpers --------------------------------------------------------------------------------
def _flow(value: Any) -> str:
    """One YAML value on one line (quoted where YAML needs it: paths with spaces, odd column names)."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True)
    return text.strip().removesuffix("...").strip()


def _name(text: str, fallback: str = "data") -> str:
    """A config name (letters, digits, _ and -; it becomes a file name) from a file or folder name."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_-")[:40].strip("_-")
    return name or fallback


def _rel(path: Path, directory: Path) -> str:
    """``path`` as the config writes it: relative to the project directory (Snakemake runs there), so
    a project moved with its data keeps working — unless that climbs more than two folders, where
    the absolute path is the one a person can read and that survives moving the project alone."""
    try:
        rel = Path(os.path.relpath(path.resolve(), directory.resolve()))
    except ValueError:  # another drive on Windows: no relative path exists
        return path.resolve().as_posix()
    return rel.as_posix() if rel.parts[:3] != ("..",) * 3 else path.resolve().as_posix()


def _min_rows(level: float) -> int:
    """Labelled validation rows split-conformal calibration needs at ``level`` (as biodl.uncertainty)."""
    return next(m for m in range(1, 10**6) if math.ceil((m + 1) * level) <= m)


def _levels(valid_rows: float) -> list[float]:
    """Coverage levels the validation part can calibrate, with room for a split that comes out
    smaller than its fraction (scaffold and group splits move whole groups) or rows without labels."""
    usable = [lv for lv in CONFORMAL_LEVELS if _min_rows(lv) <= 0.75 * valid_rows]
    if not usable:
        raise UserError(f"about {valid_rows:.0f} labelled records would reach the validation part: too few to "
                        f"select and calibrate a model (biodl init needs about {MIN_ROWS} labelled records)")
    return usable


def _fractions(n: int) -> list[float]:
    # small sets get larger validation and test parts: 10 % of 300 records is too few to score
    return [0.8, 0.1, 0.1] if n >= 1000 else [0.7, 0.15, 0.15]


def _is_number_column(values) -> bool:
    """Every non-blank value is a finite number, and there is at least one."""
    import pandas as pd

    given = values.dropna()
    given = given[given.astype(str).str.strip() != ""]
    if given.empty:
        return False
    numbers = pd.to_numeric(given, errors="coerce")
    return bool(numbers.notna().all() and np.isfinite(numbers.to_numpy(np.float64)).all())


def _is_row_number(values) -> bool:
    """0..N-1 or 1..N in order: a saved index (pandas' 'Unnamed: 0'), not something to predict."""
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    n = len(numbers)
    return n > 2 and (np.array_equal(numbers, np.arange(n)) or np.array_equal(numbers, np.arange(1, n + 1)))


def _task_type(y: np.ndarray, tasks: list[str], where: str) -> str:
    """binary when every target holds only 0 and 1 (blanks: missing labels), regression when none
    does; targets of both kinds in one dataset are a mistake to point out, not to guess around."""
    binary, other = [], []
    for j, name in enumerate(tasks):
        values = y[:, j][~np.isnan(y[:, j])]
        if len(values) == 0:
            raise UserError(f"{where}: target {name!r} has no values")
        (binary if np.isin(values, (0.0, 1.0)).all() else other).append(name)
    if binary and other:
        raise UserError(f"{where}: targets {', '.join(binary)} hold only 0/1 but {', '.join(other)} do not; "
                        "a dataset is one task type: pick targets of one kind with --target")
    for name in binary:
        values = y[:, tasks.index(name)]
        if len(np.unique(values[~np.isnan(values)])) < 2:
            raise UserError(f"{where}: target {name!r} holds only one class; a classifier needs both 0 and 1")
    return "binary" if binary else "regression"


def _labelled(y: np.ndarray) -> int:
    """Labelled records of the target with the fewest (what calibration has to work with)."""
    return int((~np.isnan(y)).sum(axis=0).min()) if y.shape[1] else 0


def _check_rows(n_labelled: int, where: str) -> None:
    if n_labelled < MIN_ROWS:
        raise UserError(f"{where}: {n_labelled} labelled records; too few to train, select and test a model "
                        f"(biodl init needs at least {MIN_ROWS})")


# -- reading what the user has ----------------------------------------------------------------------
def _kind(path: Path) -> str:
    if path.is_dir():
        return "images"
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix == ".sdf":
        return "sdf"
    if suffix in FASTA_SUFFIXES:
        return "fasta"
    raise UserError(f"{path}: cannot tell what it holds from its extension {suffix or '(none)'!r}: give a .csv / "
                    f".tsv table, an .sdf file, .fa / .fasta files or an image folder")


def _table_separator(path: Path) -> str:
    sep = TABLE_SUFFIXES.get(path.suffix.lower())
    if sep:
        return sep
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline()
    return max(("\t", ",", ";"), key=header.count)


def _smiles_share(values) -> float:
    """Share of a sample of non-blank values RDKit reads as a molecule."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    sample = [str(v).strip() for v in values.dropna().tolist() if str(v).strip()][:SMILES_SAMPLE]
    if not sample:
        return 0.0
    return sum(Chem.MolFromSmiles(v) is not None for v in sample) / len(sample)


def _find_smiles(frame, path: Path, given: str | None) -> str:
    columns = [str(c) for c in frame.columns]
    if given is not None:
        if given not in columns:
            raise UserError(f"{path}: --smiles {given!r} is not a column (columns: {', '.join(columns)})")
        share = _smiles_share(frame[given])
        if share < 0.5:
            raise UserError(f"{path}: column {given!r}: RDKit reads {share:.0%} of its first values as SMILES")
        return given
    # numbers never hold SMILES, and a column of one-letter words ('C', 'N') reads as atoms by chance
    shares = {c: _smiles_share(frame[c]) for c in columns if not _is_number_column(frame[c])}
    named = [c for c in shares if "smiles" in c.lower() and shares[c] >= 0.5]
    if named:
        return named[0]
    best = max(shares, key=shares.get, default=None)
    if best is None or shares[best] < 0.8:
        raise UserError(f"{path}: no SMILES column found (columns: {', '.join(columns)}); "
                        "name it with --smiles COLUMN")
    return best


def _find_id(frame, columns: list[str], given: str | None, path: Path) -> str | None:
    if given is not None:
        if given not in columns:
            raise UserError(f"{path}: --id {given!r} is not a column (columns: {', '.join(columns)})")
        return given
    for column in columns:
        key = re.sub(r"[\s_-]+", "", column.lower())
        values = frame[column]
        unique = values.notna().all() and values.astype(str).str.strip().ne("").all() and values.is_unique
        if unique and (key in ID_NAMES or key.endswith("id")):
            return column
    return None


def _targets(frame, candidates: list[str], given: list[str] | None, path: Path, skipped: list[str]) -> list[str]:
    columns = [str(c) for c in frame.columns]
    if given:
        for name in given:
            if name not in columns:
                raise UserError(f"{path}: --target {name!r} is not a column (columns: {', '.join(columns)})")
            if not _is_number_column(frame[name]):
                raise UserError(f"{path}: --target {name!r} holds values that are not numbers")
        return list(dict.fromkeys(given))
    targets = []
    for column in candidates:
        if not _is_number_column(frame[column]):
            continue
        if _is_row_number(frame[column]):
            skipped.append(f"{column} (row numbers)")
            continue
        targets.append(column)
    if not targets:
        raise UserError(f"{path}: no target column found (no numeric column besides the inputs and ids; "
                        f"columns: {', '.join(columns)}); name one with --target COLUMN")
    return targets


def _sdf_properties(path: Path) -> tuple[dict[str, list], int]:
    """Property name → values of every record RDKit reads, and the number of records."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    props: dict[str, list] = {}
    n = 0
    for mol in Chem.ForwardSDMolSupplier(str(path), sanitize=False):
        n += 1
        if mol is None:
            continue
        for key, value in mol.GetPropsAsDict().items():
            props.setdefault(key, []).append(value)
    return props, n


# -- molecules ------------------------------------------------------------------------------------------
def _molecule_source(path: Path, directory: Path, opts: dict, found: list[str]) -> dict:
    import pandas as pd

    from biodl.sources import _read_frame

    if path.suffix.lower() == ".sdf":
        if opts.get("smiles"):
            raise UserError("--smiles applies to a CSV / TSV table; an SDF file holds structures")
        props, n = _sdf_properties(path)
        if not n:
            raise UserError(f"{path}: no SDF records")
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in props.items()})
        columns = list(frame.columns)
        id_col = _find_id(frame, columns, opts.get("id"), path)
        skipped: list[str] = []
        targets = _targets(frame, [c for c in columns if c != id_col], opts.get("targets"), path, skipped)
        found.append(f"{path.name}: {n} SDF records, properties {', '.join(columns) or 'none'}")
        source = {"format": "sdf", "path": _rel(path, directory)}
        if id_col:
            source["id"] = id_col
        source["targets"] = targets
        return source
    sep = _table_separator(path)
    frame, _ = _read_frame(path, sep)
    columns = [str(c) for c in frame.columns]
    smiles = _find_smiles(frame, path, opts.get("smiles"))
    id_col = _find_id(frame, [c for c in columns if c != smiles], opts.get("id"), path)
    skipped = []
    rest = [c for c in columns if c not in (smiles, id_col)]
    targets = _targets(frame, rest, opts.get("targets"), path, skipped)
    meta = [c for c in rest if c not in targets and not _is_number_column(frame[c])][:20]
    found.append(f"{path.name}: {len(frame)} rows; SMILES in {smiles!r}, id {id_col!r}" if id_col
                 else f"{path.name}: {len(frame)} rows; SMILES in {smiles!r}, no id column (row numbers)")
    if skipped:
        found.append(f"not targets: {', '.join(skipped)}")
    source = {"format": "csv", "path": _rel(path, directory), "input": smiles}
    if id_col:
        source["id"] = id_col
    source["targets"] = targets
    if meta:
        source["meta"] = meta
    if sep != ",":
        source["sep"] = sep
    return source


def _molecules(path: Path, directory: Path, name: str, opts: dict, found: list[str]) -> tuple[list[str], list[str]]:
    from biodl.sources import read_source

    source = _molecule_source(path, directory, opts, found)
    table = read_source({**source, "path": str(path)})
    where = str(path)
    task = _task_type(table.y, table.tasks, where)
    n = _labelled(table.y)
    _check_rows(n, where)
    fractions = _fractions(len(table))
    levels = _levels(n * fractions[1])
    found.append(f"targets {', '.join(table.tasks)}: {task}, {n} labelled records"
                 + (f", {len(table.rejects)} rows rejected by the reader" if table.rejects else "")
                 + ("" if opts.get("targets") or len(table.tasks) == 1 else " (every numeric column: pick with --target)"))
    scaffold_valid = _scaffold_valid_rows(table, fractions, found)
    stratify = task == "binary" and len(table.tasks) == 1 and n == len(table) - len(table.rejects)
    regression = task == "regression"
    lines = [
        "featurizers:",
        "  # ECFP4 as counts (how often each substructure occurs) and RDKit's ~200 2D descriptors",
        "  ecfp_counts: {type: ecfp, radius: 2, n_bits: 2048, counts: true}",
        "  descriptors: {type: rdkit_descriptors}",
        "",
        "datasets:",
        f"  {name}:",
        f"    description: {_flow(f'{path.name}: {n} labelled molecules, {task} on ' + ', '.join(table.tasks))}",
        "    # input: the SMILES column; id: unique ids (left out: row numbers); targets: what to predict",
        f"    source: {_flow(source)}",
        "    featurizers: [ecfp_counts, descriptors]",
        "    splits:",
        "      # random: how well the model does on molecules like the ones it saw"
        + ("; stratified keeps the share of 1s in every part" if stratify else ""),
        f"      random: {_flow({'method': 'stratified' if stratify else 'random', 'fractions': fractions})}",
        "      # scaffold: whole Bemis-Murcko scaffolds go to one part, so the test part holds chemotypes",
        "      # the model never saw (closer to predicting new chemical series; usually a worse score)",
        *([] if scaffold_valid else ["      # left out: too few scaffolds to fill a validation and a test part"]),
        f"      {'' if scaffold_valid else '# '}scaffold: {_flow({'method': 'scaffold', 'fractions': fractions})}",
        "",
        "experiments:",
    ]
    if regression:
        unc_ecfp = {"method": "mc_dropout", "passes": 30, "levels": levels}
        unc_desc = {"method": "ensemble", "members": 5, "heteroscedastic": True, "levels": levels}
        unc_note = ["    # 5 networks with a mean and a variance head: their spread and the predicted noise give σ,",
                    "    # conformal intervals are calibrated on the validation part (mc_dropout is 5x cheaper)"]
        ecfp_note = ["    # MC dropout: 30 passes with dropout on give σ; intervals calibrated on the validation part"]
    else:
        unc_ecfp = unc_desc = {"method": "none", "temperature": True, "levels": levels}
        unc_note = ecfp_note = ["    # one network; its probabilities are temperature-scaled on the validation part"]
    experiments: list[str] = []
    train = {"epochs": 300, "batch_size": 32 if n < 2000 else 64, "lr": 0.001, "weight_decay": 1.0e-5, "patience": 40}

    def experiment(exp: str, description: str, featurizer: str, split: str, model: dict, search: dict,
                   unc: dict, notes: list[str], replicates_note: str) -> None:
        first = not experiments  # the first experiment explains the keys; the others repeat only values
        experiments.append(exp)
        lines.extend([
            f"  {exp}:",
            f"    description: {_flow(description)}",
            f"    dataset: {name}",
            f"    featurizer: {featurizer}",
            f"    split: {split}",
            f"    task: {task}",
            f"    # {replicates_note}",
            "    replicates: 3",
            f"    model: {_flow(model)}",
            *(["    # epochs: the most it trains; patience: it stops after this many epochs without a better",
               "    # validation score and keeps the best epoch's weights"] if first else []),
            f"    train: {_flow(train)}",
            *(["    # every setting of the search trains on train and is scored on valid; the best is kept"]
              if first else []),
            f"    search: {_flow(search)}",
            *(["    # a non-deep baseline on the same split: the deep model has to beat it to be worth it"]
              if first else []),
            f"    baseline: {_flow({'type': 'random_forest', 'n_estimators': 500})}",
            *notes,
            f"    uncertainty: {_flow(unc)}",
        ])

    experiment(f"{name}_mlp_ecfp", "MLP on ECFP4 counts vs random forest, random split", "ecfp_counts", "random",
               {"type": "mlp", "hidden": [512, 128], "dropout": 0.2}, {"space": {"model.dropout": [0.1, 0.3]}},
               unc_ecfp, ecfp_note, "3 random splits (seed, seed + 1, ...): the report gives mean ± sd over them")
    experiment(f"{name}_mlp_descriptors", "MLP on RDKit descriptors vs random forest, random split", "descriptors",
               "random", {"type": "mlp", "hidden": [512, 256], "dropout": 0.1},
               {"space": {"model.hidden": [[512, 256], [1000]], "model.dropout": [0.1, 0.5]}}, unc_desc, unc_note,
               "3 random splits: the report gives mean ± sd over them")
    if scaffold_valid:
        unc_scaffold = {**unc_ecfp, "levels": _levels(scaffold_valid * n / len(table))}
        experiment(f"{name}_mlp_ecfp_scaffold", "MLP on ECFP4 counts vs random forest, scaffold split",
                   "ecfp_counts", "scaffold", {"type": "mlp", "hidden": [512, 128], "dropout": 0.2},
                   {"space": {"model.dropout": [0.1, 0.3]}}, unc_scaffold, ecfp_note,
                   "3 scaffold splits (other scaffolds in each test part)")
    return lines, experiments


#: above this many molecules init does not try the scaffold split (seconds of RDKit); such sets
#: have scaffolds enough for three parts
SCAFFOLD_CHECK_MAX = 20_000


def _scaffold_valid_rows(table, fractions: list[float], found: list[str]) -> int | None:
    """The smallest validation part a scaffold split of ``table`` gets over the three replicate seeds,
    or None (with a note) when whole scaffolds cannot fill three parts: a congeneric series with a
    handful of cores. Tried here, because the workflow would otherwise fail at its split job."""
    import pandas as pd
    from rdkit import Chem, RDLogger

    from biodl.featurizers.molecules import describe_mol
    from biodl.splits import ScaffoldSplitter

    if len(table) > SCAFFOLD_CHECK_MAX:
        return int(fractions[1] * len(table))
    RDLogger.DisableLog("rdApp.*")
    mols = [Chem.MolFromSmiles(s) if isinstance(s, str) else None for s in table.inputs]
    scaffolds = [describe_mol(m)[1] for m in mols if m is not None]
    meta = pd.DataFrame({"scaffold": scaffolds})
    sizes = []
    for seed in range(3):
        try:
            sizes.append(len(ScaffoldSplitter(fractions, seed=seed).split(meta)["valid"]))
        except UserError:
            sizes.append(0)
    if min(sizes) < _min_rows(CONFORMAL_LEVELS[0]) / 0.75:
        counts = Counter(scaffolds)
        found.append(f"no scaffold split: {len(scaffolds)} molecules in {len(counts)} scaffolds (the largest holds "
                     f"{max(counts.values())}), too few to fill a validation and a test part with whole scaffolds")
        return None
    return min(sizes)


# -- DNA ------------------------------------------------------------------------------------------------
def _natural(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def _chromosome_parts(chroms: list, y: np.ndarray, fraction: float) -> tuple[list[str], list[str]] | None:
    """Hold-out chromosomes for valid and test, each near ``fraction`` of the records and holding
    every class; None when the headers lack coordinates or the chromosomes cannot be split so."""
    if not chroms or any(c is None for c in chroms):
        return None
    counts = Counter(chroms)
    if len(counts) < 3:
        return None
    n, target = len(chroms), fraction * len(chroms)
    parts: dict[str, list[str]] = {"test": [], "valid": []}
    sizes = {"test": 0, "valid": 0}
    # largest chromosomes first, each into the first part it does not overfill
    for chrom in sorted(counts, key=lambda c: (-counts[c], _natural(c))):
        for part in ("test", "valid"):
            if sizes[part] < target and sizes[part] + counts[chrom] <= 1.5 * target:
                parts[part].append(chrom)
                sizes[part] += counts[chrom]
                break
    labels = y[:, 0]
    classes = set(np.unique(labels).tolist())
    for part, held in parts.items():
        rows = np.isin(np.asarray(chroms, dtype=object), held)
        if sizes[part] < 0.5 * target or set(np.unique(labels[rows]).tolist()) != classes:
            return None
    if n - sizes["test"] - sizes["valid"] < 0.5 * n:
        return None
    return sorted(parts["valid"], key=_natural), sorted(parts["test"], key=_natural)


def _dna(paths: list[Path], directory: Path, name: str, opts: dict, found: list[str]) -> tuple[list[str], list[str]]:
    from biodl.sources import read_source

    if len(paths) < 2:
        raise UserError(f"{paths[0]}: one FASTA file has no labels: give one file per class, e.g. "
                        "--data positives.fa negatives.fa (the first file is class 1, the second class 0)")
    if opts.get("targets") and len(opts["targets"]) > 1:
        raise UserError("FASTA files per class make one target: give --target once (its name)")
    target = opts["targets"][0] if opts.get("targets") else _name(paths[0].stem, "label")
    binary = len(paths) == 2
    # two files: the first is the positive class (1); more: classes 0, 1, 2, ... in the order given
    labels = [1.0, 0.0] if binary else [float(k) for k in range(len(paths))]
    files = [{"path": _rel(p, directory), "label": lab} for p, lab in zip(paths, labels)]
    table = read_source({"format": "fasta", "target": target,
                         "files": [{"path": str(p), "label": lab} for p, lab in zip(paths, labels)]})
    _check_rows(len(table), ", ".join(map(str, paths)))
    lengths = Counter(len(s) for s in table.inputs if s)
    length = max(lengths)
    task = "binary" if binary else "multiclass"
    classes = ", ".join(f"{p.name} = {int(lab)}" for p, lab in zip(paths, labels))
    found.append(f"{len(table)} sequences ({classes}); lengths {min(lengths)}-{length}")
    chroms = table.meta["chrom"].to_pylist()
    fractions = _fractions(len(table))
    held = _chromosome_parts(chroms, table.y, fractions[2])
    if held:
        valid, test = held
        split = {"method": "chromosome", "valid": valid, "test": test}
        rows = np.isin(np.asarray(chroms, dtype=object), valid)
        valid_rows = int(rows.sum())
        split_note = ["      # headers carry coordinates (chr:start-end): whole chromosomes are held out, so no",
                      "      # region in valid / test sits next to (or overlaps) one the model trained on"]
        found.append(f"headers carry coordinates: valid chromosomes {', '.join(valid)}, test {', '.join(test)}")
    else:
        split = {"method": "stratified", "fractions": fractions}
        valid_rows = fractions[1] * len(table)
        split_note = ["      # no chromosome coordinates in the headers (chr1:100-300): a random split that keeps",
                      "      # the class shares in every part; with coordinates, hold out whole chromosomes:",
                      "      # {method: chromosome, valid: [chr6, chr7], test: [chr8, chr9]}"]
    levels = _levels(valid_rows)
    k = 5 if length >= 50 else 3
    kernel = min(21, max(3, (length // 3) | 1))  # odd, and well inside the sequence
    onehot = {"type": "onehot", "length": length}
    if len(lengths) > 1:
        onehot["resize"] = "crop_pad"
    baseline = {"type": "logistic_regression", "featurizer": f"kmer{k}"} if binary \
        else {"type": "random_forest", "featurizer": f"kmer{k}", "n_estimators": 500}
    exp = f"{name}_cnn"
    lines = [
        "featurizers:",
        "  # one-hot DNA at the longest sequence's length"
        + ("; shorter ones are padded with N (crop_pad)" if len(lengths) > 1 else ""),
        f"  onehot: {_flow(onehot)}",
        f"  # {k}-mer counts on both strands, for the baseline",
        f"  kmer{k}: {_flow({'type': 'kmer', 'k': k, 'canonical': True})}",
        "",
        "datasets:",
        f"  {name}:",
        f"    description: {_flow(f'{len(table)} sequences, {classes}')}",
        "    source:",
        "      format: fasta",
        f"      target: {_flow(target)}    # the task's name",
        "      files:",
        *[f"        - {_flow(f)}" for f in files],
        f"    featurizers: [onehot, kmer{k}]",
        "    splits:",
        *split_note,
        f"      {'chromosomes' if held else 'random'}: {_flow(split)}",
        "",
        "experiments:",
        f"  {exp}:",
        f"    description: {_flow(f'reverse-complement-aware CNN vs {k}-mer baseline')}",
        f"    dataset: {name}",
        "    featurizer: onehot",
        f"    split: {'chromosomes' if held else 'random'}",
        f"    task: {task}",
    ]
    if held:
        lines += ["    # a chromosome split has no seed: replicates would retrain on the same parts with other",
                  "    # training seeds (how much the score moves with the seed alone)",
                  "    # replicates: 3"]
    else:
        lines += ["    # 3 random splits (seed, seed + 1, ...): the report gives mean ± sd over them",
                  "    replicates: 3"]
    lines += [
        "    # filters scan both strands with one set of weights (rc: true): a motif counts on either strand",
        f"    model: {_flow({'type': 'cnn1d', 'channels': [32], 'kernel_sizes': [kernel], 'rc': True, 'global_pool': 'max', 'dropout': 0.3})}",
        "    # epochs: the most it trains; patience: it stops after this many epochs without a better",
        "    # validation score and keeps the best epoch's weights",
        f"    train: {_flow({'epochs': 40, 'batch_size': 64, 'lr': 0.001, 'weight_decay': 1.0e-4, 'patience': 8})}",
        "    # a non-deep baseline on the same split: the CNN has to beat it to be worth it",
        f"    baseline: {_flow(baseline)}",
        "    # one network; its probabilities are temperature-scaled on the validation part",
        f"    uncertainty: {_flow({'method': 'none', 'temperature': True, 'levels': levels})}",
    ]
    return lines, [exp]


# -- images -----------------------------------------------------------------------------------------------
def _image_id_column(frame, folder_files: set[str], path: Path, given: str | None) -> str:
    columns = [str(c) for c in frame.columns]
    if given is not None:
        if given not in columns:
            raise UserError(f"{path}: --id {given!r} is not a column (columns: {', '.join(columns)})")
        return given
    best, share = None, 0.0
    for column in columns:
        names = [Path(str(v)).name for v in frame[column].dropna()]
        hit = sum(n in folder_files for n in names) / max(len(frame), 1)
        if hit > share:
            best, share = column, hit
    if best is None or share < 0.5:
        raise UserError(f"{path}: no column names the image files (columns: {', '.join(columns)}); "
                        "name it with --id COLUMN")
    return best


def _image_geometry(paths: list[str]) -> tuple[int, int]:
    """(smallest side, channels) of a sample of the images, read by biodl's image featurizer."""
    import ast

    from biodl.featurizers.images import ImageFeaturizer

    step = max(1, len(paths) // 24)
    result = ImageFeaturizer(size=(16, 16), channels=1).featurize(paths[::step][:24])
    sides, colour = [], False
    for shape_text in result.meta.get("orig_shape", []):
        shape = [int(s) for s in ast.literal_eval(shape_text)]
        spatial = sorted(shape, reverse=True)[:2]
        sides.append(min(spatial))
        colour |= len(shape) == 3 and min(shape) in (3, 4)
    if not sides:
        reasons = "; ".join(sorted({r.reason for r in result.rejects})[:2])
        raise UserError(f"none of the sampled images could be read ({reasons})")
    return min(sides), 3 if colour else 1


def _images(folder: Path, directory: Path, name: str, opts: dict, found: list[str]) -> tuple[list[str], list[str]]:
    from biodl.bbbc005 import parse_bbbc005_name
    from biodl.sources import IMAGE_EXTENSIONS, _read_frame, read_source

    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise UserError(f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    labels = opts.get("labels")
    group = None
    if labels:
        labels = Path(labels)
        if not labels.is_file():
            raise UserError(f"labels file not found: {labels}")
        frame, _ = _read_frame(labels, _table_separator(labels))
        id_col = _image_id_column(frame, {p.name for p in files}, labels, opts.get("id"))
        skipped: list[str] = []
        targets = _targets(frame, [c for c in map(str, frame.columns) if c != id_col], opts.get("targets"),
                           labels, skipped)
        source = {"format": "images", "path": _rel(folder, directory), "labels": _rel(labels, directory),
                  "id": id_col, "targets": targets}
        found.append(f"{labels.name}: image names in {id_col!r}, targets {', '.join(targets)}")
    elif sum(parse_bbbc005_name(p.name) is not None for p in files) >= 0.9 * len(files):
        source = {"format": "images", "path": _rel(folder, directory), "labels": "bbbc005"}
        group = "scene"
        found.append("BBBC005 file names: the cell count is the target, the scene (count + site) the group")
    else:
        raise UserError(f"{folder}: no labels for its {len(files)} images: give --labels labels.csv (a column of "
                        "image file names and a numeric column per target), or BBBC005 file names")
    read = {**source, "path": str(folder)}
    if labels:
        read["labels"] = str(labels)
    table = read_source(read)
    where = str(labels or folder)
    task = _task_type(table.y, table.tasks, where)
    n = _labelled(table.y)
    _check_rows(n, where)
    side, channels = _image_geometry([str(p) for p in files])
    size = max(16, min(128, side) // 8 * 8)
    found.append(f"{len(files)} images, smallest side {side} px{' (colour)' if channels == 3 else ''}: "
                 f"featurized at {size} × {size}; {task} on {', '.join(table.tasks)}, {n} labelled")
    fractions = _fractions(n)
    levels = _levels(n * fractions[1])
    counts = task == "regression" and len(table.tasks) == 1 and bool(
        np.all(table.y[~np.isnan(table.y)] >= 0) and np.all(table.y[~np.isnan(table.y)] % 1 == 0))
    if group:
        split = {"method": "group", "key": group, "fractions": fractions}
        split_note = ["      # every image of one scene (all its blur levels) stays in one part: no scene leaks"]
    else:
        split = {"method": "random", "fractions": fractions}
        split_note = ["      # random: if several images come from one specimen, well or field of view, they can",
                      "      # land in train and test at once; BBBC005 names give a scene group key instead"]
    if counts:
        baseline = {"type": "classical_count"}
        base_note = "    # Otsu threshold + connected components, calibrated on train: the classical way to count"
    else:
        baseline = {"type": "random_forest", "n_estimators": 500}
        base_note = "    # a random forest on the pixels: the CNN has to beat it to be worth it"
    unc = {"method": "mc_dropout", "passes": 30, "levels": levels} if task == "regression" \
        else {"method": "none", "temperature": True, "levels": levels}
    exp = f"{name}_cnn"
    image = {"type": "image", "size": [size, size]}
    if channels == 3:
        image["channels"] = 3
    lines = [
        "featurizers:",
        "  # every image resized to this size and scaled to [0, 1] by its 1st / 99.8th percentiles",
        f"  image{size}: {_flow(image)}",
        "",
        "datasets:",
        f"  {name}:",
        f"    description: {_flow(f'{len(files)} images in {folder.name}, {task} on ' + ', '.join(table.tasks))}",
        f"    source: {_flow(source)}",
        f"    featurizers: [image{size}]",
        "    splits:",
        *split_note,
        f"      {'scenes' if group else 'random'}: {_flow(split)}",
        "",
        "experiments:",
        f"  {exp}:",
        f"    description: {_flow('2D CNN vs ' + baseline['type'].replace('_', ' '))}",
        f"    dataset: {name}",
        f"    featurizer: image{size}",
        f"    split: {'scenes' if group else 'random'}",
        f"    task: {task}",
        "    # 3 splits (seed, seed + 1, ...): the report gives mean ± sd over them",
        "    replicates: 3",
        f"    model: {_flow({'type': 'cnn2d', 'channels': [16, 32, 64, 128], 'kernel_size': 3, 'stride': 2, 'dropout': 0.1})}",
        "    # epochs: the most it trains; patience: it stops after this many epochs without a better",
        "    # validation score and keeps the best epoch's weights",
        f"    train: {_flow({'epochs': 150, 'batch_size': 16, 'lr': 0.001, 'patience': 25})}",
        base_note,
        f"    baseline: {_flow(baseline)}",
        "    # MC dropout: passes with dropout on give σ; intervals calibrated on the validation part"
        if task == "regression" else "    # one network; its probabilities are temperature-scaled on the validation part",
        f"    uncertainty: {_flow(unc)}",
    ]
    return lines, [exp]


# -- the project ------------------------------------------------------------------------------------------
def init_project(directory: str | Path, data: list[str | Path], *, smiles: str | None = None, id: str | None = None,
                 targets: list[str] | None = None, labels: str | Path | None = None, name: str | None = None,
                 force: bool = False) -> Project:
    """Inspect ``data`` and write ``directory/config/config.yaml``; returns what was found and written."""
    from biodl.spec import NAME_PATTERN, parse_config

    directory = Path(directory)
    config_path = directory / "config" / "config.yaml"
    if config_path.exists() and not force:
        raise UserError(f"{config_path} exists; give --force to overwrite it")
    if not data:
        raise UserError("give the data with --data FILE [FILE ...]")
    paths = [Path(p) for p in data]
    for path in paths:
        if not path.exists():
            raise UserError(f"no such file or folder: {path}")
    kinds = {path: _kind(path) for path in paths}
    if len(set(kinds.values())) > 1:
        seen = ", ".join(f"{p} ({k})" for p, k in kinds.items())
        raise UserError(f"mixed inputs: {seen}; a project reads one kind: a table / SDF of molecules, FASTA "
                        "files (one per class) or an image folder")
    kind = next(iter(kinds.values()))
    if kind != "fasta" and len(paths) > 1:
        raise UserError(f"give one {'image folder' if kind == 'images' else 'table or SDF file'}, "
                        f"not {len(paths)}: {', '.join(map(str, paths))}")
    if smiles and kind not in ("table",):
        raise UserError("--smiles applies to a CSV / TSV table of molecules")
    if labels and kind != "images":
        raise UserError("--labels applies to an image folder")
    if name is not None and not re.match(NAME_PATTERN, name):
        raise UserError(f"--name {name!r}: letters, digits, _ and - only (it becomes file names)")
    opts = {"smiles": smiles, "id": id, "targets": targets, "labels": labels}
    found: list[str] = []
    if kind == "fasta":
        default = "_vs_".join(_name(p.stem) for p in paths[:2]) + ("_etc" if len(paths) > 2 else "")
        dataset = name or _name(default)
        body, experiments = _dna(paths, directory, dataset, opts, found)
    elif kind == "images":
        dataset = name or _name(paths[0].resolve().name, "images")
        body, experiments = _images(paths[0], directory, dataset, opts, found)
    else:
        dataset = name or _name(paths[0].stem, "molecules")
        body, experiments = _molecules(paths[0], directory, dataset, opts, found)
    if dataset == "index" or "index" in experiments:
        raise UserError("the name 'index' is taken by the leaderboard page: give --name")
    options = [(flag, value) for flag, value in (("--smiles", smiles), ("--id", id), ("--labels", labels),
                                                  ("--name", name)) if value]
    options += [("--target", t) for t in targets or []]
    command = shlex.join(["biodl", "init", str(directory), "--data", *map(str, paths),
                          *[str(x) for pair in options for x in pair]])
    header = [
        f"# biodl project config, written by `{command}`.",
        "# Run it from the biodl checkout:  snakemake --cores 2 --directory <this project>",
        "# Paths are relative to the project directory; every key is explained in biodl's config/README.md.",
        "# Check a change before running it:  biodl check --config config/config.yaml",
        "seed: 0           # every random step (splits, initial weights) derives its seed from this",
        "n_jobs: 1         # CPU threads per featurization / training job (-1: all of --cores)",
        "",
    ]
    text = "\n".join(header + body) + "\n"
    # what is written must be what the workflow accepts: checked here, not at the user's first run
    parse_config(yaml.safe_load(text), where=f"{config_path} (as biodl init would write it)")
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(text)
    return Project(directory, config_path, text, found, experiments)


def checkout() -> Path | None:
    """The biodl checkout whose Snakefile runs projects (an editable install's source tree)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "Snakefile").is_file() and (root / "workflow" / "rules").is_dir() else None


def next_steps(project: Project, cwd: Path | None = None) -> list[str]:
    """The commands to run next, exactly as the user types them from ``cwd``."""
    cwd = (cwd or Path.cwd()).resolve()
    directory = project.directory
    root = checkout()
    # Snakemake reads DIR/config/config.yaml and writes results/ and logs/ under DIR, from wherever it runs
    if root is not None and root == cwd:
        snake = ["snakemake", "--cores", "2", "--directory", str(directory)]
    elif root is not None:
        snake = ["snakemake", "--cores", "2", "--snakefile", str(root / "Snakefile"), "--directory", str(directory)]
    else:
        snake = ["snakemake", "--cores", "2", "--directory", str(directory.resolve())]
    reports = directory / "results" / "reports"
    lines = [
        f"wrote {project.config_path}",
        *[f"  {line}" for line in project.found],
        f"  experiments: {', '.join(project.experiments)}",
        "",
        "next:",
        f"  biodl check --config {shlex.quote(str(project.config_path))}      # after any edit",
        f"  {shlex.join(snake)}" + ("" if root is not None else "      # from your biodl checkout"),
        f"  biodl status {shlex.quote(str(directory))}      # training progress (also printed by snakemake)",
        "",
        f"reports: {reports / 'index.html'} (leaderboard) and {reports}/<experiment>.html",
        "To go faster first, lower epochs / replicates / search in the config.",
    ]
    return lines
