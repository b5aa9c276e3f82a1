"""``tandem collect``: record episodes of a policy into a Minari dataset.

The policy is an environment's handcrafted one (``tandem:`` envs that have one), ``random`` (uniform actions),
or a run directory (its latest checkpoint's deterministic policy, api.load_policy). Episode ``k`` is reset with
seed :func:`~tandem.envs.gymnasium_host.episode_seed` (seed, k) and the random policy draws from ``seed``, so a
collection is reproducible exactly. The dataset is written through Minari's own ``DataCollector`` into a
staging directory beside ``--out`` and moved there whole when complete: an interrupted collection leaves no
partial dataset at ``--out``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from tandem.buffers.dataset import TANDEM_ENV_KEY
from tandem.errors import TandemInputError

POLICIES = "handcrafted, random, or a run directory"


def _policy(kind: str, env_id: str, env, seed: int):
    """obs -> action for the environment's own action space, and a name for the dataset's metadata."""
    if kind == "random":
        space = env.action_space
        space.seed(seed)
        return (lambda obs: space.sample()), "random"
    if kind == "handcrafted":
        from tandem.envs import own

        if not env_id.startswith(own.PREFIX):
            raise TandemInputError(f"--policy handcrafted: only tandem's own environments have one; {env_id!r} does "
                                   f"not. Allowed: {POLICIES}.")
        return own.handcrafted(env_id), "handcrafted"
    run_dir = Path(kind)
    if not (run_dir / "config.json").is_file():
        raise TandemInputError(f"--policy {kind!r}: not {POLICIES} (no config.json there).")
    from tandem.api import load_policy
    from tandem.envs.gymnasium_host import gymnasium_spec

    policy = load_policy(run_dir)
    mine, theirs = gymnasium_spec(env_id), policy.spec
    if (mine.obs_shape, mine.action_kind, mine.num_actions, mine.action_dim) != \
            (theirs.obs_shape, theirs.action_kind, theirs.num_actions, theirs.action_dim):
        raise TandemInputError(f"--policy {kind!r} was trained on {theirs.id!r}, whose spaces are not those of "
                               f"--env {env_id!r}.")
    discrete = mine.action_kind == "discrete"
    return (lambda obs: int(policy(obs)) if discrete else np.asarray(policy(obs), np.float32)), f"tandem:{run_dir.name}"


def dataset_id_for(env_id: str, policy_name: str) -> str:
    """A Minari dataset ID for a collection: ``ENV/POLICY-v0`` with characters Minari refuses replaced."""
    clean = lambda s: re.sub(r"[^A-Za-z0-9_-]+", "-", s).strip("-")   # noqa: E731
    return f"{clean(env_id)}/{clean(policy_name)}-v0"


def collect(env_id: str, policy: str, episodes: int, out: str | Path, seed: int = 0,
            dataset_id: str | None = None) -> dict:
    """Record ``episodes`` episodes of ``policy`` on ``env_id`` as a Minari dataset at ``out`` (which must not
    exist). Returns what was recorded: episodes, steps, mean return and, where the env reports it, success rate."""
    from tandem.envs.gymnasium_host import episode_seed, make_single

    out = Path(out)
    if episodes < 1:
        raise TandemInputError(f"--episodes {episodes} is out of range: allowed an integer >= 1.")
    if out.exists():
        raise TandemInputError(f"--out {str(out)!r} exists; a dataset is written to a new directory.")
    try:
        import minari
    except ImportError:
        raise TandemInputError("tandem collect needs Minari: pip install 'tandem-rl[offline]'.") from None
    env = make_single(env_id)
    act, name = _policy(policy, env_id, env, seed)
    dataset_id = dataset_id or dataset_id_for(env_id, name)
    from minari.dataset.minari_dataset import parse_dataset_id

    try:
        parse_dataset_id(dataset_id)
    except ValueError as e:
        raise TandemInputError(f"--dataset-id {dataset_id!r}: {e}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".collect-", dir=out.parent))
    returns, successes = [], []
    previous = os.environ.get("MINARI_DATASETS_PATH")
    try:
        collector = minari.DataCollector(env, record_infos=False)
        for k in range(episodes):
            obs, _ = collector.reset(seed=episode_seed(seed, k))
            total = 0.0
            while True:
                obs, reward, terminated, truncated, info = collector.step(act(obs))
                total += float(reward)
                if terminated or truncated:
                    break
            returns.append(total)
            if "success" in info:
                successes.append(bool(info["success"]))
        os.environ["MINARI_DATASETS_PATH"] = str(stage)
        with warnings.catch_warnings():   # Minari warns of the metadata left out (a code permalink, a reference score)
            warnings.simplefilter("ignore", UserWarning)
            ds = collector.create_dataset(dataset_id, algorithm_name=name, author={"tandem collect"},
                                          description=f"{episodes} episodes of {name} on {env_id}, seed {seed}")
        ds.storage.update_metadata({TANDEM_ENV_KEY: env_id, "tandem_seed": int(seed)})
        steps = int(ds.total_steps)
        collector.close()
        os.replace(stage / dataset_id, out)
    finally:
        if previous is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous
        shutil.rmtree(stage, ignore_errors=True)
    report = {"out": str(out), "dataset_id": dataset_id, "env": env_id, "policy": name, "episodes": episodes,
              "steps": steps, "mean_return": float(np.mean(returns))}
    if successes:
        report["success_rate"] = float(np.mean(successes))
    return report
