"""The Ray runner: rollout workers as Ray actors, the learner in this process.

W workers (``--num-workers``) each step M = num_envs / W Gymnasium envs with the learner's act function,
compiled in the worker; env i of the run is env i - w*M of worker w, seeded as env i of the host runner.
The learner trains on the W rollouts side by side, a [T, N] batch, and publishes its parameters through
the object store once per version.

``--lag 1`` (the default, Cleanba-style): while the learner computes version u+1 from rollout u, the workers
collect rollout u+1 with version u, so the policy that acted is exactly one version behind the one that
learns, whatever the workers' speed. Every worker's key is a function of the run's key and the rollout, and
the driver keeps what each worker's envs need to be rebuilt (their episode records, observations and
acting state after the last rollout), so a run is reproducible given its seed, resumes exactly, and a worker
that dies (its process killed, its env raising) is replaced and its rollout collected again from the same
state: the run ends with the same parameters as without the failure. ``--lag 0``: the workers wait for the
update and act with the newest parameters (on-policy, no overlap).

Shapes: T steps, N = W * M envs, one seed (K = 1; the checkpoint form has the seed axis).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import flax.struct
import jax
import numpy as np

from tandem.buffers.transition import Transition
from tandem.errors import TandemInputError, TandemRuntimeError
from tandem.runners.driver import Counters
from tandem.runners.host_runner import HostDriver, HostRunnerState, pack_records, unpack_records
from tandem.runners.rollout import Actor


class RayRunnerState(flax.struct.PyTreeNode):
    agent: Any
    key: jax.Array
    episodes: Any
    env_steps: jax.Array  # int32: steps learned from (the pending rollout is not counted yet)
    updates: jax.Array  # int32
    obs: Any  # numpy [1, N, *obs]: after the pending rollout
    carry: Any  # the learner's per-env acting state [N, ...] after the pending rollout
    pending: Transition  # numpy [T, 1, N]: collected, not yet learned from; extras hold the behaviour log_prob
    worker_restarts: jax.Array  # int32: workers replaced so far


def make_ray_driver(cfg, spec, agent, sch) -> "RayDriver":
    """The registry's factory (runners/driver.py), for runs with --num-workers: the asynchronous driver
    (runners/ray_async.py) with --async or for A3C, else the lag-1/lag-0 one."""
    from tandem.envs.registry import backend_named

    make_envs = backend_named(spec.backend).make(cfg.run.env)
    if cfg.run.async_workers or agent.needs.worker_gradients:
        from tandem.runners.ray_async import AsyncRayDriver

        return AsyncRayDriver(cfg, agent, make_envs, spec)
    return RayDriver(cfg, agent, make_envs, spec)


class RolloutWorker:
    """One Ray actor: M envs of the run, stepped with the learner's act function (compiled here). Stateless
    between calls but for its envs: the driver sends the parameters, key, observations and acting state of
    every rollout, so a replacement worker continues exactly where the dead one stood."""

    def __init__(self, cfg_dict: dict, index: int, envs_per_worker: int):
        from tandem.config import config_from_dict
        from tandem.envs import env_spec
        from tandem.envs.registry import backend_named
        from tandem.runners.agent import make_agent
        from tandem.runners.build import make_learner
        from tandem.runners.schedule import schedule

        cfg = config_from_dict(cfg_dict)
        spec = env_spec(cfg.run.env)
        agent = make_agent(make_learner(cfg, spec, schedule(cfg)), cfg.algo_config.needs, spec)
        self.index, self._learner = index, agent.learner
        self._gradient = None  # compiled at the first A3C call
        self.host = HostDriver(agent, backend_named(spec.backend).make(cfg.run.env), spec, envs_per_worker,
                               agent.needs.rollout_steps, 1, False, env_offset=index * envs_per_worker)

    def start(self, seed: int):
        """Reset the envs from their seeds; returns the observations [1, M, ...]."""
        return _guarded(lambda: self.host.init(seed).obs)

    def restore(self, seed: int, records: list[dict]):
        """Re-create the envs and replay each one's episode in progress; returns the observations [1, M, ...]."""
        from tandem.envs.spec import obs_reshape

        def go():
            self.host._seed = seed
            self.host._new_envs()
            return obs_reshape(self.host.spec, self.host.envs.replay(records), (1, self.host.num_envs))

        return _guarded(go)

    def collect(self, agent, key, obs, carry, steps_before: int):
        """One rollout: (Transition [T, 1, M] with the stacked extras, obs [1, M, ...], carry, records, seconds)."""
        def go():
            t0 = time.perf_counter()
            rollout, extras_t, actor = self.host.rollout(Actor(agent, key, obs, carry), np.int32(steps_before))
            extras = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *extras_t)
            carry_out = jax.tree_util.tree_map(np.asarray, actor.carry)
            return (rollout._replace(extras=extras), actor.obs, carry_out, self.host.envs.episode_records(),
                    time.perf_counter() - t0)

        return _guarded(go)

    def gradient(self, agent, key, obs, carry, steps_before: int):
        """A3C: one rollout, then the learner's gradient on it with ``agent``'s parameters. Returns ((grads, metrics,
        reward [T, M], done [T, M]), obs, carry, records, seconds); the rollout itself stays here."""
        if self._gradient is None:
            learner = self._learner

            def grad(a, rollout, k):
                squeezed = jax.tree_util.tree_map(lambda x: x[:, 0], rollout)  # [T, 1, M] -> [T, M]
                return learner.gradient(a.learner, squeezed, k)

            self._gradient = jax.jit(grad)

        def go():
            t0 = time.perf_counter()
            k_act, k_grad = jax.random.split(key)
            rollout, extras_t, actor = self.host.rollout(Actor(agent, k_act, obs, carry), np.int32(steps_before))
            extras = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *extras_t)
            grads, metrics = jax.device_get(self._gradient(agent, rollout._replace(extras=extras), k_grad))
            done = rollout.terminated[:, 0] | rollout.truncated[:, 0]
            return ((grads, metrics, rollout.reward[:, 0], done), actor.obs, jax.tree_util.tree_map(np.asarray, actor.carry),
                    self.host.envs.episode_records(), time.perf_counter() - t0)

        return _guarded(go)

    def close(self) -> None:
        self.host.close()


class _TandemFailure:
    """A tandem error raised in a worker (a non-finite observation, a broken env's output): it stops the run
    with its own message, as on the host runner; any other exception makes the worker be replaced."""

    def __init__(self, error: Exception):
        self.message = str(error)


def _guarded(fn):
    try:
        return fn()
    except (TandemInputError, TandemRuntimeError) as e:
        return _TandemFailure(e)


class WorkerPool:
    """The W rollout workers of a run, kept alive: each worker's restore point (the episode records of its envs
    after its last rollout that counts), its replacement after a failure (process killed, env raising, or a
    failure while rebuilding), and the count of replacements against --max-worker-restarts."""

    def __init__(self, cfg, spec, num_workers: int, envs_per_worker: int):
        self.cfg, self.spec, self.W, self.M = cfg, spec, num_workers, envs_per_worker
        self.max_restarts = cfg.run.max_worker_restarts
        self.ray = None  # connected when workers are first needed (evaluating a checkpoint needs none)
        self.workers: list = [None] * self.W
        self.records: list[list[dict]] = [[] for _ in range(self.W)]
        self.restarts, self.seed = 0, 0
        self.seconds = np.zeros(self.W)  # the last rollout's collection time per worker

    def connect(self) -> None:
        """Join the run's cluster (runners/ray_cluster.py) and declare the worker actor: a CPU each, or an equal
        share of the cluster's CPUs when there are more workers than CPUs."""
        from tandem.runners.ray_cluster import connect

        if self.ray is not None:
            return
        self.ray = connect(self.cfg.run.ray_address)
        cpus = float(self.ray.cluster_resources().get("CPU", 1.0))
        self._worker_cls = self.ray.remote(num_cpus=min(1.0, cpus / self.W), max_restarts=0,
                                           runtime_env={"env_vars": _worker_env()})(RolloutWorker)

    def spawn(self, w: int) -> None:
        """A new worker w (the old one, if any, killed)."""
        self._kill(w)
        self.workers[w] = self._worker_cls.remote(self.cfg.to_dict(), w, self.M)

    def start_all(self, seed: int) -> list:
        """Fresh workers, their envs reset from their seeds; returns each worker's observations [1, M, ...]."""
        self.connect()
        self.seed = seed
        for w in range(self.W):
            self.spawn(w)
        return self.call_all(lambda w: self.workers[w].start.remote(seed), what="reset()")

    def restore_all(self, seed: int, records: list[list[dict]]) -> list:
        """Fresh workers replaying their envs' episodes in progress; returns each worker's observations."""
        self.connect()
        self.seed, self.records = seed, records
        for w in range(self.W):
            self.spawn(w)
        return self.call_all(lambda w: self.workers[w].restore.remote(seed, self.records[w]), what="resume")

    def slice(self, w: int, obs, carry):
        """Worker w's part of the observations [1, W*M, ...] and acting state [W*M, ...]."""
        lo, hi = w * self.M, (w + 1) * self.M
        return (jax.tree_util.tree_map(lambda x: np.asarray(x)[:, lo:hi], obs),
                jax.tree_util.tree_map(lambda x: np.asarray(x)[lo:hi], carry))

    def result(self, ref, w: int, what: str):
        """The result of worker w's call ``ref``, or None after replacing the worker (it died or raised; the
        caller makes the call again). A tandem error raised in the worker stops the run with its message."""
        try:
            out = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            self.replace(w, e, what)
            return None
        if isinstance(out, _TandemFailure):
            raise TandemRuntimeError(f"Ray worker {w}: {out.message}")
        return out

    def call_all(self, make_call, refs: dict | None = None, what: str = "") -> list:
        """Wait for ``make_call(w)`` (a remote call on worker w) of every worker (``refs``: the calls already
        made); a worker that failed is replaced and its call made again."""
        refs = {make_call(w): w for w in range(self.W)} if refs is None else dict(refs)
        out: list = [None] * self.W
        while refs:
            ready, _ = self.ray.wait(list(refs), num_returns=1)
            w = refs.pop(ready[0])
            result = self.result(ready[0], w, what)
            if result is None:
                refs[make_call(w)] = w
            else:
                out[w] = result
        return out

    def replace(self, w: int, error, what: str) -> None:
        """Replace worker w after ``error``; rebuild its envs from its restore point."""
        self._count(w, error, what)
        import warnings

        warnings.warn(f"Ray worker {w} failed during {what} ({_one_line(error)}); replaced (restart "
                      f"{self.restarts} of at most {self.max_restarts}).", RuntimeWarning, stacklevel=3)
        while True:
            self.spawn(w)
            call = (self.workers[w].restore.remote(self.seed, self.records[w]) if self.records[w]
                    else self.workers[w].start.remote(self.seed))
            try:
                result = self.ray.get(call)
            except self.ray.exceptions.RayError as e:  # failed again while rebuilding its envs
                self._count(w, e, "rebuilding its envs")
                continue
            if isinstance(result, _TandemFailure):
                raise TandemRuntimeError(f"Ray worker {w}: {result.message}")
            return

    def _count(self, w: int, error, what: str) -> None:
        self.restarts += 1
        if self.restarts > self.max_restarts:
            raise TandemRuntimeError(
                f"env {self.spec.id!r}: Ray workers failed {self.restarts} times, more than --max-worker-restarts "
                f"{self.max_restarts}; the last failure (worker {w}, during {what}): {_one_line(error)}") from None

    def _kill(self, w: int) -> None:
        if self.workers[w] is not None and self.ray is not None:
            try:
                self.ray.kill(self.workers[w], no_restart=True)
            except Exception:  # already dead
                pass
        self.workers[w] = None

    def alive(self) -> int:
        """Workers running (not yet or no longer replaced)."""
        return sum(w is not None for w in self.workers)

    def close(self) -> None:
        """Kill the workers and leave the cluster (a local one stops)."""
        from tandem.runners.ray_cluster import disconnect

        for w in range(self.W):
            self._kill(w)
        if self.ray is not None:
            disconnect()
            self.ray = None


class RayDriver:
    """The Driver (runners/driver.py) over Ray rollout workers, --lag 1 or 0; see the module docstring."""

    name = "ray"
    updates_per_call = 1

    def __init__(self, cfg, agent, make_envs, spec):
        self.cfg, self.agent_fns, self.spec = cfg, agent, spec
        self.W = cfg.run.num_workers
        self.N, self.T = agent.needs.num_envs, agent.needs.rollout_steps
        self.M = self.N // self.W
        self.lag = cfg.run.lag
        # The learner's half: the training call, the policy and evaluation, over all N envs (it never steps them).
        self.local = HostDriver(agent, make_envs, spec, self.N, self.T, 1, False)
        self.pool = WorkerPool(cfg, spec, self.W, self.M)

    def _start_collect(self, agent, key, obs, carry, steps_before: int):
        """Send one rollout to every worker, acting with ``agent`` (published once, as a copy: the caller may
        donate its buffers next). Returns what :meth:`_finish_collect` waits on."""
        pool = self.pool
        agent_ref = pool.ray.put(jax.tree_util.tree_map(lambda x: np.array(x, copy=True), agent))
        keys = [np.asarray(jax.random.fold_in(key, w)) for w in range(self.W)]

        def call(w):
            obs_w, carry_w = pool.slice(w, obs, carry)
            return pool.workers[w].collect.remote(agent_ref, keys[w], obs_w, carry_w, int(steps_before))

        return call, {call(w): w for w in range(self.W)}

    def _finish_collect(self, calls):
        """The [T, 1, N] batch of the workers' rollouts, then the obs and carry after it (the records are kept)."""
        outs = self.pool.call_all(*calls, what="a rollout")
        cat = lambda axis: (lambda *xs: np.concatenate(xs, axis))  # noqa: E731
        rollout = jax.tree_util.tree_map(cat(2), *[o[0] for o in outs])
        obs_out = jax.tree_util.tree_map(cat(1), *[o[1] for o in outs])
        carry_out = jax.tree_util.tree_map(cat(0), *[o[2] for o in outs])
        self.pool.records = [o[3] for o in outs]
        self.pool.seconds = np.array([o[4] for o in outs])
        return rollout, obs_out, carry_out

    # -- the Driver protocol -----------------------------------------------------------------------
    def template(self, seed: int) -> RayRunnerState:
        host = self.local.template(seed)
        T, N = self.T, self.N
        sds = jax.eval_shape(self.local._act, self.local._squeeze(host.agent), host.key[0], host.obs,
                             jax.tree_util.tree_map(lambda x: x[0], host.carry))
        from tandem.envs.spec import obs_zeros

        obs = obs_zeros(self.spec, (1, T, 1, N))
        flags = np.zeros((1, T, 1, N), bool)
        pending = Transition(obs, np.zeros((1, T) + sds[0].shape, sds[0].dtype), np.zeros((1, T, 1, N), np.float32),
                             flags, flags, obs,
                             jax.tree_util.tree_map(lambda s: np.zeros((1, T) + s.shape, s.dtype), sds[1]))
        return RayRunnerState(host.agent, host.key, host.episodes, host.env_steps, host.updates, host.obs, host.carry,
                              pending, np.zeros((1,), np.int32))

    def _host(self, state: RayRunnerState) -> HostRunnerState:
        return HostRunnerState(state.agent, state.key, state.episodes, state.env_steps, state.updates, state.obs,
                               state.carry)

    def _unbatched(self, loaded: RayRunnerState) -> RayRunnerState:
        host = self.local.from_host(HostRunnerState(loaded.agent, loaded.key, loaded.episodes, loaded.env_steps,
                                                    loaded.updates, loaded.obs, loaded.carry))
        pending = jax.tree_util.tree_map(lambda x: np.asarray(x)[0], loaded.pending)
        return RayRunnerState(host.agent, host.key, host.episodes, host.env_steps, host.updates, host.obs,
                              host.carry, pending, int(np.asarray(loaded.worker_restarts).reshape(-1)[0]))

    def init(self, seed: int) -> RayRunnerState:
        state = self._unbatched(self.template(seed))
        obs = self.pool.start_all(seed)
        obs = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, 1), *obs)
        return self._first_rollout(state.replace(obs=obs))

    def _first_rollout(self, state: RayRunnerState) -> RayRunnerState:
        """Rollout 0, with the initial parameters."""
        key, k_roll = jax.random.split(state.key)
        pending, obs, carry = self._finish_collect(self._start_collect(state.agent, k_roll, state.obs, state.carry, 0))
        return state.replace(key=key, obs=obs, carry=carry, pending=pending)

    def compile(self, state: RayRunnerState, eval_episodes: int = 0) -> None:
        self.local.compile(self._host(state), eval_episodes)

    def run(self, state: RayRunnerState, n: int, target: float):
        all_metrics = []
        agent, key, episodes, env_steps, updates = state.agent, state.key, state.episodes, state.env_steps, state.updates
        obs, carry, pending = state.obs, state.carry, state.pending
        for _ in range(n):
            key, k_roll = jax.random.split(key)
            host = HostRunnerState(agent, key, episodes, env_steps, updates, None, None)
            extras_t = [jax.tree_util.tree_map(lambda x, t=t: x[t], pending.extras) for t in range(self.T)]
            steps_next = int(np.asarray(env_steps)) + self.N * self.T
            if self.lag == 1:
                # Rollout u+1 with version u goes out first (published before the update donates the agent's
                # buffers); the update is dispatched while the workers collect it.
                calls = self._start_collect(agent, k_roll, obs, carry, steps_next)
                out = self.local.train_step(host, pending._replace(extras={}), extras_t, target)
            else:  # the update first; the workers then act with its result
                out = self.local.train_step(host, pending._replace(extras={}), extras_t, target)
                calls = self._start_collect(out[0], k_roll, obs, carry, steps_next)
            agent, key, episodes, env_steps, updates, metrics = out
            pending, obs, carry = self._finish_collect(calls)
            all_metrics.append({**metrics, **worker_metrics(self.pool, self.M * self.T, lag=self.lag, queue=0)})
        state = RayRunnerState(agent, key, episodes, env_steps, updates, obs, carry, pending, self.pool.restarts)
        stacked = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *all_metrics)
        return state, stacked

    def evaluate(self, state: RayRunnerState, episodes: int, seed: int) -> np.ndarray:
        return self.local.evaluate(self._host(state), episodes, seed)

    def counters(self, state: RayRunnerState) -> Counters:
        return self.local.counters(self._host(state))

    def episodes(self, state: RayRunnerState):
        return self.local.episodes(self._host(state))

    def agent(self, state: RayRunnerState):
        return self.local.agent(self._host(state))

    def host_state(self, state: RayRunnerState) -> RayRunnerState:
        host = self.local.host_state(self._host(state))
        pending = jax.tree_util.tree_map(lambda x: np.asarray(x)[None], state.pending)
        return RayRunnerState(host.agent, host.key, host.episodes, host.env_steps, host.updates, host.obs, host.carry,
                              pending, np.array([state.worker_restarts], np.int32))

    def env_records(self) -> dict:
        return pack_records([r for rs in self.pool.records for r in rs])

    def load_state(self, loaded: RayRunnerState, seed: int, env_records) -> RayRunnerState:
        """Fresh workers, each replaying its envs' episodes in progress (as the host runner's load_state)."""
        from tandem.io.checkpoint import CheckpointError

        if env_records is None:
            raise CheckpointError("the checkpoint has no envs.msgpack: a Ray-runner checkpoint cannot be resumed "
                                  "without the record of its episodes in progress.")
        obs = self.pool.restore_all(seed, [unpack_records(env_records, w * self.M, self.M) for w in range(self.W)])
        obs = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, 1), *obs)
        self.local.check_replayed(obs, loaded.obs)
        state = self._unbatched(loaded)
        self.pool.restarts = int(state.worker_restarts)
        return state

    def from_host(self, loaded: RayRunnerState) -> RayRunnerState:
        return self._unbatched(loaded)

    def report(self, state) -> dict:
        return {"worker_restarts": int(self.pool.restarts), "num_workers": self.W, "envs_per_worker": self.M,
                "policy_lag": self.lag, "asynchronous": False}

    def close(self) -> None:
        self.pool.close()
        self.local.close()


def worker_metrics(pool: WorkerPool, steps_per_rollout: int, lag: float, queue: int) -> dict:
    """The Ray runner's metrics of one update: policy lag, workers replaced so far, workers alive, rollouts
    waiting for the learner, and each worker's env steps per second (median over workers, last rollout)."""
    return {"ray/policy_lag": np.float32(lag), "ray/worker_restarts": np.float32(pool.restarts),
            "ray/workers_alive": np.float32(pool.alive()), "ray/queue_length": np.float32(queue),
            "ray/sps_per_worker": np.float32(np.median(steps_per_rollout / np.maximum(pool.seconds, 1e-9)))}


def _worker_env() -> dict:
    """A worker's environment: one XLA device and one thread per op (the learner has the cores' thread pool; a
    worker acts on M envs, where more threads only contend), the learner's import path (for
    package.module:ClassName envs) and its TANDEM_* settings (the compilation cache among them)."""
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=1 --xla_cpu_multi_thread_eigen=false "
                        "intra_op_parallelism_threads=1",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
    env.update({k: v for k, v in os.environ.items() if k.startswith("TANDEM_")})
    return env


def _one_line(error) -> str:
    """A worker's failure in one line: the exception its task raised (an env's, say), or how its process died."""
    import re

    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        text = f"{type(cause).__name__}: {cause}"
    elif "ActorDied" in type(error).__name__ or "died" in str(error):
        pid = re.search(r"pid: (\d+)", str(error))
        text = "its process died" + (f" (pid {pid.group(1)})" if pid else "")
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())
    return text[:300] + ("..." if len(text) > 300 else "")
