"""The ``soft_moe`` block: a Soft Mixture of Experts layer (Puigcerver et al. 2023), as "Mixtures of Experts Unlock
Parameter Scaling for Deep RL" (Obando-Ceron et al. 2024) uses it in place of the penultimate dense layer.

``soft_moe:E[,S[,D[,W]]]``: E experts, S slots per expert (1), tokens of D features (16), experts of width W (64).
The flat input [..., F] is cut into n = F / D tokens X [n, D] (after a CNN whose output is H x W x C, D = C gives
one token per position, the paper's "PerConv" tokenisation: ``nature_cnn>soft_moe:8,1,64,512``). With logits
X Phi [n, E * S] (Phi: [D, E * S]), the dispatch weights are a softmax over the tokens (each slot a convex
combination of the tokens), the combine weights a softmax over the slots (each output token a convex combination
of the slots' outputs); expert e is a dense layer of W units and the activation, applied to its S slots. Output:
the n output tokens of W features, flattened [..., n * W]. Parameters: D * E * S + E * (D * W + W). The paper's
l2 normalisation of X and Phi (for large token dimensions) is not applied.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from tandem.nets.mlp import ACTIVATION_FNS, parse_widths
from tandem.nets.spec import BlockDef, BlockInputError, register_block


def soft_moe(tokens, phi, kernel, bias, act):
    """Soft MoE of ``tokens`` [..., n, D] with ``phi`` [D, E * S], experts' ``kernel`` [E, D, W] and ``bias``
    [E, W]: (output tokens [..., n, W], dispatch weights [..., n, E * S], combine weights [..., n, E * S])."""
    experts, _, width = kernel.shape
    logits = tokens @ phi
    dispatch = jax.nn.softmax(logits, axis=-2)   # over tokens: each slot's weights sum to 1
    combine = jax.nn.softmax(logits, axis=-1)    # over slots: each token's weights sum to 1
    slots = jnp.einsum("...nm,...nd->...md", dispatch, tokens)
    slots = slots.reshape(slots.shape[:-2] + (experts, -1, slots.shape[-1]))   # [..., E, S, D]
    out = act(jnp.einsum("...esd,edw->...esw", slots, kernel) + bias[:, None, :])
    out = out.reshape(out.shape[:-3] + (-1, width))   # [..., E * S, W]
    return jnp.einsum("...nm,...mw->...nw", combine, out), dispatch, combine


class SoftMoE(nn.Module):
    """[..., F] -> [..., (F / token) * width]."""

    experts: int
    slots: int
    token: int
    width: int
    activation: str

    @nn.compact
    def __call__(self, x):
        if x.shape[-1] % self.token:
            raise BlockInputError(f"soft_moe: its input of {x.shape[-1]} features is not a whole number of tokens of "
                             f"{self.token}; give a token size D that divides it (soft_moe:E,S,D,W)")
        tokens = x.reshape(x.shape[:-1] + (-1, self.token))
        phi = self.param("phi", nn.initializers.lecun_normal(), (self.token, self.experts * self.slots))
        he = nn.initializers.variance_scaling(2.0, "fan_in", "truncated_normal", in_axis=-2, out_axis=-1,
                                              batch_axis=(0,))
        kernel = self.param("expert_kernel", he, (self.experts, self.token, self.width))
        bias = self.param("expert_bias", nn.initializers.zeros, (self.experts, self.width))
        y, _, _ = soft_moe(tokens, phi, kernel, bias, ACTIVATION_FNS[self.activation])
        return y.reshape(x.shape[:-1] + (-1,))


def parse_moe(args: list[str]) -> tuple[int, int, int, int]:
    """(experts, slots per expert, token size, expert width): the experts given, the rest defaulting to 1, 16, 64."""
    if not 1 <= len(args) <= 4:
        raise ValueError(f"soft_moe takes 1 to 4 arguments (EXPERTS[,SLOTS[,TOKEN[,WIDTH]]]), got {len(args)}")
    return parse_widths(args) + (1, 16, 64)[len(args) - 1:]


register_block("soft_moe", BlockDef(
    parse=parse_moe,
    build=lambda args, activation: SoftMoE(*args, activation),
    grammar="soft_moe:E[,S,D,W] (Soft MoE: E experts, S slots each, tokens of D features, expert width W; "
            "defaults 1, 16, 64)"))
