"""Gradual magnitude pruning (algos/prune.py): the cubic schedule by hand, the masks it sets, masked weights held
at exactly zero through every optimizer step of a real learner, the count in summary.json, and bad flags."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tandem.algos.learner import optimizer
from tandem.algos.prune import Schedule, magnitude_mask, prunable, sparsity_at


def test_schedule_is_zhu_and_gupta_cubic_by_hand():
    s = Schedule(0.9, 100, 500, 10)
    for t, expected in [(0, 0.0), (100, 0.0), (200, 0.9 * (1 - 0.75 ** 3)), (300, 0.9 * (1 - 0.5 ** 3)),
                        (500, 0.9), (900, 0.9)]:
        assert float(sparsity_at(s, t)) == pytest.approx(expected, abs=1e-6)


def test_mask_keeps_exactly_the_largest_magnitudes():
    w = jnp.asarray(np.random.default_rng(0).normal(size=(10, 7)), jnp.float32)
    m = np.asarray(magnitude_mask(w, 0.3))
    assert (~m).sum() == 21
    assert np.abs(np.asarray(w))[m].min() > np.abs(np.asarray(w))[~m].max()


def _params():
    rng = np.random.default_rng(1)
    return {"net": {"params": {"Dense_0": {"kernel": jnp.asarray(rng.normal(size=(6, 16)), jnp.float32),
                                           "bias": jnp.asarray(rng.normal(size=(16,)), jnp.float32)},
                               "head": {"kernel": jnp.asarray(rng.normal(size=(16, 2)), jnp.float32)}}},
            "log_std": jnp.zeros((3, 2))}


def test_masked_weights_stay_exactly_zero_through_every_adam_step_and_follow_the_schedule():
    s = Schedule(0.75, 4, 24, 4)
    tx = optimizer("adam", 1e-2, prune=s)
    params = _params()
    state = tx.init(params)
    target = jax.tree_util.tree_map(lambda x: jnp.ones_like(x), params)

    @jax.jit
    def step(p, st):
        g = jax.grad(lambda q: sum(jnp.sum((a - b) ** 2) for a, b in zip(jax.tree_util.tree_leaves(q),
                                                                            jax.tree_util.tree_leaves(target))))(p)
        u, st = tx.update(g, st, p)
        return optax.apply_updates(p, u), st

    masked_before = 0
    for t in range(1, 31):
        params, state = step(params, state)
        masks = state[-1].masks
        k = masks["net"]["params"]["Dense_0"]["kernel"]
        w = np.asarray(params["net"]["params"]["Dense_0"]["kernel"])
        np.testing.assert_array_equal(w[~np.asarray(k)], 0.0)   # exactly zero, though the gradient pulls to 1
        masked = int((~np.asarray(k)).sum())
        assert masked >= masked_before
        masked_before = masked
        due = 4 <= t <= 24 and ((t - 4) % 4 == 0 or t == 24)
        if due:
            assert masked == round(float(sparsity_at(s, t)) * k.size), t
    assert masked_before == round(0.75 * 96)
    head = np.asarray(params["net"]["params"]["head"]["kernel"])
    assert (head == 0).sum() == round(0.75 * 32)
    # Biases and the log std are never pruned (their mask is a scalar True).
    assert np.all(np.asarray(params["net"]["params"]["Dense_0"]["bias"]) != 0)
    assert np.all(np.asarray(params["log_std"]) != 0)
    assert not prunable([jax.tree_util.DictKey("log_std")], params["log_std"])


def test_a_pruned_run_reports_its_non_zero_parameters_and_keeps_them_zero(tmp_path):
    """PPO with --prune-sparsity 0.5 reached by half the run: every kernel of the final actor and critic is half
    zeros, counted in summary.json's num_nonzero_params; the optimizer's masks agree."""
    import tandem
    from tandem.runners.init_from import load_learner_state

    run = tandem.train("ppo", "gymnax:CartPole-v1", run_dir=str(tmp_path / "run"), num_envs=4, num_steps=32,
                       num_minibatches=2, update_epochs=2, total_steps=4096, prune_sparsity=0.5, prune_start=0.1,
                       prune_end=0.5, eval_episodes=1, tensorboard=False)
    s = run.summary
    src = load_learner_state(run.run_dir)
    params = jax.tree_util.tree_map(lambda x: np.asarray(x[0]), src.state.params)
    zeros, kernels = 0, 0
    for path, x in jax.tree_util.tree_leaves_with_path(params):
        if prunable(path, x):
            kernels += x.size
            zeros += int((x == 0).sum())
            assert (x == 0).sum() == round(0.5 * x.size), jax.tree_util.keystr(path)
    assert s["num_nonzero_params"] == s["num_params"] - zeros and zeros >= kernels // 2 - 4
    assert s["num_nonzero_params_actor"] + s["num_nonzero_params_critic"] == s["num_nonzero_params"]


@pytest.mark.parametrize("argv, needle", [
    (["--prune-sparsity", "1"], "--prune-sparsity"),
    (["--prune-sparsity", "-0.1"], "--prune-sparsity"),
    (["--prune-sparsity", "0.9", "--prune-start", "0.8", "--prune-end", "0.2"],
     "--prune-start 0.8 must be below --prune-end 0.2; allowed: 0 <= start < end <= 1"),
])
def test_bad_pruning_flags_exit_2_before_anything_is_written(tmp_path, capsys, argv, needle):
    from tandem.cli import main

    for algo in ("ppo", "sac"):
        run_dir = tmp_path / algo
        assert main(["train", algo, "--env", "Pendulum-v1", *argv, "--run-dir", str(run_dir), "--quiet"]) == 2
        assert not run_dir.exists() and needle in capsys.readouterr().err
