"""Child process of bench_ppo.py: Stable-Baselines3 PPO on CartPole-v1 until a return of 475.

    python benchmarks/sb3_ppo_cartpole.py --seed 0 --cap-steps 200000 [--t0 EPOCH_SECONDS]

RL-Zoo hyperparameters for CartPole-v1 (8 DummyVecEnv envs, n_steps 32, batch 256, 20 epochs,
gamma 0.98, GAE lambda 0.8, no entropy bonus, learning rate and clip range linear from 1e-3 and
0.2 over --cap-steps). Training stops once the mean return of the last 20 finished training
episodes is at least --target-return; then 10 deterministic episodes are evaluated on a fresh
gym.make("CartPole-v1"). Prints one JSON line (the last line of stdout).

--t0 is the parent's time.time() just before it started this process, so seconds_to_target
includes start-up and imports; without it, time is measured from the start of this script.
torch keeps its default number of threads.
"""

from __future__ import annotations

import time

_SCRIPT_T0 = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
from collections import deque  # noqa: E402


def linear_schedule(initial: float):
    """RL-Zoo's lin_<x>: the value falls linearly from `initial` to 0 over training."""

    def value(progress_remaining: float) -> float:
        return progress_remaining * initial

    return value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cap-steps", type=int, default=200_000, help="step cap (also the schedules' horizon)")
    p.add_argument("--target-return", type=float, default=475.0)
    p.add_argument("--window", type=int, default=20, help="finished training episodes averaged for the target")
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--t0", type=float, default=None, help="process start (time.time()) set by the parent")
    args = p.parse_args()
    t0 = _SCRIPT_T0 if args.t0 is None else args.t0

    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    class StopAtTarget(BaseCallback):
        """Tracks finished training episodes (Monitor infos) and stops at the target mean return."""

        def __init__(self):
            super().__init__()
            self.returns: deque[float] = deque(maxlen=args.window)
            self.steps_to_target: int | None = None
            self.seconds_to_target: float | None = None

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                ep = info.get("episode")
                if ep is not None:
                    self.returns.append(float(ep["r"]))
            if len(self.returns) == args.window and sum(self.returns) / args.window >= args.target_return:
                self.steps_to_target = int(self.num_timesteps)
                self.seconds_to_target = time.time() - t0
                return False
            return True

    env = make_vec_env("CartPole-v1", n_envs=8, seed=args.seed, vec_env_cls=DummyVecEnv)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                ent_coef=0.0, learning_rate=linear_schedule(1e-3), clip_range=linear_schedule(0.2),
                device="cpu", seed=args.seed, verbose=0)
    callback = StopAtTarget()
    train_t0 = time.perf_counter()
    model.learn(total_timesteps=args.cap_steps, callback=callback)
    train_seconds = time.perf_counter() - train_t0

    eval_env = Monitor(gym.make("CartPole-v1"))  # Monitor only records episodes; it changes no return
    mean_return, _ = evaluate_policy(model, eval_env, n_eval_episodes=args.eval_episodes, deterministic=True)
    eval_env.close()
    env.close()
    print(json.dumps({
        "reached_target": callback.steps_to_target is not None,
        "steps_to_target": callback.steps_to_target,
        "seconds_to_target": callback.seconds_to_target,
        "env_steps": int(model.num_timesteps),
        "train_seconds": train_seconds,
        "sps": model.num_timesteps / max(train_seconds, 1e-9),
        "final_eval_return": float(mean_return),
        "torch_threads": torch.get_num_threads(),
        "process_seconds": time.time() - t0,
    }))


if __name__ == "__main__":
    main()
