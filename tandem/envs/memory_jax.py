"""JAX versions of tandem's partially observed tasks (envs/memory.py), for the JAX runner: gymnax environments
under the ``tandem-jax:`` prefix, driven by the gymnax adapter (envs/gymnax_jax.py).

- ``tandem-jax:MaskedCartPole-v1``: gymnax's CartPole-v1 (the same dynamics, reward and termination) observing
  the cart position and pole angle only; ``max_steps`` (500) is its step limit (a truncation).
- ``tandem-jax:Memory-v0``: the cue (one of ``cues``) shown at step 1 must be named at step ``steps``: +1 if
  right, -1 if wrong, and the episode ends there; the observation is [one-hot cue, query flag].

The options are the host versions' (``tandem-jax:Memory-v0:steps=32,cues=4``), parsed by envs/own.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces
from gymnax.environments.classic_control.cartpole import CartPole, EnvParams as CartPoleParams

from tandem.envs.memory import VISIBLE
from tandem.errors import TandemInputError

PREFIX = "tandem-jax:"


class MaskedCartPole(CartPole):
    """gymnax's CartPole with the velocities hidden."""

    @property
    def name(self) -> str:
        """The environment's name."""
        return "MaskedCartPole-v1"

    def get_obs(self, state, params=None, key=None) -> jax.Array:
        """The cart position and the pole angle."""
        return jnp.array([state.x, state.theta])

    def observation_space(self, params) -> spaces.Box:
        """CartPole's bounds of the two visible values."""
        high = jnp.array([params.x_threshold * 2, params.theta_threshold_radians * 2])
        return spaces.Box(-high, high, (len(VISIBLE),), dtype=jnp.float32)


@struct.dataclass
class MemoryState(environment.EnvState):
    cue: jax.Array


@struct.dataclass
class MemoryParams(environment.EnvParams):
    steps: int = 16
    cues: int = 2
    max_steps_in_episode: int = 16


class Memory(environment.Environment):
    """Recall at step ``steps`` the cue shown at step 1 (``time`` counts the steps taken, so step t observes
    time = t - 1)."""

    def __init__(self, cues: int):
        super().__init__()
        self.cues = cues  # static: the observation's size

    @property
    def name(self) -> str:
        """The environment's name."""
        return "Memory-v0"

    @property
    def default_params(self) -> MemoryParams:
        """16 steps, this env's cues."""
        return MemoryParams(cues=self.cues)

    def _obs(self, state: MemoryState, params: MemoryParams) -> jax.Array:
        cue = jax.nn.one_hot(state.cue, self.cues) * (state.time == 0)
        return jnp.concatenate([cue, (state.time == params.steps - 1)[None].astype(jnp.float32)])

    def get_obs(self, state, params=None, key=None) -> jax.Array:
        """[one-hot cue at step 1, query flag at the last step]."""
        return self._obs(state, params if params is not None else self.default_params)

    def reset_env(self, key, params):
        """A new cue, shown now."""
        state = MemoryState(time=0, cue=jax.random.randint(key, (), 0, self.cues))
        return self._obs(state, params), state

    def step_env(self, key, state, action, params):
        """One step; at the query step the action is scored (+1 or -1) and the episode ends."""
        query = state.time == params.steps - 1
        reward = jnp.where(query, jnp.where(action == state.cue, 1.0, -1.0), 0.0)
        state = MemoryState(time=state.time + 1, cue=state.cue)
        obs = jnp.where(query, jnp.zeros(self.cues + 1), self._obs(state, params))
        return obs, state, reward, query, {"discount": 1.0 - query}

    def is_terminated(self, state, params) -> jax.Array:
        """Past the query step."""
        return state.time >= params.steps

    def is_truncated(self, state, params) -> jax.Array:
        """Never: the query step ends every episode."""
        return jnp.array(False)

    def observation_space(self, params) -> spaces.Box:
        """cues + 1 values in [0, 1]."""
        return spaces.Box(0.0, 1.0, (self.cues + 1,), jnp.float32)

    def action_space(self, params=None) -> spaces.Discrete:
        """One action per cue."""
        return spaces.Discrete(self.cues)


JAX_ENVS = ("MaskedCartPole-v1", "Memory-v0")


def make(env_id: str):
    """(gymnax env, its params) of a ``tandem-jax:`` ID, or a TandemInputError naming the problem."""
    from tandem.envs import own

    name = env_id[len(PREFIX):].partition(":")[0]
    if name not in JAX_ENVS:
        raise TandemInputError(f"--env {env_id!r}: {name!r} has no JAX version; allowed: "
                               f"{', '.join(PREFIX + n for n in JAX_ENVS)} (the host runner's tandem: IDs: "
                               f"{own.allowed()}).")
    _, _, options = own.parse(own.PREFIX + env_id[len(PREFIX):])
    try:
        if name == "MaskedCartPole-v1":
            if options["max_steps"] < 1:
                raise ValueError(f"max_steps={options['max_steps']}: expected at least 1")
            return MaskedCartPole(), CartPoleParams(max_steps_in_episode=options["max_steps"])
        if options["steps"] < 2 or options["cues"] < 2:
            raise ValueError(f"steps={options['steps']}, cues={options['cues']}: expected steps >= 2, cues >= 2")
        return Memory(options["cues"]), MemoryParams(steps=options["steps"], cues=options["cues"],
                                                     max_steps_in_episode=options["steps"])
    except ValueError as e:
        raise TandemInputError(f"--env {env_id!r}: {e}.") from None
