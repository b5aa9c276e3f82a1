"""IQL hyperparameters (Kostrikov, Nair, Levine 2021): expectile value regression, SARSA-style twin critics and
advantage-weighted policy extraction, trained on a dataset (offline, no environment)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from tandem.algos.needs import DatasetNeeds, RunnerNeeds
from tandem.fields import field, validate_fields
from tandem.nets.spec import ACTIVATIONS, check_spec

DISTRIBUTIONS = ("gaussian", "tanh_gaussian")
"""The actor distributions of IQL for continuous actions (discrete ones are always categorical)."""


@dataclasses.dataclass(frozen=True)
class IQLConfig:
    """IQL: per dataset batch, one Adam step on each of the value, critic and actor losses, then Polyak targets."""

    expectile: float = field(0.7, "Expectile tau of the value regression on min_i Q_target_i(s, a) (0.5: the mean; "
                                  "towards 1: the best in-distribution action's value).", lo=0, hi=1, lo_open=True,
                             hi_open=True)
    beta: float = field(3.0, "Inverse temperature of the advantage weights exp(beta * (Q - V)) of the actor.",
                        lo=0, lo_open=True)
    max_weight: float = field(100.0, "Upper clip of the advantage weights.", lo=0, lo_open=True)
    gamma: float = field(0.99, "Discount factor.", lo=0, hi=1, hi_open=True)
    tau: float = field(0.005, "Polyak coefficient of the target critics: target <- tau * online + (1 - tau) * "
                              "target.", lo=0, hi=1, lo_open=True)
    actor_lr: float = field(3e-4, "Adam learning rate of the actor.", lo=0, lo_open=True)
    critic_lr: float = field(3e-4, "Adam learning rate of the critics.", lo=0, lo_open=True)
    value_lr: float = field(3e-4, "Adam learning rate of the value network.", lo=0, lo_open=True)
    # Sampling is with replacement: a batch larger than the dataset is allowed.
    batch_size: int = field(256, "Dataset transitions per gradient step, sampled uniformly.", lo=1)
    num_critics: int = field(2, "Critics in the ensemble; the value regresses on the minimum of their targets.",
                             lo=1, hi=16)
    actor_net: str = field("mlp:256,256", "Actor network spec, e.g. mlp:256,256.", check=check_spec, group="networks")
    critic_net: str = field("mlp:256,256", "Network spec of each critic (input: the observation and, for continuous "
                                           "actions, the action; discrete: one output per action).",
                            check=check_spec, group="networks")
    value_net: str = field("mlp:256,256", "Value network spec (input: the observation).", check=check_spec,
                           group="networks")
    activation: Literal[ACTIVATIONS] = field("relu", "Hidden activation of every network.", group="networks")
    distribution: Literal[DISTRIBUTIONS] = field(
        "gaussian", "Actor distribution for continuous actions: gaussian (a learned state-independent log std, as "
                    "the IQL paper's code; the deterministic action is the mean clipped to [-1, 1]) or tanh_gaussian "
                    "(mean and log std from the network, squashed into [-1, 1]). Discrete actions: categorical.")

    @property
    def needs(self) -> RunnerNeeds:
        """A dataset batch of batch_size transitions per gradient step; the environment (one) only evaluates."""
        return RunnerNeeds(num_envs=1, rollout_steps=1, dataset=DatasetNeeds(self.batch_size))

    def validate(self) -> None:
        """Raise TandemInputError naming the first field of the wrong type or out of range."""
        validate_fields(self)
