"""Atari 2600 games through ale-py (which ships the ROMs), with the standard preprocessing, for the host runner.

An ID ``ALE/<Game>-v5`` (``ALE/Breakout-v5``, ``ALE/Pong-v5``, ...) is the game with Gymnasium's
``AtariPreprocessing`` as the DQN and PPO papers use it: up to 30 no-op actions at reset, a frame skip of 4 (the
max over the last two frames), 84x84 grayscale frames, then the last 4 frames stacked on the last axis. The
observation is ``[84, 84, 4]`` uint8 (0-255: ``nature_cnn`` and ``impala_cnn`` scale it inside the network, and
rollouts and replay buffers keep it uint8). The v5 games keep their sticky actions (repeat probability 0.25)
and their 108,000-frame limit; the reward is the game score, unclipped, and a life lost does not end the
episode (the return reported is the game's). Games with a FIRE action (Breakout, ...) take it once after each
reset, as SB3's Atari wrapper does: a deterministic policy that never presses FIRE would otherwise wait for the
ball until the frame limit. ``ALE/<Game>-v5:raw`` is the game without preprocessing.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from tandem.errors import TandemInputError

PREFIX = "ALE/"
RAW = ":raw"
FRAME_SKIP, SCREEN, STACK, NOOP_MAX = 4, 84, 4, 30


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` names an Atari game (``ALE/...``)."""
    return isinstance(env_id, str) and env_id.startswith(PREFIX)


def register(env_id: str = "ALE/...") -> None:
    """Register ale-py's games with Gymnasium (they are not until ale_py is imported), or a TandemInputError."""
    try:
        import ale_py
        import cv2  # noqa: F401  (AtariPreprocessing resizes with it)
    except ImportError as e:
        raise TandemInputError(f"--env {env_id!r}: Atari needs ale-py and OpenCV ({e}); install them with "
                               f"pip install 'tandem-rl[atari]'.") from None
    gym.register_envs(ale_py)


def make(env_id: str, **kwargs):
    """One Atari env of an ``ALE/`` ID, preprocessed (see the module docstring), or a TandemInputError."""
    register(env_id)
    raw = env_id.endswith(RAW)
    game = env_id[: -len(RAW)] if raw else env_id
    if game not in gym.registry:
        games = sorted(k for k in gym.registry if k.startswith(PREFIX) and k.endswith("-v5"))
        raise TandemInputError(f"--env {env_id!r}: ale-py has no game {game!r}; allowed: {', '.join(games[:12])}, "
                               f"... ({len(games)} games; add :raw for unprocessed frames).")
    if raw:
        return gym.make(game, disable_env_checker=True, **kwargs)
    # The frame skip is AtariPreprocessing's (it max-pools the last two frames), so the game skips none itself.
    env = gym.make(game, frameskip=1, disable_env_checker=True, **kwargs)
    env = gym.wrappers.AtariPreprocessing(env, noop_max=NOOP_MAX, frame_skip=FRAME_SKIP, screen_size=SCREEN,
                                          terminal_on_life_loss=False, grayscale_obs=True, scale_obs=False)
    if "FIRE" in env.unwrapped.get_action_meanings():
        env = FireReset(env)
    env = gym.wrappers.FrameStackObservation(env, STACK)
    space = gym.spaces.Box(0, 255, (SCREEN, SCREEN, STACK), np.uint8)
    return gym.wrappers.TransformObservation(env, lambda obs: np.moveaxis(np.asarray(obs), 0, -1), space)



class FireReset(gym.Wrapper):
    """FIRE (action 1) once after each reset; if that ends the episode, reset again."""

    def reset(self, **kwargs):
        """The wrapped env's reset, then FIRE."""
        self.env.reset(**kwargs)
        obs, _, terminated, truncated, info = self.env.step(1)
        if terminated or truncated:
            obs, info = self.env.reset()
        return obs, info
