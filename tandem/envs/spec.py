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

    obs:        [N, *obs_shape] of the spec's obs_dtype, the observation to act on next (a reset one where done).
    reward:     [N] float32.
    terminated: [N] bool, the episode reached a terminal state: do not bootstrap.
    truncated:  [N] bool, the episode was cut (time limit): bootstrap from ``final_obs``.
    final_obs:  [N, *obs_shape], the successor of the action; equals ``obs`` unless done.
    """

    obs: Any
    reward: Any
    terminated: Any
    truncated: Any
    final_obs: Any


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """What an algorithm needs to know about an environment, as plain data (stored in checkpoint manifests,
    so a policy is rebuilt without the environment).

    backend: the env-backend registry name (envs/registry.py) that made it. obs_dtype: "float32", or
    "uint8" for an image (a Box of shape H x W x C with uint8 values: kept uint8 until the network).
    """

    id: str
    backend: str
    obs_shape: tuple[int, ...]
    action_kind: Literal["discrete", "continuous"]
    num_actions: int = 0  # discrete only
    action_dim: int = 0  # continuous only
    action_low: tuple[float, ...] = ()  # continuous only, the env's own bounds
    action_high: tuple[float, ...] = ()
    max_episode_steps: int | None = None
    obs_dtype: str = "float32"

    def to_dict(self) -> dict:
        """The spec as plain data (stored in checkpoint manifests)."""
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "EnvSpec":
        """Rebuild a spec from :meth:`to_dict` (JSON lists back to tuples)."""
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return EnvSpec(**d)

    @property
    def action_shape(self) -> tuple[int, ...]:
        """The shape of one canonical action: () discrete, (action_dim,) continuous."""
        return () if self.action_kind == "discrete" else (self.action_dim,)


def obs_dtype_of(box_dtype, shape: tuple[int, ...]) -> str:
    """The observation dtype tandem keeps: uint8 for an image (uint8 Box of rank 3), float32 otherwise."""
    import numpy as np

    return "uint8" if np.dtype(box_dtype) == np.uint8 and len(shape) == 3 else "float32"


def rescale_action(spec: EnvSpec, action, xp=None):
    """The one place canonical actions meet the env's own: a discrete action as an integer, a continuous one
    in [-1, 1] (clipped first) mapped to the Box bounds; unbounded dimensions pass through.

    ``xp``: the array module (numpy for host envs and Policy, ``jax.numpy`` inside JAX envs).
    """
    import numpy as np

    xp = np if xp is None else xp
    if spec.action_kind == "discrete":
        return xp.asarray(action).astype(xp.int32 if xp is not np else np.int64)
    dt = xp.float32 if xp is not np else np.float64  # float64 on the host: no rounding past a bound
    low, high = xp.asarray(spec.action_low, dt), xp.asarray(spec.action_high, dt)
    a = xp.asarray(action).astype(dt)
    bounded = xp.isfinite(low) & xp.isfinite(high)
    low, high = xp.where(bounded, low, -1.0), xp.where(bounded, high, 1.0)  # no inf - inf for unbounded dims
    scaled = xp.clip(low + (xp.clip(a, -1.0, 1.0) + 1.0) * 0.5 * (high - low), low, high)
    return xp.where(bounded, scaled, a).astype(xp.float32)
