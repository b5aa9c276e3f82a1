"""IMPALA's loss terms (Espeholt et al. 2018, section 4.2) on one shape of samples ([T, N] or [B])."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tandem.ops.shapes import check_same_shape


def impala_loss_terms(log_prob, entropy, value, vs, pg_advantage):
    """(policy loss, value loss, entropy): -E[A_pg * log pi(a|s)], 0.5 * E[(v_s - V(s))^2], E[H(pi(.|s))].

    ``vs`` and ``pg_advantage`` are V-trace's (ops/vtrace.py): targets, so no gradient flows through them;
    the policy term's gradient is A_pg * grad log pi, the value term's (V(s) - v_s) * grad V(s).
    """
    check_same_shape("impala_loss_terms", log_prob=log_prob, entropy=entropy, value=value, vs=vs,
                     pg_advantage=pg_advantage)
    vs, pg_advantage = jax.lax.stop_gradient(vs), jax.lax.stop_gradient(pg_advantage)
    pg_loss = -jnp.mean(pg_advantage * log_prob)
    v_loss = 0.5 * jnp.mean((vs - value) ** 2)
    return pg_loss, v_loss, jnp.mean(entropy)
