"""IQL against independent references: the expectile loss by hand, the value regression converging to the
expectile of its targets, one whole ``learn`` step's three losses recomputed in numpy (discrete and continuous
actions), a non-finite batch skipped and reported, and a one-step offline problem solved."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tandem.algos.iql.config import IQLConfig
from tandem.algos.iql.learner import make_learner
from tandem.algos.iql.losses import awr_actor_loss, awr_weights, expectile_loss
from tandem.buffers.transition import Transition
from tandem.envs.spec import EnvSpec, obs_struct
from tandem.errors import TandemInputError
from tandem.nets.spec import NetworkSpec, network
from tandem.ops.finite import LOSS

DISCRETE = EnvSpec("test", "gymnasium", (3,), "discrete", num_actions=4)
CONTINUOUS = EnvSpec("test", "gymnasium", (3,), "continuous", action_dim=2, action_low=(-1.0, -1.0),
                     action_high=(1.0, 1.0))
SMALL = IQLConfig(actor_net="mlp:16,16", critic_net="mlp:16,16", value_net="mlp:16,16", batch_size=32, actor_lr=1e-3,
                  critic_lr=1e-3, value_lr=1e-3, tau=0.05)  # fast enough for the offline problem below


def test_expectile_loss_hand_computed_and_half_mse_at_one_half():
    diff = jnp.array([-2.0, 0.5, 1.0])
    assert float(expectile_loss(diff, 0.7)) == pytest.approx((0.3 * 4 + 0.7 * 0.25 + 0.7 * 1) / 3, rel=1e-6)
    assert float(expectile_loss(diff, 0.5)) == pytest.approx(0.5 * float(jnp.mean(diff**2)), rel=1e-6)


def test_awr_weights_are_clipped_and_carry_no_gradient():
    adv = jnp.array([-1.0, 0.0, 1.0, 10.0])
    np.testing.assert_allclose(awr_weights(adv, 3.0, 100.0), [np.exp(-3.0), 1.0, np.exp(3.0), 100.0], rtol=1e-6)
    assert float(jax.grad(lambda a: jnp.sum(awr_weights(a, 3.0, 100.0)))(adv).sum()) == 0.0
    # The actor loss is the weighted negative log-likelihood, differentiated in the log-probs only.
    lp, w = jnp.array([-1.0, -2.0]), jnp.array([2.0, 0.5])
    assert float(awr_actor_loss(lp, w)) == pytest.approx((2.0 + 1.0) / 2)
    np.testing.assert_allclose(jax.grad(awr_actor_loss)(lp, w), -w / 2)


def test_config_ranges_and_needs():
    cfg = IQLConfig()
    assert (cfg.expectile, cfg.beta, cfg.max_weight, cfg.gamma, cfg.tau, cfg.batch_size) == (0.7, 3.0, 100.0, 0.99,
                                                                                             0.005, 256)
    assert cfg.needs.dataset.batch_size == 256 and cfg.needs.replay is None
    cfg.validate()
    for bad in (dict(expectile=1.0), dict(expectile=0.0), dict(beta=0.0), dict(max_weight=-1.0), dict(gamma=1.0),
                dict(distribution="beta")):
        with pytest.raises(TandemInputError):
            dataclasses.replace(cfg, **bad).validate()


def numpy_expectile(x, tau):
    """The tau-expectile of a sample: the root of sum_i |tau - 1(x_i < m)| (x_i - m), by bisection."""
    lo, hi = float(x.min()), float(x.max())
    for _ in range(100):
        m = 0.5 * (lo + hi)
        g = np.sum(np.where(x < m, 1.0 - tau, tau) * (x - m))
        lo, hi = (m, hi) if g > 0 else (lo, m)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("tau", [0.5, 0.9])
def test_value_regression_converges_to_the_expectile(tau):
    targets = np.random.default_rng(0).exponential(1.0, 512).astype(np.float32)  # skewed: expectiles apart
    value = network(NetworkSpec.from_text("mlp:16", "relu", 1, 1.0), (3,))
    obs = jnp.ones((512, 3))  # one state: V(s) is one number, the minimiser of the loss over constants
    params = value.init(jax.random.PRNGKey(0), obs)
    tx = optax.adam(3e-2)

    def step(carry, _):
        p, o = carry
        grads = jax.grad(lambda p: expectile_loss(jnp.asarray(targets) - value.apply(p, obs)[:, 0], tau))(p)
        upd, o = tx.update(grads, o, p)
        return (optax.apply_updates(p, upd), o), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=1500)
    expected = numpy_expectile(targets.astype(np.float64), tau)
    if tau == 0.5:
        assert expected == pytest.approx(targets.mean(), rel=1e-5)
    assert float(value.apply(params, obs[:1])[0, 0]) == pytest.approx(expected, abs=1e-2)


def random_batch(spec, key, B=32):
    ko, ka, kr, kt, kf = jax.random.split(key, 5)
    action = (jax.random.randint(ka, (B,), 0, spec.num_actions) if spec.action_kind == "discrete"
              else jax.random.uniform(ka, (B, spec.action_dim), minval=-0.99, maxval=0.99))
    return Transition(jax.random.normal(ko, (B, 3)), action, jax.random.normal(kr, (B,)),
                      jax.random.bernoulli(kt, 0.3, (B,)), jnp.zeros((B,), bool), jax.random.normal(kf, (B, 3)))


@pytest.fixture(scope="module")
def learners():
    """kind -> (cfg, spec, learner, jitted learn, initial state, batch), built once per kind (each compiles once)."""
    cache = {}

    def build(kind):
        if kind not in cache:
            spec = DISCRETE if kind == "discrete" else CONTINUOUS
            cfg = SMALL if kind == "discrete" else dataclasses.replace(SMALL, distribution=kind)
            learner = make_learner(cfg, spec, 1)
            state = jax.jit(learner.init)(jax.random.PRNGKey(1))
            cache[kind] = cfg, spec, learner, jax.jit(learner.learn), state, random_batch(spec, jax.random.PRNGKey(2))
        return cache[kind]

    return build


@pytest.fixture(params=["discrete", "gaussian", "tanh_gaussian"])
def built(request, learners):
    """One action space / actor distribution of ``learners``."""
    return learners(request.param)


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_one_learn_step_matches_numpy(built):
    cfg, spec, learner, learn, state, batch = built
    new, m = learn(state, batch, jax.random.PRNGKey(3))
    assert int(m["fault"]) == 0 and int(new.grad_steps) == 1
    ns = learner.network_spec
    assert ns["distribution"] == ("categorical" if spec.action_kind == "discrete" else cfg.distribution)
    actor, critic, value = (network(NetworkSpec.from_dict(ns[k]), obs_struct(spec))
                            for k in ("actor", "critic", "value"))
    obs, a = batch.obs, batch.action
    r, term = np.asarray(batch.reward, np.float64), np.asarray(batch.terminated, np.float64)
    f64 = lambda x: np.asarray(x, np.float64)  # noqa: E731

    def q_all(cp):  # [E, B]
        if spec.action_kind == "discrete":
            out = f64(jax.vmap(critic.apply, in_axes=(0, None))(cp, obs))
            return out[:, np.arange(len(a)), np.asarray(a)]
        return f64(jax.vmap(critic.apply, in_axes=(0, None, None))(cp, obs, a))[..., 0]

    q_target = q_all(state.target["critic"]).min(0)
    u = q_target - f64(value.apply(state.params["value"], obs))[:, 0]
    value_loss = np.mean(np.where(u < 0, 1 - cfg.expectile, cfg.expectile) * u**2)
    # The critics and the actor see the value network after its step (the paper's code order).
    v1 = lambda o: f64(value.apply(new.params["value"], o))[:, 0]  # noqa: E731
    y = r + cfg.gamma * (1 - term) * v1(batch.final_obs)
    critic_loss = np.sum(np.mean((q_all(state.params["critic"]) - y) ** 2, axis=1))
    adv = q_target - v1(obs)
    w = np.minimum(np.exp(cfg.beta * adv), cfg.max_weight)
    out = f64(actor.apply(state.params["actor"]["net"], obs))
    if spec.action_kind == "discrete":
        logp = log_softmax(out)[np.arange(len(a)), np.asarray(a)]
    else:
        x = f64(a)
        if cfg.distribution == "gaussian":
            mean, log_std = out, np.clip(f64(state.params["actor"]["log_std"]), -5.0, 2.0)
        else:
            mean, log_std = out[:, :2], np.clip(out[:, 2:], -20.0, 2.0)
            x = np.arctanh(x)
        logp = np.sum(-0.5 * ((x - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * np.log(2 * np.pi), axis=-1)
        if cfg.distribution == "tanh_gaussian":
            logp -= np.sum(np.log(1 - f64(a) ** 2), axis=-1)
    actor_loss = -np.mean(w * logp)
    for name, ref in [("value_loss", value_loss), ("critic_loss", critic_loss), ("actor_loss", actor_loss),
                      ("adv_mean", adv.mean()), ("weight_mean", w.mean())]:
        assert float(m[name]) == pytest.approx(ref, rel=1e-4, abs=1e-5), name
    # Polyak targets from the stepped critics; every network stepped.
    jax.tree_util.tree_map(lambda t, t0, c: np.testing.assert_allclose(t, (1 - cfg.tau) * t0 + cfg.tau * c, rtol=1e-5,
                                                                       atol=1e-7),
                           new.target["critic"], state.target["critic"], new.params["critic"])
    for k in ("actor", "critic", "value"):
        same = jax.tree_util.tree_map(np.array_equal, new.params[k], state.params[k])
        assert not all(jax.tree_util.tree_leaves(same)), k


def test_a_nan_in_the_batch_is_reported_and_skipped(built):
    _, _, _, learn, state, batch = built
    new, m = learn(state, batch._replace(reward=batch.reward.at[0].set(jnp.nan)), jax.random.PRNGKey(3))
    assert int(m["fault"]) == LOSS
    for x, y in zip(jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(state)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_act_and_policy_are_canonical(built):
    _, spec, learner, _, state, batch = built
    action, extras, _ = learner.act(state, batch.obs, jax.random.PRNGKey(4), {})
    greedy, _ = learner.policy(state, batch.obs, {})
    if spec.action_kind == "discrete":
        assert action.shape == greedy.shape == (32,)
        assert ((0 <= np.asarray(action)) & (np.asarray(action) < 4)).all()
    else:
        assert action.shape == greedy.shape == (32, 2)
        assert np.abs(np.asarray(action)).max() <= 1.0 and np.abs(np.asarray(greedy)).max() <= 1.0
    assert extras == {}


def test_a_one_step_offline_problem_is_solved(learners):
    # A bandit: uniformly random behaviour actions, reward 1 for action 2 only, every step terminal.
    rng = np.random.default_rng(0)
    n = 1024
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    action = rng.integers(0, 4, n).astype(np.int32)
    data = Transition(obs, action, (action == 2).astype(np.float32), np.ones(n, bool), np.zeros(n, bool), obs)
    assert abs(np.mean(action == 2) - 0.25) < 0.05  # behaviour cloning would give action 2 a quarter, not all
    _, _, learner, learn, state, _ = learners("discrete")  # the compiled step of the other tests
    greedy = jax.jit(lambda s: learner.policy(s, obs, {})[0])
    assert np.mean(np.asarray(greedy(state)) == 2) < 0.95  # the initial (and a cloned, uniform) policy does not
    faults = []
    for i in range(400):
        idx = rng.integers(0, n, 32)
        state, m = learn(state, jax.tree_util.tree_map(lambda x: x[idx], data), jax.random.PRNGKey(i))
        faults.append(m["fault"])
    assert int(np.max(faults)) == 0
    assert np.mean(np.asarray(greedy(state)) == 2) >= 0.95
