"""IQL's losses as small pure functions (the critics' squared TD error is offpolicy.critic_loss)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tandem.ops.shapes import check_same_shape


def expectile_loss(diff, expectile: float):
    """Asymmetric least squares mean_b |tau - 1(u_b < 0)| u_b^2 of u = diff (target - prediction, [B]); its
    minimiser over a constant prediction is the tau-expectile of the targets (tau 0.5: half the MSE)."""
    weight = jnp.where(diff < 0, 1.0 - expectile, expectile)
    return jnp.mean(weight * diff**2)


def awr_weights(adv, beta: float, max_weight: float):
    """min(exp(beta * adv), max_weight) [B], without a gradient: the advantage weights of the actor."""
    return jax.lax.stop_gradient(jnp.minimum(jnp.exp(beta * adv), max_weight))


def awr_actor_loss(log_prob, weights):
    """-mean_b w_b log pi(a_b|s_b): weighted maximum likelihood of the dataset's actions. log_prob, weights: [B]."""
    check_same_shape("awr_actor_loss", log_prob=log_prob, weights=weights)
    return -jnp.mean(jax.lax.stop_gradient(weights) * log_prob)
