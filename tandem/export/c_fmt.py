"""The ``c`` export: ``OUT.h`` and ``OUT.c``, C99 with float32 weights as ``static const`` arrays.

No allocation (two stack buffers of the widest layer, sized at export time) and no header but ``<math.h>``
(link with ``-lm``). The functions, for one observation (``TANDEM_POLICY_OBS_DIM`` floats, flattened
row-major)::

    void tandem_policy_act(const float *obs, float *action);   /* TANDEM_POLICY_ACTION_SIZE floats */
    void tandem_policy_forward(const float *obs, float *out);  /* TANDEM_POLICY_OUT_DIM floats */
    int tandem_policy_act_index(const float *obs);             /* discrete action spaces only */

For a discrete action space ``action[0]`` is the argmax index written as a float (``tandem_policy_act_index``
returns it as an int); for a Box, ``action`` holds the action in the environment's bounds.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tandem.export.extract import GELU_C, GELU_K, PolicyGraph
from tandem.ops.normalize import OBS_CLIP

PER_LINE = 6  # numbers per line of an array initialiser


def c_float(v) -> str:
    """A C float literal that reads back as exactly the float32 ``v`` (shortest round-trip digits)."""
    return np.format_float_scientific(np.float32(v), unique=True) + "f"


def c_double(v) -> str:
    """A C double literal of the finite float ``v`` (Python's round-trip repr)."""
    s = repr(float(v))
    return s if any(c in s for c in ".e") else s + ".0"


def _array(name: str, values, ctype: str = "float", fmt=c_float) -> str:
    flat = np.asarray(values).reshape(-1)
    lines = [", ".join(fmt(v) for v in flat[i:i + PER_LINE]) for i in range(0, max(len(flat), 1), PER_LINE)]
    body = ",\n    ".join(line for line in lines if line) or "0"
    return f"static const {ctype} {name}[{max(len(flat), 1)}] = {{\n    {body}\n}};\n"


_ACTIVATIONS = {
    "tanh": "static float act_tanh(float x) { return tanhf(x); }",
    "relu": "static float act_relu(float x) { return x > 0.0f ? x : 0.0f; }",
    "gelu": ("/* flax's gelu: the tanh approximation */\n"
             f"static float act_gelu(float x) {{ return x * (0.5f * (1.0f + tanhf({c_float(GELU_C)} * "
             f"(x + {c_float(GELU_K)} * (x * x * x))))); }}"),
    "silu": "static float act_silu(float x) { return x * (1.0f / (1.0f + expf(-x))); }",
    "elu": "static float act_elu(float x) { return x > 0.0f ? x : expm1f(x); }",
}


def _guard(stem: str) -> str:
    return "TANDEM_POLICY_" + (re.sub(r"[^A-Za-z0-9]", "_", stem).upper() or "POLICY") + "_H"


def header(graph: PolicyGraph, stem: str) -> str:
    """The header's text: the sizes as macros and the functions' declarations, documented."""
    m = graph.meta
    discrete = graph.action_kind == "discrete"
    if discrete:
        act_doc = (f" * action[0] = the index of the largest of the {graph.num_actions} logits (first on ties), as a\n"
                   f" * float; tandem_policy_act_index returns the same index as an int.")
    else:
        what = "tanh of the mean" if graph.squash == "tanh" else "the Gaussian mean"
        act_doc = (f" * action[0..{graph.action_dim - 1}] = {what}, clipped to [-1, 1] and rescaled to the\n"
                   f" * environment's bounds (unbounded dimensions pass through).")
    norm = (" * The observation is normalised first (the mean and std of training, clipped to +-10).\n"
            if graph.obs_mean is not None else "")
    text = (m.get("run_dir") or "").replace("*/", "* /")
    guard = _guard(stem)
    return f"""/* A tandem policy, exported to C99: {m.get('algo')} on {m.get('env')}.
 * Source: {text} (seed {m.get('seed_index')}, {m.get('checkpoint')}); actor --actor-net {m.get('actor_net')},
 * activation {m.get('activation')}; tandem {m.get('tandem_version')}.
 * {graph.num_params} float32 weights ({graph.weight_bytes} bytes) in {stem}.c; no allocation, only <math.h>
 * (link with -lm).
 *
 * void tandem_policy_act(const float *obs, float *action): the deterministic action for one observation,
 * as tandem.load_policy gives it. obs: TANDEM_POLICY_OBS_DIM floats, the observation of shape
 * {tuple(graph.obs_shape)} flattened in row-major order. Writes TANDEM_POLICY_ACTION_SIZE floats:
{act_doc}
{norm} * void tandem_policy_forward(const float *obs, float *out): the network's TANDEM_POLICY_OUT_DIM outputs
 * ({'logits' if discrete else 'the mean before ' + ('tanh and ' if graph.squash else '') + 'rescaling'}).
 * Thread-safe and reentrant: the functions keep no state.
 */
#ifndef {guard}
#define {guard}

#define TANDEM_POLICY_OBS_DIM {graph.obs_dim}
#define TANDEM_POLICY_ACTION_SIZE {graph.action_size}
#define TANDEM_POLICY_OUT_DIM {graph.out_dim}
#define TANDEM_POLICY_DISCRETE {int(discrete)}
#define TANDEM_POLICY_NUM_ACTIONS {graph.num_actions}
#define TANDEM_POLICY_NUM_PARAMS {graph.num_params}
#define TANDEM_POLICY_WEIGHT_BYTES {graph.weight_bytes}

#ifdef __cplusplus
extern "C" {{
#endif

void tandem_policy_act(const float *obs, float *action);
void tandem_policy_forward(const float *obs, float *out);
{'int tandem_policy_act_index(const float *obs);' if discrete else ''}
#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"""


def source(graph: PolicyGraph, stem: str) -> str:
    """The .c file's text: the weights, the forward pass and the action functions."""
    width = graph.max_width
    parts = [f"/* Generated by tandem export; see {stem}.h. */\n#include <math.h>\n\n#include \"{stem}.h\"\n\n"
             f"#define MAX_WIDTH {width}\n\n"]
    norm = graph.obs_mean is not None
    if norm:
        parts += [_array("obs_mean", graph.obs_mean), _array("obs_std", graph.obs_std), "\n"]
    for i, layer in enumerate(graph.layers):
        n_in, n_out = layer.kernel.shape
        parts.append(f"/* layer {i}: {n_in} -> {n_out}, {layer.activation or 'linear (the head)'}; "
                     f"weights [out][in] */\n")
        parts += [_array(f"w{i}", layer.kernel.T), _array(f"b{i}", layer.bias), "\n"]
    for name in sorted({layer.activation for layer in graph.layers if layer.activation}):
        parts.append(_ACTIVATIONS[name] + "\n")
    parts.append("""
/* y[j] = sum_i w[j][i] x[i] + b[j], then the activation (none: NULL) */
static void dense(const float *x, int n_in, const float *w, const float *b, int n_out, float *y,
                  float (*activation)(float)) {
    int i, j;
    for (j = 0; j < n_out; ++j) {
        const float *row = w + (long)j * n_in;
        float acc = 0.0f;
        for (i = 0; i < n_in; ++i) {
            acc += row[i] * x[i];
        }
        acc += b[j];
        y[j] = activation ? activation(acc) : acc;
    }
}

void tandem_policy_forward(const float *obs, float *out) {
    float a[MAX_WIDTH], b[MAX_WIDTH];
    int i;
    for (i = 0; i < TANDEM_POLICY_OBS_DIM; ++i) {
""")
    if norm:
        parts.append(f"""        float z = (obs[i] - obs_mean[i]) / obs_std[i];
        a[i] = z < -{c_float(OBS_CLIP)} ? -{c_float(OBS_CLIP)} : (z > {c_float(OBS_CLIP)} ? {c_float(OBS_CLIP)} : z);
""")
    else:
        parts.append("        a[i] = obs[i];\n")
    parts.append("    }\n")
    bufs = ("a", "b")
    for i, layer in enumerate(graph.layers):
        n_in, n_out = layer.kernel.shape
        src = bufs[i % 2]
        dst = "out" if i == len(graph.layers) - 1 else bufs[(i + 1) % 2]
        fn = f"act_{layer.activation}" if layer.activation else "0"
        parts.append(f"    dense({src}, {n_in}, w{i}, b{i}, {n_out}, {dst}, {fn});\n")
    parts.append("    (void)b;\n}\n\n")
    if graph.action_kind == "discrete":
        parts.append("""int tandem_policy_act_index(const float *obs) {
    float out[TANDEM_POLICY_OUT_DIM];
    int k, best = 0;
    tandem_policy_forward(obs, out);
    for (k = 1; k < TANDEM_POLICY_OUT_DIM; ++k) {
        if (out[k] > out[best]) {
            best = k;
        }
    }
    return best;
}

void tandem_policy_act(const float *obs, float *action) {
    action[0] = (float)tandem_policy_act_index(obs);
}
""")
    else:
        bounded = graph.bounded
        low = np.where(bounded, graph.action_low, -1.0)
        high = np.where(bounded, graph.action_high, 1.0)
        parts += [_array("action_low", low, "double", c_double), _array("action_high", high, "double", c_double),
                  _array("action_bounded", bounded.astype(int), "int", lambda v: str(int(v)))]
        squash = "tanhf(out[d])" if graph.squash == "tanh" else "out[d]"
        parts.append(f"""
void tandem_policy_act(const float *obs, float *action) {{
    float out[TANDEM_POLICY_OUT_DIM];
    int d;
    tandem_policy_forward(obs, out);
    for (d = 0; d < TANDEM_POLICY_ACTION_SIZE; ++d) {{
        float a = {squash};
        if (action_bounded[d]) {{
            /* in double, as tandem rescales on the host: no rounding past a bound */
            double c = a < -1.0f ? -1.0 : (a > 1.0f ? 1.0 : (double)a);
            double s = action_low[d] + (c + 1.0) * 0.5 * (action_high[d] - action_low[d]);
            s = s < action_low[d] ? action_low[d] : (s > action_high[d] ? action_high[d] : s);
            action[d] = (float)s;
        }} else {{
            action[d] = a;
        }}
    }}
}}
""")
    return "".join(parts)


def render(graph: PolicyGraph, paths: tuple[Path, ...]) -> dict:
    """{path: bytes} of the C export: the header at ``paths[0]`` (OUT.h) and the source at ``paths[1]`` (OUT.c)."""
    h, c = paths
    stem = h.stem
    return {h: header(graph, stem).encode("utf-8"), c: source(graph, stem).encode("utf-8")}
