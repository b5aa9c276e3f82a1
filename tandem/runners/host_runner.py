"""The host runner: host vector envs (Gymnasium) stepped in Python, a jitted act and a jitted training call.

K seeds run as K independent agents over K*N environments in one vector env: acting and training are
vmapped over the seed axis, so K seeds cost one jitted call per step, not K. With one seed the driver
keeps the agent state without a seed axis (and adds it back for the loop and checkpoints): squeezing
the axis inside the jitted call made XLA copy a replay buffer on every call.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from tandem.algos.learner import reset_done
from tandem.buffers.transition import Transition
from tandem.envs.spec import obs_map, obs_reshape, obs_zeros
from tandem.runners.common import (EpisodeStats, concurrently, episode_stats_init, init_seeds, track_episodes,
                                   vmap_seeds)
from tandem.runners.driver import Counters
from tandem.runners.evaluation import ENV_SEED_STRIDE, host_evaluate
from tandem.runners.rollout import Actor, collect


class HostRunnerState(flax.struct.PyTreeNode):
    agent: Any
    key: jax.Array
    episodes: EpisodeStats
    env_steps: jax.Array  # int32 per seed
    updates: jax.Array  # int32 per seed
    obs: Any  # numpy [K, N, *obs_shape] (a dict of those: structured); the envs' own state lives in their Python objects
    carry: Any  # the learner's per-env acting state [K, N, ...] (e.g. exploration noise)


def make_host_driver(cfg, spec, agent, sch) -> "HostDriver":
    """The registry's factory (runners/driver.py): the env backend's ``make`` gives the env factory."""
    from tandem.envs.registry import backend_named

    make_envs = backend_named(spec.backend).make(cfg.run.env)
    needs = agent.needs
    return HostDriver(agent, make_envs, spec, needs.num_envs, needs.rollout_steps, cfg.run.num_seeds,
                      cfg.run.async_envs)


class HostDriver:
    """The Driver (runners/driver.py) of host environments. ``make_envs(num_envs, asynchronous)`` builds a vector
    env whose ``reset(seeds)``/``step(actions)`` return envs.TimeStep, and which can record and replay its
    episodes in progress (``episode_records``/``replay``) for exact resume."""

    name = "host"
    updates_per_call = 1  # the loop checks the target (and signals) after every update

    def __init__(self, agent, make_envs, spec, num_envs: int, num_steps: int, num_seeds: int, asynchronous: bool,
                 env_offset: int = 0):
        """``env_offset``: the index of this driver's first env among the run's (a Ray worker's envs are a slice of
        the learner's), which sets their seeds."""
        self.agent_fns, self.make_envs, self.spec, self.env_offset = agent, make_envs, spec, env_offset
        self.num_envs, self.num_steps, self.num_seeds, self.asynchronous = num_envs, num_steps, num_seeds, asynchronous
        self.envs, self._seed = None, 0
        K, N = num_seeds, num_envs
        s = None if K == 1 else 0  # the seed axis of the agent state inside the driver (none for one seed)

        def act(a, key, obs, carry):
            def one(a, k, o, c):
                k, sub = jax.random.split(k)
                action, extras, c = agent.act(a, o, sub, c)
                return action, extras, k, c

            return vmap_seeds(one, K, in_axes=(s, s, 0, s), out_axes=(0, 0, s, s))(a, key, obs, carry)

        def reset_carry(carry, done):  # called only after a step where some episode ended
            return reset_done(carry, self._carry0, done)

        def update(state: HostRunnerState, rollout: Transition, extras_t, target):
            rollout = rollout._replace(extras=jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *extras_t))

            def one(a, key, episodes, env_steps, updates, tr):
                key, sub = jax.random.split(key)
                done = jnp.logical_or(tr.terminated, tr.truncated)
                episodes, (fin_sum, fin_n) = track_episodes(episodes, tr.reward, done, env_steps, target)
                a, metrics = agent.train(a, tr, sub)
                env_steps = env_steps + N * num_steps
                metrics = {**metrics, "fault_step": env_steps, "finished_return_sum": fin_sum, "finished_episodes": fin_n}
                return a, key, episodes, env_steps, updates + 1, metrics

            return vmap_seeds(one, K, in_axes=(s, s, s, s, s, 1), out_axes=(s, s, s, s, s, 0))(
                state.agent, state.key, state.episodes, state.env_steps, state.updates, rollout)

        self._carry0 = agent.learner.init_carry(N) if K == 1 else jax.vmap(lambda _: agent.learner.init_carry(N))(jnp.arange(K))
        self._act = jax.jit(act)
        self._reset_carry = jax.jit(reset_carry)
        # The state is donated: a replay buffer inside it is updated in place, not copied each step.
        self._update = jax.jit(update, donate_argnums=0)
        self._policy = jax.jit(vmap_seeds(agent.policy, K, in_axes=(s, 0, 0), out_axes=(0, 0)))
        self._K, self._N = K, N
        # Whole-tree helpers as one compiled call each (eager ops compile once per leaf shape).
        self._squeeze = jax.jit(lambda tree: jax.tree_util.tree_map(lambda x: x[0], tree))
        self._copy = jax.jit(lambda tree: jax.tree_util.tree_map(jnp.copy, tree))

    def _env_seeds(self, seed: int) -> list[int]:
        """Env i of seed k starts from seed (seed + k) * stride + i; later episodes from episode_seed()."""
        return [(seed + k) * ENV_SEED_STRIDE + self.env_offset + i for k in range(self._K) for i in range(self._N)]

    def _new_envs(self):
        self.close()
        self.envs = self.make_envs(self._K * self._N, self.asynchronous)

    def template(self, seed: int) -> HostRunnerState:
        def one(key):
            k_agent, k_run = jax.random.split(key)
            zero = jnp.zeros((), jnp.int32)
            return HostRunnerState(self.agent_fns.init(k_agent), k_run, episode_stats_init(self._N), zero, zero,
                                   None, self.agent_fns.learner.init_carry(self._N))

        state = init_seeds(one, seed, self._K)
        return state.replace(obs=obs_zeros(self.spec, (self._K, self._N)))

    def _batched(self, tree):
        """The seed axis back, on host arrays (numpy: no device op per call)."""
        return jax.tree_util.tree_map(lambda x: np.asarray(x)[None] if self._K == 1 else np.asarray(x), tree)

    def _unbatched(self, state: HostRunnerState) -> HostRunnerState:
        if self._K != 1:
            return state
        obs = state.obs
        return self._squeeze(state.replace(obs=None)).replace(obs=obs)

    def from_host(self, loaded: HostRunnerState) -> HostRunnerState:
        obs = loaded.obs
        return self._unbatched(jax.tree_util.tree_map(jnp.asarray, loaded.replace(obs=None))).replace(obs=obs)

    def init(self, seed: int) -> HostRunnerState:
        state = self._unbatched(self.template(seed))
        self._seed = seed
        self._new_envs()
        obs = self.envs.reset(self._env_seeds(seed))
        self._check_finite(obs, None, None, seed, np.zeros((), np.int32), 0, "reset()")
        return state.replace(obs=obs_reshape(self.spec, obs, (self._K, self._N)))

    def env_records(self) -> dict:
        return pack_records(self.envs.episode_records())

    def load_state(self, loaded, seed: int, env_records) -> HostRunnerState:
        """Re-create the envs and replay each one's episode in progress from its seed and recorded actions,
        which restores them exactly (see envs/gymnasium_host.py). An env that does not replay to the saved
        observation is not deterministic given its seed and actions: the run goes on from the replayed
        state, with a warning."""
        from tandem.io.checkpoint import CheckpointError

        if env_records is None:
            raise CheckpointError("the checkpoint has no envs.msgpack: a host-runner checkpoint cannot be resumed "
                                  "without the record of its episodes in progress.")
        M = self._K * self._N
        records = unpack_records(env_records, 0, M)
        self._seed = seed
        self._new_envs()
        obs = self.envs.replay(records)
        self.check_replayed(obs, loaded.obs)
        return self.from_host(loaded).replace(obs=obs_reshape(self.spec, obs, (self._K, self._N)))

    def check_replayed(self, obs, saved_obs) -> None:
        """Warn when replayed envs did not reach the saved observations (see :meth:`load_state`)."""
        M = self._K * self._N
        flat = np.concatenate([np.asarray(x, np.float64).reshape(M, -1) for x in jax.tree_util.tree_leaves(obs)], 1)
        saved = np.concatenate([np.asarray(x, np.float64).reshape(M, -1)
                                for x in jax.tree_util.tree_leaves(saved_obs)], 1)
        if not np.array_equal(flat, saved):
            import warnings

            bad = int(np.argwhere(np.any(flat != saved, axis=1))[0, 0])
            warnings.warn(f"env {self.spec.id!r} did not replay to its saved state (env {bad}: observation "
                          f"{flat[bad]} instead of {saved[bad]}): it is not deterministic given its seed and actions, "
                          f"so this resumed run will differ from an uninterrupted one.", RuntimeWarning, stacklevel=3)

    def compile(self, state: HostRunnerState, eval_episodes: int = 0) -> None:
        """Compile act, the training call and the policy before the first step, by warming them."""
        T, K, N = self.num_steps, self._K, self._N
        act_out = jax.eval_shape(self._act, state.agent, state.key, state.obs, state.carry)
        sds = jax.ShapeDtypeStruct
        obs = obs_map(lambda s: sds((T, K, N) + s.shape, s.dtype), self.spec)
        flags = sds((T, K, N), np.bool_)
        rollout = Transition(obs, sds((T,) + act_out[0].shape, act_out[0].dtype), sds((T, K, N), np.float32), flags,
                             flags, obs, {})
        extras_t = [act_out[1]] * T
        # act and update run every step (update every train_freq steps): keep jit's fast C++ dispatch
        # (an ahead-of-time executable's Python call path was measured at ~0.8 ms for a replay learner's
        # state) and warm them with real calls. The update donates its input, so it is warmed on a copy.
        # The programs compile side by side (runners/common.concurrently): the update on one core while act,
        # the carry reset and the policy compile on the other.
        def acting():
            jax.block_until_ready(self._act(state.agent, state.key, state.obs, state.carry))
            if jax.tree_util.tree_leaves(state.carry):
                jax.block_until_ready(self._reset_carry(state.carry, np.zeros((K, N) if K > 1 else (N,), bool)))
            if eval_episodes:
                zeros = obs_zeros(self.spec, (K, eval_episodes))
                jax.block_until_ready(self._policy(state.agent, zeros, self._eval_carry(eval_episodes)))

        def updating():
            zeros = jax.tree_util.tree_map(lambda x: np.zeros(x.shape, x.dtype), (rollout, extras_t))
            copy = self._copy(state.replace(obs=None, carry=None))
            jax.block_until_ready(self._update(copy, *zeros, jnp.float32(0)))

        concurrently(updating, acting)

    def _eval_carry(self, episodes: int):
        return jax.vmap(lambda _: self.agent_fns.learner.init_carry(episodes))(jnp.arange(self._K))

    def episodes(self, state) -> EpisodeStats:
        return self._batched(state.episodes)

    def counters(self, state) -> Counters:
        return Counters(int(np.asarray(state.env_steps).reshape(-1)[0]), int(np.asarray(state.updates).reshape(-1)[0]),
                        int(np.asarray(state.episodes.count).sum()))

    def rollout(self, actor: Actor, steps_before):
        """One rollout of this driver's envs from ``actor`` (runners/rollout.py), each step checked for
        non-finite values; ``steps_before``: the env steps per seed before it (for messages)."""
        def check(ts, t):
            self._check_finite(ts.obs, ts.final_obs, ts.reward, self._seed, steps_before, (t + 1) * self._N, "step()")

        has_carry = bool(jax.tree_util.tree_leaves(actor.carry))
        return collect(self.envs, self._act, actor, self.num_steps, self.spec, self._K, self._N,
                       self._reset_carry if has_carry else None, check)

    def train_step(self, state: HostRunnerState, rollout: Transition, extras_t, target: float):
        """The compiled training call on a rollout: (agent, key, episodes, env_steps, updates, metrics)."""
        return self._update(state.replace(obs=None, carry=None), rollout, extras_t, np.float32(target))

    def run(self, state: HostRunnerState, n: int, target: float):
        all_metrics = []
        actor = Actor(state.agent, state.key, state.obs, state.carry)
        agent, key, episodes, env_steps, updates = state.agent, state.key, state.episodes, state.env_steps, state.updates
        for _ in range(n):
            rollout, extras_t, actor = self.rollout(actor._replace(agent=agent, key=key), env_steps)
            agent, key, episodes, env_steps, updates, metrics = self.train_step(
                HostRunnerState(agent, actor.key, episodes, env_steps, updates, None, None), rollout, extras_t, target)
            all_metrics.append(metrics)
        state = HostRunnerState(agent, key, episodes, env_steps, updates, actor.obs, actor.carry)
        stacked = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *all_metrics)
        return state, stacked

    def _check_finite(self, obs, final_obs, reward, seed: int, env_steps, offset: int, where: str) -> None:
        """Stop at an env's first NaN/Inf observation or reward, before any update sees it."""
        from tandem.ops.finite import OBSERVATION, REWARD
        from tandem.runners.common import nonfinite_error

        leaves = [(OBSERVATION, "observation", x) for x in jax.tree_util.tree_leaves((obs, final_obs))
                  if np.asarray(x).dtype.kind == "f"]
        for code, name, x in leaves + [(REWARD, "reward", reward)]:
            if x is None or np.isfinite(x).all():
                continue
            flat = np.asarray(x).reshape(self._K * self._N, -1)
            i = int(np.argwhere(~np.isfinite(flat).all(axis=1))[0, 0])
            step = int(np.asarray(env_steps).reshape(-1)[i // self._N if self._K > 1 else 0]) + offset
            raise nonfinite_error(code, step, seed + i // self._N, self.spec.id,
                                  f" (env {self.env_offset + i % self._N} of that seed: {where} returned {name} "
                                  f"{flat[i]})")

    def evaluate(self, state: HostRunnerState, episodes: int, seed: int) -> np.ndarray:
        reset = self._eval_reset if jax.tree_util.tree_leaves(self._eval_carry(1)) else None
        return host_evaluate(self._policy, state.agent, self._eval_carry(episodes), reset, self.make_envs, self.spec,
                             self._K, episodes, seed)

    def _eval_reset(self, carry, done):
        init = self._eval_carry(done.shape[1])
        return reset_done(carry, init, done)

    def agent(self, state):
        return self._batched(state.agent)

    def host_state(self, state):
        obs = state.obs
        return self._batched(state.replace(obs=None)).replace(obs=obs)

    def report(self, state) -> dict:
        return {}

    def close(self):
        if self.envs is not None:
            self.envs.close()
            self.envs = None


def pack_records(records: list[dict]) -> dict:
    """Per-env episode records (envs/gymnasium_host.py) as checkpoint data (``envs.msgpack``)."""
    return {"base": np.array([r["base"] for r in records], np.int64),
            "episode": np.array([r["episode"] for r in records], np.int64),
            "actions": {str(i): r["actions"] for i, r in enumerate(records)}}


def unpack_records(env_records: dict, start: int, count: int) -> list[dict]:
    """Envs start..start+count-1 of :func:`pack_records`' data, as the records their vector env replays."""
    return [{"base": env_records["base"][i], "episode": env_records["episode"][i],
             "actions": env_records["actions"][str(i)]} for i in range(start, start + count)]
