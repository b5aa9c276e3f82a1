"""Environment layer: one protocol (:class:`TimeStep`, :class:`EnvSpec`), adapters, and the backend registry.

An environment ID is a Gymnasium ID (``CartPole-v1``), a JAX env with a prefix
(``gymnax:CartPole-v1``), or an entry point ``package.module:ClassName`` of a Gymnasium-API class.
"""

from __future__ import annotations

from tandem.envs.spec import EnvSpec, TimeStep

__all__ = ["EnvSpec", "TimeStep", "env_spec"]


def env_spec(env_id: str) -> EnvSpec:
    """Resolve an ID into an EnvSpec (raises TandemInputError naming the ID and what is allowed)."""
    from tandem.envs.registry import backend_of

    return backend_of(env_id).spec(env_id)
