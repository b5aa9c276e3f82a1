"""Small Gymnasium-API envs for the tests, each broken in exactly one way.

Used through entry points such as ``tests.envs_for_tests:WrongShapeEnv`` (see test_check_env.py).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class GoodEnv(gym.Env):
    """A correct env: Box(-1, 1, (3,)) float32 observations, Discrete(2) actions, 10-step episodes."""

    def __init__(self):
        self.observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = spaces.Discrete(2)
        self._t = 0

    def _obs(self):
        return np.full(3, 0.5, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        self._t += 1
        return self._obs(), 1.0, self._t >= 10, False, {}


class WrongShapeEnv(GoodEnv):
    """Declares (3,) observations, returns (4,)."""

    def _obs(self):
        return np.zeros(4, np.float32)


class WrongDtypeEnv(GoodEnv):
    """Declares float32 observations, returns float64."""

    def _obs(self):
        return np.zeros(3, np.float64)


class OutOfBoundsEnv(GoodEnv):
    """Declares [-1, 1], returns 5.0 in the second element."""

    def _obs(self):
        return np.array([0.0, 5.0, 0.0], np.float32)


class NanObsEnv(GoodEnv):
    """Returns a NaN in the observation from step 3 on."""

    def _obs(self):
        return np.array([0.0, np.nan if self._t >= 3 else 0.0, 0.0], np.float32)


class FourTupleEnv(GoodEnv):
    """The old Gym API: step returns (obs, reward, done, info)."""

    def step(self, action):
        self._t += 1
        return self._obs(), 1.0, self._t >= 10, {}


class OldResetEnv(GoodEnv):
    """The old Gym API: reset returns only the observation."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs()


class NanRewardEnv(GoodEnv):
    """Rewards are NaN."""

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, float("nan"), terminated, truncated, info


class ArrayRewardEnv(GoodEnv):
    """Rewards are a shape-(1,) array, not a scalar."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, np.array([reward]), terminated, truncated, info


class IntTerminatedEnv(GoodEnv):
    """terminated is an int (0/1), not a bool."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, int(terminated), truncated, info


class ListInfoEnv(GoodEnv):
    """info is a list, not a dict."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, []


class DictObsEnv(GoodEnv):
    """A Dict observation space with a Discrete field, which tandem does not support (Box and MultiBinary are)."""

    def __init__(self):
        super().__init__()
        self.observation_space = spaces.Dict({"pos": spaces.Box(-1.0, 1.0, (3,), np.float32),
                                              "room": spaces.Discrete(3)})

    def _obs(self):
        return {"pos": np.full(3, 0.5, np.float32), "room": 1}


class RaisingStepEnv(GoodEnv):
    """step raises on the fifth call."""

    def step(self, action):
        if self._t == 4:
            raise RuntimeError("simulator exploded")
        return super().step(action)


class LateNanObsEnv(GoodEnv):
    """Correct for its first 300 steps (over all episodes), then a NaN in every observation."""

    def __init__(self):
        super().__init__()
        self._total = 0

    def step(self, action):
        self._total += 1
        return super().step(action)

    def _obs(self):
        return np.array([0.0, np.nan if self._total > 300 else 0.5, 0.0], np.float32)


class BoxActionGoodEnv(GoodEnv):
    """A correct env with a Box(-1, 1, (2,)) action space, for the continuous algorithms."""

    def __init__(self):
        super().__init__()
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)


class ArrayObsInStepEnv(GoodEnv):
    """Observations of shape (1, 3) from step (reset is correct): a silent-broadcast trap."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs[None], reward, terminated, truncated, info


class StringObsEnv(GoodEnv):
    """Observations are strings."""

    def _obs(self):
        return np.array(["a", "b", "c"])


class TinyImageEnv(gym.Env):
    """A correct pixel env: uint8 images of shape (6, 6, 1) (a bright column where the target is), Box(-1, 1, (1,))
    actions: steering towards the column pays; 20-step episodes."""

    def __init__(self):
        self.observation_space = spaces.Box(0, 255, (6, 6, 1), np.uint8)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self._t, self._col = 0, 0

    def _obs(self):
        img = np.zeros((6, 6, 1), np.uint8)
        img[:, self._col, 0] = 255
        return img

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t, self._col = 0, int(self.np_random.integers(0, 6))
        return self._obs(), {}

    def step(self, action):
        self._t += 1
        reward = float(-abs(float(action[0]) - (self._col / 2.5 - 1.0)))
        self._col = int(self.np_random.integers(0, 6))
        return self._obs(), reward, False, self._t >= 20, {}


class MaskedChoiceEnv(gym.Env):
    """Discrete(6) actions, of which a random half is valid at each step, given as ``info["action_mask"]`` (the
    MaskablePPO convention). The observation one-hot marks the rewarded action (always valid); an invalid action
    raises, so any policy that ever chooses one fails the run. 20-step episodes, time-limit truncated."""

    N = 6

    def __init__(self):
        self.observation_space = spaces.Box(0.0, 1.0, (self.N,), np.float32)
        self.action_space = spaces.Discrete(self.N)

    def _draw(self):
        self._mask = self.np_random.permutation(np.arange(self.N) < self.N // 2)
        self._goal = int(self.np_random.choice(np.flatnonzero(self._mask)))
        return np.eye(self.N, dtype=np.float32)[self._goal], {"action_mask": self._mask.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._draw()

    def step(self, action):
        if not self._mask[int(action)]:
            raise ValueError(f"invalid action {action} under mask {self._mask}")
        reward = float(int(action) == self._goal)
        self._t += 1
        obs, info = self._draw()
        return obs, reward, False, self._t >= 20, info


class WrongMaskEnv(MaskedChoiceEnv):
    """Gives an action mask with one entry too many."""

    def _draw(self):
        obs, info = super()._draw()
        return obs, {"action_mask": np.ones(self.N + 1, bool)}


class DictGoalEnv(gym.Env):
    """A Dict observation {"pos": Box(2), "goal": Box(2)} and a Box(2) action that moves ``pos``; the reward is
    minus the distance to the goal; 25-step episodes (truncated)."""

    def __init__(self):
        box = spaces.Box(-2.0, 2.0, (2,), np.float32)
        self.observation_space = spaces.Dict({"pos": box, "goal": box})
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def _obs(self):
        return {"pos": self._pos.astype(np.float32), "goal": self._goal.astype(np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        self._pos = np.zeros(2)
        self._goal = self.np_random.uniform(-1.0, 1.0, 2)
        return self._obs(), {}

    def step(self, action):
        self._pos = np.clip(self._pos + 0.2 * np.asarray(action, np.float64), -2.0, 2.0)
        self._t += 1
        return self._obs(), -float(np.linalg.norm(self._pos - self._goal)), False, self._t >= 25, {}


class _CartPole(gym.Wrapper):
    """CartPole-v1 as Gymnasium registers it (TimeLimit 500), behind an entry point of this module."""

    def __init__(self):
        super().__init__(gym.make("CartPole-v1", disable_env_checker=True))


class PidCartPole(_CartPole):
    """CartPole-v1 that writes the id of the process it lives in to $TANDEM_TEST_PID_DIR (a Ray worker's, so a
    test can kill that worker by its process id)."""

    def __init__(self):
        import os

        super().__init__()
        where = os.environ.get("TANDEM_TEST_PID_DIR")
        if where:
            with open(os.path.join(where, str(os.getpid())), "w") as f:
                f.write(str(os.getpid()))


class CrashingCartPole(_CartPole):
    """CartPole-v1 whose step raises with probability $TANDEM_TEST_CRASH_P and stalls for
    $TANDEM_TEST_STALL_S seconds with probability $TANDEM_TEST_STALL_P, in the style of RLlib's
    CartPoleCrashing. The draws come from the OS's entropy, not from the env's seed: a replacement worker
    replaying the episode does not crash at the same step."""

    def __init__(self):
        import os

        super().__init__()
        self._p_crash = float(os.environ.get("TANDEM_TEST_CRASH_P", "5e-4"))
        self._p_stall = float(os.environ.get("TANDEM_TEST_STALL_P", "0"))
        self._stall = float(os.environ.get("TANDEM_TEST_STALL_S", "1.0"))
        self._rng = np.random.default_rng()

    def step(self, action):
        import time

        u = self._rng.random()
        if u < self._p_crash:
            raise RuntimeError("CrashingCartPole: simulated crash in step()")
        if u < self._p_crash + self._p_stall:
            time.sleep(self._stall)
        return super().step(action)
