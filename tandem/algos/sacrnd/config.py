"""SAC-RND hyperparameters (Nikulin et al. 2023, "Anti-Exploration by Random Network Distillation", ICML).

SAC's config plus the random network distillation: a fixed random prior f_prior(s, a) and a predictor f(s, a)
(both ``rnd_net`` MLPs on the concatenated observation and action, ``rnd_dim`` outputs) and the weights of
the anti-exploration bonus in the actor loss and in the critic target. The paper tunes ``beta_actor`` and
``beta_critic`` per dataset (its appendix: from 1 to 25 on the D4RL locomotion tasks, often equal); the
defaults of 1.0 are a starting point. The paper's actor and critics are deeper (three hidden layers of 256,
LayerNorm in the critics): set ``--actor-net``/``--critic-net`` for that. Trained only from a dataset: the replay
fields it inherits (buffer_size, learning_starts, train_freq, utd, ...) are unused.
"""

from __future__ import annotations

import dataclasses

from tandem.algos.needs import DatasetNeeds, RunnerNeeds
from tandem.algos.sac.config import SACConfig
from tandem.fields import field
from tandem.nets.spec import check_spec


@dataclasses.dataclass(frozen=True)
class SACRNDConfig(SACConfig):
    """SAC with the RND bonus b(s, a) added to the actor loss and subtracted from the soft value of the target."""

    rnd_net: str = field("mlp:256,256", "Network spec of the RND predictor and of its fixed random prior (input: "
                                        "observation and action, concatenated).", check=check_spec, group="networks")
    rnd_dim: int = field(32, "Output (embedding) size of the RND predictor and prior.", lo=1)
    rnd_lr: float = field(3e-4, "Adam learning rate of the RND predictor (trained alongside, one step per learn "
                                "call, on the batch's observations and actions).", lo=0, lo_open=True)
    beta_actor: float = field(1.0, "Weight of the bonus b(s, pi(s)) in the actor loss (the paper tunes it per "
                                   "dataset).", lo=0)
    beta_critic: float = field(1.0, "Weight of the bonus b(s', a') subtracted from the soft value of the critic "
                                    "target: y = r + gamma * (V(s') - beta_critic * b(s', a')) (tuned per dataset).",
                               lo=0)

    @property
    def needs(self) -> RunnerNeeds:
        """A dataset batch of batch_size transitions per gradient step; the environment (one) only evaluates."""
        return RunnerNeeds(num_envs=1, rollout_steps=1, dataset=DatasetNeeds(self.batch_size))
