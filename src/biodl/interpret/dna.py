"""DNA: attributions per position and base, and sequences evolved to raise a model's output.

Three methods, each returning float32 (N, L, 4) — sequence × position × base (A, C, G, T):

* :func:`saturation_mutagenesis` (ISM): the change of the model's output for ``task`` when the base
  at a position is replaced by each other base (0 for the base that is there). Model-agnostic and
  exact; every variant is scored in batches on the model's device.
* :func:`gradient_x_input`: the output's gradient with respect to the one-hot input, times the input
  (Captum's ``InputXGradient``); nonzero only at the bases present.
* :func:`integrated_gradients`: Captum's ``IntegratedGradients`` from a reference (all zeros, or
  0.25 per base) to the one-hot input; its attributions add up to output(input) − output(reference)
  up to the integral's error, which is returned.

A model here is any torch module that reads DNA codes (B, L) — uint8, A C G T N = 0..4 — or the
float one-hot (B, 4, L) (:func:`biodl.models.base.dna_onehot` takes both, so biodl's ``cnn1d`` and
``rnn`` qualify) and returns (B, n_outputs). Outputs are the network's raw outputs (logits for a
classifier): a difference of logits is a log-odds ratio and adds up across independent sites.

For a reverse-complement model (``cnn1d`` with ``rc: true``) the attributions of the other strand are
:func:`other_strand` of the attributions of the reverse-complemented input; for ISM of an exactly
RC-invariant model the two are equal (tested).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from biodl.encodings import codes_to_onehot, reverse_complement_codes

#: codes of the four bases; 4 is N
BASES = 4


def _module_device(module: torch.nn.Module) -> torch.device:
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _check_codes(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"DNA codes must be an integer array (N, L), got {codes.dtype} {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() > 4):
        raise ValueError("DNA codes must be 0..4 (A, C, G, T, N)")
    # a reverse complement is a negative-stride view, a memory-mapped dataset read-only: torch wants neither
    if not codes.flags.writeable or not codes.flags.c_contiguous or codes.dtype != np.uint8:
        codes = np.array(codes, dtype=np.uint8, order="C")
    return codes


@torch.no_grad()
def saturation_mutagenesis(module: torch.nn.Module, codes: np.ndarray, *, task: int = 0,
                           batch_size: int = 256) -> np.ndarray:
    """float32 (N, L, 4): output(sequence with base b at position i) − output(sequence), for the
    output column ``task``. Positions holding N get the change to each base too. ``batch_size``
    variants are scored per forward pass (a sequence has 3·L of them, 4·L with an N in it); on this
    project's CPU a batch of 256 200-bp variants ran 4.6x faster per variant than one of 4,096
    (cache), so the default is small (bench/ism_speed.py)."""
    codes = _check_codes(codes)
    n, length = codes.shape
    module.eval()
    device = _module_device(module)
    out = np.zeros((n, length, BASES), np.float32)
    if n == 0 or length == 0:
        return out
    reference = np.concatenate([module(torch.from_numpy(codes[i:i + 256]).to(device))[:, task].float().cpu().numpy()
                                for i in range(0, n, 256)])
    # a sequence without N has 3·L variants (each position to each other base; the base that is
    # there changes nothing, 0 by definition); with N, 4·L (an N position to each of A, C, G, T)
    has_n = (codes == 4).any(axis=1)
    for full in (False, True):
        rows = np.flatnonzero(has_n == full)
        alts = BASES if full else BASES - 1
        per_seq = length * alts
        seqs_per_batch = max(1, batch_size // per_seq)
        for first in range(0, len(rows), seqs_per_batch):
            block_rows = rows[first:first + seqs_per_batch]
            block = codes[block_rows]
            pos = np.repeat(np.arange(length), alts)[None, :].repeat(len(block), 0)
            if full:
                base = np.tile(np.arange(BASES), length)[None, :].repeat(len(block), 0)
            else:
                base = (block[:, pos[0]].astype(np.int64) + np.tile(np.arange(1, BASES), length)) % BASES
            variants = np.repeat(block, per_seq, axis=0).reshape(len(block), per_seq, length)
            variants[np.arange(len(block))[:, None], np.arange(per_seq)[None, :], pos] = base
            flat_all = variants.reshape(-1, length)
            for k in range(0, len(flat_all), batch_size):
                flat = flat_all[k:k + batch_size]
                scores = module(torch.from_numpy(np.ascontiguousarray(flat)).to(device))[:, task].float().cpu().numpy()
                idx = np.arange(k, k + len(flat))
                seq, var = idx // per_seq, idx % per_seq
                out[block_rows[seq], pos[seq, var], base[seq, var]] = scores - reference[block_rows[seq]]
    return out


def _forward(module: torch.nn.Module, task: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda onehot: module(onehot)[:, task]


def _onehot(codes: np.ndarray, module: torch.nn.Module, n_value: float) -> torch.Tensor:
    return codes_to_onehot(torch.from_numpy(_check_codes(codes)).to(_module_device(module)), n_value).float()


def gradient_x_input(module: torch.nn.Module, codes: np.ndarray, *, task: int = 0, n_value: float = 0.0,
                     batch_size: int = 256) -> np.ndarray:
    """float32 (N, L, 4): gradient of output ``task`` with respect to the one-hot input, times the
    input (Captum ``InputXGradient``)."""
    from captum.attr import InputXGradient

    module.eval()
    method = InputXGradient(_forward(module, task))
    parts = []
    for start in range(0, len(codes), batch_size):
        x = _onehot(codes[start:start + batch_size], module, n_value).requires_grad_(True)
        parts.append(method.attribute(x).detach().cpu().numpy())
    return _to_position_base(parts, len(codes), np.asarray(codes).shape[-1])


def integrated_gradients(module: torch.nn.Module, codes: np.ndarray, *, task: int = 0, reference: str = "zeros",
                         steps: int = 50, n_value: float = 0.0, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(attributions float32 (N, L, 4), error float32 (N,)): Captum ``IntegratedGradients`` along the
    straight path from ``reference`` (``zeros``: no base; ``uniform``: 0.25 per base) to the one-hot
    input, ``steps`` Gauss-Legendre points. ``error`` is Captum's convergence delta: sum of the
    attributions − (output(input) − output(reference))."""
    from captum.attr import IntegratedGradients

    if reference not in ("zeros", "uniform"):
        raise ValueError(f"reference must be 'zeros' or 'uniform', got {reference!r}")
    module.eval()
    method = IntegratedGradients(_forward(module, task))
    parts, errors = [], []
    for start in range(0, len(codes), batch_size):
        x = _onehot(codes[start:start + batch_size], module, n_value)
        base = torch.zeros_like(x) if reference == "zeros" else torch.full_like(x, 0.25)
        attr, delta = method.attribute(x, baselines=base, n_steps=steps, return_convergence_delta=True)
        parts.append(attr.detach().cpu().numpy())
        errors.append(delta.detach().cpu().numpy())
    return _to_position_base(parts, len(codes), np.asarray(codes).shape[-1]), \
        (np.concatenate(errors).astype(np.float32) if errors else np.zeros(0, np.float32))


def _to_position_base(parts: list[np.ndarray], n: int, length: int) -> np.ndarray:
    """Captum's (N, 4, L) one-hot-shaped attributions → (N, L, 4)."""
    if not parts:
        return np.zeros((n, length, BASES), np.float32)
    return np.ascontiguousarray(np.concatenate(parts).transpose(0, 2, 1), dtype=np.float32)


def other_strand(attributions: np.ndarray) -> np.ndarray:
    """Attributions (N, L, 4) computed on reverse-complemented sequences, mapped back onto the
    forward strand: positions reversed, each base to its complement (A↔T, C↔G)."""
    return np.ascontiguousarray(np.asarray(attributions)[:, ::-1, ::-1])


def both_strands(method: Callable[..., np.ndarray], module: torch.nn.Module, codes: np.ndarray,
                 **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """(forward-strand attributions, the other strand's mapped back) of ``method`` (one of the
    functions above that return an array) on ``codes`` (N, L)."""
    codes = _check_codes(codes)
    return method(module, codes, **kwargs), other_strand(method(module, reverse_complement_codes(codes), **kwargs))


def optimize_sequence(module: torch.nn.Module, codes: np.ndarray, *, steps: int = 10, task: int = 0,
                      direction: int = 1, batch_size: int = 256) -> dict:
    """Greedy in-silico evolution (the book's ``optimize_tf``; tangermeme's greedy substitution):
    each step makes, in every sequence, the single-base substitution that changes output ``task``
    most in ``direction`` (+1 raise, −1 lower), found by :func:`saturation_mutagenesis`; a sequence
    stops when no substitution helps.

    ``codes`` (N, L) are the starting sequences (e.g. random ones from a seeded generator). Returns
    ``{"codes": uint8 (N, L) evolved, "scores": float32 (N, steps + 1) output after each step (the
    last value repeated once a sequence stops), "changes": int64 (N, steps, 2) position and new base
    of each step (−1 when none)}``."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be 1 or -1, got {direction!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    codes = _check_codes(codes).copy()
    n = len(codes)
    device = _module_device(module)
    module.eval()

    def score(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(batch).to(device))[:, task].float().cpu().numpy()

    scores = np.zeros((n, steps + 1), np.float32)
    changes = np.full((n, steps, 2), -1, np.int64)
    scores[:, 0] = score(codes) if n else scores[:, 0]
    active = np.ones(n, bool)
    for step in range(steps):
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            scores[:, step + 1:] = scores[:, step:step + 1]
            break
        gain = direction * saturation_mutagenesis(module, codes[rows], task=task, batch_size=batch_size)
        flat = gain.reshape(len(rows), -1).argmax(axis=1)
        best = gain.reshape(len(rows), -1)[np.arange(len(rows)), flat]
        improves = best > 0
        pos, base = flat // BASES, flat % BASES
        moved = rows[improves]
        codes[moved, pos[improves]] = base[improves]
        changes[moved, step] = np.stack([pos[improves], base[improves]], 1)
        active[rows[~improves]] = False
        scores[:, step + 1] = scores[:, step]
        if len(moved):
            scores[moved, step + 1] = score(codes[moved])
    return {"codes": codes, "scores": scores, "changes": changes}
