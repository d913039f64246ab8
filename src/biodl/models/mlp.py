"""Multilayer perceptron for fixed-length feature vectors (ECFP bits / counts, descriptors, k-mers)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from biodl.models.base import (
    ACTIVATIONS,
    Model,
    check_bool,
    check_choice,
    check_int_list,
    check_probability,
    make_activation,
)
from biodl.models.registry import register_model

#: ``sparse_input`` values: auto = sparse first layer for integer (bits / counts) CPU batches with at
#: most :data:`SPARSE_MAX_DENSITY` non-zero entries; true = for every batch; false = never
SPARSE_INPUT = ("auto", "true", "false")
#: above this fraction of non-zero inputs the dense product is as fast as the gather (measured, 1
#: thread, 2048 → 1000, batch 100, forward + backward: gather 3 ms at 1-5 % non-zeros, 8 ms at 20 %,
#: even with the dense product's ~14 ms at ~35 %); ECFP4 2048 bits has 1-3 % on
SPARSE_MAX_DENSITY = 0.25


class InputLinear(nn.Linear):
    """The MLP's first Linear: dense product for dense input, gather-sum over the non-zero entries
    for sparse input (fingerprint bits / counts), with the same parameters either way.

    The weight is held transposed, as an ``(in_features, out_features)`` contiguous table (one row
    per input feature), because the sparse path reads whole rows of it — one per non-zero input —
    and its gradient comes back in that layout (no transposition per step, and the optimizer
    updates a contiguous tensor). Initial values are those of :class:`torch.nn.Linear` for the
    same seed. The ``state_dict`` is the plain Linear's: ``weight`` ``(out, in)`` and ``bias``,
    transposed on the way out and in, so model files load into either layout.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        with torch.no_grad():
            self.weight = nn.Parameter(self.weight.t().contiguous())  # (in, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Dense: ``x (B, in)`` float → ``(B, out)``, computed exactly as :class:`torch.nn.Linear`
        does (an ``(out, in)`` copy of the weight; its gradient comes back through the copy), so a
        model on dense features gives bit-identical results whichever layer it holds."""
        return F.linear(x, self.weight.t().contiguous(), self.bias)

    def forward_sparse(self, x: torch.Tensor, dropout: nn.Module | None = None,
                       nonzero: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """``self(dropout(x.float()))`` for a mostly-zero 2-D ``x``, touching only its non-zeros.

        Each row is a bag of (column, value) pairs; the output row is the value-weighted sum of
        the matching rows of the ``(in, out)`` weight table (:func:`torch.nn.functional.embedding_bag`,
        mode ``sum``) plus the bias: forward and backward cost O(non-zeros × out) instead of
        O(in × out). The weight's gradient is the same dense tensor the dense product gets (zero
        for inputs off in the whole batch), so optimizers and weight decay behave identically.
        ``dropout`` (an ``nn.Dropout``) acts on the non-zero values only: dropping a zero is a
        no-op, so this is the same masking as dropout on the dense input. ``nonzero``: ``x``'s
        ``nonzero(as_tuple=True)`` when the caller has it already.
        """
        rows, cols = x.nonzero(as_tuple=True) if nonzero is None else nonzero  # row-major order
        values = x[rows, cols].to(self.weight.dtype)
        if dropout is not None:
            values = dropout(values)
        counts = torch.bincount(rows, minlength=x.shape[0])
        offsets = torch.zeros_like(counts)
        torch.cumsum(counts[:-1], 0, out=offsets[1:])
        out = F.embedding_bag(cols, self.weight, offsets, mode="sum", per_sample_weights=values)
        return out if self.bias is None else out + self.bias

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "weight"] = destination[prefix + "weight"].t()  # (out, in), as nn.Linear

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + "weight"
        if key in state_dict and isinstance(state_dict[key], torch.Tensor) and state_dict[key].dim() == 2:
            state_dict = {**state_dict, key: state_dict[key].t()}  # a copy: the caller's dict is untouched
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


@register_model
class MLP(Model):
    """Feed-forward network:
    ``Dropout(input_dropout) → (Linear → [BatchNorm] → act → Dropout) × len(hidden) → Linear``.

    Input: float or uint8 ``(B, *input_shape)``, flattened to ``(B, D)`` with ``D = prod(input_shape)``
    and cast to float32 inside ``forward`` (fingerprints stay uint8 on disk and in the loader,
    4× less memory and transfer than float). Output: float32 ``(B, n_outputs)``. Multitask data
    gets one shared trunk and a single final Linear with one column per task (as DeepChem's
    ``MultitaskClassifier`` / Chemprop's FFN), so related tasks share the learned representation.

    Sparse input: fingerprints are mostly zero (ECFP4 2048 bits: 1-3 % on). With ``sparse_input``
    ``auto`` (the default), an integer batch (uint8 bits or counts) on the CPU with at most
    :data:`SPARSE_MAX_DENSITY` non-zeros goes through the first Linear as a gather-sum over its
    non-zero entries (:meth:`InputLinear.forward_sparse`): the same numbers as the dense product
    up to float rounding, the same parameters and ``state_dict``, a fraction of the work. Float features
    (descriptors), dense batches, GPU batches (where the dense product is cheap) and inputs that
    require a gradient (saliency) take the dense path. ``true`` forces the sparse path (any device or dtype), ``false`` disables it.

    NaN features (descriptors RDKit could not compute) must be imputed before the model: NaN in,
    NaN out.

    Parameters
    ----------
    hidden: widths of the hidden layers, e.g. ``[512, 128]``; ``[]`` is a linear model.
    activation: a name in :data:`biodl.models.base.ACTIVATIONS`.
    dropout: after every hidden layer.
    batch_norm: BatchNorm1d between each hidden Linear and its activation.
    input_dropout: dropout on the input features (masks random fingerprint bits), 0 = none.
    sparse_input: ``auto`` | ``true`` | ``false`` (see above); a speed setting only.
    """

    name = "mlp"

    def __init__(self, input_shape: Sequence[int], n_outputs: int, *, hidden: Sequence[int] = (512, 128),
                 activation: str = "relu", dropout: float = 0.2, batch_norm: bool = False,
                 input_dropout: float = 0.0, sparse_input: str | bool = "auto"):
        hidden = check_int_list("hidden", hidden)
        dropout = check_probability("dropout", dropout)
        input_dropout = check_probability("input_dropout", input_dropout)
        batch_norm = check_bool("batch_norm", batch_norm)
        activation = check_choice("activation", activation, ACTIVATIONS)
        if isinstance(sparse_input, bool):  # YAML reads `sparse_input: true` as a bool
            sparse_input = str(sparse_input).lower()
        sparse_input = check_choice("sparse_input", sparse_input, SPARSE_INPUT)
        super().__init__(input_shape, n_outputs, hidden=hidden, activation=activation, dropout=dropout,
                         batch_norm=batch_norm, input_dropout=input_dropout, sparse_input=sparse_input)
        # Dropout modules are present even at rate 0: they hold no weights, and this way the
        # state_dict keys do not depend on the rates (weights load across dropout settings)
        layers: list[nn.Module] = [nn.Flatten(), nn.Dropout(input_dropout)]
        # the Linear that reads the input can take the sparse path (same parameters, same state_dict)
        first = nn.Linear if sparse_input == "false" else InputLinear
        width = math.prod(self.input_shape)
        for h in hidden:
            # no bias before BatchNorm: its shift makes the bias redundant
            layers.append((first if len(layers) == 2 else nn.Linear)(width, h, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers += [make_activation(activation), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = (first if not hidden else nn.Linear)(width, self.n_outputs)

    def wants_fused_optimizer(self, x: torch.Tensor) -> bool:
        """Whether :func:`biodl.train.fit` should use torch's fused Adam / AdamW kernel (the same
        update rule in one pass per tensor instead of ~8 with temporaries) for training batches
        like ``x``: yes when they take the sparse path, where the optimizer's walk over the first
        layer's ``in × out`` weights is most of a step. Dense input keeps the plain optimizer (and
        so exactly the numbers of a plain MLP)."""
        return self.uses_sparse_path(x) and x.device.type in ("cpu", "cuda")

    @property
    def first_linear(self) -> nn.Linear:
        """The Linear that reads the input: the first hidden layer, or the head when ``hidden`` is []."""
        return self.body[2] if len(self.body) > 2 else self.head

    def _may_be_sparse(self, x: torch.Tensor) -> bool:
        """The checks of :meth:`uses_sparse_path` that do not read the data."""
        mode = self.config["sparse_input"]
        if mode == "false" or x.dim() < 2 or (x.requires_grad and torch.is_grad_enabled()):
            return False  # a gradient with respect to the input (saliency) needs every entry
        return mode == "true" or not (x.is_floating_point() or x.is_complex() or x.device.type != "cpu"
                                      or x.numel() == 0)

    def _dense_enough(self, n_nonzero: int, x: torch.Tensor) -> bool:
        return self.config["sparse_input"] == "auto" and n_nonzero > SPARSE_MAX_DENSITY * x.numel()

    def uses_sparse_path(self, x: torch.Tensor) -> bool:
        """Whether ``forward(x)`` computes the first Linear as a gather-sum over non-zero inputs."""
        return self._may_be_sparse(x) and not self._dense_enough(int(torch.count_nonzero(x)), x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape)`` any real dtype → float32 ``(B, n_outputs)``."""
        if not self._may_be_sparse(x):
            return self.head(self.body(x.float()))
        x = x.flatten(1)
        nonzero = x.nonzero(as_tuple=True)  # read once: the density check and the gather share it
        if self._dense_enough(len(nonzero[0]), x):
            return self.head(self.body(x.float()))
        h = self.first_linear.forward_sparse(x, dropout=self.body[1], nonzero=nonzero)
        if len(self.body) == 2:  # no hidden layer: the head read the input
            return h
        for layer in itertools.islice(self.body, 3, None):
            h = layer(h)
        return self.head(h)
