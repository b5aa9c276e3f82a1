"""Non-finite values, caught where they appear: one code per source, reported by the runners.

A learner's update returns ``metrics["fault"]``: 0 when every loss and gradient of the update was
finite, else the code of the first non-finite one (LOSS, or GRADIENT when only the gradient was).
The runners add OBSERVATION and REWARD for what the environment returned, and stop the run at the
first fault, before anything from that update is saved (runners/common.py: ``nonfinite_error``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

OBSERVATION, REWARD, LOSS, GRADIENT = 1, 2, 3, 4
SOURCES = {OBSERVATION: "observation", REWARD: "reward", LOSS: "loss", GRADIENT: "gradient"}


def all_finite(tree) -> jax.Array:
    """True when every floating-point value in ``tree`` is finite (a bool scalar)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def grad_fault(loss, grads) -> jax.Array:
    """The fault code of one gradient step (int32): LOSS, else GRADIENT, else 0."""
    return jnp.where(~jnp.isfinite(loss), LOSS, jnp.where(all_finite(grads), 0, GRADIENT)).astype(jnp.int32)


def first_fault(codes) -> jax.Array:
    """The first non-zero code of a sequence of them (flattened in order), or 0."""
    codes = jnp.ravel(codes)
    return codes[jnp.argmax(codes > 0)]
