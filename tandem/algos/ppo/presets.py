"""Tuned defaults per environment (RL-Zoo style): env id -> (config overrides, default total_steps).

"default" is the fallback for environments without a preset.
"""

# PPO's fallback is Stable-Baselines3's PPO defaults (one env, 2048-step rollouts, 10 epochs of minibatches of
# 64, lr 3e-4 held constant, GAE 0.95, no normalisation), which hold up on most Gymnasium tasks. The dataclass
# defaults (8 envs x 128 steps, 4 epochs of 4 minibatches, lr 2.5e-4 annealed: CleanRL's Atari-like settings)
# stay the base the presets below override. Measured side by side with SB3 by benchmarks/bench_fallback.py.
SB3_PPO_DEFAULTS = dict(num_envs=1, num_steps=2048, num_minibatches=32, update_epochs=10, lr=3e-4, anneal_lr=False)

# The RL Zoo's MuJoCo policy_kwargs: ReLU, 256x256 actor and critic, initial log std -2.
_ZOO_NET = dict(actor_net="mlp:256,256", critic_net="mlp:256,256", activation="relu", init_log_std=-2.0)

PPO_PRESETS = {
    "default": (SB3_PPO_DEFAULTS, 1_000_000),
    # RL-Zoo's CartPole settings with half the epochs at twice the learning rate: on this 2-core CPU,
    # 475 was reached in 31-34k steps (3 seeds) against 26-62k for the Zoo's, at half the update cost.
    "CartPole-v1": (dict(num_envs=8, num_steps=32, num_minibatches=1, update_epochs=10, gamma=0.98,
                         gae_lambda=0.8, lr=2e-3, ent_coef=0.0), 100_000),
    # The same settings on the JAX runner: 500 on 4 of 4 seeds at 150k steps. PureJaxRL's settings
    # (4 envs x 128 steps, 4 epochs, lr 2.5e-4) are cheaper per step but at 500k steps the
    # deterministic policy scored 229-500 over seeds; benchmarks/bench_ppo.py uses them for throughput.
    "gymnax:CartPole-v1": (dict(num_envs=8, num_steps=32, num_minibatches=1, update_epochs=10, gamma=0.98,
                                gae_lambda=0.8, lr=2e-3, ent_coef=0.0), 150_000),
    "Acrobot-v1": (dict(num_envs=16, num_steps=256, num_minibatches=64, update_epochs=4, gamma=0.99,
                        gae_lambda=0.94, ent_coef=0.0, normalize_obs=True), 1_000_000),
    "gymnax:Acrobot-v1": (dict(num_envs=16, num_steps=256, num_minibatches=64, update_epochs=4, gae_lambda=0.94,
                               ent_coef=0.0, normalize_obs=True), 1_000_000),
    "Pendulum-v1": (dict(num_envs=4, num_steps=1024, num_minibatches=64, update_epochs=10, gamma=0.9,
                         gae_lambda=0.95, lr=1e-3, ent_coef=0.0, normalize_obs=True, normalize_reward=True,
                         init_log_std=-0.5), 200_000),
    "gymnax:Pendulum-v1": (dict(num_envs=16, num_steps=256, num_minibatches=16, update_epochs=10, gamma=0.9,
                                gae_lambda=0.95, lr=1e-3, ent_coef=0.0, normalize_obs=True, normalize_reward=True,
                                init_log_std=-0.5), 1_000_000),
    # The RL Zoo's settings, with gSDE as theirs, and a wider initial noise (log std -2 instead of -3.29): greedy
    # evaluation after 30k steps >= 89 on 6 of 7 seeds (25.6 on the other). Without gSDE PPO learns to stand
    # still (about 0, with the same noise); at 50-100k steps it oscillates between the goal and standing still.
    "MountainCarContinuous-v0": (dict(num_envs=1, num_steps=8, num_minibatches=1, update_epochs=10, gamma=0.9999,
                                      gae_lambda=0.9, lr=7.77e-5, ent_coef=0.00429, clip_coef=0.1,
                                      max_grad_norm=5.0, vf_coef=0.19, normalize_obs=True, normalize_reward=True,
                                      use_sde=True, init_log_std=-2.0, anneal_lr=False), 30_000),
    # MuJoCo v5: the RL Zoo's tuned PPO settings for the v3 tasks (hyperparams/ppo.yml), one env, observations and
    # rewards normalised (their `normalize: true`). Where the Zoo sets policy_kwargs, ReLU 256x256 and log std -2
    # (its ortho_init=False is not mirrored: tandem's initialisation is orthogonal). Measured at 1M steps by
    # benchmarks/bench_mujoco_ppo.py against the Zoo's published 5819 / 2410 / 3479: HalfCheetah 5716 (1 seed),
    # Hopper 1010 and 125 (it plateaus at ~1000, standing), Walker2d 3502 and 1864 (BENCHMARKS.md).
    **{env: ({"num_envs": 1, "normalize_obs": True, "normalize_reward": True, "anneal_lr": False, **kw}, steps)
       for env, kw, steps in [
           ("HalfCheetah-v5", dict(num_steps=512, num_minibatches=8, gamma=0.98, lr=2.0633e-5, ent_coef=0.000401762,
                                   clip_coef=0.1, update_epochs=20, gae_lambda=0.92, max_grad_norm=0.8,
                                   vf_coef=0.58096, **_ZOO_NET), 1_000_000),
           ("Hopper-v5", dict(num_steps=512, num_minibatches=16, gamma=0.999, lr=9.80828e-5, ent_coef=0.00229519,
                              clip_coef=0.2, update_epochs=5, gae_lambda=0.99, max_grad_norm=0.7, vf_coef=0.835671,
                              **_ZOO_NET), 1_000_000),
           ("Walker2d-v5", dict(num_steps=512, num_minibatches=16, gamma=0.99, lr=5.05041e-5, ent_coef=0.000585045,
                                clip_coef=0.1, update_epochs=20, gae_lambda=0.95, max_grad_norm=1.0,
                                vf_coef=0.871923), 1_000_000),
           ("Humanoid-v5", dict(num_steps=512, num_minibatches=2, gamma=0.95, lr=3.56987e-5, ent_coef=0.00238306,
                                clip_coef=0.3, update_epochs=5, gae_lambda=0.9, max_grad_norm=2.0, vf_coef=0.431892,
                                **_ZOO_NET), 10_000_000),
           ("HumanoidStandup-v5", dict(num_steps=512, num_minibatches=16, gamma=0.99, lr=2.55673e-5,
                                       ent_coef=3.62109e-6, clip_coef=0.3, update_epochs=20, gae_lambda=0.9,
                                       max_grad_norm=0.7, vf_coef=0.430793, **_ZOO_NET), 10_000_000),
           ("InvertedDoublePendulum-v5", dict(num_steps=128, num_minibatches=1, gamma=0.98, lr=1.55454e-4,
                                              ent_coef=1.05057e-6, clip_coef=0.4, update_epochs=10, gae_lambda=0.8,
                                              max_grad_norm=0.5, vf_coef=0.695929), 1_000_000),
           ("InvertedPendulum-v5", dict(num_steps=32, num_minibatches=1, gamma=0.999, lr=2.22425e-4,
                                        ent_coef=1.37976e-7, clip_coef=0.4, update_epochs=5, gae_lambda=0.9,
                                        max_grad_norm=0.3, vf_coef=0.19816), 1_000_000),
           ("Reacher-v5", dict(num_steps=512, num_minibatches=16, gamma=0.9, lr=1.04019e-4, ent_coef=7.52585e-8,
                               clip_coef=0.3, update_epochs=5, gae_lambda=1.0, max_grad_norm=0.9, vf_coef=0.950368),
            1_000_000),
           # The Zoo's untuned MuJoCo defaults: SB3's PPO defaults with normalisation (Swimmer: gamma 0.9999).
           ("Ant-v5", dict(SB3_PPO_DEFAULTS), 1_000_000),
           ("Swimmer-v5", dict(SB3_PPO_DEFAULTS, gamma=0.9999), 1_000_000),
       ]},
    # JAX suites (issue 15). XLand-MiniGrid: the 7x7x2 uint8 view flattened into mlp:64,64; 16 envs x 64 steps, a
    # higher learning rate and a small entropy bonus. On this 2-core CPU MiniGrid-Empty-8x8 reached a 100% success
    # rate (return 0.96, 2 seeds) in 100k steps, MiniGrid-DoorKey-5x5 in 300k steps (12 s and 23 s wall).
    "xminigrid:MiniGrid-Empty-8x8": (dict(num_envs=16, num_steps=64, lr=1e-3, ent_coef=0.01), 100_000),
    "xminigrid:MiniGrid-DoorKey-5x5": (dict(num_envs=16, num_steps=64, lr=1e-3, ent_coef=0.01), 300_000),
    # Jumanji Game2048: the 4x4 board of tile exponents and the action mask; mlp:64,64 over the board. A greedy
    # evaluation scored 2154 after 300k steps (14 s wall) against 1070 for uniformly random valid moves.
    "jumanji:Game2048-v1": (dict(num_envs=16, num_steps=64, lr=5e-4, ent_coef=0.01), 300_000),
    # Jumanji Snake: the grid and a raw step counter (up to 4000), so observations are normalised per field (without
    # it the counter saturates the tanh network and nothing is learnt); 32 envs x 64 steps. Greedy evaluation after
    # 3M steps: 20.1, 21.1 and 20.9 fruit (seeds 0, 1, 2; 93 s wall for one seed) against 6.1 for random valid moves.
    "jumanji:Snake-v1": (dict(num_envs=32, num_steps=64, lr=5e-4, ent_coef=0.01, normalize_obs=True), 3_000_000),
    # Masked CartPole (the velocities hidden): an LSTM of 64 after a dense layer of 64, actor and critic, 16 envs x
    # 64-step sequences, minibatches of 4 envs. Both normalisations matter: the pole angle's range is ~0.2, so
    # unnormalised it barely moves the LSTM; unscaled returns (up to 500) made the value gradients dominate the
    # global norm clip, and runs peaked near 480 and fell back to 200-300 (tried on the JAX version, 400k steps:
    # final evaluation 216-219 without reward scaling, 500 with it). Seeds 0, 1, 2 on the JAX version, final
    # evaluation (10 deterministic episodes): lr 5e-4 for 500k steps 500, 455, 500; lr 1e-3 for 500k steps 299, 500,
    # 500, for 300k steps 285, 421, 500 (the training return is near 500 in all of them from ~150k steps on; the
    # deterministic policy sometimes does worse than the sampled one).
    **{env: (dict(actor_net="mlp:64>lstm:64", critic_net="mlp:64>lstm:64", num_envs=16, num_steps=64,
                  num_minibatches=4, update_epochs=4, lr=5e-4, ent_coef=0.0, normalize_obs=True,
                  normalize_reward=True), 500_000)
       for env in ("tandem:MaskedCartPole-v1", "tandem-jax:MaskedCartPole-v1")},
    # Memory (a cue to recall 16 steps later): the same network and rollouts, a small entropy bonus. All three seeds
    # recalled every cue (evaluation 1.0) by 20k steps on the JAX version; the LSTM's forget-gate bias of 1
    # (nets/recurrent.py) is what lets it learn: with a zero bias the same runs stayed at chance for 200k steps.
    **{env: (dict(actor_net="mlp:64>lstm:64", critic_net="mlp:64>lstm:64", num_envs=16, num_steps=64,
                  num_minibatches=4, update_epochs=4, lr=1e-3, ent_coef=0.01), 50_000)
       for env in ("tandem:Memory-v0", "tandem-jax:Memory-v0")},
    # MinAtar (gymnax, 10x10xC grids of 0/1 channels): the MinAtar paper's network (conv:16>mlp:128, ReLU; Young &
    # Tian 2019) for the actor and the critic, with gymnax-blines' PPO settings for these games (64 envs x 128
    # steps, 4 epochs of 8 minibatches, lr 5e-4 held, gamma 0.999, entropy 0.01; its curves run to 10M steps).
    # Measured by benchmarks/bench_minatar.py against its published curves (BENCHMARKS.md, "MinAtar").
    **{f"gymnax:{game}-MinAtar": (dict(actor_net="conv:16>mlp:128", critic_net="conv:16>mlp:128", activation="relu",
                                       num_envs=64, num_steps=128, num_minibatches=8, update_epochs=4, lr=5e-4,
                                       anneal_lr=False, gamma=0.999, ent_coef=0.01), 10_000_000)
       for game in ("Breakout", "SpaceInvaders", "Asterix", "Freeway")},
    # Atari (ALE/<Game>-v5, envs/atari.py): CleanRL's ppo_atari settings (8 envs x 128 steps, 4 epochs of 4
    # minibatches, lr 2.5e-4 annealed, clip 0.1, entropy 0.01) with the Nature CNN and its 512-unit layer, ReLU,
    # for the actor and the critic (separate networks here, a shared torso in CleanRL) over 10M steps (40M frames).
    # CleanRL also clips rewards and ends episodes at a lost life; tandem's ALE IDs keep the game's score and
    # episodes, so the curves are not comparable number for number. Not trained to the end on this 2-core CPU.
    **{f"ALE/{game}-v5": (dict(actor_net="nature_cnn>mlp:512", critic_net="nature_cnn>mlp:512", activation="relu",
                               num_envs=8, num_steps=128, num_minibatches=4, update_epochs=4, lr=2.5e-4,
                               clip_coef=0.1, ent_coef=0.01), 10_000_000)
       for game in ("Breakout", "Pong", "SpaceInvaders", "BeamRider", "Qbert", "Seaquest", "Enduro", "Asterix")},
}

A2C_PRESETS = {
    "default": ({}, 1_000_000),
    "CartPole-v1": (dict(num_envs=8, ent_coef=0.0), 500_000),
    "gymnax:CartPole-v1": (dict(num_envs=8, ent_coef=0.0), 500_000),
    "Acrobot-v1": (dict(num_envs=16, ent_coef=0.0, normalize_obs=True), 500_000),
    "Pendulum-v1": (dict(num_envs=8, num_steps=8, gae_lambda=0.9, ent_coef=0.0, max_grad_norm=0.5, lr=7e-4,
                         normalize_obs=True, normalize_reward=True, init_log_std=-2.0), 1_000_000),
}

# A3C: A2C's CartPole settings per worker (8 envs x 5 steps each; no normalisation, which A3C's workers can't share).
# With 2 workers 475 was reached in 28-120k steps (4 runs; asynchronous, so not reproducible), 9-24 s wall.
A3C_PRESETS = {
    "default": ({}, 1_000_000),
    "CartPole-v1": (dict(num_envs=8, ent_coef=0.0), 300_000),
}
