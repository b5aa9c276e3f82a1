"""PPO hyperparameters (Schulman et al. 2017). A2C (Mnih et al. 2016) is a preset of the same config."""

from __future__ import annotations

import dataclasses

from tandem.algos.needs import RunnerNeeds
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
        self.validate_prune()
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


@dataclasses.dataclass(frozen=True)
class A3CConfig(PPOConfig):
    """A3C (Mnih et al. 2016): the A2C learner on Ray workers that each compute the gradient of their own rollout
    (``--num-envs`` envs each) with the parameters they were sent, while the learner applies the gradients as they
    arrive (runners/ray_async.py). One training call is one worker's rollout."""

    @property
    def needs(self) -> RunnerNeeds:
        """A [num_steps, num_envs] rollout per worker and training call, its gradient computed on the worker."""
        return RunnerNeeds(self.num_envs, self.num_steps, worker_gradients=True)

    def validate(self) -> None:
        """PPO's checks, then A3C's: one gradient step per rollout, and no normalisation (its statistics live with
        the learner, the gradients are computed elsewhere)."""
        super().validate()
        if self.update_epochs != 1 or self.num_minibatches != 1:
            raise TandemInputError(f"a3c: each worker sends one gradient of its whole rollout; allowed: "
                                   f"--update-epochs 1 --num-minibatches 1 (got {self.update_epochs} and "
                                   f"{self.num_minibatches}).")
        for name in ("normalize_obs", "normalize_reward"):
            if getattr(self, name):
                raise TandemInputError(f"a3c: --{name.replace('_', '-')} keeps running statistics on the learner, "
                                       f"which the workers computing gradients do not see; allowed: "
                                       f"--no-{name.replace('_', '-')} (or a2c/impala, which normalise).")
