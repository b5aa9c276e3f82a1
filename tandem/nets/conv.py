"""The ``conv`` block: a small CNN for grids and small images (3x3 kernels, stride 1, same padding).

``conv:16,32`` is two convolutions of 16 and 32 channels, each followed by the activation; the output
[..., H, W, C_last] is flattened by whatever comes next. Suited to board and grid observations (a Jumanji
board, an XLand-MiniGrid view, a MinAtar frame): it keeps the spatial resolution. A grid without a channel
axis ([H, W]) enters as one channel; values are cast to float32, not rescaled (grid entries are codes).
"""

from __future__ import annotations

import flax.linen as nn
import numpy as np

from tandem.nets.mlp import ACTIVATION_FNS, parse_widths
from tandem.nets.spec import BlockDef, register_block


class Conv(nn.Module):
    """[..., H, W, C] -> [..., H, W, channels[-1]]."""

    channels: tuple[int, ...]
    activation: str

    @nn.compact
    def __call__(self, x):
        act = ACTIVATION_FNS[self.activation]
        for c in self.channels:
            x = act(nn.Conv(c, (3, 3), padding="SAME", kernel_init=nn.initializers.orthogonal(np.sqrt(2)),
                            bias_init=nn.initializers.zeros)(x))
        return x


def parse_channels(args: list[str]) -> tuple[int, ...]:
    """Channel counts: at least one, each a positive integer."""
    if not args:
        raise ValueError("conv needs at least one channel count, e.g. conv:16,16")
    return parse_widths(args)


register_block("conv", BlockDef(parse=parse_channels, build=lambda args, activation: Conv(tuple(args), activation),
                                grammar="conv:C1,C2,... (3x3 convolutions of C1, C2, ... channels, for grids)",
                                flat_input=False))
