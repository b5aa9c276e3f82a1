"""The one Transition type: what rollouts, the replay buffer and datasets carry, built in one place.

Time-major rollouts hold it with leading axes [T, N]; replay samples and dataset batches with [B].
``final_obs`` is the true successor of ``action`` (the observation before any reset), so a time-limit
cut (``truncated``) bootstraps from where it was cut and only ``terminated`` stops the bootstrap.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Transition(NamedTuple):
    """obs [..., *obs_shape]; action [..., *action_shape]; reward, terminated, truncated [...];
    final_obs [..., *obs_shape]; extras: {name: [..., ...]} from the learner's ``act`` (e.g. log_prob)."""

    obs: Any
    action: Any
    reward: Any
    terminated: Any
    truncated: Any
    final_obs: Any
    extras: Any = {}


def transition(obs, action, timestep, extras=None) -> Transition:
    """The transition of acting with ``action`` on ``obs`` and getting ``timestep`` (an envs.TimeStep)."""
    return Transition(obs, action, timestep.reward, timestep.terminated, timestep.truncated, timestep.final_obs,
                      {} if extras is None else extras)


def transition_fields(spec) -> dict:
    """Row shapes and dtypes of a stored transition (no extras) for an env spec: name -> (shape, dtype)
    (obs and final_obs: a dict of those for a structured observation)."""
    import numpy as np

    from tandem.envs.spec import obs_struct

    struct = obs_struct(spec)
    obs = ({k: (v.shape, v.dtype) for k, v in struct.items()} if isinstance(struct, dict)
           else (struct.shape, struct.dtype))
    action = (tuple(spec.action_shape), np.dtype(np.int32 if spec.action_kind == "discrete" else np.float32))
    return {"obs": obs, "action": action, "reward": ((), np.dtype(np.float32)), "terminated": ((), np.dtype(bool)),
            "truncated": ((), np.dtype(bool)), "final_obs": obs}


def flatten_time(tr: Transition) -> Transition:
    """[T, N, ...] -> [T * N, ...] on every field but the extras (dropped): rows for a replay buffer."""
    import jax

    T, N = tr.reward.shape[:2]
    rows = Transition(tr.obs, tr.action, tr.reward, tr.terminated, tr.truncated, tr.final_obs, {})
    return jax.tree_util.tree_map(lambda x: x.reshape((T * N,) + x.shape[2:]), rows)
