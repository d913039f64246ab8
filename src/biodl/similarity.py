"""Morgan fingerprints and the maximum-Tanimoto kernel that the leakage audit (:mod:`biodl.splits`)
and the applicability domain (:mod:`biodl.domain`) share, so "similarity to training" means the same
number in a split file and beside a prediction: Morgan radius 2, 2,048 bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RADIUS, N_BITS = 2, 2048


def bits_of(mols: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Morgan bits of RDKit molecules (None where unparsed): (uint8 (N, N_BITS), bool (N,) valid)."""
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=N_BITS)
    bits = np.zeros((len(mols), N_BITS), np.uint8)
    valid = np.array([m is not None for m in mols], bool)
    for i, mol in enumerate(mols):
        if mol is not None:
            bits[i] = generator.GetFingerprintAsNumPy(mol)
    return bits, valid


def morgan_bits(smiles: Sequence, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Morgan bits of N SMILES: (uint8 (N, N_BITS), zeros where RDKit cannot parse; bool (N,) parsed).
    Parsed ``chunk`` molecules at a time: holding 100k RDKit molecules would take gigabytes."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    bits = np.zeros((len(smiles), N_BITS), np.uint8)
    parsed = np.zeros(len(smiles), bool)
    for start in range(0, len(smiles), chunk):
        mols = [Chem.MolFromSmiles(s) if isinstance(s, str) and s else None for s in smiles[start:start + chunk]]
        bits[start:start + len(mols)], parsed[start:start + len(mols)] = bits_of(mols)
    return bits, parsed


def max_tanimoto(query: np.ndarray, reference: np.ndarray, *, dense_bits: int = 256, query_chunk: int = 256,
                 reference_block: int = 32768) -> np.ndarray:
    """Each query row's maximum Tanimoto similarity to any reference row: float64 (Q,).

    query: uint8 0/1 (Q, B); reference: uint8 0/1 (R, B), R ≥ 1. Two empty rows have similarity 0.
    Intersection counts are a matrix product split in two: the ``dense_bits`` bits most often set
    in the reference by a float32 product (exact: counts < 2**24), the others by a sparse one.
    Morgan bits are sparse and skewed (about 45 of 2048 on; the 256 commonest hold two thirds of
    them), so the dense product is 8× smaller than a full one and the rare bits meet in few pairs.
    The best pair per query is found on float32 ratios, then its ratio is recomputed in float64
    from the integer counts, so a value equals ``inter / union`` by hand bit for bit. Rounding is
    monotone, so float32 can only confuse ratios less than one float32 step apart, and ratios of
    counts below 2,896 bits differ by more (real fingerprints have a few hundred bits at most).
    Memory: about 12 bytes per query_chunk × reference_block entry (100 MiB at the defaults).
    """
    from scipy import sparse

    query = np.asarray(query, dtype=np.uint8)
    reference = np.asarray(reference, dtype=np.uint8)
    if query.shape[1:] != reference.shape[1:]:
        raise ValueError(f"query rows have {query.shape[1:]} bits, reference rows {reference.shape[1:]}")
    order = np.argsort(-reference.sum(axis=0, dtype=np.int64), kind="stable")
    dense_cols, rare_cols = np.sort(order[:dense_bits]), np.sort(order[dense_bits:])
    q_on = query.sum(axis=1, dtype=np.int64)
    r_on = reference.sum(axis=1, dtype=np.int64)
    best = np.full(len(query), -1.0, np.float32)
    best_inter = np.zeros(len(query), np.int64)
    best_union = np.zeros(len(query), np.int64)

    def rare_part(rows: np.ndarray):  # (len(rows), B - dense_bits) float32 CSR, built without a dense copy
        r, c = np.nonzero(rows[:, rare_cols])
        return sparse.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(rows), len(rare_cols)))

    for r0 in range(0, len(reference), reference_block):
        block = reference[r0:r0 + reference_block]
        dense_t = np.ascontiguousarray(block[:, dense_cols].T, dtype=np.float32)   # (dense_bits, Rb)
        rare_t = rare_part(block).T.tocsr() if len(rare_cols) else None           # (B - dense_bits, Rb)
        # an empty reference row meets nothing (inter 0); counting it as one bit keeps the union > 0
        block_on = np.maximum(r_on[r0:r0 + reference_block], 1).astype(np.float32)
        for q0 in range(0, len(query), query_chunk):
            chunk = query[q0:q0 + query_chunk]
            inter = chunk[:, dense_cols].astype(np.float32) @ dense_t                # (Qc, Rb)
            if rare_t is not None:
                inter += (rare_part(chunk) @ rare_t).toarray()  # a dense add beats a scatter of ~5 % of entries
            sim = block_on[None, :] - inter
            sim += q_on[q0:q0 + query_chunk, None].astype(np.float32)
            np.divide(inter, sim, out=sim)
            j = sim.argmax(axis=1)
            rows = np.arange(len(chunk))
            top = sim[rows, j]
            better = np.flatnonzero(top > best[q0:q0 + query_chunk])
            at = q0 + better
            best[at] = top[better]
            best_inter[at] = inter[better, j[better]].astype(np.int64)
            best_union[at] = q_on[at] + r_on[r0 + j[better]] - best_inter[at]
    out = np.zeros(len(query))
    np.divide(best_inter, best_union, out=out, where=best_union > 0)
    return out
