"""SAC hyperparameters (Haarnoja et al. 2018, with the automatic temperature of the follow-up paper)."""

from __future__ import annotations

import dataclasses
import math

from tandem.algos.offpolicy import OffPolicyConfig
from tandem.config import check_float, range_error


@dataclasses.dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    alpha: float = 1.0
    """Entropy temperature: the initial value with --autotune-alpha, the fixed value with --no-autotune-alpha."""
    autotune_alpha: bool = True
    """Learn the temperature so that the policy's entropy tracks --target-entropy."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log(alpha)."""
    target_entropy: float | None = None
    """Target entropy of the automatic temperature (default: -|A|, minus the action dimension)."""

    def validate(self) -> None:
        super().validate()
        check_float(self, "alpha", lo=0, lo_open=True)
        check_float(self, "alpha_lr", lo=0, lo_open=True)
        if self.target_entropy is not None and not math.isfinite(self.target_entropy):
            raise range_error("target_entropy", self.target_entropy, "a finite float (or unset for -|A|)")
