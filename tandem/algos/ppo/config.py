"""PPO hyperparameters (Schulman et al. 2017). A2C (Mnih et al. 2016) is a preset of the same config."""

from __future__ import annotations

import dataclasses
from typing import Literal

from tandem.config import check_float, check_int, check_types, check_widths
from tandem.errors import TandemInputError


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    num_envs: int = 8
    """Parallel environments per seed."""
    num_steps: int = 128
    """Rollout length per environment between updates."""
    lr: float = 2.5e-4
    """Learning rate (the starting value when --anneal-lr)."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly to 0 over the run."""
    optimizer: Literal["adam", "rmsprop"] = "adam"
    """Optimizer; A2C uses RMSprop as in the A3C paper."""
    opt_eps: float = 1e-5
    """Epsilon of the optimizer's denominator."""
    rmsprop_decay: float = 0.99
    """RMSprop decay (alpha), used when --optimizer rmsprop."""
    gamma: float = 0.99
    """Discount factor, in [0, 1)."""
    gae_lambda: float = 0.95
    """GAE lambda, in [0, 1]."""
    update_epochs: int = 4
    """Passes over each rollout batch."""
    num_minibatches: int = 4
    """Minibatches per epoch; must divide num_envs * num_steps."""
    clip_coef: float = 0.2
    """Clipping range of the probability ratio in the surrogate objective."""
    clip_vloss: bool = False
    """Clip the value loss around the old values with the same range."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip (0 disables)."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    normalize_obs: bool = False
    """Normalise observations by running mean/std (statistics are checkpointed)."""
    normalize_reward: bool = False
    """Scale rewards by the running std of the discounted return (statistics are checkpointed)."""
    actor_hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor."""
    critic_hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the critic."""
    activation: Literal["tanh", "relu", "gelu", "silu", "elu"] = "tanh"
    """Hidden activation of actor and critic."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy (continuous actions)."""

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    def validate(self) -> None:
        """Raise TandemInputError naming the first field of the wrong type or out of range."""
        check_types(self)
        for f in ("num_envs", "num_steps", "update_epochs", "num_minibatches"):
            check_int(self, f, 1)
        check_float(self, "lr", lo=0, lo_open=True)
        check_float(self, "gamma", 0, 1, hi_open=True)
        check_float(self, "gae_lambda", 0, 1)
        check_float(self, "clip_coef", lo=0, lo_open=True)
        for f in ("ent_coef", "vf_coef", "max_grad_norm"):
            check_float(self, f, lo=0)
        check_float(self, "opt_eps", lo=0, lo_open=True)
        check_float(self, "rmsprop_decay", 0, 1, lo_open=True, hi_open=True)
        check_float(self, "init_log_std")
        for f in ("actor_hidden", "critic_hidden"):
            check_widths(self, f, allow_empty=True)  # no hidden layer: a linear policy / value function
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
