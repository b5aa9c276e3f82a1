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

    obs:        [N, *obs_shape] of the spec's obs_dtype, the observation to act on next (a reset one where done);
                for a structured observation (``spec.obs_fields``) a dict {field: [N, *field_shape]}.
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

    obs_fields: empty for an array observation (``obs_shape``, ``obs_dtype``). For a structured one (a
    Jumanji observation, a Gymnasium Dict space) the fields, sorted by name, each ``(name, shape, dtype)``;
    observations are then dicts {name: array} and ``obs_shape`` is ``()``. A field named ``action_mask``
    (bool, ``(num_actions,)``) marks the valid actions: categorical policies never choose the others.
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
    obs_fields: tuple[tuple[str, tuple[int, ...], str], ...] = ()

    def to_dict(self) -> dict:
        """The spec as plain data (stored in checkpoint manifests)."""
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "EnvSpec":
        """Rebuild a spec from :meth:`to_dict` (JSON lists back to tuples)."""
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        d["obs_fields"] = tuple((name, tuple(shape), dtype) for name, shape, dtype in d.get("obs_fields", ()))
        return EnvSpec(**d)

    @property
    def has_action_mask(self) -> bool:
        """Whether observations carry an ``action_mask`` field."""
        return any(name == ACTION_MASK for name, _, _ in self.obs_fields)

    def describe_obs(self) -> str:
        """The observation in words: ``(4,) float32`` or ``{board: (4, 4) int32, action_mask: (4,) bool}``."""
        if not self.obs_fields:
            return f"{tuple(self.obs_shape)} {self.obs_dtype}"
        return "{" + ", ".join(f"{n}: {tuple(s)} {d}" for n, s, d in self.obs_fields) + "}"

    @property
    def action_shape(self) -> tuple[int, ...]:
        """The shape of one canonical action: () discrete, (action_dim,) continuous."""
        return () if self.action_kind == "discrete" else (self.action_dim,)


ACTION_MASK = "action_mask"
"""The observation field that marks the valid discrete actions (bool, one entry per action)."""


def obs_struct(spec: EnvSpec):
    """One observation's shapes and dtypes as a pytree of ``jax.ShapeDtypeStruct``: a single one for an
    array observation, a dict {field: ...} for a structured one. Every helper below maps over it."""
    import jax
    import numpy as np

    if not spec.obs_fields:
        return jax.ShapeDtypeStruct(tuple(spec.obs_shape), np.dtype(spec.obs_dtype))
    return {name: jax.ShapeDtypeStruct(tuple(shape), np.dtype(dtype)) for name, shape, dtype in spec.obs_fields}


def obs_map(fn, spec: EnvSpec, *trees):
    """``fn(field_struct, *leaves)`` over every observation field (the array itself for an array observation)."""
    import jax

    return jax.tree_util.tree_map(fn, obs_struct(spec), *trees)


def obs_zeros(spec: EnvSpec, lead: tuple[int, ...], xp=None):
    """Zero observations with leading axes ``lead`` (numpy unless ``xp`` says otherwise)."""
    import numpy as np

    xp = np if xp is None else xp
    return obs_map(lambda s: xp.zeros(tuple(lead) + s.shape, s.dtype), spec)


def obs_lead(spec: EnvSpec, obs) -> tuple[int, ...]:
    """The leading (batch) axes of a batch of observations."""
    import jax

    s = jax.tree_util.tree_leaves(obs_struct(spec))[0]
    x = jax.tree_util.tree_leaves(obs)[0]
    return tuple(x.shape[: len(x.shape) - len(s.shape)])


def obs_reshape(spec: EnvSpec, obs, lead: tuple[int, ...]):
    """Observations with their leading axes reshaped to ``lead`` (each field keeps its own shape)."""
    return obs_map(lambda s, x: x.reshape(tuple(lead) + s.shape), spec, obs)


def obs_cast(spec: EnvSpec, obs):
    """Host observations as numpy arrays of the spec's dtypes (a dict observation field by field)."""
    import numpy as np

    if not spec.obs_fields:
        return np.asarray(obs, spec.obs_dtype)
    return {name: np.asarray(obs[name], dtype) for name, _, dtype in spec.obs_fields}


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
