"""The env-backend registry: an ID prefix -> its adapter -> the runner that drives it.

An environment backend is an addition: an adapter file in ``envs/`` and one line in ``_builtin()``
(or a call to :func:`register_backend` from user code). Only this registry knows which runner an
environment gets; everything above asks it.

An ID is ``<prefix>:<name>`` for a registered prefix (``gymnax:CartPole-v1``); anything else is a
Gymnasium ID or a ``package.module:ClassName`` entry point (the ``gymnasium`` backend).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from tandem.errors import TandemInputError

# Backends on the roadmap: their IDs are recognised and refused with a clear message until they land.
PLANNED = {"brax": "Brax environments"}


@dataclasses.dataclass(frozen=True)
class Backend:
    """name; prefix (``"gymnax"``; None for the default backend); runner: the key of its driver in
    runners/driver.py (``"jax"``: ``make(env_id)`` returns a functional env with ``reset(key)`` and
    ``step(key, state, action)``; ``"host"``: ``make(env_id)`` returns an env factory
    ``(num_envs, asynchronous) -> vector env`` with ``reset(seeds)``/``step(actions)`` returning TimeSteps);
    spec(env_id) -> EnvSpec; check(env_id, steps) -> list of problems (``tandem check-env``)."""

    name: str
    prefix: str | None
    runner: str
    spec: Callable[[str], Any]
    make: Callable[[str], Any]
    check: Callable[[str, int], list]


_REGISTERED: dict[str, Backend] = {}


def _builtin() -> dict[str, Backend]:
    from tandem.envs import gymnasium_host, gymnax_jax, jumanji_jax, xminigrid_jax
    from tandem.envs.check import check_gymnasium, check_jax

    return {
        "gymnax": Backend("gymnax", "gymnax", "jax", gymnax_jax.gymnax_spec, gymnax_jax.JaxEnv, check_jax),
        "jumanji": Backend("jumanji", "jumanji", "jax", jumanji_jax.jumanji_spec, jumanji_jax.JumanjiEnv, check_jax),
        "xminigrid": Backend("xminigrid", "xminigrid", "jax", xminigrid_jax.xminigrid_spec, xminigrid_jax.XMiniGridEnv,
                             check_jax),
        "tandem-jax": Backend("tandem-jax", "tandem-jax", "jax", gymnax_jax.gymnax_spec, gymnax_jax.JaxEnv, check_jax),
        "gymnasium": Backend("gymnasium", None, "host", gymnasium_host.gymnasium_spec,
                             gymnasium_host.vec_env_factory, check_gymnasium),
    }


def register_backend(backend: Backend) -> None:
    """Add an env backend (its prefix then selects it: ``<prefix>:<name>``)."""
    _REGISTERED[backend.name] = backend


def backends() -> dict[str, Backend]:
    """Every backend by name: the built-in ones and the registered ones."""
    return {**_builtin(), **_REGISTERED}


def backend_of(env_id: str) -> Backend:
    """The backend of an ID (TandemInputError for an empty ID or a planned backend)."""
    if not isinstance(env_id, str) or not env_id.strip():
        raise TandemInputError("--env must be a non-empty environment ID such as CartPole-v1 or gymnax:CartPole-v1.")
    prefix, sep, _ = env_id.partition(":")
    if sep:
        for b in backends().values():
            if b.prefix == prefix:
                return b
        if prefix in PLANNED:
            allowed = ", ".join(f"{b.prefix}:<name>" for b in backends().values() if b.prefix)
            raise TandemInputError(f"--env {env_id!r}: {PLANNED[prefix]} are not supported yet (on the roadmap). "
                                   f"Allowed: a Gymnasium ID, {allowed}, or package.module:ClassName.")
    return backends()["gymnasium"]


def backend_named(name: str) -> Backend:
    """The backend registered as ``name`` (an EnvSpec's ``backend``)."""
    found = backends()
    if name not in found:
        raise TandemInputError(f"env backend {name!r} is not registered; allowed: {', '.join(found)}.")
    return found[name]
