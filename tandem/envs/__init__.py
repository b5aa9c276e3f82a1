"""Environment layer: one protocol (:class:`TimeStep`, :class:`EnvSpec`) and adapters.

An environment ID is a Gymnasium ID (``CartPole-v1``), a JAX env with a prefix
(``gymnax:CartPole-v1``), or an entry point ``package.module:ClassName`` of a Gymnasium-API class.
"""

from __future__ import annotations

from tandem.envs.spec import EnvSpec, TimeStep

__all__ = ["EnvSpec", "TimeStep", "env_spec", "make_host_env", "make_jax_env"]


def env_spec(env_id: str) -> EnvSpec:
    """Resolve an ID into an EnvSpec (raises TandemInputError naming the ID and what is allowed)."""
    from tandem.errors import TandemInputError

    if not isinstance(env_id, str) or not env_id.strip():
        raise TandemInputError("--env must be a non-empty environment ID such as CartPole-v1 or gymnax:CartPole-v1.")
    if env_id.startswith("gymnax:"):
        from tandem.envs.gymnax_jax import gymnax_spec

        return gymnax_spec(env_id)
    from tandem.envs.gymnasium_host import gymnasium_spec

    return gymnasium_spec(env_id)


def make_host_env(env_id: str, num_envs: int, seed: int, asynchronous: bool = False):
    from tandem.envs.gymnasium_host import HostVecEnv

    return HostVecEnv(env_id, num_envs, seed, asynchronous)


def make_jax_env(env_id: str):
    from tandem.envs.gymnax_jax import JaxEnv

    return JaxEnv(env_id)
