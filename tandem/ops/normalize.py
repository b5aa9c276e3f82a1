"""Running mean and variance (parallel Welford merge), for observation and return normalisation."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp


OBS_EPS = 1e-8  # the variance epsilon of rms_normalize (exports and folded layers use the same)
OBS_CLIP = 10.0  # rms_normalize's default clip


class RunningMeanStd(NamedTuple):
    mean: jnp.ndarray
    var: jnp.ndarray
    count: jnp.ndarray  # float, starts at a small epsilon like SB3 so the first merge is well defined


def rms_init(shape: tuple[int, ...]) -> RunningMeanStd:
    """Statistics of no data yet: mean 0, variance 1."""
    return RunningMeanStd(jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32), jnp.asarray(1e-4, jnp.float32))


def rms_update(rms: RunningMeanStd, x: jnp.ndarray) -> RunningMeanStd:
    """Merge a batch x of shape [B, *shape] into the statistics (Chan et al. parallel algorithm)."""
    x = x.reshape((-1,) + rms.mean.shape).astype(jnp.float32)
    b_mean, b_var, b_count = x.mean(0), x.var(0), jnp.asarray(x.shape[0], jnp.float32)
    delta = b_mean - rms.mean
    total = rms.count + b_count
    mean = rms.mean + delta * b_count / total
    m2 = rms.var * rms.count + b_var * b_count + delta**2 * rms.count * b_count / total
    return RunningMeanStd(mean, m2 / total, total)


def rms_normalize(rms: RunningMeanStd, x: jnp.ndarray, clip: float = OBS_CLIP) -> jnp.ndarray:
    """(x - mean) / std, clipped to [-clip, clip]."""
    return jnp.clip((x - rms.mean) / jnp.sqrt(rms.var + OBS_EPS), -clip, clip)
