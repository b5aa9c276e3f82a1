"""PPO/A2C loss terms and distributions against hand-computed values and scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from tandem.algos.ppo.losses import clipped_surrogate_loss, normalize_advantage, value_loss
from tandem.nets import distributions as D


def test_clipped_surrogate_hand_computed():
    # ratios 1.5, 0.5, 1.1 with eps=0.2 and advantages +1, +1, -2:
    #  t0: min(1.5*1, 1.2*1) = 1.2 ; t1: min(0.5, 0.8) = 0.5 ; t2: min(1.1*-2, 1.1*-2) = -2.2
    # loss = -(1.2 + 0.5 - 2.2)/3 = 0.5/3
    ratio = np.array([1.5, 0.5, 1.1])
    old = np.array([-1.0, -2.0, -0.5])
    logp = old + np.log(ratio)
    loss, kl, clipfrac = clipped_surrogate_loss(jnp.asarray(logp), jnp.asarray(old), jnp.array([1.0, 1.0, -2.0]), 0.2)
    np.testing.assert_allclose(loss, 0.5 / 3, rtol=1e-5)
    np.testing.assert_allclose(clipfrac, 2 / 3, rtol=1e-6)
    np.testing.assert_allclose(kl, np.mean((ratio - 1) - np.log(ratio)), rtol=1e-5)


def test_a2c_case_ratio_one_gives_policy_gradient():
    """With one gradient step on fresh data (ratio = 1) the clipped surrogate's gradient is the
    vanilla policy gradient -E[A grad log pi], the A2C loss."""
    adv = jnp.array([0.3, -1.2, 2.0])
    old = jnp.array([-0.7, -0.2, -1.5])
    g = jax.grad(lambda lp: clipped_surrogate_loss(lp, old, adv, 0.2)[0])(old)
    np.testing.assert_allclose(g, -adv / 3, rtol=1e-6)


def test_value_loss_plain_and_clipped():
    v, old, tgt = jnp.array([1.0, 3.0]), jnp.array([0.0, 2.9]), jnp.array([2.0, 0.0])
    # plain: 0.5 * mean((1-2)^2, (3-0)^2) = 0.5 * 5 = 2.5
    np.testing.assert_allclose(value_loss(v, old, tgt, 0.2, False), 2.5, rtol=1e-6)
    # clipped: v_clip = (0.2, 3.0) -> losses max(1, 3.24)=3.24, max(9, 9)=9 -> 0.5*mean = 3.06
    np.testing.assert_allclose(value_loss(v, old, tgt, 0.2, True), 0.5 * (3.24 + 9.0) / 2, rtol=1e-5)


def test_normalize_advantage():
    a = normalize_advantage(jnp.array([1.0, 2.0, 3.0, 6.0]))
    np.testing.assert_allclose([a.mean(), a.std()], [0.0, 1.0], atol=1e-5)


def test_categorical_against_scipy():
    logits = jnp.array([[0.1, 1.3, -0.4], [2.0, 0.0, 0.0]])
    p = np.asarray(jax.nn.softmax(logits))
    action = jnp.array([1, 0])
    np.testing.assert_allclose(D.categorical_log_prob(logits, action), np.log([p[0, 1], p[1, 0]]), rtol=1e-5)
    np.testing.assert_allclose(D.categorical_entropy(logits), [stats.entropy(p[0]), stats.entropy(p[1])], rtol=1e-5)
    samples = D.categorical_sample(jax.random.PRNGKey(0), jnp.broadcast_to(logits[0], (20000, 3)))
    np.testing.assert_allclose(np.bincount(np.asarray(samples), minlength=3) / 20000, p[0], atol=0.015)


def test_diag_gaussian_against_scipy():
    mean = jnp.array([[0.5, -1.0]])
    log_std = jnp.array([-0.3, 0.4])
    a = jnp.array([[0.1, 0.7]])
    std = np.exp(np.asarray(log_std))
    ref = stats.norm(np.asarray(mean[0]), std)
    np.testing.assert_allclose(D.gaussian_log_prob(mean, log_std, a), [ref.logpdf(np.asarray(a[0])).sum()], rtol=1e-5)
    np.testing.assert_allclose(D.gaussian_entropy(mean, log_std), [ref.entropy().sum()], rtol=1e-5)
    s = D.gaussian_sample(jax.random.PRNGKey(1), jnp.broadcast_to(mean, (20000, 2)), log_std)
    np.testing.assert_allclose(np.asarray(s).std(0), std, rtol=0.03)


def test_diag_gaussian_entropy_with_a_per_sample_log_std_against_scipy():
    """log_std [B, D]: each row's entropy from its own log_std (summing over every axis gave one number for all)."""
    mean = jnp.zeros((3, 2))
    log_std = jnp.array([[-0.3, 0.4], [0.0, 0.0], [1.0, -2.0]])
    ref = [stats.norm(0.0, np.exp(np.asarray(row))).entropy().sum() for row in log_std]
    np.testing.assert_allclose(D.gaussian_entropy(mean, log_std), ref, rtol=1e-5)
    np.testing.assert_allclose(D.gaussian_entropy(mean, log_std[0]), [ref[0]] * 3, rtol=1e-5)
    with pytest.raises(ValueError, match=r"log_std shape \(3,\) does not match expected \(3, 2\)"):
        D.gaussian_entropy(mean, jnp.zeros(3))
