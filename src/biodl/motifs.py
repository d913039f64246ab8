"""Motifs from attributions, compared with JASPAR (issue 14): did the model learn the known site?

* :func:`seqlets` — in each sequence, the ``width``-bp window whose bases carry the most attribution;
* :func:`pwm_from_seqlets` — the windows aligned (strand and a small shift, chosen against the
  current matrix, a few rounds) and counted into a position probability matrix (w, 4), its
  uninformative flanks trimmed;
* :func:`compare_with_jaspar` — the best-matching JASPAR matrices by the mean column-wise Pearson
  correlation over the best offset and strand (the "PCC" of STAMP / Tomtom-like comparisons),
  counted over the shorter matrix so a two-column overlap cannot score 1; and the same best score of
  ``n_null`` column-shuffled copies of the discovered matrix (composition kept, order lost), whose
  share at or above the real score is the match's empirical p-value.

JASPAR comes from pyjaspar, which ships the database offline (no network at run time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biodl.encodings import reverse_complement_codes

BASES = 4


def seqlets(codes: np.ndarray, importance: np.ndarray, *, width: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """(windows uint8 (N, width), starts int64 (N,)): per sequence, the window with the largest sum
    of ``importance`` (N, L) — e.g. the attribution of the base present at each position."""
    codes, importance = np.asarray(codes), np.asarray(importance, np.float64)
    if codes.shape != importance.shape or codes.ndim != 2:
        raise ValueError(f"codes {codes.shape} and importance {importance.shape} must both be (N, L)")
    if not 1 <= width <= codes.shape[1]:
        raise ValueError(f"width must be 1..{codes.shape[1]}, got {width}")
    sums = np.lib.stride_tricks.sliding_window_view(importance, width, axis=1).sum(axis=2)
    starts = sums.argmax(axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(codes, width, axis=1)[np.arange(len(codes)), starts]
    return np.ascontiguousarray(windows, dtype=np.uint8), starts.astype(np.int64)


def _counts(windows: np.ndarray, width: int) -> np.ndarray:
    """(width, 4) base counts of aligned windows (N: nothing)."""
    out = np.zeros((width, BASES))
    for b in range(BASES):
        out[:, b] = (windows == b).sum(axis=0)
    return out


def information(pwm: np.ndarray) -> np.ndarray:
    """Bits per column of a probability matrix (w, 4)."""
    p = np.clip(np.asarray(pwm, np.float64), 1e-9, 1)
    return 2 + (p * np.log2(p)).sum(axis=1)


def pwm_from_seqlets(windows: np.ndarray, *, rounds: int = 5, max_shift: int = 3, pseudocount: float = 0.5,
                     min_bits: float = 0.3, n_seeds: int = 10) -> np.ndarray:
    """float64 (w, 4) probabilities: ``windows`` (N, W) aligned round by round — each taken on the
    strand and at the shift (up to ``max_shift``) that scores best against the current matrix, which
    starts as one of the first ``n_seeds`` windows (the most informative result is kept) — then
    counted with ``pseudocount`` per base and trimmed to the span between the first and last column
    of at least ``min_bits``."""
    windows = np.asarray(windows, np.uint8)
    n, width = windows.shape
    if n == 0:
        raise ValueError("no seqlets to build a motif from")
    pad = max_shift
    padded = np.full((n, width + 2 * pad), 4, np.uint8)
    padded[:, pad:pad + width] = windows
    both = np.stack([padded, reverse_complement_codes(padded)])  # (2, N, W + 2 pad)
    # windows counted unaligned score a site and its reverse complement alike, and nothing would
    # move: start from single seed windows instead, keep the most informative result
    results = [_align(both, _counts(windows[k:k + 1], width) + pseudocount, width, rounds, pseudocount)
               for k in range(min(n, n_seeds))]
    pwm = max(results, key=lambda p: information(p).sum())
    keep = np.flatnonzero(information(pwm) >= min_bits)
    return pwm[keep[0]:keep[-1] + 1] if len(keep) else pwm


def _align(both: np.ndarray, counts: np.ndarray, width: int, rounds: int, pseudocount: float) -> np.ndarray:
    """Rounds of: each window on the strand and at the shift that scores best against ``counts``,
    then counted again. ``both``: (2, N, W + 2 pad) windows on each strand. Returns probabilities."""
    n = both.shape[1]
    pad = (both.shape[2] - width) // 2
    for _ in range(rounds):
        logp = np.log(counts / counts.sum(axis=1, keepdims=True))
        logp = np.vstack([logp, np.zeros((1, BASES))])  # N scores 0
        best, choice = np.full(n, -np.inf), np.zeros((n, 2), np.int64)
        for strand in (0, 1):
            for shift in range(2 * pad + 1):
                cut = both[strand, :, shift:shift + width]
                score = np.where(cut < 4, logp[np.arange(width), np.minimum(cut, 3)], 0.0).sum(axis=1)
                better = score > best
                best[better], choice[better] = score[better], (strand, shift)
        aligned = both[choice[:, :1], np.arange(n)[:, None], choice[:, 1:2] + np.arange(width)]
        counts = _counts(aligned, width) + pseudocount
    return counts / counts.sum(axis=1, keepdims=True)


def _column_pcc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(wa, wb) Pearson correlation of every column of ``a`` with every column of ``b`` (each (w, 4))."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(a, axis=1)[:, None] * np.linalg.norm(b, axis=1)[None, :]
    return np.divide(a @ b.T, norm, out=np.zeros((len(a), len(b))), where=norm > 0)


def best_alignment_score(pcc: np.ndarray, *, min_overlap: int = 5) -> np.ndarray:
    """Best score over offsets of column-correlation matrices ``pcc`` (..., wa, wb): the summed
    correlation along one diagonal, divided by min(wa, wb)."""
    wa, wb = pcc.shape[-2:]
    best = np.full(pcc.shape[:-2], -np.inf)
    for offset in range(-(wa - min(min_overlap, wa, wb)), wb - min(min_overlap, wa, wb) + 1):
        i = np.arange(max(0, -offset), min(wa, wb - offset))
        if len(i) == 0:
            continue
        best = np.maximum(best, pcc[..., i, i + offset].sum(axis=-1))
    return best / min(wa, wb)


@dataclass
class MotifMatch:
    """One JASPAR matrix against a discovered motif."""

    matrix_id: str
    name: str
    family: str
    score: float


def jaspar_matrices(collection: str = "CORE", tax_group: str = "vertebrates") -> list[tuple[str, str, str, np.ndarray]]:
    """(matrix id, TF name, TF family, probabilities (w, 4)) of the latest JASPAR release in pyjaspar."""
    from pyjaspar import jaspardb

    out = []
    for motif in jaspardb().fetch_motifs(collection=collection, tax_group=[tax_group]):
        counts = np.array([motif.counts[b] for b in "ACGT"], np.float64).T + 0.01
        family = motif.tf_family if isinstance(motif.tf_family, str) else ", ".join(motif.tf_family or [])
        out.append((motif.matrix_id, motif.name, family, counts / counts.sum(axis=1, keepdims=True)))
    return out


def compare_with_jaspar(pwm: np.ndarray, database=None, *, n_null: int = 200, seed: int = 0,
                        top: int = 5) -> dict:
    """The ``top`` JASPAR matches of ``pwm`` (w, 4) and the null of column-shuffled copies.

    Returns ``{"matches": [MotifMatch, ...] (best first), "null": float64 (n_null,) best score of
    each shuffled copy over the whole database, "p_value": share of the null at or above the best
    real score (with the +1 correction), "percentile": share of the null below it, "pair_null": the
    shuffled copies' scores against the best-matching matrix alone, "pair_percentile": share of
    those below the best real score}``."""
    database = database if database is not None else jaspar_matrices()
    rng = np.random.default_rng(seed)
    pwm = np.asarray(pwm, np.float64)
    perms = np.stack([np.arange(len(pwm))] + [rng.permutation(len(pwm)) for _ in range(n_null)])
    real, null = [], np.full(n_null, -np.inf)
    for matrix_id, name, family, ref in database:
        score = np.maximum(best_alignment_score(_column_pcc(pwm, ref)[perms]),
                           best_alignment_score(_column_pcc(pwm, ref[::-1, ::-1])[perms]))
        real.append(MotifMatch(matrix_id, name, family, float(score[0])))
        null = np.maximum(null, score[1:])
    real.sort(key=lambda m: -m.score)
    best = real[0].score
    # the same shuffled copies against the best-matching matrix alone: is this pairing beyond chance?
    ref = next(r for r in database if r[0] == real[0].matrix_id)[3]
    pair_null = np.maximum(best_alignment_score(_column_pcc(pwm, ref)[perms[1:]]),
                           best_alignment_score(_column_pcc(pwm, ref[::-1, ::-1])[perms[1:]]))
    return {"matches": real[:top], "null": null, "p_value": float((1 + (null >= best).sum()) / (1 + n_null)),
            "percentile": float((null < best).mean()), "pair_null": pair_null,
            "pair_percentile": float((pair_null < best).mean())}
