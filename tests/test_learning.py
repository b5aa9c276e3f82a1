"""Learning tests: thresholds only a working agent reaches. Marked slow; CI runs them."""

import pytest

pytestmark = pytest.mark.slow




@pytest.mark.parametrize("algo, cap", [("ppo", 150_000), ("a2c", 400_000)])
def test_solves_gymnasium_cartpole_host_runner(train, algo, cap):
    s = train(algo, "CartPole-v1", target_return=475, total_steps=cap, tensorboard=False).summary
    assert s["runner"] == "host"
    assert s["reached_target"], s
    assert s["final_eval_return"] >= 475, s


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_solves_gymnax_cartpole_jax_runner_with_defaults_two_seeds(train, algo):
    s = train(algo, "gymnax:CartPole-v1", num_seeds=2, tensorboard=False).summary
    assert s["runner"] == "jax"
    assert min(s["final_eval_return_per_seed"]) >= 475, s


def test_ppo_improves_on_pendulum(train):
    # A random policy scores about -1200 on Pendulum; a working PPO gets well above -400 in 200k steps.
    s = train("ppo", "gymnax:Pendulum-v1", total_steps=200_000, tensorboard=False).summary
    assert s["final_eval_return"] >= -400, s


# DDPG/TD3/SAC on Pendulum-v1 within 20k steps. 64x64 networks keep the suite short (the
# 256x256 presets are measured by benchmarks/bench_offpolicy.py); a random policy scores about -1200.
@pytest.mark.parametrize("algo, env, steps, threshold, extra", [
    ("sac", "Pendulum-v1", 8_000, -250, {}),
    ("td3", "gymnax:Pendulum-v1", 12_000, -250, {"learning_starts": 2_000}),
    ("ddpg", "gymnax:Pendulum-v1", 12_000, -300, {"learning_starts": 2_000}),
])
def test_offpolicy_learns_pendulum(train, algo, env, steps, threshold, extra):
    """SAC through the host runner (Gymnasium), TD3 and DDPG through the JAX runner (gymnax: the same
    dynamics, and a shorter suite)."""
    s = train(algo, env, total_steps=steps, actor_net="mlp:64,64", critic_net="mlp:64,64", **extra, tensorboard=False).summary
    assert s["runner"] == ("jax" if env.startswith("gymnax:") else "host") and s["env_steps"] <= 20_000
    assert s["final_eval_return"] >= threshold, s
