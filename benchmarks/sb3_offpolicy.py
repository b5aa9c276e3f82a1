"""Child process of bench_offpolicy.py and bench_fallback.py: Stable-Baselines3 (or SBX) SAC, TD3 or PPO for a
fixed number of steps.

    python benchmarks/sb3_offpolicy.py --algo sac --env HalfCheetah-v5 --steps 12000 --learning-starts 2000 --seed 0
    python benchmarks/sb3_offpolicy.py --algo ppo --env LunarLander-v3 --steps 1000000 --seed 0

The settings mirror tandem's for the same run (passed by the parent): 256x256 ReLU networks for
actor and critics, batch 256, one gradient step per environment step, Adam at --lr, tau 0.005;
TD3 with Gaussian exploration noise 0.1, policy delay 2, target noise 0.2 clipped at 0.5; SAC with
the automatic temperature (initial 1.0, target entropy -|A|). PPO is SB3's defaults as a new user
gets them (``PPO("MlpPolicy", env)`` on one env; the off-policy flags don't apply). Then --eval-episodes deterministic
episodes on a fresh env. Prints one JSON line (the last line of stdout). torch keeps its default threads.
"""

from __future__ import annotations

import time

_T0 = time.time()

import argparse  # noqa: E402
import json  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--algo", choices=("sac", "td3", "ppo"), required=True)
    p.add_argument("--lib", choices=("sb3", "sbx"), default="sb3",
                   help="Stable-Baselines3 (torch) or SBX (sbx-rl: SB3's API on JAX) for SAC and TD3")
    p.add_argument("--env", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--learning-starts", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--buffer-size", type=int, default=1_000_000)
    p.add_argument("--eval-episodes", type=int, default=10)
    a = p.parse_args()

    import gymnasium as gym
    import numpy as np
    from stable_baselines3 import PPO
    if a.lib == "sbx":
        from sbx import SAC, TD3
    else:
        from stable_baselines3 import SAC, TD3
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.noise import NormalActionNoise

    env = gym.make(a.env)
    common = dict(learning_rate=a.lr, buffer_size=a.buffer_size, learning_starts=a.learning_starts, batch_size=256,
                  tau=0.005, gamma=a.gamma, train_freq=1, gradient_steps=1, seed=a.seed, verbose=0,
                  policy_kwargs=dict(net_arch=[256, 256]), **({"device": "cpu"} if a.lib == "sb3" else {}))
    if a.algo == "ppo":
        model = PPO("MlpPolicy", env, seed=a.seed, verbose=0, device="cpu")
    elif a.algo == "sac":
        model = SAC("MlpPolicy", env, **common)
    else:
        n = env.action_space.shape[0]
        model = TD3("MlpPolicy", env, action_noise=NormalActionNoise(np.zeros(n), 0.1 * np.ones(n)),
                    policy_delay=2, target_policy_noise=0.2, target_noise_clip=0.5, **common)
    t_learn = time.time()
    model.learn(total_timesteps=a.steps)
    learn_seconds = time.time() - t_learn
    eval_env = gym.make(a.env)
    eval_env.reset(seed=a.seed + 500_000)
    returns, _ = evaluate_policy(model, eval_env, n_eval_episodes=a.eval_episodes, deterministic=True,
                                 return_episode_rewards=True)
    print(json.dumps({"final_eval_return": float(np.mean(returns)), "learn_seconds": learn_seconds,
                      "sps": a.steps / learn_seconds, "env_steps": a.steps,
                      "seconds_before_learn": t_learn - _T0}))


if __name__ == "__main__":
    main()
