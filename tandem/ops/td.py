"""One-step temporal-difference targets for replay learners (DDPG, TD3, SAC).

``next_value`` is the value of the true successor observation: for a transition cut by a time
limit that is ``final_obs``, so truncation bootstraps; only ``terminated`` stops the bootstrap.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tandem.ops.shapes import check_same_shape


def td_target(reward, terminated, next_value, gamma: float):
    """r + gamma * (1 - terminated) * next_value, without a gradient. All three of one shape ([B]).

    ``jnp.where``, not a multiplication by (1 - terminated): a non-finite next value of a terminal
    transition must not leak into its target (0 * inf is NaN).
    """
    check_same_shape("td_target", reward=reward, terminated=terminated, next_value=next_value)
    return jax.lax.stop_gradient(reward + gamma * jnp.where(terminated, 0.0, next_value))


def polyak(target, online, tau: float):
    """target <- tau * online + (1 - tau) * target, leaf by leaf (each online leaf of its target's shape)."""
    def mix(t, o):
        check_same_shape("polyak", target=t, online=o)
        return (1.0 - tau) * t + tau * o

    return jax.tree_util.tree_map(mix, target, online)
