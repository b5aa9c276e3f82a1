"""The ``mlp`` block: hidden Dense layers with an activation, orthogonally initialised (gain sqrt 2).

``mlp:64,64`` is two hidden layers of 64; ``mlp`` alone is none (the head is then a linear map of the input).
"""

from __future__ import annotations

import flax.linen as nn
import numpy as np

from tandem.nets.spec import BlockDef, register_block

ACTIVATION_FNS = {"tanh": nn.tanh, "relu": nn.relu, "gelu": nn.gelu, "silu": nn.silu, "elu": nn.elu}
MAX_WIDTH = 2**31 - 1


class MLP(nn.Module):
    """[..., F] -> [..., hidden[-1]] (or the input itself with no hidden layer)."""

    hidden: tuple[int, ...]
    activation: str

    @nn.compact
    def __call__(self, x):
        act = ACTIVATION_FNS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width, kernel_init=nn.initializers.orthogonal(np.sqrt(2)),
                             bias_init=nn.initializers.zeros)(x))
        return x


def parse_widths(args: list[str]) -> tuple[int, ...]:
    """Hidden widths: each a positive integer."""
    out = []
    for a in args:
        if not a.isdigit() or not 1 <= int(a) <= MAX_WIDTH:
            raise ValueError(f"width {a!r} is not a positive integer")
        out.append(int(a))
    return tuple(out)


register_block("mlp", BlockDef(parse=parse_widths, build=lambda args, activation: MLP(tuple(args), activation),
                               grammar="mlp:W1,W2,... (hidden layer widths; 'mlp' alone: none)"))
