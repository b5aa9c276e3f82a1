"""Shared test set-up: a private compilation cache, tiny configurations and one train helper.

Tiers are visible in the file names: test_ops_*, test_nets_*, test_envs_*, test_buffers_*, test_learners_*,
test_runners_*, test_reliability_*, test_learning (slow learning thresholds), test_seams (additions
through each seam), test_layering (imports).
"""

import os
import types

# Tests run on the CPU with a private compilation cache (shared across the session, so repeated
# configurations compile once) and no progress bars.
os.environ.setdefault("TANDEM_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "xla"))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # noqa: E402

import tandem  # noqa: E402  (sets up JAX: one XLA device per core, the compilation cache)

# Tiny configurations: where tests repeat one of these, the persistent cache shares its compiled programs.
TINY = types.SimpleNamespace(
    ppo=dict(total_steps=2048, num_envs=4, num_steps=64, num_minibatches=2, update_epochs=2, eval_episodes=2,
             tensorboard=False, log_every=2, checkpoint_every=4),
    off=dict(actor_net="mlp:32,32", critic_net="mlp:32,32", batch_size=32, eval_episodes=2, tensorboard=False),
)


@pytest.fixture
def tiny():
    """The tiny configurations (``tiny.ppo``, ``tiny.off``): keyword overrides for ``tandem.train``."""
    return TINY


@pytest.fixture
def train(tmp_path):
    """``train(algo, env, name="run", **overrides)``: ``tandem.train`` into ``tmp_path / name``."""
    def run(algo, env, name="run", **overrides):
        return tandem.train(algo, env, run_dir=str(tmp_path / name), **overrides)

    return run


@pytest.fixture
def train_ppo(train):
    """``train_ppo(env="gymnax:CartPole-v1", name="run", **overrides)``: PPO with ``TINY.ppo``."""
    def run(env="gymnax:CartPole-v1", name="run", **overrides):
        return train("ppo", env, name, **{**TINY.ppo, **overrides})

    return run


@pytest.fixture
def train_off(train):
    """``train_off(algo="sac", env="Pendulum-v1", name="run", **overrides)``: a replay learner with ``TINY.off``."""
    def run(algo="sac", env="Pendulum-v1", name="run", **overrides):
        return train(algo, env, name, **{**TINY.off, **overrides})

    return run
