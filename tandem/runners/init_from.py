"""``--init-from RUN_DIR``: start a run from an earlier run's actor and critic (any algorithms, same env).

The earlier run's latest checkpoint is loaded into a template its own manifest rebuilds (no environment is
made). What is carried over, seed k from the earlier run's seed k (or its seed 0 when it has fewer seeds):

- the actor, ``params["actor"]``, which must have the same structure and shapes (same ``--actor-net``,
  ``--activation`` and action head): otherwise the run is refused before anything is compiled or written. An
  actor kept as ``{"net": N}`` alone (behaviour cloning's and IQL's tanh-Gaussian actor, a categorical one) and
  one kept as the network ``N`` itself (SAC's, SAC-RND's) are the same actor: both split N's output into the mean
  and log std of a tanh-Gaussian, so it carries over either way;
- the critic, when one fits: the earlier run's state-value network ``params["value"]`` (IQL's V(s)) or its
  ``params["critic"]``, into ``params["critic"]`` (and the target critic where the learner keeps one). A critic
  that fits nowhere (a Q-network into a V-network) is not carried over, and the run says so;
- the observation statistics, when both runs normalise observations (the actor was trained on normalised
  inputs). When the earlier run normalises and this one does not (TD3 after TD3+BC), the statistics are folded
  into the first layer of every carried network (actor, critic, their targets): with z = (x - mean) / std,
  z W + b = x (W / std) + (b - (mean / std) W), the same function of the raw observation wherever no feature
  lies beyond the normaliser's clip (10 std's). That needs an array observation and networks whose first layer
  reads it (an ``mlp:W,...`` torso, or none); otherwise, and when this run normalises and the earlier one does
  not, the run is refused, as the actor would see other inputs.

Optimizer states, step counters and replay buffers start fresh.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np

from tandem.errors import TandemInputError
from tandem.ops.normalize import OBS_EPS


@dataclasses.dataclass(frozen=True)
class Source:
    """An earlier run's learner state: its config, env spec, learner and state ([K, ...] numpy leaves)."""

    run_dir: Path
    cfg: object
    spec: object
    learner: object
    state: object


def latest_manifest(run_dir: str | Path, checkpoint: str | Path | None = None):
    """(the latest checkpoint, or ``checkpoint`` when given, its manifest, the config and env spec it records),
    or a CheckpointError naming the file."""
    from tandem.config import config_from_dict
    from tandem.envs.spec import EnvSpec
    from tandem.io.checkpoint import CheckpointError, latest_checkpoint, read_manifest

    ckpt = Path(checkpoint) if checkpoint is not None else latest_checkpoint(Path(run_dir) / "checkpoints")
    if ckpt is None:
        raise CheckpointError(f"{Path(run_dir) / 'checkpoints'}: no complete checkpoint to load.")
    manifest = read_manifest(ckpt)
    try:
        cfg = config_from_dict(manifest["config"])
        spec = EnvSpec.from_dict(manifest["env_spec"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{ckpt / 'manifest.json'}: no usable config or env spec ({type(e).__name__}: {e}).") from None
    return ckpt, manifest, cfg, spec


def load_learner_state(run_dir: str | Path, checkpoint: str | Path | None = None) -> Source:
    """The learner state of every seed of a run's latest checkpoint (or of ``checkpoint``, one of its), from the
    checkpoint alone (its manifest's config, env spec and network specs rebuild the networks). A CheckpointError
    names what is missing or damaged."""
    from tandem.algos import get_algo
    from tandem.io.checkpoint import CheckpointError, load_checkpoint

    run_dir = Path(run_dir)
    ckpt, manifest, cfg, spec = latest_manifest(run_dir, checkpoint)
    learner = get_algo(cfg.algo).make_learner(cfg.algo_config, spec, 1)
    if json.loads(json.dumps(learner.network_spec)) != manifest["network_spec"]:
        raise CheckpointError(f"{ckpt / 'manifest.json'}: its network spec {manifest['network_spec']} is not the one "
                              f"its config builds ({learner.network_spec}).")
    shapes = jax.eval_shape(learner.init, jax.random.PRNGKey(0))
    K = cfg.run.num_seeds
    template = jax.tree_util.tree_map(lambda s: np.zeros((K,) + s.shape, s.dtype), shapes)
    state, _ = load_checkpoint(ckpt, template, expect_algo=cfg.algo, subtree=("agent", "learner"))
    return Source(run_dir, cfg, spec, learner, state)


def _fits(mine, theirs, lead: int = 1) -> bool:
    """Same tree structure and leaf shapes (``theirs`` with ``lead`` leading axes: the seeds)."""
    if jax.tree_util.tree_structure(mine) != jax.tree_util.tree_structure(theirs):
        return False
    return all(tuple(a.shape) == tuple(b.shape[lead:]) for a, b in
               zip(jax.tree_util.tree_leaves(mine), jax.tree_util.tree_leaves(theirs)))


def _bare(actor):
    """An actor's network: ``{"net": N}`` alone is N."""
    return actor["net"] if isinstance(actor, dict) and set(actor) == {"net"} else actor


def carried_actor(mine, theirs, lead: int = 1):
    """``theirs`` (an actor's parameters) in the structure of ``mine``, or None when it does not fit."""
    if _fits(mine, theirs, lead):
        return theirs
    if _fits(_bare(mine), _bare(theirs), lead):
        return _bare(theirs) if _bare(mine) is mine else {"net": _bare(theirs)}
    return None


def carried_critic(mine, theirs, lead: int = 1) -> str | None:
    """The key of ``theirs`` (IQL's ``value``, else a ``critic``) whose network fits ``mine["critic"]``, or None."""
    return next((k for k in ("value", "critic") if "critic" in mine and k in theirs
                 and _fits(mine["critic"], theirs[k], lead)), None)


def refuse_actor(what: str, src_cfg, cfg) -> TandemInputError:
    """The error of an actor that does not fit."""
    name = lambda c, f: getattr(c.algo_config, f, "?")   # noqa: E731
    return TandemInputError(
        f"{what}: its actor ({src_cfg.algo}, --actor-net {name(src_cfg, 'actor_net')} --activation "
        f"{name(src_cfg, 'activation')}, distribution {name(src_cfg, 'distribution')}) does not fit this run's "
        f"({cfg.algo}, --actor-net {name(cfg, 'actor_net')} --activation {name(cfg, 'activation')}); allowed: the "
        f"same actor network, activation and action distribution.")


def _normalises(cfg) -> bool:
    return bool(getattr(cfg.algo_config, "normalize_obs", False))


def _first_dense(params, torso: str):
    """(its name, the parameters of a network's first Dense layer) when it reads the flat observation (the head
    under a torso of ``mlp`` alone, the first layer of an ``mlp:W,...`` one), else None. ``params``: the flax tree
    of one network."""
    first = torso.split(">")[0]
    inner = params["params"]
    if torso == "mlp":
        return "head", inner["head"]
    if first.startswith("mlp:"):
        return "MLP_0", inner["MLP_0"]["Dense_0"]
    return None


def foldable(spec, network_spec: dict) -> bool:
    """Whether observation statistics fold into the first layers of a learner's networks (see the module doc)."""
    torsos = [network_spec[k]["torso"] for k in ("actor", "critic") if k in network_spec]
    return not spec.obs_fields and all(t == "mlp" or t.split(">")[0].startswith("mlp:") for t in torsos)


def fold(params, torso: str, mean, std):
    """``params`` of a network trained on (x - mean) / std, as a network of the raw x (the first layer's kernel
    rows of the observation rescaled, its bias shifted; a critic's action rows unchanged). Leaves with leading
    axes (seeds, an ensemble) broadcast: ``mean``, ``std``: [K, obs_dim]."""
    name, dense = _first_dense(params, torso)
    kernel, bias = np.asarray(dense["kernel"], np.float64), np.asarray(dense["bias"], np.float64)
    n = mean.shape[-1]
    shape = (mean.shape[0],) + (1,) * (kernel.ndim - 3) + (n, 1)
    m, sd = np.reshape(mean, shape).astype(np.float64), np.reshape(std, shape).astype(np.float64)
    obs_rows = kernel[..., :n, :]
    new = {"kernel": np.concatenate([obs_rows / sd, kernel[..., n:, :]], axis=-2).astype(np.float32),
           "bias": (bias - np.sum(m / sd * obs_rows, axis=-2)).astype(np.float32)}
    inner = dict(params["params"])
    inner[name] = new if name == "head" else {**inner[name], "Dense_0": new}
    return {**params, "params": inner}


def refuse_normalisation(what: str, src_cfg, cfg, spec, network_spec: dict) -> TandemInputError | None:
    """The error of runs that differ in observation normalisation (None if they do not, or if the statistics
    fold into this run's networks: ``network_spec`` is its learner's)."""
    if _normalises(cfg) == _normalises(src_cfg) or (_normalises(src_cfg) and foldable(spec, network_spec)):
        return None
    if _normalises(src_cfg):
        return TandemInputError(f"{what}: that run normalises observations and this one does not, and its statistics "
                                f"fold only into networks whose first layer reads an array observation; allowed: "
                                f"--normalize-obs, or --actor-net/--critic-net mlp:W,... on an array observation.")
    return TandemInputError(f"{what}: this run normalises observations and that run does not, so the actor would see "
                            f"other inputs; allowed: the same --normalize-obs / --no-normalize-obs as that run.")


def plan(cfg, spec, learner, run_dir: str) -> dict:
    """What carries over from ``run_dir`` into a run of ``cfg`` (its learner built for ``spec``): {"source":
    Source, "critic": the source key or None, "obs_rms": bool, "fold": the NetworkSpec dict when the source's
    observation statistics fold into this run's networks, else None}. TandemInputError when the actor does not fit,
    the envs differ, or observation normalisation differs."""
    from tandem.io.checkpoint import CheckpointError

    try:
        src = load_learner_state(run_dir)
    except CheckpointError as e:
        raise TandemInputError(f"--init-from {run_dir!r}: {e}") from None
    if (src.spec.obs_shape, src.spec.action_kind, src.spec.num_actions, src.spec.action_dim) != \
            (spec.obs_shape, spec.action_kind, spec.num_actions, spec.action_dim):
        raise TandemInputError(f"--init-from {run_dir!r} was trained on {src.spec.id!r}, whose observations or "
                               f"actions are not those of --env {spec.id!r}.")
    mine = jax.eval_shape(learner.init, jax.random.PRNGKey(0))
    theirs = src.state.params
    what = f"--init-from {run_dir!r}"
    if carried_actor(mine.params["actor"], theirs["actor"]) is None:
        raise refuse_actor(what, src.cfg, cfg)
    problem = refuse_normalisation(what, src.cfg, cfg, spec, learner.network_spec)
    if problem:
        raise problem
    folds = _normalises(src.cfg) and not _normalises(cfg)
    return {"source": src, "critic": carried_critic(mine.params, theirs), "obs_rms": _normalises(cfg),
            "fold": learner.network_spec if folds else None}


def transplant(driver, state, carried: dict, seed_count: int):
    """The driver's fresh ``state`` with the planned parts of the source's learner state put in, every seed."""
    src = carried["source"]
    host = jax.tree_util.tree_map(np.asarray, driver.host_state(state))
    learner = host.agent.learner
    pick = lambda x: np.stack([x[k if k < x.shape[0] else 0] for k in range(seed_count)])   # noqa: E731
    theirs = jax.tree_util.tree_map(pick, src.state.params)
    params = {**learner.params, "actor": carried_actor(learner.params["actor"], theirs["actor"], 0)}
    replace = {}
    if carried["critic"] is not None:
        params["critic"] = theirs[carried["critic"]]
    if carried["obs_rms"]:
        replace["obs_rms"] = jax.tree_util.tree_map(pick, src.state.obs_rms)
    if carried["fold"] is not None:   # the source's statistics into the first layers (module doc)
        rms = jax.tree_util.tree_map(pick, src.state.obs_rms)
        mean = np.asarray(rms.mean, np.float64).reshape(seed_count, -1)
        std = np.sqrt(np.asarray(rms.var, np.float64).reshape(seed_count, -1) + OBS_EPS)
        torso = {k: v["torso"] for k, v in carried["fold"].items() if isinstance(v, dict) and "torso" in v}
        actor = params["actor"]
        net = fold(_bare(actor), torso["actor"], mean, std)
        params["actor"] = net if _bare(actor) is actor else {**actor, "net": net}
        if carried["critic"] is not None:
            params["critic"] = fold(params["critic"], torso["critic"], mean, std)
    target = getattr(learner, "target", None)
    if isinstance(target, dict):   # the target networks start as the carried ones (TD3's actor, every critic)
        replace["target"] = {**target, **{k: params[k] for k in ("actor", "critic") if k in target and
                                          (k == "actor" or carried["critic"] is not None)}}
    learner = learner.replace(params=params, **replace)
    return driver.from_host(host.replace(agent=host.agent.replace(learner=learner)))
