"""The ``nature_cnn`` block: the convolutional torso of DQN's Nature paper (Mnih et al. 2015), for Atari frames.

[..., 84, 84, 4] uint8 frames (values 0-255, divided by 255 inside the network) -> 8x8 convolution of 32 channels
with stride 4, 4x4 of 64 with stride 2, 3x3 of 64 with stride 1, unpadded, each followed by ReLU (as published,
whatever ``--activation``, which applies to the blocks after it) -> [..., 7, 7, 64], flattened by the next block.
The paper's dense layer of 512 is the next block: ``nature_cnn>mlp:512`` (with ``--activation relu``).
``nature_cnn:C1,C2,C3`` changes the channel counts. Convolutions are computed as in the ``conv`` block (im2col
on a CPU, nets/conv.py).
"""

from __future__ import annotations

import flax.linen as nn
import jax

from tandem.nets.conv import conv2d, conv_param
from tandem.nets.mlp import parse_widths
from tandem.nets.spec import BlockDef, BlockInputError, register_block

LAYERS = ((8, 4), (4, 2), (3, 1))  # (kernel size, stride)


class NatureCNN(nn.Module):
    """[..., H, W, C] in [0, 255] -> [..., H', W', channels[-1]] (84 x 84 -> 7 x 7)."""

    channels: tuple[int, int, int] = (32, 64, 64)

    @nn.compact
    def __call__(self, x):
        im2col = jax.default_backend() == "cpu"
        x = x / 255.0
        for i, ((k, stride), c) in enumerate(zip(LAYERS, self.channels)):
            if min(x.shape[-3:-1]) < k:
                raise BlockInputError(f"nature_cnn: its layer {i + 1} ({k}x{k}, stride {stride}) meets a {x.shape[-3]}x"
                                 f"{x.shape[-2]} input; it needs frames of at least 36x36 (84x84 as published); allowed for smaller grids: conv (e.g. conv:16>mlp:128)")
            x = nn.relu(conv2d(x, *conv_param(self, str(i), (k, k, x.shape[-1], c)), im2col, stride, same=False))
        return x


def parse_channels(args: list[str]) -> tuple[int, ...]:
    """No argument (32, 64, 64, as published) or three channel counts."""
    if args and len(args) != 3:
        raise ValueError(f"nature_cnn takes three channel counts or none, got {len(args)}")
    return parse_widths(args) if args else (32, 64, 64)


register_block("nature_cnn", BlockDef(
    parse=parse_channels, build=lambda args, activation: NatureCNN(tuple(args)),
    grammar="nature_cnn[:C1,C2,C3] (DQN's Nature CNN on 84x84 uint8 frames, ReLU; then e.g. >mlp:512)",
    flat_input=False))
