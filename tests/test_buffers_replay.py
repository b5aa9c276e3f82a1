"""The replay buffer against a plain numpy ring buffer; sampling uniform, seeded, within the filled part;
memory checked before allocation; checkpoints with and without the buffer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from tandem.buffers.replay import (check_state_memory, replay_add, replay_init, replay_sample,
                                   with_replay_from, without_replay)
from tandem.errors import TandemInputError

FIELDS = {"obs": ((2,), jnp.float32), "done": ((), jnp.bool_)}


@pytest.mark.parametrize("cap,m", [(7, 1), (12, 3), (4, 4)])
def test_ring_buffer_matches_numpy_reference(cap, m):
    buf = replay_init(cap, FIELDS)
    ref_obs, ref_done, ptr, size = np.zeros((cap, 2), np.float32), np.zeros(cap, bool), 0, 0
    add = jax.jit(replay_add)
    rng = np.random.default_rng(0)
    for _ in range(11):  # wraps around several times
        rows = {"obs": rng.normal(size=(m, 2)).astype(np.float32), "done": rng.random(m) < 0.5}
        buf = add(buf, rows)
        for i in range(m):  # the reference: one row at a time
            ref_obs[ptr], ref_done[ptr] = rows["obs"][i], rows["done"][i]
            ptr, size = (ptr + 1) % cap, min(size + 1, cap)
        np.testing.assert_array_equal(buf.data["obs"], ref_obs)
        np.testing.assert_array_equal(buf.data["done"], ref_done)
        assert int(buf.ptr) == ptr and int(buf.size) == size


def test_add_refuses_a_block_that_does_not_divide_the_capacity():
    with pytest.raises(ValueError, match="multiple"):
        replay_add(replay_init(7, FIELDS), {"obs": jnp.ones((3, 2)), "done": jnp.ones((3,), bool)})


def test_sampling_is_uniform_over_filled_rows_and_seeded():
    buf = replay_init(100, {"i": ((), jnp.int32)})
    buf = replay_add(buf, {"i": jnp.arange(20, dtype=jnp.int32)})
    buf = replay_add(buf, {"i": jnp.arange(20, 40, dtype=jnp.int32)})  # 40 of 100 rows filled
    sample = jax.jit(replay_sample, static_argnums=2)
    draws = np.concatenate([np.asarray(sample(buf, jax.random.PRNGKey(k), 1000)["i"]) for k in range(40)])
    assert draws.min() == 0 and draws.max() == 39  # never an empty row
    counts = np.bincount(draws, minlength=40)
    assert stats.chisquare(counts).pvalue > 1e-3  # uniform over the 40 filled rows
    a = sample(buf, jax.random.PRNGKey(5), 64)["i"]
    b = sample(buf, jax.random.PRNGKey(5), 64)["i"]
    c = sample(buf, jax.random.PRNGKey(6), 64)["i"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_memory_check_refuses_what_does_not_fit():
    nbytes = 1_000_000 * 18 * 4  # 1M transitions of 17 observation floats and a reward
    check_state_memory(nbytes, 2, "the sac state", available=10 * nbytes)  # fits
    with pytest.raises(TandemInputError, match="buffer-size"):
        check_state_memory(nbytes, 2, "the sac state", available=3 * nbytes)  # 2 seeds x 2 copies do not


def test_checkpoint_without_replay_round_trip():
    from flax import serialization

    buf = replay_add(replay_init(6, FIELDS), {"obs": jnp.ones((3, 2)), "done": jnp.ones((3,), bool)})
    state = {"params": jnp.arange(3.0), "replay": buf}
    host = jax.tree_util.tree_map(np.asarray, state)
    small = without_replay(host)
    assert small["replay"].data["obs"].shape == (0, 2)
    data = serialization.to_bytes(small)
    template = jax.tree_util.tree_map(np.asarray, {"params": jnp.zeros(3), "replay": replay_init(6, FIELDS)})
    loaded = with_replay_from(serialization.from_bytes(without_replay(template), data), template)
    np.testing.assert_array_equal(loaded["params"], [0.0, 1.0, 2.0])
    assert loaded["replay"].data["obs"].shape == (6, 2) and int(loaded["replay"].size) == 0
