"""``--prefill D``: a replay learner's buffer starts holding a dataset's transitions (offline-to-online).

After batch RL or cloning, an online replay learner that starts from an empty buffer trains its critic at first on
a few hundred transitions of its own. With the dataset in the buffer, its first batches are the data the actor and
critic were trained on; the new transitions mix in and replace the data as the ring turns over. Measured on
Pendulum-v1 (benchmarks/bench_offline.py, BENCHMARKS.md), it does not prevent the fall at the switch. It sped up
the recovery after cloning and softened IQL's fall, and it did not help TD3 after TD3+BC.

Every seed's buffer gets the same rows, in the dataset's order and in the learner's canonical form
(runners/dataset_runner.dataset_arrays), before the first env step: the newest ``n`` transitions, ``n`` the
dataset's size at most the buffer's capacity, rounded down to whole training calls (the ring is written a call's
rows at a time). They count as stored, so learning starts once ``--learning-starts`` transitions are stored,
these included. The buffer is in the checkpoints like any other, so a resumed run continues exactly.
"""

from __future__ import annotations

import jax
import numpy as np

from tandem.errors import TandemInputError


def prefill_rows(cfg, spec) -> dict:
    """The rows a run's ``--prefill`` dataset puts in its replay buffer ({field: [n, ...] numpy}), checked against
    the env (TandemInputError naming the problem, before anything is compiled or written)."""
    from tandem.buffers.dataset import load
    from tandem.runners.dataset_runner import dataset_arrays

    needs = cfg.algo_config.needs   # a replay learner's: config.validate refuses --prefill without one
    data = dataset_arrays(load(cfg.run.prefill, cfg.run.env, "--prefill"), spec)
    per_call = needs.num_envs * needs.rollout_steps
    n = min(int(data.reward.shape[0]), needs.replay.capacity) // per_call * per_call
    if n == 0:
        raise TandemInputError(f"--prefill {cfg.run.prefill!r}: {int(data.reward.shape[0])} transitions, fewer than "
                               f"one training call's {per_call} rows.")
    rows = {k: v for k, v in data._asdict().items() if k != "extras"}
    return {k: np.asarray(v)[-n:] for k, v in rows.items()}


def prefill(driver, state, rows: dict):
    """The driver's fresh ``state`` with every seed's replay buffer holding ``rows`` and counting them stored."""
    host = jax.tree_util.tree_map(np.asarray, driver.host_state(state))
    buf, n = host.agent.replay, int(next(iter(rows.values())).shape[0])
    K = int(np.asarray(host.agent.stored).shape[0])
    data = {k: v.copy() for k, v in buf.data.items()}
    for k, v in rows.items():
        data[k][:, :n] = np.broadcast_to(v.astype(data[k].dtype), (K,) + v.shape)
    capacity = int(next(iter(data.values())).shape[1])
    ptr, size = np.asarray(buf.ptr), np.asarray(buf.size)
    buf = buf.replace(data=data, ptr=np.full(ptr.shape, n % capacity, ptr.dtype),
                      size=np.full(size.shape, n, size.dtype))
    agent = host.agent.replace(replay=buf, stored=np.full(K, n, np.asarray(host.agent.stored).dtype))
    return driver.from_host(host.replace(agent=agent))
