"""PPO loss terms on flat minibatches [B]. A2C uses the same terms (with one epoch the ratio is 1)."""

from __future__ import annotations

import jax.numpy as jnp

from tandem.ops.shapes import check_same_shape


def clipped_surrogate_loss(log_prob, old_log_prob, advantage, clip_coef):
    """-E[min(r A, clip(r, 1-eps, 1+eps) A)], r = exp(log_prob - old_log_prob) (PPO paper, eq. 7).

    Returns (loss, approx_kl, clip_fraction); approx_kl is the low-variance estimator E[(r-1) - log r].
    log_prob, old_log_prob and advantage: one shape ([B]).
    """
    check_same_shape("clipped_surrogate_loss", log_prob=log_prob, old_log_prob=old_log_prob, advantage=advantage)
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    unclipped = ratio * advantage
    clipped = jnp.clip(ratio, 1.0 - clip_coef, 1.0 + clip_coef) * advantage
    loss = -jnp.mean(jnp.minimum(unclipped, clipped))
    approx_kl = jnp.mean((ratio - 1.0) - log_ratio)
    clip_fraction = jnp.mean((jnp.abs(ratio - 1.0) > clip_coef).astype(jnp.float32))
    return loss, approx_kl, clip_fraction


def value_loss(value, old_value, target, clip_coef, clip_vloss: bool):
    """0.5 * E[(V - target)^2]; with clip_vloss, the max with the loss of V clipped around old_value.

    value, old_value and target: one shape ([B]); a critic's [B, 1] output must be squeezed first.
    """
    check_same_shape("value_loss", value=value, old_value=old_value, target=target)
    unclipped = (value - target) ** 2
    if not clip_vloss:
        return 0.5 * jnp.mean(unclipped)
    v_clipped = old_value + jnp.clip(value - old_value, -clip_coef, clip_coef)
    return 0.5 * jnp.mean(jnp.maximum(unclipped, (v_clipped - target) ** 2))


def normalize_advantage(advantage):
    """Advantages shifted and scaled to mean 0 and std 1 over the minibatch."""
    return (advantage - advantage.mean()) / (advantage.std() + 1e-8)
