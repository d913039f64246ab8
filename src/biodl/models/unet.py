"""U-Net for pixel-wise segmentation of cell images (the book's Ch. 7)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from biodl.models.base import Model, check_int, check_probability
from biodl.models.registry import register_model


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


@register_model
class UNet(Model):
    """U-Net (Ronneberger et al. 2015) with 'same' padding: ``depth`` 2× poolings, ``width``
    filters at full resolution doubling per level, BatchNorm, dropout at the bottleneck, transposed
    convolutions up, skip connections by concatenation.

    The one model whose outputs are per pixel: input float ``(B, C, H, W)`` with H and W multiples
    of ``2 ** depth`` (:func:`biodl.segmentation.predict_full` pads), output float32 logits
    ``(B, n_outputs, H, W)``, ``n_outputs`` classes per pixel (background / interior / boundary).
    ``input_shape`` is (C, H, W) of the training images; any H, W on the pooling grid is accepted.

    Parameters
    ----------
    depth: number of 2× poolings (the receptive field grows with it: :attr:`reach`).
    width: filters of the first level; each level doubles them.
    dropout: 2-D (channel) dropout at the bottleneck.
    scale: images are resized by this factor before the network and its maps resized back
        (:mod:`biodl.segmentation`; ``forward`` itself never resizes). Cellpose's idea: a network
        sees cells at the size it was trained for, and a full field of view at 1/4 of its side costs
        1/16 of the compute. 1.0 = as stored.
    """

    name = "unet"

    def __init__(self, input_shape: Sequence[int], n_outputs: int = 3, depth: int = 3, width: int = 16,
                 dropout: float = 0.1, scale: float = 1.0):
        super().__init__(input_shape, n_outputs, depth=depth, width=width, dropout=dropout, scale=scale)
        self._check_input_rank(3, "(C, H, W)")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.05 <= scale <= 4:
            raise ValueError(f"scale must be a number from 0.05 to 4; got {scale!r}")
        self.scale = float(scale)
        self.depth = check_int("depth", depth)
        self.width = check_int("width", width)
        dropout = check_probability("dropout", dropout)
        chans = [width * 2 ** d for d in range(depth + 1)]
        c_in = self.input_shape[0]
        self.down = nn.ModuleList([_block(c_in if d == 0 else chans[d - 1], chans[d]) for d in range(depth + 1)])
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout2d(dropout)
        self.up = nn.ModuleList([nn.ConvTranspose2d(chans[d + 1], chans[d], 2, stride=2) for d in reversed(range(depth))])
        self.merge = nn.ModuleList([_block(2 * chans[d], chans[d]) for d in reversed(range(depth))])
        self.head = nn.Conv2d(chans[0], self.n_outputs, 1)

    @property
    def multiple(self) -> int:
        return 2 ** self.depth

    @property
    def reach(self) -> int:
        """Pixels on each side that can change an output pixel (the receptive field's radius): two
        3×3 convolutions per level on the way down and up, each reaching one pixel at its level's
        scale, plus one pixel at each level's scale for every 2×2 pooling and up-sampling step."""
        down = sum(2 * 2 ** d for d in range(self.depth + 1))
        up = sum(2 * 2 ** d for d in range(self.depth))
        return down + up + 2 * (2 ** self.depth - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        skips = []
        for d, block in enumerate(self.down):
            x = block(x if d == 0 else self.pool(x))
            skips.append(x)
        x = self.drop(skips.pop())
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)
