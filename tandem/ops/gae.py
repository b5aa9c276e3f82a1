"""Generalised advantage estimation with termination and truncation kept apart."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from tandem.ops.shapes import check_rank, check_same_shape


def gae_advantages(
    reward_t: chex.Array,
    value_t: chex.Array,
    next_value_t: chex.Array,
    terminated_t: chex.Array,
    truncated_t: chex.Array,
    gamma: float,
    lam: float,
) -> tuple[chex.Array, chex.Array]:
    """GAE(lambda) advantages and value targets for one trajectory of length T (Schulman et al. 2016, eq. 16).

    Args:
      reward_t:      [T] reward for the action at t.
      value_t:       [T] V(s_t).
      next_value_t:  [T] V(s_{t+1}) of the *true* successor: the final observation where the
                     episode ended at t, so a time-limit cut bootstraps from where it was cut.
      terminated_t:  [T] the successor is terminal: its value is 0.
      truncated_t:   [T] the episode was cut after t: bootstrap, but do not chain into the next episode.
    Returns:
      (advantage_t, target_t) with target_t = advantage_t + value_t, both [T].

    delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)
    A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1},  done_t = terminated_t or truncated_t.
    """
    arrays = dict(reward_t=reward_t, value_t=value_t, next_value_t=next_value_t, terminated_t=terminated_t,
                  truncated_t=truncated_t)
    check_same_shape("gae_advantages", **arrays)
    check_rank("gae_advantages", 1, "[T] (one unbatched trajectory; vmap over environments)", **arrays)
    # where, not a multiplication by (1 - flag): a NaN/Inf value behind a masked step must not leak (0 * inf = NaN).
    delta_t = reward_t + gamma * jnp.where(terminated_t, 0.0, next_value_t) - value_t
    done_t = jnp.logical_or(terminated_t, truncated_t)

    def step(next_adv, xs):
        delta, done = xs
        adv = delta + gamma * lam * jnp.where(done, 0.0, next_adv)
        return adv, adv

    _, adv_t = jax.lax.scan(step, jnp.zeros((), value_t.dtype), (delta_t, done_t), reverse=True)
    return adv_t, adv_t + value_t
