"""XLand-MiniGrid adapter: functional JAX grid worlds under ``xminigrid:<name>`` (``xminigrid:MiniGrid-Empty-8x8``).

This is the only module that knows XLand-MiniGrid's conventions: ``env.reset(params, key) -> TimeStep`` and
``env.step(params, timestep, action) -> TimeStep`` (the TimeStep carries the env state; step_type, reward,
discount and observation dm_env style), no automatic reset.

- The observation is the agent's egocentric view, ``[V, V, 2]`` uint8 (tile id and colour per cell), kept
  uint8 (``obs_dtype``) until the network; a ``conv`` or ``mlp`` block reads it.
- The episode ends at a LAST step: discount 0 is a termination (goal reached), any other a truncation
  (``max_steps``, the time limit).
- XLand-MiniGrid-R* environments run with the ruleset the registry gives them; the benchmark rulesets
  (``xminigrid.load_benchmark``) download from a hub, which this machine cannot reach, and are not used.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from tandem.envs.jax_common import LAST, autoreset, check_action, check_obs, import_suite
from tandem.envs.spec import EnvSpec, TimeStep, obs_dtype_of
from tandem.errors import TandemInputError

PREFIX = "xminigrid:"


def _make(env_id: str):
    xminigrid = import_suite("xminigrid", env_id)
    name = env_id[len(PREFIX):]
    names = list(xminigrid.registered_environments())
    if name not in names:
        raise TandemInputError(f"--env {env_id!r}: XLand-MiniGrid has no environment {name!r}. Allowed: "
                               + ", ".join(PREFIX + n for n in names))
    return xminigrid.make(name)


def xminigrid_spec(env_id: str) -> EnvSpec:
    """The EnvSpec of ``xminigrid:<name>`` (TandemInputError for an unknown name)."""
    env, params = _make(env_id)
    shape = tuple(int(d) for d in env.observation_shape(params))
    return EnvSpec(env_id, "xminigrid", shape, "discrete", num_actions=int(env.num_actions(params)),
                   max_episode_steps=int(params.max_steps), obs_dtype=obs_dtype_of("uint8", shape))


class XMiniGridEnv:
    """One (unbatched) XLand-MiniGrid env with automatic reset: ``reset(key) -> (timestep, obs)``,
    ``step(key, timestep, action) -> (timestep, TimeStep)``. ``raw_env``, ``params``: the library's env."""

    def __init__(self, env_id: str):
        self.spec = xminigrid_spec(env_id)
        self.raw_env, self.params = _make(env_id)

    def reset(self, key: jax.Array) -> tuple[Any, jax.Array]:
        """A new episode: (the library's TimeStep, as the env state; the view [V, V, 2] uint8)."""
        ts = self.raw_env.reset(self.params, key)
        return ts, check_obs(self.spec, ts.observation, "reset")

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> tuple[Any, TimeStep]:
        """One step with an action in [0, num_actions); a new episode (from ``key``) where this one ended."""
        ts = self.raw_env.step(self.params, state, check_action(self.spec, action).astype(jnp.int32))
        obs = check_obs(self.spec, ts.observation, "step")
        return autoreset(self.spec, self.reset, key, ts, obs, ts.reward, ts.step_type == LAST, ts.discount)

    def obs_bounds(self):
        """(low, high) of the view's entries (for ``tandem check-env``)."""
        import numpy as np
        from xminigrid.core.constants import NUM_COLORS, NUM_TILES

        high = np.broadcast_to(np.array([NUM_TILES - 1, NUM_COLORS - 1], np.float64), self.spec.obs_shape)
        return np.zeros(self.spec.obs_shape), high
