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


def test_gsde_noise_variance_matches_its_log_std_by_monte_carlo_and_by_hand():
    """gSDE: noise = features @ (exp(log_std) * eps), eps ~ N(0, 1) [F, D]; given the features it is
    Gaussian with variance features^2 @ exp(log_std)^2 (+1e-6). Checked by hand and over 200k matrices."""
    feat = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, 0.0]], np.float32)  # [N=2, F=3]
    log_std = np.log(np.array([[1.0, 0.5], [2.0, 1.0], [0.1, 0.2]], np.float32))  # [F, D=2]
    var = feat**2 @ np.exp(2 * log_std) + 1e-6  # row 0: [0.25+4+0.04, 0.0625+1+0.16]; row 1: [0.36, 0.09]
    np.testing.assert_allclose(var[1], [0.09 * 4, 0.09 * 1], rtol=1e-4)
    np.testing.assert_allclose(np.exp(2 * np.asarray(D.sde_log_std(jnp.asarray(feat), jnp.asarray(log_std)))), var,
                               rtol=1e-5)
    n = 200_000
    eps = jax.random.normal(jax.random.PRNGKey(0), (n, 3, 2))
    noise = np.asarray(D.sde_noise(jnp.broadcast_to(jnp.asarray(feat[0]), (n, 3)), jnp.asarray(log_std), eps))
    np.testing.assert_allclose(noise.var(axis=0), var[0], rtol=0.02)
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=0.02)
    # The action's log-probability under that variance is the Gaussian's (scipy).
    mean, action = np.array([0.1, -0.2], np.float32), np.array([0.7, 0.4], np.float32)
    lp = D.gaussian_log_prob(jnp.asarray(mean), D.sde_log_std(jnp.asarray(feat[0]), jnp.asarray(log_std)),
                             jnp.asarray(action))
    np.testing.assert_allclose(lp, stats.norm(mean, np.sqrt(var[0])).logpdf(action).sum(), rtol=1e-5)
    with pytest.raises(ValueError, match=r"log_std \[F, D\]"):
        D.sde_log_std(jnp.asarray(feat), jnp.zeros((2,)))


def _sde_learner(**kw):
    import dataclasses

    from tandem.algos import preset
    from tandem.algos.ppo.learner import make_learner
    from tandem.envs.registry import backend_of

    cfg = dataclasses.replace(preset("ppo", "Pendulum-v1")[0], num_envs=3, num_steps=8, use_sde=True, **kw)
    spec = backend_of("Pendulum-v1").spec("Pendulum-v1")
    return cfg, spec, make_learner(cfg, spec, 10)


def test_gsde_act_holds_its_noise_for_the_sample_freq_and_scores_what_the_loss_scores():
    """The noise weights are drawn at age 0 (start, and after reset_done at an episode end) and every
    --sde-sample-freq steps, held in between; act's log-probability is the one the loss recomputes;
    the deterministic policy is the mean."""
    from tandem.algos.learner import reset_done

    cfg, spec, learner = _sde_learner(sde_sample_freq=3)
    state = learner.init(jax.random.PRNGKey(0))
    assert state.params["actor"]["log_std"].shape == (64, 1)  # [features of mlp:64,64, actions]
    carry = learner.init_carry(3)
    obs = jax.random.normal(jax.random.PRNGKey(1), (3, 3))
    draws = []
    for t in range(7):
        action, extras, carry = learner.act(state, obs, jax.random.PRNGKey(100 + t), carry)
        draws.append(np.asarray(carry["sde_eps"]))
        if t == 4:  # env 1's episode ends after this step: its weights are drawn again at the next one
            carry = reset_done(carry, learner.init_carry(3), jnp.array([False, True, False]))
    def drawn_at(env):
        return [t for t in range(1, 7) if not np.array_equal(draws[t][env], draws[t - 1][env])]

    assert drawn_at(0) == [3, 6] and drawn_at(2) == [3, 6]  # (and at 0) every 3 steps
    assert drawn_at(1) == [3, 5]  # and at its new episode's first step; its age restarts there
    mean, _ = learner.policy(state, obs, carry)
    assert not np.allclose(np.asarray(action), np.asarray(mean))  # the noise is not zero
    # The same log-probability through the loss's path (the per-sample log std of the features).
    from tandem.nets.spec import NetworkSpec, network

    actor = network(NetworkSpec.from_text(cfg.actor_net, cfg.activation, 1, 0.01), (3,))
    m, feat = actor.apply(state.params["actor"]["net"], obs, features=True)
    np.testing.assert_allclose(np.asarray(mean), np.asarray(m), rtol=1e-6)
    expected = D.gaussian_log_prob(m, D.sde_log_std(feat, state.params["actor"]["log_std"]), action)
    np.testing.assert_allclose(np.asarray(extras["log_prob"]), np.asarray(expected), rtol=1e-5)
    noise = D.sde_noise(feat, state.params["actor"]["log_std"], carry["sde_eps"])
    np.testing.assert_allclose(np.asarray(action), np.asarray(m + noise), rtol=1e-5, atol=1e-6)


def test_a2c_gradient_then_apply_equals_learn():
    """The A3C seam: ``apply_gradient(gradient(batch))`` is A2C's ``learn`` split in two (one step on the whole
    batch), and PPO with epochs has no such split."""
    from tandem.algos.ppo.config import A2C_DEFAULTS, PPOConfig
    from tandem.algos.ppo.learner import make_learner
    from tandem.envs import env_spec
    from tests.test_learners_impala import N, T, batch_from_policy

    spec = env_spec("CartPole-v1")
    learner = make_learner(PPOConfig(**{**A2C_DEFAULTS, "num_envs": N, "num_steps": T}), spec, 10)
    state = learner.init(jax.random.PRNGKey(0))
    batch = batch_from_policy(learner, state, spec, jax.random.PRNGKey(1))
    learned, m_learn = jax.jit(learner.learn)(state, batch, jax.random.PRNGKey(2))
    grads, m_grad = jax.jit(learner.gradient)(state, batch, jax.random.PRNGKey(2))
    applied = jax.jit(learner.apply_gradient)(state, grads)
    for a, b in zip(jax.tree_util.tree_leaves(learned.params), jax.tree_util.tree_leaves(applied.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m_learn["losses/value"], m_grad["losses/value"], rtol=1e-6)
    assert int(m_grad["fault"]) == 0
    ppo = make_learner(PPOConfig(num_envs=N, num_steps=T, num_minibatches=2), spec, 10)
    assert ppo.gradient is None and ppo.apply_gradient is None


def test_critic_warmup_holds_the_actor_exactly_for_its_updates_while_the_critic_learns():
    """--critic-warmup 3 with 2 epochs x 2 minibatches: 12 gradient steps move only the critic (the actor's
    parameters are bit-identical), the 4th update moves the actor too; without warm-up the first update does."""
    from tandem.algos.ppo.config import PPOConfig
    from tandem.algos.ppo.learner import make_learner
    from tandem.envs import env_spec
    from tests.test_learners_impala import N, T, batch_from_policy

    spec = env_spec("CartPole-v1")
    kw = dict(num_envs=N, num_steps=T, num_minibatches=2, update_epochs=2)
    learner = make_learner(PPOConfig(**kw, critic_warmup=3), spec, 10)
    plain = make_learner(PPOConfig(**kw), spec, 10)
    state = learner.init(jax.random.PRNGKey(0))
    batch = batch_from_policy(learner, state, spec, jax.random.PRNGKey(1))
    learn = jax.jit(learner.learn)
    leaves = lambda tree: [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]   # noqa: E731
    actor0, critic0 = leaves(state.params["actor"]), leaves(state.params["critic"])
    s = state
    for k in range(3):
        s, _ = learn(s, batch, jax.random.PRNGKey(10 + k))
        assert all(np.array_equal(a, b) for a, b in zip(leaves(s.params["actor"]), actor0))
    assert not any(np.array_equal(a, b) for a, b in zip(leaves(s.params["critic"]), critic0))
    s, _ = learn(s, batch, jax.random.PRNGKey(13))
    assert not all(np.array_equal(a, b) for a, b in zip(leaves(s.params["actor"]), actor0))
    p = plain.init(jax.random.PRNGKey(0))
    p, _ = jax.jit(plain.learn)(p, batch, jax.random.PRNGKey(10))
    assert not all(np.array_equal(a, b) for a, b in zip(leaves(p.params["actor"]), actor0))
