"""What both runners share: episode bookkeeping (in JAX), per-seed initialisation, fingerprints."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

WINDOW = 20  # --target-return compares the mean of the last 20 finished training episodes


class EpisodeStats(NamedTuple):
    """Per seed: running returns of the N envs, the last WINDOW finished returns, and when the target was reached."""

    ret: jax.Array  # [N] float32, return of the episode in progress
    window: jax.Array  # [WINDOW] float32, the last finished returns (ring buffer)
    count: jax.Array  # int32, finished episodes so far
    reached_step: jax.Array  # int32, env step (per seed) at which the target was first reached, -1 before


def episode_stats_init(num_envs: int) -> EpisodeStats:
    return EpisodeStats(jnp.zeros((num_envs,), jnp.float32), jnp.zeros((WINDOW,), jnp.float32),
                        jnp.zeros((), jnp.int32), jnp.full((), -1, jnp.int32))


def window_mean(stats: EpisodeStats) -> jax.Array:
    """Mean of the last min(count, WINDOW) finished returns (NaN before the first one)."""
    n = jnp.minimum(stats.count, WINDOW)
    return jnp.where(n > 0, stats.window.sum() / jnp.maximum(n, 1), jnp.nan)


def track_episodes(stats: EpisodeStats, reward, done, env_steps_before, target):
    """Fold a rollout's rewards/dones ([T, N], time-major) into the stats of one seed.

    env_steps_before: environment steps this seed had taken before the rollout; each time step
    adds N. target: the --target-return (NaN for none). Returns (stats, (sum, count) of the
    returns of episodes finished in this rollout).
    """
    num_envs = reward.shape[1]

    def step(carry, xs):
        s, t, fin_sum, fin_n = carry
        r, d = xs
        ret = s.ret + r
        order = jnp.cumsum(d) - 1  # 0, 1, ... among the envs done at this step, in env order
        n_done = jnp.sum(d).astype(jnp.int32)
        keep = d & (n_done - 1 - order < WINDOW)  # only the last WINDOW can survive in the ring
        pos = jnp.where(keep, (s.count + order) % WINDOW, WINDOW)
        window = s.window.at[pos].set(ret, mode="drop")
        count = s.count + n_done
        s = EpisodeStats(jnp.where(d, 0.0, ret), window, count, s.reached_step)
        hit = (count >= WINDOW) & (window_mean(s) >= target) & (s.reached_step < 0)
        reached = jnp.where(hit, env_steps_before + (t + 1) * num_envs, s.reached_step).astype(jnp.int32)
        fin_sum = fin_sum + jnp.sum(jnp.where(d, ret, 0.0))
        return (s._replace(reached_step=reached), t + 1, fin_sum, fin_n + n_done), None

    init = (stats, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
    (stats, _, fin_sum, fin_n), _ = jax.lax.scan(step, init, (reward, done.astype(bool)))
    return stats, (fin_sum, fin_n)


def init_per_seed(init_fn, keys) -> object:
    """Initialise each seed's agent in its own call, then stack along a leading seed axis.

    Not under vmap on purpose: a vmapped orthogonal initialiser batches its QR decomposition, which
    on XLA's CPU backend was seen to deadlock the thread pool (tests/test_runners.py guards this).
    """
    jitted = jax.jit(init_fn)
    states = [jitted(k) for k in keys]
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
    """Independent root keys for seeds seed, seed+1, ...: seed k's run does not depend on num_seeds."""
    return jnp.stack([jax.random.PRNGKey(seed + k) for k in range(num_seeds)])


def params_fingerprint(params) -> str:
    """SHA-256 over every parameter leaf (path, dtype, shape, bytes), so runs compare bit for bit."""
    h = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        arr = np.asarray(leaf)
        h.update(jax.tree_util.keystr(path).encode())
        h.update(f"{arr.dtype}{arr.shape}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()
