"""The SimbaV2 block (nets/simba.py): parameters by hand, the forward pass against a numpy reading of the
published equations, features and kernels on the unit sphere, and the optimizer's projection after every step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tandem.algos.learner import optimizer
from tandem.nets.spec import NetworkSpec, network, num_params, parse


def _net(text="simba:16,2", F=5):
    net = network(NetworkSpec.from_text(text, "relu", 1, 1.0), (F,))
    return net, net.init(jax.random.PRNGKey(0), jnp.zeros((1, F)))


def unit(x, axis=-1):
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-8)


def test_parameters_by_hand_and_arguments():
    W, B, F = 16, 2, 5
    assert num_params(_net()[1]) == (F + 1) * W + W + B * (8 * W * W + 5 * W) + W + 1
    assert parse("simba")[0].args == (256, 1) and parse("simba:64")[0].args == (64, 1)
    from tandem.errors import TandemInputError

    with pytest.raises(TandemInputError, match="at most two arguments"):
        parse("simba:1,2,3")


def test_forward_equals_the_published_equations_in_numpy():
    net, params = _net()
    p = jax.tree_util.tree_map(np.asarray, params["params"]["Simba_0"])
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float64)
    W = 16
    s = np.sqrt(2 / W)

    def scaler(name, start, scale):
        return p[name]["scaler"] * start / scale

    h = unit(np.concatenate([x, np.full((7, 1), 3.0)], -1)) @ p["HyperDense_0"]["hyper_kernel"]
    h = unit(h * scaler("Scaler_0", s, s))
    k = 1
    for b in range(2):
        m = (h @ p[f"HyperDense_{k}"]["hyper_kernel"]) * scaler(f"Scaler_{2 * b + 1}", s / 2, s / 2)
        m = np.maximum(m, 0) + 1e-8
        m = unit(m @ p[f"HyperDense_{k + 1}"]["hyper_kernel"])
        h = unit(h + scaler(f"Scaler_{2 * b + 2}", 1 / 3, 1 / np.sqrt(W)) * (m - h))
        k += 2
    out, feat = net.apply(params, jnp.asarray(x, jnp.float32), features=True)
    np.testing.assert_allclose(np.asarray(feat), h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(feat), axis=-1), 1.0, rtol=1e-5)
    head = params["params"]["head"]
    np.testing.assert_allclose(np.asarray(out), h @ np.asarray(head["kernel"]) + np.asarray(head["bias"]),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["adam", "rmsprop"])
def test_kernels_stay_on_the_unit_sphere_after_every_optimizer_step(kind):
    net, params = _net()
    tx = optimizer(kind, 3e-2, max_grad_norm=0.5)
    state = tx.init(params)
    x = jax.random.normal(jax.random.PRNGKey(1), (64, 5))

    def norms(p):
        return [np.linalg.norm(np.asarray(leaf), axis=0) for path, leaf in jax.tree_util.tree_leaves_with_path(p)
                if "hyper_kernel" in jax.tree_util.keystr(path)]

    assert len(norms(params)) == 5 and all(np.allclose(n, 1.0, atol=1e-6) for n in norms(params))
    for _ in range(5):
        g = jax.grad(lambda q: jnp.mean((net.apply(q, x) - 3.0) ** 2))(params)
        u, state = tx.update(g, state, params)
        moved = optax.apply_updates(params, u)
        assert not np.allclose(np.asarray(moved["params"]["Simba_0"]["HyperDense_1"]["hyper_kernel"]),
                               np.asarray(params["params"]["Simba_0"]["HyperDense_1"]["hyper_kernel"]))
        params = moved
        assert all(np.allclose(n, 1.0, atol=1e-5) for n in norms(params))


def test_the_projection_leaves_other_networks_untouched():
    """For a tree without HyperDense kernels the updates are the base optimizer's, bit for bit."""
    net = network(NetworkSpec.from_text("mlp:8", "relu", 1, 1.0), (5,))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 5)))
    g = jax.tree_util.tree_map(jnp.ones_like, params)
    base = optax.flatten(optax.adam(1e-3, eps=1e-8))
    a, _ = optimizer("adam", 1e-3).update(g, optimizer("adam", 1e-3).init(params), params)
    b, _ = base.update(g, base.init(params), params)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_sac_with_simba_actor_and_critic_runs(tmp_path):
    import tandem

    run = tandem.train("sac", "gymnax:Pendulum-v1", run_dir=str(tmp_path / "run"), actor_net="simba:32",
                       critic_net="simba:32", total_steps=400, learning_starts=100, batch_size=32,
                       eval_episodes=1, tensorboard=False)
    assert np.isfinite(run.summary["final_eval_return"])
