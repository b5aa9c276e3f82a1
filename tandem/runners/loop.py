"""The training loop: a short loop over the phases of a run and a driver.

The driver (runners/driver.py) advances the run; this loop decides when to log, checkpoint and stop,
then evaluates and writes summary.json. What the run is made of (build.py), signals (signals.py), the
checkpoint policy (checkpointing.py), the summary and metrics schema (summary.py) and the progress bar
(progress.py) live in modules of their own.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from tandem.config import TrainConfig
from tandem.errors import Interrupted
from tandem.io.checkpoint import latest_checkpoint
from tandem.io.run_dir import MetricsWriter, write_json
from tandem.runners.build import build
from tandem.runners.checkpointing import crossed, load_run_checkpoint, manifest_for, save_run_checkpoint
from tandem.runners.common import raise_if_faulted
from tandem.runners.progress import Progress
from tandem.runners.schedule import Schedule
from tandem.runners.signals import SignalFlag
from tandem.runners.summary import build_summary, metrics_row


def run_training(cfg: TrainConfig, run_dir: Path, spec, resume: bool = False, initial_state=None,
                 write_config: bool = False):
    """Train through every phase (or to the target), evaluate, write summary.json.
    Returns (summary, driver, state, agent). ``initial_state(driver) -> state``: the start of a new run
    instead of ``driver.init(seed)`` (an architecture search's population, search/population.py).

    SIGINT/SIGTERM at any point: a checkpoint of the state reached, then Interrupted (signals.py).
    ``write_config``: create the run directory and its config.json here, once the signal handlers are in place, so
    a signal seen after config.json exists always leaves a resumable run."""
    t_start = time.perf_counter()
    with SignalFlag() as sig:
        if write_config:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / "config.json", cfg.to_dict())
        agent, driver, sch = build(cfg, spec)
        try:
            return _Run(cfg, run_dir, spec, sig, t_start, agent, driver, sch).train(resume, initial_state)
        except BaseException:
            driver.close()  # host envs (subprocesses with --async-envs) end with the run
            raise


class _Run:
    """One process's part of a run: the loop's state between phases."""

    def __init__(self, cfg, run_dir, spec, sig, t_start, agent, driver, sch: Schedule):
        self.cfg, self.run_dir, self.spec, self.sig, self.t_start = cfg, run_dir, spec, sig, t_start
        self.agent, self.driver, self.sch = agent, driver, sch
        self.K = cfg.run.num_seeds
        self.target = float("nan") if cfg.run.target_return is None else float(cfg.run.target_return)
        self.ckpt_root = run_dir / "checkpoints"
        self.wall_offset, self.seconds_to_target, self.last_ckpt = 0.0, None, None

    def wall(self) -> float:
        return self.wall_offset + time.perf_counter() - self.t_start

    def train(self, resume: bool, initial_state=None):
        cfg, driver = self.cfg, self.driver
        # compile_seconds: initialisation plus ahead-of-time compilation of the training and
        # evaluation programs (with a warm persistent cache, mostly cache loads).
        t0 = time.perf_counter()
        ckpt = latest_checkpoint(self.ckpt_root) if resume else None
        phase_index = 0
        if ckpt is None:
            state = driver.init(cfg.run.seed) if initial_state is None else initial_state(driver)
        else:
            loaded, manifest, env_records = load_run_checkpoint(cfg, driver, ckpt)
            phase_index, self.wall_offset = int(manifest["phase_index"]), float(manifest.get("wall_seconds", 0.0))
            state = driver.load_state(loaded, cfg.run.seed, env_records)
            self.last_ckpt = ckpt
        start = driver.counters(state)
        # TensorBoard's writer imports on its own thread, overlapping the compilation below. On resume,
        # metrics.csv keeps only the rows up to the checkpoint (a killed run may have logged past it).
        self.metrics_out = MetricsWriter(self.run_dir, cfg.run.tensorboard, resume, upto_updates=start.updates)
        try:
            driver.compile(state, cfg.run.eval_episodes)
        except BaseException:
            self.metrics_out.close()
            raise
        compile_seconds = time.perf_counter() - t0

        # The bar counts env steps, or gradient steps when no phase collects any (an offline run).
        self.by_updates = self.sch.total_env_steps == 0
        self.progress = Progress(cfg.run.quiet, self.sch.total_updates if self.by_updates else self.sch.total_env_steps,
                                 f"{cfg.algo} {cfg.run.env}" + (f" x{self.K} seeds" if self.K > 1 else ""))
        run_t0 = time.perf_counter()
        try:
            for index in range(phase_index, len(self.sch.phases)):
                state, reached = self.phase(index, state)
                if reached:
                    break
        finally:
            self.progress.close()
            self.metrics_out.close()
        run_seconds = time.perf_counter() - run_t0

        eval_returns = driver.evaluate(state, cfg.run.eval_episodes, cfg.run.seed) if cfg.run.eval_episodes else None
        if self.sig.signum is not None:  # during the final evaluation: training is complete and checkpointed
            raise Interrupted(self.sig.signum, self.last_ckpt)
        end = driver.counters(state)
        timing = {"wall_seconds": self.wall(), "compile_seconds": compile_seconds, "run_seconds": run_seconds,
                  "sps_steps": (end.env_steps - start.env_steps) * self.K}
        summary = build_summary(cfg, driver, state, timing, eval_returns, self.seconds_to_target)
        write_json(self.run_dir / "summary.json", summary)
        return summary, driver, state, self.agent

    def capture(self, ckpt: Path, env_steps: int) -> None:
        """--capture-video: one episode of seed 0's policy at this checkpoint, read back from it."""
        from tandem.api import load_policy
        from tandem.io.video import record_episode, write

        frames, _ = record_episode(load_policy(self.run_dir, 0, ckpt), self.spec, seed=self.cfg.run.seed)
        write(frames, self.run_dir / "videos" / f"step_{int(env_steps)}.mp4")

    def phase(self, index: int, state):
        """Run phase ``index`` from where the state stands to its end (or the target). Returns (state, reached)."""
        phase, driver, sig = self.sch.phases[index], self.driver, self.sig
        first = sum(p.updates for p in self.sch.phases[:index])  # run-wide updates before this phase
        counters = driver.counters(state)
        pending, interval_t0, interval_steps = [], time.perf_counter(), counters.env_steps

        def checkpoint():
            c = driver.counters(state)
            position = {"phase": phase.name, "phase_index": index, "phase_updates": c.updates - first,
                        "counters": c._asdict()}
            return save_run_checkpoint(self.ckpt_root, self.cfg, driver, state,
                                       manifest_for(self.cfg, self.agent.learner, self.spec, position, self.wall()))

        while counters.updates - first < phase.updates:
            if sig.signum is not None:  # a signal before this update (during start-up or a checkpoint)
                raise Interrupted(sig.signum, checkpoint())
            before = counters.updates - first
            state, m = driver.run(state, min(driver.updates_per_call, phase.updates - before), self.target)
            raise_if_faulted(m, self.cfg.run.seed, self.cfg.run.env)
            counters = driver.counters(state)
            done = counters.updates - first
            pending.append(m)
            episodes = jax.tree_util.tree_map(np.asarray, driver.episodes(state))
            reached = bool(self.cfg.run.target_return is not None and np.all(episodes.reached_step >= 0))
            if reached and self.seconds_to_target is None:
                self.seconds_to_target = self.wall()
            end = reached or done >= phase.updates or sig.signum is not None
            if crossed(phase.log_every, before, done) or end:
                now = time.perf_counter()
                sps = (counters.env_steps - interval_steps) * self.K / max(now - interval_t0, 1e-9)
                row = metrics_row(phase.name, counters, pending, episodes, self.wall(), sps, self.K)
                self.metrics_out.write(row)
                self.progress.update(counters.updates if self.by_updates else counters.env_steps, row)
                pending, interval_t0, interval_steps = [], now, counters.env_steps
            if end or crossed(phase.checkpoint_every, before, done):
                self.last_ckpt = checkpoint()
                if self.cfg.run.capture_video and sig.signum is None:   # a signal: stop now, no episode to film
                    self.capture(self.last_ckpt, counters.env_steps)
            if sig.signum is not None:
                raise Interrupted(sig.signum, self.last_ckpt)
            if reached:
                return state, True
        return state, False
