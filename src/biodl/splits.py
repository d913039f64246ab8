"""Train / valid / test splits of a featurized dataset, with a leakage audit.

A splitter is a small scikit-learn-style class found by name in :data:`SPLITTERS`; its
``split(meta, y)`` returns sorted int64 row positions (0..N-1 into the dataset) for each part.
:func:`make_split` builds one from a config spec, optionally drops duplicate inputs first, and
returns a JSON-able record with the index lists and the leakage audit::

    >>> split = make_split(ds.meta, ds.y, {"method": "scaffold", "seed": 0})
    >>> split["sizes"], split["audit"]["duplicated_keys"]
    ({'train': 514, 'valid': 64, 'test': 64}, 0)
    >>> save_split(split, "results/splits/freesolv/scaffold.json")

Methods: ``random``, ``scaffold`` (Bemis–Murcko, Chemprop's balanced variant), ``stratified``
(class labels), ``group`` (any meta column: scene, chrom, ...), ``chromosome`` (explicit hold-out
lists) and ``kfold`` (optionally grouped). Adding one is a class plus ``@register_splitter``.

Every part must be non-empty: a split with an empty part is a :class:`~biodl.errors.UserError`,
never a silent fallback. Same inputs and seed give the same split, bit for bit.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from biodl.errors import UserError
from biodl.registry import Interval, Length, Registry

PARTS = ("train", "valid", "test")
TRAIN, VALID, TEST = 0, 1, 2

#: meta columns tried, in order, for the canonical key of a row (see :func:`canonical_keys`)
KEY_COLUMNS = ("canonical_smiles", "sha256", "input")

SPLITTERS: Registry = Registry("split method")
register_splitter = SPLITTERS.register


# -- the contract -------------------------------------------------------------------------------
class Splitter:
    """Base class. Subclasses set ``name`` and implement ``_assign``.

    Parameters are taken in ``__init__`` (scikit-learn style: stored under the same names) and
    exposed by ``params``. ``fractions`` are (train, valid, test) shares of the rows; ``seed``
    drives every random choice through ``numpy.random.default_rng(seed)``.
    """

    name: ClassVar[str]
    param_constraints: ClassVar[dict] = {"fractions": (Interval(0, 1), Length(3, 3)), "seed": Interval(0, None)}

    def __init__(self, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0):
        self.fractions = _check_fractions(fractions)
        self.seed = _check_seed(seed)

    @property
    def params(self) -> dict[str, Any]:
        """JSON-able constructor arguments (tuples become lists)."""
        sig = inspect.signature(type(self).__init__)
        return {k: _jsonable(getattr(self, k)) for k in sig.parameters if k != "self"}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def split(self, meta, y: np.ndarray | None = None, *,
              tasks: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Split the N rows of ``meta`` (a pandas DataFrame) into train / valid / test.

        y:     float32 (N, T) or (N,) labels, NaN = missing; only label-aware methods read it.
        tasks: the T task names, used in messages and to pick a task by name.
        Returns ``{"train", "valid", "test"}`` → sorted int64 arrays of positions 0..N-1:
        disjoint, together covering every row, none empty (else a UserError).
        """
        n = len(meta)
        if y is not None and len(y) != n:
            raise ValueError(f"meta has {n} rows but y has {len(y)}")
        if n < len(PARTS):
            raise UserError(f"split: {n} samples, fewer than the {len(PARTS)} parts (train, valid, test)")
        labels = np.asarray(self._assign(meta, y, tasks), dtype=np.int8)
        if labels.shape != (n,) or labels.min() < TRAIN or labels.max() > TEST:
            raise AssertionError(f"{type(self).__name__} left rows without a part")
        for k, part in enumerate(PARTS):
            if not (labels == k).any():
                raise self._empty(part, n)
        return {part: np.flatnonzero(labels == k).astype(np.int64) for k, part in enumerate(PARTS)}

    def _assign(self, meta, y: np.ndarray | None, tasks: Sequence[str] | None) -> np.ndarray:
        """int8 (N,) part label per row: 0 train, 1 valid, 2 test (disjoint and complete by construction)."""
        raise NotImplementedError

    # -- helpers shared by the methods --------------------------------------------------------
    def _describe(self) -> str:
        """What decides the part sizes, for the empty-part message."""
        return f"fractions {list(self.fractions)}"

    def _hint(self) -> str:
        return "give it a larger fraction or use more data"

    def _empty(self, part: str, n: int) -> UserError:
        return UserError(f"split: the {part} part is empty (N={n}, {self._describe()}); {self._hint()}")

    def _sizes(self, n: int) -> np.ndarray:
        """Target rows per part; a zero is an error here, before any work."""
        sizes = part_sizes(n, self.fractions)
        for k, part in enumerate(PARTS):
            if sizes[k] == 0:
                raise self._empty(part, n)
        return sizes


def part_sizes(n: int, fractions: Sequence[float]) -> np.ndarray:
    """int64 (3,) rows per part for ``n`` rows, summing to ``n``.

    Largest-remainder rounding: each part gets floor(f·n), the leftover rows go to the largest
    fractional remainders (ties: train, then valid, then test), so sizes are as close to the
    fractions as integers allow and never drift with N.
    """
    exact = np.asarray(fractions, dtype=np.float64) * n
    # 0.1 * 30 is 3.0000000000000004 but 0.29 * 100 is 28.999999999999996: round away the noise
    base = np.floor(exact + 1e-9).astype(np.int64)
    order = np.argsort(-(exact - base), kind="stable")
    base[order[: n - int(base.sum())]] += 1
    return base


# -- methods ------------------------------------------------------------------------------------
@register_splitter
class RandomSplitter(Splitter):
    """Rows shuffled by ``default_rng(seed).permutation``, then cut at the fractions."""

    name = "random"

    def _assign(self, meta, y, tasks):
        n = len(meta)
        sizes = self._sizes(n)
        perm = np.random.default_rng(self.seed).permutation(n)
        labels = np.empty(n, np.int8)
        labels[perm] = np.repeat(np.arange(len(PARTS), dtype=np.int8), sizes)
        return labels


@register_splitter
class ScaffoldSplitter(Splitter):
    """Bemis–Murcko scaffold groups (meta column ``scaffold``), Chemprop's ``scaffold_balanced``.

    A scaffold never straddles two parts. Groups larger than half the valid or test size go to
    train first, largest first (ties in seeded order): a big scaffold in test would dominate it.
    The other groups are shuffled with the seed; groups are then filled in order into train until
    it is full, then valid, then test.

    An empty scaffold means an acyclic molecule. Chemprop pools all of them into one '' group;
    here each acyclic molecule is its own group, because acyclic molecules share no ring system
    and one pooled group (often the largest) would be forced whole into train.
    """

    name = "scaffold"

    def _assign(self, meta, y, tasks):
        import pandas as pd

        n = len(meta)
        sizes = self._sizes(n)
        _require_column(meta, "scaffold", self.name, why="scaffold splits need a molecule dataset")
        scaffold = meta["scaffold"].to_numpy(dtype=object)
        acyclic = np.asarray(pd.isna(scaffold), bool) | (scaffold == "")
        codes, uniques = pd.factorize(np.where(acyclic, None, scaffold))
        codes = codes.astype(np.int64)
        codes[acyclic] = len(uniques) + np.arange(int(acyclic.sum()))
        counts = np.bincount(codes)

        order = np.random.default_rng(self.seed).permutation(len(counts))
        big = counts[order] > min(sizes[VALID], sizes[TEST]) / 2
        big_first = order[big][np.argsort(-counts[order[big]], kind="stable")]
        order = np.concatenate([big_first, order[~big]])

        part_of = np.empty(len(counts), np.int8)
        filled = np.zeros(len(PARTS), np.int64)
        for g in order:
            c = counts[g]
            if filled[TRAIN] + c <= sizes[TRAIN]:
                k = TRAIN
            elif filled[VALID] + c <= sizes[VALID]:
                k = VALID
            else:
                k = TEST
            part_of[g] = k
            filled[k] += c
        return part_of[codes]

    def _hint(self):
        return "whole scaffolds go to one part: give it a larger fraction or use more molecules"


@register_splitter
class StratifiedSplitter(Splitter):
    """Class proportions of one label kept in every part (scikit-learn ``train_test_split``).

    task: which column of y to stratify on — an index or a task name; may be left out when y has
          one task. Labels must be class labels (integers stored as float); NaN is an error.
    """

    name = "stratified"

    def __init__(self, fractions=(0.8, 0.1, 0.1), seed=0, task: int | str | None = None):
        super().__init__(fractions, seed)
        self.task = task

    def _assign(self, meta, y, tasks):
        from sklearn.model_selection import train_test_split

        n = len(meta)
        sizes = self._sizes(n)
        labels, name = self._labels(y, tasks)
        missing = int(np.isnan(labels).sum())
        if missing:
            raise UserError(f"stratified split: target '{name}' has {missing} missing (NaN) labels of {n}; "
                            "stratify on a complete task or use method 'random'")
        if not np.all(labels == np.round(labels)):
            bad = labels[labels != np.round(labels)][0]
            raise UserError(f"stratified split: target '{name}' is not a class label (values such as "
                            f"{bad:g}); stratify a classification target or use method 'random'")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise UserError(f"stratified split: target '{name}' has only one class ({classes[0]:g}); "
                            "a stratified split needs at least two")
        idx = np.arange(n)
        try:  # test first, then valid out of the rest: both cuts keep the class ratios
            rest, test = train_test_split(idx, test_size=int(sizes[TEST]), stratify=labels,
                                          random_state=self.seed)
            train, valid = train_test_split(rest, test_size=int(sizes[VALID]), stratify=labels[rest],
                                            random_state=self.seed)
        except ValueError as exc:  # too few members of a class, or a part smaller than the class count
            raise UserError(f"stratified split: target '{name}': {exc}") from None
        out = np.empty(n, np.int8)
        out[train], out[valid], out[test] = TRAIN, VALID, TEST
        return out

    def _labels(self, y, tasks) -> tuple[np.ndarray, str]:
        """(labels (N,) float64, task name) of the task to stratify on."""
        if y is None:
            raise UserError("stratified split: needs the labels y")
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        n_tasks = y.shape[1]
        names = list(tasks) if tasks is not None else [f"task {j}" for j in range(n_tasks)]
        task = self.task
        if task is None:
            if n_tasks != 1:
                raise UserError(f"stratified split: y has {n_tasks} tasks ({', '.join(names)}); "
                                "set 'task' to the one to stratify on")
            j = 0
        elif isinstance(task, str):
            if task not in names:
                raise UserError(f"stratified split: unknown task {task!r} (tasks: {', '.join(names)})")
            j = names.index(task)
        elif isinstance(task, numbers.Integral) and not isinstance(task, bool) and -n_tasks <= task < n_tasks:
            j = int(task) % n_tasks
        else:
            raise UserError(f"stratified split: 'task' must be a task name or an index below {n_tasks}, "
                            f"got {task!r}")
        return y[:, j], names[j]


@register_splitter
class GroupSplitter(Splitter):
    """Whole groups (rows sharing a value of meta column ``key``) go to one part.

    key: the group column, e.g. ``scene`` (BBBC005: one scene imaged at several blur levels) or
         ``chrom``. Groups are shuffled with the seed and each goes to the part that is
         proportionally least full (rows so far / target rows; ties: train, valid, test), so a
         few groups still reach every part and many groups approach the fractions by row count.
    """

    name = "group"

    def __init__(self, fractions=(0.8, 0.1, 0.1), seed=0, key: str | None = None):
        super().__init__(fractions, seed)
        if not isinstance(key, str) or not key:
            raise UserError("split 'group': set 'key' to the meta column that holds the groups "
                            "(e.g. scene, chrom)")
        self.key = key

    def _assign(self, meta, y, tasks):
        n = len(meta)
        sizes = self._sizes(n)
        # remembered only for the message if a part ends up empty
        codes, self._n_groups = group_codes(meta, self.key, self.name)
        counts = np.bincount(codes)
        part_of = np.empty(len(counts), np.int8)
        filled = np.zeros(len(PARTS), np.int64)
        for g in np.random.default_rng(self.seed).permutation(len(counts)):
            k = int(np.argmax((sizes - filled) / sizes))
            part_of[g] = k
            filled[k] += counts[g]
        return part_of[codes]

    def _hint(self):
        groups = getattr(self, "_n_groups", None)
        have = f" ({groups} groups in '{self.key}')" if groups is not None else ""
        return f"whole groups go to one part{have}: give it a larger fraction or use a key with more groups"


@register_splitter
class ChromosomeSplitter(Splitter):
    """Explicit hold-out chromosomes: rows on ``valid`` → valid, on ``test`` → test, the rest train.

    valid, test: lists of chromosome names as they appear in meta column ``key`` (e.g. chr6).
    Deterministic: ``fractions`` and ``seed`` are accepted for a uniform spec but not used.
    """

    name = "chromosome"

    def __init__(self, fractions=(0.8, 0.1, 0.1), seed=0, valid: Sequence[str] | None = None,
                 test: Sequence[str] | None = None, key: str = "chrom"):
        super().__init__(fractions, seed)
        self.valid = _name_list(valid, "valid")
        self.test = _name_list(test, "test")
        both = sorted(set(self.valid) & set(self.test))
        if both:
            raise UserError(f"split 'chromosome': {', '.join(both)} listed in both valid and test")
        self.key = key

    def _assign(self, meta, y, tasks):
        _require_column(meta, self.key, self.name)
        chrom = _column_values(meta, self.key, self.name).astype(str)
        present = set(np.unique(chrom).tolist())
        for part, names in (("valid", self.valid), ("test", self.test)):
            absent = [c for c in names if c not in present]
            if absent:
                shown = ", ".join(sorted(present)[:30]) + (", ..." if len(present) > 30 else "")
                raise UserError(f"split 'chromosome': {part} chromosome {absent[0]!r} does not occur in "
                                f"column '{self.key}' (present: {shown})")
        labels = np.full(len(chrom), TRAIN, np.int8)
        labels[np.isin(chrom, self.valid)] = VALID
        labels[np.isin(chrom, self.test)] = TEST
        return labels

    def _describe(self):
        return f"valid {self.valid}, test {self.test}"

    def _hint(self):
        return "every other chromosome is train: hold out fewer chromosomes"


@register_splitter
class KFoldSplitter(Splitter):
    """Fold ``fold`` of ``n_folds`` is test, fold ``(fold + 1) % n_folds`` valid, the rest train.

    Rows (or, with ``key``, whole groups) are assigned to folds by a seeded shuffle: rows round
    robin, groups each to the fold with the fewest rows so far. The assignment depends only on
    the seed, n_folds and key, so fold = 0..n_folds-1 of one seed make each row test exactly once.
    ``fractions`` are ignored (the fold sizes are 1/n_folds each).
    """

    name = "kfold"
    param_constraints = {**Splitter.param_constraints, "n_folds": Interval(3, 1000), "fold": Interval(0, 999)}

    def __init__(self, fractions=(0.8, 0.1, 0.1), seed=0, n_folds: int = 5, fold: int = 0,
                 key: str | None = None):
        super().__init__(fractions, seed)
        if not _is_int(n_folds) or n_folds < 3:
            raise UserError(f"split 'kfold': n_folds must be an integer >= 3 (test, valid and at least one "
                            f"train fold), got {n_folds!r}")
        if not _is_int(fold) or not 0 <= fold < n_folds:
            raise UserError(f"split 'kfold': fold must be an integer in 0..{n_folds - 1}, got {fold!r}")
        self.n_folds, self.fold, self.key = int(n_folds), int(fold), key

    def folds(self, meta) -> np.ndarray:
        """int64 (N,) fold number of each row."""
        n = len(meta)
        rng = np.random.default_rng(self.seed)
        if self.key is None:
            fold_of = np.empty(n, np.int64)
            fold_of[rng.permutation(n)] = np.arange(n) % self.n_folds
            return fold_of
        codes, _ = group_codes(meta, self.key, self.name)
        counts = np.bincount(codes)
        fold_of_group = np.empty(len(counts), np.int64)
        rows = np.zeros(self.n_folds, np.int64)
        for g in rng.permutation(len(counts)):
            f = int(np.argmin(rows))
            fold_of_group[g] = f
            rows[f] += counts[g]
        return fold_of_group[codes]

    def _assign(self, meta, y, tasks):
        fold_of = self.folds(meta)
        labels = np.full(len(fold_of), TRAIN, np.int8)
        labels[fold_of == self.fold] = TEST
        labels[fold_of == (self.fold + 1) % self.n_folds] = VALID
        return labels

    def _describe(self):
        return f"n_folds {self.n_folds}, fold {self.fold}" + (f", key '{self.key}'" if self.key else "")

    def _hint(self):
        return "each fold needs at least one row (or group): use fewer folds"


# -- building a split from a spec ---------------------------------------------------------------
def make_splitter(spec: Mapping[str, Any] | str) -> Splitter:
    """Build a splitter from ``{"method": name, **params}`` (or a bare name)."""
    spec = {"method": spec} if isinstance(spec, str) else dict(spec)
    method = spec.pop("method", None)
    if method not in SPLITTERS:
        raise UserError(f"unknown split method {method!r} (known: {', '.join(sorted(SPLITTERS))})")
    cls = SPLITTERS[method]
    known = [k for k in inspect.signature(cls.__init__).parameters if k != "self"]
    unknown = [k for k in spec if k not in known]
    if unknown:
        raise UserError(f"split method {method!r}: unknown parameter {unknown[0]!r} "
                        f"(known: {', '.join(known + ['dedupe'])})")
    return cls(**spec)


def make_split(meta, y: np.ndarray | None, spec: Mapping[str, Any], *,
               tasks: Sequence[str] | None = None) -> dict[str, Any]:
    """Split a dataset by ``spec`` and audit it. Returns a JSON-able dict.

    meta: pandas DataFrame, N rows (``FeaturizedDataset.meta``); y: float32 (N, T) or None.
    spec: ``{"method": ..., "fractions": [0.8, 0.1, 0.1], "seed": 0, "dedupe": False, **params}``.
          With ``dedupe`` the first row of each canonical key (:func:`canonical_keys`) is kept and
          the others are listed in ``dropped`` before splitting, so no input is in two parts.
    Returns ``method``, ``params`` (the spec with all defaults filled in), ``seed``, ``n`` (rows of
    the dataset, dropped ones included), ``sizes``, ``train`` / ``valid`` / ``test`` (sorted row
    lists), ``dropped`` and ``audit`` (:func:`leakage_audit`).
    """
    spec = dict(spec)
    dedupe = spec.pop("dedupe", False)
    if not isinstance(dedupe, bool):
        raise UserError(f"split: 'dedupe' must be true or false, got {dedupe!r}")
    splitter = make_splitter(spec)
    n = len(meta)
    if y is not None and len(y) != n:
        raise ValueError(f"meta has {n} rows but y has {len(y)}")

    key_column, keys = canonical_keys(meta)
    keep = np.arange(n, dtype=np.int64)
    if dedupe:
        keep = first_of_each(keys)
    is_kept = np.zeros(n, bool)
    is_kept[keep] = True
    dropped = np.flatnonzero(~is_kept)
    sub_meta = meta.iloc[keep].reset_index(drop=True) if len(dropped) else meta
    sub_y = None if y is None else np.asarray(y)[keep]
    try:
        parts = {p: keep[idx] for p, idx in splitter.split(sub_meta, sub_y, tasks=tasks).items()}
    except UserError as exc:
        if not len(dropped):
            raise
        # N in the message is the deduplicated count: say so, or it contradicts the dataset size
        raise UserError(f"{exc} (after dedupe dropped {len(dropped)} of {n} rows)") from None

    return {
        "method": splitter.name,
        "params": {"method": splitter.name, "dedupe": dedupe, **splitter.params},
        "seed": splitter.seed,
        "n": n,
        "sizes": {p: int(len(parts[p])) for p in PARTS},
        **{p: parts[p].tolist() for p in PARTS},
        "dropped": dropped.tolist(),
        "audit": leakage_audit(keys, parts, key=key_column),
    }


# -- leakage audit ------------------------------------------------------------------------------
def canonical_keys(meta) -> tuple[str, np.ndarray]:
    """(column name, object (N,) key per row; None where a row has no key).

    Molecules: ``canonical_smiles``; images: ``sha256`` of the file (identical files); DNA and
    anything else: ``input`` upper-cased (lowercase bases are soft-masking, not another sequence).
    """
    import pandas as pd

    for col in KEY_COLUMNS:
        if col in meta.columns and meta[col].notna().any():
            values = meta[col].to_numpy(dtype=object)
            missing = np.asarray(pd.isna(values), bool)
            if col == "input":
                values = np.array([v.upper() if isinstance(v, str) else v for v in values], dtype=object)
            # an empty or missing key identifies nothing: such rows never count as duplicates
            values[missing | (values == "")] = None
            return col, values
    raise UserError(f"split: meta has none of the columns {', '.join(KEY_COLUMNS)} for the leakage audit "
                    f"(columns: {', '.join(map(str, meta.columns))})")


def first_of_each(keys: np.ndarray) -> np.ndarray:
    """int64 sorted positions to keep: the first row of each key, and every row without a key."""
    import pandas as pd

    codes, _ = pd.factorize(keys)
    # factorize numbers keys in order of first appearance, so a row is the first of its key exactly
    # when its code exceeds every earlier code (a linear scan, no sort)
    earlier = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]]))
    return np.flatnonzero((codes > earlier) | (codes < 0)).astype(np.int64)


def leakage_audit(keys, parts: Mapping[str, Sequence[int]], *, key: str | None = None) -> dict[str, Any]:
    """Count canonical inputs shared between parts.

    keys:  object (N,) canonical key per row (:func:`canonical_keys`), or a meta DataFrame.
    parts: {"train", "valid", "test"} → row positions; rows in no part (dropped) are ignored.
    Returns ``key`` (the column), ``duplicated_keys`` (keys found in more than one part),
    ``rows_in_leaking_groups`` (rows carrying such a key), ``examples`` (first 5 such keys in row
    order, cut to 80 characters) and ``within_part_duplicates`` (rows repeating a key already in
    their own part: harmless for leakage, but they weight those inputs twice).
    """
    import pandas as pd

    if hasattr(keys, "columns"):
        key, keys = canonical_keys(keys)
    keys = np.asarray(keys, dtype=object)
    label = np.full(len(keys), -1, np.int64)
    for k, part in enumerate(PARTS):
        label[np.asarray(parts[part], dtype=np.int64)] = k
    codes, uniques = pd.factorize(keys)  # codes in order of first appearance, -1 for no key
    use = (codes >= 0) & (label >= 0)
    # rows per (key, part): a bincount over the N rows instead of sorting them
    in_part = np.bincount(codes[use] * len(PARTS) + label[use], minlength=len(uniques) * len(PARTS))
    present = in_part.reshape(-1, len(PARTS)) > 0
    leaking = np.flatnonzero(present.sum(axis=1) > 1)
    is_leaking = np.zeros(len(uniques), bool)
    is_leaking[leaking] = True
    return {
        "key": key,
        "duplicated_keys": int(len(leaking)),
        "rows_in_leaking_groups": int(is_leaking[codes[use]].sum()),
        "examples": [_shorten(str(uniques[c])) for c in leaking[:5]],
        "within_part_duplicates": int(use.sum() - present.sum()),
    }


def _shorten(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# -- files --------------------------------------------------------------------------------------
def save_split(split: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``split`` as JSON (sorted keys, indent 1) atomically (:mod:`biodl.io`)."""
    from biodl.io import write_text

    return write_text(path, json.dumps(split, sort_keys=True, indent=1, default=_json_default) + "\n")


def load_split(path: str | os.PathLike) -> dict[str, Any]:
    """Read a split written by :func:`save_split`; index lists are checked (ints, in range, disjoint)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: split file not found")
    try:
        split = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a split file (invalid JSON: {exc})") from None
    if not isinstance(split, dict) or any(p not in split for p in PARTS):
        raise UserError(f"{path}: not a split file (needs lists {', '.join(PARTS)})")
    n = split.get("n")
    seen: dict[str, set] = {}
    for part in PARTS:
        rows = split[part]
        if not isinstance(rows, list) or not all(_is_int(i) and i >= 0 for i in rows):
            raise UserError(f"{path}: '{part}' must be a list of non-negative row numbers")
        if _is_int(n) and rows and max(rows) >= n:
            raise UserError(f"{path}: '{part}' has row {max(rows)}, but the dataset has n={n} rows")
        if len(set(rows)) != len(rows):
            raise UserError(f"{path}: '{part}' lists a row twice")
        seen[part] = set(rows)
    for i, a in enumerate(PARTS):
        for b in PARTS[i + 1:]:
            shared = seen[a] & seen[b]
            if shared:
                raise UserError(f"{path}: parts '{a}' and '{b}' share {len(shared)} rows "
                                f"(e.g. row {min(shared)})")
    return split


# -- small checks -------------------------------------------------------------------------------
def group_codes(meta, key: str, method: str) -> tuple[np.ndarray, int]:
    """(int64 (N,) group number per row in order of first appearance, number of groups)."""
    import pandas as pd

    _require_column(meta, key, method)
    codes, uniques = pd.factorize(_column_values(meta, key, method))
    return codes.astype(np.int64), len(uniques)


def _column_values(meta, key: str, method: str) -> np.ndarray:
    """object (N,) values of a group column; a missing value is an error (its group is unknown)."""
    import pandas as pd

    values = meta[key].to_numpy(dtype=object)
    missing = np.flatnonzero(np.asarray(pd.isna(values), bool))
    if len(missing):
        raise UserError(f"split '{method}': column '{key}' is missing for {len(missing)} of {len(values)} "
                        f"rows (e.g. row {missing[0]}); fill it or choose another key")
    return values


def _require_column(meta, key: str, method: str, why: str = "") -> None:
    if key not in meta.columns:
        raise UserError(f"split '{method}': meta has no column '{key}' "
                        f"(available: {', '.join(map(str, meta.columns))}){'; ' + why if why else ''}")


def _check_fractions(fractions) -> tuple[float, float, float]:
    bad = UserError(f"split: fractions must be 3 non-negative numbers (train, valid, test) summing to 1, "
                    f"got {fractions!r}")
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence) or len(fractions) != 3:
        raise bad
    if not all(isinstance(f, numbers.Real) and not isinstance(f, bool) and math.isfinite(f) and f >= 0
               for f in fractions):
        raise bad
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise bad
    return tuple(float(f) for f in fractions)


def _check_seed(seed) -> int:
    if not _is_int(seed) or seed < 0:
        raise UserError(f"split: seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _name_list(names, param: str) -> list[str]:
    if isinstance(names, str):
        names = [names]
    if not names or not isinstance(names, Sequence):
        raise UserError(f"split 'chromosome': set '{param}' to a list of chromosomes (e.g. [chr8, chr9])")
    return [str(c) for c in names]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _jsonable(value):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"not JSON-serializable: {type(obj).__name__}")
