"""The ``onnx`` export: an ONNX model (opset 17) built with ``onnx.helper`` and checked by ``onnx.checker``.

Input ``obs``: float32 [B, obs_dim] (observations flattened row-major). Outputs ``action``: int64 [B] (the argmax)
for a discrete action space, float32 [B, action_dim] in the environment's bounds for a Box; ``net_output``:
float32 [B, out_dim], the network's outputs (logits, or the mean before any tanh and rescaling). Only this
module imports ``onnx``, and only when the format is used (the ``export`` extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tandem.errors import TandemInputError
from tandem.export.extract import GELU_C, GELU_K, PolicyGraph
from tandem.ops.normalize import OBS_CLIP

OPSET = 17
IR_VERSION = 8  # the IR of opset 17: readable by every onnxruntime since 1.13


def require_onnx():
    """The ``onnx`` module, or a TandemInputError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise TandemInputError("--format onnx needs the onnx package, which is not installed; install the extra with "
                               "`pip install -e \".[export]\"` (or `pip install tandem-rl[export]`), or use "
                               "--format numpy or c.") from None
    return onnx


def model(graph: PolicyGraph):
    """The checked ``onnx.ModelProto`` of a PolicyGraph."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    count = [0]

    def const(name, value, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(kind, inputs, out=None, **attrs):
        count[0] += 1
        out = out or f"{kind.lower()}_{count[0]}"
        nodes.append(helper.make_node(kind, inputs, [out], name=f"{kind}_{count[0]}", **attrs))
        return out

    x = "obs"
    if graph.obs_mean is not None:
        x = op("Div", [op("Sub", [x, const("obs_mean", graph.obs_mean)]), const("obs_std", graph.obs_std)])
        x = op("Clip", [x, const("obs_clip_low", -OBS_CLIP), const("obs_clip_high", OBS_CLIP)])
    last = len(graph.layers) - 1
    for i, layer in enumerate(graph.layers):
        y = op("Add", [op("MatMul", [x, const(f"kernel_{i}", layer.kernel)]), const(f"bias_{i}", layer.bias)],
               "net_output" if i == last else None)
        x = _activation(op, const, layer.activation, y, i)
    y = x
    if graph.action_kind == "discrete":
        action = op("ArgMax", [y], "action", axis=1, keepdims=0, select_last_index=0)
        action_type = helper.make_tensor_value_info(action, TensorProto.INT64, ["batch"])
    else:
        a = op("Tanh", [y]) if graph.squash == "tanh" else y
        bounded = graph.bounded
        if bounded.any():
            low = np.where(bounded, graph.action_low, -1.0).astype(np.float32)
            high = np.where(bounded, graph.action_high, 1.0).astype(np.float32)
            c = op("Clip", [a, const("unit_low", -1.0), const("unit_high", 1.0)])
            s = op("Add", [op("Mul", [op("Add", [c, const("one", 1.0)]), const("half_range", 0.5 * (
                high.astype(np.float64) - low.astype(np.float64)))]), const("action_low", low)])
            s = op("Min", [op("Max", [s, "action_low"]), const("action_high", high)])
            a = s if bounded.all() else op("Where", [const("action_bounded", bounded, np.bool_), s, a])
        action = op("Identity", [a], "action")
        action_type = helper.make_tensor_value_info(action, TensorProto.FLOAT, ["batch", graph.action_dim])
    g = helper.make_graph(
        nodes, "tandem_policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", graph.obs_dim])],
        [action_type, helper.make_tensor_value_info("net_output", TensorProto.FLOAT, ["batch", graph.out_dim])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tandem",
                          producer_version=str(graph.meta.get("tandem_version")), ir_version=IR_VERSION,
                          doc_string=f"tandem policy: {graph.meta.get('algo')} on {graph.meta.get('env')}, actor "
                                     f"{graph.meta.get('actor_net')} ({graph.meta.get('activation')})")
    helper.set_model_props(m, {k: str(v) for k, v in graph.meta.items()})
    onnx.checker.check_model(m, full_check=True)
    return m


def _activation(op, const, name, x, i):
    """The nodes of flax's activation ``name`` on ``x`` (None: ``x`` itself)."""
    if name is None:
        return x
    if name == "tanh":
        return op("Tanh", [x])
    if name == "relu":
        return op("Relu", [x])
    if name == "elu":
        return op("Elu", [x], alpha=1.0)
    if name == "silu":
        return op("Mul", [x, op("Sigmoid", [x])])
    if name == "gelu":  # x * (0.5 * (1 + tanh(c * (x + k * x^3)))), in jax.nn.gelu's order
        cube = op("Mul", [op("Mul", [x, x]), x])
        inner = op("Add", [x, op("Mul", [const(f"gelu_k_{i}", GELU_K), cube])])
        inner = op("Mul", [const(f"gelu_c_{i}", GELU_C), inner])
        cdf = op("Mul", [const(f"gelu_half_{i}", 0.5), op("Add", [const(f"gelu_one_{i}", 1.0), op("Tanh", [inner])])])
        return op("Mul", [x, cdf])
    raise ValueError(f"activation {name!r}")


def render(graph: PolicyGraph, paths: tuple[Path, ...]) -> dict:
    """{path: bytes} of the ONNX export: the serialised model at ``paths[0]``."""
    return {paths[0]: model(graph).SerializeToString()}
