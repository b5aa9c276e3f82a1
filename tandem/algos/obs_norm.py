"""Observation normalisation, one place for every learner: (x - mean) / sqrt(var + 1e-8), clipped to +-10.

An array observation is normalised as one array; a structured one field by field, every field but the action
mask (a raw step counter in the thousands would saturate a tanh network). The statistics are a RunningMeanStd
(``{field: RunningMeanStd}`` for a structured observation) kept in the learner state: on-policy learners merge
every rollout into them (running statistics), TD3+BC computes them once from its whole dataset
(:meth:`ObsNormaliser.from_data`, the paper's fixed dataset statistics).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from tandem.envs.spec import ACTION_MASK, EnvSpec
from tandem.ops import RunningMeanStd, rms_init, rms_normalize, rms_update


class ObsNormaliser(NamedTuple):
    """The normaliser of ``spec``'s observations; ``enabled`` False: apply and update are the identity."""

    spec: EnvSpec
    enabled: bool

    @property
    def fields(self) -> list[str]:
        """The fields of a structured observation that are normalised (all but the action mask)."""
        return [n for n, _, _ in self.spec.obs_fields if n != ACTION_MASK]

    def init(self):
        """Statistics of no data yet (mean 0, variance 1)."""
        if not self.spec.obs_fields:
            return rms_init(self.spec.obs_shape)
        return {n: rms_init(shape) for n, shape, _ in self.spec.obs_fields if n != ACTION_MASK}

    def update(self, rms, obs):
        """``rms`` with a batch of raw observations [..., *obs] merged in (unchanged when disabled)."""
        if not self.enabled:
            return rms
        if not self.spec.obs_fields:
            return rms_update(rms, obs)
        return {n: rms_update(rms[n], obs[n]) for n in self.fields}

    def from_data(self, obs):
        """The exact statistics of a whole set of raw observations [D, *obs] (population variance)."""
        def stats(x):
            x = x.astype(jnp.float32)
            return RunningMeanStd(x.mean(0), x.var(0), jnp.asarray(x.shape[0], jnp.float32))

        if not self.spec.obs_fields:
            return stats(obs)
        return {n: stats(obs[n]) for n in self.fields}

    def apply(self, rms, obs):
        """Normalised observations (the raw ones when disabled)."""
        if not self.enabled:
            return obs
        if not self.spec.obs_fields:
            return rms_normalize(rms, obs.astype(jnp.float32))
        return {**obs, **{n: rms_normalize(rms[n], obs[n].astype(jnp.float32)) for n in self.fields}}
