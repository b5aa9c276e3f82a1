"""SAC-RND's anti-exploration bonus: the random network distillation error, scaled by its running std."""

from __future__ import annotations

import jax.numpy as jnp

from tandem.ops.normalize import RunningMeanStd
from tandem.ops.shapes import check_same_shape


def rnd_error(pred, prior):
    """||f(s, a) - f_prior(s, a)||^2 per transition, summed over the embedding: [B, K] -> [B]. Its batch mean is
    the predictor's loss."""
    check_same_shape("rnd_error", pred=pred, prior=prior)
    return jnp.sum((pred - prior) ** 2, axis=-1)


def rnd_bonus(error, rms: RunningMeanStd):
    """The bonus b(s, a): the error divided by the running std of the errors on dataset batches (the paper's
    normalisation, so that beta_actor and beta_critic do not depend on the scale of the prior)."""
    return error / jnp.sqrt(rms.var + 1e-8)
