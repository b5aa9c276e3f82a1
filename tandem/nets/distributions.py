"""Action distributions as plain functions on their parameters (jittable, vmappable).

Categorical over logits [..., A]; diagonal Gaussian with mean [..., D] and log_std [D].
Tested against scipy in tests/test_learners_ppo.py.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from tandem.ops.shapes import check_same_shape

LOG_2PI = math.log(2.0 * math.pi)  # a Python float: nothing is computed (or compiled) at import


def masked_logits(logits, mask):
    """Logits [..., A] with the invalid actions (``mask`` False) set to the lowest finite float: their probability
    is exactly 0, so they are never sampled nor the argmax, and the entropy is over the valid actions only
    (0 * log 0 counts as 0; a finite floor, not -inf, keeps every log-probability and gradient finite)."""
    check_same_shape("masked_logits", logits=logits, mask=mask)
    return jnp.where(mask, logits, jnp.finfo(logits.dtype).min)


def categorical_sample(key, logits):
    """Actions [...] sampled from logits [..., A]."""
    return jax.random.categorical(key, logits, axis=-1)


def categorical_log_prob(logits, action):
    """log pi(action) [...] under logits [..., A]."""
    check_same_shape("categorical_log_prob", logits_without_last_axis=logits[..., 0], action=action)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(logp, action[..., None].astype(jnp.int32), axis=-1)[..., 0]


def categorical_entropy(logits):
    """Entropy [...] of the categorical distribution of logits [..., A]."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(jnp.exp(logp) * logp, axis=-1)


def _check_log_std(where: str, mean, log_std) -> None:
    """log_std is shared ([D]) or per sample (the shape of mean); anything else would broadcast silently."""
    if log_std.shape not in (mean.shape, mean.shape[-1:]):
        raise ValueError(f"{where}: log_std shape {log_std.shape} does not match expected {mean.shape} "
                         f"or {mean.shape[-1:]} (the shape of mean, or its last axis).")


def gaussian_sample(key, mean, log_std):
    """mean + exp(log_std) * N(0, 1): [..., D]."""
    return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)


def gaussian_log_prob(mean, log_std, action):
    """log N(action; mean, exp(log_std)^2) summed over the last axis: [...]."""
    check_same_shape("gaussian_log_prob", mean=mean, action=action)
    _check_log_std("gaussian_log_prob", mean, log_std)
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, axis=-1)


def gaussian_entropy(mean, log_std):
    """Entropy [...] of a diagonal Gaussian (independent of the mean): log_std [D] shared, or [..., D] per sample,
    summed over the last axis only."""
    _check_log_std("gaussian_entropy", mean, log_std)
    return jnp.sum(jnp.broadcast_to(log_std, mean.shape) + 0.5 * (LOG_2PI + 1.0), axis=-1)


# gSDE (generalised state-dependent exploration, Raffin et al. 2022, arXiv:2005.05719): the exploration noise is
# a linear function of the policy's features, noise = features @ (exp(log_std) * eps) with eps ~ N(0, 1) of
# shape [F, D] held for several steps, so consecutive actions explore coherently. Given the features, the
# action is Gaussian with a per-sample variance features^2 @ exp(log_std)^2 (plus SB3's 1e-6).
SDE_EPS = 1e-6


def sde_log_std(features, log_std):
    """The per-sample log std [..., D] of gSDE's action given features [..., F] and log_std [F, D]."""
    if log_std.ndim != 2 or features.shape[-1] != log_std.shape[0]:
        raise ValueError(f"sde_log_std: features shape {features.shape} and log_std shape {log_std.shape} do not "
                         f"match: expected log_std [F, D] with F = features.shape[-1].")
    return 0.5 * jnp.log(jnp.square(features) @ jnp.exp(2.0 * log_std) + SDE_EPS)


def sde_noise(features, log_std, eps):
    """gSDE's noise [N, D]: features [N, F] times each row's exploration matrix exp(log_std) * eps, eps [N, F, D]."""
    return jnp.einsum("nf,nfd->nd", features, jnp.exp(log_std) * eps)


def _log_one_minus_tanh_sq(u):
    """log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)), stable for large |u|."""
    return 2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u))


def tanh_gaussian_log_prob(mean, log_std, u):
    """log density of a = tanh(u) where u ~ N(mean, exp(log_std)^2), given the pre-squash u:
    the change of variables sum_d [log N(u_d) - log(1 - tanh(u_d)^2)] (from u, so it stays finite at |a| -> 1)."""
    return gaussian_log_prob(mean, log_std, u) - jnp.sum(_log_one_minus_tanh_sq(u), axis=-1)


def tanh_gaussian_sample(key, mean, log_std):
    """a = tanh(u), u ~ N(mean, exp(log_std)^2) per dimension. Returns (a, log_prob(a))."""
    u = gaussian_sample(key, mean, log_std)
    return jnp.tanh(u), tanh_gaussian_log_prob(mean, log_std, u)
