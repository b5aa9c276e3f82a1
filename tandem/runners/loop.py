"""The outer training loop shared by both runners: progress, metrics, checkpoints, target, signals.

A driver (JaxDriver or HostDriver) advances the run by a number of updates; this loop decides when
to log, checkpoint and stop, then evaluates and writes summary.json.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from pathlib import Path

import jax
import numpy as np

from tandem import __version__
from tandem.buffers.replay import with_replay_from, without_replay
from tandem.config import TrainConfig
from tandem.errors import Interrupted, TandemRuntimeError
from tandem.io.checkpoint import latest_checkpoint, load_checkpoint, load_extra, save_checkpoint
from tandem.io.run_dir import MetricsWriter, clean_float, write_json
from tandem.runners.common import first_nonfinite_leaf, params_fingerprint, raise_if_faulted, window_mean


class _SignalFlag:
    """First SIGINT/SIGTERM: finish the current update (or chunk), checkpoint, stop. A second one: stop at
    once (Interrupted with ``immediate``); checkpoints are written under a temporary name and renamed,
    so stopping mid-write leaves the complete ones as they were."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise Interrupted(signum, immediate=True)
        self.signum = signum

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


def build(cfg: TrainConfig, spec):
    """The learner and the driver (JAX or host runner, by environment) of a config. Returns (learner, driver, schedule).

    The JAX runner advances one log interval of updates per compiled call."""
    sch = schedule(cfg)
    learner = _make_learner(cfg, spec, sch)
    return learner, make_driver(cfg, spec, learner, sch["log_every"]), sch


def _make_learner(cfg: TrainConfig, spec, sch: dict):
    from tandem.algos import get_algo

    return get_algo(cfg.algo).make_learner(cfg.algo_config, spec, sch["total_updates"])


def preflight(cfg: TrainConfig, spec) -> None:
    """Checks that need the environment's spec, before anything is compiled, allocated or written:
    the algorithm accepts the action space, and the learner state (a replay buffer above all) fits in memory."""
    from tandem.buffers.replay import check_state_memory

    learner = _make_learner(cfg, spec, schedule(cfg))  # may reject the env
    shapes = jax.eval_shape(learner.init, jax.random.PRNGKey(0))
    nbytes = sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree_util.tree_leaves(shapes))
    what = f"the {cfg.algo} state" + (f" with --buffer-size {cfg.algo_config.buffer_size}"
                                      if hasattr(cfg.algo_config, "buffer_size") else "")
    check_state_memory(nbytes, cfg.run.num_seeds, what)


def _saves_replay(cfg: TrainConfig) -> bool:
    return getattr(cfg.algo_config, "save_replay", True)


def load_run_checkpoint(cfg: TrainConfig, driver, ckpt: Path, envs: bool = True):
    """Load a checkpoint of this run into the driver's template (in checkpoint form). A run saved
    without its replay buffer (--no-save-replay) continues with the template's empty one.
    Returns (state, manifest, the env records when ``envs`` (to resume), else None)."""
    template = jax.tree_util.tree_map(np.asarray, driver.template(cfg.run.seed))  # already in checkpoint form
    if _saves_replay(cfg):
        loaded, manifest = load_checkpoint(ckpt, template, expect_algo=cfg.algo)
    else:
        loaded, manifest = load_checkpoint(ckpt, without_replay(template), expect_algo=cfg.algo)
        loaded = with_replay_from(loaded, template)
    return loaded, manifest, load_extra(ckpt, "envs", manifest) if envs else None


def make_driver(cfg: TrainConfig, spec, learner, chunk: int):
    ac = cfg.algo_config
    if spec.is_jax:
        from tandem.envs import make_jax_env
        from tandem.runners.jax_runner import JaxDriver

        return JaxDriver(learner, make_jax_env(cfg.run.env), ac.num_envs, ac.num_steps, cfg.run.num_seeds, chunk)
    from tandem.runners.host_runner import HostDriver

    return HostDriver(learner, cfg.run.env, spec, ac.num_envs, ac.num_steps, cfg.run.num_seeds, cfg.run.async_envs)


def schedule(cfg: TrainConfig) -> dict:
    ac = cfg.algo_config
    steps_per_update = ac.num_envs * ac.num_steps
    total_updates = max(1, math.ceil(cfg.run.total_steps / steps_per_update))
    log_every = cfg.run.log_every or max(1, total_updates // 50)
    ckpt_every = cfg.run.checkpoint_every or max(1, total_updates // 5)
    return dict(steps_per_update=steps_per_update, total_updates=total_updates, log_every=log_every,
                ckpt_every=ckpt_every)


def manifest_for(cfg: TrainConfig, learner, updates_done: int, wall_seconds: float) -> dict:
    return {"tandem_version": __version__, "algo": cfg.algo, "config": cfg.to_dict(),
            "network_spec": learner.network_spec, "updates": int(updates_done), "wall_seconds": float(wall_seconds)}


class _Progress:
    def __init__(self, quiet: bool, total_steps: int, label: str):
        self._p = None
        if quiet:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[info]}"), TimeElapsedColumn(), transient=False)
        self._p.start()
        self._task = self._p.add_task(label, total=total_steps, info="compiling...")

    def update(self, steps: int, info: str):
        if self._p is not None:
            self._p.update(self._task, completed=steps, info=info)

    def close(self):
        if self._p is not None:
            self._p.stop()


def run_training(cfg: TrainConfig, run_dir: Path, spec, resume: bool = False):
    """Train to the end (or the target), evaluate, write summary.json. Returns (summary, driver, state, learner).

    SIGINT/SIGTERM at any point: a checkpoint of the state reached, then Interrupted (see _SignalFlag)."""
    t_start = time.perf_counter()
    with _SignalFlag() as sig:
        learner, driver, sch = build(cfg, spec)
        try:
            return _run_training(cfg, run_dir, spec, resume, sig, t_start, learner, driver, sch)
        except BaseException:
            driver.close()  # Gymnasium envs (subprocesses with --async-envs) end with the run
            raise


def _run_training(cfg: TrainConfig, run_dir: Path, spec, resume: bool, sig: _SignalFlag, t_start: float,
                  learner, driver, sch):
    is_jax = spec.is_jax
    chunk = sch["log_every"] if is_jax else 1  # the host runner checks the target after every update
    K = cfg.run.num_seeds
    target = float("nan") if cfg.run.target_return is None else float(cfg.run.target_return)
    ckpt_root = run_dir / "checkpoints"

    # compile_seconds: initialisation plus ahead-of-time compilation of the training and
    # evaluation programs (with a warm persistent cache, mostly cache loads).
    t0 = time.perf_counter()
    updates_done, wall_offset = 0, 0.0
    ckpt = latest_checkpoint(ckpt_root) if resume else None
    if ckpt is None:
        state = driver.init(cfg.run.seed)
    else:
        loaded, manifest, env_records = load_run_checkpoint(cfg, driver, ckpt)
        updates_done, wall_offset = int(manifest["updates"]), float(manifest.get("wall_seconds", 0.0))
        state = driver.load_state(loaded, cfg.run.seed, env_records)
    # TensorBoard's writer imports on its own thread, overlapping the compilation below. On resume,
    # metrics.csv keeps only the rows up to the checkpoint (a killed run may have logged past it).
    metrics_out = MetricsWriter(run_dir, cfg.run.tensorboard, resume, upto_steps=updates_done * sch["steps_per_update"])
    try:
        driver.compile(state, cfg.run.eval_episodes)
    except BaseException:
        metrics_out.close()
        raise
    compile_seconds = time.perf_counter() - t0
    updates_at_start = updates_done

    progress = _Progress(cfg.run.quiet, sch["total_updates"] * sch["steps_per_update"],
                         f"{cfg.algo} {cfg.run.env}" + (f" x{K} seeds" if K > 1 else ""))
    pending, interval_t0, interval_updates = [], time.perf_counter(), 0
    seconds_to_target = None
    last_ckpt = ckpt
    run_t0 = time.perf_counter()

    def crossed(every: int, before: int, after: int) -> bool:
        """Did the updates (before, after] pass a multiple of every? (JAX chunks need not align with it.)"""
        return after // every > before // every

    def checkpoint():
        host = _host(driver, state)
        bad = first_nonfinite_leaf(host.agent)
        if bad is not None:  # a last guard: the fault checks stop a run before this can happen
            raise TandemRuntimeError(f"refusing to write a checkpoint at env step {env_steps}: the learner state "
                                     f"holds a non-finite value at {bad}.")
        return save_checkpoint(ckpt_root, env_steps, host if _saves_replay(cfg) else without_replay(host),
                               manifest_for(cfg, learner, updates_done, wall_offset + time.perf_counter() - t_start),
                               extras={"envs": driver.env_records()} if not is_jax else None)

    try:
        env_steps = updates_done * sch["steps_per_update"]
        while updates_done < sch["total_updates"]:
            if sig.signum is not None:  # a signal before this update (during start-up or a checkpoint)
                raise Interrupted(sig.signum, checkpoint())
            n = min(chunk, sch["total_updates"] - updates_done)
            state, m = driver.run(state, n, target)
            raise_if_faulted(m, cfg.run.seed, cfg.run.env)
            before, updates_done = updates_done, updates_done + n
            interval_updates += n
            pending.append(m)
            episodes = jax.tree_util.tree_map(np.asarray, driver.episodes(state))
            reached = bool(cfg.run.target_return is not None and np.all(episodes.reached_step >= 0))
            if reached and seconds_to_target is None:
                seconds_to_target = wall_offset + time.perf_counter() - t_start
            end = reached or updates_done >= sch["total_updates"] or sig.signum is not None
            env_steps = updates_done * sch["steps_per_update"]
            if crossed(sch["log_every"], before, updates_done) or end:
                now = time.perf_counter()
                row = _metrics_row(pending, episodes, env_steps, wall_offset + now - t_start,
                                   interval_updates * sch["steps_per_update"] * K / max(now - interval_t0, 1e-9), K)
                metrics_out.write(row)
                ret = row["episode_return_mean"]
                progress.update(env_steps, f"return {ret:8.2f}  sps {row['charts/sps']:9.0f}"
                                if ret is not None else f"sps {row['charts/sps']:9.0f}")
                pending, interval_t0, interval_updates = [], now, 0
            if end or crossed(sch["ckpt_every"], before, updates_done):
                last_ckpt = checkpoint()
            if sig.signum is not None:
                raise Interrupted(sig.signum, last_ckpt)
            if reached:
                break
    finally:
        progress.close()
        metrics_out.close()
    run_seconds = time.perf_counter() - run_t0
    env_steps = updates_done * sch["steps_per_update"]

    eval_returns = driver.evaluate(state, cfg.run.eval_episodes, cfg.run.seed) if cfg.run.eval_episodes else None
    if sig.signum is not None:  # during the final evaluation: training is complete and checkpointed
        raise Interrupted(sig.signum, last_ckpt)
    agent = jax.tree_util.tree_map(np.asarray, driver.agent(state))
    per_seed_fp = [params_fingerprint(jax.tree_util.tree_map(lambda x: x[k], agent.params)) for k in range(K)]
    reached_steps = np.asarray(driver.episodes(state).reached_step)
    reached_all = bool(cfg.run.target_return is not None and np.all(reached_steps >= 0))
    per_seed_eval = eval_returns.mean(axis=1).tolist() if eval_returns is not None else []
    summary = {
        "algo": cfg.algo,
        "env": cfg.run.env,
        "runner": "jax" if is_jax else "host",
        "seeds": [cfg.run.seed + k for k in range(K)],
        "env_steps": int(env_steps),
        "env_steps_all_seeds": int(env_steps * K),
        "wall_seconds": wall_offset + time.perf_counter() - t_start,
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
        "sps": (updates_done - updates_at_start) * sch["steps_per_update"] * K / max(run_seconds, 1e-9),
        "final_eval_return": clean_float(np.mean(per_seed_eval)) if per_seed_eval else None,
        "final_eval_return_std": clean_float(eval_returns.std()) if eval_returns is not None else None,
        "final_eval_return_per_seed": [clean_float(x) for x in per_seed_eval],
        "eval_episodes": int(cfg.run.eval_episodes),
        "target_return": cfg.run.target_return,
        "reached_target": reached_all,
        "steps_to_target": int(reached_steps.max()) if reached_all else None,
        "steps_to_target_per_seed": [int(s) if s >= 0 else None for s in reached_steps.tolist()],
        "seconds_to_target": seconds_to_target if reached_all else None,
        "params_fingerprint": params_fingerprint(agent.params),
        "params_fingerprint_per_seed": per_seed_fp,
        "num_params": int(sum(np.prod(x.shape[1:]) for x in jax.tree_util.tree_leaves(agent.params))),
        "tandem_version": __version__,
    }
    write_json(run_dir / "summary.json", summary)
    return summary, driver, state, learner


def _host(driver, state):
    return jax.tree_util.tree_map(np.asarray, driver.host_state(state))


def _metrics_row(pending, episodes, env_steps, wall, sps, K) -> dict:
    """One metrics.csv row: losses averaged over the interval's updates and the seeds."""
    merged = {k: np.concatenate([np.asarray(m[k]).reshape(-1, K) for m in pending]) for k in pending[0]}
    merged.pop("fault"), merged.pop("fault_step")  # checked by raise_if_faulted, not logged
    fin_n = merged.pop("finished_episodes").sum()
    fin_sum = merged.pop("finished_return_sum").sum()
    per_seed = np.asarray(jax.vmap(window_mean)(episodes))
    row = {"env_steps": int(env_steps), "wall_seconds": round(wall, 4),
           "episode_return_mean": clean_float(np.nanmean(per_seed)) if np.isfinite(per_seed).any() else None,
           "episode_return_recent": clean_float(fin_sum / fin_n) if fin_n else None,
           "episodes": int(np.asarray(episodes.count).sum()),
           "charts/sps": round(float(sps), 1)}
    for k, v in sorted(merged.items()):
        v = np.asarray(v, np.float64)  # NaN marks updates without that metric (before learning starts, delayed steps)
        row[k] = clean_float(np.nanmean(v)) if np.isfinite(v).any() else None
    if K > 1:
        for k in range(K):
            row[f"episode_return_mean/seed{k}"] = clean_float(per_seed[k])
    return row
