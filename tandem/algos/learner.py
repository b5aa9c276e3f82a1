"""The interface every algorithm gives the runners: plain functions over a state pytree."""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


class Learner(NamedTuple):
    init: Callable  # key -> agent state
    act: Callable  # (state, obs [N, *obs], key, carry) -> (action [N, *a], extras {name: [N, ...]}, carry)
    policy: Callable  # (state, obs [..., *obs]) -> deterministic action
    update: Callable  # (state, traj [T, N] time-major, key) -> (state, metrics)
    init_carry: Callable  # num_envs -> per-env acting state (exploration noise, later recurrent state); {} if none
    network_spec: dict


def no_carry(num_envs: int) -> dict:
    return {}


def reset_done(carry, init, done):
    """Per-env acting state back to its initial value where an episode just ended (done: [N])."""
    def reset(c, i):
        mask = done.reshape(done.shape + (1,) * (c.ndim - done.ndim))
        return jnp.where(mask, i, c)

    return jax.tree_util.tree_map(reset, carry, init)
