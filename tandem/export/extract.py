"""A trained policy as plain numpy data: the layers of its actor and what comes before and after them.

Every export format renders the same :class:`PolicyGraph`, so they compute the same function as
``tandem.load_policy(run_dir)(obs)`` (``learner.policy`` then ``Policy``'s rescaling):

1. the observation, cast to float32 and flattened (row-major) to ``obs_dim`` numbers;
2. with observation normalisation (on-policy ``--normalize-obs``): ``clip((x - mean) / std, -10, 10)``, with
   ``std = sqrt(var + 1e-8)`` computed in float32 from the checkpoint's running statistics (ops/normalize.py);
3. the actor's ``mlp`` layers ``x <- act(x @ kernel + bias)`` (flax's Dense: kernel ``[in, out]``), then the
   linear head; only the head outputs the deterministic action reads are kept (SAC's mean, not its log std);
4. the action: the argmax of the logits (discrete, first index on ties); else the mean, squashed by ``tanh``
   for SAC/TD3/DDPG (and TD3+BC, SAC-RND, and behaviour cloning's or IQL's tanh-Gaussian), then, per
   dimension with finite bounds, ``clip(low + (clip(a, -1, 1) + 1) / 2 * (high - low), low, high)``
   (envs/spec.py ``rescale_action``; unbounded dimensions pass through). PPO's Gaussian mean is the action with or without gSDE, whose noise weights never enter the deterministic policy; a
   Gaussian BC or IQL actor's mean too (IQL clips it to [-1, 1], as the rescaling does).

Activations are flax's: ``gelu`` is its default tanh approximation ``x * 0.5 * (1 + tanh(sqrt(2/pi) * (x +
0.044715 x^3)))``, ``silu`` is ``x * sigmoid(x)``, ``elu`` has alpha 1.

Counted and reported: ``num_params``, the float32 numbers the export embeds (layers kept, plus the
normalisation's mean and std, ``2 x obs_dim``, when used), and ``weight_bytes = 4 x num_params``.
``actor_params`` is the checkpoint's actor count as ``tandem search`` reports it (all of
``params["actor"]``, so PPO's log std and SAC's log-std head too).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tandem.errors import TandemInputError, TandemRuntimeError
from tandem.ops.normalize import OBS_EPS

ON_POLICY = ("ppo", "a2c", "impala", "a3c")
OFF_POLICY = ("sac", "td3", "ddpg", "td3bc", "sacrnd")
OFFLINE_ACTORS = ("bc", "iql")
"""Learners whose actor is ``{"net": ...}`` (and ``log_std`` when Gaussian): tanh-squashed when tanh-Gaussian."""
SUPPORTED_ALGOS = ON_POLICY + OFF_POLICY + OFFLINE_ACTORS
ALLOWED_BLOCKS = ("mlp",)
GELU_C = float(np.sqrt(2 / np.pi).astype(np.float32))  # as jax.nn.gelu: sqrt(2/pi) rounded to float32
GELU_K = 0.044715


@dataclasses.dataclass(frozen=True)
class Layer:
    """One dense layer: ``y = activation(x @ kernel + bias)``; kernel [in, out] and bias [out] float32;
    ``activation`` one of nets.spec.ACTIVATIONS, or None (the head)."""

    kernel: np.ndarray
    bias: np.ndarray
    activation: str | None


@dataclasses.dataclass(frozen=True)
class PolicyGraph:
    """A deterministic policy as plain data (see the module docstring for the function it computes).

    obs_shape: one observation's shape; obs_mean / obs_std: [obs_dim] float32, or None without normalisation;
    layers: the torso's layers, then the head; squash: "tanh" (SAC/TD3/DDPG) or None; action_kind: "discrete"
    or "continuous"; num_actions (discrete) / action_dim (continuous); action_low / action_high: [action_dim]
    float64, the env's bounds (inf where unbounded); actor_params: the checkpoint's actor count; meta: where
    it came from (algo, env, run_dir, seed_index, actor_net, activation, tandem_version).
    """

    obs_shape: tuple[int, ...]
    obs_mean: np.ndarray | None
    obs_std: np.ndarray | None
    layers: tuple[Layer, ...]
    squash: str | None
    action_kind: str
    num_actions: int
    action_dim: int
    action_low: np.ndarray
    action_high: np.ndarray
    actor_params: int
    meta: dict

    @property
    def obs_dim(self) -> int:
        """Numbers in one flattened observation."""
        return int(math.prod(self.obs_shape))

    @property
    def out_dim(self) -> int:
        """Outputs of the head: logits (discrete) or the pre-squash mean (continuous)."""
        return int(self.layers[-1].bias.shape[0])

    @property
    def action_size(self) -> int:
        """Numbers in one action as the C function writes it: 1 (the index) for discrete, action_dim otherwise."""
        return 1 if self.action_kind == "discrete" else self.action_dim

    @property
    def bounded(self) -> np.ndarray:
        """[action_dim] bool: the dimensions with finite low and high, rescaled from [-1, 1]."""
        return np.isfinite(self.action_low) & np.isfinite(self.action_high)

    @property
    def num_params(self) -> int:
        """float32 numbers an export embeds: every layer's kernel and bias, the normalisation's mean and std."""
        n = sum(layer.kernel.size + layer.bias.size for layer in self.layers)
        return int(n + (0 if self.obs_mean is None else self.obs_mean.size + self.obs_std.size))

    @property
    def weight_bytes(self) -> int:
        """Bytes of the embedded float32 numbers: 4 x num_params."""
        return 4 * self.num_params

    @property
    def max_width(self) -> int:
        """The widest vector the forward pass holds (observation, hidden layers, head): the C buffers' size."""
        return int(max([self.obs_dim] + [layer.bias.shape[0] for layer in self.layers]))

    def arrays(self):
        """Every embedded array, in the order the formats write them: ``[(name, float32 array)]``."""
        out = []
        if self.obs_mean is not None:
            out += [("obs_mean", self.obs_mean), ("obs_std", self.obs_std)]
        for i, layer in enumerate(self.layers):
            out += [(f"kernel_{i}", layer.kernel), (f"bias_{i}", layer.bias)]
        return out


def unsupported(what: str, fmt: str, allowed: str) -> TandemInputError:
    """The error for something a format cannot express, naming it and what is allowed."""
    return TandemInputError(f"{what} cannot be exported to {fmt}; allowed: {allowed}.")


def check_config(cfg, fmt: str) -> None:
    """Raise TandemInputError when a run's config (config.json, before any weight is read) asks for something
    ``fmt`` cannot express: an algorithm outside SUPPORTED_ALGOS, an actor with a block other than ``mlp`` or
    with an inputs section (a structured observation)."""
    from tandem.nets.spec import parse_spec

    if cfg.algo not in SUPPORTED_ALGOS:
        raise unsupported(f"algorithm {cfg.algo!r}", fmt, ", ".join(SUPPORTED_ALGOS))
    text = cfg.algo_config.actor_net
    inputs, torso = parse_spec(text, "--actor-net")
    check_torso(text, inputs, torso, fmt)


def check_torso(text: str, inputs, torso, fmt: str) -> None:
    """TandemInputError for an inputs section or a block outside ALLOWED_BLOCKS in the actor spec ``text``."""
    if inputs:
        raise unsupported(f"the inputs section {text.partition('|')[0]!r} (a structured observation) of --actor-net "
                          f"{text!r}", fmt, "an array observation and an actor of mlp blocks, e.g. mlp:64,64")
    for block in torso:
        if block.name not in ALLOWED_BLOCKS:
            raise unsupported(f"block {block.name!r} in --actor-net {text!r}", fmt, ", ".join(ALLOWED_BLOCKS))
        if "ln" in block.args:
            raise unsupported(f"layer norm ({block.to_string()!r}) in --actor-net {text!r}", fmt,
                              "mlp blocks without ln")


def check_env_spec(spec, fmt: str) -> None:
    """TandemInputError for an observation a format cannot take: a structured (dict) one, an action mask."""
    if spec.obs_fields:
        names = [n for n, _, _ in spec.obs_fields]
        what = (f"the action_mask of {spec.id!r}" if spec.has_action_mask else
                f"the structured (dict) observation of {spec.id!r}")
        raise unsupported(f"{what} (fields {', '.join(names)})", fmt, "environments with one array observation")
    if spec.action_kind not in ("discrete", "continuous"):
        raise unsupported(f"action kind {spec.action_kind!r}", fmt, "discrete, continuous")


def _f32(x, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        raise TandemRuntimeError(f"export: the checkpoint's {what} holds NaN or infinite values; a policy with "
                                 f"non-finite parameters is not exported (nothing was written).")
    return a


def mlp_layers(actor_spec, net_params, out_keep: int | None = None, fmt: str = "this format") -> tuple[Layer, ...]:
    """The layers of an actor network (nets/spec.py ``network``: blocks ``MLP_<i>`` of ``Dense_<j>``, then
    ``head``) from its flax parameters ``{"params": ...}``; the head cut to its first ``out_keep`` outputs."""
    check_torso(actor_spec.to_string(), actor_spec.inputs, actor_spec.torso, fmt)
    p = net_params["params"] if "params" in net_params else net_params
    layers = []
    for i, block in enumerate(actor_spec.torso):
        dense = p.get(f"MLP_{i}", {})
        if len(dense) != len(block.args):
            raise TandemRuntimeError(f"export: the checkpoint's actor block {i} ({block.to_string()}) has "
                                     f"{len(dense)} dense layers, its spec {len(block.args)}.")
        for j, width in enumerate(block.args):
            d = dense[f"Dense_{j}"]
            kernel, bias = _f32(d["kernel"], f"MLP_{i}/Dense_{j}/kernel"), _f32(d["bias"], f"MLP_{i}/Dense_{j}/bias")
            if kernel.shape[1:] != (width,) or bias.shape != (width,):
                raise TandemRuntimeError(f"export: MLP_{i}/Dense_{j} has kernel {kernel.shape}, bias {bias.shape}; "
                                         f"its spec says width {width}.")
            layers.append(Layer(kernel, bias, actor_spec.activation))
    kernel, bias = _f32(p["head"]["kernel"], "head/kernel"), _f32(p["head"]["bias"], "head/bias")
    if out_keep is not None:
        kernel, bias = kernel[:, :out_keep], bias[:out_keep]
    layers.append(Layer(np.ascontiguousarray(kernel), np.ascontiguousarray(bias), None))
    for a, b in zip(layers, layers[1:]):
        if a.kernel.shape[1] != b.kernel.shape[0]:
            raise TandemRuntimeError(f"export: layer widths do not chain ({a.kernel.shape} then {b.kernel.shape}).")
    return tuple(layers)


def graph_from_state(algo: str, algo_cfg, spec, actor_spec, state, meta: dict | None = None,
                     fmt: str = "this format") -> PolicyGraph:
    """The PolicyGraph of one seed's learner state (an on-policy AgentState or an off-policy OffPolicyState,
    as ``load_policy`` loads it) for ``algo`` with config ``algo_cfg`` on env ``spec``; ``actor_spec`` is the
    actor's NetworkSpec (the checkpoint manifest's)."""
    from tandem.nets.spec import num_params

    if algo not in SUPPORTED_ALGOS:
        raise unsupported(f"algorithm {algo!r}", fmt, ", ".join(SUPPORTED_ALGOS))
    check_env_spec(spec, fmt)
    on_policy = algo in ON_POLICY
    discrete = spec.action_kind == "discrete"
    net_params = state.params["actor"]["net"] if algo in ON_POLICY + OFFLINE_ACTORS else state.params["actor"]
    keep = spec.num_actions if discrete else spec.action_dim  # SAC's head: [mean, log_std]; the mean only
    layers = mlp_layers(actor_spec, net_params, keep, fmt)
    obs_dim = int(math.prod(spec.obs_shape))
    if layers[0].kernel.shape[0] != obs_dim:
        raise TandemRuntimeError(f"export: the actor's first layer takes {layers[0].kernel.shape[0]} inputs, the "
                                 f"observation has {obs_dim} ({spec.obs_shape}).")
    mean = std = None
    if getattr(algo_cfg, "normalize_obs", False):   # on-policy running statistics, TD3+BC's dataset ones
        rms = state.obs_rms
        mean = _f32(rms.mean, "obs_rms.mean").reshape(-1)
        var = _f32(rms.var, "obs_rms.var").reshape(-1)
        std = np.sqrt(var + np.float32(OBS_EPS)).astype(np.float32)  # as rms_normalize, in float32
    if discrete:
        low = high = np.zeros((0,), np.float64)
    else:
        low, high = np.asarray(spec.action_low, np.float64), np.asarray(spec.action_high, np.float64)
    return PolicyGraph(
        obs_shape=tuple(int(s) for s in spec.obs_shape), obs_mean=mean, obs_std=std, layers=layers,
        squash=None if (on_policy or discrete or _gaussian(algo, algo_cfg, spec)) else "tanh",
        action_kind=spec.action_kind,
        num_actions=int(spec.num_actions) if discrete else 0, action_dim=0 if discrete else int(spec.action_dim),
        action_low=low, action_high=high, actor_params=num_params(state.params["actor"]), meta=dict(meta or {}))


def _gaussian(algo: str, algo_cfg, spec) -> bool:
    """Whether an offline actor (bc, iql) is a Gaussian (its mean the action) rather than a tanh-Gaussian."""
    if algo == "bc":
        from tandem.algos.bc.learner import resolve_distribution

        return resolve_distribution(algo_cfg.distribution, spec) == "gaussian"
    return algo == "iql" and algo_cfg.distribution == "gaussian"
