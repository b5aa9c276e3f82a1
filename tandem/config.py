"""Frozen, typed configuration. Validation happens here, before anything is compiled or written."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from tandem.errors import out_of_range


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What to train on and how the run is driven (shared by every algorithm)."""

    env: str = "CartPole-v1"
    """Environment: a Gymnasium ID (CartPole-v1), gymnax:<name> (gymnax:CartPole-v1), or package.module:ClassName."""
    total_steps: int = 100_000
    """Environment steps per seed (rounded up to whole rollouts)."""
    seed: int = 0
    """Random seed; with --num-seeds K the seeds are seed, seed+1, ..., seed+K-1."""
    num_seeds: int = 1
    """Independent seeds trained together in one program (vmapped over seeds)."""
    target_return: float | None = None
    """Stop once the mean return of the last 20 finished training episodes reaches this (every seed)."""
    run_dir: str | None = None
    """Run directory (default: runs/<algo>-<env>-<time>)."""
    resume: str | None = None
    """Resume the run in this directory from its latest checkpoint, up to its configured total."""
    eval_episodes: int = 10
    """Deterministic evaluation episodes per seed at the end of the run."""
    log_every: int = 0
    """Updates between metric rows (0: about 50 rows per run)."""
    checkpoint_every: int = 0
    """Updates between checkpoints (0: about 5 per run); a final checkpoint is always written."""
    async_envs: bool = False
    """Gymnasium envs in subprocesses (AsyncVectorEnv) instead of in this process."""
    tensorboard: bool = True
    """Write TensorBoard events under <run_dir>/tb."""
    quiet: bool = False
    """No progress bar or final report on the terminal."""

    def validate(self) -> None:
        if self.total_steps < 1:
            raise out_of_range("total_steps", self.total_steps, "an integer >= 1")
        if self.seed < 0 or self.seed > 2**31 - 1_000_000:
            raise out_of_range("seed", self.seed, "0 <= seed < 2**31 - 1e6")
        if not 1 <= self.num_seeds <= 4096:
            raise out_of_range("num_seeds", self.num_seeds, "1 <= num_seeds <= 4096")
        if self.eval_episodes < 0:
            raise out_of_range("eval_episodes", self.eval_episodes, "an integer >= 0")
        if self.log_every < 0:
            raise out_of_range("log_every", self.log_every, "an integer >= 0")
        if self.checkpoint_every < 0:
            raise out_of_range("checkpoint_every", self.checkpoint_every, "an integer >= 0")
        if self.target_return is not None and not math.isfinite(self.target_return):
            raise out_of_range("target_return", self.target_return, "a finite number")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The full resolved configuration of a run: what config.json holds."""

    algo: str
    run: RunConfig
    algo_config: Any

    def to_dict(self) -> dict:
        return {"algo": self.algo, "run": dataclasses.asdict(self.run), "algo_config": dataclasses.asdict(self.algo_config)}

    def validate(self) -> None:
        self.run.validate()
        self.algo_config.validate()


def config_from_dict(d: dict) -> TrainConfig:
    """Rebuild a TrainConfig from config.json (e.g. for resume and eval)."""
    from tandem.algos import get_algo

    algo = get_algo(d["algo"])
    ac = {k: tuple(v) if isinstance(v, list) else v for k, v in d["algo_config"].items()}
    return TrainConfig(d["algo"], RunConfig(**d["run"]), algo.config_cls(**ac))
