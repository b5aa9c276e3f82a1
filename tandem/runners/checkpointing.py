"""The checkpoint policy of a run: when to checkpoint, what a run's checkpoint holds, how it is loaded back."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from tandem._version import __version__
from tandem.buffers.replay import with_replay_from, without_replay
from tandem.errors import TandemRuntimeError
from tandem.io.checkpoint import load_checkpoint, load_extra, next_number, save_checkpoint
from tandem.runners.common import first_nonfinite_leaf

KEEP = 3
"""Checkpoints kept per run (the newest)."""


def crossed(every: int, before: int, after: int) -> bool:
    """Did the counter pass a multiple of ``every`` going from ``before`` to ``after``? (JAX chunks need not
    align with the intervals.)"""
    return after // every > before // every


def saves_replay(cfg) -> bool:
    """Whether the run's checkpoints hold its replay buffer (always true without one)."""
    replay = cfg.algo_config.needs.replay
    return replay is None or replay.save


def manifest_for(cfg, learner, spec, position: dict, wall_seconds: float) -> dict:
    """What a checkpoint's manifest says besides its files: versions, algorithm, the full config, the
    network specs and the env spec (enough to rebuild the policy alone), and where the run stands."""
    return {"tandem_version": __version__, "algo": cfg.algo, "config": cfg.to_dict(),
            "network_spec": learner.network_spec, "env_spec": spec.to_dict(), **position,
            "wall_seconds": float(wall_seconds)}


def save_run_checkpoint(ckpt_root: Path, cfg, driver, state, manifest: dict) -> Path:
    """Write the next checkpoint of the run: the driver's state (without the replay buffer when
    --no-save-replay) and its env records. Never a state with a non-finite value."""
    host = jax.tree_util.tree_map(np.asarray, driver.host_state(state))
    bad = first_nonfinite_leaf(host.agent)
    if bad is not None:  # a last guard: the fault checks stop a run before this can happen
        raise TandemRuntimeError(f"refusing to write a checkpoint at env step {manifest['counters']['env_steps']}: "
                                 f"the learner state holds a non-finite value at {bad}.")
    records = driver.env_records()
    return save_checkpoint(ckpt_root, next_number(ckpt_root), host if saves_replay(cfg) else without_replay(host),
                           manifest, keep=KEEP, extras={"envs": records} if records is not None else None)


def load_run_checkpoint(cfg, driver, ckpt: Path, envs: bool = True):
    """Load a checkpoint of this run into the driver's template (in checkpoint form). A run saved without
    its replay buffer (--no-save-replay) continues with the template's empty one.
    Returns (state, manifest, the env records when ``envs`` (to resume), else None)."""
    template = jax.tree_util.tree_map(np.asarray, driver.template(cfg.run.seed))
    if saves_replay(cfg):
        loaded, manifest = load_checkpoint(ckpt, template, expect_algo=cfg.algo)
    else:
        loaded, manifest = load_checkpoint(ckpt, without_replay(template), expect_algo=cfg.algo)
        loaded = with_replay_from(loaded, template)
    return loaded, manifest, load_extra(ckpt, "envs", manifest) if envs else None
