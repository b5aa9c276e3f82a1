"""What every functional JAX env adapter shares: the canonical-action check, observation fields of a pytree,
and the automatic reset of an env whose own step (dm_env style: Jumanji, XLand-MiniGrid) does not reset.

Each adapter (gymnax_jax.py, jumanji_jax.py, xminigrid_jax.py) unpacks its library's conventions and calls
these, so the runner only ever sees ``reset(key) -> (state, obs)`` and ``step(key, state, action) ->
(state, TimeStep)`` for one env (envs/spec.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from tandem.envs.spec import EnvSpec, TimeStep
from tandem.errors import TandemRuntimeError

LAST = 2
"""dm_env's StepType.LAST: the episode ended at this step (its discount says how: 0 terminated, else truncated)."""


def import_suite(module: str, env_id: str):
    """The environment suite's package, or a TandemInputError saying how to install it."""
    import importlib

    from tandem.errors import TandemInputError

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise TandemInputError(f"--env {env_id!r} needs the {module} package ({e}); install it with "
                               f"pip install 'tandem-rl[suites]' (or pip install -e '.[suites]').") from None


def make_serializable(state) -> None:
    """Let flax's msgpack checkpoints (io/checkpoint.py) hold an env state made of plain dataclasses (Jumanji's
    chex dataclasses): each dataclass type found in ``state`` is registered with flax serialization as the dict
    of its fields (flax structs, dicts, tuples and arrays already are)."""
    import dataclasses

    from flax import serialization

    def to_dict(x):
        return {f.name: serialization.to_state_dict(getattr(x, f.name)) for f in dataclasses.fields(x)}

    def from_dict(x, d):
        return dataclasses.replace(x, **{f.name: serialization.from_state_dict(getattr(x, f.name), d[f.name])
                                         for f in dataclasses.fields(x)})

    def walk(x):
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            if type(x) not in serialization._STATE_DICT_REGISTRY:  # flax keeps no public lookup
                serialization.register_serialization_state(type(x), to_dict, from_dict)
            for f in dataclasses.fields(x):
                walk(getattr(x, f.name))
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (tuple, list)):
            for v in x:
                walk(v)

    walk(state)


def check_action(spec: EnvSpec, action) -> jax.Array:
    """One environment's canonical action (``spec.action_shape``, integer or float), checked when traced: any other
    shape or kind raises TandemRuntimeError naming both, instead of being broadcast."""
    action = jnp.asarray(action)
    expected = spec.action_shape
    if spec.action_kind == "discrete":
        what, kind = f"one integer in [0, {spec.num_actions})", "an integer"
        kind_ok = jnp.issubdtype(action.dtype, jnp.integer)
    else:
        what, kind = f"a float vector in [-1, 1]^{spec.action_dim}", "a floating-point"
        kind_ok = jnp.issubdtype(action.dtype, jnp.floating)
    if tuple(action.shape) != expected:
        raise TandemRuntimeError(
            f"{spec.id}: action shape {tuple(action.shape)} does not match expected {expected}; step takes one "
            f"environment's canonical action, {what} (vmap step over environments for a batch).")
    if not kind_ok:
        raise TandemRuntimeError(f"{spec.id}: action dtype {action.dtype} does not match expected {kind} dtype; "
                                 f"step takes {what}.")
    return action


def field_names(obs) -> list[tuple[str, object]]:
    """(name, leaf) of every array in an observation pytree (a NamedTuple, a dict, nested), the name the path's
    keys joined by "_" (``agent_position_row``), in the pytree's order."""
    flat, _ = jax.tree_util.tree_flatten_with_path(obs)
    out = []
    for path, leaf in flat:
        parts = [str(getattr(k, "name", getattr(k, "key", getattr(k, "idx", k)))) for k in path]
        out.append(("_".join(parts) or "obs", leaf))
    return out


def obs_fields_of(example) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """The EnvSpec ``obs_fields`` of an example observation pytree (shapes and dtypes; sorted by name)."""
    fields = [(name, tuple(int(d) for d in np.shape(x)), str(np.dtype(x.dtype))) for name, x in field_names(example)]
    return tuple(sorted(fields))


def check_obs(spec: EnvSpec, obs, where: str):
    """An observation as tandem keeps it: a dict {field: array} of the spec's shapes and dtypes for a structured
    one (an array of ``obs_shape`` otherwise), checked when traced (raises TandemRuntimeError naming the field)."""
    if not spec.obs_fields:
        shape = tuple(jnp.shape(obs))
        if shape != tuple(spec.obs_shape):
            raise TandemRuntimeError(f"{spec.id}: {where} returned an observation of shape {shape}, which does not "
                                     f"match expected {tuple(spec.obs_shape)} (the observation space's shape).")
        return jnp.asarray(obs, spec.obs_dtype)
    got = dict(field_names(obs))
    out = {}
    for name, shape, dtype in spec.obs_fields:
        if name not in got:
            raise TandemRuntimeError(f"{spec.id}: {where} returned an observation without field {name!r} "
                                     f"(expected fields: {', '.join(n for n, _, _ in spec.obs_fields)}).")
        if tuple(jnp.shape(got[name])) != shape:
            raise TandemRuntimeError(f"{spec.id}: {where} returned field {name!r} of shape {tuple(jnp.shape(got[name]))}, "
                                     f"which does not match expected {shape}.")
        out[name] = jnp.asarray(got[name], dtype)
    return out


def scalar(spec: EnvSpec, x, name: str, dtype) -> jax.Array:
    """A per-env reward or flag: one value, shape () (a (1,) value is squeezed explicitly); any other shape raises."""
    shape = tuple(jnp.shape(x))
    if shape not in ((), (1,)):
        raise TandemRuntimeError(f"{spec.id}: step returned {name} of shape {shape}, which does not match "
                                 f"expected () (one value per environment).")
    return jnp.asarray(x, dtype).reshape(())


def autoreset(spec: EnvSpec, reset, key, state, obs, reward, last, discount) -> tuple[object, TimeStep]:
    """The TimeStep of a dm_env-style step that has ended (``last``) or not, with the episode restarted from
    ``reset(key) -> (state, obs)`` where it ended. ``discount`` 0 at the last step is a termination, any
    other a truncation (a time limit: the learner bootstraps from ``final_obs``, the observation reached)."""
    last = scalar(spec, last, "step_type", bool)
    discount = scalar(spec, discount, "discount", jnp.float32)
    reset_state, reset_obs = reset(key)

    def pick(new, old):
        return jnp.where(jnp.reshape(last, (1,) * jnp.ndim(old)), new, old)

    state = jax.tree_util.tree_map(pick, reset_state, state)
    next_obs = jax.tree_util.tree_map(pick, reset_obs, obs)
    return state, TimeStep(obs=next_obs, reward=scalar(spec, reward, "reward", jnp.float32),
                           terminated=last & (discount == 0), truncated=last & (discount != 0), final_obs=obs)
