"""Behaviour cloning against independent references: its loss recomputed in numpy from the actor's own output
for each distribution, a known deterministic policy recovered from its actions, a non-finite batch reported
and not applied, action masks respected, and the config's checks."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tandem.algos.bc.config import BCConfig
from tandem.algos.bc.learner import make_learner
from tandem.algos.needs import DatasetNeeds
from tandem.buffers.transition import Transition
from tandem.envs.spec import EnvSpec, obs_struct
from tandem.errors import TandemInputError
from tandem.nets.spec import NetworkSpec, network

DISCRETE = EnvSpec("test", "gymnasium", (5,), "discrete", num_actions=4)
CONTINUOUS = EnvSpec("test", "gymnasium", (4,), "continuous", action_dim=2, action_low=(-1.0, -1.0),
                     action_high=(1.0, 1.0))
MASKED = EnvSpec("test", "gymnasium", (), "discrete", num_actions=4,
                 obs_fields=(("action_mask", (4,), "bool"), ("x", (3,), "float32")))
CASES = {"categorical": DISCRETE, "gaussian": CONTINUOUS, "tanh_gaussian": CONTINUOUS}
CFG = dict(actor_net="mlp:64,64", lr=3e-3)
B = 128  # every batch: one compiled learn per distribution serves every test


@pytest.fixture(scope="module")
def learners():
    """distribution -> (learner, jitted learn, jitted policy, initial state), compiled once for the module."""
    out = {}
    for dist, spec in CASES.items():
        learner = make_learner(BCConfig(**CFG, distribution=dist), spec, 1)
        out[dist] = (learner, jax.jit(learner.learn), jax.jit(lambda s, o, lr=learner: lr.policy(s, o, {})[0]),
                     learner.init(jax.random.PRNGKey(0)))
    return out


def batch_of(obs, action) -> Transition:
    """A [B] dataset batch with these observations and actions (the rest unused by behaviour cloning)."""
    B = len(action)
    return Transition(obs, action, np.zeros(B, np.float32), np.zeros(B, bool), np.zeros(B, bool), obs)


def actor_output(learner, spec, net_params, obs) -> np.ndarray:
    """The actor network's raw output, applied through the manifest's network spec (not the learner)."""
    net = network(NetworkSpec.from_dict(learner.network_spec["actor"]), obs_struct(spec))
    return np.asarray(net.apply(net_params, obs), np.float64)


def gaussian_logpdf(x, mean, log_std) -> np.ndarray:
    """Diagonal Gaussian log density, summed over the last axis (float64)."""
    return np.sum(-0.5 * ((x - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi), axis=-1)


@pytest.mark.parametrize("dist", list(CASES))
def test_loss_is_the_hand_computed_negative_log_likelihood(learners, dist):
    learner, learn, _, state = learners[dist]
    spec = CASES[dist]
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(B,) + spec.obs_shape).astype(np.float32)
    params = state.params["actor"]
    if dist == "categorical":
        action = np.arange(B, dtype=np.int32) % 4
        # head scaled up: logits of order 1, not 0.01 (a near-uniform policy would hide a wrong action index)
        params = {"net": jax.tree_util.tree_map(lambda x: x, params["net"])}
        params["net"]["params"]["head"]["kernel"] = params["net"]["params"]["head"]["kernel"] * 100.0
    else:
        action = rng.uniform(-0.95, 0.95, size=(B, 2)).astype(np.float32)
        net = jax.tree_util.tree_map(lambda x: x, params["net"])
        net["params"]["head"]["kernel"] = net["params"]["head"]["kernel"] * (400.0 if dist == "tanh_gaussian" else 50.0)
        if dist == "tanh_gaussian":  # the first log std above the clip's upper bound, the second within it
            net["params"]["head"]["bias"] = jnp.array([0.0, 0.0, 2.5, 0.0])
        params = {**params, "net": net}
        if dist == "gaussian":
            params["log_std"] = jnp.array([-0.5, 0.3], jnp.float32)
    state = state.replace(params={**state.params, "actor": params})
    _, metrics = learn(state, batch_of(obs, action), jax.random.PRNGKey(2))

    out = actor_output(learner, spec, params["net"], obs)
    if dist == "categorical":
        logp = out - out.max(-1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
        lp = logp[np.arange(B), action]
    elif dist == "gaussian":
        lp = gaussian_logpdf(action, out, np.asarray(params["log_std"], np.float64))
    else:
        mean, raw_log_std = out[:, :2], out[:, 2:]
        assert (raw_log_std > 2).any() and (np.abs(raw_log_std) < 2).any()  # the clip acts on some entries only
        u = np.arctanh(action.astype(np.float64))
        lp = gaussian_logpdf(u, mean, np.clip(raw_log_std, -20, 2)) - np.sum(np.log(1 - action.astype(np.float64) ** 2), -1)
    assert float(metrics["bc_loss"]) == pytest.approx(-lp.mean(), rel=1e-4)
    assert float(metrics["log_prob_mean"]) == pytest.approx(lp.mean(), rel=1e-4)
    assert float(metrics["grad_norm"]) > 0 and int(metrics["fault"]) == 0


def _clone(learn, state, obs, action, steps):
    """``steps`` learn calls on uniform minibatches of B rows of (obs, action); the losses before each step."""
    rng, losses = np.random.default_rng(3), []
    for key in jax.random.split(jax.random.PRNGKey(3), steps):
        idx = rng.integers(0, len(action), B)
        state, m = learn(state, batch_of(obs[idx], action[idx]), key)
        losses.append(m["bc_loss"])
    return state, np.asarray(losses)


def test_recovers_a_deterministic_discrete_policy(learners):
    _, learn, policy, state = learners["categorical"]
    rng = np.random.default_rng(4)
    obs = rng.normal(size=(2048, 5)).astype(np.float32)
    action = np.argmax(obs[:, :4], axis=-1).astype(np.int32)
    test_obs = rng.normal(size=(1000, 5)).astype(np.float32)
    expected = np.argmax(test_obs[:, :4], axis=-1)
    assert np.mean(np.asarray(policy(state, test_obs)) == expected) < 0.6  # untrained: chance-like
    trained, losses = _clone(learn, state, obs, action, 400)
    assert float(losses[-20:].mean()) < float(losses[:20].mean())
    assert np.mean(np.asarray(policy(trained, test_obs)) == expected) >= 0.95


@pytest.mark.parametrize("dist", ["tanh_gaussian", "gaussian"])
def test_recovers_a_deterministic_continuous_policy(learners, dist):
    _, learn, policy, state = learners[dist]
    rng = np.random.default_rng(5)
    W = np.array([[1.0, -0.5, 0.0, 0.8], [-0.3, 0.9, 0.6, 0.0]], np.float32)
    obs = rng.normal(size=(2048, 4)).astype(np.float32)
    action = np.tanh(obs @ W.T)
    test_obs = rng.normal(size=(1000, 4)).astype(np.float32)
    expected = np.tanh(test_obs @ W.T)
    assert np.abs(np.asarray(policy(state, test_obs)) - expected).mean() > 0.3  # untrained: about 0
    trained, _ = _clone(learn, state, obs, action, 400)
    assert np.abs(np.asarray(policy(trained, test_obs)) - expected).mean() < 0.08


@pytest.mark.parametrize("dist", ["categorical", "tanh_gaussian"])
def test_a_nan_in_the_batch_is_a_fault_and_is_not_applied(learners, dist):
    learner, learn, _, state = learners[dist]
    spec = CASES[dist]
    obs = np.ones((B,) + spec.obs_shape, np.float32)
    action = np.zeros(B, np.int32) if dist == "categorical" else np.full((B, 2), 0.5, np.float32)
    obs[2, 1] = np.nan
    new, metrics = learn(state, batch_of(obs, action), jax.random.PRNGKey(0))
    assert int(metrics["fault"]) > 0 and np.isnan(float(metrics["bc_loss"]))
    for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(new)):
        np.testing.assert_array_equal(a, b)  # parameters, optimizer state and step counter
    # The clean batch: a step is taken, and learn is gradient then apply_gradient.
    obs[2, 1] = 0.0
    batch = batch_of(obs, action)
    new, metrics = learn(state, batch, jax.random.PRNGKey(0))
    assert int(metrics["fault"]) == 0 and int(new.grad_steps) == 1
    if dist != "categorical":
        return
    grads, m_grad = jax.jit(learner.gradient)(state, batch, jax.random.PRNGKey(0))
    applied = jax.jit(learner.apply_gradient)(state, grads)
    for a, b in zip(jax.tree_util.tree_leaves(new.params), jax.tree_util.tree_leaves(applied.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    assert float(m_grad["bc_loss"]) == pytest.approx(float(metrics["bc_loss"]))


def test_action_masks_are_respected():
    learner = make_learner(BCConfig(actor_net="mlp:16"), MASKED, 1)
    state = learner.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(6)
    mask = rng.random((256, 4)) < 0.5
    mask[np.arange(256), rng.integers(0, 4, 256)] = True  # at least one valid action each
    obs = {"action_mask": mask, "x": rng.normal(size=(256, 3)).astype(np.float32)}
    # A policy that would pick action 0 everywhere, masked: never an invalid action, sampled or argmax.
    net = jax.tree_util.tree_map(lambda x: x, state.params["actor"]["net"])
    net["params"]["head"]["bias"] = jnp.array([50.0, 0.0, 0.0, 0.0])
    state = state.replace(params={**state.params, "actor": {"net": net}})
    greedy, _ = jax.jit(learner.policy)(state, obs, {})
    sampled, _, _ = jax.jit(learner.act)(state, obs, jax.random.PRNGKey(1), {})
    for a in (np.asarray(greedy), np.asarray(sampled)):
        assert mask[np.arange(256), a].all()
    assert (np.asarray(greedy)[mask[:, 0]] == 0).all()
    # The loss is over the valid actions only: a valid action's log-prob under the masked softmax.
    _, metrics = jax.jit(learner.learn)(state, batch_of(obs, np.asarray(greedy, np.int32)), jax.random.PRNGKey(2))
    assert np.isfinite(float(metrics["bc_loss"])) and int(metrics["fault"]) == 0


def test_config_checks_needs_and_network_spec():
    with pytest.raises(TandemInputError, match=r"--distribution 'nope'.*'auto', 'categorical', 'gaussian', "
                                               r"'tanh_gaussian'"):
        BCConfig(distribution="nope").validate()
    with pytest.raises(TandemInputError, match=r"--max-grad-norm"):
        BCConfig(max_grad_norm=-1.0).validate()
    BCConfig().validate()
    needs = BCConfig(batch_size=64).needs
    assert needs.dataset == DatasetNeeds(64) and (needs.num_envs, needs.rollout_steps) == (1, 1)
    assert needs.replay is None
    with pytest.raises(TandemInputError, match=r"--distribution 'gaussian'.*allowed: auto, categorical"):
        make_learner(BCConfig(distribution="gaussian"), DISCRETE, 1)
    with pytest.raises(TandemInputError, match=r"allowed: auto, gaussian, tanh_gaussian"):
        make_learner(BCConfig(distribution="categorical"), CONTINUOUS, 1)
    spec = make_learner(BCConfig(), CONTINUOUS, 1).network_spec
    assert spec["distribution"] == "tanh_gaussian" and spec["actor"]["out_dim"] == 4
    assert make_learner(BCConfig(), DISCRETE, 1).network_spec["distribution"] == "categorical"


def test_weight_decay_is_decoupled(learners):
    """AdamW: with decay wd the step differs from Adam's by exactly -lr * wd * params (clipping aside)."""
    _, learn, _, state = learners["categorical"]
    obs = np.random.default_rng(7).normal(size=(B, 5)).astype(np.float32)
    batch = batch_of(obs, np.arange(B, dtype=np.int32) % 4)
    decayed = make_learner(BCConfig(**CFG, weight_decay=0.1), DISCRETE, 1)
    d_state = decayed.init(jax.random.PRNGKey(0))  # the same parameters, its own optimizer state
    steps = [jax.jit(decayed.learn)(d_state, batch, jax.random.PRNGKey(0))[0].params["actor"],
             learn(state, batch, jax.random.PRNGKey(0))[0].params["actor"]]
    for p, a, b in zip(*(jax.tree_util.tree_leaves(t) for t in (state.params["actor"], *steps))):
        np.testing.assert_allclose(np.asarray(a) - np.asarray(b), -CFG["lr"] * 0.1 * np.asarray(p), atol=1e-7)
