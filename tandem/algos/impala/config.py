"""IMPALA hyperparameters (Espeholt et al. 2018): an actor-critic trained on V-trace targets, one gradient
step per batch of trajectories, whatever the lag between the policy that acted and the learner's."""

from __future__ import annotations

import dataclasses

from tandem.algos.onpolicy import OnPolicyConfig
from tandem.fields import field


@dataclasses.dataclass(frozen=True)
class IMPALAConfig(OnPolicyConfig):
    vtrace_lambda: float = field(1.0, "V-trace lambda: the traces are c_t = lambda * min(c_bar, rho_t).", lo=0, hi=1)
    clip_rho: float = field(1.0, "rho_bar: the truncation of the importance weights in V-trace's TD errors (a "
                                 "larger value targets the learner's policy more, with more variance).", lo=0,
                            lo_open=True)
    clip_c: float = field(1.0, "c_bar: the truncation of the importance weights in V-trace's traces.", lo=0,
                          lo_open=True)
    clip_pg_rho: float = field(1.0, "The truncation of the importance weight of the policy-gradient term.", lo=0,
                               lo_open=True)


# The paper's settings (Table G.1 for DMLab/Atari): RMSprop with eps 0.01 and decay 0.99, gradients clipped to
# a global norm of 40, baseline cost 0.5, entropy cost 0.01, 20-step unrolls, lr annealed linearly to 0.
IMPALA_DEFAULTS = dict(num_envs=8, num_steps=20, lr=6e-4, optimizer="rmsprop", opt_eps=0.01, rmsprop_decay=0.99,
                       max_grad_norm=40.0, vf_coef=0.5, ent_coef=0.01, anneal_lr=True)
