"""Atari through ale-py with the real ROMs it ships (envs/atari.py): the standard preprocessing's shapes and
dtypes, the frame stack, FIRE at reset where a game needs it, uint8 storage, and a PPO smoke run."""

from __future__ import annotations

import numpy as np
import pytest

from tandem.envs import env_spec
from tandem.envs.gymnasium_host import make_single
from tandem.errors import TandemInputError


def test_preprocessed_frames_are_84x84x4_uint8_and_stack_the_last_four():
    spec = env_spec("ALE/Pong-v5")
    assert (spec.obs_shape, spec.obs_dtype, spec.action_kind, spec.num_actions) == ((84, 84, 4), "uint8", "discrete", 6)
    env = make_single("ALE/Pong-v5")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (84, 84, 4) and obs.dtype == np.uint8
    rng = np.random.default_rng(0)
    for _ in range(40):
        nxt, *_ = env.step(int(rng.integers(6)))
        np.testing.assert_array_equal(nxt[..., :3], obs[..., 1:])   # the stack shifts by one frame per step
        obs = nxt
    assert obs.std() > 0 and obs.max() > 60   # grayscale frames, not blank or scaled to [0, 1]
    raw = make_single("ALE/Pong-v5:raw")
    assert raw.observation_space.shape == (210, 160, 3)
    env.close()
    raw.close()


def test_fire_at_reset_only_for_games_that_have_fire():
    from tandem.envs.atari import FireReset

    def wrappers(env):
        out = []
        while hasattr(env, "env"):
            out.append(type(env))
            env = env.env
        return out

    assert FireReset in wrappers(make_single("ALE/Breakout-v5"))
    assert FireReset not in wrappers(make_single("ALE/Skiing-v5"))   # Skiing's actions: NOOP, RIGHT, LEFT


def test_image_observations_stay_uint8_in_the_replay_buffer():
    from tandem.buffers.transition import transition_fields

    fields = transition_fields(env_spec("ALE/Breakout-v5"))
    assert fields["obs"] == ((84, 84, 4), np.dtype(np.uint8)) and fields["final_obs"] == fields["obs"]


def test_unknown_game_names_the_allowed_ones():
    with pytest.raises(TandemInputError, match=r"ale-py has no game 'ALE/Breakot-v5'; allowed: ALE/Adventure-v5"):
        env_spec("ALE/Breakot-v5")


def test_ppo_smoke_run_on_pong_with_the_nature_cnn(tmp_path):
    """A short PPO run with the Nature CNN: the rollout's observations reach the network as uint8 frames, the run
    finishes, checkpoints and evaluates an episode."""
    import tandem

    net = "nature_cnn>mlp:64"
    run = tandem.train("ppo", "ALE/Pong-v5", run_dir=str(tmp_path / "run"), actor_net=net, critic_net=net,
                       activation="relu", num_envs=2, num_steps=32, num_minibatches=2, update_epochs=1,
                       total_steps=128, eval_episodes=1, tensorboard=False)
    s = run.summary
    assert s["env_steps"] == 128 and s["runner"] == "host" and np.isfinite(s["final_eval_return"])
    assert -21 <= s["final_eval_return"] <= 21   # a game of Pong, played to its end
