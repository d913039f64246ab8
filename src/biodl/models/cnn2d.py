"""2-D convolutional network for cell images (counting regression, phenotype classification)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from biodl.models.base import (ACTIVATIONS, GLOBAL_POOLS, Model, check_bool, check_choice, check_int,
                               check_int_list, check_probability, make_activation)
from biodl.models.registry import register_model


@register_model
class CNN2D(Model):
    """Blocks ``Conv2d(stride) → [BatchNorm2d] → act → [MaxPool2d(pool)]`` (no pool after the last),
    global average / max pooling, Dropout, one Linear with ``n_outputs`` columns.

    With the defaults every block halves the image with a stride-2 convolution, like the book's
    cell-counting CNN (Ch. 7: five stride-2 5×5 convolutions, 16→256 filters): 128×128 → 8×8 after
    four blocks.
    ``stride=1, pool=2`` gives the classic conv + max-pool network instead.

    Input: float ``(B, C, H, W)`` as stored by the ``image`` featurizer (cast to float32 inside
    ``forward``). Output: float32 ``(B, n_outputs)``.

    Dropout is applied only before the output layer: dropout between batch-normalized conv layers
    shifts the activation variance between training and inference ("disharmony", Li et al. 2019),
    and MC dropout at inference would then also disturb the BatchNorm statistics' meaning.

    Parameters
    ----------
    channels: filters of each block.
    kernel_size: square kernel, padded by ``kernel_size // 2``.
    stride: convolution stride of every block (2 = downsample in the convolution).
    pool: max-pool size after each block except the last; 1 = none.
    batch_norm: BatchNorm2d after each convolution (its bias is then dropped as redundant).
    dropout: before the output layer.
    global_pool: ``avg`` (suits counting: the count is a sum of local evidence) or ``max``.
    activation: a name in :data:`biodl.models.base.ACTIVATIONS`.
    """

    name = "cnn2d"

    def __init__(self, input_shape: Sequence[int], n_outputs: int, *,
                 channels: Sequence[int] = (16, 32, 64, 128), kernel_size: int = 3, stride: int = 2,
                 pool: int = 1, batch_norm: bool = True, dropout: float = 0.2, global_pool: str = "avg",
                 activation: str = "relu"):
        channels = check_int_list("channels", channels)
        if not channels:
            raise ValueError("channels must name at least one convolution block")
        kernel_size = check_int("kernel_size", kernel_size)
        stride = check_int("stride", stride)
        pool = check_int("pool", pool)
        batch_norm = check_bool("batch_norm", batch_norm)
        dropout = check_probability("dropout", dropout)
        global_pool = check_choice("global_pool", global_pool, GLOBAL_POOLS)
        activation = check_choice("activation", activation, ACTIVATIONS)
        super().__init__(input_shape, n_outputs, channels=channels, kernel_size=kernel_size, stride=stride,
                         pool=pool, batch_norm=batch_norm, dropout=dropout, global_pool=global_pool,
                         activation=activation)
        self._check_input_rank(3, "(C, H, W): images as stored by the 'image' featurizer")
        width, *size = self.input_shape
        padding = kernel_size // 2
        layers: list[nn.Module] = []
        for i, c in enumerate(channels):
            # no bias before BatchNorm: its shift makes the bias redundant
            layers.append(nn.Conv2d(width, c, kernel_size, stride=stride, padding=padding,
                                    bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(c))
            layers.append(make_activation(activation))
            size = [(s + 2 * padding - kernel_size) // stride + 1 for s in size]
            if pool > 1 and i < len(channels) - 1:
                layers.append(nn.MaxPool2d(pool))
                size = [s // pool for s in size]
            if min(size) < 1:
                raise ValueError(f"image size {self.input_shape[1:]} is too small for {len(channels)} blocks "
                                 f"with stride {stride} and pool {pool}")
            width = c
        self.body = nn.Sequential(*layers)
        self._pool = GLOBAL_POOLS[global_pool]
        self.head_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, self.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images float ``(B, C, H, W)`` → float32 ``(B, n_outputs)``."""
        return self.head(self.head_dropout(self._pool(self.body(x.float()))))
