"""The schedule of a run: a sequence of phases, each with its own update budget and intervals."""

from __future__ import annotations

import dataclasses
import math

PHASE_KINDS = ("online", "offline")
"""Phase kinds a run can hold: ``online``, the learner trains on what its driver collects; ``offline``, on batches
of a dataset (runners/dataset_runner.py), an update being one gradient step."""


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase: ``updates`` training calls, a metrics row every ``log_every`` of them and a checkpoint every
    ``checkpoint_every`` (and at its end). Its counters start at zero; its rows carry its name."""

    name: str
    kind: str
    updates: int
    log_every: int
    checkpoint_every: int


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The phases of a run, in order, and the env steps per seed of one online update."""

    phases: tuple[Phase, ...]
    steps_per_update: int

    @property
    def total_updates(self) -> int:
        """Updates of every phase together."""
        return sum(p.updates for p in self.phases)

    @property
    def total_env_steps(self) -> int:
        """Env steps per seed the online phases collect."""
        return sum(p.updates for p in self.phases if p.kind == "online") * self.steps_per_update


def schedule(cfg) -> Schedule:
    """The schedule of a validated TrainConfig: today one phase, online (``total_steps`` env steps rounded up to whole
    rollouts) or offline (``total_steps`` gradient steps) for an algorithm that trains on a dataset, logging about 50 rows and checkpointing about 5 times unless --log-every/--checkpoint-every."""
    needs = cfg.algo_config.needs
    kind = "offline" if needs.dataset is not None else "online"
    total = cfg.run.total_steps if kind == "offline" else max(1, math.ceil(cfg.run.total_steps / needs.steps_per_update))
    phase = Phase(kind, kind, total, cfg.run.log_every or max(1, total // 50),
                  cfg.run.checkpoint_every or max(1, total // 5))
    return Schedule((phase,), needs.steps_per_update)
