"""gymnax adapter: functional JAX envs under ``gymnax:<name>``, and tandem's own gymnax environments under
``tandem-jax:<name>`` (envs/memory_jax.py).

This is the only module that unpacks gymnax 1.x's six-value ``step``. Everything is pure and
jittable; the runner vmaps ``reset``/``step`` over environments and seeds.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from tandem.envs.jax_common import check_action, check_obs, scalar
from tandem.envs.spec import EnvSpec, TimeStep, rescale_action
from tandem.errors import TandemInputError, UnsupportedSpace

PREFIX = "gymnax:"


def _resolve(env_id: str):
    """(gymnax env, params) and the backend name of an ID of this adapter."""
    from tandem.envs import memory_jax

    if env_id.startswith(memory_jax.PREFIX):
        return memory_jax.make(env_id), "tandem-jax"
    return _make(env_id[len(PREFIX):]), "gymnax"


def _make(name: str):
    import gymnax

    if name not in gymnax.registered_envs:
        raise TandemInputError(
            f"--env {PREFIX + name!r}: gymnax has no environment {name!r}. Allowed: "
            + ", ".join(PREFIX + e for e in gymnax.registered_envs)
        )
    return gymnax.make(name)


def gymnax_spec(env_id: str) -> EnvSpec:
    """The EnvSpec of ``gymnax:<name>`` (TandemInputError for an unknown name or an unsupported space)."""
    from gymnax.environments import spaces

    (env, params), backend = _resolve(env_id)
    obs_space = env.observation_space(params)
    act_space = env.action_space(params)
    max_steps = int(getattr(params, "max_steps_in_episode", 0)) or None
    if not isinstance(obs_space, spaces.Box):
        raise UnsupportedSpace(f"--env {env_id!r}: observation space {type(obs_space).__name__} is not supported (Box).")
    obs_shape = tuple(int(d) for d in obs_space.shape)
    if isinstance(act_space, spaces.Discrete):
        return EnvSpec(env_id, backend, obs_shape, "discrete", num_actions=int(act_space.n), max_episode_steps=max_steps)
    if isinstance(act_space, spaces.Box):
        shape = tuple(act_space.shape) or (1,)
        low = jnp.broadcast_to(jnp.asarray(act_space.low, jnp.float32), shape)
        high = jnp.broadcast_to(jnp.asarray(act_space.high, jnp.float32), shape)
        return EnvSpec(env_id, backend, obs_shape, "continuous", action_dim=int(shape[0]),
                       action_low=tuple(float(x) for x in low), action_high=tuple(float(x) for x in high),
                       max_episode_steps=max_steps)
    raise UnsupportedSpace(f"--env {env_id!r}: action space {type(act_space).__name__} is not supported (Discrete or Box).")


class JaxEnv:
    """A single (unbatched) functional environment with automatic reset.

    ``reset(key) -> (state, obs)`` and ``step(key, state, action) -> (state, TimeStep)``; the caller vmaps.

    Shapes are checked when traced (they are static, so this costs nothing at run time): the action
    must be exactly one environment's canonical action (``spec.action_shape``: ``()`` integer for a
    discrete space, ``(action_dim,)`` float for a Box), and every observation the env returns must
    have ``spec.obs_shape``; anything else raises TandemRuntimeError naming both shapes instead of
    being broadcast.
    """

    def __init__(self, env_id: str):
        self.spec = gymnax_spec(env_id)
        # raw_env: the wrapped gymnax environment (its own API; only this adapter calls it)
        (self.raw_env, self._params), _ = _resolve(env_id)
        self._box_shape = None
        if self.spec.action_kind == "continuous":
            self._box_shape = tuple(self.raw_env.action_space(self._params).shape)

    def reset(self, key: jax.Array) -> tuple[Any, jax.Array]:
        """A new episode: (env state, observation [*obs_shape] float32)."""
        obs, state = self.raw_env.reset(key, self._params)
        return state, self._obs(obs, "reset")

    def obs_bounds(self):
        """(low, high) of the observation space, for ``tandem check-env``."""
        space = self.raw_env.observation_space(self._params)
        return space.low, space.high

    def _obs(self, obs, where: str) -> jax.Array:
        return check_obs(self.spec, obs, where)

    def _env_action(self, action: jax.Array) -> jax.Array:
        a = rescale_action(self.spec, check_action(self.spec, action), jnp)
        return a if self.spec.action_kind == "discrete" else a.reshape(self._box_shape)

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> tuple[Any, TimeStep]:
        """One step of one env with a canonical action; resets by itself when the episode ends."""
        obs, state, reward, terminated, truncated, info = self.raw_env.step(key, state, self._env_action(action), self._params)
        ts = TimeStep(
            obs=self._obs(obs, "step"),
            reward=scalar(self.spec, reward, "reward", jnp.float32),
            terminated=scalar(self.spec, terminated, "terminated", bool),
            truncated=scalar(self.spec, truncated, "truncated", bool),
            final_obs=self._obs(info["final_observation"], "step (final_observation)"),
        )
        return state, ts
