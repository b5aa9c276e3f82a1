"""SAC hyperparameters (Haarnoja et al. 2018, with the automatic temperature of the follow-up paper)."""

from __future__ import annotations

import dataclasses

from tandem.algos.offpolicy import OffPolicyConfig
from tandem.fields import field


@dataclasses.dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    alpha: float = field(1.0, "Entropy temperature: the initial value with --autotune-alpha, the fixed value with "
                              "--no-autotune-alpha.", lo=0, lo_open=True)
    autotune_alpha: bool = field(True, "Learn the temperature so that the policy's entropy tracks --target-entropy.")
    alpha_lr: float = field(3e-4, "Adam learning rate of log(alpha).", lo=0, lo_open=True)
    target_entropy: float | None = field(None, "Target entropy of the automatic temperature (default: -|A|, minus "
                                               "the action dimension).")
