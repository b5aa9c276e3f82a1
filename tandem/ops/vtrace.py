"""V-trace off-policy targets (Espeholt et al. 2018), with termination and truncation kept apart."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from tandem.ops.shapes import check_rank, check_same_shape


def vtrace(
    reward_t: chex.Array,
    value_t: chex.Array,
    next_value_t: chex.Array,
    terminated_t: chex.Array,
    truncated_t: chex.Array,
    log_rho_t: chex.Array,
    gamma: float,
    lam: float = 1.0,
    clip_rho: float = 1.0,
    clip_c: float = 1.0,
    clip_pg_rho: float = 1.0,
) -> tuple[chex.Array, chex.Array]:
    """V-trace targets v_s and policy-gradient advantages for one trajectory of length T.

    Args:
      reward_t:      [T] reward for the action at t.
      value_t:       [T] V(s_t) under the learner's value function.
      next_value_t:  [T] V(s_{t+1}) of the *true* successor: the final observation where the episode
                     ended at t, so a time-limit cut bootstraps from where it was cut.
      terminated_t:  [T] the successor is terminal: its value is 0.
      truncated_t:   [T] the episode was cut after t: bootstrap, but do not chain into the next episode.
      log_rho_t:     [T] log pi(a_t|s_t) - log mu(a_t|s_t), target policy over behaviour policy.
      gamma, lam:    discount, and the lambda that scales the traces (c_t = lam * min(c_bar, rho_t)).
      clip_rho, clip_c, clip_pg_rho: rho_bar, c_bar and the rho_bar of the policy-gradient term
                     (``float("inf")`` for no clipping).
    Returns:
      (vs_t, pg_advantage_t), both [T], with no gradient through them (targets):

      delta_t = rho_t * (r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)),  rho_t = min(rho_bar, ratio_t)
      vs_t - V(s_t) = delta_t + gamma * c_t * (1 - done_t) * (vs_{t+1} - V(s_{t+1}))     (paper, eq. 1)
      pg_advantage_t = min(rho_bar_pg, ratio_t) * (r_t + gamma * (1 - terminated_t) * vs'_{t+1} - V(s_t)),

    where vs'_{t+1} is vs_{t+1} inside an episode and V(s_{t+1}) where the episode ended at t or the
    trajectory does (done_t = terminated_t or truncated_t). As the paper and IMPALA's own code, the
    policy-gradient term uses vs_{t+1} for any lambda (rlax mixes in V(s_{t+1}) by 1 - lambda).
    """
    arrays = dict(reward_t=reward_t, value_t=value_t, next_value_t=next_value_t, terminated_t=terminated_t,
                  truncated_t=truncated_t, log_rho_t=log_rho_t)
    check_same_shape("vtrace", **arrays)
    check_rank("vtrace", 1, "[T] (one unbatched trajectory; vmap over environments)", **arrays)
    reward_t, value_t, next_value_t, log_rho_t = (jax.lax.stop_gradient(x) for x in
                                                  (reward_t, value_t, next_value_t, log_rho_t))
    ratio_t = jnp.exp(log_rho_t)
    rho_t = jnp.minimum(clip_rho, ratio_t)
    c_t = lam * jnp.minimum(clip_c, ratio_t)
    # where, not a multiplication by (1 - flag): a NaN/Inf value behind a masked step must not leak (0 * inf = NaN).
    boot_t = jnp.where(terminated_t, 0.0, next_value_t)
    delta_t = rho_t * (reward_t + gamma * boot_t - value_t)
    done_t = jnp.logical_or(terminated_t, truncated_t)

    def step(next_diff, xs):  # next_diff: vs_{t+1} - V(s_{t+1})
        delta, c, done = xs
        diff = delta + gamma * c * jnp.where(done, 0.0, next_diff)
        return diff, diff

    _, diff_t = jax.lax.scan(step, jnp.zeros((), value_t.dtype), (delta_t, c_t, done_t), reverse=True)
    vs_t = value_t + diff_t
    # vs'_{t+1}: the next target inside an episode, V(s_{t+1}) at an episode's end or the trajectory's.
    vs_next_t = jnp.where(done_t, next_value_t, jnp.concatenate([vs_t[1:], next_value_t[-1:]]))
    pg_advantage_t = jnp.minimum(clip_pg_rho, ratio_t) * (
        reward_t + gamma * jnp.where(terminated_t, 0.0, vs_next_t) - value_t)
    return vs_t, pg_advantage_t
