"""Encodings shared by featurizers (which write them) and models (which read them).

DNA codes: A, C, G, T = 0, 1, 2, 3 and N = 4, one byte per base; lowercase (soft-masked) bases read
as their uppercase letter, RNA's U as T (so siRNA and mRNA sequences encode as their DNA), IUPAC
ambiguity codes as N, anything else is INVALID (the featurizer rejects the sequence). Token ids: the four special tokens come first, so ``<pad>`` is 0.

Kept apart from ``biodl.featurizers`` so that a model never imports a featurizer (the data flow runs
featurize → train, not back).
"""

from __future__ import annotations

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
