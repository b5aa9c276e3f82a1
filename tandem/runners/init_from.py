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
  inputs); one normalising and the other not is refused, as the actor would see other inputs.

Optimizer states, step counters and replay buffers start fresh.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np

from tandem.errors import TandemInputError


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


def refuse_normalisation(what: str, src_cfg, cfg) -> TandemInputError | None:
    """The error of runs that differ in observation normalisation (None if they do not)."""
    if _normalises(cfg) == _normalises(src_cfg):
        return None
    return TandemInputError(f"{what}: {'this run' if _normalises(cfg) else 'that run'} normalises observations and "
                            f"the other does not, so the actor would see other inputs; allowed: the same "
                            f"--normalize-obs / --no-normalize-obs as that run.")


def plan(cfg, spec, learner, run_dir: str) -> dict:
    """What carries over from ``run_dir`` into a run of ``cfg`` (its learner built for ``spec``): {"source":
    Source, "critic": the source key or None, "obs_rms": bool}. TandemInputError when the actor does not fit,
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
    problem = refuse_normalisation(what, src.cfg, cfg)
    if problem:
        raise problem
    return {"source": src, "critic": carried_critic(mine.params, theirs), "obs_rms": _normalises(cfg)}


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
        target = getattr(learner, "target", None)
        if isinstance(target, dict) and "critic" in target:
            replace["target"] = {**target, "critic": params["critic"]}
    if carried["obs_rms"]:
        replace["obs_rms"] = jax.tree_util.tree_map(pick, src.state.obs_rms)
    learner = learner.replace(params=params, **replace)
    return driver.from_host(host.replace(agent=host.agent.replace(learner=learner)))
