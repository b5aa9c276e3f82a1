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

import jax
import numpy as np
import pytest
from flax import serialization

import tandem
from tandem.api import resolve_config, resume
from tandem.cli import main
from tandem.errors import Interrupted, TandemRuntimeError
from tandem.io import checkpoint as ckpt_mod
from tandem.io.checkpoint import CheckpointError, latest_checkpoint, list_checkpoints
from tandem.envs.registry import backend_of
from tandem.runners.schedule import schedule

# (algo, env, overrides): every algorithm on both runners, two seeds on some, OU noise (an acting state)
# on one. Where they can, the cases repeat configurations of test_runners.py and test_runners_offpolicy.py,
# whose compiled programs the persistent cache then shares (compilation dominates the suite's time).
PPO = dict(num_envs=4, num_steps=64, num_minibatches=2, update_epochs=2, eval_episodes=2, tensorboard=False,
           log_every=2, checkpoint_every=4)
OFF = dict(actor_net="mlp:32,32", critic_net="mlp:32,32", batch_size=32, eval_episodes=2, tensorboard=False,
           total_steps=300, learning_starts=100, buffer_size=1000)
SMALL = dict(actor_net="mlp:16", critic_net="mlp:16", eval_episodes=0, tensorboard=False)
OFF_SMALL = dict(SMALL, batch_size=32, total_steps=240, learning_starts=60, buffer_size=500, log_every=20,
                 checkpoint_every=70)
A2C_SMALL = dict(SMALL, num_envs=2, num_steps=8, total_steps=320, log_every=2, checkpoint_every=3)
RESUME_CASES = {
    "ppo-host": ("ppo", "CartPole-v1", dict(PPO, total_steps=1024)),
    "a2c-host": ("a2c", "Pendulum-v1", dict(A2C_SMALL, num_seeds=2)),
    "sac-host": ("sac", "Pendulum-v1", OFF),
    "td3-host": ("td3", "Pendulum-v1", dict(OFF_SMALL, noise_type="ou")),
    "ppo-jax": ("ppo", "gymnax:CartPole-v1", dict(PPO, total_steps=2048)),
    "sac-jax": ("sac", "gymnax:Pendulum-v1", OFF_SMALL),
    # DDPG is TD3's special case (one critic, no delay, no smoothing), resumed here with OU noise on the JAX runner.
    "ddpg-jax": ("ddpg", "gymnax:Pendulum-v1", dict(OFF_SMALL, noise_type="ou")),
    # Structured observations: a Jumanji env state and dict observations (normalised per field), XLand-MiniGrid's
    # uint8 views on two seeds, a Gymnasium mask from info (replayed on resume), a replay buffer of Dict observations.
    "ppo-jumanji": ("ppo", "jumanji:Game2048-v1", dict(PPO, total_steps=2048, normalize_obs=True)),
    "ppo-xminigrid": ("ppo", "xminigrid:MiniGrid-Empty-5x5", dict(PPO, total_steps=2048, num_seeds=2)),
    "ppo-host-masked": ("ppo", "tests.envs_for_tests:MaskedChoiceEnv", dict(PPO, total_steps=1024)),
    "sac-host-dict": ("sac", "tests.envs_for_tests:DictGoalEnv", OFF),
    # gSDE: each env's noise weights and their age are acting state (the carry), checkpointed on both runners.
    "ppo-sde-host": ("ppo", "MountainCarContinuous-v0", dict(PPO, total_steps=1024, use_sde=True, sde_sample_freq=5)),
    "ppo-sde-jax": ("ppo", "gymnax:Pendulum-v1", dict(PPO, total_steps=2048, use_sde=True, sde_sample_freq=5)),
    # Recurrent networks: the LSTM/GRU states are acting state (the carry), checkpointed, and each rollout's extras
    # hold the carry its loss replays from.
    "ppo-lstm-host": ("ppo", "tandem:MaskedCartPole-v1", dict(PPO, total_steps=1024, actor_net="mlp:16>lstm:8",
                                                              critic_net="gru:8")),
    "a2c-lstm-jax": ("a2c", "tandem-jax:Memory-v0", dict(A2C_SMALL, actor_net="lstm:8", critic_net="lstm:8")),
    # TD3 on the JAX runner with pruning: the masks are optimizer state, changing through the run (checkpointed
    # mid-schedule).
    "td3-prune-jax": ("td3", "gymnax:Pendulum-v1", dict(OFF, prune_sparsity=0.5, prune_start=0.1, prune_end=0.9)),
    # A2C on the JAX runner with --critic-warmup: the hold's step counter is optimizer state; the run is stopped
    # inside its 12 held updates.
    "a2c-warmup-jax": ("a2c", "gymnax:Pendulum-v1", dict(A2C_SMALL, critic_warmup=12)),
}


def _metrics(run_dir: Path) -> list[dict]:
    """metrics.csv without the wall-clock columns (they differ between any two runs)."""
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in ("wall_seconds", "charts/sps")} for row in csv.DictReader(f)]


_REFERENCES: dict = {}


def _reference(tmp_path, case: str):
    """The uninterrupted run of a RESUME_CASES case (computed once per session)."""
    if case not in _REFERENCES:
        algo, env, kw = RESUME_CASES[case]
        _REFERENCES[case] = tandem.train(algo, env, run_dir=str(tmp_path / "full"), **kw)
    return _REFERENCES[case]


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
    (phase,) = schedule(resolve_config(algo, env, **kw)).phases
    full = _reference(tmp_path, case)
    # The driver runs one update per call on the host, one log interval of updates per call in JAX:
    # stop half way, on a log boundary (so the metrics rows line up), rarely on a periodic checkpoint.
    half = phase.updates // 2 // phase.log_every
    _interrupt_after(monkeypatch, half if backend_of(env).runner == "jax" else half * phase.log_every)
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


# ---------------------------------------------------------------------------------------------
# Signals and crashes against a `tandem train` process

TANDEM = [sys.executable, "-m", "tandem.cli"]
BIG = ["--env", "Pendulum-v1", "--total-steps", "400", "--learning-starts", "100", "--buffer-size", "4000000",
       "--batch-size", "32", "--actor-net", "mlp:16", "--critic-net", "mlp:16", "--checkpoint-every", "100",
       "--log-every", "50", "--eval-episodes", "0", "--no-tensorboard", "--quiet"]
BIG_KW = dict(total_steps=400, learning_starts=100, buffer_size=4_000_000, batch_size=32, actor_net="mlp:16",
              critic_net="mlp:16", checkpoint_every=100, log_every=50, eval_episodes=0, tensorboard=False)


@pytest.fixture(scope="module")
def big_reference(tmp_path_factory):
    """The uninterrupted run of BIG (SAC, a 4M-row replay buffer: checkpoints of ~136 MB, nine 16 MB pieces each
    flushed to disk, so a signal sent while one is written lands in the middle of it even on a fast disk)."""
    return tandem.train("sac", "Pendulum-v1", run_dir=str(tmp_path_factory.mktemp("big") / "run"), **BIG_KW).summary


def _start(args, run_dir):
    return subprocess.Popen(TANDEM + ["train", *args, "--run-dir", str(run_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(cond, proc, timeout=240.0, poll=0.001):
    deadline = time.time() + timeout
    while not cond():
        assert proc.poll() is None, f"the run ended early: {proc.communicate()[1][-2000:]}"
        assert time.time() < deadline, "timed out waiting"
        time.sleep(poll)


def _writing(run_dir: Path):
    """A checkpoint is being written: its temporary directory exists."""
    root = run_dir / "checkpoints"
    return lambda: root.is_dir() and any(p.name.startswith(".tmp-") and not p.name.startswith(".tmp-old")
                                         for p in root.iterdir())


def _resume_here(run_dir) -> dict:
    """Resume in this process (the compiled programs come from the cache; a process start costs seconds)."""
    summary = resume(run_dir, quiet=True).summary
    assert not list((run_dir / "checkpoints").glob(".tmp-*")), "a stale temporary directory was left behind"
    return summary


def _resume_cli(algo, run_dir) -> dict:
    res = subprocess.run(TANDEM + ["train", algo, "--resume", str(run_dir), "--quiet"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert not list((run_dir / "checkpoints").glob(".tmp-*")), "a stale temporary directory was left behind"
    return json.loads((run_dir / "summary.json").read_text())


def _loads(ckpt: Path) -> None:
    """The checkpoint passes every check of a load (manifest, checksums of every file, JSON)."""
    ckpt_mod.verify_checkpoint(ckpt)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143)])  # SIGINT: the next test's first signal
def test_signal_during_checkpoint_write_finishes_it_and_resumes_exactly(tmp_path, big_reference, sig, code):
    run_dir = tmp_path / "run"
    proc = _start(["sac", *BIG], run_dir)
    _wait_for(_writing(run_dir), proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "checkpoint written to" in err and "Traceback" not in err
    latest = latest_checkpoint(run_dir / "checkpoints")
    _loads(latest)
    assert not (run_dir / "summary.json").exists()
    assert _resume_cli("sac", run_dir)["params_fingerprint"] == big_reference["params_fingerprint"]


def test_second_sigint_stops_at_once_and_keeps_the_previous_checkpoint(tmp_path, big_reference):
    """Two SIGINTs 40 ms apart during a checkpoint write. While the main thread is inside one long C call, the OS
    delivers both and Python runs its handler once: that is one signal to the run (a checkpoint, then exit 130),
    so the attempt is checked as such and made again in a fresh run directory (at most 3 attempts)."""
    for attempt in range(3):
        run_dir = tmp_path / f"run{attempt}"
        proc = _start(["sac", *BIG], run_dir)
        _wait_for(lambda: len(list_checkpoints(run_dir / "checkpoints")) >= 1 and _writing(run_dir)(), proc)
        before = list_checkpoints(run_dir / "checkpoints")
        proc.send_signal(signal.SIGINT)
        time.sleep(0.04)  # two signals at once would reach Python's handler as one
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "Traceback" not in err, err
        if "interrupted again" in err:
            break
        assert "interrupted; checkpoint written" in err, err  # the two signals were seen as one
    else:
        pytest.fail("in 3 attempts, the two SIGINTs always reached the run as one")
    latest = latest_checkpoint(run_dir / "checkpoints")
    assert latest in before or latest.name > before[-1].name  # never a partial one
    _loads(latest)
    assert _resume_here(run_dir)["params_fingerprint"] == big_reference["params_fingerprint"]


def test_sigkill_during_checkpoint_write_keeps_the_previous_one(tmp_path, big_reference):
    run_dir = tmp_path / "run"
    proc = _start(["sac", *BIG], run_dir)
    _wait_for(lambda: len(list_checkpoints(run_dir / "checkpoints")) >= 1 and _writing(run_dir)(), proc)
    before = list_checkpoints(run_dir / "checkpoints")
    proc.kill()
    proc.communicate(timeout=60)
    root = run_dir / "checkpoints"
    latest = latest_checkpoint(root)
    if any(p.name.startswith(".tmp-") for p in root.iterdir()):  # killed mid-write (the usual case)
        assert latest == before[-1]
    _loads(latest)
    # The metrics logged after that checkpoint are dropped on resume and logged again.
    assert _resume_here(run_dir)["params_fingerprint"] == big_reference["params_fingerprint"]
    steps = [int(r["env_steps"]) for r in _metrics(run_dir)]
    assert steps == sorted(set(steps))


def test_signal_during_start_up_leaves_a_resumable_run(tmp_path):
    """SIGTERM while the run is still compiling: a checkpoint of the initial state, exit 143, and the
    resumed run equals one never interrupted."""
    args = ["ppo", "--env", "gymnax:CartPole-v1", "--total-steps", "2048", "--num-envs", "4", "--num-steps", "64",
            "--num-minibatches", "2", "--update-epochs", "2", "--eval-episodes", "2", "--log-every", "2",
            "--checkpoint-every", "4", "--no-tensorboard", "--quiet"]
    run_dir = tmp_path / "run"
    proc = _start(args, run_dir)
    _wait_for(lambda: (run_dir / "config.json").exists(), proc, poll=0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    (only,) = list_checkpoints(run_dir / "checkpoints")
    assert only.name == "ckpt_000000000000"
    assert ckpt_mod.read_manifest(only)["counters"] == {"env_steps": 0, "updates": 0, "episodes": 0}
    reference = _reference(tmp_path, "ppo-jax")
    assert _resume_here(run_dir)["params_fingerprint"] == reference.summary["params_fingerprint"]


# ---------------------------------------------------------------------------------------------
# Disk full, corrupt and foreign checkpoints

def test_disk_full_names_the_path_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    """ENOSPC from the disk (simulated at the file write, after two good checkpoints): a clear error naming
    the checkpoint path, exit 1, the previous checkpoint still the latest and whole, no temporary left."""
    real_write, writes = ckpt_mod.write_file, {"n": 0}

    def full_disk(path, data):
        writes["n"] += 1
        if writes["n"] > 4:  # two checkpoints of state + envs + manifest... then the disk is full
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data)

    monkeypatch.setattr(ckpt_mod, "write_file", full_disk)
    run_dir = tmp_path / "run"
    code = main(["train", "sac", "--env", "Pendulum-v1", "--run-dir", str(run_dir), "--quiet",
                            "--total-steps", "300", "--learning-starts", "100", "--buffer-size", "1000",
                            "--batch-size", "32", "--actor-net", "mlp:32,32", "--critic-net", "mlp:32,32",
                            "--checkpoint-every", "60", "--eval-episodes", "0", "--no-tensorboard"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "No space left on device" in err and str(run_dir / "checkpoints" / "ckpt_") in err
    assert "Traceback" not in err
    ckpts = list_checkpoints(run_dir / "checkpoints")
    assert len(ckpts) == 1  # the first checkpoint (3 files); the second one hit the full disk
    assert "previous checkpoint" in err and ckpts[-1].name in err
    _loads(ckpts[-1])
    assert not list((run_dir / "checkpoints").glob(".tmp-*"))


def _small_ppo_run(tmp_path) -> Path:
    # test_checkpoint.py's configuration: its compiled programs are shared through the cache.
    r = tandem.train("ppo", "gymnax:CartPole-v1", total_steps=512, num_envs=4, num_steps=64, num_minibatches=2,
                     update_epochs=1, eval_episodes=1, tensorboard=False, run_dir=str(tmp_path / "run"))
    return r.run_dir


@pytest.mark.parametrize("damage, needle", [
    (lambda c: (c / "state.msgpack").write_bytes((c / "state.msgpack").read_bytes()[:100]), "checksum mismatch"),
    (lambda c: (c / "state.msgpack").unlink(), "state.msgpack: missing"),
    (lambda c: (c / "manifest.json").write_text((c / "manifest.json").read_text()[:-40]), "not valid JSON"),
])
def test_resume_from_a_corrupt_checkpoint_exits_1_naming_the_file(tmp_path, capsys, damage, needle):
    run_dir = _small_ppo_run(tmp_path)
    latest = latest_checkpoint(run_dir / "checkpoints")
    damage(latest)
    (run_dir / "summary.json").unlink()
    assert main(["train", "ppo", "--resume", str(run_dir), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert needle in err and str(latest) in err and "Traceback" not in err
    assert not (run_dir / "summary.json").exists()


def test_checkpoint_of_another_configuration_is_refused_naming_the_leaf(tmp_path):
    """A checkpoint whose arrays do not fit this configuration (wider layers) is refused whole, naming the leaf."""
    run_dir = _small_ppo_run(tmp_path)
    other = tandem.train("ppo", "gymnax:CartPole-v1", total_steps=256, num_envs=4, num_steps=64, num_minibatches=2,
                         update_epochs=1, eval_episodes=0, tensorboard=False, actor_net="mlp:64,8", critic_net="mlp:64,8",
                         run_dir=str(tmp_path / "other"))
    foreign = latest_checkpoint(other.run_dir / "checkpoints")
    target = run_dir / "checkpoints" / "ckpt_000000099999"
    import shutil

    shutil.copytree(foreign, target)
    with pytest.raises(CheckpointError, match=r"ckpt_000000099999/state.msgpack: .*'Dense_1'\]\['bias'\] has shape "
                                              r"\(1, 8\) float32; this configuration expects \(1, 64\) float32"):
        resume(run_dir)


def test_envs_record_is_checksummed(tmp_path, capsys):
    import shutil

    run_dir = shutil.copytree(_reference(tmp_path, "ppo-host").run_dir, tmp_path / "run")
    latest = latest_checkpoint(run_dir / "checkpoints")
    data = bytearray((latest / "envs.msgpack").read_bytes())
    data[-3] ^= 0x10
    (latest / "envs.msgpack").write_bytes(bytes(data))
    assert main(["eval", str(run_dir)]) == 0  # eval needs only the state, which is intact
    capsys.readouterr()
    (run_dir / "summary.json").unlink()
    assert main(["train", "ppo", "--resume", str(run_dir), "--quiet"]) == 1
    assert "envs.msgpack: checksum mismatch" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Non-finite values

def test_nan_observation_stops_the_run_naming_source_and_step(tmp_path, capsys):
    """An env whose observations turn NaN after 300 steps: exit 1 naming the observation and env step 301;
    the checkpoints written before it are all finite and none is past step 300."""
    run_dir = tmp_path / "run"
    code = main(["train", "ppo", "--env", "tests.envs_for_tests:LateNanObsEnv", "--run-dir", str(run_dir),
                            "--total-steps", "1000", "--num-envs", "1", "--num-steps", "32", "--num-minibatches", "1",
                            "--update-epochs", "1", "--checkpoint-every", "2", "--eval-episodes", "0",
                            "--no-tensorboard", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "non-finite observation (NaN or Inf) at env step 301 of seed 0" in err and "Traceback" not in err
    ckpts = list_checkpoints(run_dir / "checkpoints")
    steps = [ckpt_mod.read_manifest(c)["counters"]["env_steps"] for c in ckpts]
    assert steps == [128, 192, 256]  # every 64 steps, the last 3 kept
    from tandem.runners.common import first_nonfinite_leaf

    for c in ckpts:
        state = serialization.msgpack_restore((c / "state.msgpack").read_bytes())
        assert first_nonfinite_leaf(state) is None
    assert not (run_dir / "summary.json").exists()


def test_nan_reward_on_the_host_runner(tmp_path):
    with pytest.raises(TandemRuntimeError, match=r"non-finite reward \(NaN or Inf\) at env step 1 of seed 0"):
        tandem.train("ppo", "tests.envs_for_tests:NanRewardEnv", total_steps=64, num_envs=1, num_steps=32,
                     num_minibatches=1, eval_episodes=0, tensorboard=False, run_dir=str(tmp_path / "run"))
    assert not list_checkpoints(tmp_path / "run" / "checkpoints")


@pytest.mark.parametrize("num_seeds", [1, 4])  # 4 seeds: two per device, vmapped (the stop is a pmax over them)
def test_nan_reward_in_a_jax_env_stops_the_compiled_loop_at_that_update(tmp_path, num_seeds):
    """A JAX env whose reward turns NaN at its 7th step: the chunk stops applying updates after the
    faulty one, and the error names the reward and the exact env step."""
    from tandem.envs.gymnax_jax import JaxEnv
    from tandem.runners.common import raise_if_faulted
    from tandem.runners.jax_runner import JaxDriver
    import jax.numpy as jnp

    class LateNanReward(JaxEnv):
        def step(self, key, state, action):
            state, ts = super().step(key, state, action)
            return state, ts._replace(reward=jnp.where(state.time == 7, jnp.nan, ts.reward))

    cfg = resolve_config("ppo", "gymnax:CartPole-v1", num_envs=2, num_steps=4, num_minibatches=1, update_epochs=1)
    from tandem.algos import get_algo
    from tandem.runners.agent import make_agent

    spec = JaxEnv("gymnax:CartPole-v1").spec
    agent = make_agent(get_algo("ppo").make_learner(cfg.algo_config, spec, 10), cfg.algo_config.needs, spec)
    driver = JaxDriver(agent, LateNanReward("gymnax:CartPole-v1"), 2, 4, num_seeds, chunk=5)
    state, metrics = driver.run(driver.init(0), 5, float("nan"))
    fault = np.asarray(metrics["fault"])
    assert fault.tolist() == [[0] * num_seeds, [2] * num_seeds]  # the rows of the updates applied: none after it
    assert np.asarray(state.env_steps).tolist() == [16] * num_seeds  # two updates of 2 envs x 4 steps
    with pytest.raises(TandemRuntimeError, match=r"non-finite reward \(NaN or Inf\) at env step 14 of seed 0"):
        raise_if_faulted(metrics, 0, "gymnax:CartPole-v1")


def test_diverging_learner_stops_at_the_first_non_finite_loss_or_gradient(tmp_path):
    """A learning rate of 1e30 makes the parameters blow up: the run stops naming the loss or gradient,
    before any checkpoint holds non-finite values."""
    with pytest.raises(TandemRuntimeError, match=r"non-finite (loss|gradient) \(NaN or Inf\) at env step \d+"):
        tandem.train("a2c", "gymnax:Pendulum-v1", run_dir=str(tmp_path / "run"),
                     **dict(A2C_SMALL, lr=1e30, checkpoint_every=1))
    from tandem.runners.common import first_nonfinite_leaf

    for c in list_checkpoints(tmp_path / "run" / "checkpoints"):
        state = serialization.msgpack_restore((c / "state.msgpack").read_bytes())
        assert first_nonfinite_leaf(state) is None


# ---------------------------------------------------------------------------------------------
# Malformed environments

@pytest.mark.parametrize("env, needle", [
    ("WrongShapeEnv", r"reset\(\): observation shape: expected \(3,\) \(observation_space.shape\), got \(4,\)"),
    ("ArrayObsInStepEnv", r"step\(\): observation shape: expected \(3,\) \(observation_space.shape\), got \(1, 3\)"),
    ("StringObsEnv", r"observation dtype: expected a real-valued \(numeric\) array, got <U1"),
    ("FourTupleEnv", r"step\(\) must return 5 values \(obs, reward, terminated, truncated, info\), got 4 values"),
    ("OldResetEnv", r"reset\(\) must return a tuple \(obs, info\), got a single numpy.ndarray"),
    ("ArrayRewardEnv", r"reward: expected a real scalar \(float or int\), got numpy.ndarray with shape \(1,\)"),
    ("IntTerminatedEnv", r"terminated: expected bool, got int \(0\)"),
])
def test_malformed_env_fails_with_expected_and_actual(tmp_path, env, needle):
    with pytest.raises(TandemRuntimeError, match=needle):
        tandem.train("ppo", f"tests.envs_for_tests:{env}", total_steps=64, num_envs=2, num_steps=16,
                     num_minibatches=1, eval_episodes=0, tensorboard=False, run_dir=str(tmp_path / "run"))


def test_actions_outside_the_space_and_wrong_policy_inputs_are_refused(tmp_path):
    from tandem.envs.gymnasium_host import HostVecEnv

    envs = HostVecEnv("tests.envs_for_tests:BoxActionGoodEnv", 2, seed=0)
    envs.reset()
    with pytest.raises(TandemRuntimeError, match=r"shape \(\), dtype float32\) is outside the action space: "
                                                 r"expected a float array of shape \(2,\)"):
        envs.step(np.zeros((2,), np.float32))  # a (B,) action for a (B, 2) space: never broadcast
    envs.close()
    envs = HostVecEnv("tests.envs_for_tests:GoodEnv", 2, seed=0)
    envs.reset()
    with pytest.raises(TandemRuntimeError, match=r"outside the action space: expected an integer of shape \(\) in \[0, 2\)"):
        envs.step(np.array([0, 5]))
    envs.close()
    policy = _reference(tmp_path, "ppo-host").policy
    assert policy(np.zeros(4, np.float32)).shape == () and policy(np.zeros((3, 4), np.float32)).shape == (3,)
    with pytest.raises(tandem.errors.TandemInputError, match=r"observation shape \(3, 5\) does not match expected "
                                                             r"\(4,\)"):
        policy(np.zeros((3, 5), np.float32))


# ---------------------------------------------------------------------------------------------
# Bounded resources

def _count_traces():
    """Count JAX's trace and compile events from now on; returns (counts, the listener to unregister)."""
    counts = {"traces": 0, "compiles": 0}

    def listener(event, duration, **kw):
        if event == "/jax/core/compile/jaxpr_trace_duration":
            counts["traces"] += 1
        elif event == "/jax/core/compile/backend_compile_duration":
            counts["compiles"] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    return counts, listener


@pytest.mark.parametrize("case", ["sac-host", "ppo-jax"])
def test_no_recompilation_after_warm_up(tmp_path, case):
    """After the driver's compile() and first update, the loop's calls (run, episodes, agent, host state,
    metrics rows, checkpoints) trace and compile nothing, however many updates follow."""
    from tandem.envs import env_spec
    from tandem.runners.checkpointing import save_run_checkpoint
    from tandem.runners.build import build
    from tandem.runners.summary import metrics_row

    algo, env, kw = RESUME_CASES[case]
    cfg = resolve_config(algo, env, **kw)
    _, driver, sch = build(cfg, env_spec(env))
    state = driver.init(0)
    driver.compile(state, cfg.run.eval_episodes)

    def one_interval(state):
        state, m = driver.run(state, driver.updates_per_call, float("nan"))
        counters = driver.counters(state)
        metrics_row("online", counters, [m], driver.episodes(state), 0.0, 1.0, 1)
        save_run_checkpoint(tmp_path, cfg, driver, state, {"algo": algo, "counters": counters._asdict()})
        return state

    state = one_interval(state)
    counts, listener = _count_traces()
    try:
        for _ in range(6):
            state = one_interval(state)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
        driver.close()
    assert counts == {"traces": 0, "compiles": 0}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_is_stable_over_1000_updates():
    """1100 host-runner updates of TD3 (one env step each, replay writes, OU noise, episode records):
    resident memory grows by less than 5% between update 100 and update 1100."""
    from tandem.envs import env_spec
    from tandem.runners.build import build

    cfg = resolve_config("td3", "Pendulum-v1", total_steps=1100, learning_starts=50, buffer_size=2000, batch_size=32,
                         actor_net="mlp:16", critic_net="mlp:16", noise_type="ou")
    _, driver, _ = build(cfg, env_spec("Pendulum-v1"))
    state = driver.init(0)
    driver.compile(state)
    state, _ = driver.run(state, 100, float("nan"))
    before = _rss_bytes()
    for _ in range(10):
        state, m = driver.run(state, 100, float("nan"))
    after = _rss_bytes()
    driver.close()
    assert int(np.asarray(state.env_steps)) == 1100
    assert after < 1.05 * before, (before, after)
