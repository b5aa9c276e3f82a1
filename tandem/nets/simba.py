"""The ``simba`` block: SimbaV2's encoder (Lee et al. 2025, "Hyperspherical Normalization for Scalable Deep
Reinforcement Learning"), for actors and critics of any learner.

``simba:W[,B]``: width W (256), B residual blocks (1). Every feature vector lives on the unit hypersphere:

- embedding: the input with a constant 3 appended (so its norm is not lost), l2-normalised, a HyperDense layer
  to W, a scaler, l2-normalised;
- each block: an MLP W -> 4W -> W of HyperDense layers (a scaler and ReLU between, + 1e-8 so no vector is zero),
  l2-normalised, then a learned per-feature interpolation from the block's input towards it,
  x <- l2norm(x + alpha (mlp(x) - x)), alpha a scaler starting at 1 / (B + 1).

A HyperDense layer has no bias and a kernel [in, out] whose columns (one per output unit) are unit vectors: they
start orthogonal and normalised, and the optimizer projects them back onto the sphere after every step
(algos/learner.py, ``with_projection``). A scaler is a learned per-feature gain s * init / scale with s starting at
``scale``, SimbaV2's reparametrisation that keeps its steps in proportion (init = scale = sqrt(2 / W) for the
hidden scalers, init 1 / (B + 1) and scale 1 / sqrt(W) for alpha). The block ignores ``--activation`` (ReLU, as
published). The network's head stays tandem's linear head on the unit-norm features: SimbaV2's distributional
critic (a categorical value over fixed bins) is not built.
Parameters: (F + 1) W + W for the embedding, 8 W^2 + 5 W per block.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from tandem.nets.mlp import parse_widths
from tandem.nets.spec import BlockDef, register_block

KERNEL = "hyper_kernel"
"""The name of every HyperDense kernel: the leaves the optimizer keeps on the unit sphere."""
C_SHIFT, EXPANSION, EPS = 3.0, 4, 1e-8


def l2normalize(x, axis: int = -1):
    """x / max(||x||, 1e-8) along ``axis``."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=axis, keepdims=True), EPS)


def has_hyper_kernels(tree) -> bool:
    """Whether a parameter tree holds a HyperDense kernel."""
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return any(path and getattr(path[-1], "key", None) == KERNEL for path, _ in leaves)


class HyperDense(nn.Module):
    """[..., F] -> [..., out], no bias, unit-norm columns."""

    out: int

    @nn.compact
    def __call__(self, x):
        def init(key, shape):
            return l2normalize(nn.initializers.orthogonal(1.0)(key, shape), axis=0)

        return x @ self.param(KERNEL, init, (x.shape[-1], self.out))


class Scaler(nn.Module):
    """A per-feature gain ``s * start / scale``, s starting at ``scale`` (so the gain starts at ``start``)."""

    start: float
    scale: float

    @nn.compact
    def __call__(self, x):
        s = self.param("scaler", nn.initializers.constant(self.scale), (x.shape[-1],))
        return s * (self.start / self.scale) * x


class Simba(nn.Module):
    """[..., F] -> [..., W] on the unit sphere (see the module docstring)."""

    width: int
    blocks: int

    @nn.compact
    def __call__(self, x):
        W = self.width
        s = float(np.sqrt(2.0 / W))
        x = jnp.concatenate([x, jnp.full(x.shape[:-1] + (1,), C_SHIFT, x.dtype)], axis=-1)
        x = l2normalize(Scaler(s, s)(HyperDense(W)(l2normalize(x))))
        root = float(np.sqrt(EXPANSION))
        for _ in range(self.blocks):
            h = Scaler(s / root, s / root)(HyperDense(W * EXPANSION)(x))
            h = l2normalize(HyperDense(W)(nn.relu(h) + EPS))
            x = l2normalize(x + Scaler(1.0 / (self.blocks + 1), 1.0 / np.sqrt(W))(h - x))
        return x


def parse_simba(args: list[str]) -> tuple:
    """Width (256) and blocks (1)."""
    if len(args) > 2:
        raise ValueError(f"expected at most two arguments (width, blocks), got {len(args)}")
    widths = parse_widths(args)
    return (widths + (256, 1)[len(widths):]) if widths else (256, 1)


register_block("simba", BlockDef(
    parse=parse_simba, build=lambda args, activation: Simba(args[0], args[1]),
    grammar="simba[:W[,B]] (SimbaV2 encoder: width W=256, B=1 residual blocks on the unit sphere)"))
