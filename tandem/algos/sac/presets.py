"""Tuned defaults per environment (RL-Zoo style) for SAC: env id -> (overrides, default total_steps)."""

_PENDULUM = (dict(learning_starts=100, actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3), 20_000)
_MUJOCO = dict(learning_starts=10_000)

SAC_PRESETS = {
    "default": ({}, 1_000_000),
    "Pendulum-v1": _PENDULUM,
    "gymnax:Pendulum-v1": _PENDULUM,
    # The Zoo's settings without gSDE (which tandem does not have): a fixed, small temperature.
    "MountainCarContinuous-v0": (dict(buffer_size=50_000, batch_size=512, alpha=0.1, autotune_alpha=False,
                                      train_freq=32, gamma=0.9999, tau=0.01, learning_starts=0,
                                      actor_net="mlp:64,64", critic_net="mlp:64,64"), 50_000),
    "InvertedPendulum-v5": (dict(learning_starts=1_000), 100_000),
    "HalfCheetah-v5": (_MUJOCO, 1_000_000),
    "Hopper-v5": (_MUJOCO, 1_000_000),
    "Walker2d-v5": (_MUJOCO, 1_000_000),
    "Ant-v5": (_MUJOCO, 1_000_000),
    "Humanoid-v5": (_MUJOCO, 2_000_000),
}
