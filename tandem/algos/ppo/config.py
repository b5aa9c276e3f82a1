"""PPO hyperparameters (Schulman et al. 2017). A2C (Mnih et al. 2016) is a preset of the same config."""

from __future__ import annotations

import dataclasses
from typing import Literal

from tandem.algos.needs import RunnerNeeds
from tandem.errors import TandemInputError
from tandem.fields import field, validate_fields
from tandem.nets.spec import ACTIVATIONS, check_spec

Activation = Literal[ACTIVATIONS]


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    num_envs: int = field(8, "Parallel environments per seed.", lo=1, group="environment")
    num_steps: int = field(128, "Rollout length per environment between updates.", lo=1)
    lr: float = field(2.5e-4, "Learning rate (the starting value when --anneal-lr).", lo=0, lo_open=True)
    anneal_lr: bool = field(True, "Anneal the learning rate linearly to 0 over the run.")
    optimizer: Literal["adam", "rmsprop"] = field("adam", "Optimizer; A2C uses RMSprop as in the A3C paper.")
    opt_eps: float = field(1e-5, "Epsilon of the optimizer's denominator.", lo=0, lo_open=True)
    rmsprop_decay: float = field(0.99, "RMSprop decay (alpha), used when --optimizer rmsprop.", lo=0, hi=1,
                                 lo_open=True, hi_open=True)
    gamma: float = field(0.99, "Discount factor.", lo=0, hi=1, hi_open=True)
    gae_lambda: float = field(0.95, "GAE lambda.", lo=0, hi=1)
    update_epochs: int = field(4, "Passes over each rollout batch.", lo=1)
    num_minibatches: int = field(4, "Minibatches per epoch; must divide num_envs * num_steps.", lo=1)
    clip_coef: float = field(0.2, "Clipping range of the probability ratio in the surrogate objective.", lo=0,
                             lo_open=True)
    clip_vloss: bool = field(False, "Clip the value loss around the old values with the same range.")
    ent_coef: float = field(0.0, "Entropy bonus coefficient.", lo=0)
    vf_coef: float = field(0.5, "Value loss coefficient.", lo=0)
    max_grad_norm: float = field(0.5, "Global gradient-norm clip (0 disables).", lo=0)
    norm_adv: bool = field(True, "Normalise advantages per minibatch.")
    normalize_obs: bool = field(False, "Normalise observations by running mean/std (statistics are checkpointed).")
    normalize_reward: bool = field(False, "Scale rewards by the running std of the discounted return "
                                          "(statistics are checkpointed).")
    actor_net: str = field("mlp:64,64", "Actor network spec, e.g. mlp:64,64 (two hidden layers of 64); 'mlp' "
                                        "alone is a linear policy.", check=check_spec, group="networks")
    critic_net: str = field("mlp:64,64", "Critic network spec, e.g. mlp:64,64.", check=check_spec, group="networks")
    activation: Activation = field("tanh", "Hidden activation of actor and critic.", group="networks")
    init_log_std: float = field(0.0, "Initial log standard deviation of the Gaussian policy (continuous actions).")
    use_sde: bool = field(False, "gSDE exploration (continuous actions): the noise is linear in the actor's last "
                                 "features, its weights (log std [features, actions]) resampled every "
                                 "--sde-sample-freq steps of each env and at each episode start.")
    sde_sample_freq: int = field(0, "Steps between resamples of gSDE's noise weights; 0: the rollout length "
                                    "(--num-steps).", lo=0)

    @property
    def batch_size(self) -> int:
        """Transitions per update: num_envs x num_steps."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        """Transitions per gradient step."""
        return self.batch_size // self.num_minibatches

    @property
    def needs(self) -> RunnerNeeds:
        """A [num_steps, num_envs] rollout per update; no replay."""
        return RunnerNeeds(self.num_envs, self.num_steps)

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
