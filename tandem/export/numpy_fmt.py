"""The ``numpy`` export: one self-contained Python module that imports only numpy (and base64).

The weights are embedded as base64 little-endian float32; the module defines ``act(obs)`` (the deterministic
action in the environment's own action space: an int, or a float32 array in [low, high], for one observation;
an int64 [B] or float32 [B, action_dim] array for a batch [B, *obs_shape]) and ``forward(obs)`` (the head's
outputs [B, out_dim]: logits, or the mean before any tanh).
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from tandem.export.extract import GELU_C, GELU_K, PolicyGraph
from tandem.ops.normalize import OBS_CLIP

WRAP = 96  # base64 characters per line of the module

_TEMPLATE = '''\
"""A tandem policy, exported to numpy: {algo} on {env}.

Source: {run_dir} (seed {seed_index}, {checkpoint}); actor --actor-net {actor_net}, activation {activation};
tandem {tandem_version}. {num_params} float32 numbers ({weight_bytes} bytes) embedded below.

act(obs): the deterministic action in the environment's own action space, as tandem.load_policy gives it:
{action_doc}
One observation of shape OBS_SHAPE, or a batch [B, *OBS_SHAPE]. forward(obs): the network's outputs
[B, {out_dim}] ({out_doc}). Needs only numpy.
"""

import base64

import numpy as np

OBS_SHAPE = {obs_shape!r}
ACTION_KIND = {action_kind!r}
NUM_ACTIONS = {num_actions!r}
ACTION_DIM = {action_dim!r}
ACTION_LOW = np.array({low}, dtype=np.float64)
ACTION_HIGH = np.array({high}, dtype=np.float64)
NUM_PARAMS = {num_params!r}
WEIGHT_BYTES = {weight_bytes!r}
SOURCE = {meta}


def _f32(data, shape):
    return np.frombuffer(base64.b64decode(data), dtype="<f4").reshape(shape).astype(np.float32)


_OBS_MEAN = {obs_mean}
_OBS_STD = {obs_std}
_OBS_CLIP = {obs_clip!r}
_LAYERS = [
{layers}]
_SQUASH = {squash!r}
_GELU_C = np.float32({gelu_c!r})
_GELU_K = np.float32({gelu_k!r})


def _activate(name, x):
    if name is None:
        return x
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0)
    if name == "gelu":  # flax's default: the tanh approximation
        return x * (0.5 * (1.0 + np.tanh(_GELU_C * (x + _GELU_K * (x * x * x)))))
    if name == "silu":
        with np.errstate(over="ignore"):
            return x * (1.0 / (1.0 + np.exp(-x)))
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    raise ValueError("unknown activation %r" % (name,))


def _batch(obs):
    x = np.asarray(obs, dtype=np.float32)
    single = x.shape == OBS_SHAPE
    if single:
        x = x[None]
    if x.ndim != len(OBS_SHAPE) + 1 or x.shape[1:] != OBS_SHAPE:
        raise ValueError("observation shape %s does not match expected %s (one observation) or (B,) + %s (a batch)"
                         % (x.shape, OBS_SHAPE, OBS_SHAPE))
    return x.reshape(x.shape[0], -1), single


def forward(obs):
    """The network's outputs [B, {out_dim}] float32 for observations [B, *OBS_SHAPE] (or one observation)."""
    x, _ = _batch(obs)
    if _OBS_MEAN is not None:
        x = np.clip((x - _OBS_MEAN) / _OBS_STD, -_OBS_CLIP, _OBS_CLIP)
    for kernel, bias, activation in _LAYERS:
        x = _activate(activation, x @ kernel + bias)
    return x


def _postprocess(out):
    if ACTION_KIND == "discrete":
        return np.argmax(out, axis=-1).astype(np.int64)
    a = np.tanh(out) if _SQUASH == "tanh" else out
    a = a.astype(np.float64)
    bounded = np.isfinite(ACTION_LOW) & np.isfinite(ACTION_HIGH)
    low, high = np.where(bounded, ACTION_LOW, -1.0), np.where(bounded, ACTION_HIGH, 1.0)
    scaled = np.clip(low + (np.clip(a, -1.0, 1.0) + 1.0) * 0.5 * (high - low), low, high)
    return np.where(bounded, scaled, a).astype(np.float32)


def act(obs):
    """The deterministic action for one observation (an int, or a float32 [ACTION_DIM] array) or a batch
    [B, *OBS_SHAPE] (int64 [B], or float32 [B, ACTION_DIM])."""
    _, single = _batch(obs)
    action = _postprocess(forward(obs))
    if single:
        return int(action[0]) if ACTION_KIND == "discrete" else action[0]
    return action
'''


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _array(a: np.ndarray | None) -> str:
    if a is None:
        return "None"
    data = _b64(a)
    chunks = "\n         ".join(f'"{data[i:i + WRAP]}"' for i in range(0, max(len(data), 1), WRAP))
    return f"_f32({chunks}, {tuple(int(s) for s in a.shape)!r})"


def _floats(a: np.ndarray) -> str:
    """A list literal of float64 values (inf written as float('inf'))."""
    def one(v):
        v = float(v)
        return repr(v) if np.isfinite(v) else f"float({str(v)!r})"

    return "[" + ", ".join(one(v) for v in a) + "]"


def source(graph: PolicyGraph) -> str:
    """The module's Python source."""
    m = graph.meta
    if graph.action_kind == "discrete":
        action_doc = f"the index (an int in [0, {graph.num_actions})) of the largest logit."
        out_doc = f"the {graph.num_actions} logits"
    else:
        steps = ("tanh of the mean, " if graph.squash == "tanh" else "the Gaussian mean, ") + \
                "clipped to [-1, 1] and rescaled to [ACTION_LOW, ACTION_HIGH] (unbounded dimensions pass through)"
        action_doc = f"a float32 array of {graph.action_dim}: {steps}."
        out_doc = "the mean, before " + ("tanh and " if graph.squash == "tanh" else "") + "rescaling"
    layers = "".join(f"    ({_array(layer.kernel)},\n     {_array(layer.bias)}, {layer.activation!r}),\n"
                     for layer in graph.layers)
    meta = {k: v if isinstance(v, (str, int, float, type(None))) else str(v) for k, v in sorted(m.items())}

    def doc(key):  # a value quoted in the module's docstring: no backslash or triple quote to end it early
        return str(m.get(key)).replace("\\", "/").replace('"""', "'''")

    return _TEMPLATE.format(
        algo=doc("algo"), env=doc("env"), run_dir=doc("run_dir"), seed_index=doc("seed_index"),
        checkpoint=doc("checkpoint"), actor_net=doc("actor_net"), activation=doc("activation"),
        tandem_version=doc("tandem_version"), num_params=graph.num_params, weight_bytes=graph.weight_bytes,
        action_doc=action_doc, out_dim=graph.out_dim, out_doc=out_doc, obs_shape=tuple(graph.obs_shape),
        action_kind=graph.action_kind, num_actions=graph.num_actions, action_dim=graph.action_dim,
        low=_floats(graph.action_low), high=_floats(graph.action_high), meta=repr(meta),
        obs_mean=_array(graph.obs_mean), obs_std=_array(graph.obs_std), obs_clip=OBS_CLIP, layers=layers,
        squash=graph.squash, gelu_c=GELU_C, gelu_k=GELU_K)


def render(graph: PolicyGraph, paths: tuple[Path, ...]) -> dict:
    """{path: bytes} of the numpy export: the module at ``paths[0]``."""
    return {paths[0]: source(graph).encode("utf-8")}
