"""tandem: actor-critic deep reinforcement learning on JAX.

``tandem.train("ppo", "CartPole-v1")`` trains and returns the summary and a callable policy.
Heavy modules (JAX, Gymnasium) are imported lazily, so ``tandem --help`` starts fast.
"""

from tandem._version import __version__

from tandem._setup import setup_jax as _setup_jax

_setup_jax()  # environment variables only; JAX itself is imported lazily, where used


def train(algo: str = "ppo", env: str = "CartPole-v1", **overrides):
    """Train ``algo`` on ``env``; overrides are any RunConfig or algorithm field. See :func:`tandem.api.train`."""
    from tandem.api import train as _train

    return _train(algo, env, **overrides)


def load_policy(run_dir, seed_index: int = 0):
    """The deterministic policy of a run's seed, rebuilt from its latest checkpoint. See :func:`tandem.api.load_policy`."""
    from tandem.api import load_policy as _load

    return _load(run_dir, seed_index)


def search(algo: str = "ppo", env: str | None = None, budget_steps: int = 0, run_dir=None, space: str | None = None,
           strategy: str = "random", objective: str = "pareto", target: float | None = None, seeds: int = 1,
           batch: int = 8, seed: int = 0, param_penalty: float = 0.0, quiet: bool = True, **overrides) -> list[dict]:
    """Architecture search (``tandem search``): returns the Pareto front's records (spec, parameters, returns, member
    index; ``run_dir/members/K`` is each one's run directory). Overrides are training fields every member shares."""
    import time
    from pathlib import Path

    from tandem.algos import get_algo
    from tandem.search.run import SearchConfig, search as _search
    from tandem.search.space import DEFAULT_SPACE

    env = env or get_algo(algo).default_env
    cfg = SearchConfig(algo, env, space or DEFAULT_SPACE, strategy, budget_steps, objective, target, param_penalty,
                       seeds, batch, seed, overrides)
    run_dir = Path(run_dir) if run_dir else Path("runs") / f"search-{algo}-{time.strftime('%Y%m%d-%H%M%S')}"
    return _search(cfg, run_dir, quiet=quiet)


__all__ = ["__version__", "train", "load_policy", "search"]
