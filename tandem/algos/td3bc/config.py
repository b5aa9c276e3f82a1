"""TD3+BC hyperparameters (Fujimoto & Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning").

TD3's config (the paper keeps TD3's settings: twin critics, target noise 0.2 clipped to 0.5, policy delay 2,
learning rates 3e-4, tau 0.005, batch 256) plus ``alpha``. Trained only from a dataset: the replay and
exploration fields it inherits (buffer_size, learning_starts, train_freq, utd, exploration_noise, ...) are
unused. As the paper (its second change to TD3), observations are normalised by the dataset's mean and std,
computed once before the first step and kept in the learner state (``--no-normalize-obs`` turns it off); tandem
normalises as everywhere else, (s - mean) / sqrt(var + 1e-8) clipped to +-10, where the paper divides by
std + 1e-3 and does not clip. Online TD3 started from a TD3+BC run (``--init-from``, a pipeline's online phase)
gets the statistics folded into the first layer of its actor and critics, so it computes the same functions of
the raw observation.
"""

from __future__ import annotations

import dataclasses

from tandem.algos.needs import DatasetNeeds, RunnerNeeds
from tandem.algos.td3.config import TD3Config
from tandem.errors import TandemInputError
from tandem.fields import field


@dataclasses.dataclass(frozen=True)
class TD3BCConfig(TD3Config):
    """TD3 with the actor loss -lambda * mean Q_1(s, pi(s)) + mean (pi(s) - a)^2, lambda = alpha / mean |Q_1|."""

    alpha: float = field(2.5, "Weight of the Q term against behaviour cloning: lambda = alpha / mean |Q_1(s, pi(s))| "
                              "(0: pure behaviour cloning of the dataset's actions).", lo=0)
    normalize_obs: bool = field(True, "Normalise observations by the dataset's mean and std (the paper's; computed "
                                      "once, kept in checkpoints and exports).")

    def validate(self) -> None:
        """TD3's checks; --bc-decay and --bc-alpha are online TD3's (TD3+BC's own weight is --alpha)."""
        super().validate()
        if self.bc_decay:
            raise TandemInputError(f"--bc-decay {self.bc_decay}: for online TD3 after an offline stage; TD3+BC always "
                                   f"clones, weighted by --alpha. Allowed here: 0.")

    @property
    def needs(self) -> RunnerNeeds:
        """A dataset batch of batch_size transitions per gradient step; the environment (one) only evaluates."""
        return RunnerNeeds(num_envs=1, rollout_steps=1, dataset=DatasetNeeds(self.batch_size))
