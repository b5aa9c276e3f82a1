"""TD3+BC hyperparameters (Fujimoto & Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning").

TD3's config (the paper keeps TD3's settings: twin critics, target noise 0.2 clipped to 0.5, policy delay 2,
learning rates 3e-4, tau 0.005, batch 256) plus ``alpha``. Trained only from a dataset: the replay and
exploration fields it inherits (buffer_size, learning_starts, train_freq, utd, exploration_noise, ...) are
unused. The paper also normalises observations by the dataset's mean and std (its second change to TD3);
tandem's TD3+BC does not, so its actor carries over to online TD3 unchanged. On a dataset whose observation
features differ widely in scale, expect it to do worse than the paper's.
"""

from __future__ import annotations

import dataclasses

from tandem.algos.needs import DatasetNeeds, RunnerNeeds
from tandem.algos.td3.config import TD3Config
from tandem.fields import field


@dataclasses.dataclass(frozen=True)
class TD3BCConfig(TD3Config):
    """TD3 with the actor loss -lambda * mean Q_1(s, pi(s)) + mean (pi(s) - a)^2, lambda = alpha / mean |Q_1|."""

    alpha: float = field(2.5, "Weight of the Q term against behaviour cloning: lambda = alpha / mean |Q_1(s, pi(s))| "
                              "(0: pure behaviour cloning of the dataset's actions).", lo=0)

    @property
    def needs(self) -> RunnerNeeds:
        """A dataset batch of batch_size transitions per gradient step; the environment (one) only evaluates."""
        return RunnerNeeds(num_envs=1, rollout_steps=1, dataset=DatasetNeeds(self.batch_size))
