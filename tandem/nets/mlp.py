"""The ``mlp`` block: hidden Dense layers with an activation, orthogonally initialised (gain sqrt 2).

``mlp:64,64`` is two hidden layers of 64; ``mlp`` alone is none (the head is then a linear map of the input).
``mlp:256,256,ln`` puts a layer norm (Ba et al. 2016, learned scale and offset) between each Dense layer and its
activation.
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
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x):
        act = ACTIVATION_FNS[self.activation]
        for width in self.hidden:
            x = nn.Dense(width, kernel_init=nn.initializers.orthogonal(np.sqrt(2)), bias_init=nn.initializers.zeros)(x)
            x = act(nn.LayerNorm()(x) if self.layer_norm else x)
        return x


def parse_widths(args: list[str]) -> tuple[int, ...]:
    """Hidden widths: each a positive integer."""
    out = []
    for a in args:
        if not a.isdigit() or not 1 <= int(a) <= MAX_WIDTH:
            raise ValueError(f"width {a!r} is not a positive integer")
        out.append(int(a))
    return tuple(out)


def parse_mlp(args: list[str]) -> tuple:
    """Hidden widths, then optionally ``ln`` (layer norm), kept as the last argument."""
    ln = bool(args) and args[-1] == "ln"
    widths = parse_widths(args[:-1] if ln else args)
    if ln and not widths:
        raise ValueError("'ln' needs at least one hidden layer, e.g. mlp:64,ln")
    return widths + (("ln",) if ln else ())


def build_mlp(args: tuple, activation: str) -> MLP:
    """The MLP of parsed arguments."""
    ln = bool(args) and args[-1] == "ln"
    return MLP(tuple(args[:-1] if ln else args), activation, ln)


register_block("mlp", BlockDef(parse=parse_mlp, build=build_mlp,
                               grammar="mlp:W1,W2,...[,ln] (hidden layer widths, ln: layer norm; 'mlp' alone: none)"))
