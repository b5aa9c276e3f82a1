"""What both runners share: episode bookkeeping (in JAX), per-seed initialisation, fingerprints,
and the error a non-finite value stops a run with."""

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
    """The statistics of one seed before any episode."""
    return EpisodeStats(jnp.zeros((num_envs,), jnp.float32), jnp.zeros((WINDOW,), jnp.float32),
                        jnp.zeros((), jnp.int32), jnp.full((), -1, jnp.int32))


def window_mean(stats: EpisodeStats) -> jax.Array:
    """Mean of the last min(count, WINDOW) finished returns (NaN before the first one)."""
    n = jnp.minimum(stats.count, WINDOW)
    return jnp.where(n > 0, stats.window.sum() / jnp.maximum(n, 1), jnp.nan)


def track_step(stats: EpisodeStats, reward, done, env_steps, target):
    """Fold one step of N envs (reward [N], done [N]) into the stats of one seed.

    env_steps: this seed's environment steps counting this one; target: --target-return (NaN for
    none). Returns (stats, (sum, count) of the returns of the episodes that finished now).
    """
    ret = stats.ret + reward
    order = jnp.cumsum(done) - 1  # 0, 1, ... among the envs done at this step, in env order
    n_done = jnp.sum(done).astype(jnp.int32)
    keep = done & (n_done - 1 - order < WINDOW)  # only the last WINDOW can survive in the ring
    pos = jnp.where(keep, (stats.count + order) % WINDOW, WINDOW)
    window = stats.window.at[pos].set(ret, mode="drop")
    count = stats.count + n_done
    new = EpisodeStats(jnp.where(done, 0.0, ret), window, count, stats.reached_step)
    hit = (count >= WINDOW) & (window_mean(new) >= target) & (stats.reached_step < 0)
    new = new._replace(reached_step=jnp.where(hit, env_steps, stats.reached_step).astype(jnp.int32))
    return new, (jnp.sum(jnp.where(done, ret, 0.0)), n_done)


def track_episodes(stats: EpisodeStats, reward, done, env_steps_before, target):
    """:func:`track_step` over a rollout (reward, done: [T, N], time-major) that started after
    env_steps_before steps. Returns (stats, (sum, count) of the returns of episodes finished in it)."""
    num_envs = reward.shape[1]

    def step(carry, xs):
        s, fin_sum, fin_n = carry
        t, r, d = xs
        s, (f_sum, f_n) = track_step(s, r, d, env_steps_before + (t + 1) * num_envs, target)
        return (s, fin_sum + f_sum, fin_n + f_n), None

    init = (stats, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
    ts = jnp.arange(reward.shape[0], dtype=jnp.int32)
    (stats, fin_sum, fin_n), _ = jax.lax.scan(step, init, (ts, reward, done.astype(bool)))
    return stats, (fin_sum, fin_n)


def init_seeds(init_one, seed: int, num_seeds: int):
    """Run ``init_one(key)`` for seeds seed, seed+1, ... and stack the results along a leading seed
    axis, all in one compiled call (a handful of eager ops would each cost a compilation).

    Seed k's key is ``PRNGKey(seed + k)``, so a seed's run does not depend on num_seeds. A sequential
    ``lax.map``, not ``vmap``, on purpose: a vmapped orthogonal initialiser batches its QR
    decomposition, which on XLA's CPU backend was seen to deadlock the thread pool
    (tests/test_runners.py launches multi-seed runs repeatedly to catch a return of it).
    """
    lowered, seeds = lower_seeds(init_one, seed, num_seeds)
    return lowered.compile()(seeds)


def lower_seeds(init_one, seed: int, num_seeds: int, seeds=None):
    """:func:`init_seeds` lowered, not yet compiled: (the Lowered program, its seed argument). Its
    ``out_info`` gives the state's shapes before any compilation, so other programs can start compiling.
    ``seeds``: the seed of each position instead of seed, seed+1, ... (an architecture search's members)."""
    seeds = (np.arange(seed, seed + num_seeds, dtype=np.uint32) if seeds is None
             else np.asarray(seeds, dtype=np.uint32))
    return jax.jit(lambda s: jax.lax.map(lambda x: init_one(jax.random.PRNGKey(x)), s)).lower(seeds), seeds


def vmap_seeds(fn, size: int, in_axes, out_axes=0, axis_name: str | None = None):
    """``jax.vmap(fn, in_axes, out_axes)`` over a seed axis of ``size``; for one seed, squeeze the axis
    instead. Unbatched, a ``lax.cond`` in the learner stays a real branch (vmapped, both sides run)
    and matrix products stay plain ones. An output axis of None is returned as is (not expanded)."""
    if size != 1:
        return jax.vmap(fn, in_axes=in_axes, out_axes=out_axes, axis_name=axis_name)

    def per_arg(axes, n):
        return axes if isinstance(axes, (tuple, list)) else (axes,) * n

    def wrapped(*args):
        squeezed = [a if ax is None else jax.tree_util.tree_map(lambda x: jnp.squeeze(x, ax), a)
                    for a, ax in zip(args, per_arg(in_axes, len(args)))]
        out = fn(*squeezed)
        if isinstance(out_axes, (tuple, list)):
            return tuple(o if ax is None else jax.tree_util.tree_map(lambda x: jnp.expand_dims(x, ax), o)
                         for o, ax in zip(out, out_axes))
        return jax.tree_util.tree_map(lambda x: jnp.expand_dims(x, out_axes), out)

    return wrapped


def in_background(thunk):
    """Start ``thunk`` on a thread of its own; returns a Future (its ``result()`` re-raises its exception)."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1, thread_name_prefix="tandem-compile")
    future = pool.submit(thunk)
    pool.shutdown(wait=False)
    return future


def concurrently(*thunks):
    """Run the thunks (e.g. ``lambda: fn.lower(...).compile()``) on threads and return their results in order,
    raising the first one's exception. XLA compiles without holding the GIL, so the programs of a run
    compile side by side on the cores (tracing, in Python, still takes turns)."""
    from concurrent.futures import ThreadPoolExecutor

    if len(thunks) <= 1:
        return [t() for t in thunks]
    with ThreadPoolExecutor(len(thunks), thread_name_prefix="tandem-compile") as pool:
        futures = [pool.submit(t) for t in thunks]
        return [f.result() for f in futures]


def params_fingerprint(params) -> str:
    """SHA-256 over every parameter leaf (path, dtype, shape, bytes), so runs compare bit for bit."""
    h = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        arr = np.asarray(leaf)
        h.update(jax.tree_util.keystr(path).encode())
        h.update(f"{arr.dtype}{arr.shape}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


_HINTS = {
    "observation": "the environment returned it; `tandem check-env {env}` shows where",
    "reward": "the environment returned it; `tandem check-env {env}` shows where",
    "loss": "try a lower learning rate, gradient clipping (--max-grad-norm for PPO/A2C) or normalised "
            "observations and rewards",
    "gradient": "try a lower learning rate, gradient clipping (--max-grad-norm for PPO/A2C) or normalised "
                "observations and rewards",
}


def nonfinite_error(code: int, env_step: int, seed: int, env_id: str, detail: str = ""):
    """The TandemRuntimeError that stops a run at its first non-finite value (codes: ops/finite.py)."""
    from tandem.errors import TandemRuntimeError
    from tandem.ops.finite import SOURCES

    source = SOURCES[int(code)]
    return TandemRuntimeError(
        f"non-finite {source} (NaN or Inf) at env step {int(env_step)} of seed {int(seed)}{detail}; "
        f"{_HINTS[source].format(env=env_id)}. The run stopped before saving anything from that update: "
        f"the checkpoints in the run directory hold only finite values.")


def raise_if_faulted(metrics: dict, seed: int, env_id: str) -> None:
    """Raise :func:`nonfinite_error` for the first update (then the first seed) whose ``fault`` metric is
    set. ``metrics``: the ``fault`` and ``fault_step`` arrays [updates, seeds] of a driver's run()."""
    fault = np.asarray(metrics["fault"])
    hits = np.argwhere(fault > 0)
    if len(hits):
        u, k = hits[0]
        raise nonfinite_error(fault[u, k], np.asarray(metrics["fault_step"])[u, k], seed + k, env_id)


def first_nonfinite_leaf(tree) -> str | None:
    """The path of the first floating-point leaf of ``tree`` holding a NaN or Inf, or None."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.inexact) and not np.isfinite(arr).all():
            return jax.tree_util.keystr(path)
    return None
