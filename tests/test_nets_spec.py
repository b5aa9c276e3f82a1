"""NetworkSpec: the grammar, the registry, the modules it builds, and policies rebuilt from a manifest alone."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tandem
from tandem.errors import TandemInputError
from tandem.nets.spec import Block, NetworkSpec, blocks, network, num_params, parse


@pytest.mark.parametrize("text, torso", [
    ("mlp:64,64", (Block("mlp", (64, 64)),)),
    ("mlp", (Block("mlp", ()),)),
    (" mlp : 8 , 4 ", (Block("mlp", (8, 4)),)),
    ("mlp:16>mlp:4", (Block("mlp", (16,)), Block("mlp", (4,)))),
])
def test_parse_and_round_trip(text, torso):
    assert parse(text) == torso
    spec = NetworkSpec(torso, "relu", 3, 0.01)
    assert parse(spec.to_string()) == torso
    assert NetworkSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("text, token", [("mlp:64,x", "'x'"), ("cnn:3", "unknown block 'cnn'"), ("mlp:0", "'0'"),
                                         ("mlp:64>", "unknown block ''"), ("", "is empty"),
                                         ("mlp:", "no arguments after ':'")])
def test_malformed_specs_name_the_token_and_the_blocks_allowed(text, token):
    with pytest.raises(TandemInputError) as e:
        parse(text, "--critic-net")
    msg = str(e.value)
    assert msg.startswith("--critic-net") and token in msg and "allowed blocks: mlp:W1,W2" in msg


def test_mlp_shapes_activation_and_head_init():
    """Two hidden layers of 5 and 3 on a (2, 2) observation, flattened; a head gain of 0 gives zero outputs."""
    spec = NetworkSpec(parse("mlp:5,3"), "relu", 2, 0.0)
    net = network(spec, (2, 2))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 2, 2)))
    shapes = jax.tree_util.tree_map(jnp.shape, params)["params"]
    assert shapes["MLP_0"] == {"Dense_0": {"kernel": (4, 5), "bias": (5,)}, "Dense_1": {"kernel": (5, 3), "bias": (3,)}}
    assert shapes["head"] == {"kernel": (3, 2), "bias": (2,)}
    assert num_params(params) == 4 * 5 + 5 + 5 * 3 + 3 + 3 * 2 + 2
    out = net.apply(params, jnp.ones((7, 2, 2)))
    assert out.shape == (7, 2) and not np.asarray(out).any()
    # The forward pass by hand (zero-initialised biases): relu(relu(x W0) W1) W_head
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    spec1 = NetworkSpec(parse("mlp:5,3"), "relu", 2, 1.0)
    p1 = network(spec1, (4,)).init(jax.random.PRNGKey(0), jnp.zeros((1, 4)))
    h1 = np.maximum(np.maximum(x @ np.asarray(p1["params"]["MLP_0"]["Dense_0"]["kernel"]), 0)
                    @ np.asarray(p1["params"]["MLP_0"]["Dense_1"]["kernel"]), 0)
    ref = h1 @ np.asarray(p1["params"]["head"]["kernel"])
    np.testing.assert_allclose(np.asarray(network(spec1, (4,)).apply(p1, x)), ref, rtol=1e-5, atol=1e-6)


def test_a_critic_takes_observation_and_action():
    spec = NetworkSpec(parse("mlp:4"), "tanh", 1)
    net = network(spec, (3,))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)), jnp.zeros((1, 2)))
    assert params["params"]["MLP_0"]["Dense_0"]["kernel"].shape == (5, 4)  # obs and action concatenated
    assert net.apply(params, jnp.zeros((6, 3)), jnp.zeros((6, 2))).shape == (6, 1)


def test_image_observations_are_cast_inside_the_network():
    """A uint8 H x W x C observation reaches the network as uint8; a flat block casts and flattens it there."""
    net = network(NetworkSpec(parse("mlp:4"), "relu", 2), (3, 3, 2))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 3, 3, 2), jnp.uint8))
    assert net.apply(params, jnp.full((5, 3, 3, 2), 255, jnp.uint8)).shape == (5, 2)


def test_the_registry_lists_mlp():
    assert "mlp" in blocks()


def test_load_policy_needs_neither_env_nor_driver(tmp_path, monkeypatch, train_ppo):
    """The manifest's config, env spec and network specs rebuild the policy: with the env registry and the
    driver factory made unusable, load_policy still gives the run's own actions."""
    r = train_ppo(env="CartPole-v1", total_steps=512, eval_episodes=0)
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    expected = r.policy(obs)

    def refuse(*a, **k):
        raise AssertionError("load_policy built an environment or a driver")

    import tandem.envs.registry
    import tandem.runners.driver

    monkeypatch.setattr(tandem.envs.registry, "backend_of", refuse)
    monkeypatch.setattr(tandem.envs.registry, "backend_named", refuse)
    monkeypatch.setattr(tandem.runners.driver, "make_driver", refuse)
    np.testing.assert_array_equal(tandem.load_policy(r.run_dir)(obs), expected)


def test_conv_block_im2col_equals_lax_conv():
    """The CPU form of the conv block (im2col times the kernel) against lax.conv_general_dilated on the same
    parameters, and its parameter count by hand."""
    from tandem.nets.conv import conv3x3

    x = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 7, 5, 4))
    kernel = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 4, 6))
    bias = jax.random.normal(jax.random.PRNGKey(2), (6,))
    a, b = conv3x3(x, kernel, bias, True), conv3x3(x, kernel, bias, False)
    assert a.shape == b.shape == (2, 3, 7, 5, 6)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    net = network(NetworkSpec(parse("conv:8,16>mlp:32"), "relu", 3), (7, 5, 4))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 7, 5, 4)))
    conv = (9 * 4 * 8 + 8) + (9 * 8 * 16 + 16)
    assert num_params(params) == conv + (7 * 5 * 16 * 32 + 32) + (32 * 3 + 3)


def test_a_critic_with_an_image_torso_still_sees_the_action():
    """conv first: the action joins the flattened features before the first flat block (or before the head)."""
    obs = jnp.ones((2, 5, 5, 1))
    for text in ("conv:4>mlp:8", "conv:4"):
        net = network(NetworkSpec(parse(text), "relu", 1), (5, 5, 1))
        params = net.init(jax.random.PRNGKey(0), obs, jnp.zeros((2, 3)))
        q0 = net.apply(params, obs, jnp.zeros((2, 3)))
        q1 = net.apply(params, obs, jnp.ones((2, 3)))
        assert q0.shape == (2, 1) and not np.allclose(q0, q1), text
