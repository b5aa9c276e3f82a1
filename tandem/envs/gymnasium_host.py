"""Gymnasium adapter: any registered ID or a ``package.module:ClassName`` entry point, vectorised.

This is the only module that unpacks Gymnasium's five-value ``step`` and its ``info`` dicts.
"""

from __future__ import annotations

import importlib

import numpy as np

from tandem.envs.spec import EnvSpec, TimeStep
from tandem.errors import TandemInputError

SUPPORTED_SPACES = "observations: Box; actions: Discrete or Box"


def _entry_point_class(env_id: str):
    """Return the class named by ``package.module:ClassName``, or None if the ID is not of that form."""
    module_name, _, attr = env_id.partition(":")
    if not attr or not attr.isidentifier() or not all(p.isidentifier() for p in module_name.split(".")):
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise TandemInputError(f"--env {env_id!r}: cannot import module {module_name!r} ({e}).") from None
    if not hasattr(module, attr):
        raise TandemInputError(f"--env {env_id!r}: module {module_name!r} has no attribute {attr!r}.")
    return getattr(module, attr)


def make_single(env_id: str, **kwargs):
    """One Gymnasium env (with the registered wrappers, such as TimeLimit) or a clear TandemInputError."""
    import gymnasium as gym

    cls = _entry_point_class(env_id)
    if cls is not None:
        return cls(**kwargs)
    try:
        # The passive checker re-validates every step; tandem validates envs in `tandem check-env`.
        return gym.make(env_id, disable_env_checker=True, **kwargs)
    except gym.error.Error as e:
        known = sorted(k for k in gym.registry.keys() if "/" not in k)
        close = [k for k in known if k.split("-")[0].lower() in env_id.lower() or env_id.lower() in k.lower()]
        hint = f" Did you mean one of {close[:8]}?" if close else ""
        raise TandemInputError(
            f"--env {env_id!r} is not a known environment ({type(e).__name__}: {e}).{hint} Allowed: a Gymnasium ID "
            f"(e.g. CartPole-v1, Pendulum-v1), 'gymnax:<name>' (e.g. gymnax:CartPole-v1), or an entry point "
            f"'package.module:ClassName' of a Gymnasium-API class."
        ) from None


def spec_from_spaces(env_id: str, observation_space, action_space, max_episode_steps) -> EnvSpec:
    """Translate Gymnasium spaces into an EnvSpec, or say which space is unsupported."""
    from gymnasium import spaces

    if not isinstance(observation_space, spaces.Box):
        raise TandemInputError(
            f"--env {env_id!r}: observation space {observation_space} is not supported ({SUPPORTED_SPACES})."
        )
    obs_shape = tuple(int(d) for d in observation_space.shape)
    if isinstance(action_space, spaces.Discrete):
        if int(action_space.start) != 0:
            raise TandemInputError(f"--env {env_id!r}: Discrete action spaces must start at 0, got start={action_space.start}.")
        return EnvSpec(env_id, "gymnasium", obs_shape, "discrete", num_actions=int(action_space.n),
                       max_episode_steps=max_episode_steps)
    if isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        low = tuple(float(x) for x in action_space.low)
        high = tuple(float(x) for x in action_space.high)
        return EnvSpec(env_id, "gymnasium", obs_shape, "continuous", action_dim=int(action_space.shape[0]),
                       action_low=low, action_high=high, max_episode_steps=max_episode_steps)
    raise TandemInputError(f"--env {env_id!r}: action space {action_space} is not supported ({SUPPORTED_SPACES}, Box 1-D).")


def gymnasium_spec(env_id: str) -> EnvSpec:
    env = make_single(env_id)
    try:
        max_steps = env.spec.max_episode_steps if env.spec is not None else None
        return spec_from_spaces(env_id, env.observation_space, env.action_space, max_steps)
    finally:
        env.close()


def rescale_action(spec: EnvSpec, action: np.ndarray) -> np.ndarray:
    """Map a canonical action in [-1, 1] to the env's Box bounds (clipped first); unbounded dims pass through."""
    if spec.action_kind == "discrete":
        return action.astype(np.int64)
    low = np.asarray(spec.action_low, np.float64)
    high = np.asarray(spec.action_high, np.float64)
    a = np.asarray(action, np.float64)
    bounded = np.isfinite(low) & np.isfinite(high)
    clipped = np.clip(a, -1.0, 1.0)
    scaled = low + (clipped + 1.0) * 0.5 * (high - low)
    return np.where(bounded, scaled, a).astype(np.float32)


class HostVecEnv:
    """N Gymnasium envs stepped together; returns :class:`TimeStep` with the true final observations.

    Uses Gymnasium's same-step autoreset, so ``obs`` after a done step is already the reset one and
    the terminal observation comes from ``info['final_obs']``.
    """

    def __init__(self, env_id: str, num_envs: int, seed: int, asynchronous: bool = False):
        import gymnasium as gym

        self.spec = gymnasium_spec(env_id)
        fns = [lambda: make_single(env_id) for _ in range(num_envs)]
        mode = gym.vector.AutoresetMode.SAME_STEP
        if asynchronous:
            self._env = gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode, context="spawn")
        else:
            self._env = gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)
        self.num_envs = num_envs
        self._seed = seed

    def reset(self, seed: int | list[int] | None = None) -> np.ndarray:
        """Reset every env: env i gets seed + i, or seed[i] when a list of num_envs seeds is given."""
        s = self._seed if seed is None else seed
        seeds = list(s) if isinstance(s, (list, tuple)) else [s + i for i in range(self.num_envs)]
        obs, _ = self._env.reset(seed=seeds)
        return np.asarray(obs, np.float32)

    def step(self, action: np.ndarray) -> TimeStep:
        obs, reward, terminated, truncated, info = self._env.step(rescale_action(self.spec, np.asarray(action)))
        obs = np.asarray(obs, np.float32)
        final_obs = obs.copy()
        if "_final_obs" in info:
            for i in np.flatnonzero(info["_final_obs"]):
                final_obs[i] = np.asarray(info["final_obs"][i], np.float32)
        return TimeStep(obs, np.asarray(reward, np.float32), np.asarray(terminated, bool),
                        np.asarray(truncated, bool), final_obs)

    def close(self):
        self._env.close()

