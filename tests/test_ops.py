"""Estimators against independent references: plain numpy loops and hand-derived values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tandem.ops import gae_advantages, rms_init, rms_normalize, rms_update


def gae_reference(r, v, v_next, term, trunc, gamma, lam):
    """Textbook loop, written independently of the scan: walk backwards, reset at episode ends."""
    T = len(r)
    adv = np.zeros(T)
    running = 0.0
    for t in reversed(range(T)):
        bootstrap = 0.0 if term[t] else gamma * v_next[t]
        delta = r[t] + bootstrap - v[t]
        if term[t] or trunc[t]:
            running = delta  # the next step belongs to another episode
        else:
            running = delta + gamma * lam * running
        adv[t] = running
    return adv, adv + v


@pytest.mark.parametrize("use_jit", [False, True])
def test_gae_matches_numpy_loop_with_mixed_masks(use_jit):
    rng = np.random.default_rng(0)
    T = 13
    r = rng.normal(size=T).astype(np.float32)
    v = rng.normal(size=T).astype(np.float32)
    v_next = np.append(v[1:], rng.normal()).astype(np.float32)
    term = np.zeros(T, bool)
    trunc = np.zeros(T, bool)
    term[[3, 9]] = True
    trunc[[6, 12]] = True
    v_next[6] = 5.0  # value of the final observation of the truncated episode: must be used
    v_next[3] = 100.0  # value after termination: must be ignored
    fn = jax.jit(gae_advantages, static_argnums=(5, 6)) if use_jit else gae_advantages
    adv, tgt = fn(jnp.asarray(r), jnp.asarray(v), jnp.asarray(v_next), jnp.asarray(term), jnp.asarray(trunc), 0.97, 0.9)
    ref_adv, ref_tgt = gae_reference(r, v, v_next, term, trunc, 0.97, 0.9)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tgt, ref_tgt, rtol=1e-5, atol=1e-5)


def test_gae_hand_computed_two_steps():
    # r=(1, 2), V=(0.5, 0.25), V(s_2)=1, gamma=0.5, lam=0.5, no episode end:
    # delta_1 = 2 + 0.5*1 - 0.25 = 2.25 ; A_1 = 2.25
    # delta_0 = 1 + 0.5*0.25 - 0.5 = 0.625 ; A_0 = 0.625 + 0.25*2.25 = 1.1875
    adv, tgt = gae_advantages(jnp.array([1.0, 2.0]), jnp.array([0.5, 0.25]), jnp.array([0.25, 1.0]),
                              jnp.array([False, False]), jnp.array([False, False]), 0.5, 0.5)
    np.testing.assert_allclose(adv, [1.1875, 2.25], rtol=1e-6)
    np.testing.assert_allclose(tgt, [1.6875, 2.5], rtol=1e-6)
    # Termination at t=1: V(s_2) is not used; truncation at t=1: it is.
    adv_term, _ = gae_advantages(jnp.array([1.0, 2.0]), jnp.array([0.5, 0.25]), jnp.array([0.25, 1.0]),
                                 jnp.array([False, True]), jnp.array([False, False]), 0.5, 0.5)
    np.testing.assert_allclose(adv_term, [0.625 + 0.25 * 1.75, 1.75], rtol=1e-6)
    adv_trunc, _ = gae_advantages(jnp.array([1.0, 2.0]), jnp.array([0.5, 0.25]), jnp.array([0.25, 1.0]),
                                  jnp.array([False, False]), jnp.array([False, True]), 0.5, 0.5)
    np.testing.assert_allclose(adv_trunc, [1.1875, 2.25], rtol=1e-6)


def test_gae_infinite_horizon_with_only_truncations():
    """Reward 1 forever, episodes only cut by time: fixed-point values approach 1/(1-gamma).

    Iterate V <- GAE targets on a long trajectory where every 50th step is a truncation and the
    bootstrap value at a cut is the current estimate. With correct truncation handling the values
    converge to 1/(1-gamma) = 20; treating the cut as terminal would pull them towards ~(1-gamma^k)/(1-gamma).
    """
    gamma, lam, T = 0.95, 0.9, 500
    trunc = np.zeros(T, bool)
    trunc[49::50] = True
    term = np.zeros(T, bool)
    r = jnp.ones(T)
    gae = jax.jit(gae_advantages, static_argnums=(5, 6))
    value = 0.0
    for _ in range(400):
        v = jnp.full(T, value)
        _, tgt = gae(r, v, v, jnp.asarray(term), jnp.asarray(trunc), gamma, lam)
        value = float(tgt.mean())
    assert abs(value - 1.0 / (1.0 - gamma)) < 0.05


def test_running_mean_std_matches_numpy():
    rng = np.random.default_rng(1)
    chunks = [rng.normal(3.0, 2.0, size=(n, 3)) for n in (5, 17, 64)]
    rms = rms_init((3,))
    for c in chunks:
        rms = rms_update(rms, jnp.asarray(c))
    allx = np.concatenate(chunks)
    np.testing.assert_allclose(rms.mean, allx.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rms.var, allx.var(0), rtol=1e-3)
    z = rms_normalize(rms, jnp.asarray(allx))
    np.testing.assert_allclose(np.asarray(z).mean(0), 0.0, atol=1e-3)


def test_masked_non_finite_values_do_not_leak():
    """A NaN/Inf value behind a terminal step is masked with where, not multiplied by 0 (0 * inf = NaN)."""
    from tandem.ops import td_target

    r = jnp.array([1.0, 2.0, 3.0])
    v = jnp.array([0.5, 0.5, 0.5])
    term = jnp.array([False, True, False])
    trunc = jnp.zeros(3, bool)
    clean = gae_advantages(r, v, jnp.array([0.5, 0.0, 0.5]), term, trunc, 0.9, 0.95)
    for bad in (jnp.nan, jnp.inf, -jnp.inf):
        dirty = gae_advantages(r, v, jnp.array([0.5, bad, 0.5]), term, trunc, 0.9, 0.95)
        for a, b in zip(clean, dirty):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        y = td_target(r, term, jnp.array([0.5, bad, 0.5]), 0.9)
        np.testing.assert_array_equal(np.asarray(y), np.float32([1.0 + np.float32(0.9) * np.float32(0.5), 2.0,
                                                              3.0 + np.float32(0.9) * np.float32(0.5)]))
