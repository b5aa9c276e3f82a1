"""MLP torso + linear head, built from an :class:`MLPSpec` (plain data: saved in checkpoints, searchable)."""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "gelu": nn.gelu, "silu": nn.silu, "elu": nn.elu}


@dataclasses.dataclass(frozen=True)
class MLPSpec:
    """hidden: widths of the hidden layers; activation: one of ACTIVATIONS; head_gain: orthogonal
    init scale of the output layer (0.01 for a policy head keeps the first policy near uniform)."""

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    head_gain: float = 1.0

    def to_dict(self) -> dict:
        return {"hidden": list(self.hidden), "activation": self.activation, "head_gain": self.head_gain}


class MLP(nn.Module):
    spec: MLPSpec
    out_dim: int

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.spec.activation]
        for width in self.spec.hidden:
            x = act(nn.Dense(width, kernel_init=nn.initializers.orthogonal(np.sqrt(2)), bias_init=nn.initializers.zeros)(x))
        return nn.Dense(self.out_dim, kernel_init=nn.initializers.orthogonal(self.spec.head_gain),
                        bias_init=nn.initializers.zeros)(x)


def flatten_obs(obs: jnp.ndarray, obs_ndim: int) -> jnp.ndarray:
    """[..., *obs_shape] -> [..., prod(obs_shape)] so an MLP takes any Box observation."""
    lead = obs.shape[: obs.ndim - obs_ndim]
    return obs.reshape(lead + (-1,))


def ensemble_init(module: MLP, key, n: int, x) -> dict:
    """Parameters of ``n`` independently initialised copies of ``module``, stacked on a leading axis.

    Initialised one after the other (``lax.map``), never vmapped: a vmapped orthogonal initialiser
    batches its QR decomposition, which was seen to deadlock XLA's CPU thread pool.
    """
    import jax

    return jax.lax.map(lambda k: module.init(k, x), jax.random.split(key, n))


def ensemble_apply(module: MLP, params, x):
    """Apply every member of an ensemble to the same input: [n, ..., out_dim]."""
    import jax

    return jax.vmap(module.apply, in_axes=(0, None))(params, x)
