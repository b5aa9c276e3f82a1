"""Environments for bench_ray.py, as ``benchmarks.bench_envs:Name`` entry points (run from the repository root;
the Ray workers see the TANDEM_* variables of the learner, so their settings are TANDEM_BENCH_*)."""

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


class PidCartPole(_CartPole):
    """CartPole-v1 that writes its process id to $TANDEM_BENCH_PID_DIR, so the benchmark can kill the worker holding it."""

    def __init__(self):
        super().__init__()
        where = os.environ.get("TANDEM_BENCH_PID_DIR")
        if where:
            with open(os.path.join(where, str(os.getpid())), "w") as f:
                f.write(str(os.getpid()))


class CrashingCartPole(_CartPole):
    """RLlib's CartPoleCrashing, in spirit: each step raises with probability $TANDEM_BENCH_CRASH_P and stalls for
    $TANDEM_BENCH_STALL_S seconds with probability $TANDEM_BENCH_STALL_P (draws from the OS's entropy, not the env's seed)."""

    def __init__(self):
        import numpy as np

        super().__init__()
        self._p_crash = float(os.environ.get("TANDEM_BENCH_CRASH_P", "1e-4"))
        self._p_stall = float(os.environ.get("TANDEM_BENCH_STALL_P", "1e-4"))
        self._stall = float(os.environ.get("TANDEM_BENCH_STALL_S", "1.0"))
        self._rng = np.random.default_rng()

    def step(self, action):
        u = self._rng.random()
        if u < self._p_crash:
            raise RuntimeError("CrashingCartPole: simulated crash in step()")
        if u < self._p_crash + self._p_stall:
            time.sleep(self._stall)
        return super().step(action)
