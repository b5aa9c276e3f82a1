"""tandem's partially observed tasks (issue 10), Gymnasium environments under the ``tandem:`` prefix (envs/own.py):

- ``tandem:MaskedCartPole-v1``: CartPole-v1 with the velocities hidden. The observation is the cart position and
  the pole angle only, the dynamics, reward and termination are CartPole's, and ``max_steps`` (500) is the step
  limit. A memoryless policy must act without the velocities. A recurrent one can estimate them from successive
  positions, as in the "masked" CartPole of the recurrent-RL literature.
- ``tandem:Memory-v0``: a cue shown at the first step must be recalled at the last. The observation is
  [one-hot cue (``cues`` values), query flag]: the cue at step 1, zeros in between, the query flag at step
  ``steps``. The action (one of ``cues``) counts only at the query step: +1 if it names the cue, -1 otherwise,
  and the episode ends. A memoryless policy scores 2/cues - 1 in expectation at best (0 with two cues); a policy
  that remembers scores 1.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

VISIBLE = (0, 2)  # CartPole's cart position and pole angle; its velocities (1, 3) are hidden


class MaskedCartPole(gym.Env):
    """CartPole with only the cart position and pole angle observed; ``max_steps`` is given to TimeLimit."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, max_steps: int = 500, render_mode: str | None = None):
        if max_steps < 1:
            raise ValueError(f"max_steps={max_steps}: expected at least 1")
        self.inner = CartPoleEnv(render_mode=render_mode)
        self.render_mode = render_mode
        high = self.inner.observation_space.high[list(VISIBLE)]
        self.observation_space = gym.spaces.Box(-high, high, (len(VISIBLE),), np.float32)
        self.action_space = self.inner.action_space

    def reset(self, *, seed=None, options=None):
        """CartPole's reset, seeded through this env's generator, its observation masked."""
        super().reset(seed=seed)
        obs, info = self.inner.reset(seed=int(self.np_random.integers(2**31)) if seed is not None else None)
        return obs[list(VISIBLE)].astype(np.float32), info

    def step(self, action):
        """CartPole's step, its observation masked."""
        obs, reward, terminated, truncated, info = self.inner.step(action)
        return obs[list(VISIBLE)].astype(np.float32), reward, terminated, truncated, info

    def render(self):
        """CartPole's frame."""
        return self.inner.render()


class Memory(gym.Env):
    """Recall at step ``steps`` the cue (one of ``cues``) shown at step 1 (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, steps: int = 16, cues: int = 2, render_mode: str | None = None):
        if steps < 2:
            raise ValueError(f"steps={steps}: expected at least 2 (the cue, then the query)")
        if cues < 2:
            raise ValueError(f"cues={cues}: expected at least 2")
        self.steps, self.cues = int(steps), int(cues)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (self.cues + 1,), np.float32)
        self.action_space = gym.spaces.Discrete(self.cues)
        self.render_mode = render_mode

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.cues + 1, np.float32)
        if self.t == 1:
            obs[self.cue] = 1.0
        if self.t == self.steps:
            obs[-1] = 1.0
        return obs

    def reset(self, *, seed=None, options=None):
        """A new cue, shown now (step 1)."""
        super().reset(seed=seed)
        self.cue, self.t = int(self.np_random.integers(self.cues)), 1
        return self._obs(), {}

    def step(self, action):
        """Step t -> t + 1; at the query step the action is scored and the episode ends."""
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r}: expected an integer in [0, {self.cues})")
        if self.t == self.steps:
            reward = 1.0 if int(action) == self.cue else -1.0
            self.t += 1
            return np.zeros(self.cues + 1, np.float32), reward, True, False, {"success": reward > 0}
        self.t += 1
        return self._obs(), 0.0, False, False, {}
