"""Multilayer perceptron for fixed-length feature vectors (ECFP bits / counts, descriptors, k-mers)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from biodl.models.base import (ACTIVATIONS, Model, check_bool, check_choice, check_int_list,
                               check_probability, make_activation)
from biodl.models.registry import register_model


@register_model
class MLP(Model):
    """Feed-forward network:
    ``Dropout(input_dropout) → (Linear → [BatchNorm] → act → Dropout) × len(hidden) → Linear``.

    Input: float or uint8 ``(B, *input_shape)``, flattened to ``(B, D)`` with ``D = prod(input_shape)``
    and cast to float32 inside ``forward`` (fingerprints stay uint8 on disk and in the loader,
    4× less memory and transfer than float). Output: float32 ``(B, n_outputs)``. Multitask data
    gets one shared trunk and a single final Linear with one column per task (as DeepChem's
    ``MultitaskClassifier`` / Chemprop's FFN), so related tasks share the learned representation.

    NaN features (descriptors RDKit could not compute) must be imputed before the model: NaN in,
    NaN out.

    Parameters
    ----------
    hidden: widths of the hidden layers, e.g. ``[512, 128]``; ``[]`` is a linear model.
    activation: a name in :data:`biodl.models.base.ACTIVATIONS`.
    dropout: after every hidden layer.
    batch_norm: BatchNorm1d between each hidden Linear and its activation.
    input_dropout: dropout on the input features (masks random fingerprint bits), 0 = none.
    """

    name = "mlp"

    def __init__(self, input_shape: Sequence[int], n_outputs: int, *, hidden: Sequence[int] = (512, 128),
                 activation: str = "relu", dropout: float = 0.2, batch_norm: bool = False,
                 input_dropout: float = 0.0):
        hidden = check_int_list("hidden", hidden)
        dropout = check_probability("dropout", dropout)
        input_dropout = check_probability("input_dropout", input_dropout)
        batch_norm = check_bool("batch_norm", batch_norm)
        activation = check_choice("activation", activation, ACTIVATIONS)
        super().__init__(input_shape, n_outputs, hidden=hidden, activation=activation, dropout=dropout,
                         batch_norm=batch_norm, input_dropout=input_dropout)
        # Dropout modules are present even at rate 0: they hold no weights, and this way the
        # state_dict keys do not depend on the rates (weights load across dropout settings)
        layers: list[nn.Module] = [nn.Flatten(), nn.Dropout(input_dropout)]
        width = math.prod(self.input_shape)
        for h in hidden:
            # no bias before BatchNorm: its shift makes the bias redundant
            layers.append(nn.Linear(width, h, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers += [make_activation(activation), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, self.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape)`` any real dtype → float32 ``(B, n_outputs)``."""
        return self.head(self.body(x.float()))
