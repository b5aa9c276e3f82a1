"""The ``impala_cnn`` block: IMPALA's residual torso (Espeholt et al. 2018, its "deep" network), for pixels.

[..., H, W, C] uint8 frames (values 0-255, divided by 255 inside the network), then per stack of channels c
(16, 32, 32 as published): a 3x3 convolution of c channels, 3x3 max pooling with stride 2 (same padding), and two
residual blocks x + conv(relu(conv(relu(x)))) of 3x3 convolutions; ReLU at the end (as published, whatever
``--activation``). 84 x 84 -> 11 x 11 x 32, flattened by the next block; IMPALA's dense layer of 256 is the next
block: ``impala_cnn>mlp:256`` (or ``impala_cnn>lstm:256`` with a recurrent core). ``impala_cnn:C1,C2,...`` sets
the stacks.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from tandem.nets.conv import conv3x3, conv_param
from tandem.nets.mlp import parse_widths
from tandem.nets.spec import BlockDef, register_block


def max_pool(x):
    """3x3 max pooling, stride 2, same padding, of x [..., H, W, C] (any leading axes)."""
    lead = x.shape[:-3]
    out = nn.max_pool(x.reshape((-1,) + x.shape[-3:]), (3, 3), strides=(2, 2), padding="SAME")
    return out.reshape(lead + out.shape[1:])


class ImpalaCNN(nn.Module):
    """[..., H, W, C] in [0, 255] -> [..., ceil(H / 2^n), ceil(W / 2^n), channels[-1]] (n stacks)."""

    channels: tuple[int, ...] = (16, 32, 32)

    @nn.compact
    def __call__(self, x):
        im2col = jax.default_backend() == "cpu"

        def conv(y, name: str, out: int):
            return conv3x3(y, *conv_param(self, name, (3, 3, y.shape[-1], out)), im2col)

        x = x / 255.0
        for i, c in enumerate(self.channels):
            x = max_pool(conv(x, f"{i}", c))
            for r in range(2):
                x = x + conv(nn.relu(conv(nn.relu(x), f"{i}_res{r}_a", c)), f"{i}_res{r}_b", c)
        return nn.relu(x)


def parse_stacks(args: list[str]) -> tuple[int, ...]:
    """No argument (16, 32, 32, as published) or one channel count per stack."""
    return parse_widths(args) if args else (16, 32, 32)


register_block("impala_cnn", BlockDef(
    parse=parse_stacks, build=lambda args, activation: ImpalaCNN(tuple(args)),
    grammar="impala_cnn[:C1,C2,...] (IMPALA's residual CNN, channels per stack 16,32,32; then e.g. >mlp:256)",
    flat_input=False))
