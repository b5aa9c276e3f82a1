"""Gymnasium adapter: any registered ID or a ``package.module:ClassName`` entry point, vectorised.

This is the only module that unpacks Gymnasium's five-value ``step`` and its ``info`` dicts.
"""

from __future__ import annotations

import importlib

import numpy as np

from tandem.envs import checks
from tandem.envs.spec import ACTION_MASK, EnvSpec, TimeStep, obs_cast, obs_dtype_of, obs_map, rescale_action
from tandem.errors import TandemInputError, UnsupportedSpace

SUPPORTED_SPACES = "observations: Box, or Dict of Box/MultiBinary; actions: Discrete or Box"
OBS = "obs"
"""The field of a Box observation when ``info["action_mask"]`` makes the observation a dict."""


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

    from tandem.envs import atari, own

    if env_id.startswith(own.PREFIX):
        return own.make(env_id, **kwargs)
    if atari.is_atari(env_id):
        return atari.make(env_id, **kwargs)
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
            f"(e.g. CartPole-v1, Pendulum-v1), 'gymnax:<name>' (e.g. gymnax:CartPole-v1), 'tandem:<name>' "
            f"(tandem:Restaurant-v0), or an entry point "
            f"'package.module:ClassName' of a Gymnasium-API class."
        ) from None


def _obs_fields(env_id: str, observation_space, info_mask: tuple | None) -> tuple:
    """EnvSpec obs_fields of a Dict space (and/or of a mask given in ``info``), () for a plain Box."""
    from gymnasium import spaces

    def field(name, space):
        if isinstance(space, spaces.MultiBinary) and len(space.shape) == 1:
            return (name, tuple(int(d) for d in space.shape), "bool")
        if isinstance(space, spaces.Box):
            shape = tuple(int(d) for d in space.shape)
            dtype = "bool" if space.dtype == np.bool_ else obs_dtype_of(space.dtype, shape)
            return (name, shape, dtype)
        raise UnsupportedSpace(f"--env {env_id!r}: observation field {name!r} space {space} is not supported "
                               f"({SUPPORTED_SPACES}).")

    if isinstance(observation_space, spaces.Dict):
        fields = [field(str(k), v) for k, v in observation_space.spaces.items()]
        if info_mask is not None and ACTION_MASK not in observation_space.spaces:
            fields.append((ACTION_MASK, info_mask, "bool"))
        return tuple(sorted(fields))
    if not isinstance(observation_space, spaces.Box):
        raise UnsupportedSpace(
            f"--env {env_id!r}: observation space {observation_space} is not supported ({SUPPORTED_SPACES})."
        )
    if info_mask is None:
        return ()
    return tuple(sorted([field(OBS, observation_space), (ACTION_MASK, info_mask, "bool")]))


def spec_from_spaces(env_id: str, observation_space, action_space, max_episode_steps,
                     info_mask: tuple | None = None) -> EnvSpec:
    """Translate Gymnasium spaces into an EnvSpec, or say which space is unsupported. ``info_mask``: the shape of
    ``info["action_mask"]`` when the env gives the valid actions there (the observation is then a dict with it)."""
    from gymnasium import spaces

    n = int(action_space.n) if isinstance(action_space, spaces.Discrete) else None
    if info_mask is not None and n is None:
        raise UnsupportedSpace(f"--env {env_id!r}: info['action_mask'] is given but the action space {action_space} "
                               f"is not Discrete; an action mask is for discrete actions.")
    fields = _obs_fields(env_id, observation_space, info_mask)
    if fields:
        shapes = dict((name, shape) for name, shape, _ in fields)
        if ACTION_MASK in shapes and shapes[ACTION_MASK] != (n,):
            raise UnsupportedSpace(f"--env {env_id!r}: action_mask of shape {shapes[ACTION_MASK]} does not match the "
                                   f"{n} actions of {action_space} (one entry per action).")
        obs_shape, obs_dtype = (), "float32"
    else:
        obs_shape = tuple(int(d) for d in observation_space.shape)
        obs_dtype = obs_dtype_of(observation_space.dtype, obs_shape)
    if isinstance(action_space, spaces.Discrete):
        if int(action_space.start) != 0:
            raise UnsupportedSpace(f"--env {env_id!r}: Discrete action spaces must start at 0, got start={action_space.start}.")
        return EnvSpec(env_id, "gymnasium", obs_shape, "discrete", num_actions=n,
                       max_episode_steps=max_episode_steps, obs_dtype=obs_dtype, obs_fields=fields)
    if isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        low = tuple(float(x) for x in action_space.low)
        high = tuple(float(x) for x in action_space.high)
        return EnvSpec(env_id, "gymnasium", obs_shape, "continuous", action_dim=int(action_space.shape[0]),
                       action_low=low, action_high=high, max_episode_steps=max_episode_steps, obs_dtype=obs_dtype,
                       obs_fields=fields)
    raise UnsupportedSpace(f"--env {env_id!r}: action space {action_space} is not supported ({SUPPORTED_SPACES}, Box 1-D).")


def gymnasium_spec(env_id: str) -> EnvSpec:
    """The EnvSpec of a Gymnasium ID or entry point (TandemInputError if unknown or unsupported)."""
    from gymnasium import spaces

    env = make_single(env_id)
    try:
        max_steps = env.spec.max_episode_steps if env.spec is not None else None
        info_mask = None
        if isinstance(env.action_space, spaces.Discrete):  # a mask in info: seen at the first reset
            out = env.reset(seed=0)
            if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict) and ACTION_MASK in out[1]:
                info_mask = tuple(np.shape(out[1][ACTION_MASK]))
        return spec_from_spaces(env_id, env.observation_space, env.action_space, max_steps, info_mask)
    finally:
        env.close()


def episode_seed(base: int, episode: int) -> int:
    """The reset seed of an env's ``episode``-th episode (0: ``base`` itself), a pure function of both,
    so any episode can be started again exactly (see :class:`_Recorded`)."""
    if episode == 0:
        return int(base)
    return int(np.random.SeedSequence([int(base), int(episode)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _field_space(shape, dtype):
    """The Gymnasium space a vector env batches one observation field with."""
    from gymnasium import spaces

    if dtype == "bool":
        return spaces.MultiBinary(shape if len(shape) != 1 else shape[0])
    dt = np.dtype(dtype)
    info = np.iinfo(dt) if dt.kind in "iu" else np.finfo(dt)
    return spaces.Box(info.min, info.max, shape, dt)


class _Recorded:
    """Wraps one Gymnasium env of a :class:`HostVecEnv`: checks what ``reset``/``step`` return and
    keeps what is needed to play the episode in progress again.

    Every episode is reset with its own seed, :func:`episode_seed` (base, episode), never from the
    env's leftover RNG state; the actions of the episode in progress are recorded. A resumed run
    re-creates the env, resets it with the same seed and replays the actions: for an env that is
    deterministic given its seed and actions (Gymnasium's classic control, Box2D and MuJoCo envs
    are) that restores its exact state, RNG included, without pickling the env.
    """

    def __init__(self, env, env_spec: EnvSpec, index: int):
        from gymnasium import spaces

        self.env, self._env_id, self._index, self._fields = env, env_spec.id, index, env_spec.obs_fields
        self.action_space = env.action_space
        self.metadata, self.render_mode, self.spec = env.metadata, env.render_mode, env.spec
        if self._fields:  # a dict observation, each field batched by the vector env as its own array
            self.observation_space = spaces.Dict({n: _field_space(shape, dtype) for n, shape, dtype in self._fields})
            self._boxes = {n: checks.Box(shape, None, None, None) for n, shape, _ in self._fields}
            self._mask_from_info = ACTION_MASK not in getattr(env.observation_space, "spaces", {}) and \
                any(n == ACTION_MASK for n, _, _ in self._fields)
        else:
            self.observation_space = env.observation_space
            self._boxes = {"": checks.Box(tuple(env.observation_space.shape), None, None, None)}
        self._discrete = isinstance(env.action_space, spaces.Discrete)
        self._base, self._episode, self._actions = 0, 0, []

    # -- the Gymnasium API, checked ------------------------------------------------------------
    def reset(self, *, seed=None, options=None):
        if seed is not None:  # the first reset of a run (or an evaluation): the env's base seed
            self._base, self._episode = int(seed), 0
        else:  # an episode ended: the next one gets its own seed
            self._episode += 1
        return self._reset()

    def _reset(self):
        out = self.env.reset(seed=episode_seed(self._base, self._episode))
        self._raise_first(checks.reset_output(out), "reset()")
        obs = self._canonical(out[0], out[1], "reset()")
        self._actions = []
        return obs, out[1]

    def step(self, action):
        """Gymnasium's step, checked (envs/checks.py), with the action recorded for replay."""
        self._raise_first(checks.action(action, self.action_space), "step()")
        out = self.env.step(action)
        self._raise_first(checks.step_output(out), "step()")
        obs, reward, terminated, truncated, info = out
        obs = self._canonical(obs, info, "step()")
        self._raise_first(checks.reward(reward, structural=True) or checks.flags(terminated, truncated), "step()")
        self._actions.append(action.copy() if type(action) is np.ndarray else action)
        return obs, reward, terminated, truncated, info

    def _canonical(self, obs, info, where: str):
        """The observation as tandem keeps it, checked (structurally) field by field: the array itself, or a
        dict {field: array} (a Box observation under ``obs`` and the mask from ``info`` when the env gives one)."""
        if not self._fields:
            self._raise_first(checks.observation(obs, self._boxes[""], structural=True), where)
            return obs
        d = dict(obs) if isinstance(obs, dict) else {OBS: obs}
        if self._mask_from_info:
            if not isinstance(info, dict) or ACTION_MASK not in info:
                raise self._error(f"{where}: info has no 'action_mask' (expected one at every reset and step, as at "
                                  f"the first reset)")
            d[ACTION_MASK] = info[ACTION_MASK]
        out = {}
        for name, shape, dtype in self._fields:
            if name not in d:
                raise self._error(f"{where}: observation has no field {name!r} (fields: {sorted(d)})")
            problems = checks.observation(d[name], self._boxes[name], structural=True)
            self._raise_first([(k, f"field {name!r}: {m}") for k, m in problems], where)
            out[name] = np.asarray(d[name], dtype)
        return out

    @property
    def unwrapped(self):
        return getattr(self.env, "unwrapped", self.env)

    def close(self):
        self.env.close()

    def render(self):
        return self.env.render()

    def get_wrapper_attr(self, name: str):
        return getattr(self, name) if hasattr(type(self), name) else self.env.get_wrapper_attr(name)

    def set_wrapper_attr(self, name: str, value, *, force: bool = True):
        return self.env.set_wrapper_attr(name, value, force=force)

    def has_wrapper_attr(self, name: str) -> bool:
        return hasattr(type(self), name) or self.env.has_wrapper_attr(name)

    # -- exact restart of the episode in progress ------------------------------------------------
    def episode_record(self) -> dict:
        """The episode in progress: its base seed, its number, and the actions taken in it so far."""
        actions = np.stack(self._actions) if self._actions else np.zeros((0,) + self.action_space.shape,
                                                                          self.action_space.dtype)
        return {"base": np.int64(self._base), "episode": np.int64(self._episode), "actions": actions}

    def replay(self, records) -> np.ndarray:
        """Play this env's episode from ``records[index]`` again; returns the observation reached."""
        r = records[self._index]
        self._base, self._episode = int(r["base"]), int(r["episode"])
        obs, _ = self._reset()
        for a in np.asarray(r["actions"]):
            obs, *_ = self.step(a[()] if self._discrete else a)
        return obs if self._fields else np.asarray(obs)

    # -- checks --------------------------------------------------------------------------------
    def _error(self, what: str):
        from tandem.errors import TandemRuntimeError

        return TandemRuntimeError(f"env {self._env_id!r} (vector index {self._index}): {what}.")

    def _raise_first(self, problems: list, where: str) -> None:
        """Stop at the first problem found by the shared checks (envs/checks.py)."""
        if problems:
            raise self._error(f"{where}: {problems[0][1]}")


class HostVecEnv:
    """N Gymnasium envs stepped together; returns :class:`TimeStep` with the true final observations.

    Envs are reset by this class when their episode ends (Gymnasium's autoreset disabled), each
    episode with its own seed, so :meth:`episode_records` and :meth:`replay` can restore every env's
    episode in progress exactly (see :class:`_Recorded`).
    """

    def __init__(self, env_id: str, num_envs: int, seed: int = 0, asynchronous: bool = False):
        import gymnasium as gym

        self.spec = gymnasium_spec(env_id)
        spec = self.spec
        fns = [lambda i=i: _Recorded(make_single(env_id), spec, i) for i in range(num_envs)]
        mode = gym.vector.AutoresetMode.DISABLED
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
        return obs_cast(self.spec, obs)

    def step(self, action: np.ndarray) -> TimeStep:
        """Step every env with canonical actions [N, ...]; ended episodes are reset, each with its next seed."""
        obs, reward, terminated, truncated, _ = self._env.step(rescale_action(self.spec, np.asarray(action)))
        final_obs = obs_cast(self.spec, obs)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        done = terminated | truncated
        obs = final_obs
        if done.any():  # the ended episodes start again, each with its next seed
            reset_obs, _ = self._env.reset(options={"reset_mask": done})
            obs = obs_map(lambda s, r, f: np.where(done.reshape((-1,) + (1,) * len(s.shape)), r, f), self.spec,
                          obs_cast(self.spec, reset_obs), final_obs)
        return TimeStep(obs, np.asarray(reward, np.float32), terminated, truncated, final_obs)

    def episode_records(self) -> list[dict]:
        """Per env, what replays its episode in progress (see :meth:`_Recorded.episode_record`)."""
        return list(self._env.call("episode_record"))

    def replay(self, records: list[dict]) -> np.ndarray:
        """Restore every env's episode in progress from :meth:`episode_records`; returns the observations."""
        outs = self._env.call("replay", records)
        return obs_map(lambda s, *xs: np.stack(xs).astype(s.dtype), self.spec, *outs)

    def close(self):
        self._env.close()


def vec_env_factory(env_id: str):
    """The host backend's ``make``: ``(num_envs, asynchronous) -> HostVecEnv`` of ``env_id`` (the host driver
    and remote workers take this factory, never the ID)."""
    def make(num_envs: int, asynchronous: bool = False) -> HostVecEnv:
        return HostVecEnv(env_id, num_envs, 0, asynchronous)

    return make
