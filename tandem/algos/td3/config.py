"""TD3 hyperparameters (Fujimoto et al. 2018). DDPG (Lillicrap et al. 2016) is a preset of the same config."""

from __future__ import annotations

import dataclasses
from typing import Literal

from tandem.algos.offpolicy import OffPolicyConfig
from tandem.fields import field


@dataclasses.dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    policy_delay: int = field(2, "Critic steps per actor (and target) update.", lo=1)
    target_noise: float = field(0.2, "Std of the Gaussian noise on the target action (target policy smoothing; "
                                     "0 disables).", lo=0)
    target_noise_clip: float = field(0.5, "The target noise is clipped to [-clip, clip].", lo=0)
    exploration_noise: float = field(0.1, "Std (sigma) of the exploration noise added to actions in [-1, 1].", lo=0)
    noise_type: Literal["gaussian", "ou"] = field("gaussian", "Exploration noise: independent Gaussian, or "
                                                              "Ornstein-Uhlenbeck (reset at episode starts).")
    ou_theta: float = field(0.15, "Mean reversion rate of the Ornstein-Uhlenbeck noise.", lo=0)
    ou_dt: float = field(1e-2, "Time step of the Ornstein-Uhlenbeck noise.", lo=0, lo_open=True)
    bc_decay: int = field(0, "Fine-tuning after an offline stage: the actor loss keeps TD3+BC's behaviour-cloning "
                             "term on the batch's actions, its weight decaying linearly from 1 to 0 over this many "
                             "gradient steps (0: plain TD3).", lo=0)
    bc_alpha: float = field(2.5, "With --bc-decay: TD3+BC's alpha, the weight of the Q term against cloning.",
                            lo=0, lo_open=True)


# DDPG as the special case of TD3 it is: one critic, an actor update after every critic update, no
# target policy smoothing, learning rates 1e-3 (SB3's). Unlike SB3's DDPG defaults (learning_starts=100, no
# action noise), tandem keeps TD3's exploration: 10k uniformly random warm-up transitions and Gaussian
# noise of std 0.1 (the TD3 paper's DDPG baseline); --learning-starts 100 --exploration-noise 0 gives SB3's.
DDPG_DEFAULTS = dict(num_critics=1, policy_delay=1, target_noise=0.0, actor_lr=1e-3, critic_lr=1e-3)
