"""The runner seam: the Driver protocol every runner implements, and the registry of runners.

A runner is an addition: a module in ``runners/`` with a driver factory, and one line in ``_builtin()``
(or a call to :func:`register_runner`). The env-backend registry (envs/registry.py) says which runner
an environment gets; nothing else knows the runner kind.

Shapes: K seeds; E evaluation episodes per seed. A driver's state is a pytree with a leading seed axis
in checkpoint form (``host_state``); in between it is the driver's own business.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Protocol

import numpy as np


class Counters(NamedTuple):
    """Read from a driver's state, never derived: env steps per seed, training calls applied (updates),
    episodes finished (all seeds)."""

    env_steps: int
    updates: int
    episodes: int


class Driver(Protocol):
    """What every runner implements. ``name``: the runner's registry name (summary.json's ``runner``);
    ``updates_per_call``: the updates the loop asks ``run`` for at a time (the JAX runner compiles a chunk)."""

    name: str
    updates_per_call: int

    def init(self, seed: int) -> Any:
        """The state at the start of training of seeds seed..seed+K-1 (environments reset)."""

    def template(self, seed: int) -> Any:
        """The start state in checkpoint form (a seed axis on every leaf), without touching environments:
        what a checkpoint is loaded into."""

    def compile(self, state, eval_episodes: int) -> None:
        """Compile the training (and, for eval_episodes > 0, evaluation) programs before the first update."""

    def run(self, state, n: int, target: float) -> tuple[Any, dict]:
        """Apply ``n`` updates (each: a rollout, then a training call), or fewer: a driver stops after the
        update in which every seed reached ``target`` or one faulted. Returns (state, metrics), metrics
        {name: [updates applied, K]} including ``fault``/``fault_step`` (ops/finite.py) and ``finished_return_sum``/
        ``finished_episodes``. ``target``: --target-return (NaN for none), tracked per seed."""

    def evaluate(self, state, episodes: int, seed: int) -> np.ndarray:
        """Deterministic-policy returns [K, episodes] (runners/evaluation.py)."""

    def counters(self, state) -> Counters:
        """The run's counters, read from the state."""

    def episodes(self, state):
        """The per-seed episode statistics ([K]-batched runners/common.EpisodeStats)."""

    def agent(self, state):
        """The agent state of every seed (runners/agent.AgentState, [K, ...] numpy)."""

    def host_state(self, state):
        """The whole state in checkpoint form (numpy-convertible, a seed axis on every leaf)."""

    def load_state(self, loaded, seed: int, env_records) -> Any:
        """The state to continue from, given a loaded checkpoint and its env records (resume)."""

    def from_host(self, loaded) -> Any:
        """A loaded checkpoint as this driver's state, without restoring environments (evaluation)."""

    def env_records(self) -> dict | None:
        """What restores the environments on resume (stored as ``envs.msgpack``), or None when the state
        holds them already."""

    def report(self, state) -> dict:
        """The runner's own fields of summary.json (e.g. the Ray runner's ``worker_restarts``); {} if none."""

    def close(self) -> None:
        """Release environments (subprocesses, simulators)."""


DriverFactory = Callable[..., Driver]
"""(cfg: TrainConfig, spec: EnvSpec, agent: runners.agent.Agent, schedule: Schedule) -> Driver."""

_REGISTERED: dict[str, DriverFactory] = {}


def _builtin() -> dict[str, DriverFactory]:
    from tandem.runners.dataset_runner import make_dataset_driver
    from tandem.runners.host_runner import make_host_driver
    from tandem.runners.jax_runner import make_jax_driver
    from tandem.runners.ray_runner import make_ray_driver

    return {"jax": make_jax_driver, "host": make_host_driver, "ray": make_ray_driver, "dataset": make_dataset_driver}


def register_runner(name: str, factory: DriverFactory) -> None:
    """Add a runner (an env backend names it as its ``runner``)."""
    _REGISTERED[name] = factory


def runner_of(cfg, spec) -> str:
    """The runner of a run: ``dataset`` for an offline algorithm, ``ray`` with --num-workers, else the one the
    environment's backend names."""
    from tandem.envs.registry import backend_named

    if cfg.algo_config.needs.dataset is not None:
        return "dataset"
    return "ray" if cfg.run.num_workers is not None else backend_named(spec.backend).runner


def make_driver(cfg, spec, agent, sch) -> Driver:
    """The driver of the run's runner (:func:`runner_of`)."""
    runner = runner_of(cfg, spec)
    factories = {**_builtin(), **_REGISTERED}
    if runner not in factories:
        from tandem.errors import TandemInputError

        raise TandemInputError(f"runner {runner!r} of env backend {spec.backend!r} is not registered; "
                               f"allowed: {', '.join(factories)}.")
    return factories[runner](cfg, spec, agent, sch)
