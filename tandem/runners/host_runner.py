"""The host runner: Gymnasium vector envs stepped in Python, a jitted act and a jitted update.

K seeds run as K independent agents over K*N environments in one vector env: acting and updating
are vmapped over the seed axis, so K seeds cost one jitted call per step, not K. With one seed the
driver keeps the learner state without a seed axis (and adds it back for the loop and checkpoints):
squeezing the axis inside the jitted update made XLA copy a replay buffer on every call.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from tandem.algos.learner import reset_done
from tandem.runners.common import EpisodeStats, episode_stats_init, init_seeds, track_episodes, vmap_seeds

ENV_SEED_STRIDE = 10_007  # env i of seed s is seeded s * stride + i


class HostRunnerState(flax.struct.PyTreeNode):
    agent: Any
    key: jax.Array
    episodes: EpisodeStats
    env_steps: jax.Array
    obs: Any  # numpy [K, N, *obs_shape]; the envs' own state lives in Gymnasium objects
    carry: Any  # the learner's per-env acting state [K, N, ...] (e.g. exploration noise)


class HostDriver:
    def __init__(self, learner, env_id: str, spec, num_envs: int, num_steps: int, num_seeds: int, asynchronous: bool):
        self.learner, self.env_id, self.spec = learner, env_id, spec
        self.num_envs, self.num_steps, self.num_seeds, self.asynchronous = num_envs, num_steps, num_seeds, asynchronous
        self.envs, self._seed = None, 0
        K, N = num_seeds, num_envs
        s = None if K == 1 else 0  # the seed axis of the learner state inside the driver (none for one seed)

        def act(agent, key, obs, carry):
            def one(a, k, o, c):
                k, sub = jax.random.split(k)
                action, extras, c = learner.act(a, o, sub, c)
                return action, extras, k, c

            return vmap_seeds(one, K, in_axes=(s, s, 0, s), out_axes=(0, 0, s, s))(agent, key, obs, carry)

        def reset_carry(carry, done):  # called only after a step where some episode ended
            return reset_done(carry, self._carry0, done)

        def update(state: HostRunnerState, traj, extras_t, target):
            traj = {**traj, **jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *extras_t)}

            def one(agent, key, episodes, env_steps, tr):
                key, sub = jax.random.split(key)
                done = jnp.logical_or(tr["terminated"], tr["truncated"])
                episodes, (fin_sum, fin_n) = track_episodes(episodes, tr["reward"], done, env_steps, target)
                agent, metrics = learner.update(agent, tr, sub)
                env_steps = env_steps + N * num_steps
                metrics = {**metrics, "fault_step": env_steps, "finished_return_sum": fin_sum, "finished_episodes": fin_n}
                return agent, key, episodes, env_steps, metrics

            agent, key, episodes, env_steps, metrics = vmap_seeds(one, K, in_axes=(s, s, s, s, 1),
                                                                  out_axes=(s, s, s, s, 0))(
                state.agent, state.key, state.episodes, state.env_steps, traj)
            return agent, key, episodes, env_steps, metrics

        self._carry0 = learner.init_carry(N) if K == 1 else jax.vmap(lambda _: learner.init_carry(N))(jnp.arange(K))
        self._act = jax.jit(act)
        self._reset_carry = jax.jit(reset_carry)
        # The state is donated: a replay buffer inside it is updated in place, not copied each step.
        self._update = jax.jit(update, donate_argnums=0)
        self._policy = jax.jit(vmap_seeds(learner.policy, K, in_axes=(s, 0)))
        self._K, self._N = K, N
        self._done_shape = (K, N) if K > 1 else (N,)  # done flags as the acting state holds them
        # Whole-tree helpers as one compiled call each (eager ops compile once per leaf shape).
        self._squeeze = jax.jit(lambda tree: jax.tree_util.tree_map(lambda x: x[0], tree))
        self._copy = jax.jit(lambda tree: jax.tree_util.tree_map(jnp.copy, tree))

    def _env_seeds(self, seed: int) -> list[int]:
        """Env i of seed k starts from seed (seed + k) * stride + i; later episodes from episode_seed()."""
        return [(seed + k) * ENV_SEED_STRIDE + i for k in range(self._K) for i in range(self._N)]

    def _new_envs(self):
        from tandem.envs.gymnasium_host import HostVecEnv

        self.close()
        self.envs = HostVecEnv(self.env_id, self._K * self._N, seed=0, asynchronous=self.asynchronous)

    def template(self, seed: int) -> HostRunnerState:
        """The state at the start of training in checkpoint form (a seed axis on every leaf), without environments."""
        def one(key):
            k_agent, k_run = jax.random.split(key)
            return HostRunnerState(self.learner.init(k_agent), k_run, episode_stats_init(self._N),
                                   jnp.zeros((), jnp.int32), None, self.learner.init_carry(self._N))

        state = init_seeds(one, seed, self._K)
        return state.replace(obs=np.zeros((self._K, self._N) + tuple(self.spec.obs_shape), np.float32))

    def _batched(self, tree):
        """The seed axis back, on host arrays (numpy: no device op per call)."""
        return jax.tree_util.tree_map(lambda x: np.asarray(x)[None] if self._K == 1 else np.asarray(x), tree)

    def _unbatched(self, state: HostRunnerState) -> HostRunnerState:
        if self._K != 1:
            return state
        obs = state.obs
        return self._squeeze(state.replace(obs=None)).replace(obs=obs)

    def from_host(self, loaded: HostRunnerState) -> HostRunnerState:
        """A state in checkpoint form (seed axis on every leaf) in this driver's form (no environments)."""
        obs = loaded.obs
        return self._unbatched(jax.tree_util.tree_map(jnp.asarray, loaded.replace(obs=None))).replace(obs=obs)

    def init(self, seed: int) -> HostRunnerState:
        state = self._unbatched(self.template(seed))
        self._seed = seed
        self._new_envs()
        obs = self.envs.reset(self._env_seeds(seed))
        self._check_finite(obs, None, None, seed, np.zeros((), np.int32), 0, "reset()")
        return state.replace(obs=obs.reshape(state.obs.shape))

    def env_records(self) -> dict:
        """What replays every env's episode in progress (checkpointed as ``envs.msgpack``)."""
        records = self.envs.episode_records()
        return {"base": np.array([r["base"] for r in records], np.int64),
                "episode": np.array([r["episode"] for r in records], np.int64),
                "actions": {str(i): r["actions"] for i, r in enumerate(records)}}

    def load_state(self, loaded, seed: int, env_records) -> HostRunnerState:
        """After loading a checkpoint: re-create the Gymnasium envs and replay each one's episode in
        progress from its seed and recorded actions, which restores the envs exactly (see
        envs/gymnasium_host.py). An env that does not replay to the saved observation is not
        deterministic given its seed and actions: the run goes on from the replayed state, with a warning."""
        from tandem.io.checkpoint import CheckpointError

        if env_records is None:
            raise CheckpointError("the checkpoint has no envs.msgpack: a host-runner checkpoint cannot be resumed "
                                  "without the record of its episodes in progress.")
        M = self._K * self._N
        records = [{"base": env_records["base"][i], "episode": env_records["episode"][i],
                    "actions": env_records["actions"][str(i)]} for i in range(M)]
        self._seed = seed
        self._new_envs()
        obs = self.envs.replay(records)
        saved = np.asarray(loaded.obs).reshape(obs.shape)
        if not np.array_equal(obs, saved):
            import warnings

            bad = int(np.argwhere(np.any(obs.reshape(M, -1) != saved.reshape(M, -1), axis=1))[0, 0])
            warnings.warn(f"env {self.env_id!r} did not replay to its saved state (env {bad}: observation "
                          f"{obs[bad]} instead of {saved[bad]}): it is not deterministic given its seed and actions, "
                          f"so this resumed run will differ from an uninterrupted one.", RuntimeWarning, stacklevel=2)
        return self.from_host(loaded).replace(obs=obs.reshape((self._K, self._N) + obs.shape[1:]))

    def compile(self, state: HostRunnerState, eval_episodes: int = 0) -> None:
        """Compile act, update and policy before the first step (their shapes are known), by warming them."""
        T = self.num_steps
        act_out = jax.eval_shape(self._act, state.agent, state.key, state.obs, state.carry)
        sds = jax.ShapeDtypeStruct
        K, N = self._K, self._N
        obs = sds((T, K, N) + tuple(self.spec.obs_shape), np.float32)
        traj = {"obs": obs, "action": sds((T,) + act_out[0].shape, act_out[0].dtype),
                "reward": sds((T, K, N), np.float32), "terminated": sds((T, K, N), np.bool_),
                "truncated": sds((T, K, N), np.bool_), "final_obs": obs}
        extras_t = [act_out[1]] * T
        # act and update run every step (update every train_freq steps): keep jit's fast C++ dispatch
        # (an ahead-of-time executable's Python call path was measured at ~0.8 ms for a replay learner's
        # state) and warm them with real calls. The update donates its input, so it is warmed on a copy.
        jax.block_until_ready(self._act(state.agent, state.key, state.obs, state.carry))
        if jax.tree_util.tree_leaves(state.carry):
            jax.block_until_ready(self._reset_carry(state.carry, np.zeros(self._done_shape, bool)))
        zeros = jax.tree_util.tree_map(lambda x: np.zeros(x.shape, x.dtype), (traj, extras_t))
        copy = self._copy(state.replace(obs=None, carry=None))
        jax.block_until_ready(self._update(copy, *zeros, jnp.float32(0)))
        del copy
        if eval_episodes:
            zeros = np.zeros((K, eval_episodes) + tuple(self.spec.obs_shape), np.float32)
            jax.block_until_ready(self._policy(state.agent, zeros))

    def episodes(self, state) -> EpisodeStats:
        return self._batched(state.episodes)

    def run(self, state: HostRunnerState, n: int, target: float):
        K, N, T = self._K, self._N, self.num_steps
        obs_shape = tuple(self.spec.obs_shape)
        all_metrics = []
        agent, key, episodes, env_steps, obs, carry = (state.agent, state.key, state.episodes, state.env_steps,
                                                       state.obs, state.carry)
        has_carry = bool(jax.tree_util.tree_leaves(carry))
        for _ in range(n):
            # Fresh buffers per rollout: the previous update may still be reading the last ones.
            buf = {"obs": np.empty((T, K, N) + obs_shape, np.float32),
                   "final_obs": np.empty((T, K, N) + obs_shape, np.float32),
                   "reward": np.empty((T, K, N), np.float32),
                   "terminated": np.empty((T, K, N), bool), "truncated": np.empty((T, K, N), bool)}
            actions, extras_t = [], []
            for t in range(T):
                action, extras, key, carry = self._act(agent, key, obs, carry)
                action = np.asarray(action)  # [K, N, *action_shape]
                ts = self.envs.step(action.reshape((K * N,) + action.shape[2:]))
                self._check_finite(ts.obs, ts.final_obs, ts.reward, self._seed, env_steps, (t + 1) * N, "step()")
                actions.append(action)
                extras_t.append(extras)  # stays on the device; stacked inside the jitted update
                buf["obs"][t] = obs
                buf["final_obs"][t] = ts.final_obs.reshape((K, N) + obs_shape)
                buf["reward"][t] = ts.reward.reshape(K, N)
                buf["terminated"][t] = ts.terminated.reshape(K, N)
                buf["truncated"][t] = ts.truncated.reshape(K, N)
                obs = ts.obs.reshape((K, N) + obs_shape)
                if has_carry and (ts.terminated.any() or ts.truncated.any()):
                    carry = self._reset_carry(carry, (ts.terminated | ts.truncated).reshape(self._done_shape))
            buf["action"] = np.stack(actions)
            agent, key, episodes, env_steps, metrics = self._update(
                HostRunnerState(agent, key, episodes, env_steps, None, None), buf, extras_t, np.float32(target))
            all_metrics.append(metrics)
        state = HostRunnerState(agent, key, episodes, env_steps, obs, carry)
        stacked = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *all_metrics)
        return state, stacked

    def _check_finite(self, obs, final_obs, reward, seed: int, env_steps, offset: int, where: str) -> None:
        """Stop at an env's first NaN/Inf observation or reward, before any update sees it."""
        from tandem.ops.finite import OBSERVATION, REWARD
        from tandem.runners.common import nonfinite_error

        for code, name, x in ((OBSERVATION, "observation", obs), (OBSERVATION, "observation", final_obs),
                              (REWARD, "reward", reward)):
            if x is None or np.isfinite(x).all():
                continue
            flat = np.asarray(x).reshape(self._K * self._N, -1)
            i = int(np.argwhere(~np.isfinite(flat).all(axis=1))[0, 0])
            step = int(np.asarray(env_steps).reshape(-1)[i // self._N if self._K > 1 else 0]) + offset
            raise nonfinite_error(code, step, seed + i // self._N, self.env_id,
                                  f" (env {i % self._N} of that seed: {where} returned {name} {flat[i]})")

    def evaluate(self, state: HostRunnerState, episodes: int, seed: int) -> np.ndarray:
        """Deterministic-policy returns [K, episodes]: each eval env plays its first episode to the end."""
        from tandem.envs.gymnasium_host import HostVecEnv

        K = self._K
        envs = HostVecEnv(self.env_id, K * episodes, seed=0, asynchronous=False)
        try:
            obs = envs.reset([(seed + k) * ENV_SEED_STRIDE + 500_000 + e for k in range(K) for e in range(episodes)])
            ret = np.zeros(K * episodes)
            alive = np.ones(K * episodes, bool)
            limit = self.spec.max_episode_steps or 10_000
            for _ in range(limit):
                action = np.asarray(self._policy(state.agent, obs.reshape((K, episodes) + obs.shape[1:])))
                ts = envs.step(action.reshape((K * episodes,) + action.shape[2:]))
                ret += np.where(alive, ts.reward, 0.0)
                alive &= ~(ts.terminated | ts.truncated)
                obs = ts.obs
                if not alive.any():
                    break
            return ret.reshape(K, episodes)
        finally:
            envs.close()

    def agent(self, state):
        return self._batched(state.agent)

    def host_state(self, state):
        obs = state.obs
        return self._batched(state.replace(obs=None)).replace(obs=obs)

    def close(self):
        if self.envs is not None:
            self.envs.close()
            self.envs = None
