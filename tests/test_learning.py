"""Learning tests: thresholds only a working agent reaches. Marked slow; CI runs them."""

import pytest

pytestmark = pytest.mark.slow




@pytest.mark.parametrize("algo, cap", [("ppo", 150_000), ("a2c", 400_000)])
def test_solves_gymnasium_cartpole_host_runner(train, algo, cap):
    s = train(algo, "CartPole-v1", target_return=475, total_steps=cap, tensorboard=False).summary
    assert s["runner"] == "host"
    assert s["reached_target"], s
    assert s["final_eval_return"] >= 475, s


@pytest.mark.parametrize("algo", ["ppo", "a2c", "impala"])
def test_solves_gymnax_cartpole_jax_runner_with_defaults_two_seeds(train, algo):
    s = train(algo, "gymnax:CartPole-v1", num_seeds=2, tensorboard=False).summary
    assert s["runner"] == "jax"
    assert min(s["final_eval_return_per_seed"]) >= 475, s


def test_ppo_improves_on_pendulum(train):
    # A random policy scores about -1200 on Pendulum; a working PPO gets well above -400 in 200k steps.
    s = train("ppo", "gymnax:Pendulum-v1", total_steps=200_000, tensorboard=False).summary
    assert s["final_eval_return"] >= -400, s


def test_ppo_with_gsde_solves_mountain_car_continuous(train):
    """The preset (gSDE exploration), 3 seeds in one program: standing still scores about 0, reaching the flag
    about 90 or more. Two of three must reach it (measured on this machine: 87.9, 92.8 and -0.3; seed 0 trained
    alone scored -0.07 here, 89-98 on an earlier machine's CPU: the outcome of one seed is that fragile)."""
    s = train("ppo", "MountainCarContinuous-v0", num_seeds=3, tensorboard=False).summary
    assert sum(r >= 80 for r in s["final_eval_return_per_seed"]) >= 2, s


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


def _random_valid_return(env_id: str, episodes: int = 64) -> float:
    """The mean first-episode return of uniformly random valid actions (the action mask respected)."""
    import jax
    import jax.numpy as jnp

    from tandem.envs.registry import backend_of

    env = backend_of(env_id).make(env_id)

    def run(key):
        s, obs = jax.vmap(env.reset)(jax.random.split(key, episodes))

        def body(c, k):
            s, obs, ret, alive = c
            k_act, k_env = jax.random.split(k)
            a = jax.random.categorical(k_act, jnp.where(obs["action_mask"], 0.0, -jnp.inf))
            s, ts = jax.vmap(env.step)(jax.random.split(k_env, episodes), s, a)
            return (s, ts.obs, ret + jnp.where(alive, ts.reward, 0.0), alive & ~(ts.terminated | ts.truncated)), None

        (_, _, ret, alive), _ = jax.lax.scan(body, (s, obs, jnp.zeros(episodes), jnp.ones(episodes, bool)),
                                             jax.random.split(key, 3000))
        return ret, alive

    ret, alive = jax.jit(run)(jax.random.PRNGKey(0))
    assert not alive.any()
    return float(ret.mean())


def test_ppo_solves_xminigrid_empty_8x8(train):
    """The preset (100k steps): the goal reached in at least 95% of the greedy evaluation episodes (a success
    scores 1 - 0.9 * steps / max_steps > 0; a failure 0)."""
    run = train("ppo", "xminigrid:MiniGrid-Empty-8x8", eval_episodes=40, tensorboard=False)
    from tandem.api import evaluate

    returns = evaluate(run.run_dir, episodes=40)["returns"]
    assert sum(r > 0 for r in returns[0]) >= 0.95 * 40, returns


def test_ppo_beats_random_valid_moves_on_jumanji_2048(train):
    """The preset (300k steps, the action mask on): the greedy policy scores at least 1.5x random valid moves
    (measured here: about 1070; the trained policy about 2150)."""
    s = train("ppo", "jumanji:Game2048-v1", eval_episodes=32, tensorboard=False).summary
    random = _random_valid_return("jumanji:Game2048-v1")
    assert s["final_eval_return"] >= 1.5 * random, (s["final_eval_return"], random)


def _random_minatar_return(env_id: str, episodes: int = 200) -> float:
    """The mean return of uniformly random actions on a gymnax MinAtar game (episodes vmapped, 10k steps at most)."""
    import gymnax
    import jax
    import jax.numpy as jnp

    env, params = gymnax.make(env_id)

    def episode(key):
        k_reset, key = jax.random.split(key)
        _, state = env.reset(k_reset, params)

        def body(c):
            key, state, total, _, t = c
            key, k_act, k_step = jax.random.split(key, 3)
            out = env.step(k_step, state, jax.random.randint(k_act, (), 0, env.num_actions), params)
            return key, out[1], total + out[2], out[3], t + 1

        return jax.lax.while_loop(lambda c: jnp.logical_not(c[3]) & (c[4] < 10_000), body,
                                  (key, state, 0.0, False, 0))[2]

    return float(jax.vmap(episode)(jax.random.split(jax.random.PRNGKey(0), episodes)).mean())


def test_cnn_ppo_beats_random_clearly_on_minatar_breakout(train):
    """PPO with the MinAtar network (conv:16>mlp:128, ReLU) for 20k steps scores at least 5x random actions on
    gymnax:Breakout-MinAtar (measured here: random 0.40; seeds 0, 1, 2 of this run 5.4, 3.6, 6.1)."""
    net = "conv:16>mlp:128"
    s = train("ppo", "gymnax:Breakout-MinAtar", total_steps=20_000, actor_net=net, critic_net=net, activation="relu",
              tensorboard=False).summary
    random = _random_minatar_return("Breakout-MinAtar")
    assert s["final_eval_return"] >= max(2.0, 5 * random), (s["final_eval_return"], random)


def test_recurrent_ppo_solves_masked_cartpole_and_recalls_the_memory_cue(train):
    """Recurrent PPO (the presets: mlp:64>lstm:64 actor and critic) on the JAX versions of the partially observed
    tasks: masked CartPole's evaluation reaches 475 (of 500 in 500k steps; measured here 500, 455 and 500 for seeds
    0, 1 and 2, so this asserts seed 0 only) and
    every Memory cue is recalled 16 steps later (return 1; a memoryless policy scores 0 at best). MLP PPO is
    measured, not asserted, by benchmarks/bench_recurrent.py."""
    s = train("ppo", "tandem-jax:MaskedCartPole-v1", tensorboard=False).summary
    assert s["runner"] == "jax" and s["final_eval_return"] >= 475, s
    s = train("ppo", "tandem-jax:Memory-v0", name="memory", tensorboard=False).summary
    assert s["final_eval_return"] >= 0.9, s
