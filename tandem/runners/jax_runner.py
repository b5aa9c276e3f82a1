"""The JAX runner: rollouts, updates and episode bookkeeping for K seeds in one compiled program.

A chunk of updates is one ``lax.while_loop`` under ``vmap`` over seeds, sharded over the local devices
(on a CPU, XLA's host platform split into one device per core) so seeds run in parallel. The host
only sees the loop between chunks: logging, checkpoints, the target check.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from tandem.algos.learner import reset_done
from tandem.buffers.transition import transition
from tandem.ops.finite import OBSERVATION, REWARD, all_finite
from tandem.runners.common import (EpisodeStats, concurrently, episode_stats_init, in_background, lower_seeds,
                                   track_step, vmap_seeds)
from tandem.runners.driver import Counters
from tandem.runners.evaluation import jax_eval_keys, jax_evaluator


class JaxRunnerState(flax.struct.PyTreeNode):
    agent: Any
    env_state: Any
    obs: jax.Array
    carry: Any  # the learner's per-env acting state (e.g. exploration noise)
    key: jax.Array
    episodes: EpisodeStats
    env_steps: jax.Array  # int32 per seed
    updates: jax.Array  # int32 per seed


def make_jax_driver(cfg, spec, agent, sch) -> "JaxDriver":
    """The registry's factory (runners/driver.py): one log interval of updates per compiled call."""
    from tandem.envs.registry import backend_named

    env = backend_named(spec.backend).make(cfg.run.env)
    chunk = min(p.log_every for p in sch.phases)
    return JaxDriver(agent, env, agent.needs.num_envs, agent.needs.rollout_steps, cfg.run.num_seeds, chunk,
                     cfg.run.eval_episodes)


class JaxDriver:
    """The Driver (runners/driver.py) of functional JAX envs: ``env.reset(key) -> (env_state, obs)`` and
    ``env.step(key, env_state, action) -> (env_state, TimeStep)`` for one env, vmapped here."""

    name = "jax"

    def __init__(self, agent, env, num_envs: int, num_steps: int, num_seeds: int, chunk: int, eval_episodes: int = 0):
        self.agent_fns, self.env, self.eval_episodes = agent, env, eval_episodes
        self.num_envs, self.num_steps, self.num_seeds, self.chunk = num_envs, num_steps, num_seeds, chunk
        self.updates_per_call = chunk
        devices = jax.devices()
        ndev = math.gcd(num_seeds, len(devices))
        self.mesh = Mesh(np.array(devices[:ndev]), ("devices",))
        self.sharding = NamedSharding(self.mesh, P("devices"))
        self._chunk_fn = self._build_chunk()
        self._compiled = None
        self._eval_fns = {}
        self._pending = None  # the chunk and evaluation programs compiling on a thread since init()

    # -- one seed ---------------------------------------------------------------------------------
    def _init_env(self, key):
        state, obs = jax.vmap(self.env.reset)(jax.random.split(key, self.num_envs))
        return state, obs

    def _one_update(self, s: JaxRunnerState, target):
        agent_fns, env = self.agent_fns, self.env

        carry0 = agent_fns.learner.init_carry(self.num_envs)

        def env_step(c, _):
            agent, env_state, obs, carry, key, episodes, env_steps, fin_sum, fin_n = c
            key, k_act, k_env = jax.random.split(key, 3)
            action, extras, carry = agent_fns.act(agent, obs, k_act, carry)
            env_state, ts = jax.vmap(env.step)(jax.random.split(k_env, self.num_envs), env_state, action)
            env_steps = env_steps + self.num_envs
            done = ts.terminated | ts.truncated
            carry = reset_done(carry, carry0, done)
            # Episode bookkeeping inside the same loop as the rollout: no second pass over time.
            episodes, (f_sum, f_n) = track_step(episodes, ts.reward, done, env_steps, target)
            tr = transition(obs, action, ts, extras)
            bad = (~all_finite((obs, ts.obs, ts.final_obs)), ~all_finite(ts.reward))
            return (agent, env_state, ts.obs, carry, key, episodes, env_steps, fin_sum + f_sum, fin_n + f_n), (tr, bad)

        init = (s.agent, s.env_state, s.obs, s.carry, s.key, s.episodes, s.env_steps, jnp.zeros(()),
                jnp.zeros((), jnp.int32))
        (agent, env_state, obs, carry, key, episodes, env_steps, fin_sum, fin_n), (traj, (bad_obs, bad_rew)) = \
            jax.lax.scan(env_step, init, None, length=self.num_steps)
        key, k_upd = jax.random.split(key)
        agent, metrics = agent_fns.train(agent, traj, k_upd)
        # The first non-finite value of this update: the env's (observation, then reward, by step) or the learner's.
        t_obs, t_rew = jnp.argmax(bad_obs), jnp.argmax(bad_rew)
        obs_first = bad_obs.any() & (~bad_rew.any() | (t_obs <= t_rew))
        env_code = jnp.where(obs_first, OBSERVATION, jnp.where(bad_rew.any(), REWARD, 0))
        env_t = jnp.where(obs_first, t_obs, t_rew)
        fault = jnp.where(env_code > 0, env_code, metrics["fault"]).astype(jnp.int32)
        fault_step = jnp.where(env_code > 0, s.env_steps + (env_t + 1) * self.num_envs, env_steps)
        metrics = {**metrics, "fault": fault, "fault_step": fault_step,
                   "finished_return_sum": fin_sum, "finished_episodes": fin_n}
        return JaxRunnerState(agent, env_state, obs, carry, key, episodes, env_steps, s.updates + 1), metrics

    def _chunk_one_seed(self, s: JaxRunnerState, n_active, target, vmapped: bool):
        """Up to ``n_active`` updates in a ``while_loop``: it stops after the update in which a seed faulted (a
        non-finite value: nothing learns from it) or every seed reached the target. Both flags are reduced over
        this device's seeds and over every device, so the loop's predicate is unbatched and the same on every
        device: a real loop with a data-dependent end, no select over the state per update (a ``cond`` per
        update inside a ``scan`` cost ~1 ms of a ~5 ms PPO update), and no device left waiting in a collective.
        The metrics of the updates applied fill the first rows of a [chunk, ...] buffer."""
        def every_device(flag, reduce):  # over this device's seeds, then over every device
            flag = flag.astype(jnp.int32)
            flag = reduce(flag, "seeds") if vmapped else flag
            return reduce(flag, "devices") > 0

        shapes = jax.eval_shape(lambda st: self._one_update(st, target)[1], s)
        rows = jax.tree_util.tree_map(lambda x: jnp.zeros((self.chunk,) + x.shape, x.dtype), shapes)

        def go_on(carry):
            i, state, faulted, _ = carry
            # --target-return stops after the update in which every seed (on every device) reached it, as the
            # host runner does, so the run and its final evaluation don't depend on the chunk size or the
            # device count. NaN (no target) never reaches.
            stop = every_device(faulted, jax.lax.pmax) | every_device(state.episodes.reached_step >= 0, jax.lax.pmin)
            return (i < n_active) & ~stop

        def update(carry):
            i, state, faulted, rows = carry
            state, metrics = self._one_update(state, target)
            rows = jax.tree_util.tree_map(lambda r, m: jax.lax.dynamic_update_index_in_dim(r, m, i, 0), rows, metrics)
            return i + 1, state, faulted | (metrics["fault"] > 0), rows

        _, s, _, rows = jax.lax.while_loop(go_on, update, (jnp.int32(0), s, jnp.bool_(False), rows))
        return s, rows

    def _build_chunk(self):
        def chunk(state, n_active, target):
            per_device = self.num_seeds // self.mesh.size
            one = functools.partial(self._chunk_one_seed, vmapped=per_device > 1)
            return vmap_seeds(one, per_device, in_axes=(0, None, None), out_axes=(0, 1), axis_name="seeds")(
                state, n_active, target)

        sharded = jax.shard_map(chunk, mesh=self.mesh, in_specs=(P("devices"), P(), P()),
                                out_specs=(P("devices"), P(None, "devices")), check_vma=False)
        return jax.jit(sharded, donate_argnums=0)

    # -- the driver interface ---------------------------------------------------------------------
    def init(self, seed: int) -> JaxRunnerState:
        return self._init(seed, start_compiling=True)

    def init_seeds(self, seeds) -> JaxRunnerState:
        """:meth:`init` with the seed of each position given (K of them, repeats allowed): position k starts as
        seed ``seeds[k]``'s run would. An architecture search replaces the agents after (search/population.py)."""
        return self._init(0, start_compiling=True, seeds=seeds)

    @staticmethod
    def split_key(key):
        """(agent, env, run) keys of a seed's ``PRNGKey``: what a seed's start state is drawn from."""
        return jax.random.split(key, 3)

    def _init(self, seed: int, start_compiling: bool, seeds=None) -> JaxRunnerState:
        def one(key):
            k_agent, k_env, k_run = self.split_key(key)
            env_state, obs = self._init_env(k_env)
            zero = jnp.zeros((), jnp.int32)
            return JaxRunnerState(self.agent_fns.init(k_agent), env_state, obs,
                                  self.agent_fns.learner.init_carry(self.num_envs), k_run,
                                  episode_stats_init(self.num_envs), zero, zero)

        lowered, seeds = lower_seeds(one, seed, self.num_seeds, seeds)
        if start_compiling and self._pending is None and self._compiled is None:
            # The training and evaluation programs need only the state's shapes: they start compiling on a
            # thread now, while this one compiles and runs the initialisation (XLA compiles without the GIL).
            shapes = jax.tree_util.tree_map(
                lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=self.sharding), lowered.out_info)
            self._pending = (self.eval_episodes, in_background(lambda: self._compile_programs(shapes, self.eval_episodes)))
        return jax.device_put(lowered.compile()(seeds), self.sharding)

    def _compile_programs(self, state, eval_episodes: int):
        """The chunk and evaluation executables for a state (or its shapes), compiled side by side."""
        def chunk():
            return self._chunk_fn.lower(state, jnp.int32(1), jnp.float32(0)).compile()

        def evaluation():
            keys = jax_eval_keys(0, self.num_seeds, eval_episodes)
            return self._eval_fn(eval_episodes).lower(state.agent, keys).compile()

        return concurrently(chunk, *([evaluation] if eval_episodes else []))

    def compile(self, state: JaxRunnerState, eval_episodes: int = 0) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == eval_episodes:
            compiled = pending[1].result()
        else:
            compiled = self._compile_programs(state, eval_episodes)
        self._compiled = compiled[0]
        if eval_episodes:  # replaces the jitted function: the executable is used, not compiled again
            self._eval_fns[eval_episodes] = compiled[1]

    def template(self, seed: int) -> JaxRunnerState:
        return self._init(seed, start_compiling=False)  # a checkpoint's template (eval, resume) compiles nothing

    def run(self, state: JaxRunnerState, n: int, target: float):
        before = int(np.asarray(state.updates)[0])  # read before the call: the state is donated
        state, metrics = (self._compiled or self._chunk_fn)(state, jnp.int32(n), jnp.float32(target))
        ran = int(np.asarray(state.updates)[0]) - before  # fewer than n after a fault or the target
        return state, jax.tree_util.tree_map(lambda x: np.asarray(x)[:ran], metrics)

    def _eval_fn(self, episodes: int):
        if episodes not in self._eval_fns:
            self._eval_fns[episodes] = jax_evaluator(self.agent_fns.policy, self.agent_fns.learner.init_carry, self.env,
                                                     self.env.spec, episodes)
        return self._eval_fns[episodes]

    def evaluate(self, state: JaxRunnerState, episodes: int, seed: int, seeds=None) -> np.ndarray:
        """Deterministic-policy returns [K, episodes] (runners/evaluation.py); ``seeds``: each position's seed (as
        :meth:`init_seeds`), so a member is evaluated as its seed's run alone would be."""
        keys = jax_eval_keys(seed, self.num_seeds, episodes, seeds)
        return np.asarray(self._eval_fn(episodes)(state.agent, keys))

    def counters(self, state) -> Counters:
        return Counters(int(np.asarray(state.env_steps)[0]), int(np.asarray(state.updates)[0]),
                        int(np.asarray(state.episodes.count).sum()))

    def agent(self, state):
        return state.agent

    def host_state(self, state):
        return state  # the whole state is JAX data, environments included: checkpointed as is

    def from_host(self, loaded) -> JaxRunnerState:
        return jax.device_put(jax.tree_util.tree_map(jnp.asarray, loaded), self.sharding)

    def load_state(self, loaded, seed: int, env_records) -> JaxRunnerState:
        return self.from_host(loaded)  # the environments are JAX state: restored with everything else

    def env_records(self):
        return None

    def episodes(self, state) -> EpisodeStats:
        return state.episodes

    def report(self, state) -> dict:
        return {}

    def close(self):
        pass
