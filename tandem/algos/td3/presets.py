"""Tuned defaults per environment (RL-Zoo style) for TD3 and DDPG: env id -> (overrides, default total_steps).

Networks stay at tandem's 256x256 (the Zoo's TD3/DDPG use 400x300). Learning rates follow the TD3
authors' current settings on MuJoCo (3e-4) and the Zoo's on Pendulum (1e-3).
"""

_PENDULUM = (dict(gamma=0.98, buffer_size=200_000, learning_starts=10_000, exploration_noise=0.1,
                  actor_lr=1e-3, critic_lr=1e-3), 20_000)
_MUJOCO = dict(learning_starts=10_000, exploration_noise=0.1, actor_lr=3e-4, critic_lr=3e-4)

TD3_PRESETS = {
    "default": ({}, 1_000_000),
    "Pendulum-v1": _PENDULUM,
    "gymnax:Pendulum-v1": _PENDULUM,
    "MountainCarContinuous-v0": (dict(learning_starts=1_000, exploration_noise=0.5, gamma=0.99, buffer_size=100_000),
                                 100_000),
    "InvertedPendulum-v5": (dict(_MUJOCO, learning_starts=1_000), 100_000),
    "HalfCheetah-v5": (_MUJOCO, 1_000_000),
    "Hopper-v5": (_MUJOCO, 1_000_000),
    "Walker2d-v5": (_MUJOCO, 1_000_000),
    "Ant-v5": (_MUJOCO, 1_000_000),
    "Humanoid-v5": (_MUJOCO, 2_000_000),
}

DDPG_PRESETS = TD3_PRESETS  # the same per-env settings on top of the DDPG defaults (one critic, no delay, no smoothing)
