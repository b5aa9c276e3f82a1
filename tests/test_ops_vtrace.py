"""V-trace against independent references: a plain numpy loop over the paper's sum (eq. 1), rlax, the
on-policy limit (lambda-returns) and episodes split apart."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tandem.ops import gae_advantages, vtrace

INF = float("inf")


def vtrace_reference(r, v, v_next, term, trunc, log_rho, gamma, lam, rho_bar, c_bar, pg_rho_bar):
    """Eq. 1 of Espeholt et al. as the explicit sum, episode by episode, written without the recursion:
    v_s = V(s) + sum_{t>=s} gamma^{t-s} (prod_{i=s}^{t-1} c_i) delta_t, the sum stopping at the end of the
    episode or of the trajectory."""
    T = len(r)
    ratio = np.exp(log_rho.astype(np.float64))
    rho, c = np.minimum(rho_bar, ratio), lam * np.minimum(c_bar, ratio)
    delta = rho * (r + gamma * np.where(term, 0.0, v_next) - v)
    done = term | trunc
    vs = np.zeros(T)
    for s in range(T):
        total, weight = 0.0, 1.0
        for t in range(s, T):
            total += weight * delta[t]
            if done[t]:
                break
            weight *= gamma * c[t]
        vs[s] = v[s] + total
    adv = np.zeros(T)
    for s in range(T):
        nxt = v_next[s] if (done[s] or s == T - 1) else vs[s + 1]
        adv[s] = min(pg_rho_bar, ratio[s]) * (r[s] + (0.0 if term[s] else gamma * nxt) - v[s])
    return vs, adv


def random_trace(T, seed, cuts=True, spread=1.0):
    rng = np.random.default_rng(seed)
    r = rng.normal(size=T).astype(np.float32)
    v = rng.normal(size=T).astype(np.float32)
    v_next = np.append(v[1:], rng.normal()).astype(np.float32)
    term, trunc = np.zeros(T, bool), np.zeros(T, bool)
    if cuts:
        term[[3, 11]] = True
        trunc[[7]] = True
        v_next[3], v_next[11] = 100.0, -50.0  # after a termination: must be ignored
        v_next[7] = 5.0  # the truncated episode's final observation: must be used
    log_rho = (spread * rng.normal(size=T)).astype(np.float32)
    return r, v, v_next, term, trunc, log_rho


@pytest.mark.parametrize("lam, rho_bar, c_bar, pg_rho_bar", [(1.0, 1.0, 1.0, 1.0), (0.9, 1.5, 0.8, 1.0),
                                                              (0.95, INF, INF, INF), (1.0, 0.5, 2.0, 3.0)])
def test_vtrace_matches_numpy_sum_with_cuts(lam, rho_bar, c_bar, pg_rho_bar):
    r, v, v_next, term, trunc, log_rho = random_trace(16, 0)
    fn = jax.jit(vtrace, static_argnums=(6, 7, 8, 9, 10))
    vs, adv = fn(r, v, v_next, term, trunc, log_rho, 0.97, lam, rho_bar, c_bar, pg_rho_bar)
    ref_vs, ref_adv = vtrace_reference(r, v, v_next, term, trunc, log_rho, 0.97, lam, rho_bar, c_bar, pg_rho_bar)
    np.testing.assert_allclose(vs, ref_vs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("lam, rho_bar, pg_rho_bar", [(1.0, 1.0, 1.0), (1.0, 2.0, 0.7), (0.8, 1.0, 1.0)])
def test_vtrace_matches_rlax_on_an_unbroken_trace(lam, rho_bar, pg_rho_bar):
    """rlax assumes one unbroken unroll and fixes c_bar = 1; its policy-gradient term mixes
    V(s_{t+1}) in by 1 - lambda, so the advantages are compared at lambda = 1 only."""
    import rlax

    r, v, v_next, term, trunc, log_rho = random_trace(20, 1, cuts=False)
    gamma = 0.99
    out = rlax.vtrace_td_error_and_advantage(jnp.asarray(v), jnp.asarray(v_next), jnp.asarray(r),
                                             jnp.full(20, gamma), jnp.exp(jnp.asarray(log_rho)), lambda_=lam,
                                             clip_rho_threshold=rho_bar, clip_pg_rho_threshold=pg_rho_bar)
    vs, adv = vtrace(r, v, v_next, term, trunc, log_rho, gamma, lam, rho_bar, 1.0, pg_rho_bar)
    np.testing.assert_allclose(vs, out.errors + v, rtol=1e-5, atol=1e-5)
    if lam == 1.0:
        np.testing.assert_allclose(adv, out.pg_advantage, rtol=1e-5, atol=1e-5)


def test_vtrace_on_policy_limit_is_the_lambda_return():
    """rho = 1 everywhere and no clipping: the targets are the lambda-returns (GAE's targets), the
    advantages the one-step advantages against those targets."""
    r, v, v_next, term, trunc, _ = random_trace(16, 2)
    zeros = np.zeros(16, np.float32)
    vs, adv = vtrace(r, v, v_next, term, trunc, zeros, 0.95, 0.9, INF, INF, INF)
    _, gae_target = gae_advantages(r, v, v_next, term, trunc, 0.95, 0.9)
    np.testing.assert_allclose(vs, gae_target, rtol=1e-5, atol=1e-5)
    vs1, adv1 = vtrace(r, v, v_next, term, trunc, zeros, 0.95, 1.0, INF, INF, INF)
    gae1, _ = gae_advantages(r, v, v_next, term, trunc, 0.95, 1.0)
    np.testing.assert_allclose(adv1, gae1, rtol=1e-5, atol=1e-5)  # lambda = 1: A_t = G_t - V(s_t)


def test_vtrace_two_episodes_equal_the_two_apart():
    """A trace holding two episodes (a termination or a truncation between them) equals each computed alone."""
    rng = np.random.default_rng(3)
    for cut in ("terminated", "truncated"):
        r, v, v_next, _, _, log_rho = random_trace(12, 4, cuts=False, spread=0.5)
        term, trunc = np.zeros(12, bool), np.zeros(12, bool)
        (term if cut == "terminated" else trunc)[4] = True
        v_next[4] = rng.normal()
        args = (0.9, 0.95, 1.2, 0.9, 1.1)
        vs, adv = vtrace(r, v, v_next, term, trunc, log_rho, *args)
        for part in (slice(0, 5), slice(5, 12)):
            pvs, padv = vtrace(r[part], v[part], v_next[part], term[part], trunc[part], log_rho[part], *args)
            np.testing.assert_allclose(vs[part], pvs, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(adv[part], padv, rtol=1e-6, atol=1e-6)


def test_vtrace_hand_computed_two_steps():
    """T = 2, gamma 0.5, ratios 2 and 0.5, rho_bar = c_bar = 1: rho = (1, 0.5), c = (1, 0.5).
    delta = (1 + 0.5*0.25 - 0.5, 0.5 * (2 + 0.5*1 - 0.25)) = (0.625, 1.125);
    vs_1 = 0.25 + 1.125 = 1.375; vs_0 = 0.5 + 0.625 + 0.5 * 1 * 1.125 = 1.6875.
    adv_0 = 1 * (1 + 0.5 * 1.375 - 0.5) = 1.1875; adv_1 = 0.5 * (2 + 0.5 * 1 - 0.25) = 1.125."""
    f = jnp.zeros(2, bool)
    vs, adv = vtrace(jnp.array([1.0, 2.0]), jnp.array([0.5, 0.25]), jnp.array([0.25, 1.0]), f, f,
                     jnp.log(jnp.array([2.0, 0.5])), 0.5)
    np.testing.assert_allclose(vs, [1.6875, 1.375], rtol=1e-6)
    np.testing.assert_allclose(adv, [1.1875, 1.125], rtol=1e-6)


def test_vtrace_passes_no_gradient_and_masks_nonfinite_after_termination():
    r, v, v_next, term, trunc, log_rho = random_trace(16, 5)
    g = jax.grad(lambda v: vtrace(r, v, v_next, term, trunc, log_rho, 0.9)[0].sum())(jnp.asarray(v))
    assert np.all(np.asarray(g) == 0.0)
    v_next[3] = np.inf  # behind a termination
    vs, adv = vtrace(r, v, v_next, term, trunc, log_rho, 0.9)
    assert np.isfinite(vs).all() and np.isfinite(adv).all()


def test_vtrace_rejects_batched_input():
    x = jnp.zeros((4, 3))
    with pytest.raises(ValueError, match=r"vtrace.*\[T\]"):
        vtrace(x, x, x, x.astype(bool), x.astype(bool), x, 0.9)
