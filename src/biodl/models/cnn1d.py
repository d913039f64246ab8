"""1-D convolutional network for DNA, reverse-complement aware (janggu / DeepBind style)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from biodl.models.base import (ACTIVATIONS, GLOBAL_POOLS, Model, check_bool, check_choice, check_int,
                               check_int_list, check_number, check_probability, dna_onehot, make_activation)
from biodl.models.registry import register_model


class SameConv1d(nn.Conv1d):
    """Stride-1 Conv1d whose output has the input's length, for odd and even kernel sizes.

    Pads ``kernel_size // 2`` on both sides and, for an even kernel, drops the one extra output at
    the end; ``padding="same"`` does the same but warns and copies the input for even kernels.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)[..., : x.shape[-1]]


@register_model
class CNN1D(Model):
    """Convolution blocks ``Conv1d (same length) → act → MaxPool(pool) → Dropout`` (no pool after
    the last), global max / average pooling over the sequence, Dropout, one Linear with
    ``n_outputs`` columns.

    Input: DNA codes ``(B, L)`` uint8 / int (A C G T N = 0..4, as stored by the ``onehot``
    featurizer; expanded to one-hot on the input's device inside ``forward``) or a float one-hot
    ``(B, 4, L)`` (for attribution methods). Output: float32 ``(B, n_outputs)``.

    ``rc=True`` makes the model see both strands with one set of weights, as janggu's
    ``DnaConv2D``: the first convolution scans the one-hot of ``x`` and of its reverse complement,
    the latter's output is flipped back along the sequence, and the two are merged position-wise
    by max, so a filter detects its motif on either strand. That merged map ``g`` satisfies
    ``g(rc(x)) == flip(g(x))``. Global pooling is flip-invariant, so with one block the output is
    strand-invariant as it is; the later convolutions are not (a kernel read backwards is another
    kernel), so with more blocks the rest of the network runs on ``g`` and on ``flip(g)`` (one
    batched call) and the pooled features are merged by max. A reverse complement only swaps the
    two, so the output is exactly invariant (up to float rounding) for any depth, pooling or length,
    at twice the compute of the blocks after the first.

    Parameters
    ----------
    channels, kernel_sizes: filters and width of each convolution block (equal lengths).
    pool: max-pool size after each block except the last; 1 = none.
    dropout: after every block and before the output layer.
    rc: reverse-complement aware (strand-invariant) model, see above.
    global_pool: ``max`` (is the motif anywhere?), ``avg`` (how much of it?), or ``flatten``
        (no pooling: the output layer sees every position, so where a motif sits matters, as for
        siRNA guide positions; the book's Chapter 6 models).
    n_value: one-hot value of all four channels for N: 0 ("no evidence") or 0.25 ("uniform").
    activation: a name in :data:`biodl.models.base.ACTIVATIONS`.
    output: ``linear``, or ``sigmoid`` for a regression target bounded to (0, 1) (the book's siRNA
        efficacy model); a sigmoid output predicts in target units, so targets are not
        standardized for it (``bounded_output``).
    """

    name = "cnn1d"

    def __init__(self, input_shape: Sequence[int], n_outputs: int, *, channels: Sequence[int] = (64, 64),
                 kernel_sizes: Sequence[int] = (21, 11), pool: int = 2, dropout: float = 0.2, rc: bool = True,
                 global_pool: str = "max", n_value: float = 0.0, activation: str = "relu", output: str = "linear"):
        channels = check_int_list("channels", channels)
        kernel_sizes = check_int_list("kernel_sizes", kernel_sizes)
        if not channels or len(channels) != len(kernel_sizes):
            raise ValueError(f"channels and kernel_sizes must be non-empty lists of equal length; "
                             f"got {len(channels)} and {len(kernel_sizes)} entries")
        pool = check_int("pool", pool)
        dropout = check_probability("dropout", dropout)
        rc = check_bool("rc", rc)
        global_pool = check_choice("global_pool", global_pool, (*GLOBAL_POOLS, "flatten"))
        n_value = check_number("n_value", n_value)
        activation = check_choice("activation", activation, ACTIVATIONS)
        output = check_choice("output", output, ("linear", "sigmoid"))
        super().__init__(input_shape, n_outputs, channels=channels, kernel_sizes=kernel_sizes, pool=pool,
                         dropout=dropout, rc=rc, global_pool=global_pool, n_value=n_value,
                         activation=activation, output=output)
        self._check_input_rank(1, "(L,): DNA codes as stored by the 'onehot' featurizer")
        length = self.input_shape[0]
        if length // pool ** (len(channels) - 1) < 1:
            raise ValueError(f"sequence length {length} is too short for {len(channels) - 1} max-pools of "
                             f"size {pool}; use fewer blocks or a smaller pool")
        self.rc, self.n_value, self.bounded_output = rc, n_value, output == "sigmoid"
        self._flatten = global_pool == "flatten"
        self._pool = (lambda h: h.flatten(1)) if self._flatten else GLOBAL_POOLS[global_pool]
        self.blocks = nn.ModuleList()
        width = 4
        for i, (c, k) in enumerate(zip(channels, kernel_sizes)):
            # keep the length, so the reverse strand's map, flipped back, lines up with the forward
            # one (to within a position for even kernels)
            layers: list[nn.Module] = [SameConv1d(width, c, k), make_activation(activation)]
            if pool > 1 and i < len(channels) - 1:
                layers.append(nn.MaxPool1d(pool))
            layers.append(nn.Dropout(dropout))
            self.blocks.append(nn.Sequential(*layers))
            width = c
        self.head_dropout = nn.Dropout(dropout)
        # max-pools floor the length, as nn.MaxPool1d does
        final_length = length // pool ** (len(channels) - 1) if pool > 1 else length
        self.head = nn.Linear(width * final_length if self._flatten else width, self.n_outputs)
        self._output = torch.sigmoid if self.bounded_output else (lambda h: h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, L)`` or one-hot float ``(B, 4, L)`` → float32 ``(B, n_outputs)``."""
        return self._output(self._logits(x))

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        onehot = dna_onehot(x, self.n_value)
        if not self.rc:
            h = onehot
            for block in self.blocks:
                h = block(h)
            return self.head(self.head_dropout(self._pool(h)))

        n = onehot.shape[0]
        conv, rest_of_first = self.blocks[0][0], self.blocks[0][1:]
        # one-hot of rc(x) without expanding codes twice: complementing reverses the A C G T channel
        # order (A<->T, C<->G; N has the same value in all four), reversing flips the length axis
        both = conv(torch.cat([onehot, onehot.flip((1, 2))]))
        # merge the raw match scores (the stronger strand wins), then activate: for monotone
        # activations this equals janggu's max of activated outputs, at half the activation work
        g = torch.maximum(both[:n], both[n:].flip(-1))
        if len(self.blocks) == 1 and not self._flatten:  # flip-invariant pooling: one branch suffices
            return self.head(self.head_dropout(self._pool(rest_of_first(g))))
        # flip before the max-pool: pooling an odd length drops its last position, which would break
        # flip(pool(g)) == pool(flip(g)) and with it exact invariance
        h = rest_of_first(torch.cat([g, g.flip(-1)]))
        for block in self.blocks[1:]:
            h = block(h)
        if self._flatten:
            # position-specific weights see each strand's map as it is; merging the two outputs by
            # max keeps the model strand-invariant, as merging pooled features does
            out = self.head(self.head_dropout(self._pool(h)))
            return torch.maximum(out[:n], out[n:])
        pooled = self._pool(h)
        return self.head(self.head_dropout(torch.maximum(pooled[:n], pooled[n:])))
