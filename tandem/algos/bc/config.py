"""Behaviour-cloning hyperparameters: maximum likelihood of a dataset's actions (offline, no environment)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from tandem.algos.needs import DatasetNeeds, RunnerNeeds
from tandem.fields import field, validate_fields
from tandem.nets.spec import ACTIVATIONS, check_spec

DISTRIBUTIONS = ("auto", "categorical", "gaussian", "tanh_gaussian")
"""The policy distributions of behaviour cloning; ``auto``: categorical for discrete actions, tanh_gaussian for
continuous ones."""


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """Behaviour cloning: one Adam step per dataset batch on the mean negative log-likelihood of its actions."""

    lr: float = field(3e-4, "Adam learning rate.", lo=0, lo_open=True)
    # Sampling is with replacement: a batch larger than the dataset is allowed.
    batch_size: int = field(256, "Dataset transitions per gradient step, sampled uniformly.", lo=1)
    actor_net: str = field("mlp:256,256", "Actor network spec, e.g. mlp:256,256.", check=check_spec, group="networks")
    activation: Literal[ACTIVATIONS] = field("relu", "Hidden activation of the actor.", group="networks")
    distribution: Literal[DISTRIBUTIONS] = field(
        "auto", "Policy distribution: categorical (discrete actions); gaussian (a learned state-independent log std) "
                "or tanh_gaussian (mean and log std from the network, squashed into [-1, 1]) for continuous ones; "
                "auto: categorical or tanh_gaussian.")
    max_grad_norm: float = field(0.0, "Global gradient-norm clip (0 disables).", lo=0)
    weight_decay: float = field(0.0, "Decoupled (AdamW) weight decay of the actor's parameters (0 disables).", lo=0)

    @property
    def needs(self) -> RunnerNeeds:
        """A dataset batch of batch_size transitions per gradient step; the environment (one) only evaluates."""
        return RunnerNeeds(num_envs=1, rollout_steps=1, dataset=DatasetNeeds(self.batch_size))

    def validate(self) -> None:
        """Raise TandemInputError naming the first field of the wrong type or out of range (a distribution
        outside DISTRIBUTIONS among them)."""
        validate_fields(self)
