"""Environments for bench_ray.py, as ``benchmarks.bench_envs:Name`` entry points (run from the repository root;
the Ray workers see the TANDEM_* variables of the learner, so their settings are TANDEM_BENCH_*). The fault runs use
the tests' envs (tests/envs_for_tests.py: PidCartPole, CrashingCartPole)."""

from __future__ import annotations

import os
import time

import gymnasium as gym


class _CartPole(gym.Wrapper):
    def __init__(self):
        super().__init__(gym.make("CartPole-v1", disable_env_checker=True))


class SlowCartPole(_CartPole):
    """CartPole-v1 whose step also burns $TANDEM_BENCH_STEP_MS (default 0.5) ms of CPU: an env whose stepping, not the
    learner, bounds throughput, where more workers should pay."""

    def __init__(self):
        super().__init__()
        self._cost = float(os.environ.get("TANDEM_BENCH_STEP_MS", "0.5")) / 1000.0

    def step(self, action):
        end = time.perf_counter() + self._cost
        while time.perf_counter() < end:
            pass
        return super().step(action)
