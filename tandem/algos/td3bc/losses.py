"""TD3+BC's actor loss: TD3's deterministic policy gradient, normalised by the Q scale, plus behaviour cloning."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tandem.algos.td3.losses import deterministic_actor_loss
from tandem.ops.shapes import check_same_shape


def td3bc_actor_loss(q_first, pi_action, data_action, alpha: float, bc_weight=1.0):
    """-lambda * mean_b Q_1(s_b, pi(s_b)) + w * mean_{b,d} (pi(s_b) - a_b)^2, with
    lambda = alpha / mean_b |Q_1(s_b, pi(s_b))| stop-gradiented (the paper's, without an epsilon); w = bc_weight
    (1: TD3+BC's; online TD3's --bc-decay lowers it to 0). q_first: [B]; the actions: [B, A].

    Returns (loss, (lambda, the behaviour-cloning mean squared error)).
    """
    check_same_shape("td3bc_actor_loss", pi_action=pi_action, data_action=data_action)
    lam = alpha / jax.lax.stop_gradient(jnp.mean(jnp.abs(q_first)))
    bc = jnp.mean((pi_action - data_action) ** 2)
    return lam * deterministic_actor_loss(q_first) + bc_weight * bc, (lam, bc)
