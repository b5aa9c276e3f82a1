"""The Python door: ``train``, ``resume``, ``evaluate``, ``load_policy``. The CLI calls these too."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Any, NamedTuple

from tandem.config import RunConfig, TrainConfig, config_from_dict
from tandem.errors import TandemInputError

RENAMED = {"actor_hidden": "actor_net", "critic_hidden": "critic_net"}
"""Options replaced by others: --actor-hidden 64 64 is now --actor-net mlp:64,64 (a network spec)."""


class TrainResult(NamedTuple):
    summary: dict
    policy: Any  # Policy: obs -> action in the env's own action space
    run_dir: Path


def resolve_config(algo: str, env: str | None = None, **overrides) -> TrainConfig:
    """Preset for (algo, env) with overrides applied; every key and value checked before anything runs.
    ``env`` defaults to the algorithm's default environment (CartPole-v1 for PPO/A2C, Pendulum-v1 for
    DDPG/TD3/SAC)."""
    import difflib

    from tandem.algos import get_algo, preset
    from tandem.fields import coerce

    algo_entry = get_algo(algo)
    renamed = sorted(set(overrides) & set(RENAMED))
    if renamed:
        raise TandemInputError("; ".join(f"{k!r} was replaced by {RENAMED[k]!r}, a network spec: e.g. "
                                         f"{RENAMED[k]}='mlp:64,64' for two hidden layers of 64" for k in renamed) + ".")
    env = algo_entry.default_env if env is None else coerce(RunConfig, "env", env)
    run_fields = {f.name for f in dataclasses.fields(RunConfig)}
    algo_fields = {f.name for f in dataclasses.fields(algo_entry.config_cls)}
    unknown = sorted(set(overrides) - run_fields - algo_fields)
    if unknown:
        close = {k: difflib.get_close_matches(k, sorted(run_fields | algo_fields), n=1) for k in unknown}
        hint = "".join(f" {k!r}: did you mean {m[0]!r}?" for k, m in close.items() if m)
        raise TandemInputError(f"unknown option(s) {unknown} for {algo}.{hint} Allowed: "
                               f"{sorted(run_fields | algo_fields)}.")
    algo_cfg, total = preset(algo, env)
    run_kw = _check_types(RunConfig, {"env": env, "total_steps": total,
                                      **{k: v for k, v in overrides.items() if k in run_fields}})
    algo_kw = _check_types(algo_entry.config_cls, {k: v for k, v in overrides.items() if k in algo_fields})
    cfg = TrainConfig(algo, RunConfig(**run_kw), dataclasses.replace(algo_cfg, **algo_kw))
    cfg.validate()
    return cfg


def _check_types(cls, values: dict) -> dict:
    """Reject wrong types from Python callers (the CLI's parser already enforces them), naming the field
    as its flag; returns the values as the fields' types (numpy scalars -> Python, list -> tuple, path -> str)."""
    from tandem.fields import coerce

    return {k: coerce(cls, k, v) for k, v in values.items()}


def default_run_dir(cfg: TrainConfig) -> Path:
    """runs/<algo>-<env>-<time>, the env ID made safe for a path."""
    env = re.sub(r"[^A-Za-z0-9_.-]+", "_", cfg.run.env)
    return Path("runs") / f"{cfg.algo}-{env}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_run_dir(cfg: TrainConfig) -> Path:
    """Check the run directory can be used (before anything is written)."""
    run_dir = Path(cfg.run.run_dir) if cfg.run.run_dir else default_run_dir(cfg)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise TandemInputError(f"--run-dir {str(run_dir)!r} exists and is not empty; allowed: a new or empty "
                               f"directory (use --resume {str(run_dir)!r} to continue that run).")
    return run_dir


def run(cfg: TrainConfig) -> TrainResult:
    """Train a validated config in a new run directory (in stages with --pretrain/--offline: tandem/pipeline.py)."""
    from tandem.envs import env_spec
    from tandem.pipeline import is_pipeline, run_pipeline

    spec = env_spec(cfg.run.env)
    run_dir = prepare_run_dir(cfg)
    if is_pipeline(cfg):
        return run_pipeline(cfg, run_dir)
    from tandem.runners.build import preflight
    from tandem.runners.loop import run_training

    preflight(cfg, spec)
    initial_state = None
    if cfg.run.init_from is not None:  # the earlier run's networks must fit: checked before anything is written
        from tandem.runners.build import make_learner
        from tandem.runners.init_from import plan, transplant
        from tandem.runners.schedule import schedule

        carried = plan(cfg, spec, make_learner(cfg, spec, schedule(cfg)), cfg.run.init_from)

        def start_from_earlier_run(driver):
            return transplant(driver, driver.init(cfg.run.seed), carried, cfg.run.num_seeds)

        initial_state = start_from_earlier_run
    if cfg.run.prefill is not None:   # the dataset's transitions in the replay buffer (runners/prefill.py)
        from tandem.runners.prefill import prefill, prefill_rows

        rows, start = prefill_rows(cfg, spec), initial_state

        def start_with_dataset(driver):
            return prefill(driver, driver.init(cfg.run.seed) if start is None else start(driver), rows)

        initial_state = start_with_dataset
    cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, run_dir=str(run_dir)))
    summary, driver, state, agent = run_training(cfg, run_dir, spec, initial_state=initial_state, write_config=True)
    try:
        return TrainResult(summary, _policy_from(driver, state, agent.learner, spec, 0), run_dir)
    finally:
        driver.close()


def train(algo: str = "ppo", env: str | None = None, **overrides) -> TrainResult:
    """Train ``algo`` on ``env``. Overrides are RunConfig fields (total_steps, seed, num_seeds,
    target_return, run_dir, ...) or algorithm fields (lr, gamma, ...). Returns (summary, policy, run_dir).
    ``quiet`` defaults to True here (no progress bar)."""
    overrides.setdefault("quiet", True)
    return run(resolve_config(algo, env, **overrides))


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The validated config of a run directory (config.json), or a TandemInputError naming the file."""
    from tandem.io.run_dir import run_file

    path = run_file(run_dir, "config.json")
    try:
        cfg = config_from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise TandemInputError(f"{path}: not a valid tandem config ({type(e).__name__}: {e}).") from None
    cfg.validate()
    return cfg


def resume(run_dir: str | Path, quiet: bool | None = None) -> TrainResult:
    """Continue the run in ``run_dir`` from its latest checkpoint up to its configured total."""
    from tandem.envs import env_spec

    from tandem.pipeline import is_pipeline, run_pipeline

    cfg = load_run_config(run_dir)
    if is_pipeline(cfg):
        return run_pipeline(cfg, Path(run_dir), resume=True, quiet=quiet)
    if quiet is not None:
        cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, quiet=quiet))
    spec = env_spec(cfg.run.env)
    from tandem.runners.build import preflight
    from tandem.runners.loop import run_training

    preflight(cfg, spec)
    summary, driver, state, agent = run_training(cfg, Path(run_dir), spec, resume=True)
    try:
        return TrainResult(summary, _policy_from(driver, state, agent.learner, spec, 0), Path(run_dir))
    finally:
        driver.close()


def _load_final(run_dir: Path):
    """Rebuild the driver of a run and load its latest checkpoint into it. Returns (cfg, spec, driver, state)."""
    from tandem.envs import env_spec

    cfg = load_run_config(run_dir)
    spec = env_spec(cfg.run.env)

    from tandem.io.checkpoint import CheckpointError, latest_checkpoint
    from tandem.runners.build import build
    from tandem.runners.checkpointing import load_run_checkpoint

    _, driver, _ = build(cfg, spec)
    ckpt = latest_checkpoint(run_dir / "checkpoints")
    if ckpt is None:
        raise CheckpointError(f"{run_dir / 'checkpoints'}: no complete checkpoint to load.")
    loaded, _, _ = load_run_checkpoint(cfg, driver, ckpt, envs=False)  # evaluation needs only the state
    return cfg, spec, driver, driver.from_host(loaded)


def evaluate(run_dir: str | Path, episodes: int = 10, video: str | Path | None = None) -> dict:
    """Deterministic evaluation of a run's latest checkpoint: mean and std of the return per seed and overall.
    ``video``: also write one episode of seed 0's policy there (io/video.py: MP4, or a PNG strip where video
    encoding is unavailable or the path ends in .png); the JSON then names the file written and its return."""
    if episodes < 1:
        raise TandemInputError(f"--episodes {episodes} is out of range: allowed an integer >= 1.")
    if video is not None:
        from tandem.envs import env_spec
        from tandem.io import video as vid

        cfg0 = load_run_config(Path(run_dir))
        vid.check_renders(cfg0.run.env, env_spec(cfg0.run.env).backend)
    cfg, spec, driver, state = _load_final(Path(run_dir))
    try:
        returns = driver.evaluate(state, episodes, cfg.run.seed)
    finally:
        driver.close()
    out = {"run_dir": str(run_dir), "algo": cfg.algo, "env": cfg.run.env, "episodes": episodes,
           "mean": float(returns.mean()), "std": float(returns.std()),
           "mean_per_seed": returns.mean(axis=1).tolist(), "returns": returns.tolist()}
    if video is not None:
        frames, ret = vid.record_episode(load_policy(run_dir), spec, seed=cfg.run.seed)
        out.update(video=str(vid.write(frames, video)), video_return=ret, video_frames=len(frames))
    return out


class Policy:
    """A trained policy for one seed: ``policy(obs) -> action`` in the environment's own action space.

    Accepts one observation or a batch; deterministic (argmax / Gaussian mean). A recurrent policy keeps
    its state between calls through :meth:`step` (``initial_carry`` starts it); ``policy(obs)`` starts
    from a fresh carry each call.
    """

    def __init__(self, learner, learner_state, spec):
        import jax

        self.spec, self._state, self._learner = spec, learner_state, learner
        self._fn = jax.jit(learner.policy)

    def initial_carry(self, batch: int = 1):
        """The policy's starting state for ``batch`` observations ({} when it has none)."""
        return self._learner.init_carry(batch)

    def step(self, obs, carry):
        """(action, carry) for a batch of observations [B, *obs_shape] (a dict of those for a structured
        observation) and the carry of the previous step."""
        import numpy as np

        from tandem.envs.spec import rescale_action

        obs, _ = self._check(obs, batch_only=True)
        action, carry = self._fn(self._state, obs, carry)
        return rescale_action(self.spec, np.asarray(action)), carry

    def _check(self, obs, batch_only: bool = False):
        """(observations as arrays of the spec's dtypes, whether it was a single one), or a TandemInputError."""
        from tandem.envs.spec import obs_cast, obs_map

        spec = self.spec
        if spec.obs_fields:
            names = [n for n, _, _ in spec.obs_fields]
            if not isinstance(obs, dict) or sorted(obs) != sorted(names):
                got = sorted(obs) if isinstance(obs, dict) else type(obs).__name__
                raise TandemInputError(f"policy: observation {got} does not match expected a dict with fields "
                                       f"{names} for {spec.id!r}.")
        obs = obs_cast(spec, obs)
        leads = []

        def lead(s, x):
            ok = x.shape[1:] == s.shape or (not batch_only and x.shape == s.shape)
            if not ok:
                raise TandemInputError(f"policy: observation shape {x.shape} does not match expected {s.shape} "
                                       f"(one observation) or (B,) + {s.shape} (a batch) for {spec.id!r}"
                                       + (f" ({spec.describe_obs()})." if spec.obs_fields else "."))
            leads.append(x.shape[: x.ndim - len(s.shape)])

        obs_map(lead, spec, obs)
        if len(set(leads)) > 1:
            raise TandemInputError(f"policy: observation fields have different batch sizes {sorted(set(leads))}.")
        return obs, leads[0] == ()

    def __call__(self, obs):
        import jax

        from tandem.envs.spec import obs_map

        obs, single = self._check(obs)
        batch = obs_map(lambda s, x: x[None], self.spec, obs) if single else obs
        action, _ = self.step(batch, self.initial_carry(jax.tree_util.tree_leaves(batch)[0].shape[0]))
        return action[0] if single else action


def _policy_from(driver, state, learner, spec, seed_index: int) -> Policy:
    import jax

    agent = jax.tree_util.tree_map(lambda x: x[seed_index], driver.agent(state))
    return Policy(learner, agent.learner, spec)


def latest_manifest(run_dir: Path):
    """(the latest checkpoint, its manifest, the config and env spec it records), or a CheckpointError naming the
    file: what rebuilds a policy without the run's environment (runners/init_from.py)."""
    from tandem.runners.init_from import latest_manifest as latest

    return latest(run_dir)


def load_policy(run_dir: str | Path, seed_index: int = 0, checkpoint: str | Path | None = None) -> Policy:
    """The deterministic policy of seed ``seed_index`` of a run, from its latest checkpoint (or ``checkpoint``,
    a directory under its checkpoints/) alone: the manifest's config, env spec and network specs rebuild the
    networks, the parameters are loaded into them. No
    environment or driver is built (the environment's package need not even be importable)."""
    import jax

    from tandem.io.run_dir import run_file
    from tandem.runners.init_from import load_learner_state

    run_dir = Path(run_dir)
    run_file(run_dir, "config.json")
    src = load_learner_state(run_dir, checkpoint)
    K = src.cfg.run.num_seeds
    if not 0 <= seed_index < K:
        raise TandemInputError(f"seed_index {seed_index} is out of range: the run has {K} seed(s).")
    return Policy(src.learner, jax.tree_util.tree_map(lambda x: jax.numpy.asarray(x[seed_index]), src.state), src.spec)
