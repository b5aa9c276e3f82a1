"""The pixel and mixture blocks (issue 10, item 1): nature_cnn, impala_cnn, the MinAtar CNN (conv:16>mlp:128),
soft_moe and mlp's layer norm. Parameter counts against hand counts, output shapes on 84x84x4 and 10x10xC inputs,
the strided im2col against lax.conv, Soft MoE's dispatch and combine weights (normalised as the paper defines,
against a numpy loop, equivariant to permuting tokens), and bad specs refused naming the token."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tandem.errors import TandemInputError
from tandem.nets.spec import NetworkSpec, network, num_params, parse


def build(text: str, obs_shape: tuple, out: int = 6):
    """(module, params, features [2, ...]) of ``text`` with a head of ``out`` on two zero observations."""
    net = network(NetworkSpec(parse(text), "relu", out), obs_shape)
    x = jnp.zeros((2,) + obs_shape, jnp.uint8)
    params = net.init(jax.random.PRNGKey(0), x)
    return net, params, net.apply(params, x, features=True)[1]


def dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


@pytest.mark.parametrize("text, obs, features, count", [
    # Mnih et al. 2015: 8x8/4 of 32, 4x4/2 of 64, 3x3/1 of 64 -> 7x7x64 = 3136, then 512.
    ("nature_cnn>mlp:512", (84, 84, 4), 512,
     (8 * 8 * 4 * 32 + 32) + (4 * 4 * 32 * 64 + 64) + (3 * 3 * 64 * 64 + 64) + dense(3136, 512)),
    ("nature_cnn", (84, 84, 4), 3136, (8 * 8 * 4 * 32 + 32) + (4 * 4 * 32 * 64 + 64) + (3 * 3 * 64 * 64 + 64)),
    # Espeholt et al. 2018: per stack a 3x3 conv, a pool to half (ceil), two residual blocks of two 3x3 convs.
    ("impala_cnn", (84, 84, 4), 11 * 11 * 32,
     sum(9 * cin * c + c + 4 * (9 * c * c + c) for cin, c in ((4, 16), (16, 32), (32, 32)))),
    # Young & Tian 2019 (MinAtar): one 3x3 conv of 16, same padding, then 128.
    ("conv:16>mlp:128", (10, 10, 4), 128, (9 * 4 * 16 + 16) + dense(10 * 10 * 16, 128)),
    ("conv:16>mlp:128", (10, 10, 7), 128, (9 * 7 * 16 + 16) + dense(10 * 10 * 16, 128)),
    # 64 features in 4 tokens of 16; 8 experts of 1 slot and width 32: Phi 16 x 8, experts 8 x (16 x 32 + 32).
    ("mlp:64>soft_moe:8,1,16,32", (5,), 4 * 32, dense(5, 64) + 16 * 8 + 8 * dense(16, 32)),
    ("mlp:64>soft_moe:4,2,8,16", (5,), 8 * 16, dense(5, 64) + 8 * 8 + 4 * dense(8, 16)),
    ("mlp:16,8,ln", (5,), 8, dense(5, 16) + 2 * 16 + dense(16, 8) + 2 * 8),
])
def test_parameter_counts_and_output_shapes_match_hand_counts(text, obs, features, count):
    _, params, feat = build(text, obs)
    assert feat.shape == (2, features)
    assert num_params(params) == count + dense(features, 6)


def test_strided_im2col_equals_lax_conv():
    """The CPU form of an unpadded strided convolution (the Nature CNN's layers) against lax.conv."""
    from tandem.nets.conv import conv2d

    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 3, 20, 20, 4))
    for k, s in ((8, 4), (4, 2), (3, 1)):
        kernel = jax.random.normal(jax.random.PRNGKey(k), (k, k, 4, 5))
        bias = jax.random.normal(jax.random.PRNGKey(s), (5,))
        a, b = conv2d(x, kernel, bias, True, s, same=False), conv2d(x, kernel, bias, False, s, same=False)
        assert a.shape == b.shape == (2, 3, (20 - k) // s + 1, (20 - k) // s + 1, 5)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_pixel_blocks_scale_uint8_frames_and_impala_is_residual():
    """nature_cnn and impala_cnn take frames in [0, 255]: a frame of 255s gives what a float frame of 1s gives to
    the same convolutions computed by hand (first layer of impala: conv, pool; the residual path adds to it)."""
    from tandem.nets.conv import conv2d
    from tandem.nets.impala_cnn import max_pool

    net, params, _ = build("impala_cnn:8", (12, 12, 3))
    frame = jnp.full((1, 12, 12, 3), 255, jnp.uint8)
    got = net.apply(params, frame, features=True)[1].reshape(1, 6, 6, 8)
    p = params["params"]["ImpalaCNN_0"]
    conv = lambda y, n: conv2d(y, p[f"kernel_{n}"], p[f"bias_{n}"], False)   # noqa: E731
    x = max_pool(conv(jnp.ones((1, 12, 12, 3)), "0"))
    for r in range(2):
        x = x + conv(jax.nn.relu(conv(jax.nn.relu(x), f"0_res{r}_a")), f"0_res{r}_b")
    np.testing.assert_allclose(got, jax.nn.relu(x), rtol=1e-4, atol=1e-5)


def soft_moe_np(tokens, phi, kernel, bias):
    """Soft MoE by loops (Puigcerver et al. 2023, eqs. 1-3), ReLU experts: tokens [n, d] -> [n, w]."""
    n, m = tokens.shape[0], phi.shape[1]
    logits = tokens @ phi
    dispatch = np.exp(logits) / np.exp(logits).sum(0, keepdims=True)
    combine = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    per = m // kernel.shape[0]   # slots per expert
    out = np.zeros((m, kernel.shape[2]))
    for j in range(m):
        slot = sum(dispatch[i, j] * tokens[i] for i in range(n))
        e = j // per
        out[j] = np.maximum(slot @ kernel[e] + bias[e], 0)
    return np.stack([sum(combine[i, j] * out[j] for j in range(m)) for i in range(n)]), dispatch, combine


def test_soft_moe_matches_a_loop_normalises_its_weights_and_is_token_permutation_equivariant():
    from tandem.nets.soft_moe import soft_moe

    rng = np.random.default_rng(0)
    n, d, E, S, w = 6, 4, 3, 2, 5
    tokens, phi = rng.normal(size=(n, d)), rng.normal(size=(d, E * S))
    kernel, bias = rng.normal(size=(E, d, w)), rng.normal(size=(E, w))
    y, dispatch, combine = soft_moe(jnp.asarray(tokens, jnp.float32), jnp.asarray(phi, jnp.float32),
                                    jnp.asarray(kernel, jnp.float32), jnp.asarray(bias, jnp.float32), jax.nn.relu)
    ref, d_ref, c_ref = soft_moe_np(tokens, phi, kernel, bias)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dispatch, d_ref, rtol=1e-5)
    np.testing.assert_allclose(np.sum(dispatch, 0), 1.0, rtol=1e-6)   # each slot: a convex combination of tokens
    np.testing.assert_allclose(np.sum(combine, 1), 1.0, rtol=1e-6)    # each token: a convex combination of slots
    perm = rng.permutation(n)
    y_perm, _, _ = soft_moe(jnp.asarray(tokens[perm], jnp.float32), jnp.asarray(phi, jnp.float32),
                            jnp.asarray(kernel, jnp.float32), jnp.asarray(bias, jnp.float32), jax.nn.relu)
    np.testing.assert_allclose(y_perm, np.asarray(y)[perm], rtol=1e-4, atol=1e-5)


def test_layer_norm_sits_between_each_dense_layer_and_its_activation():
    net, params, _ = build("mlp:8,ln", (3,))
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    p = params["params"]["MLP_0"]
    h = x @ np.asarray(p["Dense_0"]["kernel"]) + np.asarray(p["Dense_0"]["bias"])
    h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-6)   # scale 1, offset 0 at init
    np.testing.assert_allclose(net.apply(params, x, features=True)[1], np.maximum(h, 0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("text", ["nature_cnn", "impala_cnn:8,8", "soft_moe:8,1,64,512", "mlp:64,ln",
                                  "nature_cnn:16,32,32>soft_moe:4>mlp:256,ln"])
def test_new_blocks_round_trip(text):
    spec = NetworkSpec(parse(text), "relu", 3)
    assert parse(spec.to_string()) == spec.torso and NetworkSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("text, token", [("soft_moe:0", "'0'"), ("soft_moe", "1 to 4 arguments"),
                                         ("soft_moe:1,2,3,4,5", "1 to 4 arguments"), ("nature_cnn:32", "three"),
                                         ("mlp:ln", "'ln' needs"), ("mlp:ln,64", "'ln'"), ("impala_cnn:x", "'x'")])
def test_malformed_block_arguments_name_the_token(text, token):
    with pytest.raises(TandemInputError) as e:
        parse(text, "--actor-net")
    assert str(e.value).startswith("--actor-net") and token in str(e.value)


@pytest.mark.parametrize("text", ["nature_cnn>mlp:64", "impala_cnn>mlp:64"])
def test_a_cnn_on_a_vector_observation_is_refused_naming_the_flag(text):
    with pytest.raises(TandemInputError) as e:
        network(NetworkSpec(parse(text), "relu", 2), (4,), "--critic-net")
    assert "--critic-net" in str(e.value) and "takes an image" in str(e.value)


@pytest.mark.parametrize("text, obs, says", [("nature_cnn>mlp:64", (10, 10, 4), "at least 36x36"),
                                             ("mlp:10>soft_moe:4", (3,), "not a whole number of tokens of 16")])
def test_a_block_whose_input_does_not_fit_is_bad_input_naming_the_flag(text, obs, says):
    net = network(NetworkSpec(parse(text), "relu", 2), obs, "--actor-net")
    with pytest.raises(TandemInputError) as e:
        net.init(jax.random.PRNGKey(0), jnp.zeros((1,) + obs))
    assert str(e.value).startswith("--actor-net") and says in str(e.value)


def test_the_hypernetwork_critic_is_its_generated_network_applied_by_hand():
    """hyper:8,4 on a 3-feature state and a 2-d action: h = relu(s P + p); [K | b] = h E + e, K: [2, 4];
    features relu(a K / sqrt 2 + b); Q = features . head. Parameters counted by hand."""
    net = network(NetworkSpec(parse("hyper:8,4"), "relu", 1), (3,), "--critic-net")
    rng = np.random.default_rng(0)
    s, a = rng.normal(size=(5, 3)).astype(np.float32), rng.uniform(-1, 1, (5, 2)).astype(np.float32)
    params = net.init(jax.random.PRNGKey(0), jnp.asarray(s), jnp.asarray(a))
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(rng.normal(size=x.shape), jnp.float32), params)
    p = jax.tree_util.tree_map(np.asarray, params["params"])
    assert num_params(params) == dense(3, 8) + 8 * (2 * 4 + 4) + (2 * 4 + 4) + dense(4, 1)
    want = []
    for i in range(5):
        h = np.maximum(s[i] @ p["Hyper_0"]["primary"]["kernel"] + p["Hyper_0"]["primary"]["bias"], 0)
        out = h @ p["Hyper_0"]["emit_kernel"] + p["Hyper_0"]["emit_bias"]
        kernel, bias = out[:8].reshape(2, 4), out[8:]
        feat = np.maximum(a[i] @ kernel / np.sqrt(2) + bias, 0)
        want.append(feat @ p["head"]["kernel"] + p["head"]["bias"])
    np.testing.assert_allclose(net.apply(params, s, a), np.stack(want), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("text", ["hyper:8,4", "mlp:8>hyper:8,4"])
def test_a_hypernetwork_without_an_action_to_take_is_refused(text):
    net = network(NetworkSpec(parse(text), "relu", 1), (3,), "--critic-net")
    with pytest.raises(TandemInputError) as e:
        net.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)), None if text.startswith("hyper") else jnp.zeros((1, 2)))
    assert str(e.value).startswith("--critic-net") and "takes the action" in str(e.value)
