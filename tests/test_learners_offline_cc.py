"""Offline continuous-control learners against independent references: TD3+BC's actor loss recomputed in numpy
and its behaviour-cloning limit; SAC-RND's bonus (small on the dataset's actions, large off them) and its
critic loss recomputed in numpy with and without the bonus; a non-finite batch reported and not applied."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tandem.algos.needs import DatasetNeeds, RunnerNeeds
from tandem.algos.sacrnd.config import SACRNDConfig
from tandem.algos.sacrnd.learner import make_learner as sacrnd_learner
from tandem.algos.td3bc.config import TD3BCConfig
from tandem.algos.td3bc.learner import make_learner as td3bc_learner
from tandem.buffers.transition import Transition
from tandem.envs.spec import EnvSpec
from tandem.errors import TandemInputError
from tandem.nets.distributions import tanh_gaussian_sample

SPEC = EnvSpec("test", "gymnasium", (3,), "continuous", action_dim=2, action_low=(-1.0, -1.0), action_high=(1.0, 1.0))
W = np.array([[1.5, -0.5], [0.3, 1.2], [-0.8, 0.4]], np.float32)
SMALL = dict(actor_net="mlp:32,32", critic_net="mlp:32,32", gamma=0.9)


def expert(obs):
    """The dataset's actions: a deterministic function of the observation, in (-1, 1)."""
    return np.tanh(obs @ W).astype(np.float32)


def dataset(n, seed=0, terminated=None):
    """n transitions whose actions are ``expert(obs)``, random rewards and successors."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    term = np.zeros(n, bool) if terminated is None else np.asarray(terminated)
    return Transition(obs, expert(obs), rng.normal(size=n).astype(np.float32), term, np.zeros(n, bool),
                      rng.normal(size=(n, 3)).astype(np.float32))


def take(data, idx):
    """The rows ``idx`` of a dataset."""
    return Transition(*(x[idx] for x in data[:6]))


def mlp_np(p, x):
    """Numpy forward of a NetworkSpec ``mlp:...`` network's flax params (ReLU hidden layers, linear head)."""
    hidden = p["params"].get("MLP_0", {})
    for name in sorted(hidden, key=lambda k: int(k.split("_")[1])):
        x = np.maximum(x @ np.asarray(hidden[name]["kernel"]) + np.asarray(hidden[name]["bias"]), 0.0)
    return x @ np.asarray(p["params"]["head"]["kernel"]) + np.asarray(p["params"]["head"]["bias"])


def member(ps, i):
    """Critic ``i`` of a stacked ensemble."""
    return jax.tree_util.tree_map(lambda x: np.asarray(x[i]), ps)


def leaves_equal(a, b):
    """Every leaf of two pytrees identical."""
    return all(np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def bonus_np(rnd, obs, action):
    """b(s, a) = ||f(s, a) - f_prior(s, a)||^2 / running std, in numpy from ``params["rnd"]``."""
    x = np.concatenate([obs, action], -1)
    err = np.sum((mlp_np(rnd["predictor"], x) - mlp_np(rnd["prior"], x)) ** 2, -1)
    return err / np.sqrt(np.asarray(rnd["rms"].var) + 1e-8)


@pytest.fixture(scope="module")
def td3bc():
    learner = td3bc_learner(TD3BCConfig(**SMALL), SPEC, 1)
    return learner, jax.jit(learner.learn)


@pytest.fixture(scope="module")
def sacrnd():
    """Learners with beta_critic 2 and 0 (the same initial state: beta does not enter init)."""
    out = {}
    for beta in (2.0, 0.0):
        learner = sacrnd_learner(SACRNDConfig(**SMALL, rnd_net="mlp:64,64", beta_critic=beta, rnd_lr=1e-3), SPEC, 1)
        out[beta] = learner, jax.jit(learner.learn)
    return out


def test_configs_need_only_a_dataset_and_params_live_where_documented(td3bc, sacrnd):
    for cfg in (TD3BCConfig(batch_size=64), SACRNDConfig(batch_size=64)):
        cfg.validate()
        assert cfg.needs == RunnerNeeds(num_envs=1, rollout_steps=1, dataset=DatasetNeeds(64))
    assert TD3BCConfig().alpha == 2.5 and TD3BCConfig().policy_delay == 2 and TD3BCConfig().target_noise == 0.2
    c = SACRNDConfig()
    assert (c.rnd_dim, c.rnd_net, c.beta_actor, c.beta_critic, c.rnd_lr) == (32, "mlp:256,256", 1.0, 1.0, 3e-4)
    assert set(td3bc[0].init(jax.random.PRNGKey(0)).params) == {"actor", "critic"}
    state = sacrnd[2.0][0].init(jax.random.PRNGKey(0))
    assert set(state.params) == {"actor", "critic", "log_alpha", "rnd"} and set(state.params["rnd"]) == {
        "predictor", "prior", "rms"}
    assert set(state.opt_state) == {"actor", "critic", "alpha", "rnd"}
    assert sacrnd[2.0][0].network_spec["rnd"] == {"torso": "mlp:64,64", "activation": "relu", "out_dim": 32,
                                                  "head_gain": 1.0}


def test_td3bc_actor_loss_matches_numpy_reference(td3bc):
    """On a step where the actor is updated (policy delay 2: the second), the actor loss is
    -lambda * mean Q_1(s, pi(s)) + mean (pi(s) - a)^2 with lambda = 2.5 / mean |Q_1(s, pi(s))|, from the initial
    actor and the critic the same step just updated (TD3's order)."""
    learner, learn = td3bc
    state = learner.init(jax.random.PRNGKey(0))
    batch = dataset(16, seed=1, terminated=[i % 5 == 0 for i in range(16)])
    skipped, m0 = learn(state, batch, jax.random.PRNGKey(1))  # step 1 of 2: critic only
    assert np.isnan(float(m0["losses/actor"])) and leaves_equal(skipped.params["actor"], state.params["actor"])
    new, m = learn(state.replace(grad_steps=jnp.int32(1)), batch, jax.random.PRNGKey(1))
    assert not leaves_equal(new.params["actor"], state.params["actor"]) and int(m["fault"]) == 0

    actor = jax.tree_util.tree_map(np.asarray, state.params["actor"])
    pi = np.tanh(mlp_np(actor, batch.obs))
    q1 = mlp_np(member(new.params["critic"], 0), np.concatenate([batch.obs, pi], -1))[:, 0]
    lam = 2.5 / np.mean(np.abs(q1))
    bc = np.mean((pi - batch.action) ** 2)
    assert float(m["charts/lambda"]) == pytest.approx(lam, rel=1e-4)
    assert float(m["losses/bc"]) == pytest.approx(bc, rel=1e-4)
    assert float(m["losses/actor"]) == pytest.approx(-lam * np.mean(q1) + bc, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("steps_before, weight", [(1, 0.75), (3, 0.25), (9, 0.0)])
def test_online_td3s_decaying_cloning_term_is_td3bcs_loss_with_a_linear_weight(steps_before, weight):
    """TD3 with --bc-decay 4: on an actor step after n gradient steps the actor loss is
    -lambda * mean Q_1(s, pi(s)) + max(0, 1 - n / 4) * mean (pi(s) - a)^2 (numpy, from the same critic)."""
    from tandem.algos.td3.config import TD3Config
    from tandem.algos.td3.learner import make_learner as td3_learner

    learner = td3_learner(TD3Config(**SMALL, bc_decay=4, policy_delay=1), SPEC, 1)
    state = learner.init(jax.random.PRNGKey(0))
    batch = dataset(16, seed=1)
    new, m = jax.jit(learner.learn)(state.replace(grad_steps=jnp.int32(steps_before)), batch, jax.random.PRNGKey(1))
    actor = jax.tree_util.tree_map(np.asarray, state.params["actor"])
    pi = np.tanh(mlp_np(actor, batch.obs))
    q1 = mlp_np(member(new.params["critic"], 0), np.concatenate([batch.obs, pi], -1))[:, 0]
    want = -2.5 / np.mean(np.abs(q1)) * np.mean(q1) + weight * np.mean((pi - batch.action) ** 2)
    assert float(m["losses/actor"]) == pytest.approx(want, rel=1e-4, abs=1e-6)
    with pytest.raises(TandemInputError, match="--bc-decay"):
        TD3BCConfig(bc_decay=5).validate()


def test_td3bc_normalises_observations_by_the_whole_datasets_statistics(td3bc):
    """data_init puts the dataset's exact mean and population variance in obs_rms; policy, act and the loss then
    see (s - mean) / sqrt(var + 1e-8): the behaviour-cloning term of a step recomputed in numpy on those."""
    learner, learn = td3bc
    data = dataset(256, seed=4)
    data = data._replace(obs=data.obs * np.array([1.0, 10.0, 100.0], np.float32) + np.float32(5.0))
    state = learner.data_init(learner.init(jax.random.PRNGKey(0)), data)
    mean, var = data.obs.astype(np.float64).mean(0), data.obs.astype(np.float64).var(0)
    np.testing.assert_allclose(state.obs_rms.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(state.obs_rms.var, var, rtol=1e-4)
    z = ((data.obs - mean) / np.sqrt(var + 1e-8)).astype(np.float32)
    actor = jax.tree_util.tree_map(np.asarray, state.params["actor"])
    pi = np.tanh(mlp_np(actor, z))
    np.testing.assert_allclose(learner.policy(state, data.obs, {})[0], pi, atol=1e-5)
    _, m = learn(state.replace(grad_steps=jnp.int32(1)), data, jax.random.PRNGKey(1))
    assert float(m["losses/bc"]) == pytest.approx(np.mean((pi - data.action) ** 2), rel=1e-4)
    off = td3bc_learner(TD3BCConfig(**SMALL, normalize_obs=False), SPEC, 1)
    assert off.init(jax.random.PRNGKey(0)).obs_rms is None
    raw = off.data_init(off.init(jax.random.PRNGKey(0)), data)
    np.testing.assert_allclose(off.policy(raw, data.obs, {})[0], np.tanh(mlp_np(actor, data.obs)), atol=1e-5)


def test_td3bc_with_tiny_alpha_clones_the_dataset_actions():
    learner = td3bc_learner(TD3BCConfig(**SMALL, alpha=1e-4, actor_lr=1e-3), SPEC, 1)
    learn = jax.jit(learner.learn)
    state = learner.init(jax.random.PRNGKey(0))
    data, rng = dataset(2048, seed=2), np.random.default_rng(0)
    held_out = np.random.default_rng(3).normal(size=(512, 3)).astype(np.float32)

    def error(s):
        return float(np.mean((np.asarray(learner.policy(s, held_out, {})[0]) - expert(held_out)) ** 2))

    untrained = error(state)
    for i in range(400):  # 200 actor steps (policy delay 2)
        state, m = learn(state, take(data, rng.integers(0, 2048, 128)), jax.random.PRNGKey(i))
    assert int(m["fault"]) == 0
    assert untrained > 0.2 and error(state) < 0.02, (untrained, error(state))


def test_rnd_bonus_is_small_on_the_dataset_actions_and_large_off_them(sacrnd):
    learner, learn = sacrnd[2.0]
    state = learner.init(jax.random.PRNGKey(0))
    data, rng = dataset(2048, seed=4), np.random.default_rng(1)
    obs = np.random.default_rng(5).normal(size=(512, 3)).astype(np.float32)  # held-out states
    uniform = np.random.default_rng(6).uniform(-1, 1, (512, 2)).astype(np.float32)

    def ratio(s):
        rnd = jax.tree_util.tree_map(np.asarray, s.params["rnd"])
        return np.mean(bonus_np(rnd, obs, uniform)) / np.mean(bonus_np(rnd, obs, expert(obs)))

    assert ratio(state) < 2.0  # untrained: no preference for the dataset's actions
    for i in range(300):
        state, m = learn(state, take(data, rng.integers(0, 2048, 128)), jax.random.PRNGKey(i))
    assert int(m["fault"]) == 0 and ratio(state) > 3.0, ratio(state)
    assert float(m["charts/bonus_random"]) > 3.0 * float(m["charts/bonus_data"])


@pytest.mark.parametrize("beta", [2.0, 0.0])
def test_sacrnd_critic_loss_matches_numpy_reference(sacrnd, beta):
    """0.5 * sum_i mean_b (Q_i(s, a) - y)^2, y = r + gamma * (1 - terminated) * (min_i Q'_i(s', a')
    - alpha * log pi(a'|s') - beta_critic * b(s', a')), a' ~ pi(.|s') from the key's first third, and b from the
    predictor and running std this same step updated."""
    learner, learn = sacrnd[beta]
    state = learner.init(jax.random.PRNGKey(0))
    batch = dataset(8, seed=7, terminated=[i == 3 for i in range(8)])
    key = jax.random.PRNGKey(11)
    new, m = learn(state, batch, key)
    assert int(m["fault"]) == 0

    p, t = jax.tree_util.tree_map(np.asarray, state.params), jax.tree_util.tree_map(np.asarray, state.target)
    mean, log_std = np.split(mlp_np(p["actor"], batch.final_obs), 2, axis=-1)
    next_a, next_logp = tanh_gaussian_sample(jax.random.split(key, 3)[0], jnp.asarray(mean),
                                             jnp.asarray(np.clip(log_std, -20.0, 2.0)))
    next_a, next_logp = np.asarray(next_a), np.asarray(next_logp)
    x_next = np.concatenate([batch.final_obs, next_a], -1)
    next_q = np.min([mlp_np(member(t["critic"], i), x_next)[:, 0] for i in range(2)], axis=0)
    b = bonus_np(jax.tree_util.tree_map(np.asarray, new.params["rnd"]), batch.final_obs, next_a)
    alpha = np.exp(p["log_alpha"])
    y = batch.reward + 0.9 * np.where(batch.terminated, 0.0, next_q - alpha * next_logp - beta * b)
    q = [mlp_np(member(p["critic"], i), np.concatenate([batch.obs, batch.action], -1))[:, 0] for i in range(2)]
    expected = 0.5 * sum(np.mean((qi - y) ** 2) for qi in q)
    assert float(m["losses/critic"]) == pytest.approx(expected, rel=1e-4)
    assert b.min() > 0  # the bonus term is really there for beta > 0


def test_a_nan_in_the_batch_is_a_fault_and_changes_nothing(td3bc, sacrnd):
    batch = dataset(16, seed=8)
    bad_obs = batch._replace(obs=batch.obs.copy())
    bad_obs.obs[3, 1] = np.nan
    bad_reward = batch._replace(reward=batch.reward.copy())
    bad_reward.reward[0] = np.nan
    learner, learn = td3bc
    state = learner.init(jax.random.PRNGKey(0)).replace(grad_steps=jnp.int32(1))  # an actor step too
    for bad in (bad_obs, bad_reward):
        new, m = learn(state, bad, jax.random.PRNGKey(0))
        assert int(m["fault"]) > 0 and leaves_equal(new, state)
    learner, learn = sacrnd[2.0]
    state = learner.init(jax.random.PRNGKey(0))
    for bad in (bad_obs, bad_reward):  # a NaN reward: the (finite) RND step is not applied either
        new, m = learn(state, bad, jax.random.PRNGKey(0))
        assert int(m["fault"]) > 0 and leaves_equal(new, state)
    new, m = learn(state, batch, jax.random.PRNGKey(0))
    assert int(m["fault"]) == 0 and not leaves_equal(new.params, state.params)
