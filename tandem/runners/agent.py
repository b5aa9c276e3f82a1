"""The runner side of a learner: what both runners drive, so neither knows an algorithm.

A learner only learns from batches (algos/learner.py). What the algorithm's config declares it needs
(``config.needs``, algos/needs.py) is provided here, once for every runner: for a replay learner, the
buffer (a pure init/add/sample bundle, buffers/replay.uniform_replay) that each rollout is stored in, the uniform
random actions until ``learning_starts`` transitions are stored, and the sampled batches fed to
``learn``; for an on-policy learner, the rollout itself is the batch.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp

from tandem.algos.needs import RunnerNeeds
from tandem.buffers.replay import uniform_replay
from tandem.buffers.transition import Transition, flatten_time, transition_fields
from tandem.ops.finite import first_fault


class AgentState(flax.struct.PyTreeNode):
    """One seed's learner state, its replay buffer ({} without replay) and the transitions stored in it."""

    learner: Any
    replay: Any
    stored: jax.Array  # int32


class Agent(NamedTuple):
    """init(key) -> AgentState; act(agent, obs [N, ...], key, carry) -> (action, extras, carry);
    train(agent, rollout: Transition [T, N], key) -> (agent, metrics {name: scalar, "fault": int32});
    policy(agent, obs, carry) -> (action, carry); learner: the Learner; needs: the RunnerNeeds."""

    init: Callable
    act: Callable
    train: Callable
    policy: Callable
    learner: Any
    needs: RunnerNeeds


def make_agent(learner, needs: RunnerNeeds, spec) -> Agent:
    """The agent that feeds ``learner`` what ``needs`` declares, for environments of ``spec``."""
    rp = needs.replay
    buffer = uniform_replay(rp.capacity, transition_fields(spec), rp.batch_size) if rp is not None else None

    def init(key) -> AgentState:
        replay = buffer.init() if rp is not None else {}
        return AgentState(learner.init(key), replay, jnp.zeros((), jnp.int32))

    def random_action(key, shape):
        if spec.action_kind == "discrete":
            return jax.random.randint(key, shape, 0, spec.num_actions)
        return jax.random.uniform(key, shape + (spec.action_dim,), jnp.float32, -1.0, 1.0)

    def act(agent: AgentState, obs, key, carry):
        if rp is None or rp.learning_starts == 0:
            return learner.act(agent.learner, obs, key, carry)
        k_act, k_random = jax.random.split(key)
        action, extras, carry = learner.act(agent.learner, obs, k_act, carry)
        random = random_action(k_random, action.shape[:1]).astype(action.dtype)
        return jnp.where(agent.stored < rp.learning_starts, random, action), extras, carry

    def policy(agent: AgentState, obs, carry):
        return learner.policy(agent.learner, obs, carry)

    def train(agent: AgentState, rollout: Transition, key):
        if rp is None:
            state, metrics = learner.learn(agent.learner, rollout, key)
            return agent.replace(learner=state), metrics
        rows = flatten_time(rollout)
        replay = buffer.add(agent.replay, _fields(rows))
        stored = agent.stored + rows.reward.shape[0]
        G = rp.gradient_steps
        # All G batches are gathered up front in one gather, outside the cond and the scan, which then
        # only see the sampled batches, never the buffer.
        k_sample, k_steps = jax.random.split(key)
        batches = jax.vmap(lambda k: Transition(**buffer.sample(replay, k)))(
            jax.random.split(k_sample, G))
        names = jax.eval_shape(lambda s, b, k: learner.learn(s, b, k)[1], agent.learner,
                               jax.tree_util.tree_map(lambda x: x[0], batches), k_steps)

        def go(state):
            state, metrics = jax.lax.scan(lambda s, xs: learner.learn(s, *xs), state,
                                          (batches, jax.random.split(k_steps, G)))
            fault = first_fault(metrics.pop("fault"))  # NaN below: a skipped (delayed) step
            return state, {**{k: jnp.nanmean(v) for k, v in metrics.items()}, "fault": fault}

        def wait(state):
            return state, {k: (jnp.zeros((), jnp.int32) if k == "fault" else jnp.full((), jnp.nan, jnp.float32))
                           for k in names}

        state, metrics = jax.lax.cond(stored >= rp.learning_starts, go, wait, agent.learner)
        return AgentState(state, replay, stored), metrics

    return Agent(init, act, train, policy, learner, needs)


def _fields(rows: Transition) -> dict:
    """A transition's stored fields (no extras) as the replay buffer's row dict."""
    return {k: v for k, v in rows._asdict().items() if k != "extras"}
