"""IMPALA's loss and learner against independent references: hand-computed terms, and A2C's own GAE
learner in the on-policy limit, where V-trace's targets are the lambda-returns."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tandem.algos.impala.config import IMPALA_DEFAULTS, IMPALAConfig
from tandem.algos.impala.learner import make_learner as impala_learner
from tandem.algos.impala.losses import impala_loss_terms
from tandem.algos.ppo.config import A2C_DEFAULTS, PPOConfig
from tandem.algos.ppo.learner import make_learner as ppo_learner
from tandem.buffers.transition import Transition
from tandem.envs import env_spec

T, N = 6, 3


def test_impala_loss_terms_hand_computed():
    # pg: -mean(A * logp) = -(2 * -0.5 + -1 * -1.0) / 2 = 0; value: 0.5 * mean((1 - 0)^2, (3 - 1)^2) = 1.25
    lp, adv = jnp.array([-0.5, -1.0]), jnp.array([2.0, -1.0])
    pg, v, ent = impala_loss_terms(lp, jnp.array([0.3, 0.5]), jnp.array([0.0, 1.0]), jnp.array([1.0, 3.0]), adv)
    np.testing.assert_allclose([pg, v, ent], [0.0, 1.25, 0.4], atol=1e-7)
    # The targets pass no gradient: d/dlogp = -A/2, d/dV = (V - vs)/2.
    g_lp = jax.grad(lambda x: impala_loss_terms(x, lp, lp, lp, adv)[0])(lp)
    np.testing.assert_allclose(g_lp, -adv / 2, rtol=1e-6)
    g_adv = jax.grad(lambda a: impala_loss_terms(lp, lp, lp, lp, a)[0])(adv)
    np.testing.assert_allclose(g_adv, 0.0)


def batch_from_policy(learner, state, spec, key, behaviour_shift=0.0):
    """A [T, N] batch with episode cuts, its actions drawn from the learner's own policy and their
    log-probabilities (shifted by behaviour_shift: a different behaviour policy) in the extras."""
    k_obs, k_final, k_act, k_r = jax.random.split(key, 4)
    obs = jax.random.normal(k_obs, (T, N) + spec.obs_shape)
    final = jnp.concatenate([obs[1:], jax.random.normal(k_final, (1, N) + spec.obs_shape)])
    action, extras, _ = learner.act(state, obs.reshape((T * N,) + spec.obs_shape), k_act, {})
    action, log_prob = action.reshape(T, N), extras["log_prob"].reshape(T, N)
    term = np.zeros((T, N), bool)
    trunc = np.zeros((T, N), bool)
    term[2, 0], trunc[3, 1], term[5, 2] = True, True, True
    final = final.at[3, 1].set(jnp.ones(spec.obs_shape))  # the truncated episode's own final observation
    return Transition(obs, action, jax.random.normal(k_r, (T, N)), jnp.asarray(term), jnp.asarray(trunc), final,
                      {"log_prob": log_prob + behaviour_shift})


def test_impala_on_policy_step_equals_a2c_with_lambda_one():
    """Lag 0 (ratios 1), lambda 1: V-trace's targets are the Monte-Carlo-bootstrapped returns and its advantages
    G_t - V(s_t), so one IMPALA step equals one step of A2C (GAE with lambda 1, no advantage normalisation,
    one epoch of one minibatch) with the same optimizer: the same parameters, computed by another estimator."""
    spec = env_spec("CartPole-v1")
    # RMSprop with a large eps (outside the square root): nearly plain SGD, so float32 rounding in the two
    # estimators is not amplified in the tiniest gradient entries as a normalising step would.
    common = dict(num_envs=N, num_steps=T, lr=1.0, optimizer="rmsprop", opt_eps=10.0, max_grad_norm=0.0,
                  ent_coef=0.01, vf_coef=0.5, anneal_lr=False, gamma=0.9)
    impala = impala_learner(IMPALAConfig(**{**IMPALA_DEFAULTS, **common}), spec, 10)
    a2c = ppo_learner(PPOConfig(**{**A2C_DEFAULTS, **common, "gae_lambda": 1.0}), spec, 10)
    s_imp, s_a2c = impala.init(jax.random.PRNGKey(0)), a2c.init(jax.random.PRNGKey(0))
    batch = batch_from_policy(impala, s_imp, spec, jax.random.PRNGKey(1))
    for _ in range(2):  # the second step starts off-policy for neither: a fresh batch from the new policy
        s_imp, m_imp = jax.jit(impala.learn)(s_imp, batch, jax.random.PRNGKey(2))
        s_a2c, m_a2c = jax.jit(a2c.learn)(s_a2c, batch, jax.random.PRNGKey(2))
        for a, b in zip(jax.tree_util.tree_leaves(s_imp.params), jax.tree_util.tree_leaves(s_a2c.params)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(m_imp["losses/value"], m_a2c["losses/value"], rtol=1e-5)
        np.testing.assert_allclose(m_imp["vtrace/rho_mean"], 1.0, rtol=1e-6)
        batch = batch_from_policy(impala, s_imp, spec, jax.random.PRNGKey(3))


def test_impala_off_policy_weights_and_clipping_act():
    """A behaviour policy less likely than the learner's (log mu = log pi - 1): every ratio is e > clip_rho, so
    the truncated weights are 1 and the step equals the on-policy one; with clip_rho = clip_pg_rho = e, they differ."""
    spec = env_spec("CartPole-v1")
    cfg = IMPALAConfig(**{**IMPALA_DEFAULTS, "num_envs": N, "num_steps": T})
    learner = impala_learner(cfg, spec, 10)
    state = learner.init(jax.random.PRNGKey(0))
    on = batch_from_policy(learner, state, spec, jax.random.PRNGKey(1))
    off = on._replace(extras={"log_prob": on.extras["log_prob"] - 1.0})
    s_on, _ = learner.learn(state, on, None)
    s_off, m_off = learner.learn(state, off, None)
    np.testing.assert_allclose(m_off["vtrace/rho_mean"], np.e, rtol=1e-5)
    np.testing.assert_allclose(m_off["vtrace/rho_clipfrac"], 1.0)
    for a, b in zip(jax.tree_util.tree_leaves(s_on.params), jax.tree_util.tree_leaves(s_off.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    loose = impala_learner(dataclasses.replace(cfg, clip_rho=np.e + 1, clip_c=np.e + 1, clip_pg_rho=np.e + 1), spec, 10)
    s_loose, _ = loose.learn(state, off, None)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(jax.tree_util.tree_leaves(s_on.params),
                                                             jax.tree_util.tree_leaves(s_loose.params)))
    assert diff > 1e-6


@pytest.mark.parametrize("flag, value", [("clip_rho", 0.0), ("vtrace_lambda", 1.5), ("clip_c", -1.0)])
def test_impala_rejects_out_of_range(flag, value):
    from tandem.errors import TandemInputError

    with pytest.raises(TandemInputError, match=flag.replace("_", "-")):
        IMPALAConfig(**{flag: value}).validate()
