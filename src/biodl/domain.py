"""Applicability domain of molecule models: is a molecule like anything the model trained on?

Whatever features the model itself reads, the domain is judged on the same three things, so the
columns mean the same for every molecule model:

- ``max_tanimoto``: maximum Tanimoto similarity to a training molecule on Morgan bit fingerprints
  (radius 2, 2048 bits). Bits only say which atom environments occur, so a C300 alkane, made of
  the environments of hexane, scores 1.0 against any alkane.
- ``max_tanimoto_counts``: the same on Morgan *count* fingerprints (radius 2, unfolded), Tanimoto
  = Σ min / Σ max over environment counts. Size and repetition count here: C300 vs decane is 0.03.
- descriptor ranges: the training set's range of a few whole-molecule descriptors (:func:`descriptors`:
  size, rings, largest ring, charge, ...) and its element set. A query outside a range by more than
  the descriptor's tolerance, or with an element no training molecule has, is a violation.

``in_domain`` is True when a molecule has no violation and ``max_tanimoto_counts`` ≥
:data:`MIN_COUNT_SIMILARITY`; ``domain_reason`` says why not in one line.

Thresholds, from random 80/20 splits (5 seeds; test part vs the rest) of FreeSolv (642), the
solubility set (1,282), a 1,015-molecule ChEMBL SAR series (CHEMBL2321810) and 10,000 WEHI screening
molecules (the last two ship with RDKit), errors from a random forest on RDKit descriptors; and from
molecules that must fall outside a congeneric series (tests/test_domain.py):

- ``MIN_COUNT_SIMILARITY = 0.3``: below it fall 4.7 % of FreeSolv, 5.2 % of solubility, 1.6 % of
  WEHI and 0 % of SAR-series test molecules; their mean |error| is twice the rest's (FreeSolv 1.38
  vs 0.66 kcal/mol, solubility 0.86 vs 0.44 log units). Against ~70 substituted benzamides, steroids,
  peptides, macrocycles, sugars score 0.00–0.20 and close analogues 0.49–0.80; against FreeSolv,
  steroids score 0.18–0.23 and C300 0.03 (bit Tanimoto 1.0). At 0.4 a fifth of FreeSolv's test
  molecules would be out; at 0.2 testosterone and estradiol (0.197, 0.227) would be in.
- descriptor tolerance = max(absolute, 25 % of the training span): 4 of 12,915 random-split test
  molecules violate a range or the element set (solubility only; mean |error| 1.55 vs 0.46). The
  absolute parts alone (no relative part) flag one more; they decide, so the relative part is free
  to keep "obvious" obvious.

The training data travel inside the model file (:func:`domain_payload`): packed fingerprint bits
(256 B per molecule, as before), count fingerprints as sparse rows (5 B per distinct environment:
14 per FreeSolv molecule, 40 per drug-like one) and the ranges (a few numbers): FreeSolv's payload
grows from 0.17 to 0.22 MB, 10,000 drug-like molecules' from 2.6 to 4.7 MB.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biodl.similarity import N_BITS, RADIUS, bits_of as _bits, max_tanimoto, morgan_bits
MOLECULE_FEATURIZERS = ("ecfp", "rdkit_descriptors", "smiles_tokens", "molgraph")
#: ``in_domain`` needs a training neighbour at least this similar on count fingerprints (see above)
MIN_COUNT_SIMILARITY = 0.3
#: the relative part of every descriptor's tolerance: a share of the training range's span
RELATIVE_TOLERANCE = 0.25
#: training counts are stored as uint8; an environment seen more often in one molecule (a polymer
#: of > 255 units) is stored as 255, which changes no similarity to a query with fewer copies
MAX_STORED_COUNT = 255
PREDATES = "model file predates the descriptor ranges"
UNPARSED = "SMILES not parsed by RDKit"


@dataclass(frozen=True)
class Descriptor:
    """A whole-molecule descriptor whose training range the model file keeps.

    ``tolerance``: the absolute part of the allowed excess beyond the range (the relative part is
    :data:`RELATIVE_TOLERANCE` of the span); ``upper_only``: only values above the range violate;
    ``describe(value, lo, hi)``: the violation in words.
    """

    name: str
    compute: Callable[[Any], float]
    tolerance: float
    describe: Callable[[float, float, float], str]
    upper_only: bool = False

    def violated(self, value: float, lo: float, hi: float) -> bool:
        slack = max(self.tolerance, RELATIVE_TOLERANCE * (hi - lo))
        return value > hi + slack or (not self.upper_only and value < lo - slack)


def _largest_ring(mol) -> float:
    return float(max((len(r) for r in mol.GetRingInfo().AtomRings()), default=0))


def _span(lo: float, hi: float) -> str:
    return f"{lo:.0f}" if lo == hi else f"{lo:.0f}–{hi:.0f}"


@functools.cache
def descriptors() -> tuple[Descriptor, ...]:
    """The descriptors whose training ranges a model file keeps, in the order of :func:`descriptor_values`."""
    from rdkit import Chem
    from rdkit.Chem import rdMolDescriptors

    def count(noun: str) -> Callable[[float, float, float], str]:
        return lambda v, lo, hi: f"{v:.0f} {noun} (training {_span(lo, hi)})"

    return (
        Descriptor("heavy_atoms", lambda m: m.GetNumHeavyAtoms(), 3, count("heavy atoms")),
        Descriptor("rings", rdMolDescriptors.CalcNumRings, 1, count("rings")),
        # a macrocycle has the ring count of a biaryl; its largest ring tells them apart (an acyclic
        # query is the ring count's business)
        Descriptor("largest_ring", _largest_ring, 2,
                   lambda v, lo, hi: f"{v:.0f}-membered ring (training at most {hi:.0f})", upper_only=True),
        Descriptor("rotatable_bonds", rdMolDescriptors.CalcNumRotatableBonds, 3, count("rotatable bonds")),
        Descriptor("hbond_donors", rdMolDescriptors.CalcNumHBD, 2, count("H-bond donors")),
        # no slack beyond the span: an ion among neutral training molecules is another kind of solute
        Descriptor("formal_charge", Chem.GetFormalCharge, 0, lambda v, lo, hi: f"net charge {v:+.0f} (training "
                   + (f"{lo:+.0f})" if lo == hi else f"{lo:+.0f} to {hi:+.0f})")),
    )


# -- parsing and fingerprints ---------------------------------------------------------------------
def is_molecular(featurizer_spec: dict | None) -> bool:
    return bool(featurizer_spec) and featurizer_spec.get("type") in MOLECULE_FEATURIZERS


def parse(smiles: Sequence[Any]) -> list:
    """RDKit molecules, None where an item is not a SMILES RDKit can parse (None, '', NaN, garbage)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return [Chem.MolFromSmiles(s) if isinstance(s, str) and s else None for s in smiles]


def fingerprints(smiles: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Morgan bit fingerprints: (bits uint8 (N, N_BITS) — zeros where RDKit cannot parse, valid bool (N,))."""
    return morgan_bits(smiles)


def count_fingerprints(mols: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unfolded Morgan count fingerprints of parsed molecules (no None) as sparse rows:
    (indptr int64 (N+1,), ids uint32 (nnz,) — environment hashes, counts int64 (nnz,))."""
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS)
    rows = [generator.GetSparseCountFingerprint(m).GetNonzeroElements() for m in mols]
    indptr = np.zeros(len(rows) + 1, np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    ids = np.fromiter((k for r in rows for k in r), np.uint32, int(indptr[-1]))
    counts = np.fromiter((v for r in rows for v in r.values()), np.int64, int(indptr[-1]))
    return indptr, ids, counts


def max_count_tanimoto(query: tuple[np.ndarray, np.ndarray, np.ndarray],
                       reference: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """For each query row its maximum count Tanimoto (Σ min / Σ max) to any reference row; both
    are sparse rows as :func:`count_fingerprints` returns them. float64 (Q,), 0 without reference.

    Exact, by one sparse matrix product: min(q, r) = Σ_k [q ≥ k]·[r ≥ k] for k = 1 … the largest
    count of that environment in the reference, so each environment becomes that many 0/1 columns.
    """
    import scipy.sparse as sps

    q_ptr, q_ids, q_counts = query
    r_ptr, r_ids, r_counts = reference
    n_query, n_ref = len(q_ptr) - 1, len(r_ptr) - 1
    if n_ref == 0 or n_query == 0:
        return np.zeros(n_query)
    # float32 holds these integer sums exactly (< 2**24), and halves the memory traffic below
    q_total = np.bincount(np.repeat(np.arange(n_query), np.diff(q_ptr)), q_counts, n_query).astype(np.float32)
    r_total = np.bincount(np.repeat(np.arange(n_ref), np.diff(r_ptr)), r_counts, n_ref).astype(np.float32)
    vocab, r_col = np.unique(r_ids, return_inverse=True)
    top = np.zeros(len(vocab), np.int64)
    np.maximum.at(top, r_col, r_counts)
    first = np.concatenate([[0], np.cumsum(top)])

    def expand(ptr: np.ndarray, col: np.ndarray, counts: np.ndarray):
        """(rows, vocab column, count) → 0/1 CSR over the level columns, levels 1 … min(count, top)."""
        row = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        levels = np.minimum(counts, top[col])
        row, start = np.repeat(row, levels), np.repeat(first[col], levels)
        level = np.arange(len(row)) - np.repeat(np.cumsum(levels) - levels, levels)
        return sps.csr_matrix((np.ones(len(row), np.float32), (row, start + level)),
                              shape=(len(ptr) - 1, int(first[-1])))

    reference_t = expand(r_ptr, r_col, r_counts).T.tocsr()
    # environments no reference molecule has add to the query's Σ max only
    position = np.minimum(np.searchsorted(vocab, q_ids), len(vocab) - 1)
    known = vocab[position] == q_ids
    q_row = np.repeat(np.arange(n_query), np.diff(q_ptr))[known]
    known_ptr = np.concatenate([[0], np.cumsum(np.bincount(q_row, minlength=n_query))])
    queries = expand(known_ptr, position[known], q_counts[known])
    out = np.zeros(n_query)
    chunk = int(np.clip(20_000_000 // n_ref, 16, 4096))  # bounds the dense (chunk, R) block to ~160 MB
    for s in range(0, n_query, chunk):
        inter = (queries[s:s + chunk] @ reference_t).toarray()
        union = q_total[s:s + chunk, None] + r_total[None, :] - inter
        # union is 0 only for two empty fingerprints, where inter is 0 too
        out[s:s + chunk] = (inter / np.maximum(union, 1)).max(axis=1)
    return out


def descriptor_values(mols: Sequence) -> np.ndarray:
    """:func:`descriptors` of parsed molecules (no None): float64 (N, len(descriptors()))."""
    table = descriptors()
    out = np.zeros((len(mols), len(table)))
    for i, mol in enumerate(mols):
        out[i] = [d.compute(mol) for d in table]
    return out


def elements(mol) -> set[str]:
    """Element symbols of a molecule's atoms (hydrogens are implicit after parsing, and not counted)."""
    return {a.GetSymbol() for a in mol.GetAtoms() if a.GetAtomicNum() != 1}


# -- the model file's payload ---------------------------------------------------------------------
def domain_payload(train_smiles: Sequence[Any]) -> dict:
    """What the model file stores (torch tensors and plain types, loadable with weights_only=True):

    ``radius``, ``n_bits``, ``n_train``; ``fingerprints`` packed bits uint8 (N, n_bits / 8);
    ``count_fingerprints`` {``indptr`` int64 (N+1,), ``ids`` int32 (nnz,) — uint32 hashes viewed as
    int32, ``counts`` uint8 (nnz,)}; ``descriptor_ranges`` {name: [min, max]}; ``elements`` sorted
    symbols. Unparseable training SMILES are left out.
    """
    import torch

    mols = [m for m in parse(train_smiles) if m is not None]
    bits, _ = _bits(mols)
    indptr, ids, counts = count_fingerprints(mols)
    values = descriptor_values(mols)
    ranges = {d.name: [float(values[:, j].min()), float(values[:, j].max())] if len(mols) else [0.0, 0.0]
              for j, d in enumerate(descriptors())}
    return {"radius": RADIUS, "n_bits": N_BITS, "n_train": len(mols),
            "fingerprints": torch.from_numpy(np.ascontiguousarray(np.packbits(bits, axis=1))),
            "count_fingerprints": {
                "indptr": torch.from_numpy(indptr),
                "ids": torch.from_numpy(ids.view(np.int32)),
                "counts": torch.from_numpy(np.minimum(counts, MAX_STORED_COUNT).astype(np.uint8))},
            "descriptor_ranges": ranges,
            "elements": sorted(set().union(*(elements(m) for m in mols))),
            }


@dataclass(frozen=True)
class _Training:
    """A model file's domain payload, read and checked once."""

    bits: np.ndarray  # uint8 0/1 (R, n_bits)
    counts: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # sparse rows; None: the file predates them
    ranges: dict[str, tuple[float, float]]
    elements: frozenset[str]


def _read(domain: Mapping) -> _Training:
    from biodl.errors import UserError

    try:
        bits = np.unpackbits(domain["fingerprints"].numpy(), axis=1)[:, :int(domain["n_bits"])]
        if "count_fingerprints" not in domain:
            return _Training(bits, None, {}, frozenset())
        stored = domain["count_fingerprints"]
        counts = (stored["indptr"].numpy().astype(np.int64), stored["ids"].numpy().view(np.uint32),
                  stored["counts"].numpy().astype(np.int64))
        ranges = {str(k): (float(lo), float(hi)) for k, (lo, hi) in domain["descriptor_ranges"].items()}
        training = _Training(bits, counts, ranges, frozenset(map(str, domain["elements"])))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise UserError(f"the model file's applicability-domain data are damaged ({type(exc).__name__}: "
                        f"{str(exc)[:80]}); retrain the model") from None
    ptr, ids, values = counts
    if len(ptr) != len(bits) + 1 or ptr[-1] != len(ids) or len(ids) != len(values):
        raise UserError(f"the model file's applicability-domain data are damaged ({len(bits)} fingerprints, "
                        f"{len(ptr) - 1} count fingerprints); retrain the model")
    return training


def similarity_to_training(domain: Mapping, smiles: Sequence[Any]) -> np.ndarray:
    """Max Tanimoto similarity (bits) of each SMILES to the model's training set: float64 (N,), NaN
    where unparseable. The ``max_tanimoto`` column of :func:`assess` without the rest."""
    mols = parse(smiles)
    parsed = [m for m in mols if m is not None]
    out = np.full(len(mols), np.nan)
    if parsed:
        out[[m is not None for m in mols]] = max_tanimoto(_bits(parsed)[0], _read(domain).bits)
    return out


def _violations(training: _Training, mol, values: np.ndarray) -> list[str]:
    out = []
    unseen = sorted(elements(mol) - training.elements)
    if unseen:
        out.append(f"element{'s' if len(unseen) > 1 else ''} {', '.join(unseen)} not in training "
                   f"({', '.join(sorted(training.elements))})")
    for d, value in zip(descriptors(), values):
        # a descriptor added after the model was trained has no range to leave
        if d.name in training.ranges and d.violated(value, *training.ranges[d.name]):
            out.append(d.describe(value, *training.ranges[d.name]))
    return out


def violations(domain: Mapping, smiles: str) -> list[str]:
    """One phrase per way a molecule leaves the training ranges of a model's domain payload (an
    element no training molecule has; a descriptor beyond its range and tolerance); [] inside or
    when the payload predates the ranges. One-line UserError when RDKit cannot parse ``smiles``."""
    from biodl.errors import UserError

    mol = parse([smiles])[0]
    if mol is None:
        raise UserError(f"{smiles!r}: {UNPARSED}")
    training = _read(domain)
    return _violations(training, mol, descriptor_values([mol])[0]) if training.counts is not None else []


def _reason(found: list[str], similarity: float) -> str:
    # short enough for a table cell: the first three findings, then how many more
    shown = found[:3] + ([f"{len(found) - 3} more out of range"] if len(found) > 3 else [])
    if similarity < MIN_COUNT_SIMILARITY:
        # two decimals unless they would round up to the threshold itself
        digits = 2 if round(similarity, 2) < MIN_COUNT_SIMILARITY else 3
        shown.append(f"count similarity {similarity:.{digits}f} (< {MIN_COUNT_SIMILARITY})")
    return "; ".join(shown)


def assess(domain: Mapping, smiles: Sequence[Any]) -> dict[str, Any]:
    """The per-item applicability-domain columns of the prediction table, for N SMILES:

    ``max_tanimoto`` float64 (N,), ``max_tanimoto_counts`` float64 (N,) — NaN where unparseable;
    ``in_domain`` pandas ``boolean`` (N,) — False where unparseable; ``domain_reason`` object (N,)
    of str, "" in domain. Where the model file predates the count fingerprints and ranges:
    ``max_tanimoto_counts`` NaN, ``in_domain`` <NA> and the reason :data:`PREDATES`.
    """
    import pandas as pd

    training = _read(domain)
    mols = parse(smiles)
    valid = np.array([m is not None for m in mols], bool)
    parsed = [m for m in mols if m is not None]
    n = len(mols)
    bit_sim, count_sim = np.full(n, np.nan), np.full(n, np.nan)
    inside = np.zeros(n, bool)
    reason = np.full(n, UNPARSED, object)
    if parsed:
        bit_sim[valid] = max_tanimoto(_bits(parsed)[0], training.bits)
    if training.counts is not None and parsed:
        count_sim[valid] = max_count_tanimoto(count_fingerprints(parsed), training.counts)
        for i, mol, values in zip(np.flatnonzero(valid), parsed, descriptor_values(parsed)):
            reason[i] = _reason(_violations(training, mol, values), count_sim[i])
            inside[i] = not reason[i]
    in_domain = pd.array(inside, dtype="boolean")
    if training.counts is None:
        in_domain[valid] = pd.NA
        reason[valid] = PREDATES
    return {"max_tanimoto": bit_sim, "max_tanimoto_counts": count_sim, "in_domain": in_domain,
            "domain_reason": reason}


# -- scores ---------------------------------------------------------------------------------------
def domain_scores(error: np.ndarray, frame) -> dict[str, Any]:
    """Applicability-domain scores of one task's labelled rows beyond :func:`biodl.uncertainty.domain_metrics`:
    how many are in domain and the mean error inside and outside. ``error`` float64 (n,) per row of
    ``frame`` (which has ``in_domain``, and ``max_tanimoto_counts``; a model file from before
    them yields {})."""
    if "in_domain" not in frame:
        return {}
    flag = frame["in_domain"].astype("boolean")
    known, inside = flag.notna().to_numpy(), flag.fillna(False).to_numpy(dtype=bool)
    out: dict[str, Any] = {"n_in_domain": int(inside.sum()), "n_out_of_domain": int((known & ~inside).sum())}
    for key, rows in (("mean_error_in_domain", inside), ("mean_error_out_of_domain", known & ~inside)):
        out[key] = float(np.mean(error[rows])) if rows.any() else None
    if "max_tanimoto_counts" in frame:
        counts = frame["max_tanimoto_counts"].to_numpy(dtype=np.float64)
        ok = ~np.isnan(counts)
        out["mean_max_tanimoto_counts"] = float(counts[ok].mean()) if ok.any() else None
    return out
