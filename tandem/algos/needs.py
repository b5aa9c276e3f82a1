"""What an algorithm asks of the runner, declared by its config (``config.needs``): runners read this,
never probe a config with hasattr. Plain data; importing it imports nothing heavy."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ReplayNeeds:
    """A replay buffer kept by the runner side: ``capacity`` rows per seed; each training call stores the
    rollout, then (once ``learning_starts`` transitions are stored) runs ``gradient_steps`` calls of
    ``learn`` on ``batch_size`` rows sampled uniformly. Until then actions are uniformly random.
    ``save``: checkpoints hold the buffer (exact resume)."""

    capacity: int
    batch_size: int
    gradient_steps: int
    learning_starts: int
    save: bool = True


@dataclasses.dataclass(frozen=True)
class DatasetNeeds:
    """An offline learner: it trains on a dataset (``--dataset``), ``batch_size`` transitions sampled uniformly
    per call of ``learn``, never on what an environment gives; the environment only evaluates it. Its
    ``--total-steps`` counts gradient steps."""

    batch_size: int


@dataclasses.dataclass(frozen=True)
class RunnerNeeds:
    """The rollout shape per seed (``num_envs`` envs x ``rollout_steps`` steps between training calls),
    the gradient steps a training call makes when they are counted in an int32 step counter (None: not
    counted), the replay buffer, if any, and whether the learner's gradients are computed by the Ray workers
    (``worker_gradients``: A3C; ``num_envs`` is then each worker's, a training call one worker's rollout)."""

    num_envs: int
    rollout_steps: int
    gradient_steps_per_call: int | None = None
    replay: ReplayNeeds | None = None
    rollout_flag: str = "--num-steps"  # the flag that sets rollout_steps, for messages
    worker_gradients: bool = False  # A3C: each rollout's gradient computed on its worker, applied on arrival
    dataset: DatasetNeeds | None = None  # an offline learner (behaviour cloning, batch RL)

    @property
    def steps_per_update(self) -> int:
        """Environment steps per seed between two training calls."""
        return self.num_envs * self.rollout_steps
