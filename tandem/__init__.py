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


__all__ = ["__version__", "train", "load_policy"]
