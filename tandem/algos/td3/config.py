"""TD3 hyperparameters (Fujimoto et al. 2018). DDPG (Lillicrap et al. 2016) is a preset of the same config."""

from __future__ import annotations

import dataclasses
from typing import Literal

from tandem.algos.offpolicy import OffPolicyConfig
from tandem.config import check_float, check_int


@dataclasses.dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    policy_delay: int = 2
    """Critic steps per actor (and target) update."""
    target_noise: float = 0.2
    """Std of the Gaussian noise on the target action (target policy smoothing; 0 disables)."""
    target_noise_clip: float = 0.5
    """The target noise is clipped to [-clip, clip]."""
    exploration_noise: float = 0.1
    """Std (sigma) of the exploration noise added to actions in [-1, 1]."""
    noise_type: Literal["gaussian", "ou"] = "gaussian"
    """Exploration noise: independent Gaussian, or Ornstein-Uhlenbeck (reset at episode starts)."""
    ou_theta: float = 0.15
    """Mean reversion rate of the Ornstein-Uhlenbeck noise."""
    ou_dt: float = 1e-2
    """Time step of the Ornstein-Uhlenbeck noise."""

    def validate(self) -> None:
        super().validate()
        check_int(self, "policy_delay", 1)
        for f in ("target_noise", "target_noise_clip", "exploration_noise", "ou_theta"):
            check_float(self, f, lo=0)
        check_float(self, "ou_dt", lo=0, lo_open=True)


# DDPG as the special case of TD3 it is: one critic, an actor update after every critic update, no
# target policy smoothing (SB3's DDPG defaults otherwise).
DDPG_DEFAULTS = dict(num_critics=1, policy_delay=1, target_noise=0.0, actor_lr=1e-3, critic_lr=1e-3)
