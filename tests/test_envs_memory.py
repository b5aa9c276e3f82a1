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
