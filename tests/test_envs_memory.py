"""tandem's partially observed tasks (issue 10, item 3): MaskedCartPole is CartPole-v1 with the velocities hidden
(same dynamics, rewards and ends under the same seed), and Memory's cue is recalled only by a policy that
remembers it (a memoryless policy scores chance)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from tandem.envs.own import make
from tandem.errors import TandemInputError


def test_masked_cartpole_is_cartpole_without_the_velocities():
    masked = make("tandem:MaskedCartPole-v1")
    full = gym.make("CartPole-v1")
    obs, _ = masked.reset(seed=3)
    inner = masked.unwrapped.inner
    ref, _ = full.reset()
    full.unwrapped.state = inner.state.copy()   # the same start state; then the same actions
    rng = np.random.default_rng(0)
    steps = 0
    while True:
        assert obs.shape == (2,) and np.allclose(obs, np.asarray(inner.state, np.float32)[[0, 2]])
        a = int(rng.integers(2))
        obs, r, term, trunc, _ = masked.step(a)
        ref, r_ref, term_ref, _, _ = full.step(a)
        steps += 1
        np.testing.assert_allclose(obs, ref[[0, 2]], rtol=1e-6)
        assert (r, term) == (r_ref, term_ref)
        if term or trunc:
            break
    assert steps < 500 and masked.observation_space.shape == (2,)


def play(env, policy, episodes: int, seed: int = 0) -> list[float]:
    """Returns of ``policy(obs, history)`` over episodes."""
    out = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        history, total, done = [obs], 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(policy(obs, history))
            history.append(obs)
            total, done = total + r, term or trunc
        out.append(total)
    return out


@pytest.mark.parametrize("cues", [2, 4])
def test_memory_rewards_recall_and_a_memoryless_policy_scores_chance(cues):
    env = make(f"tandem:Memory-v0:steps=12,cues={cues}")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (cues + 1,) and obs[:cues].sum() == 1 and obs[-1] == 0
    remember = lambda obs, history: int(np.argmax(history[0][:cues]))   # noqa: E731
    assert play(env, remember, 50) == [1.0] * 50
    lengths = []
    env.reset(seed=1)
    for t in range(12):   # the cue only at the first observation, the query flag only at the last
        obs, r, term, trunc, _ = env.step(0)
        lengths.append(t)
        if term:
            break
        assert obs[:cues].sum() == 0 and obs[-1] == (1.0 if t == 10 else 0.0) and r == 0.0
    assert len(lengths) == 12
    forgetful = play(env, lambda obs, history: 0, 400)   # the best a memoryless policy can do: a fixed guess
    assert abs(np.mean(forgetful) - (2 / cues - 1)) < 0.15


def test_bad_options_are_refused_naming_them():
    with pytest.raises(TandemInputError, match="steps=1"):
        make("tandem:Memory-v0:steps=1")
    with pytest.raises(TandemInputError, match="cues"):
        make("tandem:Memory-v0:colours=3")


# The JAX versions (envs/memory_jax.py, tandem-jax: IDs on the JAX runner) against the host versions.

def test_jax_masked_cartpole_steps_as_the_host_version_from_the_same_state():
    import jax
    import jax.numpy as jnp

    from tandem.envs.gymnax_jax import JaxEnv

    env = JaxEnv("tandem-jax:MaskedCartPole-v1")
    assert env.spec.obs_shape == (2,) and env.spec.backend == "tandem-jax" and env.spec.max_episode_steps == 500
    state, obs = env.reset(jax.random.PRNGKey(0))
    host = make("tandem:MaskedCartPole-v1")
    host.reset(seed=0)
    host.unwrapped.inner.state = np.array([state.x, state.x_dot, state.theta, state.theta_dot], np.float64)
    rng = np.random.default_rng(1)
    for t in range(200):
        a = int(rng.integers(2))
        state, ts = env.step(jax.random.PRNGKey(t), state, jnp.int32(a))
        h_obs, h_r, h_term, _, _ = host.step(a)
        np.testing.assert_allclose(np.asarray(ts.final_obs), h_obs, rtol=1e-4, atol=1e-5)
        assert float(ts.reward) == h_r and bool(ts.terminated) == h_term
        if h_term:
            break
    assert h_term and t < 199


@pytest.mark.parametrize("cues", [2, 3])
def test_jax_memory_rewards_recall_at_the_query_step_only(cues):
    import jax
    import jax.numpy as jnp

    from tandem.envs.gymnax_jax import JaxEnv

    steps = 6
    env = JaxEnv(f"tandem-jax:Memory-v0:steps={steps},cues={cues}")
    for seed in range(4):
        for guess in ("cue", "wrong"):
            state, obs = env.reset(jax.random.PRNGKey(seed))
            cue = int(np.argmax(np.asarray(obs)[:cues]))
            assert np.asarray(obs)[:cues].sum() == 1 and np.asarray(obs)[-1] == 0
            for t in range(1, steps + 1):
                a = cue if guess == "cue" or t < steps else (cue + 1) % cues
                state, ts = env.step(jax.random.PRNGKey(100 + t), state, jnp.int32(a))
                if t < steps:
                    o = np.asarray(ts.obs)
                    assert o[:cues].sum() == 0 and o[-1] == (1.0 if t == steps - 1 else 0.0)
                    assert float(ts.reward) == 0.0 and not bool(ts.terminated)
            assert bool(ts.terminated) and not bool(ts.truncated)
            assert float(ts.reward) == (1.0 if guess == "cue" else -1.0)


def test_jax_ids_refuse_unknown_names_and_bad_options():
    from tandem.envs import env_spec

    with pytest.raises(TandemInputError, match="has no JAX version; allowed: tandem-jax:MaskedCartPole-v1"):
        env_spec("tandem-jax:Restaurant-v0")
    with pytest.raises(TandemInputError, match="steps=1"):
        env_spec("tandem-jax:Memory-v0:steps=1")
    with pytest.raises(TandemInputError, match="colours=3"):
        env_spec("tandem-jax:Memory-v0:colours=3")
