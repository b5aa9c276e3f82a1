"""The actor of the offline learners (bc, iql): one network whose output is a categorical, Gaussian or
tanh-Gaussian distribution over canonical actions, with its log-probability of a dataset's actions."""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax.numpy as jnp

from tandem.envs.spec import ACTION_MASK
from tandem.nets import distributions as D

LOG_STD_MAX = 2.0
TANH_LOG_STD_MIN = -20.0  # tanh_gaussian's log std, clipped as SAC's (to [-20, 2])
ATANH_EDGE = 1e-6  # a canonical action a in [-1, 1] enters tanh_gaussian's log-prob as atanh(clip(a, -1 + e, 1 - e))


class ActorDistribution(NamedTuple):
    """dist_params(actor_params, obs) -> logits [..., A] (invalid actions masked), or (mean, log_std);
    log_prob(dist_params, action) -> [...] for canonical actions (an index, or a vector in [-1, 1])."""

    dist_params: Callable
    log_prob: Callable


def actor_distribution(actor, kind: str, masked: bool, gaussian_log_std_min: float | None = None) -> ActorDistribution:
    """The distribution of ``actor`` (a flax module under ``actor_params["net"]``) for ``kind`` (categorical,
    gaussian: a state-independent ``actor_params["log_std"]``, clipped below at ``gaussian_log_std_min`` when given;
    tanh_gaussian: mean and log std from the network's two halves)."""

    def dist_params(actor_params, obs):
        out = actor.apply(actor_params["net"], obs)
        if kind == "categorical":
            return D.masked_logits(out, obs[ACTION_MASK]) if masked else out
        if kind == "gaussian":
            log_std = actor_params["log_std"]
            if gaussian_log_std_min is not None:
                log_std = jnp.clip(log_std, gaussian_log_std_min, LOG_STD_MAX)
            return out, log_std
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(log_std, TANH_LOG_STD_MIN, LOG_STD_MAX)

    def log_prob(dp, action):
        if kind == "categorical":
            return D.categorical_log_prob(dp, action)
        if kind == "gaussian":
            return D.gaussian_log_prob(*dp, action)
        return D.tanh_gaussian_log_prob(*dp, jnp.arctanh(jnp.clip(action, -1.0 + ATANH_EDGE, 1.0 - ATANH_EDGE)))

    return ActorDistribution(dist_params, log_prob)
