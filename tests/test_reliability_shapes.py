"""Wrong shapes raise at trace time, naming expected and actual shapes, instead of broadcasting.

JAX would silently turn a [B] reward plus a [B, 1] value into [B, B]; every check here is fed one
deliberately mis-shaped input (under ``jax.eval_shape``, so only tracing runs) and must name both shapes.
"""

from __future__ import annotations

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tandem.algos import get_algo, preset
from tandem.algos.offpolicy import Networks, critic_loss
from tandem.algos.ppo.losses import clipped_surrogate_loss, value_loss
from tandem.algos.sac.losses import alpha_loss, sac_actor_loss, soft_next_value
from tandem.algos.td3.losses import deterministic_actor_loss
from tandem.buffers.replay import replay_add, replay_init
from tandem.envs.spec import EnvSpec
from tandem.errors import TandemRuntimeError
from tandem.ops import gae_advantages, polyak, td_target

B = 5
VEC, COL = jnp.zeros((B,)), jnp.zeros((B, 1))
FLAGS = jnp.zeros((B,), bool)


def raises_naming(exc, *shapes):
    """pytest.raises for ``exc`` whose message contains every given shape (as Python prints it)."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(str(s))})" for s in shapes))


def traced(fn, *args):
    """Trace ``fn`` (no compilation, no run): shapes are static, so the checks fire here."""
    return jax.eval_shape(fn, *args)


# --- targets and losses -------------------------------------------------------------------------


def test_td_target_refuses_a_column_next_value():
    with raises_naming(ValueError, (B,), (B, 1), "next_value"):
        traced(lambda r, d, v: td_target(r, d, v, 0.99), VEC, FLAGS, COL)
    with raises_naming(ValueError, (B,), (B, 1), "terminated"):
        td_target(VEC, jnp.zeros((B, 1), bool), VEC, 0.99)  # eagerly too
    assert traced(lambda r, d, v: td_target(r, d, v, 0.99), VEC, FLAGS, VEC).shape == (B,)


def test_critic_loss_refuses_an_unsqueezed_ensemble_output():
    with raises_naming(ValueError, (2, B, 1), (B,)):
        traced(critic_loss, jnp.zeros((2, B, 1)), VEC)
    with raises_naming(ValueError, (B, 1)):  # the target itself a column
        traced(critic_loss, jnp.zeros((2, B)), COL)
    with raises_naming(ValueError, (2, B + 1), (B,)):
        traced(critic_loss, jnp.zeros((2, B + 1)), VEC)
    assert traced(critic_loss, jnp.zeros((2, B)), VEC).shape == ()


def test_networks_q_checks_action_and_squeezes_explicitly():
    spec = EnvSpec("Toy-v0", "gymnasium", (3,), "continuous", action_dim=2, action_low=(-1.0, -1.0),
                   action_high=(1.0, 1.0))
    cfg, _ = preset("sac", "Pendulum-v1")
    nets = Networks(dataclasses.replace(cfg, critic_net="mlp:4", actor_net="mlp:4"), spec, 4)
    params = jax.eval_shape(nets.init, jax.random.PRNGKey(0))
    obs, action = jnp.zeros((B, 3)), jnp.zeros((B, 2))
    assert traced(nets.q, params["critic"], obs, action).shape == (2, B)
    with raises_naming(ValueError, (B, 1), (B, 2)):
        traced(nets.q, params["critic"], obs, jnp.zeros((B, 1)))
    with raises_naming(ValueError, (B + 1, 2), (B, 2)):
        traced(nets.q, params["critic"], obs, jnp.zeros((B + 1, 2)))


def test_sac_and_td3_losses_refuse_mixed_shapes():
    with raises_naming(ValueError, (B,), (B, 1)):
        traced(lambda q, lp: soft_next_value(q, lp, 0.2), VEC, COL)
    with raises_naming(ValueError, (B,), (B, 1)):
        traced(lambda lp, q: sac_actor_loss(lp, q, 0.2), VEC, COL)
    with raises_naming(ValueError, "alpha", (B,)):  # a per-sample alpha would broadcast too
        traced(lambda lp, q, a: sac_actor_loss(lp, q, a), VEC, VEC, VEC)
    with raises_naming(ValueError, "log_alpha", (1,)):
        traced(lambda la, lp: alpha_loss(la, lp, -1.0), jnp.zeros((1,)), VEC)
    with raises_naming(ValueError, (B, 1), "[B]"):
        traced(deterministic_actor_loss, COL)


def test_ppo_losses_refuse_mixed_shapes():
    with raises_naming(ValueError, (B,), (B, 1), "advantage"):
        traced(lambda lp, old, adv: clipped_surrogate_loss(lp, old, adv, 0.2), VEC, VEC, COL)
    with raises_naming(ValueError, (B,), (B, 1), "value"):
        traced(lambda v, old, t: value_loss(v, old, t, 0.2, True), COL, VEC, VEC)


def test_gae_refuses_a_column_value():
    gae = lambda r, v, nv: gae_advantages(r, v, nv, FLAGS, FLAGS, 0.99, 0.95)  # noqa: E731
    with raises_naming(ValueError, (B, 1), (B,), "value_t"):
        traced(gae, VEC, COL, VEC)
    with raises_naming(ValueError, (B, 1), "[T]"):  # all of one shape, but not one trajectory
        traced(lambda x: gae_advantages(x, x, x, x > 0, x > 0, 0.99, 0.95), COL)
    with raises_naming(ValueError, (B,), (B + 1,)):
        traced(gae, VEC, VEC, jnp.zeros((B + 1,)))


def test_polyak_refuses_leaves_of_other_shapes():
    with raises_naming(ValueError, (3,), (3, 1)):
        polyak({"w": jnp.zeros((3,))}, {"w": jnp.zeros((3, 1))}, 0.5)


def test_offpolicy_training_call_refuses_a_column_reward():
    """The whole TD3 training call (store, sample, learn), traced: a [T, N, 1] reward is refused by name, not
    unpacked or broadcast; so is a [B, 1] reward in a batch given to learn directly."""
    from tandem.buffers.transition import Transition
    from tandem.runners.agent import make_agent

    spec = EnvSpec("Toy-v0", "gymnasium", (3,), "continuous", action_dim=2, action_low=(-1.0, -1.0),
                   action_high=(1.0, 1.0))
    cfg, _ = preset("td3", "Pendulum-v1")
    cfg = dataclasses.replace(cfg, buffer_size=4, batch_size=4, learning_starts=0, actor_net="mlp:4",
                              critic_net="mlp:4")
    agent = make_agent(get_algo("td3").make_learner(cfg, spec, 1), cfg.needs, spec)
    state = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    rollout = Transition(jnp.zeros((1, 1, 3)), jnp.zeros((1, 1, 2)), jnp.zeros((1, 1)), jnp.zeros((1, 1), bool),
                         jnp.zeros((1, 1), bool), jnp.zeros((1, 1, 3)))
    key = jax.random.PRNGKey(1)
    traced(agent.train, state, rollout, key)  # well-shaped: traces
    with raises_naming(ValueError, "'reward'", (1, 1), (1,)):  # flattened to [1, 1] for rows of shape ()
        traced(agent.train, state, rollout._replace(reward=jnp.zeros((1, 1, 1))), key)
    with raises_naming(ValueError, "'terminated'", (1, 1), (1,)):
        traced(agent.train, state, rollout._replace(terminated=jnp.zeros((1, 1, 1), bool)), key)
    batch = Transition(jnp.zeros((4, 3)), jnp.zeros((4, 2)), jnp.zeros((4, 1)), jnp.zeros((4,), bool),
                       jnp.zeros((4,), bool), jnp.zeros((4, 3)))
    with raises_naming(ValueError, (4, 1), "[B]"):
        traced(agent.learner.learn, state.learner, batch, key)


# --- replay -------------------------------------------------------------------------------------


def test_replay_add_refuses_rows_of_another_shape():
    buf = replay_init(8, {"action": ((1,), jnp.float32), "reward": ((), jnp.float32)})
    with raises_naming(ValueError, "'action'", (4,), (4, 1)):
        traced(replay_add, buf, {"action": jnp.zeros((4,)), "reward": jnp.zeros((4,))})
    with raises_naming(ValueError, "'reward'", (4, 1), (4,)):
        traced(replay_add, buf, {"action": jnp.zeros((4, 1)), "reward": jnp.zeros((4, 1))})
    with raises_naming(ValueError, "'reward'", (3,), (4,)):  # fields of different row counts
        traced(replay_add, buf, {"action": jnp.zeros((4, 1)), "reward": jnp.zeros((3,))})
    with pytest.raises(ValueError, match=r"missing \['reward'\]"):
        traced(replay_add, buf, {"action": jnp.zeros((4, 1))})
    out = replay_add(buf, {"action": jnp.ones((4, 1)), "reward": jnp.ones((4,))})
    assert int(out.size) == 4 and np.asarray(out.data["action"])[:4].tolist() == [[1.0]] * 4


# --- the gymnax wrapper -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cartpole():
    from tandem.envs.gymnax_jax import JaxEnv

    return JaxEnv("gymnax:CartPole-v1")


@pytest.fixture(scope="module")
def pendulum():
    from tandem.envs.gymnax_jax import JaxEnv

    return JaxEnv("gymnax:Pendulum-v1")


def test_gymnax_discrete_step_takes_one_integer(cartpole):
    key = jax.random.PRNGKey(0)
    state, obs = cartpole.reset(key)
    assert obs.shape == (4,)
    with pytest.raises(TandemRuntimeError, match=re.escape("gymnax:CartPole-v1: action shape (1,) does not match "
                                                           "expected ()")):
        traced(cartpole.step, key, state, jnp.zeros((1,), jnp.int32))
    with pytest.raises(TandemRuntimeError, match=re.escape("action shape (4,) does not match expected ()")):
        traced(cartpole.step, key, state, jnp.zeros((4,), jnp.int32))  # a batch without vmap
    with pytest.raises(TandemRuntimeError, match="action dtype float32 does not match expected an integer"):
        traced(cartpole.step, key, state, jnp.zeros((), jnp.float32))
    _, ts = cartpole.step(key, state, jnp.int32(1))  # a () integer works
    assert ts.obs.shape == (4,) and ts.final_obs.shape == (4,) and ts.reward.shape == ()
    _, ts = jax.vmap(cartpole.step)(jax.random.split(key, 3), jax.tree_util.tree_map(lambda x: jnp.stack([x] * 3), state),
                                    jnp.zeros((3,), jnp.int32))  # batched by vmap, as the runner does
    assert ts.obs.shape == (3, 4) and ts.reward.shape == (3,)


def test_gymnax_continuous_step_takes_one_vector(pendulum):
    key = jax.random.PRNGKey(0)
    state, _ = pendulum.reset(key)
    with pytest.raises(TandemRuntimeError, match=re.escape("gymnax:Pendulum-v1: action shape () does not match "
                                                           "expected (1,)")):
        traced(pendulum.step, key, state, jnp.zeros(()))
    with pytest.raises(TandemRuntimeError, match=re.escape("action shape (1, 1) does not match expected (1,)")):
        traced(pendulum.step, key, state, jnp.zeros((1, 1)))
    with pytest.raises(TandemRuntimeError, match="action dtype int32 does not match expected a floating-point"):
        traced(pendulum.step, key, state, jnp.zeros((1,), jnp.int32))
    out = traced(pendulum.step, key, state, jnp.zeros((1,)))[1]
    assert out.obs.shape == (3,) and out.reward.shape == () and out.terminated.shape == ()


def test_gymnax_observation_of_another_shape_is_refused(cartpole, monkeypatch):
    key = jax.random.PRNGKey(0)
    state, _ = cartpole.reset(key)
    raw = cartpole.raw_env
    monkeypatch.setattr(raw, "reset", lambda k, p: (jnp.zeros((4, 1)), state))
    with raises_naming(TandemRuntimeError, "reset", (4, 1), (4,)):
        traced(cartpole.reset, key)
    step = type(raw).step

    def bad_step(k, s, a, p):
        obs, s, r, term, trunc, info = step(raw, k, s, a, p)
        return obs[None], s, r, term, trunc, info

    monkeypatch.setattr(raw, "step", bad_step)
    with raises_naming(TandemRuntimeError, "step", (1, 4), (4,)):
        traced(cartpole.step, key, state, jnp.int32(0))


def test_distributions_refuse_a_column_action_against_a_row_of_means():
    from tandem.nets import distributions as D

    mean, log_std = jnp.zeros((5, 1)), jnp.zeros((1,))
    with pytest.raises(ValueError, match=r"action shape \(5,\) does not match expected \(5, 1\)"):
        jax.eval_shape(D.gaussian_log_prob, mean, log_std, jnp.zeros((5,)))
    with pytest.raises(ValueError, match=r"log_std shape \(5, 2\)"):
        jax.eval_shape(D.gaussian_log_prob, mean, jnp.zeros((5, 2)), jnp.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"action shape \(5, 1\) does not match expected \(5,\)"):
        jax.eval_shape(D.categorical_log_prob, jnp.zeros((5, 3)), jnp.zeros((5, 1), jnp.int32))
    assert jax.eval_shape(D.tanh_gaussian_log_prob, mean, log_std, jnp.zeros((5, 1))).shape == (5,)
