"""DDPG/TD3/SAC through both runners: truncation reaches the replay buffer as a bootstrapped
transition, save/load, a checkpoint without the buffer (exact resume: test_reliability.py), MuJoCo smoke runs, the JAX runner with seeds."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import tandem
from flax import serialization

from tandem.api import resume
from tandem.io.checkpoint import latest_checkpoint

def test_time_limit_truncation_is_stored_as_bootstrapped_transition(tmp_path, train_off):
    """Pendulum-v1 only ends by its 200-step time limit: row 199 must be truncated, not terminated,
    and its next_obs must be the true final observation, not the first observation of the next episode."""
    r = train_off(name="trunc", total_steps=260, learning_starts=10_000, buffer_size=1000)
    saved = serialization.msgpack_restore((latest_checkpoint(r.run_dir / "checkpoints") / "state.msgpack").read_bytes())
    rb = saved["agent"]["replay"]  # the runner side keeps the buffer (runners/agent.py), a seed axis first
    data = {k: v[0] for k, v in rb["data"].items()}
    assert int(rb["size"][0]) == 260
    assert not data["terminated"][:260].any()
    assert data["truncated"][:260].nonzero()[0].tolist() == [199]
    # Continuity within an episode: the successor of row t is the obs of row t+1 ...
    np.testing.assert_array_equal(data["final_obs"][:199], data["obs"][1:200])
    # ... but across the cut, the stored successor is the final obs, and the next row starts a new episode.
    assert not np.allclose(data["final_obs"][199], data["obs"][200])


@pytest.mark.parametrize("algo,env", [("sac", "Pendulum-v1"), ("td3", "gymnax:Pendulum-v1"),
                                      ("ddpg", "Pendulum-v1")])
def test_save_load_gives_identical_actions(tmp_path, algo, env, train_off):
    r = train_off(algo, env, algo, total_steps=300, learning_starts=100, buffer_size=1000)
    loaded = tandem.load_policy(r.run_dir)
    obs = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    a = r.policy(obs)
    np.testing.assert_array_equal(a, loaded(obs))
    assert a.shape == (16, 1) and np.all(np.abs(a) <= 2.0)  # in the env's own bounds ([-2, 2] torque)


def test_checkpoint_without_replay_is_small_and_resumes(tmp_path, train_off):
    kw = dict(total_steps=400, learning_starts=100, buffer_size=20_000, checkpoint_every=200)
    big = train_off(name="big", **kw)
    small = train_off(name="small", save_replay=False, **kw)
    size = lambda d: sum(f.stat().st_size for f in (d / "checkpoints").rglob("state.msgpack"))  # noqa: E731
    assert size(small.run_dir) * 5 < size(big.run_dir)  # 20k transitions of Pendulum: ~1 MB per checkpoint
    ckpts = sorted((small.run_dir / "checkpoints").iterdir())
    shutil.rmtree(ckpts[-1])
    s = resume(small.run_dir).summary
    assert s["env_steps"] == 400 and np.isfinite(s["final_eval_return"])


def test_jax_runner_seeds_are_distinct_and_reproducible(tmp_path, train_off):
    kw = dict(env="gymnax:Pendulum-v1", total_steps=400, learning_starts=100, buffer_size=1000, num_seeds=2)
    a = train_off(name="a", **kw).summary
    b = train_off(name="b", **kw).summary
    assert a["runner"] == "jax" and a["params_fingerprint"] == b["params_fingerprint"]
    assert len(set(a["params_fingerprint_per_seed"])) == 2


@pytest.mark.parametrize("algo,env", [("sac", "HalfCheetah-v5"), ("td3", "Hopper-v5"), ("ddpg", "InvertedPendulum-v5")])
def test_mujoco_smoke(tmp_path, algo, env, train_off):
    r = train_off(algo, env, algo, total_steps=300, learning_starts=100, buffer_size=1000)
    s = r.summary
    assert s["runner"] == "host" and s["env_steps"] == 300 and np.isfinite(s["final_eval_return"])
    rows = (r.run_dir / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert "losses/critic" in header and "losses/actor" in header
    last = dict(zip(header, rows[-1].split(",")))
    assert np.isfinite(float(last["losses/critic"]))
    cfg = json.loads((r.run_dir / "config.json").read_text())
    assert cfg["algo"] == algo and cfg["algo_config"]["num_critics"] == (1 if algo == "ddpg" else 2)
