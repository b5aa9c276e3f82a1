"""What a run is made of: the learner of the registered algorithm, the agent that feeds it, the driver of the
env's runner, the schedule; and the checks that need them before anything is compiled or written."""

from __future__ import annotations

import jax
import numpy as np

from tandem.config import TrainConfig
from tandem.runners.agent import make_agent
from tandem.runners.driver import make_driver
from tandem.runners.schedule import Schedule, schedule


def build(cfg: TrainConfig, spec):
    """The agent (learner and what it needs), the driver and the schedule of a config."""
    sch = schedule(cfg)
    agent = make_agent(make_learner(cfg, spec, sch), cfg.algo_config.needs, spec)
    return agent, make_driver(cfg, spec, agent, sch), sch


def make_learner(cfg: TrainConfig, spec, sch: Schedule):
    """The registered algorithm's learner for this config and env."""
    from tandem.algos import get_algo

    return get_algo(cfg.algo).make_learner(cfg.algo_config, spec, sch.total_updates)


def preflight(cfg: TrainConfig, spec) -> None:
    """Checks that need the environment's spec, before anything is compiled, allocated or written: the
    algorithm accepts the env (its networks build), and the agent state (a replay buffer above all) fits."""
    from tandem.buffers.replay import check_state_memory

    if cfg.algo_config.needs.worker_gradients and cfg.run.num_workers is None:
        from tandem.errors import TandemInputError

        raise TandemInputError(f"{cfg.algo} runs on Ray workers that compute its gradients; allowed: --num-workers N "
                               f"(e.g. 2), or a2c for the same learner without Ray.")
    if cfg.run.num_workers is not None:
        from tandem.envs.registry import backend_named
        from tandem.errors import TandemInputError
        from tandem.runners.ray_cluster import probe

        if backend_named(spec.backend).runner != "host":
            raise TandemInputError(f"--num-workers: Ray workers step Gymnasium envs, and {spec.id!r} is a "
                                   f"{spec.backend} env (its own runner compiles the whole run); allowed: a Gymnasium "
                                   f"ID or package.module:ClassName with --num-workers, or {spec.id!r} without it.")
        probe(cfg.run.ray_address)  # an unreachable cluster: exit 1 after a bounded wait, before anything is written
    if cfg.run.capture_video:
        from tandem.io.video import check_renders

        check_renders(spec.id, spec.backend, "--capture-video")
    if cfg.run.dataset is not None:
        from tandem.buffers.dataset import check

        check(cfg.run.dataset, cfg.run.env)   # exists, readable, recorded on this env with its spaces, not empty
    if cfg.run.prefill is not None:
        from tandem.buffers.dataset import check

        check(cfg.run.prefill, cfg.run.env, "--prefill")
    sch = schedule(cfg)
    agent = make_agent(make_learner(cfg, spec, sch), cfg.algo_config.needs, spec)  # may reject the env
    shapes = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    nbytes = sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree_util.tree_leaves(shapes))
    replay = cfg.algo_config.needs.replay
    what = f"the {cfg.algo} state" + (f" with --buffer-size {cfg.algo_config.buffer_size}" if replay else "")
    check_state_memory(nbytes, cfg.run.num_seeds, what)
