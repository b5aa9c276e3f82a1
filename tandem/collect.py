"""``tandem collect``: record episodes of a policy into a Minari dataset.

The policy is an environment's handcrafted one (``tandem:`` envs that have one), ``random`` (uniform actions),
a run directory (its latest checkpoint's deterministic policy, api.load_policy; with ``stochastic`` its
exploration policy, the learner's ``act``, keyed by the seed), or ``replay:RUN_DIR``: the complete episodes in
that run's replay buffer at its latest checkpoint, in the order they were played (D4RL's "medium-replay" is a
partly trained SAC's buffer). Episode ``k`` is reset with seed :func:`~tandem.envs.gymnasium_host.episode_seed`
(seed, k) and the random and stochastic policies draw from ``seed``, so a collection is reproducible exactly.
The dataset is written through Minari (its ``DataCollector``; ``create_dataset_from_buffers`` for a replay
buffer) into a staging directory beside ``--out`` and moved there whole when complete: an interrupted collection
leaves no partial dataset at ``--out``.
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

REPLAY = "replay:"
POLICIES = "handcrafted, random, a run directory, or replay:RUN_DIR (the episodes in its replay buffer)"


def _policy(kind: str, env_id: str, env, seed: int, stochastic: bool = False, seed_index: int = 0):
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
    from tandem.runners.init_from import load_learner_state

    src = load_learner_state(run_dir)
    _check_spaces(f"--policy {kind!r}", src.spec, env_id)
    name = f"tandem:{run_dir.name}" + ("-stochastic" if stochastic else "")
    return _run_policy(src, stochastic, seed, seed_index), name


def _check_spaces(what: str, theirs, env_id: str) -> None:
    """TandemInputError unless a run's env spec has the spaces of ``env_id``."""
    from tandem.envs.gymnasium_host import gymnasium_spec

    mine = gymnasium_spec(env_id)
    if (mine.obs_shape, mine.action_kind, mine.num_actions, mine.action_dim) != \
            (theirs.obs_shape, theirs.action_kind, theirs.num_actions, theirs.action_dim):
        raise TandemInputError(f"{what} was trained on {theirs.id!r}, whose spaces are not those of --env {env_id!r}.")


def _check_seed_index(seed_index: int, cfg) -> None:
    if not 0 <= seed_index < cfg.run.num_seeds:
        raise TandemInputError(f"--seed-index {seed_index} is out of range: the run has {cfg.run.num_seeds} seed(s).")


def _run_policy(src, stochastic: bool, seed: int, seed_index: int):
    """obs -> env action of seed ``seed_index`` of a run's learner: its deterministic policy (api.Policy), or its
    ``act`` sampled with a key folded from ``seed`` and a step counter."""
    import itertools

    import jax

    from tandem.api import Policy
    from tandem.envs.spec import obs_cast, rescale_action

    _check_seed_index(seed_index, src.cfg)
    state = jax.tree_util.tree_map(lambda x: jax.numpy.asarray(x[seed_index]), src.state)
    learner, spec = src.learner, src.spec
    sample = Policy(learner, state, spec)
    if stochastic:
        act = jax.jit(lambda key, obs: learner.act(state, obs, key, learner.init_carry(1))[0])
        root, steps = jax.random.PRNGKey(seed), itertools.count(1)
        sample = lambda obs: rescale_action(spec, np.asarray(   # noqa: E731
            act(jax.random.fold_in(root, next(steps)), obs_cast(spec, obs)[None]))[0])
    if spec.action_kind == "discrete":
        return lambda obs: int(sample(obs))
    return lambda obs: np.asarray(sample(obs), np.float32)


def replay_episodes(run_dir: str | Path, env_id: str, seed_index: int = 0) -> list[dict]:
    """The complete episodes in the replay buffer of seed ``seed_index`` of a run's latest checkpoint, oldest
    first: {observations [T + 1], actions [T] (in the env's bounds), rewards, terminations, truncations}.

    The buffer's rows are time-major ([train_freq, num_envs] per training call), so after unrolling the ring,
    row j was played by env j % num_envs. The episode cut by the ring's oldest row and the one still being
    played are left out. Each step's observation must be the previous step's successor (``final_obs``) within an
    episode: a buffer that fails this is refused rather than written as wrong episodes."""
    import jax

    from tandem.buffers.replay import uniform_replay
    from tandem.buffers.transition import transition_fields
    from tandem.envs.spec import rescale_action
    from tandem.io.checkpoint import CheckpointError, load_checkpoint
    from tandem.runners.init_from import latest_manifest

    what = f"--policy {REPLAY}{run_dir}"
    try:
        ckpt, _, cfg, spec = latest_manifest(run_dir)
    except CheckpointError as e:
        raise TandemInputError(f"{what}: {e}") from None
    _check_spaces(what, spec, env_id)
    needs = cfg.algo_config.needs
    if needs.replay is None:
        raise TandemInputError(f"{what}: a {cfg.algo} run keeps no replay buffer; allowed: a run of a replay "
                               f"algorithm (sac, td3, ddpg).")
    if not needs.replay.save:
        raise TandemInputError(f"{what}: its checkpoints were written without the buffer (--no-save-replay).")
    if spec.obs_fields:
        raise TandemInputError(f"{what}: structured observations are not supported in datasets.")
    _check_seed_index(seed_index, cfg)
    shapes = jax.eval_shape(uniform_replay(needs.replay.capacity, transition_fields(spec), 1).init)
    template = jax.tree_util.tree_map(lambda s: np.zeros((cfg.run.num_seeds,) + s.shape, s.dtype), shapes)
    try:
        buf, _ = load_checkpoint(ckpt, template, expect_algo=cfg.algo, subtree=("agent", "replay"))
    except CheckpointError as e:
        raise TandemInputError(f"{what}: {e}") from None
    size, ptr = int(buf.size[seed_index]), int(buf.ptr[seed_index])
    capacity, n_envs = needs.replay.capacity, needs.num_envs
    order = np.arange(size) if size < capacity else (ptr + np.arange(capacity)) % capacity
    rows = {k: np.asarray(v[seed_index])[order] for k, v in buf.data.items()}
    done = rows["terminated"] | rows["truncated"]
    episodes = []
    for env in range(n_envs):
        idx = np.arange(env, len(order), n_envs)
        ends = idx[done[idx]]
        starts = [idx[0]] + [e + n_envs for e in ends[:-1]] if len(ends) else []
        for k, (first, last) in enumerate(zip(starts, ends)):
            if k == 0 and size == capacity:
                continue   # its start may have been overwritten
            steps = np.arange(first, last + 1, n_envs)
            if not np.array_equal(rows["obs"][steps[1:]], rows["final_obs"][steps[:-1]]):
                raise TandemInputError(f"{what}: the buffer's rows of env {env} are not consecutive steps "
                                       f"(an observation is not its predecessor's successor); not written.")
            episodes.append((first, {
                "observations": np.concatenate([rows["obs"][steps], rows["final_obs"][steps[-1:]]]),
                "actions": np.asarray(rescale_action(spec, rows["action"][steps]), np.float32)
                if spec.action_kind == "continuous" else rows["action"][steps].astype(np.int64),
                "rewards": rows["reward"][steps].astype(np.float64),
                "terminations": rows["terminated"][steps], "truncations": rows["truncated"][steps]}))
    return [ep for _, ep in sorted(episodes, key=lambda e: e[0])]


def dataset_id_for(env_id: str, policy_name: str) -> str:
    """A Minari dataset ID for a collection: ``ENV/POLICY-v0`` with characters Minari refuses replaced."""
    clean = lambda s: re.sub(r"[^A-Za-z0-9_-]+", "-", s).strip("-")   # noqa: E731
    return f"{clean(env_id)}/{clean(policy_name)}-v0"


def collect(env_id: str, policy: str, episodes: int | None, out: str | Path, seed: int = 0,
            dataset_id: str | None = None, stochastic: bool = False, seed_index: int = 0) -> dict:
    """Record ``episodes`` episodes of ``policy`` on ``env_id`` (for ``replay:RUN_DIR``, every complete episode in
    its buffer: ``episodes`` None) as a Minari dataset at ``out`` (which must not exist). ``stochastic`` and
    ``seed_index`` apply to a run's policy. Returns what was recorded: episodes, steps, mean return and, where the
    env reports it, success rate."""
    from tandem.envs.gymnasium_host import episode_seed, make_single

    out, replay = Path(out), policy.startswith(REPLAY)
    if replay and episodes is not None:
        raise TandemInputError(f"--episodes with --policy {policy!r}: a replay buffer's complete episodes are all "
                               f"written; leave --episodes out.")
    if not replay and (episodes is None or episodes < 1):
        raise TandemInputError(f"--episodes {episodes} is out of range: allowed an integer >= 1.")
    if stochastic and (replay or policy in ("random", "handcrafted")):
        raise TandemInputError(f"--stochastic with --policy {policy!r}: it samples a run's exploration policy; "
                               f"allowed with a run directory only.")
    if out.exists():
        raise TandemInputError(f"--out {str(out)!r} exists; a dataset is written to a new directory.")
    try:
        import minari
    except ImportError:
        raise TandemInputError("tandem collect needs Minari: pip install 'tandem-rl[offline]'.") from None
    from minari.dataset.minari_dataset import parse_dataset_id

    env = make_single(env_id)
    returns, successes = [], []
    if replay:
        run_dir = policy[len(REPLAY):]
        played = replay_episodes(run_dir, env_id, seed_index)
        if not played:
            raise TandemInputError(f"--policy {policy!r}: its replay buffer holds no complete episode.")
        name = f"tandem:{Path(run_dir).name}-replay"
        returns = [float(np.sum(ep["rewards"])) for ep in played]
        about = f"the {len(played)} complete episodes in the replay buffer of {run_dir} (seed index {seed_index})"
    else:
        act, name = _policy(policy, env_id, env, seed, stochastic, seed_index)
        about = f"{episodes} episodes of {name} on {env_id}, seed {seed}"
    dataset_id = dataset_id or dataset_id_for(env_id, name)
    try:
        parse_dataset_id(dataset_id)
    except ValueError as e:
        raise TandemInputError(f"--dataset-id {dataset_id!r}: {e}") from None
    meta = dict(algorithm_name=name, author={"tandem collect"}, description=about)
    if replay:
        from minari.data_collector import EpisodeBuffer

        buffers = [EpisodeBuffer(id=k, observations=ep["observations"], actions=ep["actions"],
                                 rewards=list(ep["rewards"]), terminations=list(ep["terminations"]),
                                 truncations=list(ep["truncations"])) for k, ep in enumerate(played)]
        create = lambda: minari.create_dataset_from_buffers(dataset_id, buffers, env=env, **meta)   # noqa: E731
    else:
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
        create = lambda: collector.create_dataset(dataset_id, **meta)   # noqa: E731
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".collect-", dir=out.parent))
    previous = os.environ.get("MINARI_DATASETS_PATH")
    try:
        os.environ["MINARI_DATASETS_PATH"] = str(stage)
        with warnings.catch_warnings():   # Minari warns of the metadata left out (a code permalink, a reference score)
            warnings.simplefilter("ignore", UserWarning)
            ds = create()
        ds.storage.update_metadata({TANDEM_ENV_KEY: env_id, "tandem_seed": int(seed)})
        steps = int(ds.total_steps)
        if not replay:
            collector.close()
        os.replace(stage / dataset_id, out)
    finally:
        if previous is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous
        shutil.rmtree(stage, ignore_errors=True)
    report = {"out": str(out), "dataset_id": dataset_id, "env": env_id, "policy": name, "episodes": len(returns),
              "steps": steps, "mean_return": float(np.mean(returns))}
    if successes:
        report["success_rate"] = float(np.mean(successes))
    return report
