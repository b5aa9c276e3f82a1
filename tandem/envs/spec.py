"""The one environment protocol everything above `envs/` sees.

Actions are canonical: an integer in ``[0, num_actions)`` for a discrete space, a float vector in
``[-1, 1]^action_dim`` for a bounded Box (the adapter rescales it to the Box bounds). Every step
returns one :class:`TimeStep` with ``terminated`` and ``truncated`` kept apart and ``final_obs``,
the observation the action actually led to (before any automatic reset), so a learner can
bootstrap from it when an episode was cut by a time limit.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, NamedTuple


class TimeStep(NamedTuple):
    """One batched environment transition, after automatic reset.

    obs:        [N, *obs_shape] float32, the observation to act on next (a reset one where done).
    reward:     [N] float32.
    terminated: [N] bool, the episode reached a terminal state: do not bootstrap.
    truncated:  [N] bool, the episode was cut (time limit): bootstrap from ``final_obs``.
    final_obs:  [N, *obs_shape] float32, the successor of the action; equals ``obs`` unless done.
    """

    obs: Any
    reward: Any
    terminated: Any
    truncated: Any
    final_obs: Any


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """What an algorithm needs to know about an environment, as plain data."""

    id: str
    backend: Literal["gymnasium", "gymnax"]
    obs_shape: tuple[int, ...]
    action_kind: Literal["discrete", "continuous"]
    num_actions: int = 0  # discrete only
    action_dim: int = 0  # continuous only
    action_low: tuple[float, ...] = ()  # continuous only, the env's own bounds
    action_high: tuple[float, ...] = ()
    max_episode_steps: int | None = None

    @property
    def is_jax(self) -> bool:
        return self.backend == "gymnax"

    @property
    def action_shape(self) -> tuple[int, ...]:
        return () if self.action_kind == "discrete" else (self.action_dim,)
