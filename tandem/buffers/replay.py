"""Uniform experience replay as a pure ring buffer over a dict of arrays.

The buffer is a pytree held by the runner side next to the learner state (runners/agent.py), so every
runner drives it the same way: inside the JAX runner it stays on the device in the compiled loop; on
the host runner it is part of the state the jitted training call reads and (donated) writes in place.
The learner never sees it: it learns from sampled batches. Checkpoints hold it like any other leaf, so
a resumed run samples exactly what the uninterrupted one would; ``without_replay`` leaves it out for
small checkpoints.

Tested against a plain numpy ring buffer in tests/test_buffers_replay.py.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from tandem.errors import TandemInputError


class ReplayBuffer(flax.struct.PyTreeNode):
    data: dict  # name -> [capacity, *shape] (or a dict of those: a structured observation)
    ptr: jax.Array  # int32, the row the next transition is written to
    size: jax.Array  # int32, rows filled so far (at most capacity)

    @property
    def capacity(self) -> int:
        """Rows the buffer holds."""
        return int(jax.tree_util.tree_leaves(self.data)[0].shape[0])


def replay_init(capacity: int, fields: dict[str, Any]) -> ReplayBuffer:
    """An empty buffer of ``capacity`` rows; fields: name -> (shape of one row, dtype), or name -> a dict of
    those for a structured observation (each of its fields stored as an array of its own dtype)."""
    def zeros(f):
        if isinstance(f, dict):
            return {k: zeros(v) for k, v in f.items()}
        shape, dtype = f
        return jnp.zeros((capacity,) + tuple(shape), dtype)

    data = {k: zeros(v) for k, v in fields.items()}
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def _leaves(tree) -> list:
    """(name, array) of every stored array, named ``obs`` or ``obs['board']``."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(path[0].key + jax.tree_util.keystr(path[1:]), x) for path, x in flat]


def replay_add(buf: ReplayBuffer, rows: dict) -> ReplayBuffer:
    """Append M rows (each field [M, *shape]) in order, overwriting the oldest once full.

    Every call must add the same M, and the capacity must be a multiple of M: the rows then always
    land in one contiguous block, written in place by a dynamic-update-slice. (A scatter with
    wrap-around indices became a select over the whole buffer in XLA: one full pass per call.)
    """
    capacity = buf.capacity
    missing, extra = sorted(set(buf.data) - set(rows)), sorted(set(rows) - set(buf.data))
    if missing or extra:
        raise ValueError(f"replay_add: fields {sorted(rows)} do not match the buffer's {sorted(buf.data)} "
                         f"(missing {missing}, unknown {extra}).")
    rows = {k: rows[k] for k in buf.data}
    if jax.tree_util.tree_structure(rows) != jax.tree_util.tree_structure(buf.data):
        raise ValueError(f"replay_add: the rows' structure {jax.tree_util.tree_structure(rows)} does not match the "
                         f"buffer's {jax.tree_util.tree_structure(buf.data)}.")
    stores, new = _leaves(buf.data), [x for _, x in _leaves(rows)]
    first, store0 = stores[0]
    if np.ndim(new[0]) == 0:
        raise ValueError(f"replay_add: field {first!r} shape () does not match expected "
                         f"(M,) + {tuple(store0.shape[1:])} (a leading axis of M rows).")
    m = np.shape(new[0])[0]
    for (k, store), x in zip(stores, new):
        # Every field exactly [M, *row shape]: dynamic_update_slice would otherwise broadcast (or reject
        # with an unclear message) an [M] field into [M, 1] rows.
        expected, actual = (m,) + tuple(store.shape[1:]), tuple(np.shape(x))
        if actual != expected:
            raise ValueError(f"replay_add: field {k!r} shape {actual} does not match expected {expected} "
                             f"([M, *row shape] with M = {m} rows, row shape {tuple(store.shape[1:])}).")
    if m == 0 or capacity % m:
        raise ValueError(f"replay capacity {capacity} is not a multiple of the rows added per call ({m})")

    def put(store, new):
        new = new.astype(store.dtype)
        return jax.lax.dynamic_update_slice(store, new, (buf.ptr,) + (0,) * (store.ndim - 1))

    data = jax.tree_util.tree_map(put, buf.data, rows)
    return ReplayBuffer(data, (buf.ptr + m) % capacity, jnp.minimum(buf.size + m, capacity))


def replay_sample(buf: ReplayBuffer, key: jax.Array, batch_size: int) -> dict:
    """``batch_size`` rows drawn uniformly with replacement from the filled part (seeded by ``key``)."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buf.size, 1))
    return jax.tree_util.tree_map(lambda v: v[idx], buf.data)


class ReplayFns(NamedTuple):
    """A uniform replay buffer as a bundle of pure functions (Flashbax-style), closed over its shape:
    init() -> ReplayBuffer; add(buffer, rows {name: [M, ...]}) -> buffer; sample(buffer, key) -> rows [batch_size]."""

    init: Callable
    add: Callable
    sample: Callable


def uniform_replay(capacity: int, fields: dict[str, tuple[tuple[int, ...], Any]], batch_size: int) -> ReplayFns:
    """The bundle of a ``capacity``-row buffer of ``fields`` (name -> (row shape, dtype)) sampling ``batch_size``."""
    return ReplayFns(lambda: replay_init(capacity, fields), replay_add,
                     lambda buf, key: replay_sample(buf, key, batch_size))


def _is_replay(x) -> bool:
    return isinstance(x, ReplayBuffer)


def without_replay(tree):
    """The same pytree with every replay buffer emptied to zero rows (for checkpoints without replay)."""
    def empty(x):
        if not _is_replay(x):
            return x
        data = jax.tree_util.tree_map(lambda v: np.zeros((0,) + tuple(v.shape[1:]), v.dtype), x.data)
        return ReplayBuffer(data, np.zeros_like(x.ptr), np.zeros_like(x.size))

    return jax.tree_util.tree_map(empty, tree, is_leaf=_is_replay)


def with_replay_from(loaded, template):
    """Put the template's (empty, full-capacity) replay buffers back into a state loaded without them."""
    return jax.tree_util.tree_map(lambda l, t: t if _is_replay(t) else l, loaded, template, is_leaf=_is_replay)


def available_memory_bytes() -> int | None:
    """Memory the state can still use: the accelerator's free memory, or the host's MemAvailable."""
    dev = jax.devices()[0]
    if dev.platform != "cpu":
        stats = dev.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_state_memory(state_bytes: int, num_seeds: int, what: str, available: int | None = None) -> None:
    """Refuse (exit 2, before anything is allocated) a learner state that cannot fit in memory.

    Counted twice: a checkpoint copies the state to the host while it is written.
    """
    available = available_memory_bytes() if available is None else available
    if available is None:
        return
    need = 2 * state_bytes * num_seeds
    if need > 0.9 * available:
        gib = 1024**3
        raise TandemInputError(
            f"{what} needs about {need / gib:.2f} GiB ({state_bytes / gib:.2f} GiB per seed x {num_seeds} seed(s), "
            f"twice for checkpointing) but only {available / gib:.2f} GiB is available; allowed: a smaller "
            f"--buffer-size or fewer --num-seeds."
        )
