"""The host rollout: T steps of a set of host environments with an act function, as a function of its own
(the host driver calls it; a remote worker can call it alone, with its own envs and act function)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from tandem.buffers.transition import Transition
from tandem.envs.spec import obs_map, obs_reshape


class Actor(NamedTuple):
    """What acting needs between two rollouts: the agent (read only), the PRNG key, the observations
    [K, N, *obs] and the per-env acting state [K, N, ...] (or [N, ...] for one seed)."""

    agent: Any
    key: Any
    obs: np.ndarray
    carry: Any


def collect(envs, act: Callable, actor: Actor, T: int, spec, num_seeds: int, num_envs: int,
            reset_carry: Callable | None = None, check: Callable | None = None) -> tuple[Transition, list, Actor]:
    """Step ``envs`` (a vector env of K * N envs returning envs.TimeStep) for T steps.

    act(agent, key, obs [K, N, ...], carry) -> (action [K, N, ...], extras, key, carry): the jitted acting
    function; reset_carry(carry, done) resets the acting state where an episode ended (None: no carry);
    check(timestep, t) raises on a bad step (e.g. a non-finite observation) before anything learns from it.
    Returns (the rollout as a numpy Transition [T, K, N] without extras, the extras of each step (left on the
    device), the actor after the last step).
    """
    K, N = num_seeds, num_envs
    # Fresh buffers per rollout: the previous update may still be reading the last ones.
    obs_buf = obs_map(lambda s: np.empty((T, K, N) + s.shape, s.dtype), spec)
    final_buf = obs_map(lambda s: np.empty((T, K, N) + s.shape, s.dtype), spec)

    def put(buf, t, x):
        def one(s, b, v):
            b[t] = v

        obs_map(one, spec, buf, x)

    reward = np.empty((T, K, N), np.float32)
    terminated, truncated = np.empty((T, K, N), bool), np.empty((T, K, N), bool)
    actions, extras_t = [], []
    agent, key, obs, carry = actor
    done_shape = (K, N) if K > 1 else (N,)
    for t in range(T):
        action, extras, key, carry = act(agent, key, obs, carry)
        action = np.asarray(action)  # [K, N, *action_shape]
        ts = envs.step(action.reshape((K * N,) + action.shape[2:]))
        if check is not None:
            check(ts, t)
        actions.append(action)
        extras_t.append(extras)
        put(obs_buf, t, obs)
        put(final_buf, t, obs_reshape(spec, ts.final_obs, (K, N)))
        reward[t] = ts.reward.reshape(K, N)
        terminated[t] = ts.terminated.reshape(K, N)
        truncated[t] = ts.truncated.reshape(K, N)
        obs = obs_reshape(spec, ts.obs, (K, N))
        if reset_carry is not None and (ts.terminated.any() or ts.truncated.any()):
            carry = reset_carry(carry, (ts.terminated | ts.truncated).reshape(done_shape))
    rollout = Transition(obs_buf, np.stack(actions), reward, terminated, truncated, final_buf, {})
    return rollout, extras_t, Actor(agent, key, obs, carry)
