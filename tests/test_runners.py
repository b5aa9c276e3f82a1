"""Runners: determinism, seeds, save/load, resume, and the vmapped-init hang guard."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tandem

def test_same_seed_same_fingerprint_different_seed_differs(tmp_path, train_ppo):
    a = train_ppo(name="a", seed=1).summary
    b = train_ppo(name="b", seed=1).summary
    c = train_ppo(name="c", seed=2).summary
    assert a["params_fingerprint"] == b["params_fingerprint"]
    assert a["params_fingerprint"] != c["params_fingerprint"]


def test_host_runner_is_deterministic(tmp_path, train_ppo):
    a = train_ppo(name="a", env="CartPole-v1", total_steps=1024, seed=5).summary
    b = train_ppo(name="b", env="CartPole-v1", total_steps=1024, seed=5).summary
    assert a["params_fingerprint"] == b["params_fingerprint"]
    assert a["runner"] == "host"


@pytest.mark.parametrize("env", ["gymnax:CartPole-v1", "CartPole-v1"])
def test_num_seeds_gives_distinct_results(tmp_path, env, train_ppo):
    s = train_ppo(name="k", env=env, num_seeds=4, total_steps=1024).summary
    assert s["seeds"] == [0, 1, 2, 3]
    assert len(set(s["params_fingerprint_per_seed"])) == 4
    assert len(s["final_eval_return_per_seed"]) == 4
    rows = (tmp_path / "k" / "metrics.csv").read_text().splitlines()
    assert "episode_return_mean/seed3" in rows[0]


def test_summary_and_run_dir_contract(tmp_path, train_ppo):
    r = train_ppo(name="run", target_return=1e9)
    d = tmp_path / "run"
    for f in ("config.json", "metrics.csv", "summary.json", "checkpoints"):
        assert (d / f).exists(), f
    s = json.loads((d / "summary.json").read_text())
    for key in ("algo", "env", "seeds", "env_steps", "wall_seconds", "compile_seconds", "sps", "final_eval_return",
                "final_eval_return_per_seed", "eval_episodes", "reached_target", "steps_to_target",
                "seconds_to_target", "params_fingerprint", "tandem_version"):
        assert key in s, key
    assert s["reached_target"] is False and s["steps_to_target"] is None
    assert s == r.summary
    header = (d / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["env_steps", "wall_seconds", "episode_return_mean"]
    assert "phase" in header and "updates" in header  # one phase today: every row says "online"
    # 4 envs x 64 steps, MLPs 64x64 on CartPole's 4 observations: (4*64+64) + (64*64+64) + (64*2+2), critic 1 output
    assert (s["num_params_actor"], s["num_params_critic"]) == (4610, 4545)
    assert s["num_params"] == 4610 + 4545
    assert "losses/value" in header


def test_save_load_gives_identical_actions(tmp_path, train_ppo):
    for env in ("gymnax:Pendulum-v1", "CartPole-v1"):
        r = train_ppo(name=env.replace(":", "_"), env=env, total_steps=1024, normalize_obs=True)
        loaded = tandem.load_policy(r.run_dir)
        obs = np.random.default_rng(0).normal(size=(16,) + r.policy.spec.obs_shape).astype(np.float32)
        np.testing.assert_array_equal(r.policy(obs), loaded(obs))
        single = loaded(obs[0])
        assert np.shape(single) == np.shape(r.policy(obs)[0])


def test_vmapped_multi_seed_run_does_not_hang(tmp_path):
    """A known trap: a batched orthogonal init (QR under vmap) deadlocked XLA's CPU pool. Each launch
    is a fresh process with a time limit (one launch, for the suite's budget, though the hang was intermittent)."""
    script = textwrap.dedent(f"""
        import tandem
        tandem.train("ppo", "gymnax:CartPole-v1", num_seeds=8, total_steps=512, num_envs=4, num_steps=64,
                     num_minibatches=2, update_epochs=1, eval_episodes=1, tensorboard=False,
                     run_dir=r"{tmp_path}/run" + __import__("sys").argv[1])
    """)
    proc = subprocess.run([sys.executable, "-c", script, "0"], timeout=240, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_async_vector_envs_match_sync(tmp_path, train_ppo):
    """--async-envs steps the same Gymnasium envs in subprocesses: the same run, bit for bit."""
    kw = dict(env="CartPole-v1", total_steps=256, num_envs=2, seed=3)
    sync = train_ppo(name="sync", **kw).summary
    asyn = train_ppo(name="async", async_envs=True, **kw).summary
    assert sync["params_fingerprint"] == asyn["params_fingerprint"]


def test_periodic_checkpoints_when_chunks_do_not_align(tmp_path, train_ppo):
    # 16 updates in JAX chunks of 3 (the log interval), a checkpoint every 4: one after each chunk that
    # crosses a multiple of 4 (updates 6, 9, 12) and one at the end (16), of which the newest 3 are kept.
    train_ppo(name="run", total_steps=16 * 256, log_every=3, checkpoint_every=4)
    from tandem.io.checkpoint import list_checkpoints, read_manifest

    ckpts = list_checkpoints(tmp_path / "run" / "checkpoints")
    assert [p.name for p in ckpts] == ["ckpt_000000000001", "ckpt_000000000002", "ckpt_000000000003"]  # 0 rotated out
    assert [read_manifest(p)["counters"]["updates"] for p in ckpts] == [9, 12, 16]
    assert [read_manifest(p)["counters"]["env_steps"] for p in ckpts] == [9 * 256, 12 * 256, 16 * 256]


def test_the_host_rollout_runs_alone():
    """What a remote worker would call: its own envs, a jitted act function, T steps -> one Transition [T, K, N]."""
    import jax

    from tandem.algos import get_algo, preset
    from tandem.envs.gymnasium_host import vec_env_factory
    from tandem.envs import env_spec
    from tandem.runners.rollout import Actor, collect

    spec = env_spec("CartPole-v1")
    cfg, _ = preset("ppo", "CartPole-v1")
    learner = get_algo("ppo").make_learner(cfg, spec, 1)
    envs = vec_env_factory("CartPole-v1")(3, False)
    obs = envs.reset([0, 1, 2])

    @jax.jit
    def act(agent, key, obs, carry):
        key, sub = jax.random.split(key)
        action, extras, carry = learner.act(agent, obs[0], sub, carry)
        return action[None], jax.tree_util.tree_map(lambda x: x[None], extras), key, carry

    actor = Actor(learner.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1), obs[None], {})
    rollout, extras, actor = collect(envs, act, actor, 40, spec, 1, 3)
    envs.close()
    assert rollout.obs.shape == (40, 1, 3, 4) and rollout.action.shape == (40, 1, 3) and len(extras) == 40
    assert rollout.reward.tolist() == np.ones((40, 1, 3)).tolist()  # CartPole pays 1 per step
    done = rollout.terminated | rollout.truncated
    # Where no episode ended, the next step's obs is this step's successor.
    keep = ~done[:-1]
    np.testing.assert_array_equal(rollout.final_obs[:-1][keep], rollout.obs[1:][keep])
    assert done.any()  # 40 random steps end some CartPole episode


def test_one_evaluation_kernel_seeding_and_cap():
    from tandem.envs import env_spec
    from tandem.runners.evaluation import EVAL_STEP_CAP, ENV_SEED_STRIDE, accumulate, eval_seed, step_cap

    train_seeds = {s * ENV_SEED_STRIDE + i for s in range(3) for i in range(64)}
    eval_seeds = {eval_seed(0, k, e) for k in range(3) for e in range(64)}
    assert not train_seeds & eval_seeds and len(eval_seeds) == 3 * 64
    assert eval_seed(5, 0, 0) == eval_seed(4, 1, 0)  # seed k of --seed S is seed 0 of --seed S+k
    assert step_cap(env_spec("CartPole-v1")) == 500
    assert step_cap(env_spec("tests.envs_for_tests:GoodEnv")) == EVAL_STEP_CAP
    ret, alive = np.zeros(3), np.ones(3, bool)
    for r, term, trunc in [([1, 1, 1], [0, 1, 0], [0, 0, 0]), ([2, 2, 2], [0, 0, 0], [1, 0, 0]), ([4, 4, 4], [0, 0, 0], [0, 0, 0])]:
        ret, alive = accumulate(ret, alive, np.array(r, float), np.array(term, bool), np.array(trunc, bool))
    assert ret.tolist() == [3, 1, 7] and alive.tolist() == [False, False, True]


def test_image_observations_stay_uint8_until_the_network(tmp_path):
    """A uint8 pixel env on the host runner: the replay buffer and the checkpoint hold uint8 images (a quarter
    of float32's bytes), the networks cast them, and the policy takes them."""
    from flax import serialization

    from tandem.io.checkpoint import latest_checkpoint

    r = tandem.train("sac", "tests.envs_for_tests:TinyImageEnv", total_steps=200, learning_starts=50, buffer_size=200,
                     batch_size=16, actor_net="mlp:16", critic_net="mlp:16", eval_episodes=1, tensorboard=False,
                     run_dir=str(tmp_path / "run"))
    saved = serialization.msgpack_restore((latest_checkpoint(r.run_dir / "checkpoints") / "state.msgpack").read_bytes())
    stored = saved["agent"]["replay"]["data"]
    assert stored["obs"].dtype == np.uint8 and stored["obs"].shape == (1, 200, 6, 6, 1)
    assert stored["obs"].max() == 255 and saved["obs"].dtype == np.uint8
    action = r.policy(np.zeros((6, 6, 1), np.uint8))
    assert action.shape == (1,) and -1.0 <= float(action[0]) <= 1.0


def test_jax_runner_stops_at_the_update_that_reaches_the_target(tmp_path, train_ppo):
    """--target-return on the JAX runner stops after the update in which the last seed reached it, not
    at the end of the compiled chunk: a chunk of 64 updates gives the same run as chunks of one."""
    common = dict(num_seeds=2, total_steps=40_000, target_return=40.0, checkpoint_every=10_000)
    chunked = train_ppo(name="chunked", log_every=64, **common).summary
    single = train_ppo(name="single", log_every=1, **common).summary
    assert chunked["reached_target"] and single["reached_target"]
    per_update = 4 * 64  # TINY.ppo's num_envs x num_steps
    assert chunked["steps_to_target"] <= chunked["env_steps"] < chunked["steps_to_target"] + per_update
    assert chunked["updates"] < 64  # inside the first chunk
    for key in ("env_steps", "updates", "steps_to_target_per_seed", "params_fingerprint_per_seed",
                "final_eval_return_per_seed"):
        assert chunked[key] == single[key], key
