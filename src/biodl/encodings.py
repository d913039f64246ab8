"""Encodings shared by featurizers (which write them) and models (which read them).

DNA codes: A, C, G, T = 0, 1, 2, 3 and N = 4, one byte per base; lowercase (soft-masked) bases read
as their uppercase letter, RNA's U as T (so siRNA and mRNA sequences encode as their DNA), IUPAC
ambiguity codes as N, anything else is INVALID (the featurizer rejects the sequence). Token ids: the four special tokens come first, so ``<pad>`` is 0.

Kept apart from ``biodl.featurizers`` so that a model never imports a featurizer (the data flow runs
featurize → train, not back).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

N_CODE = 4
INVALID = 255
_LUT = np.full(256, INVALID, np.uint8)
for _code, _letters in enumerate(("A", "C", "G", "TU", "NRYSWKMBDHV")):
    for _ch in _letters:
        _LUT[ord(_ch)] = _LUT[ord(_ch.lower())] = _code
#: complement of each code (N stays N)
COMPLEMENT = np.array([3, 2, 1, 0, 4], np.uint8)


SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)


def reverse_complement_codes(codes):
    """Reverse complement of codes along the last axis; numpy array or torch tensor, same type out."""
    if isinstance(codes, np.ndarray):
        return COMPLEMENT[codes][..., ::-1]
    import torch

    table = torch.as_tensor(COMPLEMENT, device=codes.device)
    return table[codes.long()].flip(-1).to(codes.dtype)


def codes_to_onehot(codes, n_value: float = 0.0, dtype=None):
    """Expand codes (N, L) → one-hot float tensor (N, 4, L) on the codes' device.

    ``n_value`` fills all four channels for N: 0 (tangermeme, "no evidence") or 0.25 (Selene,
    "uniform"). Accepts a numpy array or torch tensor; returns a torch tensor.
    """
    import torch

    codes = torch.as_tensor(codes)
    dtype = dtype or torch.float32
    table = torch.zeros(5, 4, dtype=dtype, device=codes.device)
    table[:4] = torch.eye(4, dtype=dtype, device=codes.device)
    table[4] = n_value
    return table[codes.long()].transpose(-1, -2).contiguous()


class SequenceBlock(Sequence):
    """Equal-length sequences held as one uint8 array of their letters, as read: windows cut from a
    genome. Turning 200,000 windows into Python strings and encoding them back costs more than
    cutting them, so sources hand this to featurizers, which read ``letters`` directly.

    letters: uint8 (N, L), the bytes of each sequence (case as in the file).
    present: bool (N,); a row that is not present (a read reject) reads as ``""``.
    Items are ``str`` (latin-1 decoded), so any code that wants strings still gets them.
    """

    def __init__(self, letters: np.ndarray, present: np.ndarray | None = None):
        letters = np.asarray(letters, np.uint8)
        if letters.ndim != 2:
            raise ValueError(f"letters must be (N, L), got shape {letters.shape}")
        self.letters = letters
        self.present = np.ones(len(letters), bool) if present is None else np.asarray(present, bool)

    @property
    def width(self) -> int:
        return self.letters.shape[1]

    def __len__(self) -> int:
        return len(self.letters)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return SequenceBlock(self.letters[index], self.present[index])
        return self.letters[index].tobytes().decode("latin-1") if self.present[index] else ""

    def __eq__(self, other) -> bool:  # compares as the list of strings it stands for
        if isinstance(other, (SequenceBlock, list, tuple)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"SequenceBlock({len(self)} x {self.width} letters)"

    def take(self, rows) -> SequenceBlock:
        rows = np.asarray(rows, np.int64)
        return SequenceBlock(self.letters[rows], self.present[rows])

    def to_arrow(self):
        """A pyarrow string array of the sequences, built on the letters' buffer (no Python strings)."""
        import pyarrow as pa

        n, width = self.letters.shape
        if not self.present.all() or n * width >= 2**31 or (self.letters >= 128).any():
            return pa.array(list(self), pa.string())
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)[: n + 1]
        return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                      pa.py_buffer(np.ascontiguousarray(self.letters))])
