"""SAC losses beyond the shared critic loss (SB3's conventions)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tandem.ops.shapes import check_rank, check_same_shape


def soft_next_value(q_next_min, next_log_prob, alpha):
    """min_i Q'_i(s', a') - alpha * log pi(a'|s'), a' ~ pi(.|s'): the soft state value of the successor.

    q_next_min and next_log_prob: [B]; alpha: a scalar.
    """
    check_same_shape("soft_next_value", q_next_min=q_next_min, next_log_prob=next_log_prob)
    check_rank("soft_next_value", 0, "() (a scalar)", alpha=alpha)
    return q_next_min - alpha * next_log_prob


def sac_actor_loss(log_prob, q_min, alpha):
    """E[alpha * log pi(a|s) - min_i Q_i(s, a)], a ~ pi(.|s) reparameterised. log_prob, q_min: [B]; alpha: a scalar."""
    check_same_shape("sac_actor_loss", log_prob=log_prob, q_min=q_min)
    check_rank("sac_actor_loss", 0, "() (a scalar)", alpha=alpha)
    return jnp.mean(alpha * log_prob - q_min)


def alpha_loss(log_alpha, log_prob, target_entropy: float):
    """-E[log_alpha * (log pi + H_target)]: descending it raises alpha when the entropy -log pi is below
    the target and lowers it when above. log_alpha: a scalar; log_prob: [B]."""
    check_rank("alpha_loss", 0, "() (a scalar)", log_alpha=log_alpha)
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + target_entropy))
