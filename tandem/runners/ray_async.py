"""The asynchronous Ray runner: workers never wait for the learner.

Each worker always has one call in flight, made with the newest parameters published when it was sent, and is
sent its next call as soon as it answers. Two modes:

- rollouts (``--async``, IMPALA-style): the learner trains on the W oldest rollouts that have arrived, whichever
  workers sent them, a [T, W*M] batch; V-trace corrects for the lag (the versions published between the
  parameters a rollout was collected with and the update that learns from it), which is measured.
- gradients (``a3c``, a parameter server): each worker computes the gradient of its own rollout with the
  parameters it was sent (the learner's ``gradient``), and the learner applies each gradient as it arrives
  (``apply_gradient``); one training call is one worker's rollout.

A rollout or gradient more than --max-policy-lag versions old is dropped (its episodes still count). Neither mode
is bit-reproducible: the order in which workers answer decides the run. A checkpoint holds the learner and each
worker's envs as of its last rollout that was learned from (or dropped); rollouts in flight or waiting are lost,
and resume collects them again. Failed workers are replaced as in runners/ray_runner.py.

Shapes: W workers of M envs, T steps; one seed (K = 1; the checkpoint form has the seed axis).
"""

from __future__ import annotations

import collections
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from tandem.runners.common import episode_stats_init, init_seeds, track_episodes
from tandem.runners.driver import Counters
from tandem.runners.host_runner import HostDriver, HostRunnerState, pack_records, unpack_records
from tandem.runners.ray_runner import WorkerPool, worker_metrics


class AsyncRayState(flax.struct.PyTreeNode):
    agent: Any
    key: jax.Array
    episodes: Any  # EpisodeStats over all W*M envs (worker w's envs are w*M..(w+1)*M-1)
    env_steps: jax.Array  # int32: steps learned from
    updates: jax.Array  # int32: training calls applied (= parameter versions published)
    obs: Any  # numpy [1, W*M, *obs]: each worker's envs after its last rollout that counted
    carry: Any  # the acting state [W*M, ...] at the same point
    worker_restarts: jax.Array  # int32


class _Arrival:
    """What a worker sent back: its payload (a rollout, or (grads, metrics, reward, done)), the version of the
    parameters it acted with, and its envs' state after it."""

    def __init__(self, w: int, version: int, out):
        self.w, self.version = w, version
        self.payload, self.obs, self.carry, self.records, self.seconds = out


class AsyncRayDriver:
    """The Driver (runners/driver.py) of the asynchronous Ray runner; see the module docstring."""

    name = "ray"
    updates_per_call = 1

    def __init__(self, cfg, agent, make_envs, spec):
        self.cfg, self.agent_fns, self.spec = cfg, agent, spec
        needs = agent.needs
        self.gradients = needs.worker_gradients
        self.W, self.T = cfg.run.num_workers, needs.rollout_steps
        self.M = needs.num_envs if self.gradients else needs.num_envs // self.W
        self.E = self.W * self.M  # every env of the run
        self.max_lag = cfg.run.max_policy_lag
        learner = agent.learner
        # The learner's half: policy and evaluation (over the batch width it learns from; it never steps envs).
        self.local = HostDriver(agent, make_envs, spec, needs.num_envs, self.T, 1, False)
        self.pool = WorkerPool(cfg, spec, self.W, self.M)
        M = self.M

        def track(episodes, reward, done, w, env_steps, target):
            """Fold worker w's rollout (reward, done [T, M]) into the stats of its envs."""
            lo = w * M
            part = episodes._replace(ret=jax.lax.dynamic_slice(episodes.ret, (lo,), (M,)))
            part, (fin_sum, fin_n) = track_episodes(part, reward, done, env_steps, target)
            ret = jax.lax.dynamic_update_slice(episodes.ret, part.ret, (lo,))
            return part._replace(ret=ret), fin_sum, fin_n

        def train(a, key, rollout):
            key, sub = jax.random.split(key)
            a, metrics = agent.train(a, rollout, sub)
            return a, key, metrics

        def apply(a, grads):
            return a.replace(learner=learner.apply_gradient(a.learner, grads))

        self._track = jax.jit(track)
        self._train = jax.jit(train, donate_argnums=0)
        self._apply = jax.jit(apply, donate_argnums=0)
        self._inflight: dict = {}  # ref -> (worker, version)
        self._queue: collections.deque = collections.deque()  # rollouts arrived, not learned from yet (rollouts mode)
        self._latest = None  # (version, object ref) of the newest published parameters
        self._tasks = 0  # calls sent: each call's key is the run key folded with it
        self._dropped = 0
        self._base_key = None
        self._ends: list = [None] * self.W  # per worker: (obs, carry, records) after its last answer
        self._counted: list = [[] for _ in range(self.W)]  # per worker: records after its last rollout that counted

    # -- state ---------------------------------------------------------------------------------
    def template(self, seed: int) -> AsyncRayState:
        host = self.local.template(seed)
        episodes = init_seeds(lambda _: episode_stats_init(self.E), seed, 1)
        from tandem.envs.spec import obs_zeros

        carry = jax.tree_util.tree_map(np.asarray, jax.vmap(lambda _: self.agent_fns.learner.init_carry(self.E))(
            jnp.arange(1)))
        return AsyncRayState(host.agent, host.key, episodes, host.env_steps, host.updates,
                             obs_zeros(self.spec, (1, 1, self.E)), carry, np.zeros((1,), np.int32))

    def _unbatched(self, loaded: AsyncRayState) -> AsyncRayState:
        one = lambda x: np.asarray(x)[0]  # noqa: E731
        host = self.local.from_host(HostRunnerState(loaded.agent, loaded.key, loaded.episodes, loaded.env_steps,
                                                    loaded.updates, None, None))
        return AsyncRayState(host.agent, host.key, jax.tree_util.tree_map(jnp.asarray, host.episodes),
                             host.env_steps, host.updates, jax.tree_util.tree_map(one, loaded.obs),
                             jax.tree_util.tree_map(one, loaded.carry), int(one(loaded.worker_restarts)))

    def host_state(self, state: AsyncRayState) -> AsyncRayState:
        batched = lambda x: np.asarray(x)[None]  # noqa: E731
        host = self.local.host_state(HostRunnerState(state.agent, state.key, state.episodes, state.env_steps,
                                                     state.updates, None, None))
        return AsyncRayState(host.agent, host.key, host.episodes, host.env_steps,
                             host.updates, jax.tree_util.tree_map(batched, state.obs),
                             jax.tree_util.tree_map(batched, state.carry), np.array([state.worker_restarts], np.int32))

    def from_host(self, loaded: AsyncRayState) -> AsyncRayState:
        return self._unbatched(loaded)

    def init(self, seed: int) -> AsyncRayState:
        state = self._unbatched(self.template(seed))
        obs = self.pool.start_all(seed)
        return self._begin(state.replace(obs=jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, 1), *obs)))

    def load_state(self, loaded: AsyncRayState, seed: int, env_records) -> AsyncRayState:
        from tandem.io.checkpoint import CheckpointError

        if env_records is None:
            raise CheckpointError("the checkpoint has no envs.msgpack: a Ray-runner checkpoint cannot be resumed "
                                  "without the record of its episodes in progress.")
        state = self._unbatched(loaded)
        obs = self.pool.restore_all(seed, [unpack_records(env_records, w * self.M, self.M) for w in range(self.W)])
        self.local.check_replayed(jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, 1), *obs), state.obs)
        self.pool.restarts = int(state.worker_restarts)
        return self._begin(state)

    def _begin(self, state: AsyncRayState) -> AsyncRayState:
        """Publish the parameters and send every worker its first call."""
        self._base_key = np.asarray(jax.random.fold_in(state.key, 0x5A))
        self._publish(state.agent, int(np.asarray(state.updates)))
        for w in range(self.W):
            obs_w, carry_w = self.pool.slice(w, state.obs, state.carry)
            self._ends[w] = (obs_w, carry_w, self.pool.records[w])
            self._counted[w] = self.pool.records[w]
            self._send(w, int(np.asarray(state.env_steps)))
        return state

    def _publish(self, agent, version: int) -> None:
        self._latest = (version, self.pool.ray.put(jax.tree_util.tree_map(lambda x: np.array(x, copy=True), agent)))

    def _send(self, w: int, steps_before: int) -> None:
        """Worker w's next call, from where its envs stand, with the newest parameters."""
        version, ref = self._latest
        obs_w, carry_w, _ = self._ends[w]
        key = np.asarray(jax.random.fold_in(self._base_key, self._tasks))
        self._tasks += 1
        call = self.pool.workers[w].gradient if self.gradients else self.pool.workers[w].collect
        self._inflight[call.remote(ref, key, obs_w, carry_w, steps_before)] = (w, version)

    def _next_arrival(self, steps_before: int, send: bool = True) -> _Arrival:
        """The next answer of any worker (``send``: that worker is sent its next call at once); a failed worker
        is replaced, its envs rebuilt from where its failed call started, and the call sent again."""
        while True:
            ready, _ = self.pool.ray.wait(list(self._inflight), num_returns=1)
            w, version = self._inflight.pop(ready[0])
            out = self.pool.result(ready[0], w, "a rollout")
            if out is None:  # replaced: its restore point is where the failed call started
                self._send(w, steps_before)
                continue
            arrival = _Arrival(w, version, out)
            self._ends[w] = (arrival.obs, arrival.carry, arrival.records)
            self.pool.records[w] = arrival.records  # a replacement restarts from here
            self.pool.seconds[w] = arrival.seconds
            if send:
                self._send(w, steps_before)
            return arrival

    # -- the Driver protocol -------------------------------------------------------------------
    def compile(self, state: AsyncRayState, eval_episodes: int = 0) -> None:
        """Compile the training call (on a copy: it donates) and the policy while the workers collect."""
        from tandem.envs.spec import obs_zeros

        copy = self.local._copy(state.agent)
        if self.gradients:
            grads = jax.tree_util.tree_map(jnp.zeros_like, copy.learner.params)
            jax.block_until_ready(self._apply(copy, grads))
        else:
            from tandem.buffers.transition import Transition

            T, N = self.T, self.E
            act = jax.eval_shape(self.agent_fns.act, state.agent, obs_zeros(self.spec, (N,)), state.key,
                                 jax.tree_util.tree_map(lambda x: x[:N], state.carry))
            flags = np.zeros((T, N), bool)
            rollout = Transition(obs_zeros(self.spec, (T, N)), np.zeros((T,) + act[0].shape, act[0].dtype),
                                 np.zeros((T, N), np.float32), flags, flags, obs_zeros(self.spec, (T, N)),
                                 jax.tree_util.tree_map(lambda s: np.zeros((T,) + s.shape, s.dtype), act[1]))
            jax.block_until_ready(self._train(copy, state.key, rollout))
        zeros = np.zeros((self.T, self.M))
        jax.block_until_ready(self._track(state.episodes, zeros, zeros.astype(bool), 0, state.env_steps,
                                          np.float32(0)))
        if eval_episodes:
            jax.block_until_ready(self.local._policy(state.agent, obs_zeros(self.spec, (1, eval_episodes)),
                                                     self.local._eval_carry(eval_episodes)))

    def run(self, state: AsyncRayState, n: int, target: float):
        all_metrics = []
        for _ in range(n):
            state, metrics, lag = (self._apply_one(state, target) if self.gradients else self._learn_one(state, target))
            all_metrics.append({**metrics, **worker_metrics(self.pool, self.M * self.T, lag=lag,
                                                             queue=len(self._queue)),
                                "ray/dropped": np.float32(self._dropped)})
        stacked = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *all_metrics)
        return state, jax.tree_util.tree_map(lambda x: x.reshape(x.shape[0], 1), stacked)

    def _fold(self, state: AsyncRayState, arrival: _Arrival, reward, done, target):
        """Count an arrival's episodes, and move its worker's part of the checkpointed envs state to after it."""
        episodes, fin_sum, fin_n = self._track(state.episodes, reward, done, arrival.w, state.env_steps,
                                               np.float32(target))
        lo, hi = arrival.w * self.M, (arrival.w + 1) * self.M
        self._counted[arrival.w] = arrival.records
        obs = jax.tree_util.tree_map(lambda full, part: _set(full, part, lo, hi, 1), state.obs, arrival.obs)
        carry = jax.tree_util.tree_map(lambda full, part: _set(full, part, lo, hi, 0), state.carry, arrival.carry)
        return state.replace(episodes=episodes, obs=obs, carry=carry), fin_sum, fin_n

    def _apply_one(self, state: AsyncRayState, target: float):
        """A3C: wait for the next gradient not too old, apply it, publish the new version, and send its worker its
        next call with it (the others keep collecting meanwhile)."""
        while True:
            arrival = self._next_arrival(int(np.asarray(state.env_steps)), send=False)
            grads, metrics, reward, done = arrival.payload
            state, fin_sum, fin_n = self._fold(state, arrival, reward, done, target)
            lag = int(np.asarray(state.updates)) - arrival.version
            if lag <= self.max_lag:
                break
            self._dropped += 1
            self._send(arrival.w, int(np.asarray(state.env_steps)))
        agent = self._apply(state.agent, grads)
        env_steps = state.env_steps + self.M * self.T
        state = state.replace(agent=agent, env_steps=env_steps, updates=state.updates + 1,
                              worker_restarts=self.pool.restarts)
        self._publish(agent, int(np.asarray(state.updates)))
        self._send(arrival.w, int(np.asarray(env_steps)))
        metrics = {**metrics, "fault_step": np.asarray(env_steps), "finished_return_sum": fin_sum,
                   "finished_episodes": fin_n}
        return state, metrics, lag

    def _learn_one(self, state: AsyncRayState, target: float):
        """IMPALA: wait until W rollouts not too old have arrived, train on the W oldest, publish the new version."""
        fin_sum, fin_n = np.float32(0), np.int32(0)
        batch: list[_Arrival] = []
        while len(batch) < self.W:
            while not self._queue:
                self._queue.append(self._next_arrival(int(np.asarray(state.env_steps))))
            arrival = self._queue.popleft()
            done = arrival.payload.terminated[:, 0] | arrival.payload.truncated[:, 0]
            state, s, c = self._fold(state, arrival, arrival.payload.reward[:, 0], done, target)
            fin_sum, fin_n = fin_sum + s, fin_n + c
            if int(np.asarray(state.updates)) - arrival.version <= self.max_lag:
                batch.append(arrival)
            else:
                self._dropped += 1
        lag = float(np.mean([int(np.asarray(state.updates)) - a.version for a in batch]))
        rollout = jax.tree_util.tree_map(lambda *xs: np.concatenate([x[:, 0] for x in xs], 1),
                                         *[a.payload for a in batch])  # [T, W*M]
        agent, key, metrics = self._train(state.agent, state.key, rollout)
        env_steps = state.env_steps + self.E * self.T
        state = state.replace(agent=agent, key=key, env_steps=env_steps, updates=state.updates + 1,
                              worker_restarts=self.pool.restarts)
        self._publish(agent, int(np.asarray(state.updates)))
        metrics = {**metrics, "fault_step": np.asarray(env_steps), "finished_return_sum": fin_sum,
                   "finished_episodes": fin_n}
        return state, metrics, lag

    def evaluate(self, state: AsyncRayState, episodes: int, seed: int) -> np.ndarray:
        return self.local.evaluate(HostRunnerState(state.agent, state.key, None, state.env_steps, state.updates,
                                                   None, None), episodes, seed)

    def counters(self, state: AsyncRayState) -> Counters:
        return Counters(int(np.asarray(state.env_steps)), int(np.asarray(state.updates)),
                        int(np.asarray(state.episodes.count).sum()))

    def episodes(self, state: AsyncRayState):
        return jax.tree_util.tree_map(lambda x: np.asarray(x)[None], state.episodes)

    def agent(self, state: AsyncRayState):
        return jax.tree_util.tree_map(lambda x: np.asarray(x)[None], state.agent)

    def env_records(self) -> dict:
        """Each worker's records as of its last rollout that counted (rollouts still queued are lost on resume:
        their worker's envs go back to before them, where the checkpointed observations stand)."""
        return pack_records([r for rs in self._counted for r in rs])

    def report(self, state) -> dict:
        return {"worker_restarts": int(self.pool.restarts), "num_workers": self.W, "envs_per_worker": self.M,
                "policy_lag": None, "asynchronous": True, "dropped_stale": int(self._dropped)}

    def close(self) -> None:
        self.pool.close()
        self.local.close()


def _set(full, part, lo: int, hi: int, axis: int):
    full = np.array(full, copy=True)
    index = [slice(None)] * full.ndim
    index[axis] = slice(lo, hi)
    full[tuple(index)] = np.asarray(part)
    return full
