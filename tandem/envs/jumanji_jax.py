"""Jumanji adapter: functional JAX envs under ``jumanji:<name>`` (``jumanji:Snake-v1``, ``jumanji:Game2048-v1``).

This is the only module that knows Jumanji's conventions: ``env.reset(key) -> (state, TimeStep)`` and
``env.step(state, action) -> (state, TimeStep)`` with a dm_env TimeStep (step_type, reward, discount,
observation), no automatic reset, and observations that are pytrees (NamedTuples of arrays).

- Observations become dicts {field: array} (nested fields named by their path, ``agent_position_row``),
  each keeping its own shape and dtype; the env spec lists them (``EnvSpec.obs_fields``).
- The episode ends at a LAST step: discount 0 is a termination, any other discount a truncation.
- A multi-discrete action (Minesweeper's (row, column)) is one categorical over every combination, decoded
  here in C order; its mask (shape ``num_values``) is flattened the same way, so ``action_mask`` is always
  ``(num_actions,)``.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from tandem.envs.jax_common import LAST, autoreset, check_action, check_obs, field_names, import_suite, make_serializable, obs_fields_of
from tandem.envs.spec import ACTION_MASK, EnvSpec, TimeStep, rescale_action
from tandem.errors import TandemInputError, UnsupportedSpace

PREFIX = "jumanji:"
NEEDS_DOWNLOAD = {"Sokoban-v0": "its Boxoban level set from the Hugging Face Hub"}
"""Registered environments that download data on first use (this machine has no hub access)."""
MAX_ACTIONS = 10_000
"""The most joint actions a multi-discrete action may have to be one categorical."""


def _names() -> list[str]:
    jumanji = import_suite("jumanji", PREFIX)
    return sorted(jumanji.registered_environments())


def _make(env_id: str):
    jumanji = import_suite("jumanji", env_id)
    name = env_id[len(PREFIX):]
    if name in NEEDS_DOWNLOAD:
        works = ", ".join(PREFIX + n for n in _names() if n not in NEEDS_DOWNLOAD)
        raise TandemInputError(f"--env {env_id!r} downloads {NEEDS_DOWNLOAD[name]} on first use, which this machine "
                               f"cannot reach. The other Jumanji environments need no download: {works}.")
    if name not in _names():
        raise TandemInputError(f"--env {env_id!r}: Jumanji has no environment {name!r}. Allowed: "
                               + ", ".join(PREFIX + n for n in _names()))
    return jumanji.make(name)


def _layout(env_id: str, env):
    """(EnvSpec, decode): the spec, and the function from a canonical action to the env's own."""
    from jumanji import specs

    example = jax.eval_shape(env.reset, jax.random.PRNGKey(0))[1].observation
    fields = obs_fields_of(example)
    names = [n for n, _ in field_names(example)]
    if len(set(names)) != len(names):
        raise UnsupportedSpace(f"--env {env_id!r}: observation fields {names} do not have distinct names.")
    shapes = {n: s for n, s, _ in fields}
    act = env.action_spec
    time_limit = getattr(env, "time_limit", None)
    max_steps = int(time_limit) if time_limit else None
    if isinstance(act, specs.DiscreteArray):
        dims = (int(act.num_values),)
    elif isinstance(act, specs.MultiDiscreteArray):
        dims = tuple(int(n) for n in np.asarray(act.num_values).reshape(-1))
        if tuple(np.shape(act.num_values)) != (len(dims),):
            raise UnsupportedSpace(f"--env {env_id!r}: a multi-discrete action of shape {np.shape(act.num_values)} is "
                                   f"not supported (a vector of choices).")
    elif isinstance(act, specs.BoundedArray) and np.issubdtype(act.dtype, np.floating) and len(act.shape) == 1:
        low = np.broadcast_to(np.asarray(act.minimum, np.float32), act.shape)
        high = np.broadcast_to(np.asarray(act.maximum, np.float32), act.shape)
        spec = EnvSpec(env_id, "jumanji", (), "continuous", action_dim=int(act.shape[0]),
                       action_low=tuple(map(float, low)), action_high=tuple(map(float, high)),
                       max_episode_steps=max_steps, obs_fields=fields)
        return spec, lambda a: rescale_action(spec, a, jnp).astype(act.dtype)
    else:
        raise UnsupportedSpace(f"--env {env_id!r}: action spec {type(act).__name__} of shape {act.shape} is not "
                               f"supported (DiscreteArray, MultiDiscreteArray, or a 1-D float BoundedArray).")
    n = math.prod(dims)
    if n > MAX_ACTIONS:
        raise UnsupportedSpace(f"--env {env_id!r}: a multi-discrete action {dims} has {n} combinations; tandem's "
                               f"categorical policies take at most {MAX_ACTIONS}.")
    if ACTION_MASK in shapes and shapes[ACTION_MASK] not in (dims, (n,)):
        raise UnsupportedSpace(f"--env {env_id!r}: action_mask of shape {shapes[ACTION_MASK]} does not match the "
                               f"action's choices {dims} (one entry per action; a per-agent mask of a multi-agent env "
                               f"is not supported).")
    fields = tuple((name, (n,) if name == ACTION_MASK else shape, dtype) for name, shape, dtype in fields)
    spec = EnvSpec(env_id, "jumanji", (), "discrete", num_actions=n, max_episode_steps=max_steps, obs_fields=fields)
    dtype = act.dtype

    def decode(a):
        if len(dims) == 1:
            return a.astype(dtype)
        return jnp.stack(jnp.unravel_index(a, dims)).astype(dtype)

    return spec, decode


def jumanji_spec(env_id: str) -> EnvSpec:
    """The EnvSpec of ``jumanji:<name>`` (TandemInputError for an unknown name or an unsupported space)."""
    return _layout(env_id, _make(env_id))[0]


class JumanjiEnv:
    """One (unbatched) Jumanji env with automatic reset: ``reset(key) -> (state, obs)``,
    ``step(key, state, action) -> (state, TimeStep)``; the runner vmaps. ``raw_env``: the Jumanji env."""

    def __init__(self, env_id: str):
        self.raw_env = _make(env_id)
        self.spec, self._decode = _layout(env_id, self.raw_env)
        make_serializable(jax.eval_shape(self.raw_env.reset, jax.random.PRNGKey(0))[0])

    def _obs(self, obs, where: str) -> dict:
        fields = dict(field_names(obs))
        if ACTION_MASK in fields:  # a multi-discrete action's mask, flattened as its actions are
            fields[ACTION_MASK] = jnp.reshape(fields[ACTION_MASK], (-1,))
        return check_obs(self.spec, fields, where)

    def reset(self, key: jax.Array) -> tuple[Any, dict]:
        """A new episode: (env state, observation {field: array})."""
        state, ts = self.raw_env.reset(key)
        return state, self._obs(ts.observation, "reset")

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> tuple[Any, TimeStep]:
        """One step with a canonical action; a new episode (from ``key``) where this one ended."""
        state, ts = self.raw_env.step(state, self._decode(check_action(self.spec, action)))
        obs = self._obs(ts.observation, "step")
        return autoreset(self.spec, self.reset, key, state, obs, ts.reward, ts.step_type == LAST, ts.discount)

    def obs_bounds(self):
        """{field: (low, high)} of the fields Jumanji bounds (for ``tandem check-env``)."""
        def walk(spec, prefix):
            for name, sub in getattr(spec, "_specs", {}).items():
                full = f"{prefix}_{name}" if prefix else name
                if getattr(sub, "_specs", None):
                    yield from walk(sub, full)
                elif hasattr(sub, "minimum") and full != ACTION_MASK:
                    yield full, (np.asarray(sub.minimum, np.float64), np.asarray(sub.maximum, np.float64))

        return dict(walk(self.raw_env.observation_spec, ""))
