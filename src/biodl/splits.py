"""Train / valid / test splits of a featurized dataset, with a leakage audit.

A splitter is a small scikit-learn-style class found by name in :data:`SPLITTERS`; its
``split(meta, y)`` returns sorted int64 row positions (0..N-1 into the dataset) for each part.
:func:`make_split` builds one from a config spec, optionally drops duplicate inputs first, and
returns a JSON-able record with the index lists and the leakage audit::

    >>> split = make_split(ds.meta, ds.y, {"method": "scaffold", "seed": 0})
    >>> split["sizes"], split["audit"]["duplicated_keys"]
    ({'train': 514, 'valid': 64, 'test': 64}, 0)
    >>> save_split(split, "results/splits/freesolv/scaffold.json")

Methods: ``random``, ``scaffold`` (Bemis–Murcko, Chemprop's balanced variant), ``butina``
(Taylor–Butina clusters of Morgan fingerprints), ``stratified`` (class labels), ``group`` (any meta
column: scene, chrom, ...), ``chromosome`` (explicit hold-out lists) and ``kfold`` (optionally
grouped). ``scaffold`` and ``butina`` take ``keep_positives``: every part then holds both classes
of every sparse classification task (:func:`keep_classes`). Adding one is a class plus
``@register_splitter``.

The audit (:func:`audit_split`) counts identical inputs in two parts, and what else the parts
share by modality: molecules, test (and valid) molecules whose Bemis–Murcko scaffold occurs in
train and their max Tanimoto to train (share ≥ 0.8, quantiles, histogram); DNA, intervals of
different parts that overlap or touch; images, scenes (or source images of tiles) in two parts.
``audit["reading"]`` says in one line what that means for the test scores.

Every part must be non-empty: a split with an empty part is a :class:`~biodl.errors.UserError`,
never a silent fallback. Same inputs and seed give the same split, bit for bit.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import re
from collections import Counter
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
    #: what the last ``split`` call found worth a warning in the split record: [{code, message, ...}]
    warnings_: Sequence[Mapping[str, Any]] = ()
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
        self.warnings_ = []
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
    here each acyclic molecule (copies of one canonical SMILES together) is its own group, because
    acyclic molecules share no ring system and one pooled group (often the largest) would be
    forced whole into train.

    keep_positives: with 0/1 labels (NaN missing), move whole groups afterwards so that every
          part holds a positive and a negative of every task (:func:`keep_classes`): sparse
          tasks (MUV, Tox21) otherwise can have no positive in valid or test, and ROC-AUC there
          is undefined. False (the default) leaves the split exactly as without the option.
    """

    name = "scaffold"

    def __init__(self, fractions=(0.8, 0.1, 0.1), seed=0, keep_positives: bool = False):
        super().__init__(fractions, seed)
        self.keep_positives = _check_bool(keep_positives, "keep_positives", self.name)

    def _assign(self, meta, y, tasks):
        n = len(meta)
        sizes = self._sizes(n)
        codes = scaffold_codes(meta, self.name)
        counts = np.bincount(codes)
        part_of = balanced_fill(counts, sizes, self.seed)
        if self.keep_positives:
            part_of, self.warnings_ = keep_classes(codes, part_of, y, tasks, seed=self.seed, method=self.name,
                                                   groups="scaffold groups")
        return part_of[codes]

    def _hint(self):
        return "whole scaffolds go to one part: give it a larger fraction or use more molecules"


def scaffold_codes(meta, method: str = "scaffold") -> np.ndarray:
    """int64 (N,) scaffold group per row: rows of one Bemis–Murcko scaffold (meta ``scaffold``) share
    a group, numbered in order of first appearance; each acyclic molecule ('' or missing scaffold) is
    its own group after them, copies of one canonical SMILES together."""
    import pandas as pd

    _require_column(meta, "scaffold", method, why="scaffold splits need a molecule dataset")
    scaffold = meta["scaffold"].to_numpy(dtype=object)
    acyclic = np.asarray(pd.isna(scaffold), bool) | (scaffold == "")
    codes, uniques = pd.factorize(np.where(acyclic, None, scaffold))
    codes = codes.astype(np.int64)
    if "canonical_smiles" in meta:
        # copies of one acyclic molecule form one group: apart, they would leak across parts
        acyclic_codes, _ = pd.factorize(meta["canonical_smiles"].to_numpy(dtype=object)[acyclic])
        codes[acyclic] = len(uniques) + acyclic_codes
    else:
        codes[acyclic] = len(uniques) + np.arange(int(acyclic.sum()))
    return codes


def balanced_fill(counts: np.ndarray, sizes: np.ndarray, seed: int) -> np.ndarray:
    """int8 (G,) part of each of G groups of ``counts`` rows, Chemprop's balanced fill: groups larger
    than half the valid or test size first (largest first, ties in seeded order), then the others in
    the order of ``default_rng(seed).permutation(G)``; each into train while it fits, else valid
    while it fits, else test."""
    order = np.random.default_rng(seed).permutation(len(counts))
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
    return part_of


#: molecules above which a Butina split is refused: it compares every pair, O(N²) time (and the
#: neighbour lists of a library of close analogues approach N² entries)
BUTINA_MAX_MOLECULES = 20_000


@register_splitter
class ButinaSplitter(Splitter):
    """Taylor–Butina clusters of Morgan fingerprints (radius 2, 2,048 bits, :mod:`biodl.similarity`),
    each cluster whole in one part.

    cutoff: Tanimoto distance (1 − similarity) at or below which two molecules are neighbours;
            default 0.6, i.e. similarity ≥ 0.4. The molecule with the most neighbours becomes a
            centroid and takes its unclustered neighbours, and so on down (:func:`butina_clusters`:
            RDKit's ``rdkit.ML.Cluster.Butina.ClusterData`` without reordering, the same clusters).
    keep_positives: as for ``scaffold`` (:func:`keep_classes`), moving whole clusters.

    Clusters go to parts as scaffold groups do (:func:`balanced_fill`), not by a plain shuffle:
    Butina clusters are heavy-tailed (a few big clusters of close analogues, many singletons), and
    one big cluster drawn into valid or test would make that part one chemical series; so clusters
    larger than half the valid or test size go to train first and the rest in seeded order.
    A member lies within ``cutoff`` of its centroid, not of every other molecule: two molecules of
    different clusters, hence parts, can still be closer than ``cutoff``. The leakage audit's
    max-similarity of test to train says how far apart the parts really are. At most
    :data:`BUTINA_MAX_MOLECULES` molecules (every pair is compared); use ``scaffold`` for more.
    Molecules RDKit cannot parse have no bits and are clusters of their own.
    """

    name = "butina"
    param_constraints: ClassVar[dict] = {**Splitter.param_constraints, "cutoff": Interval(0, 1, closed="left")}

    def __init__(self, fractions=(0.8, 0.1, 0.1), seed=0, cutoff: float = 0.6, keep_positives: bool = False):
        super().__init__(fractions, seed)
        if (not isinstance(cutoff, numbers.Real) or isinstance(cutoff, bool) or not math.isfinite(cutoff)
                or not 0 <= cutoff < 1):
            raise UserError(f"split 'butina': cutoff must be a Tanimoto distance in [0, 1) (0.6: neighbours at "
                            f"similarity >= 0.4), got {cutoff!r}")
        self.cutoff = float(cutoff)
        self.keep_positives = _check_bool(keep_positives, "keep_positives", self.name)

    def _assign(self, meta, y, tasks):
        from biodl import similarity as fp

        n = len(meta)
        sizes = self._sizes(n)
        if n > BUTINA_MAX_MOLECULES:
            raise UserError(f"split 'butina': {n} molecules, more than the {BUTINA_MAX_MOLECULES} it can cluster "
                            "(it compares every pair); use method 'scaffold' for a dataset this large")
        column = next((c for c in ("canonical_smiles", "input") if c in meta.columns), None)
        if column is None:
            _require_column(meta, "canonical_smiles", self.name, why="Butina splits need a molecule dataset")
        bits, _ = fp.morgan_bits(meta[column].to_numpy(dtype=object))
        codes = np.empty(n, np.int64)
        for k, members in enumerate(butina_clusters(bits, self.cutoff)):
            codes[members] = k
        counts = np.bincount(codes)
        part_of = balanced_fill(counts, sizes, self.seed)
        if self.keep_positives:
            part_of, self.warnings_ = keep_classes(codes, part_of, y, tasks, seed=self.seed, method=self.name,
                                                   groups="Butina clusters")
        return part_of[codes]

    def _describe(self):
        return f"fractions {list(self.fractions)}, cutoff {self.cutoff:g}"

    def _hint(self):
        return "whole clusters go to one part: give it a larger fraction, lower the cutoff or use more molecules"


def butina_clusters(bits: np.ndarray, cutoff: float, *, block: int = 512) -> list[np.ndarray]:
    """Taylor–Butina clusters of N fingerprints: a list of int64 arrays of row positions, centroid
    first, then its other members in ascending order; every row in exactly one cluster.

    bits: uint8 0/1 (N, B) (:func:`biodl.similarity.morgan_bits`); cutoff: Tanimoto distance.
    Rows i, j are neighbours when ``1.0 - inter / union <= cutoff`` in float64 (an empty row has
    none). Rows are visited by neighbour count, then row number, both descending; an unclustered
    row becomes a centroid and takes its unclustered neighbours. That is RDKit's
    ``rdkit.ML.Cluster.Butina.ClusterData(dists, N, cutoff, isDistData=True)`` on ``1 - sim``
    distances, cluster for cluster and in its order; here the neighbour lists come from blocked
    matrix products (float32 counts are exact below 2**24), where RDKit takes the N(N − 1)/2
    distances as a list (and recent RDKit expands it into an N × N float64 matrix: 3.2 GB for
    20,000 molecules).
    """
    from scipy import sparse

    bits = np.asarray(bits, dtype=np.uint8)
    n = len(bits)
    on = bits.sum(axis=1, dtype=np.int64)
    on32 = on.astype(np.float32)
    # intersection counts as in biodl.similarity.max_tanimoto: the 256 commonest bits by a dense
    # product, the rare rest by a sparse one (Morgan bits are sparse and skewed)
    frequency = bits.sum(axis=0, dtype=np.int64)
    order = np.argsort(-frequency, kind="stable")
    common_cols = np.sort(order[:256])
    rare_cols = np.sort(order[256:][frequency[order[256:]] > 0])
    dense = bits[:, common_cols].astype(np.float32)
    r, c = np.nonzero(bits[:, rare_cols])
    rare = sparse.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n, len(rare_cols)))
    floor = np.float32(1.0 - cutoff - 1e-4)  # float32 ratios are within 1e-6 of the exact ones
    src, dst = [], []
    for i0 in range(0, n, block):  # rows i0..i1 against rows 0..i1: each pair j < i once
        i1 = min(i0 + block, n)
        inter = dense[i0:i1] @ dense[:i1].T
        if len(rare_cols):
            inter += (rare[i0:i1] @ rare[:i1].T).toarray()
        union = on32[i0:i1, None] + on32[None, :i1] - inter
        near = (inter >= floor * union) & (union > 0)
        i, j = np.nonzero(near)
        i += i0
        keep = j < i
        i, j = i[keep], j[keep]
        common = inter[i - i0, j].astype(np.int64)
        exact = 1.0 - common / (on[i] + on[j] - common) <= cutoff
        src.append(i[exact])
        dst.append(j[exact])
    a = np.concatenate(src + dst) if src else np.zeros(0, np.int64)
    b = np.concatenate(dst + src) if src else np.zeros(0, np.int64)
    order = np.lexsort((b, a))
    neighbours = b[order]
    start = np.concatenate([[0], np.cumsum(np.bincount(a, minlength=n))])
    degree = np.diff(start)

    seen = np.zeros(n, bool)
    clusters = []
    for idx in np.lexsort((np.arange(n), degree))[::-1]:
        if seen[idx]:
            continue
        nb = neighbours[start[idx]:start[idx + 1]]
        members = nb[~seen[nb]]
        seen[idx] = True
        seen[members] = True
        clusters.append(np.concatenate([[idx], members]).astype(np.int64))
    return clusters


#: a task's class can reach every part only when at least this many groups hold it
MIN_GROUPS_PER_CLASS = len(PARTS)


def keep_classes(codes: np.ndarray, part_of: np.ndarray, y: np.ndarray | None, tasks: Sequence[str] | None, *,
                 seed: int, method: str, groups: str = "groups") -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Move whole groups between parts until every part has a positive and a negative label of
    every task: ``keep_positives`` of the scaffold and Butina splits.

    codes:   int64 (N,) group per row; part_of: int8 (G,) part per group (a balanced fill).
    y:       float (N, T) or (N,) labels: 0, 1 or NaN (missing); anything else is a UserError.
    Deficits are mended in a fixed order (valid, test, train; tasks in order; positives, then
    negatives), each by the smallest group holding the missing class that another part can spare
    (that part keeps the class in another group); ties go to the group that mends more deficits,
    then to seeded order. A group never splits, and a move never takes from a part the last group
    holding a class it needs, so mended deficits stay mended. Then the part sizes are brought back
    towards those before the mending by moving spare groups (none holding a part's last group of
    a class) from parts that grew to parts that shrank, while that narrows the gap.
    A task with fewer than :data:`MIN_GROUPS_PER_CLASS` groups holding one of its classes cannot be
    mended; such tasks, and any still lacking a class somewhere, are listed in one warning.
    Returns (the new part_of, warnings: [] or one ``{"code": "class_missing", ...}`` entry).
    """
    where = f"split '{method}': keep_positives"
    if y is None:
        raise UserError(f"{where} needs the labels y, and the dataset has none; remove keep_positives")
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    n_tasks = y.shape[1]
    names = list(tasks) if tasks is not None else [f"task {j}" for j in range(n_tasks)]
    labelled = ~np.isnan(y)
    bad = labelled & (y != 0) & (y != 1)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise UserError(f"{where} needs 0/1 class labels, but task '{names[j]}' has the value {y[i, j]:g}; "
                        "remove keep_positives for regression or multiclass targets")
    n_groups = len(part_of)
    part_of = part_of.copy()
    # holds[g, j, c]: group g has a row of task j labelled c (c = 1 positive, 0 negative)
    holds = np.zeros((n_groups, n_tasks, 2), bool)
    for c in (0, 1):
        rows, cols = np.nonzero(labelled & (y == c))
        holds[codes[rows], cols, c] = True
    counts = np.bincount(codes, minlength=n_groups)
    rank = np.empty(n_groups, np.int64)  # seeded tie-breaks
    rank[np.random.default_rng(seed).permutation(n_groups)] = np.arange(n_groups)
    # a class is required in every part when enough groups hold it, for both classes of the task
    mendable = (holds.sum(axis=0) >= MIN_GROUPS_PER_CLASS).all(axis=1)          # (T,)
    required = np.repeat(mendable[:, None], 2, axis=1)                          # (T, 2)

    def spare(candidates: np.ndarray, cover: np.ndarray) -> np.ndarray:
        """Candidates whose part keeps every required class without them."""
        last = (cover[part_of[candidates]] < 2) & required
        return ~(holds[candidates] & last).any(axis=(1, 2))

    before = np.bincount(part_of[codes], minlength=len(PARTS))
    cover = np.stack([holds[part_of == k].sum(axis=0, dtype=np.int64) for k in range(len(PARTS))])  # (3, T, 2)
    stuck: set[tuple[int, int, int]] = set()
    while True:
        deficits = [(k, j, c) for k in (VALID, TEST, TRAIN) for j in range(n_tasks) for c in (1, 0)
                    if required[j, c] and cover[k, j, c] == 0 and (k, j, c) not in stuck]
        if not deficits:
            break
        k, j, c = deficits[0]
        candidates = np.flatnonzero(holds[:, j, c] & (part_of != k))
        candidates = candidates[spare(candidates, cover)]
        if not len(candidates):
            stuck.add((k, j, c))
            continue
        missing = required & (cover[k] == 0)
        mends = (holds[candidates] & missing).sum(axis=(1, 2))
        g = candidates[np.lexsort((rank[candidates], -mends, counts[candidates]))[0]]
        cover[part_of[g]] -= holds[g]
        cover[k] += holds[g]
        part_of[g] = k

    # sizes back towards those before mending: spare groups from parts that grew to parts that shrank
    filled = np.bincount(part_of[codes], minlength=len(PARTS))
    for _ in range(n_groups):
        excess = filled - before
        src, dst = int(np.argmax(excess)), int(np.argmin(excess))
        if excess[src] <= 0:
            break
        candidates = np.flatnonzero(part_of == src)
        candidates = candidates[spare(candidates, cover)]
        gap = excess[src] - excess[dst]
        narrowed = gap - (np.abs(excess[src] - counts[candidates]) + np.abs(excess[dst] + counts[candidates]))
        if not len(candidates) or narrowed.max() <= 0:
            break
        best = np.lexsort((rank[candidates], -narrowed))[0]
        g = candidates[best]
        part_of[g] = dst
        filled[src] -= counts[g]
        filled[dst] += counts[g]
        cover[src] -= holds[g]
        cover[dst] += holds[g]

    lacking: dict[str, list[str]] = {}
    for j in range(n_tasks):
        for k in range(len(PARTS)):
            missing = [("positive", "negative")[1 - c] for c in (1, 0) if cover[k, j, c] == 0]
            if missing:
                lacking.setdefault(names[j], []).append(f"{PARTS[k]}: no {' or '.join(missing)}")
    if not lacking:
        return part_of, []
    few = [t for j, t in enumerate(names) if t in lacking and not mendable[j]]
    detail = "; ".join(f"{t} ({', '.join(v)})" for t, v in lacking.items())
    stuck_why = "no group could be moved without emptying another part of a class"
    if not few:
        why = stuck_why
    elif len(few) == len(lacking):
        why = f"each has fewer than {MIN_GROUPS_PER_CLASS} {groups} holding one of its classes"
    else:
        why = (f"{', '.join(few)} {'has' if len(few) == 1 else 'have'} fewer than {MIN_GROUPS_PER_CLASS} {groups} "
               f"holding one of its classes; for the others {stuck_why}")
    message = (f"keep_positives: {len(lacking)} task{'s' if len(lacking) != 1 else ''} still lack a class in "
               f"some part, so ROC-AUC is undefined there: {detail} — {why}")
    return part_of, [{"code": "class_missing", "tasks": list(lacking), "parts": lacking, "message": message}]


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


def proportional_fill(counts: np.ndarray, sizes: np.ndarray, seed: int) -> np.ndarray:
    """int8 (G,) part of each of G groups of ``counts`` rows: groups in seeded order, each to the part
    that is proportionally least full (rows so far / target rows; ties: train, valid, test), so a
    few groups still reach every part and many groups approach the target sizes by row count."""
    part_of = np.empty(len(counts), np.int8)
    filled = np.zeros(len(PARTS), np.int64)
    for g in np.random.default_rng(seed).permutation(len(counts)):
        k = int(np.argmax((sizes - filled) / sizes))
        part_of[g] = k
        filled[k] += counts[g]
    return part_of


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
        return proportional_fill(np.bincount(codes), sizes, self.seed)[codes]

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
class BlockSplitter(Splitter):
    """Genomic position blocks: windows that overlap or touch form one cluster, clusters are grouped
    into blocks of ``block_size`` bp along each chromosome, and whole blocks go to one part.

    For windows cut from one genome (JUND on chr22, tiled peaks): a random split puts a window in
    test beside its overlapping twin in train, and nearby windows share their local sequence
    context. Intervals come from meta chrom / start / end (FASTA headers ``chr22:100-201``).

    block_size: bp per block (default 100,000); a cluster belongs to the block of its first base,
          so a cluster that crosses a block boundary is never cut.
    gap:  windows at most this many bases apart are clustered too (0: overlapping or touching).
    keep_positives: as for the scaffold split (:func:`keep_classes`), by moving whole blocks.
    Blocks are shuffled with the seed and each goes to the part that is proportionally least full,
    as in the group split. The split's audit (:func:`interval_audit`) checks that no window of
    valid or test overlaps or touches one of train.
    """

    name = "blocks"
    param_constraints: ClassVar[dict] = {**Splitter.param_constraints, "block_size": Interval(1, None),
                                         "gap": Interval(0, None)}

    def __init__(self, fractions=(0.8, 0.1, 0.1), seed=0, block_size: int = 100_000, gap: int = 0,
                 keep_positives: bool = False):
        super().__init__(fractions, seed)
        for param, value, low in (("block_size", block_size, 1), ("gap", gap, 0)):
            if not _is_int(value) or value < low:
                raise UserError(f"split 'blocks': {param} must be an integer >= {low}, got {value!r}")
        self.block_size, self.gap = int(block_size), int(gap)
        self.keep_positives = _check_bool(keep_positives, "keep_positives", self.name)

    def _assign(self, meta, y, tasks):
        sizes = self._sizes(len(meta))
        codes = self.block_codes(meta)
        counts = np.bincount(codes)
        self._n_blocks = len(counts)
        part_of = proportional_fill(counts, sizes, self.seed)
        if self.keep_positives:
            part_of, self.warnings_ = keep_classes(codes, part_of, y, tasks, seed=self.seed, method=self.name,
                                                   groups="blocks")
        return part_of[codes]

    def block_codes(self, meta) -> np.ndarray:
        """int64 (N,) block number per row (numbered along the sorted genome)."""
        import pandas as pd

        chrom, start, end = intervals_of(meta)
        missing = np.flatnonzero(pd.isna(chrom))
        if len(missing):
            raise UserError(f"split 'blocks': {len(missing)} of {len(chrom)} rows have no genomic interval "
                            f"(e.g. row {missing[0]}); FASTA headers like chr1:100-300 or meta columns "
                            "chrom / start / end give them")
        chrom_codes, _ = pd.factorize(chrom, sort=True)
        end = np.maximum(end, start)
        order = np.lexsort((end, start, chrom_codes))
        c, s, e = chrom_codes[order], start[order], end[order]
        # a new cluster starts where a window begins past every earlier window's end (+ gap) on its
        # chromosome: a running maximum of ends, reset per chromosome by offsetting each chromosome
        offset = (c.astype(np.int64) * (int(e.max(initial=0)) + self.gap + 2))
        reach = np.maximum.accumulate(offset + e)
        new = np.ones(len(c), bool)
        new[1:] = (offset[1:] + s[1:] > reach[:-1] + self.gap) | (c[1:] != c[:-1])
        cluster = np.cumsum(new) - 1
        first_start = s[new][cluster]
        block = pd.factorize(pd.MultiIndex.from_arrays([c, first_start // self.block_size]))[0]
        codes = np.empty(len(c), np.int64)
        codes[order] = block
        return codes

    def _describe(self):
        blocks = getattr(self, "_n_blocks", None)
        return f"fractions {list(self.fractions)}" + (f", {blocks} blocks of {self.block_size} bp" if blocks else "")

    def _hint(self):
        return "whole blocks go to one part: use a smaller block_size or give the part a larger fraction"


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
               tasks: Sequence[str] | None = None, modality: str | None = None,
               fingerprints: np.ndarray | None = None, audit_gap: int = 0) -> dict[str, Any]:
    """Split a dataset by ``spec`` and audit it. Returns a JSON-able dict.

    meta: pandas DataFrame, N rows (``FeaturizedDataset.meta``); y: float32 (N, T) or None.
    spec: ``{"method": ..., "fractions": [0.8, 0.1, 0.1], "seed": 0, "dedupe": False, **params}``.
          With ``dedupe`` the first row of each canonical key (:func:`canonical_keys`) is kept and
          the others are listed in ``dropped`` before splitting, so no input is in two parts.
    Returns ``method``, ``params`` (the spec with all defaults filled in), ``seed``, ``n`` (rows of
    the dataset, dropped ones included), ``sizes``, ``train`` / ``valid`` / ``test`` (sorted row
    lists), ``dropped``, ``warnings`` (only when the splitter had any: e.g. tasks that
    ``keep_positives`` could not give both classes in every part) and ``audit`` (:func:`audit_split`; ``modality``, ``fingerprints`` and
    ``audit_gap`` are passed on to it).
    """
    spec = dict(spec)
    dedupe = spec.pop("dedupe", False)
    if not isinstance(dedupe, bool):
        raise UserError(f"split: 'dedupe' must be true or false, got {dedupe!r}")
    splitter = make_splitter(spec)
    n = len(meta)
    if y is not None and len(y) != n:
        raise ValueError(f"meta has {n} rows but y has {len(y)}")

    _, keys = canonical_keys(meta)
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
        **({"warnings": splitter.warnings_} if splitter.warnings_ else {}),
        "audit": audit_split(meta, parts, method=splitter.name, modality=modality, fingerprints=fingerprints,
                             # a blocks split promises no neighbours within its own gap: audit at least that
                             gap=max(audit_gap, getattr(splitter, "gap", 0)),
                             group_key=getattr(splitter, "key", None)),
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


# -- the wider audit: what a split shares besides identical inputs ------------------------------
#: Tanimoto on Morgan bits at or above which a training molecule counts as a test molecule's neighbour
NEIGHBOUR_TANIMOTO = 0.8
#: test (or valid) molecules compared with all of train; above this a seeded sample is compared
SIMILARITY_SAMPLE = 5000
SAMPLE_SEED = 0
#: edges of the max-similarity histogram: [0, 0.1), ..., [0.9, 1.0]; arange / 10, not linspace,
#: so that an edge is the same double as the Tanimoto ratio 7/10 and a ratio lands in its own bin
SIMILARITY_BINS = np.arange(11) / 10
QUANTILES = {"min": 0.0, "q10": 0.1, "q25": 0.25, "median": 0.5, "q75": 0.75, "q90": 0.9, "max": 1.0}
#: image meta columns that name the picture a row was taken from (biodl.featurizers.images writes scene)
IMAGE_GROUP_COLUMNS = ("scene", "source_image")
#: file stems of tiles cut from one image: "<source>_tile3", "<source>-crop_12", "<source>_r2c5", "<source>_x0_y512"
_TILE_RE = re.compile(r"^(?P<source>.+?)[_\-. ](?:(?:tile|crop|patch|roi)[_\-]?\d+|r\d+[_\-]?c\d+|x\d+[_\-]y\d+)$",
                      re.IGNORECASE)
N_EXAMPLES = 5


def audit_split(meta, parts: Mapping[str, Sequence[int]], *, method: str, modality: str | None = None,
                fingerprints: np.ndarray | None = None, gap: int = 0, group_key: str | None = None,
                max_audited: int = SIMILARITY_SAMPLE) -> dict[str, Any]:
    """The whole leakage audit of a split: :func:`leakage_audit` plus what the modality shares.

    meta:         pandas DataFrame, N rows; parts: {"train", "valid", "test"} → row positions.
    method:       the split method's name, for the reading.
    modality:     "molecule", "sequence" or "image" (the featurizer's); None: guessed from meta's
                  columns (canonical_smiles → molecule; chrom → sequence; sha256 or scene → image).
    fingerprints: optional uint8 (N, 2048) Morgan radius-2 bits of the rows (an ECFP featurization
                  with those settings), so the molecule audit need not parse every SMILES again.
    gap:          intervals at most this many bp apart count as adjacent (0: touching).
    group_key:    the split's group column, audited beside the image group columns.
    Returns ``key``, ``duplicated_keys``, ``rows_in_leaking_groups``, ``examples``,
    ``within_part_duplicates`` (:func:`leakage_audit`), ``modality``, one of ``molecules``
    (:func:`molecule_audit`), ``intervals`` (:func:`interval_audit`), ``groups``
    (:func:`group_audit`) when it applies, and ``reading`` (:func:`audit_reading`).
    """
    key_column, keys = canonical_keys(meta)
    audit = leakage_audit(keys, parts, key=key_column)
    modality = modality or _guess_modality(meta)
    audit["modality"] = modality
    if modality == "molecule":
        smiles_col = next((c for c in ("canonical_smiles", "input") if c in meta.columns), None)
        if smiles_col is not None:
            scaffolds = meta["scaffold"].to_numpy(dtype=object) if "scaffold" in meta.columns else None
            audit["molecules"] = molecule_audit(meta[smiles_col].to_numpy(dtype=object), parts,
                                                scaffolds=scaffolds, fingerprints=fingerprints,
                                                max_audited=max_audited)
    elif modality == "sequence":
        chrom, start, end = intervals_of(meta)
        audit["intervals"] = interval_audit(chrom, start, end, parts, gap=gap)
    elif modality == "image":
        columns = [c for c in IMAGE_GROUP_COLUMNS if c in meta.columns]
        if group_key and group_key in meta.columns and group_key not in columns:
            columns.append(group_key)
        groups = {c: meta[c].to_numpy(dtype=object) for c in columns}
        tiles = tile_sources(meta)
        if tiles is not None:
            groups["tile_source"] = tiles
        audit["groups"] = group_audit(groups, parts)
    audit["reading"] = audit_reading(method, audit)
    return audit


def _guess_modality(meta) -> str | None:
    columns = set(meta.columns)
    if "canonical_smiles" in columns:
        return "molecule"
    if "chrom" in columns:
        return "sequence"
    if columns & {"sha256", "scene"}:
        return "image"
    return None


def _part_labels(n: int, parts: Mapping[str, Sequence[int]]) -> np.ndarray:
    """int64 (n,) part number per row (0 train, 1 valid, 2 test), -1 for rows in no part (dropped)."""
    label = np.full(n, -1, np.int64)
    for k, part in enumerate(PARTS):
        label[np.asarray(parts[part], dtype=np.int64)] = k
    return label


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


# -- molecules ----------------------------------------------------------------------------------
def molecule_audit(smiles, parts: Mapping[str, Sequence[int]], *, scaffolds=None,
                   fingerprints: np.ndarray | None = None, threshold: float = NEIGHBOUR_TANIMOTO,
                   max_audited: int = SIMILARITY_SAMPLE, seed: int = SAMPLE_SEED) -> dict[str, Any]:
    """Scaffolds and near neighbours that valid and test molecules share with train.

    smiles:       object (N,) SMILES per row; scaffolds: object (N,) Bemis–Murcko scaffold SMILES
                  per row ('' or None: acyclic), computed with RDKit when not given.
    fingerprints: uint8 (N, 2048) Morgan radius-2 bits, computed from ``smiles`` when not given.
    Per part: ``n``; ``acyclic`` (no ring, so no scaffold: never counted as shared);
    ``shared_scaffold`` / ``_share`` (rows whose scaffold occurs in train, of ``n``); ``scaffolds``
    and ``scaffolds_in_train`` (distinct ones); ``scaffold_examples`` (the shared scaffolds with
    most rows). Similarity, on all rows or on a seeded sample of ``max_audited`` when the part is
    larger (``audited``, ``sample_of``): ``neighbour`` / ``_share`` (max Tanimoto to train ≥
    ``threshold``), ``max_similarity`` quantiles and ``histogram`` counts on ``histogram_bins``.
    ``unparsed`` rows (RDKit cannot read the SMILES) are left out of the similarity only.
    """
    from biodl import similarity as fp

    smiles = np.asarray(smiles, dtype=object)
    n = len(smiles)
    label = _part_labels(n, parts)
    if scaffolds is None:
        scaffolds = _scaffolds(smiles)
    scaffolds = np.array([s if isinstance(s, str) and s else None for s in scaffolds], dtype=object)
    acyclic = np.array([s is None for s in scaffolds])
    train_scaffolds = set(scaffolds[(label == TRAIN) & ~acyclic].tolist())

    # rows whose similarity is measured: all of train, the rest up to max_audited per part
    rng = np.random.default_rng(seed)
    audited: dict[str, np.ndarray] = {}
    for part in PARTS:
        rows = np.flatnonzero(label == PARTS.index(part))
        if part != "train" and len(rows) > max_audited:
            rows = np.sort(rng.choice(rows, max_audited, replace=False))
        audited[part] = rows
    # one array of bits in part order (train, valid, test), so train is a slice of it, not a copy
    needed = np.concatenate([audited[p] for p in PARTS])
    if fingerprints is None:
        bits, parsed = fp.morgan_bits(smiles[needed])
    else:
        if np.shape(fingerprints) != (n, fp.N_BITS):
            raise ValueError(f"fingerprints have shape {np.shape(fingerprints)}, expected ({n}, {fp.N_BITS})")
        bits, parsed = np.asarray(fingerprints[needed], dtype=np.uint8), np.ones(len(needed), bool)
    ends = np.cumsum([len(audited[p]) for p in PARTS])
    span = {p: slice(ends[k] - len(audited[p]), ends[k]) for k, p in enumerate(PARTS)}
    reference = bits[span["train"]]
    if not parsed[span["train"]].all():
        reference = reference[parsed[span["train"]]]
    n_unparsed = {p: int((~parsed[span[p]]).sum()) for p in PARTS}

    # valid and test in one call: the reference's dense and sparse copies are built once
    queries = np.concatenate([np.flatnonzero(parsed[span[p]]) + span[p].start for p in ("valid", "test")])
    sims = fp.max_tanimoto(bits[queries], reference) if len(reference) else None
    n_valid = int(parsed[span["valid"]].sum())
    similarity = {"valid": None if sims is None else sims[:n_valid],
                  "test": None if sims is None else sims[n_valid:]}

    out: dict[str, Any] = {
        "fingerprint": f"Morgan radius {fp.RADIUS}, {fp.N_BITS} bits",
        "threshold": threshold,
        "histogram_bins": SIMILARITY_BINS.tolist(),
        "train": {"n": int((label == TRAIN).sum()), "acyclic": int((acyclic & (label == TRAIN)).sum()),
                  "scaffolds": len(train_scaffolds), "unparsed": n_unparsed["train"]},
    }
    train_counts = Counter(scaffolds[(label == TRAIN) & ~acyclic].tolist())
    for part in ("valid", "test"):
        in_part = label == PARTS.index(part)
        part_scaffolds = scaffolds[in_part & ~acyclic]
        shared = np.fromiter((s in train_scaffolds for s in part_scaffolds), bool, len(part_scaffolds))
        counts = Counter(part_scaffolds[shared].tolist())
        # most rows first, then the scaffold text: deterministic whatever the row order
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:N_EXAMPLES]
        stats = {
            "n": int(in_part.sum()),
            "acyclic": int((in_part & acyclic).sum()),
            "shared_scaffold": int(shared.sum()),
            "shared_scaffold_share": _share(int(shared.sum()), int(in_part.sum())),
            "scaffolds": len(set(part_scaffolds.tolist())),
            "scaffolds_in_train": len(counts),
            "scaffold_examples": [{"scaffold": _shorten(s), "rows": c, "train_rows": train_counts[s]}
                                  for s, c in top],
            "audited": len(audited[part]) - n_unparsed[part],
            "sample_of": int(in_part.sum()) if len(audited[part]) < in_part.sum() else None,
            "unparsed": n_unparsed[part],
        }
        stats.update(similarity_summary(similarity[part], threshold))
        out[part] = stats
    return out


def _scaffolds(smiles: np.ndarray) -> np.ndarray:
    """object (N,) Bemis–Murcko scaffold SMILES as the molecule featurizers write them ('' if acyclic,
    None if RDKit cannot parse the SMILES)."""
    from rdkit import RDLogger

    from biodl.featurizers.molecules import describe_mol, parse_smiles

    RDLogger.DisableLog("rdApp.*")
    out = np.empty(len(smiles), dtype=object)
    for i, smi in enumerate(smiles):
        mol, _ = parse_smiles(smi)
        out[i] = describe_mol(mol)[1] if mol is not None else None
    return out


def similarity_summary(max_sim: np.ndarray | None, threshold: float = NEIGHBOUR_TANIMOTO) -> dict[str, Any]:
    """``neighbour`` / ``neighbour_share`` (values ≥ threshold), ``max_similarity`` quantiles
    (min, q10, q25, median, q75, q90, max; linear interpolation, 4 decimals) and ``histogram``
    (10 int counts on [0, 0.1), ..., [0.9, 1.0]) of float64 (Q,) similarities; all None without
    a reference to compare with."""
    if max_sim is None:
        return {"neighbour": None, "neighbour_share": None, "max_similarity": None, "histogram": None}
    max_sim = np.asarray(max_sim, dtype=np.float64)
    near = int((max_sim >= threshold).sum())
    bins = np.clip(np.searchsorted(SIMILARITY_BINS, max_sim, side="right") - 1, 0, len(SIMILARITY_BINS) - 2)
    return {
        "neighbour": near,
        "neighbour_share": _share(near, len(max_sim)),
        "max_similarity": ({k: round(float(np.quantile(max_sim, q)), 4) for k, q in QUANTILES.items()}
                           if len(max_sim) else None),
        "histogram": np.bincount(bins, minlength=len(SIMILARITY_BINS) - 1).tolist(),
    }


# -- DNA intervals ------------------------------------------------------------------------------
def intervals_of(meta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chrom object (N,), start int64 (N,), end int64 (N,)) of each row; chrom None where a row
    has no interval. From meta columns chrom / start / end (the FASTA reader parses headers such
    as ``chr1:100-300`` or ``chr1:100-300(+)`` into them), else from ``id`` parsed the same way."""
    import pandas as pd

    if {"chrom", "start", "end"} <= set(meta.columns):
        chrom, start, end = meta["chrom"], meta["start"], meta["end"]
    elif "id" in meta.columns:
        from biodl.sources import parse_regions

        cols = parse_regions([str(v) if isinstance(v, str) else "" for v in meta["id"]])
        chrom, start, end = (pd.Series(cols[c].to_pandas()) for c in ("chrom", "start", "end"))
    else:
        n = len(meta)
        return np.full(n, None, object), np.zeros(n, np.int64), np.zeros(n, np.int64)
    start = pd.to_numeric(pd.Series(start), errors="coerce").to_numpy(dtype=np.float64)
    end = pd.to_numeric(pd.Series(end), errors="coerce").to_numpy(dtype=np.float64)
    chrom = pd.Series(chrom).to_numpy(dtype=object)
    ok = ~np.asarray(pd.isna(chrom), bool) & np.isfinite(start) & np.isfinite(end)
    chrom = np.where(ok, chrom, None)
    return (chrom, np.where(ok, start, 0).astype(np.int64), np.where(ok, end, 0).astype(np.int64))


def interval_audit(chrom, start, end, parts: Mapping[str, Sequence[int]], *, gap: int = 0) -> dict[str, Any]:
    """Genomic intervals of different parts that overlap or lie within ``gap`` bp of each other.

    chrom: object (N,) chromosome per row (None: no interval); start, end: int64 (N,) half-open
    [start, end) coordinates, as in BED files and the headers bedtools getfasta writes (1-based
    closed headers such as samtools faidx writes need ``gap=1`` to call neighbours adjacent).
    Two intervals overlap when they share a base; they are adjacent when they do not and the
    bases between them number at most ``gap`` (0: touching, end of one = start of the other).
    Returns ``coordinates``, ``gap``, ``rows`` / ``rows_without_interval``; ``pairs``: per pair
    of parts the number of overlapping and of adjacent pairs of intervals; per valid / test part
    ``n`` (rows with an interval), ``overlap_train`` (rows overlapping some train interval),
    ``adjacent_train`` (rows overlapping none but adjacent to one) and their shares; ``examples``:
    up to 5 pairs, train–test first. A sort and binary searches, O(N log N); pairs are counted,
    never listed, so heavily tiled data costs no more.
    """
    import pandas as pd

    gap = int(gap)
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    chrom = np.asarray(chrom, dtype=object)
    label = _part_labels(len(chrom), parts)
    has = np.array([c is not None for c in chrom]) & (label >= 0)
    rows = np.flatnonzero(has)
    out: dict[str, Any] = {"coordinates": "half-open [start, end)", "gap": gap, "rows": len(rows),
                           "rows_without_interval": int(((label >= 0) & ~has).sum())}
    codes, names = pd.factorize(chrom[rows], sort=True)
    s = np.asarray(start, np.int64)[rows]
    e = np.maximum(np.asarray(end, np.int64)[rows], s)
    order = np.lexsort((e, s, codes))
    rows, codes, s, e, lab = rows[order], codes[order].astype(np.int64), s[order], e[order], label[rows][order]
    # one sorted key per interval: chromosome number in the high digits, start in the low ones
    big = int(e.max(initial=0)) + gap + 1
    key = codes * big + s
    n = len(rows)
    idx = np.arange(n)
    # later intervals (start ≥ this start) overlap while their start < this end, are adjacent
    # while their start ≤ this end + gap: two ranges of sorted positions after this one
    ov_hi = np.maximum(np.searchsorted(key, codes * big + e, side="left"), idx + 1)
    near_hi = np.maximum(np.searchsorted(key, codes * big + e + gap, side="right"), ov_hi)
    cum = np.zeros((len(PARTS), n + 1), np.int64)
    for k in range(len(PARTS)):
        cum[k, 1:] = np.cumsum(lab == k)

    def later(k, lo, hi):  # intervals of part k at sorted positions lo..hi-1, per row
        return cum[k][hi] - cum[k][lo]

    pairs = {}
    for a, b in ((TRAIN, VALID), (TRAIN, TEST), (VALID, TEST)):
        n_ov = int(later(b, idx + 1, ov_hi)[lab == a].sum() + later(a, idx + 1, ov_hi)[lab == b].sum())
        n_adj = int(later(b, ov_hi, near_hi)[lab == a].sum() + later(a, ov_hi, near_hi)[lab == b].sum())
        pairs[f"{PARTS[a]}-{PARTS[b]}"] = {"overlap": n_ov, "adjacent": n_adj}
    out["pairs"] = pairs

    # earlier intervals reach this one when their end > this start (overlap) or ≥ start - gap:
    # the running maximum of train ends, in the same chromosome-high key, answers both
    train_end = np.where(lab == TRAIN, codes * big + e, -1)
    before = np.concatenate([[-1], np.maximum.accumulate(train_end)[:-1]]) if n else train_end
    overlap = (before > codes * big + s) | (later(TRAIN, idx + 1, ov_hi) > 0)
    near = (before >= codes * big + s - gap) | (later(TRAIN, idx + 1, near_hi) > 0)
    for k in (VALID, TEST):
        mine = lab == k
        n_ov, n_adj = int((overlap & mine).sum()), int((near & ~overlap & mine).sum())
        out[PARTS[k]] = {"n": int(mine.sum()), "overlap_train": n_ov, "adjacent_train": n_adj,
                         "overlap_train_share": _share(n_ov, int(mine.sum())),
                         "adjacent_train_share": _share(n_adj, int(mine.sum()))}

    def name(i):
        return f"{names[codes[i]]}:{s[i]}-{e[i]}"

    examples = []
    for a, b in ((TRAIN, TEST), (VALID, TEST), (TRAIN, VALID)):
        cross = np.where(lab == a, later(b, idx + 1, near_hi), 0) + np.where(lab == b, later(a, idx + 1, near_hi), 0)
        for i in np.flatnonzero(cross)[:N_EXAMPLES]:
            other = b if lab[i] == a else a
            for j in range(i + 1, near_hi[i]):
                if lab[j] == other and len(examples) < N_EXAMPLES:
                    first, second = (i, j) if lab[i] == a else (j, i)
                    examples.append({"parts": f"{PARTS[a]}-{PARTS[b]}",
                                     "relation": "overlap" if j < ov_hi[i] else "adjacent",
                                     "intervals": [name(first), name(second)]})
                    break
    out["examples"] = examples[:N_EXAMPLES]
    return out


# -- image groups -------------------------------------------------------------------------------
def tile_sources(meta) -> np.ndarray | None:
    """object (N,) source image of each row whose file name marks it a tile (``a_tile3.tif``,
    ``a_r2c5.png``, ``a_x0_y512.tif`` → ``a``), the file stem otherwise; None when no name does."""
    col = "file" if "file" in meta.columns else "input" if "input" in meta.columns else None
    if col is None:
        return None
    stems = [Path(str(v)).stem if isinstance(v, str) else None for v in meta[col]]
    matches = [_TILE_RE.match(s) if s else None for s in stems]
    if not any(matches):
        return None
    return np.array([m["source"] if m else s for m, s in zip(matches, stems)], dtype=object)


def group_audit(groups: Mapping[str, Sequence], parts: Mapping[str, Sequence[int]]) -> dict[str, Any]:
    """Groups (values of a meta column) found in more than one part.

    groups: column name → object (N,) group per row (None: no group). Per column: ``groups``
    (distinct), ``in_several_parts``, ``rows_in_shared_groups``, ``valid_rows_with_train_group`` /
    ``test_rows_with_train_group`` (rows whose group also has training rows) with their shares,
    and ``examples``: up to 5 shared groups, most test rows first, with their rows per part.
    """
    import pandas as pd

    out: dict[str, Any] = {}
    for column, values in groups.items():
        values = np.asarray(values, dtype=object)
        label = _part_labels(len(values), parts)
        codes, uniques = pd.factorize(values)
        use = (codes >= 0) & (label >= 0)
        counts = np.bincount(codes[use] * len(PARTS) + label[use],
                             minlength=len(uniques) * len(PARTS)).reshape(-1, len(PARTS))
        shared = np.flatnonzero((counts > 0).sum(axis=1) > 1)
        in_train = counts[:, TRAIN] > 0
        order = shared[np.lexsort((np.asarray(uniques, dtype=str)[shared], -counts[shared, TEST]))]
        stats = {"groups": len(uniques), "in_several_parts": len(shared),
                 "rows_in_shared_groups": int(counts[shared].sum())}
        for k in (VALID, TEST):
            mine = int((label == k).sum())  # rows without a group count too: they share nothing
            hit = int(counts[in_train, k].sum())
            stats[f"{PARTS[k]}_rows"] = mine
            stats[f"{PARTS[k]}_rows_with_train_group"] = hit
            stats[f"{PARTS[k]}_rows_with_train_group_share"] = _share(hit, mine)
        stats["examples"] = [{"group": _shorten(str(uniques[g])), **{p: int(counts[g, k]) for k, p in enumerate(PARTS)}}
                             for g in order[:N_EXAMPLES]]
        out[column] = stats
    return out


# -- the reading --------------------------------------------------------------------------------
def audit_reading(method: str, audit: Mapping[str, Any]) -> str:
    """One plain-English line on what the audit means for the test scores; every number in it
    is one of ``audit``'s."""
    dups = audit.get("duplicated_keys") or 0
    if dups:
        identical = (f"{dups} identical input{'s' if dups != 1 else ''} ({audit.get('key')}) "
                     f"occur{'s' if dups == 1 else ''} in more than one part")
    else:
        identical = "no identical input occurs in more than one part"
    if "molecules" in audit:
        text = _molecule_reading(audit["molecules"], method)
    elif "intervals" in audit and audit["intervals"]["rows"]:
        text = _interval_reading(audit["intervals"])
    elif audit.get("groups"):
        text = _group_reading(audit["groups"])
    elif "intervals" in audit:
        text = f"{identical}; the items carry no genomic coordinates (chr:start-end), so overlaps were not checked."
        return f"{method} split: {text}"
    elif dups:
        return f"{method} split: {identical} — test scores partly measure recall of training inputs; set dedupe: true."
    else:
        return f"{method} split: {identical}."
    return f"{method} split: {identical + '; ' if dups else ''}{text}"


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{round(100 * share)} %"


def _molecule_reading(mol: Mapping[str, Any], method: str) -> str:
    t = mol["test"]
    acyclic = f" ({t['acyclic']} acyclic, without a scaffold)" if t["acyclic"] else ""
    text = (f"{t['shared_scaffold']} of {t['n']} test molecules ({_pct(t['shared_scaffold_share'])}) share a "
            f"Bemis–Murcko scaffold with training{acyclic}")
    if t["neighbour"] is not None:
        sample = f" of a seeded sample of {t['audited']}" if t["sample_of"] else ""
        text += (f" and {_pct(t['neighbour_share'])}{sample} have a training neighbour at Tanimoto ≥ "
                 f"{mol['threshold']:g} (median max similarity {t['max_similarity']['median']:.2f})")
    scaffold_share = t["shared_scaffold_share"] or 0.0
    near_share = t["neighbour_share"] or 0.0
    if scaffold_share >= 0.5 or near_share >= 0.5:
        advice = ("test scores largely measure interpolation within scaffolds seen in training; use a scaffold "
                  "split to measure generalization to new scaffolds" if method != "scaffold" else
                  "the scaffolds are new but the molecules are close to training ones, so test scores "
                  "overstate generalization to new chemistry")
    elif t["shared_scaffold"] == 0:
        advice = "test scores measure generalization to new scaffolds"
        if near_share >= 0.1:
            advice += f", though {_pct(near_share)} of test molecules have a close training analogue"
    else:
        advice = "test scores mix interpolation within known scaffolds and generalization to new ones"
    if t["n"] and t["acyclic"] >= t["n"] / 2:
        # an acyclic molecule has no scaffold to share, so the scaffold count cannot speak for it
        advice += "; most test molecules are acyclic, so only the similarity says how new they are"
    return f"{text} — {advice}."


def _interval_reading(iv: Mapping[str, Any]) -> str:
    t = iv["test"]
    touching = "touches" if iv["gap"] == 0 else f"lies within {iv['gap']} bp of"
    if t["overlap_train"] == 0 and t["adjacent_train"] == 0:
        return f"no test interval overlaps or {touching} a training interval."
    verb = "touch" if iv["gap"] == 0 else f"lie within {iv['gap']} bp of"
    near = f" and {t['adjacent_train']} more {verb} one" if t["adjacent_train"] else ""
    return (f"{t['overlap_train']} of {t['n']} test intervals ({_pct(t['overlap_train_share'])}) overlap a "
            f"training interval{near} — test scores partly measure recall of neighbouring training sequence; "
            "hold out whole chromosomes (method chromosome) to measure generalization to new regions.")


def _group_reading(groups: Mapping[str, Any]) -> str:
    # the column that puts most test images beside their training relatives speaks for the split
    column, g = max(groups.items(), key=lambda kv: (kv[1]["test_rows_with_train_group"],
                                                    kv[1]["in_several_parts"], kv[0]))
    if g["in_several_parts"] == 0:
        return f"no {' / '.join(groups)} occurs in more than one part."
    if g["test_rows_with_train_group"] == 0:
        return (f"no test image shares a {column} with training images ({g['in_several_parts']} {column}s span "
                "valid and another part).")
    return (f"{g['test_rows_with_train_group']} of {g['test_rows']} test images "
            f"({_pct(g['test_rows_with_train_group_share'])}) share a {column} with training images "
            f"({g['in_several_parts']} of {g['groups']} {column}s in more than one part) — test scores measure "
            f"recognition of seen {column}s; split by group (key {column}) to measure generalization to new ones.")


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


def _check_bool(value, param: str, method: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise UserError(f"split '{method}': {param} must be true or false, got {value!r}")
    return bool(value)


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
