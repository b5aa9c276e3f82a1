"""Learning tests: thresholds only a working agent reaches. Marked slow; CI runs them."""

import pytest

import tandem

pytestmark = pytest.mark.slow


def _train(tmp_path, algo, env, **kw):
    return tandem.train(algo, env, run_dir=str(tmp_path / "run"), tensorboard=False, **kw).summary


@pytest.mark.parametrize("algo, cap", [("ppo", 150_000), ("a2c", 400_000)])
def test_solves_gymnasium_cartpole_host_runner(tmp_path, algo, cap):
    s = _train(tmp_path, algo, "CartPole-v1", target_return=475, total_steps=cap)
    assert s["runner"] == "host"
    assert s["reached_target"], s
    assert s["final_eval_return"] >= 475, s


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_solves_gymnax_cartpole_jax_runner_with_defaults_two_seeds(tmp_path, algo):
    s = _train(tmp_path, algo, "gymnax:CartPole-v1", num_seeds=2)
    assert s["runner"] == "jax"
    assert min(s["final_eval_return_per_seed"]) >= 475, s


def test_ppo_improves_on_pendulum(tmp_path):
    # A random policy scores about -1200 on Pendulum; a working PPO gets well above -400 in 200k steps.
    s = _train(tmp_path, "ppo", "gymnax:Pendulum-v1", total_steps=200_000)
    assert s["final_eval_return"] >= -400, s
