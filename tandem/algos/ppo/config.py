"""PPO hyperparameters (Schulman et al. 2017). A2C (Mnih et al. 2016) is a preset of the same config."""

from __future__ import annotations

import dataclasses

from tandem.algos.onpolicy import OnPolicyConfig
from tandem.errors import TandemInputError
from tandem.fields import field, validate_fields


@dataclasses.dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    gae_lambda: float = field(0.95, "GAE lambda.", lo=0, hi=1)
    update_epochs: int = field(4, "Passes over each rollout batch.", lo=1)
    num_minibatches: int = field(4, "Minibatches per epoch; must divide num_envs * num_steps.", lo=1)
    clip_coef: float = field(0.2, "Clipping range of the probability ratio in the surrogate objective.", lo=0,
                             lo_open=True)
    clip_vloss: bool = field(False, "Clip the value loss around the old values with the same range.")
    norm_adv: bool = field(True, "Normalise advantages per minibatch.")

    @property
    def minibatch_size(self) -> int:
        """Transitions per gradient step."""
        return self.batch_size // self.num_minibatches

    def validate(self) -> None:
        """Raise TandemInputError naming the first field of the wrong type or out of range."""
        validate_fields(self)
        if self.batch_size % self.num_minibatches:
            raise TandemInputError(
                f"--num-minibatches {self.num_minibatches} does not divide the batch num_envs * num_steps = "
                f"{self.num_envs} * {self.num_steps} = {self.batch_size}; allowed: a divisor of {self.batch_size}."
            )


# A2C as the special case of PPO it is: one epoch on the whole batch (the ratio is 1 at the only
# gradient step, so clipping never acts), short rollouts, RMSprop, no advantage normalisation.
A2C_DEFAULTS = dict(
    num_envs=8, num_steps=5, lr=7e-4, optimizer="rmsprop", rmsprop_decay=0.99, update_epochs=1, num_minibatches=1,
    gamma=0.99, gae_lambda=1.0, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, norm_adv=False, anneal_lr=False,
)
