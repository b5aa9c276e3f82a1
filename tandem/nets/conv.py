"""The ``conv`` block: a small CNN for grids and small images (3x3 kernels, stride 1, same padding).

``conv:16,32`` is two convolutions of 16 and 32 channels, each followed by the activation; the output
[..., H, W, C_last] is flattened by whatever comes next. Suited to board and grid observations (a Jumanji
board, an XLand-MiniGrid view, a MinAtar frame): it keeps the spatial resolution. A grid without a channel
axis ([H, W]) enters as one channel; values are cast to float32, not rescaled (grid entries are codes).
``conv:16>mlp:128`` is the network of the MinAtar paper (Young & Tian 2019): one 3x3 convolution of 16 channels,
then a dense layer of 128.

On a CPU each convolution is computed as im2col (the nine shifted views of the padded input, concatenated)
times the kernel as a [9 * C_in, C_out] matrix: XLA:CPU runs ``lax.conv`` inside a loop body, where tandem's
updates always run (``lax.scan`` over minibatches), far slower than outside one (jax-ml/jax#12868). Measured
here, one gradient step of conv:16,16>mlp:128 on a 256 x 10 x 10 batch: lax.conv 6.7 ms alone, 139 ms inside
a scan; im2col 9 ms inside a scan. Elsewhere it is ``lax.conv_general_dilated``. Both use the same parameters and agree to float rounding
(tests/test_nets_spec.py).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from tandem.nets.mlp import ACTIVATION_FNS, parse_widths
from tandem.nets.spec import BlockDef, register_block


def conv2d(x, kernel, bias, im2col: bool, stride: int = 1, same: bool = True):
    """A convolution of x [..., H, W, C_in] with kernel [KH, KW, C_in, C_out] (any leading axes): stride-1 and
    same-padded (odd kernels) with ``same``, else unpadded ("VALID") with ``stride``. The im2col form concatenates
    the KH * KW shifted (strided) views and multiplies by the kernel as a [KH * KW * C_in, C_out] matrix."""
    kh, kw = kernel.shape[:2]
    if same and stride != 1:
        raise ValueError("conv2d: same padding is for stride 1")
    if im2col:
        if same:
            x = jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)])
        oh, ow = (x.shape[-3] - kh) // stride + 1, (x.shape[-2] - kw) // stride + 1
        views = [x[..., i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride, :]
                 for i in range(kh) for j in range(kw)]
        return jnp.concatenate(views, axis=-1) @ kernel.reshape(-1, kernel.shape[-1]) + bias
    lead = x.shape[:-3]
    flat = x.reshape((-1,) + x.shape[-3:])
    out = jax.lax.conv_general_dilated(flat, kernel, (stride, stride), "SAME" if same else "VALID",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return (out + bias).reshape(lead + out.shape[1:])


def conv3x3(x, kernel, bias, im2col: bool):
    """A 3x3, stride-1, same-padded convolution of x [..., H, W, C_in] with kernel [3, 3, C_in, C_out]."""
    return conv2d(x, kernel, bias, im2col)


def conv_param(module, name: str, shape: tuple[int, ...]):
    """(kernel, bias) of a convolution, orthogonally initialised with gain sqrt 2 as every tandem layer."""
    kernel = module.param(f"kernel_{name}", nn.initializers.orthogonal(np.sqrt(2)), shape)
    return kernel, module.param(f"bias_{name}", nn.initializers.zeros, (shape[-1],))


class Conv(nn.Module):
    """[..., H, W, C] -> [..., H, W, channels[-1]]."""

    channels: tuple[int, ...]
    activation: str

    @nn.compact
    def __call__(self, x):
        act = ACTIVATION_FNS[self.activation]
        im2col = jax.default_backend() == "cpu"
        for i, c in enumerate(self.channels):
            x = act(conv3x3(x, *conv_param(self, str(i), (3, 3, x.shape[-1], c)), im2col))
        return x


def parse_channels(args: list[str]) -> tuple[int, ...]:
    """Channel counts: at least one, each a positive integer."""
    if not args:
        raise ValueError("conv needs at least one channel count, e.g. conv:16,16")
    return parse_widths(args)


register_block("conv", BlockDef(parse=parse_channels, build=lambda args, activation: Conv(tuple(args), activation),
                                grammar="conv:C1,C2,... (3x3 convolutions of C1, C2, ... channels, for grids)",
                                flat_input=False))
