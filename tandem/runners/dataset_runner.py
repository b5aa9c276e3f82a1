"""The dataset runner: an offline learner trained on a dataset's transitions, evaluated in its environment.

The dataset (buffers/dataset.py) is loaded once and put on the device whole; it is not part of the state (a
resumed run reads it again from disk). An update is one call of ``learn`` on a batch sampled uniformly, with
replacement, from the dataset; a call of :meth:`DatasetDriver.run` is a ``lax.scan`` of them, vmapped over
seeds. Env steps stay 0: the environment only evaluates (host or JAX evaluation kernel, runners/evaluation.py).
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from tandem.buffers.transition import Transition
from tandem.runners.common import EpisodeStats, episode_stats_init, init_seeds, vmap_seeds
from tandem.runners.driver import Counters
from tandem.runners.evaluation import host_evaluate, jax_eval_keys, jax_evaluator


class DatasetRunnerState(flax.struct.PyTreeNode):
    agent: Any
    key: jax.Array
    episodes: EpisodeStats  # no training episodes: kept for the loop's target check and metrics rows
    env_steps: jax.Array  # int32 per seed, always 0
    updates: jax.Array  # int32 per seed: gradient steps


def dataset_arrays(transitions, spec) -> Transition:
    """A dataset's transitions as one device-resident Transition [D] in the learner's canonical form: discrete
    actions as int32, continuous ones mapped from the env's bounds into [-1, 1]."""
    action = np.asarray(transitions.action)
    if spec.action_kind == "discrete":
        action = action.astype(np.int32).reshape(-1)
    else:
        low, high = np.asarray(spec.action_low, np.float64), np.asarray(spec.action_high, np.float64)
        bounded = np.isfinite(low) & np.isfinite(high)
        span = np.where(bounded, high - low, 2.0)
        canonical = 2.0 * (action.astype(np.float64) - np.where(bounded, low, -1.0)) / span - 1.0
        action = np.where(bounded, np.clip(canonical, -1.0, 1.0), action).astype(np.float32)
    f32 = lambda x: jnp.asarray(np.asarray(x, np.float32))   # noqa: E731
    return Transition(f32(transitions.obs), jnp.asarray(action), f32(transitions.reward),
                      jnp.asarray(transitions.terminated), jnp.asarray(transitions.truncated),
                      f32(transitions.next_obs), {})


def make_dataset_driver(cfg, spec, agent, sch) -> "DatasetDriver":
    """The registry's factory (runners/driver.py): the run's --dataset, checked against its env, on the device."""
    from tandem.buffers.dataset import load

    data = dataset_arrays(load(cfg.run.dataset, cfg.run.env), spec)
    chunk = min(p.log_every for p in sch.phases)
    return DatasetDriver(agent, data, spec, cfg.run.env, cfg.run.num_seeds, chunk)


class DatasetDriver:
    """The Driver (runners/driver.py) of an offline learner: ``data`` a Transition [D] on the device."""

    name = "dataset"

    def __init__(self, agent, data: Transition, spec, env_id: str, num_seeds: int, chunk: int):
        self.agent_fns, self.data, self.spec, self.env_id = agent, data, spec, env_id
        self.updates_per_call, self._K = chunk, num_seeds
        self.size = int(data.reward.shape[0])
        batch = agent.needs.dataset.batch_size
        K = num_seeds

        def steps(state: DatasetRunnerState, n):
            def one(a, key, updates):
                def body(carry, _):
                    a, key, updates = carry
                    key, k_idx, k_learn = jax.random.split(key, 3)
                    idx = jax.random.randint(k_idx, (batch,), 0, self.size)
                    a_learner, metrics = agent.learner.learn(a.learner, jax.tree_util.tree_map(lambda x: x[idx], data),
                                                             k_learn)
                    return (a.replace(learner=a_learner), key, updates + 1), metrics

                (a, key, updates), metrics = jax.lax.scan(body, (a, key, updates), None, length=n)
                metrics = {**metrics, "fault_step": jnp.zeros((n,), jnp.int32),
                           "finished_return_sum": jnp.zeros((n,), jnp.float32),
                           "finished_episodes": jnp.zeros((n,), jnp.int32)}
                return a, key, updates, metrics

            a, key, updates, metrics = jax.vmap(one)(state.agent, state.key, state.updates)
            return state.replace(agent=a, key=key, updates=updates), jax.tree_util.tree_map(
                lambda x: jnp.swapaxes(x, 0, 1), metrics)

        self._steps = jax.jit(steps, static_argnums=1, donate_argnums=0)
        self._policy = jax.jit(vmap_seeds(agent.policy, K, in_axes=(0, 0, 0), out_axes=(0, 0)))
        self._jax_eval = None

    # -- state -------------------------------------------------------------------------------------
    def template(self, seed: int) -> DatasetRunnerState:
        def one(key):
            k_agent, k_run = jax.random.split(key)
            zero = jnp.zeros((), jnp.int32)
            return DatasetRunnerState(self.agent_fns.init(k_agent), k_run, episode_stats_init(1), zero, zero)

        state = init_seeds(one, seed, self._K)
        data_init = self.agent_fns.learner.data_init
        if data_init is None:
            return state
        learner = jax.jit(jax.vmap(data_init, in_axes=(0, None)))(state.agent.learner, self.data)
        return state.replace(agent=state.agent.replace(learner=learner))

    def init(self, seed: int) -> DatasetRunnerState:
        return self.template(seed)

    def from_host(self, loaded) -> DatasetRunnerState:
        return jax.tree_util.tree_map(jnp.asarray, loaded)

    def load_state(self, loaded, seed: int, env_records) -> DatasetRunnerState:
        return self.from_host(loaded)

    def env_records(self):
        return None

    def host_state(self, state):
        return jax.tree_util.tree_map(np.asarray, state)

    def agent(self, state):
        return jax.tree_util.tree_map(np.asarray, state.agent)

    def episodes(self, state) -> EpisodeStats:
        return jax.tree_util.tree_map(np.asarray, state.episodes)

    def counters(self, state) -> Counters:
        return Counters(0, int(np.asarray(state.updates)[0]), 0)

    # -- programs ----------------------------------------------------------------------------------
    def compile(self, state, eval_episodes: int = 0) -> None:
        """Compile the chunk of gradient steps (warmed on a copy: it donates its input) and the policy."""
        copy = jax.tree_util.tree_map(jnp.copy, state)
        jax.block_until_ready(self._steps(copy, self.updates_per_call))

    def run(self, state, n: int, target: float):
        state, metrics = self._steps(state, int(n))
        return state, jax.tree_util.tree_map(np.asarray, metrics)

    def evaluate(self, state, episodes: int, seed: int) -> np.ndarray:
        from tandem.envs.registry import backend_named

        backend = backend_named(self.spec.backend)
        carry = jax.vmap(lambda _: self.agent_fns.learner.init_carry(episodes))(jnp.arange(self._K))
        if backend.runner == "jax":
            if self._jax_eval is None:
                self._jax_eval = jax_evaluator(self.agent_fns.policy, self.agent_fns.learner.init_carry,
                                               backend.make(self.env_id), self.spec, episodes)
            return np.asarray(self._jax_eval(state.agent, jax_eval_keys(seed, self._K, episodes)))
        return host_evaluate(self._policy, state.agent, carry, None, backend.make(self.env_id), self.spec, self._K,
                             episodes, seed)

    def report(self, state) -> dict:
        return {"dataset": {"transitions": self.size, "batch_size": self.agent_fns.needs.dataset.batch_size}}

    def close(self) -> None:
        pass
