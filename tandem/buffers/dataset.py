"""Datasets of recorded episodes in the Minari format, as flat transitions for offline learning.

``--dataset D`` is a path (a dataset's directory, holding ``data/``, or that ``data/`` directory itself) or a
dataset ID found under ``MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``, Minari's own convention), so a
dataset recorded with Minari's ``DataCollector`` loads as well as one ``tandem collect`` wrote. Nothing is
downloaded. :func:`load` checks the dataset against the environment it is to train for (its recorded env and
options when it records them, its spaces always) and refuses an empty or unreadable one, naming it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from tandem.errors import TandemInputError

TANDEM_ENV_KEY = "tandem_env"
"""The metadata key where ``tandem collect`` records the tandem env ID a dataset was collected on."""


@dataclasses.dataclass(frozen=True)
class Transitions:
    """A dataset's steps, flat [N, ...] numpy arrays in the order of its episodes: obs, action, reward, next_obs,
    terminated, truncated (the last step of an episode cut short without terminating has truncated set, and
    its next_obs is the true final observation), and the episode each step belongs to."""

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode: np.ndarray

    @property
    def size(self) -> int:
        """The number of transitions."""
        return int(self.reward.shape[0])

    def episode_returns(self) -> np.ndarray:
        """The undiscounted return of every episode, in order."""
        return np.bincount(self.episode, weights=self.reward.astype(np.float64))


def datasets_root() -> Path:
    """Where dataset IDs are looked up: ``MINARI_DATASETS_PATH``, else ``~/.minari/datasets``."""
    root = os.environ.get("MINARI_DATASETS_PATH")
    return Path(root) if root else Path.home() / ".minari" / "datasets"


def data_path(dataset: str, flag: str = "--dataset") -> Path:
    """The ``data/`` directory of a dataset given as a path or an ID (TandemInputError if there is none)."""
    for candidate in (Path(dataset), datasets_root() / dataset):
        if (candidate / "data" / "metadata.json").is_file():
            return candidate / "data"
        if candidate.name == "data" and (candidate / "metadata.json").is_file():
            return candidate
    raise TandemInputError(f"{flag} {dataset!r}: no Minari dataset there (expected DIR/data/metadata.json at that "
                           f"path, or a dataset ID under {datasets_root()} = $MINARI_DATASETS_PATH).")


def open_dataset(dataset: str, flag: str = "--dataset"):
    """The MinariDataset of a path or ID, or a TandemInputError naming what could not be read."""
    path = data_path(dataset, flag)
    try:
        from minari import MinariDataset
    except ImportError:
        raise TandemInputError(f"{flag} {dataset!r}: Minari is not installed; install tandem with its datasets: "
                               "pip install 'tandem-rl[offline]'.") from None
    try:
        return MinariDataset(path)
    except Exception as e:   # a damaged metadata.json or data file: h5py, json and Minari raise their own types
        raise TandemInputError(f"{flag} {dataset!r}: cannot read the dataset at {path} "
                               f"({type(e).__name__}: {e}).") from None


def _space_problem(mine, theirs) -> str | None:
    """Why a dataset's space is not the environment's (None if it is)."""
    from gymnasium import spaces

    if type(mine) is not type(theirs):
        return f"{theirs} is not {mine}"
    if isinstance(mine, spaces.Discrete):
        return None if (mine.n, mine.start) == (theirs.n, theirs.start) else f"{theirs} is not {mine}"
    if isinstance(mine, spaces.Box):
        if mine.shape != theirs.shape or mine.dtype != theirs.dtype:
            return f"{theirs} is not {mine} (shape or dtype)"
        if not (np.array_equal(mine.low, theirs.low) and np.array_equal(mine.high, theirs.high)):
            return f"{theirs} has other bounds than {mine}"
        return None
    return f"{theirs}: only Box observations and Discrete or Box actions are supported in datasets"


def _env_identity(env) -> tuple[str | None, dict]:
    spec = getattr(env, "spec", None)
    if spec is None:
        return None, {}
    kwargs = {k: v for k, v in (spec.kwargs or {}).items() if k != "render_mode"}
    return spec.id, kwargs


def check_against(ds, dataset: str, env_id: str, env, flag: str = "--dataset") -> None:
    """TandemInputError unless the dataset was recorded on this environment (when it says) with its spaces."""
    recorded = ds.storage.metadata.get(TANDEM_ENV_KEY)
    if recorded is not None and recorded != env_id:
        raise TandemInputError(f"{flag} {dataset!r} was collected on {recorded!r}, not on --env {env_id!r}.")
    if recorded is None and ds.env_spec is not None:
        gid, kwargs = _env_identity(env)
        theirs = {k: v for k, v in (ds.env_spec.kwargs or {}).items() if k != "render_mode"}
        if gid is not None and ds.env_spec.id != gid:
            raise TandemInputError(f"{flag} {dataset!r} was recorded on {ds.env_spec.id!r}, not on --env "
                                   f"{env_id!r} ({gid!r}).")
        if gid is not None and theirs != kwargs:
            raise TandemInputError(f"{flag} {dataset!r} was recorded with env options {theirs}, not {kwargs}.")
    for what, mine, theirs in (("observation", env.observation_space, ds.observation_space),
                               ("action", env.action_space, ds.action_space)):
        problem = _space_problem(mine, theirs)
        if problem:
            raise TandemInputError(f"{flag} {dataset!r}: its {what} space does not match --env {env_id!r}: "
                                   f"{problem}.")


def to_transitions(ds, dataset: str = "", flag: str = "--dataset") -> Transitions:
    """Every episode of a MinariDataset as flat transitions (TandemInputError for an empty dataset)."""
    if ds.total_steps == 0:
        raise TandemInputError(f"{flag} {dataset!r} holds no transitions (empty).")
    parts = {k: [] for k in ("obs", "action", "reward", "next_obs", "terminated", "truncated", "episode")}
    for k, ep in enumerate(ds.iterate_episodes()):
        obs = np.asarray(ep.observations)
        if not isinstance(ep.observations, np.ndarray) or obs.shape[0] != len(ep) + 1:
            raise TandemInputError(f"{flag} {dataset!r}: episode {ep.id} has {obs.shape[0]} observations for "
                                   f"{len(ep)} steps (expected steps + 1, one array).")
        parts["obs"].append(obs[:-1])
        parts["next_obs"].append(obs[1:])
        parts["action"].append(np.asarray(ep.actions))
        parts["reward"].append(np.asarray(ep.rewards, np.float32))
        parts["terminated"].append(np.asarray(ep.terminations, bool))
        parts["truncated"].append(np.asarray(ep.truncations, bool))
        parts["episode"].append(np.full(len(ep), k, np.int64))
    return Transitions(**{k: np.concatenate(v) for k, v in parts.items()})


def check(dataset: str, env_id: str, flag: str = "--dataset"):
    """The opened dataset (path or ID), checked against ``env_id`` (recorded env, spaces) and non-empty, without
    reading its episodes: what a run checks before anything is compiled or written."""
    from tandem.envs.gymnasium_host import make_single

    ds = open_dataset(dataset, flag)
    env = make_single(env_id)
    try:
        check_against(ds, dataset, env_id, env, flag)
    finally:
        env.close()
    if ds.total_steps == 0:
        raise TandemInputError(f"{flag} {dataset!r} holds no transitions (empty).")
    return ds


def load(dataset: str, env_id: str, flag: str = "--dataset") -> Transitions:
    """The transitions of a dataset (path or ID) checked against ``env_id``: recorded env, spaces, non-empty.
    Any problem is a TandemInputError naming the dataset (exit 2 from the CLI)."""
    ds = check(dataset, env_id, flag)
    try:
        return to_transitions(ds, dataset, flag)
    except TandemInputError:
        raise
    except Exception as e:   # a data file damaged past its metadata
        raise TandemInputError(f"{flag} {dataset!r}: cannot read its episodes ({type(e).__name__}: {e}).") from None
