"""The ``hyper`` block: a hypernetwork Q critic ("Recomposing the RL Building Blocks with Hypernetworks",
Sarafian, Keynan & Kraus 2021): the state drives a network that emits the weights of a small network applied to
the action.

``hyper:H,W`` (first in a ``--critic-net``, e.g. ``hyper:256,64`` or ``hyper:256,64>mlp:64``): the state s
[..., F] goes through a dense layer of H units and the activation (the primary network), whose features h emit,
through linear maps, the kernel K(s) [A, W] and bias b(s) [W] of the dynamic network's layer; the block's output
is act(a K(s) / sqrt(A) + b(s)) [..., W] (the 1 / sqrt(A) a fan-in scaling of the generated kernel), which the
critic's linear head (or the blocks after it) turns into Q(s, a). Parameters: F * H + H (primary) and
H * (A * W + W) + A * W + W (the emitting maps). Only for networks that see an action: a Q critic.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from tandem.nets.mlp import ACTIVATION_FNS, parse_widths
from tandem.nets.spec import BlockDef, register_block


def dynamic_layer(h, action, emit_kernel, emit_bias, act):
    """The generated layer applied to the action: h [..., H] (the primary network's features), action [..., A],
    emit_kernel [H, A * W + W] and emit_bias [A * W + W] (the emitting linear map) -> [..., W]."""
    a = action.shape[-1]
    out = h @ emit_kernel + emit_bias
    width = out.shape[-1] // (a + 1)
    kernel = out[..., : a * width].reshape(out.shape[:-1] + (a, width))
    bias = out[..., a * width:]
    return act(jnp.einsum("...a,...aw->...w", action, kernel) / np.sqrt(a) + bias)


class Hyper(nn.Module):
    """(state [..., F], action [..., A]) -> [..., width]."""

    hidden: int
    width: int
    activation: str

    @nn.compact
    def __call__(self, obs, action):
        act = ACTIVATION_FNS[self.activation]
        h = act(nn.Dense(self.hidden, kernel_init=nn.initializers.orthogonal(np.sqrt(2)),
                         bias_init=nn.initializers.zeros, name="primary")(obs))
        size = action.shape[-1] * self.width + self.width
        kernel = self.param("emit_kernel", nn.initializers.lecun_normal(), (self.hidden, size))
        bias = self.param("emit_bias", nn.initializers.zeros, (size,))
        return dynamic_layer(h, action.astype(jnp.float32), kernel, bias, act)


def parse_hyper(args: list[str]) -> tuple[int, int]:
    """(primary width H, dynamic width W)."""
    if len(args) != 2:
        raise ValueError(f"hyper takes two widths (hyper:H,W: the state's layer, the generated layer), got {len(args)}")
    return parse_widths(args)


register_block("hyper", BlockDef(
    parse=parse_hyper, build=lambda args, activation: Hyper(*args, activation),
    grammar="hyper:H,W (a hypernetwork Q critic: the state's layer of H emits a layer of W applied to the action; "
            "first in --critic-net)", takes_action=True))
