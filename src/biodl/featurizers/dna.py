"""DNA featurizers: one-hot (stored as uint8 codes) and k-mer counts.

Codes are A, C, G, T = 0, 1, 2, 3 and N = 4. Lowercase (soft-masked) bases are read as their
uppercase letter; IUPAC ambiguity codes (R Y S W K M B D H V) become N; any other letter rejects
the sequence with a reason naming it. Codes take 1 byte per base (a quarter of float32 one-hot)
and expand to (N, 4, L) float on the GPU with :func:`codes_to_onehot`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from biodl.featurizers.base import FeaturizeResult, Featurizer, Reject
from biodl.featurizers.registry import register
from biodl.encodings import (  # noqa: F401  (re-exported: the featurizers package offers them)
    _LUT,
    COMPLEMENT,
    INVALID,
    N_CODE,
    SequenceBlock,
    codes_to_onehot,
    reverse_complement_codes,
)
from biodl.registry import Choices, Interval


def encode(sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Encode sequences (each non-empty) into one flat code array.

    Returns ``(codes, lengths, invalid, lowercase)``: uint8 codes of all sequences concatenated
    (255 where a letter is not DNA), int64 lengths, and per sequence the number of non-DNA and of
    lowercase letters.
    """
    lengths = np.fromiter(map(len, sequences), np.int64, len(sequences))
    # latin-1 keeps one byte per character; anything outside becomes '?' and so INVALID
    raw = np.frombuffer("".join(sequences).encode("latin-1", errors="replace"), np.uint8)
    codes = _LUT.take(raw)
    invalid = per_sequence_sum(codes == INVALID, lengths)
    lowercase = per_sequence_sum(raw >= 97, lengths)  # lowercase letters; other bytes >= 97 are invalid anyway
    return codes, lengths, invalid, lowercase


def per_sequence_sum(mask: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sum a flat boolean mask within each sequence (lengths > 0) without a per-base index array."""
    if len(lengths) == 0:
        return np.zeros(0, np.int64)
    mask = mask.view(np.uint8)  # summing bytes is several times faster than summing bools
    if (lengths == lengths[0]).all():
        return mask.reshape(len(lengths), -1).sum(axis=1, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.add.reduceat(mask, starts, dtype=np.int64)


def _invalid_letters(seq: str) -> str:
    bad = sorted({ch for ch in seq if ord(ch) > 255 or _LUT[ord(ch)] == INVALID})
    return ", ".join(repr(ch) for ch in bad)


def _screen(inputs: list, offset: int) -> tuple[list[int], list[str], list[Reject]]:
    """Split inputs into valid strings and rejects for missing / empty ones."""
    idx, seqs, rejects = [], [], []
    for i, seq in enumerate(inputs):
        if not isinstance(seq, str):
            rejects.append(Reject(offset + i, "", "missing sequence"))
        elif not seq:
            rejects.append(Reject(offset + i, "", "empty sequence"))
        else:
            idx.append(i)
            seqs.append(seq)
    return idx, seqs, rejects


@register
class OneHot(Featurizer):
    """DNA → uint8 codes (N, length).

    ``length=None`` learns the most common input length in ``fit`` (it then becomes a param, so a
    saved model re-featurizes to the same length). Sequences of another length are rejected
    (``resize="reject"``) or centre-cropped / N-padded on both sides (``resize="crop_pad"``).
    """

    name = "onehot"
    layout = "sequence"
    modality = "sequence"
    param_constraints = {"length": Interval(1, 1_000_000), "resize": Choices("reject", "crop_pad")}
    chunk_size = 200_000  # vectorised: one chunk is fastest; n_jobs is not needed
    reads_blocks = True

    def __init__(self, length: int | None = None, resize: str = "reject", n_jobs: int | None = 1):
        super().__init__(n_jobs)
        if resize not in ("reject", "crop_pad"):
            raise ValueError(f"resize must be 'reject' or 'crop_pad', not {resize!r}")
        self.length, self.resize = length, resize

    def fit(self, inputs: Sequence[Any]) -> "OneHot":
        if self.length is None and isinstance(inputs, SequenceBlock):
            self.length = inputs.width
        if self.length is None:
            lengths = Counter(len(s) for s in inputs if isinstance(s, str) and s)
            # ties go to the longer length so that crop_pad crops rather than pads
            self.length = max(lengths, key=lambda n: (lengths[n], n)) if lengths else 0
        return self

    def _featurize_chunk(self, inputs: list, *, offset: int, meta: bool) -> FeaturizeResult:
        if isinstance(inputs, SequenceBlock):
            if inputs.width == self.length:
                return self._featurize_block(inputs, offset=offset, meta=meta)
            inputs = list(inputs)
        idx, seqs, rejects = _screen(inputs, offset)
        codes, lengths, invalid, lowercase = encode(seqs)
        L = self.length
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        ok = invalid == 0
        for j in np.flatnonzero(~ok):
            rejects.append(Reject(offset + idx[j], seqs[j], f"non-DNA letters: {_invalid_letters(seqs[j])}"))
        if self.resize == "reject":
            wrong = ok & (lengths != L)
            for j in np.flatnonzero(wrong):
                rejects.append(Reject(offset + idx[j], seqs[j],
                                      f"length {lengths[j]} != {L} (set resize: crop_pad to crop / pad)"))
            ok &= ~wrong
        rows = np.flatnonzero(ok)
        if len(rows) == len(seqs) and (lengths == L).all():
            X = codes.reshape(len(seqs), L)  # the common case: nothing to crop, pad or drop
        elif len(rows) and (lengths[rows] == L).all():
            X = codes[starts[rows, None] + np.arange(L)]
        else:
            X = np.full((len(rows), L), N_CODE, np.uint8)
            for r, j in enumerate(rows):
                n, s = lengths[j], starts[j]
                if n >= L:
                    a = s + (n - L) // 2
                    X[r] = codes[a: a + L]
                else:
                    pad = (L - n) // 2
                    X[r, pad: pad + n] = codes[s: s + n]
        cols = {}
        if meta:
            # no canonical-form column: for DNA it is the uppercased input, derived where needed, as
            # a second copy of every sequence would double the size and write time of meta.parquet
            cols = {
                "length": lengths[rows],
                "lowercase_fraction": (lowercase[rows] / np.maximum(lengths[rows], 1)).round(4),
                "n_fraction": (per_sequence_sum((X == N_CODE).ravel(), np.full(len(rows), L)) / max(L, 1)).round(4),
            }
        rejects.sort(key=lambda r: r.index)
        kept = np.asarray([offset + idx[j] for j in rows], np.int64)
        return FeaturizeResult(X=X.astype(np.uint8, copy=False), kept=kept, rejects=rejects, meta=cols)

    def _featurize_block(self, block: SequenceBlock, *, offset: int, meta: bool) -> FeaturizeResult:
        """Windows of this featurizer's length, as letters: coded by one table lookup, no strings
        (the same codes, rejects and meta as the path for strings)."""
        L = self.length
        codes = _LUT.take(block.letters)
        lengths = np.full(len(block), L)
        invalid = per_sequence_sum((codes == INVALID).ravel(), lengths)
        rejects = [Reject(offset + j, "", "empty sequence") for j in np.flatnonzero(~block.present)]
        for j in np.flatnonzero(block.present & (invalid > 0)):
            rejects.append(Reject(offset + j, block[j], f"non-DNA letters: {_invalid_letters(block[j])}"))
        rows = np.flatnonzero(block.present & (invalid == 0))
        X = codes if len(rows) == len(block) else codes[rows]
        cols = {}
        if meta:
            cols = {
                "length": lengths[rows],
                "lowercase_fraction": (per_sequence_sum((block.letters[rows] >= 97).ravel(), lengths[rows])
                                       / max(L, 1)).round(4),
                "n_fraction": (per_sequence_sum((X == N_CODE).ravel(), lengths[rows]) / max(L, 1)).round(4),
            }
        rejects.sort(key=lambda r: r.index)
        return FeaturizeResult(X=X, kept=offset + rows.astype(np.int64), rejects=rejects, meta=cols)

    def _empty_X(self) -> np.ndarray:
        return np.zeros((0, self.length or 0), np.uint8)


@register
class KmerCounts(Featurizer):
    """Counts of every k-mer (4**k columns, lexicographic ACGT order): a non-deep baseline.

    Windows that contain N are skipped. ``canonical=True`` adds each k-mer's count to its reverse
    complement's (strand-agnostic; columns stay 4**k so names are stable). Output ``X``: uint16
    (N, 4**k); any sequence length is accepted.
    """

    name = "kmer"
    layout = "vector"
    modality = "sequence"
    param_constraints = {"k": Interval(1, 8)}
    chunk_size = 2000  # bounds the (chunk × 4**k) counting buffer

    def __init__(self, k: int = 5, canonical: bool = False, n_jobs: int | None = 1):
        super().__init__(n_jobs)
        if not 1 <= k <= 8:
            raise ValueError(f"k must be between 1 and 8, not {k}")
        self.k, self.canonical = k, canonical

    def feature_names(self) -> list[str]:
        import itertools

        return ["".join(p) for p in itertools.product("ACGT", repeat=self.k)]

    def _featurize_chunk(self, inputs: list, *, offset: int, meta: bool) -> FeaturizeResult:
        idx, seqs, rejects = _screen(inputs, offset)
        codes, lengths, invalid, _ = encode(seqs)
        seg = np.repeat(np.arange(len(seqs)), lengths)
        for j in np.flatnonzero(invalid):
            rejects.append(Reject(offset + idx[j], seqs[j], f"non-DNA letters: {_invalid_letters(seqs[j])}"))
        k, n_cols = self.k, 4 ** self.k
        windows = len(codes) - k + 1
        counts = np.zeros((len(seqs), n_cols), np.int64)
        if windows > 0:
            kmer = np.zeros(windows, np.int64)
            has_n = np.zeros(windows, bool)
            for j in range(k):
                part = codes[j: j + windows]
                kmer = kmer * 4 + np.minimum(part, 3)
                has_n |= part >= N_CODE
            usable = ~has_n & (seg[:windows] == seg[k - 1:])
            flat = seg[:windows][usable] * n_cols + kmer[usable]
            counts = np.bincount(flat, minlength=len(seqs) * n_cols).reshape(len(seqs), n_cols)
            if self.canonical:
                counts = counts + counts[:, self._rc_index()]
                palindromes = self._rc_index() == np.arange(n_cols)
                counts[:, palindromes] //= 2  # a palindrome is its own reverse complement
        rows = np.flatnonzero(invalid == 0)
        rejects.sort(key=lambda r: r.index)
        X = np.minimum(counts[rows], np.iinfo(np.uint16).max).astype(np.uint16)
        cols = {"length": lengths[rows]} if meta else {}
        return FeaturizeResult(X=X, kept=np.asarray([offset + idx[j] for j in rows], np.int64),
                               rejects=rejects, meta=cols)

    def _rc_index(self) -> np.ndarray:
        digits = (np.arange(4 ** self.k)[:, None] // 4 ** np.arange(self.k)[None, :]) % 4  # little-endian
        return ((3 - digits) * 4 ** np.arange(self.k)[::-1][None, :]).sum(axis=1)

    def _empty_X(self) -> np.ndarray:
        return np.zeros((0, 4 ** self.k), np.uint16)
