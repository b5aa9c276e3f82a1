"""Reliability: exact resume after a signal at any update, crash-safe checkpoints (SIGKILL, disk full),
corrupt checkpoints, non-finite values, malformed envs, and no recompilation or memory growth.

Signals are real: sent to this process (the in-process matrix) or to a `tandem train` subprocess.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tandem
from tandem.api import resolve_config, resume
from tandem.errors import Interrupted, TandemRuntimeError
from tandem.io import checkpoint as ckpt_mod
from tandem.io.checkpoint import CheckpointError, latest_checkpoint, list_checkpoints
from tandem.runners.loop import schedule

# (algo, env, overrides): every algorithm on both runners, two seeds on some, OU noise (an acting state)
# on one. Where they can, the cases repeat configurations of test_runners.py and test_offpolicy_runs.py,
# whose compiled programs the persistent cache then shares (compilation dominates the suite's time).
PPO = dict(num_envs=4, num_steps=64, num_minibatches=2, update_epochs=2, eval_episodes=2, tensorboard=False,
           log_every=2, checkpoint_every=4)
OFF = dict(actor_hidden=(32, 32), critic_hidden=(32, 32), batch_size=32, eval_episodes=2, tensorboard=False,
           total_steps=300, learning_starts=100, buffer_size=1000)
SMALL = dict(actor_hidden=(16,), critic_hidden=(16,), eval_episodes=0, tensorboard=False)
OFF_SMALL = dict(SMALL, batch_size=32, total_steps=240, learning_starts=60, buffer_size=500, log_every=20,
                 checkpoint_every=70)
A2C_SMALL = dict(SMALL, num_envs=2, num_steps=8, total_steps=320, log_every=2, checkpoint_every=3)
RESUME_CASES = {
    "ppo-host": ("ppo", "CartPole-v1", dict(PPO, total_steps=1024)),
    "a2c-host": ("a2c", "Pendulum-v1", dict(A2C_SMALL, num_seeds=2)),
    "sac-host": ("sac", "Pendulum-v1", OFF),
    "td3-host": ("td3", "Pendulum-v1", dict(OFF_SMALL, noise_type="ou")),
    "ddpg-host": ("ddpg", "Pendulum-v1", OFF),
    "ppo-jax": ("ppo", "gymnax:CartPole-v1", dict(PPO, total_steps=2048)),
    "a2c-jax": ("a2c", "gymnax:Pendulum-v1", A2C_SMALL),
    "sac-jax": ("sac", "gymnax:Pendulum-v1", dict(OFF_SMALL, num_seeds=2)),
    "td3-jax": ("td3", "gymnax:Pendulum-v1", OFF),
    "ddpg-jax": ("ddpg", "gymnax:Pendulum-v1", dict(OFF_SMALL, noise_type="ou")),
}


def _metrics(run_dir: Path) -> list[dict]:
    """metrics.csv without the wall-clock columns (they differ between any two runs)."""
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in ("wall_seconds", "charts/sps")} for row in csv.DictReader(f)]


def _interrupt_after(monkeypatch, calls: int):
    """Send SIGINT to this process right after the driver's ``calls``-th run() (a real signal, handled
    by the run's own handler)."""
    from tandem.runners.host_runner import HostDriver
    from tandem.runners.jax_runner import JaxDriver

    count = {"n": 0}
    for cls in (HostDriver, JaxDriver):
        original = cls.run

        def run(self, *a, _original=original, **kw):
            out = _original(self, *a, **kw)
            count["n"] += 1
            if count["n"] == calls:
                os.kill(os.getpid(), signal.SIGINT)
            return out

        monkeypatch.setattr(cls, "run", run)


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_signal_then_resume_is_bit_identical(tmp_path, monkeypatch, case):
    """Interrupted by SIGINT mid-run (not at a periodic checkpoint), then resumed: the same parameters,
    bit for bit, and the same metrics rows as the run never interrupted."""
    algo, env, kw = RESUME_CASES[case]
    sch = schedule(resolve_config(algo, env, **kw))
    full = tandem.train(algo, env, run_dir=str(tmp_path / "full"), **kw)
    # The driver runs one update per call on the host, one log interval of updates per call in JAX:
    # stop half way, on a log boundary (so the metrics rows line up), rarely on a periodic checkpoint.
    half = sch["total_updates"] // 2 // sch["log_every"]
    _interrupt_after(monkeypatch, half if env.startswith("gymnax:") else half * sch["log_every"])
    with pytest.raises(Interrupted) as info:
        tandem.train(algo, env, run_dir=str(tmp_path / "cut"), **kw)
    monkeypatch.undo()
    assert info.value.exit_code == 130 and info.value.checkpoint is not None
    assert not (tmp_path / "cut" / "summary.json").exists()
    resumed = resume(tmp_path / "cut")
    assert resumed.summary["env_steps"] == full.summary["env_steps"]
    assert resumed.summary["params_fingerprint"] == full.summary["params_fingerprint"]
    assert resumed.summary["final_eval_return"] == full.summary["final_eval_return"]
    assert _metrics(tmp_path / "cut") == _metrics(full.run_dir)
