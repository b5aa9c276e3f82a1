"""DDPG/TD3/SAC pieces against independent references: TD targets (terminated vs truncated), the
tanh log-prob correction, the temperature loss, Polyak averaging, and one whole TD3 critic loss
recomputed in numpy from the learner's own parameters."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tandem.algos import get_algo, preset
from tandem.algos.offpolicy import critic_loss
from tandem.algos.sac.losses import alpha_loss, sac_actor_loss, soft_next_value
from tandem.algos.td3.losses import smoothed_target_action
from tandem.buffers.transition import Transition
from tandem.envs.spec import EnvSpec
from tandem.nets.distributions import tanh_gaussian_log_prob, tanh_gaussian_sample
from tandem.ops import polyak, td_target

SPEC = EnvSpec("Toy-v0", "gymnasium", (3,), "continuous", action_dim=2, action_low=(-2.0, -2.0),
               action_high=(2.0, 2.0), max_episode_steps=50)


def test_td_target_hand_computed_terminated_and_truncated():
    # Transition 0 ran on, 1 terminated (no bootstrap), 2 was truncated by a time limit: it bootstraps
    # from the value of its true final observation like any non-terminal transition.
    reward = jnp.array([1.0, 2.0, 3.0])
    terminated = jnp.array([False, True, False])
    next_value = jnp.array([10.0, 20.0, 30.0])
    y = td_target(reward, terminated, next_value, 0.9)
    np.testing.assert_allclose(y, [1.0 + 9.0, 2.0, 3.0 + 27.0], rtol=1e-6)
    # A terminal transition's next value never leaks in, even when it is not finite.
    y = td_target(reward, terminated, jnp.array([10.0, jnp.inf, 30.0]), 0.9)
    assert np.isfinite(np.asarray(y)).all()


def test_clipped_double_q_and_soft_value_hand_computed():
    q_next = jnp.array([[5.0, -1.0], [4.0, 2.0]])  # two critics, two transitions
    q_min = jnp.min(q_next, axis=0)
    np.testing.assert_allclose(q_min, [4.0, -1.0])
    # SAC: min Q - alpha * log pi = [4 - 0.2 * (-1.5), -1 - 0.2 * 0.5]
    np.testing.assert_allclose(soft_next_value(q_min, jnp.array([-1.5, 0.5]), 0.2), [4.3, -1.1], rtol=1e-6)
    # Ensemble critic loss: sum over critics of the mean squared error.
    q = jnp.array([[1.0, 2.0], [0.0, 4.0]])
    y = jnp.array([2.0, 2.0])
    assert float(critic_loss(q, y)) == pytest.approx((1 + 0) / 2 + (4 + 4) / 2)


def test_target_policy_smoothing_is_clipped():
    a = jnp.full((10_000, 2), 0.9)
    out = np.asarray(smoothed_target_action(a, jax.random.PRNGKey(0), 0.2, 0.5))
    assert out.max() <= 1.0 and out.min() >= 0.4 - 1e-6  # noise in [-0.5, 0.5], action clipped to [-1, 1]
    assert (out == 1.0).mean() > 0.2  # 0.9 + noise > 1 about 31% of the time
    assert np.array_equal(np.asarray(smoothed_target_action(a, jax.random.PRNGKey(0), 0.0, 0.5)), np.asarray(a))


def test_tanh_log_prob_is_a_change_of_variables():
    mean, log_std = jnp.array([0.3]), jnp.array([-0.4])
    # 1. At points: p_A(a) = p_U(atanh a) * |d atanh(a) / da|, the derivative taken numerically.
    for a in (-0.95, -0.3, 0.0, 0.5, 0.99):
        u = np.arctanh(a)
        h = 1e-6
        jac = (np.arctanh(a + h) - np.arctanh(a - h)) / (2 * h)
        sigma = np.exp(-0.4)
        p_u = np.exp(-0.5 * ((u - 0.3) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
        got = float(tanh_gaussian_log_prob(mean, log_std, jnp.array([u], jnp.float32)))
        assert got == pytest.approx(np.log(p_u * jac), abs=1e-3), a
    # 2. The density integrates to one over (-1, 1).
    u = np.linspace(-8, 8, 200_001)
    a = np.tanh(u)
    dens = np.exp(np.asarray(jax.vmap(lambda x: tanh_gaussian_log_prob(mean, log_std, x[None]))(jnp.asarray(u))))
    assert np.trapezoid(dens, a) == pytest.approx(1.0, abs=1e-3)
    # 3. Samples are in (-1, 1) and their log-probs match the formula for a 2-D action (sum over dims).
    m2, s2 = jnp.array([[0.1, -2.0]]), jnp.array([[0.0, -1.0]])
    act, logp = tanh_gaussian_sample(jax.random.PRNGKey(3), m2, s2)
    assert np.all(np.abs(np.asarray(act)) < 1)
    ref = tanh_gaussian_log_prob(m2, s2, jnp.arctanh(act))
    np.testing.assert_allclose(logp, ref, atol=2e-3)


def test_alpha_loss_sign_and_target_entropy():
    log_alpha = jnp.array(0.0)
    # Entropy (-log pi = 0.5) below the target (1.0): descending the loss must raise alpha.
    g_low = jax.grad(alpha_loss)(log_alpha, jnp.array([-0.5, -0.5]), 1.0)
    assert float(g_low) < 0
    # Entropy (3.0) above the target: alpha goes down.
    g_high = jax.grad(alpha_loss)(log_alpha, jnp.array([-3.0, -3.0]), 1.0)
    assert float(g_high) > 0
    # The default target entropy is -|A|.
    cfg, _ = preset("sac", "Pendulum-v1")
    learner = get_algo("sac").make_learner(dataclasses.replace(cfg, buffer_size=10), SPEC, 1)
    assert learner.network_spec["target_entropy"] == -2.0
    # The actor loss: alpha * log pi - min Q.
    assert float(sac_actor_loss(jnp.array([-1.0, 1.0]), jnp.array([2.0, 4.0]), 0.5)) == pytest.approx(
        ((-0.5 - 2.0) + (0.5 - 4.0)) / 2)


def test_polyak_update_hand_computed():
    target = {"w": jnp.array([1.0, 2.0]), "b": jnp.array(10.0)}
    online = {"w": jnp.array([3.0, 6.0]), "b": jnp.array(0.0)}
    out = polyak(target, online, 0.25)
    np.testing.assert_allclose(out["w"], [1.5, 3.0])
    assert float(out["b"]) == pytest.approx(7.5)
    assert np.array_equal(np.asarray(polyak(target, online, 1.0)["w"]), np.asarray(online["w"]))


def _mlp_np(p, x):
    """Plain numpy forward of a NetworkSpec "mlp:..." network's flax params (ReLU hidden layers, linear head)."""
    hidden = p["params"].get("MLP_0", {})
    for name in sorted(hidden, key=lambda k: int(k.split("_")[1])):
        x = np.maximum(x @ np.asarray(hidden[name]["kernel"]) + np.asarray(hidden[name]["bias"]), 0.0)
    return x @ np.asarray(p["params"]["head"]["kernel"]) + np.asarray(p["params"]["head"]["bias"])


@pytest.mark.parametrize("terminated,truncated", [(True, False), (False, True), (False, False)])
def test_td3_critic_loss_matches_numpy_reference(terminated, truncated):
    """A batch of one transition: the learner's critic loss equals a numpy recomputation of
    sum_i (Q_i(s, a) - [r + gamma * (1 - terminated) * min_i Q'_i(s', tanh(mu'(s')))])^2."""
    cfg, _ = preset("td3", "Pendulum-v1")
    cfg = dataclasses.replace(cfg, buffer_size=4, batch_size=8, learning_starts=0, target_noise=0.0,
                              actor_net="mlp:16,16", critic_net="mlp:16,16", gamma=0.9)
    learner = get_algo("td3").make_learner(cfg, SPEC, 1)
    state = learner.init(jax.random.PRNGKey(0))
    obs, next_obs = np.array([0.1, -0.2, 0.3], np.float32), np.array([1.0, 0.5, -0.5], np.float32)
    action, reward = np.array([0.25, -0.75], np.float32), 1.5
    # final_obs is the true successor; the next obs the agent acts on after a reset differs
    batch = Transition(obs[None], action[None], np.array([reward], np.float32), np.array([terminated]),
                       np.array([truncated]), next_obs[None])
    _, metrics = learner.learn(state, batch, jax.random.PRNGKey(1))

    p, t = jax.tree_util.tree_map(np.asarray, state.params), jax.tree_util.tree_map(np.asarray, state.target)
    critic_i = lambda ps, i: jax.tree_util.tree_map(lambda x: x[i], ps)  # noqa: E731
    next_a = np.tanh(_mlp_np(t["actor"], next_obs[None]))
    q_next = min(_mlp_np(critic_i(t["critic"], i), np.concatenate([next_obs[None], next_a], -1))[0, 0] for i in range(2))
    y = reward + (0.0 if terminated else 0.9 * q_next)
    q = [_mlp_np(critic_i(p["critic"], i), np.concatenate([obs, action])[None])[0, 0] for i in range(2)]
    expected = sum((qi - y) ** 2 for qi in q)
    assert float(metrics["losses/critic"]) == pytest.approx(expected, rel=1e-4)


def test_learning_starts_random_actions_then_policy():
    """The runner side (runners/agent.py) acts uniformly at random until learning_starts transitions are
    stored, then with the learner's act; the replay buffer is filled by the runner side, and the learner
    learns only once enough is stored."""
    from tandem.runners.agent import make_agent

    cfg, _ = preset("sac", "Pendulum-v1")
    cfg = dataclasses.replace(cfg, buffer_size=16, learning_starts=5, actor_net="mlp:8", critic_net="mlp:8")
    agent = make_agent(get_algo("sac").make_learner(cfg, SPEC, 1), cfg.needs, SPEC)
    state = agent.init(jax.random.PRNGKey(0))
    obs, key = jnp.zeros((1000, 3)), jax.random.PRNGKey(1)
    # Before learning starts: exactly the uniform draw on [-1, 1] from the act key's second half.
    uniform = jax.random.uniform(jax.random.split(key)[1], (1000, 2), jnp.float32, -1.0, 1.0)
    np.testing.assert_array_equal(agent.act(state, obs, key, {})[0], uniform)
    # From then on: the policy's own sample, not the uniform draw.
    started = agent.act(state.replace(stored=jnp.int32(5)), obs, key, {})[0]
    assert not np.allclose(started, uniform)
    rollout = Transition(np.zeros((1, 1, 3), np.float32), np.zeros((1, 1, 2), np.float32), np.zeros((1, 1), np.float32),
                         np.zeros((1, 1), bool), np.zeros((1, 1), bool), np.zeros((1, 1, 3), np.float32))
    train = jax.jit(agent.train)
    for i in range(5):
        state, m = train(state, rollout, jax.random.PRNGKey(i))
        assert np.isnan(float(m["losses/critic"])) == (i < 4), i
    assert int(state.learner.grad_steps) == 1 and int(state.replay.size) == 5 and int(state.stored) == 5


def test_learn_takes_a_batch_whatever_its_source():
    """The same gradient step serves a replay sample and a fixed dataset batch: learn never sees a buffer.
    On terminal transitions the critic regresses onto the rewards, so its loss must fall steadily."""
    cfg, _ = preset("td3", "Pendulum-v1")
    cfg = dataclasses.replace(cfg, actor_net="mlp:8", critic_net="mlp:8", policy_delay=1, critic_lr=1e-2)
    learner = get_algo("td3").make_learner(cfg, SPEC, 1)
    state = learner.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    obs, action = rng.normal(size=(32, 3)).astype(np.float32), rng.uniform(-1, 1, (32, 2)).astype(np.float32)
    reward = (obs[:, 0] + 2 * action[:, 0]).astype(np.float32)  # a function of (s, a) the critic can fit
    dataset = Transition(obs, action, reward, np.ones(32, bool), np.zeros(32, bool),
                         rng.normal(size=(32, 3)).astype(np.float32))
    learn = jax.jit(learner.learn)
    losses = []
    for i in range(200):
        state, m = learn(state, dataset, jax.random.PRNGKey(i))
        losses.append(float(m["losses/critic"]))
    assert int(state.grad_steps) == 200 and losses[-1] < 0.05 * losses[0], (losses[0], losses[-1])


def test_ou_noise_is_carried_and_reset():
    from tandem.algos.learner import reset_done

    cfg, _ = preset("ddpg", "Pendulum-v1")
    cfg = dataclasses.replace(cfg, buffer_size=4, learning_starts=0, noise_type="ou", exploration_noise=0.3,
                              actor_net="mlp:8", critic_net="mlp:8")
    learner = get_algo("ddpg").make_learner(cfg, SPEC, 1)
    state = learner.init(jax.random.PRNGKey(0))
    carry0 = learner.init_carry(3)
    assert carry0["ou"].shape == (3, 2) and not np.asarray(carry0["ou"]).any()
    carry = carry0
    for i in range(5):
        _, _, carry = learner.act(state, jnp.zeros((3, 3)), jax.random.PRNGKey(i), carry)
    assert np.asarray(carry["ou"]).all()  # the process moved
    # One OU step by hand: x' = x - theta * x * dt + sigma * sqrt(dt) * eps with the same eps.
    k = jax.random.PRNGKey(9)
    _, _, nxt = learner.act(state, jnp.zeros((3, 3)), k, carry)
    eps = jax.random.normal(k, (3, 2))
    expect = np.asarray(carry["ou"]) * (1 - 0.15 * 0.01) + 0.3 * 0.1 * np.asarray(eps)
    np.testing.assert_allclose(nxt["ou"], expect, rtol=1e-5, atol=1e-7)
    reset = reset_done(nxt, carry0, jnp.array([False, True, False]))
    assert not np.asarray(reset["ou"][1]).any() and np.array_equal(np.asarray(reset["ou"][0]), np.asarray(nxt["ou"][0]))
