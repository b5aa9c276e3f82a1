"""TD3/DDPG pieces beyond the shared critic loss: the smoothed target action and the actor loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tandem.ops.shapes import check_rank


def smoothed_target_action(next_action, key, noise_std: float, noise_clip: float):
    """Target policy smoothing: clip(mu'(s') + clip(N(0, std), -c, c), -1, 1). std = 0 is DDPG's plain mu'(s')."""
    if noise_std == 0.0:
        return next_action
    noise = jnp.clip(noise_std * jax.random.normal(key, next_action.shape), -noise_clip, noise_clip)
    return jnp.clip(next_action + noise, -1.0, 1.0)


def deterministic_actor_loss(q_first):
    """-Q_1(s, mu(s)) averaged over the batch (the deterministic policy gradient). q_first: [B]."""
    check_rank("deterministic_actor_loss", 1, "[B]", q_first=q_first)
    return -jnp.mean(q_first)
