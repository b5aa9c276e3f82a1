"""Offline runs end to end (issue 13, items 3-4): `tandem train bc|iql --dataset`, the dataset runner's exact resume,
--init-from, staged training (--pretrain/--offline) in one run directory, and bad input refused before anything is
written."""

from __future__ import annotations

import json
import shutil

import pytest

from tandem.cli import main
from tandem.collect import collect

pytest.importorskip("minari")

ENV = "tandem:Restaurant-v0:error_rate=0.1"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("offline") / "d300"
    collect(ENV, "handcrafted", 300, out, seed=0)
    return str(out)


def _summary(d):
    return json.loads((d / "summary.json").read_text())


def test_behaviour_cloning_matches_the_handcrafted_policy_and_resumes_exactly(data, tmp_path):
    args = ["train", "bc", "--env", ENV, "--dataset", data, "--total-steps", "600", "--checkpoint-every", "200",
            "--eval-episodes", "30", "--quiet", "--no-tensorboard"]
    assert main([*args, "--run-dir", str(tmp_path / "a")]) == 0
    s = _summary(tmp_path / "a")
    assert s["runner"] == "dataset" and s["updates"] == 600 and s["env_steps"] == 0
    # The handcrafted policy's mean return here is about 13 (bench_restaurant.py); random dialogues score below 0.
    assert s["final_eval_return"] >= 10.0
    # Interrupted after its checkpoint at 400 steps: the resumed run ends with the same parameters.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    ckpts = sorted((tmp_path / "b" / "checkpoints").iterdir())
    # load_policy of an earlier checkpoint: the policy of that point of the run, not the latest.
    from tandem.api import load_policy

    early, late = load_policy(tmp_path / "a", checkpoint=ckpts[0]), load_policy(tmp_path / "a")
    leaves = lambda p: [x.tolist() for x in __import__("jax").tree_util.tree_leaves(p._state.params)]   # noqa: E731
    assert leaves(early) != leaves(late) and leaves(late) == leaves(load_policy(tmp_path / "a", checkpoint=ckpts[-1]))
    shutil.rmtree(ckpts[-1])
    (tmp_path / "b" / "summary.json").unlink()
    assert main(["train", "bc", "--resume", str(tmp_path / "b"), "--quiet"]) == 0
    assert _summary(tmp_path / "b")["params_fingerprint"] == s["params_fingerprint"]


def test_two_stages_then_online_in_one_run_directory(data, tmp_path):
    run = tmp_path / "staged"
    args = ["train", "a2c", "--env", ENV, "--dataset", data, "--pretrain", "bc:300", "--offline", "iql:300",
            "--total-steps", "2000", "--eval-episodes", "5", "--quiet", "--no-tensorboard", "--run-dir", str(run)]
    assert main(args) == 0
    s = _summary(run)
    assert [p["phase"] for p in s["phases"]] == ["1-bc", "2-iql", "3-a2c"]
    for name in ("1-bc", "2-iql", "3-a2c"):
        assert (run / "phases" / name / "metrics.csv").is_file() and (run / "phases" / name / "checkpoints").is_dir()
    cfg = json.loads((run / "phases" / "3-a2c" / "config.json").read_text())["run"]
    assert cfg["init_from"] == str(run / "phases" / "2-iql")
    # The online phase's actor starts as the batch-RL actor: its first checkpoint differs, its networks match.
    from tandem.runners.init_from import load_learner_state

    iql = load_learner_state(run / "phases" / "2-iql").state.params
    a2c = load_learner_state(run / "phases" / "3-a2c").state.params
    assert [x.shape for x in __import__("jax").tree_util.tree_leaves(iql["actor"])] == \
        [x.shape for x in __import__("jax").tree_util.tree_leaves(a2c["actor"])]
    # Resuming a finished staged run changes nothing.
    assert main(["train", "a2c", "--resume", str(run), "--quiet"]) == 0
    assert _summary(run)["params_fingerprint"] == s["params_fingerprint"]
    # The short version of the paper's experiment: after the same 2,000 online steps (about 200 dialogues),
    # the two-stage agent succeeds in most dialogues; A2C from scratch has learned to say bye at once
    # (return -1, seen from a few hundred steps to 20,000) and succeeds in none.
    scratch = tmp_path / "scratch"
    assert main(["train", "a2c", "--env", ENV, "--total-steps", "2000", "--eval-episodes", "5", "--quiet",
                 "--no-tensorboard", "--run-dir", str(scratch)]) == 0
    assert _success(run / "phases" / "3-a2c") >= 0.7 and _success(scratch) <= 0.1


def _success(run_dir, dialogues=100):
    """The success rate of a run's deterministic policy over ``dialogues`` simulated dialogues (info["success"])."""
    from tandem.api import load_policy
    from tandem.envs import own

    env, policy, wins = own.make(ENV), load_policy(run_dir), 0
    for seed in range(dialogues):
        obs, _ = env.reset(seed=10_000 + seed)
        while True:
            obs, _, term, trunc, info = env.step(policy(obs))
            if term or trunc:
                wins += info["success"]
                break
    return wins / dialogues


@pytest.mark.parametrize("args, names", [
    (["train", "a2c", "--env", ENV, "--dataset", "D"], "online algorithm"),
    (["train", "bc", "--env", ENV], "--dataset"),
    (["train", "a2c", "--env", ENV, "--dataset", "D", "--pretrain", "nope:5"], "bc"),
    (["train", "a2c", "--env", ENV, "--dataset", "D", "--offline", "iql:0"], "STEPS"),
    (["train", "bc", "--env", "tandem:RestaurantSummary-v0:error_rate=0.1", "--dataset", "DATA"], "collected on"),
    (["train", "bc", "--env", ENV, "--dataset", "DATA", "--actor-net", "mlp:32", "--init-from", "RUN"],
     "does not fit"),
])
def test_bad_offline_input_exits_2_before_writing(data, tmp_path, capsys, args, names):
    if "--init-from" in args:   # a run whose actor is mlp:256,256
        src = tmp_path / "src"
        assert main(["train", "bc", "--env", ENV, "--dataset", data, "--total-steps", "5", "--eval-episodes", "0",
                     "--quiet", "--no-tensorboard", "--run-dir", str(src)]) == 0
    args = [a.replace("DATA", data).replace("RUN", str(tmp_path / "src")) for a in args]
    out = tmp_path / "out"
    capsys.readouterr()
    assert main([*args, "--run-dir", str(out)]) == 2
    assert names in capsys.readouterr().err and not out.exists()


@pytest.fixture(scope="module")
def pendulum_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("pendulum") / "random"
    collect("Pendulum-v1", "random", 3, out, seed=0)
    return str(out)


TINY_CONTINUOUS = ["--actor-net", "mlp:16", "--critic-net", "mlp:16", "--batch-size", "32", "--eval-episodes", "1",
                   "--quiet", "--no-tensorboard"]


@pytest.mark.parametrize("online, stages, carried", [
    ("sac", ["--pretrain", "bc:20", "--offline", "iql:20"], "2-iql"),
    ("sac", ["--offline", "sacrnd:20"], "1-sacrnd"),
    ("td3", ["--offline", "td3bc:20"], "1-td3bc"),
    ("sac", ["--offline", "iql:20", "--prefill", "DATA"], "1-iql"),
])
def test_continuous_stages_hand_their_actor_to_the_online_learner(pendulum_data, tmp_path, online, stages, carried):
    # The online phase never trains (learning starts after its 64 steps), so its final actor is the one it was
    # given: the last stage's, whatever the learners' parameter layouts ({"net": N} for IQL's tanh-Gaussian actor,
    # N itself for SAC's), acting identically.
    run = tmp_path / "staged"
    stages = [a.replace("DATA", pendulum_data) for a in stages]
    assert main(["train", online, "--env", "Pendulum-v1", "--dataset", pendulum_data, *stages, "--total-steps", "64",
                 "--learning-starts", "1000", *TINY_CONTINUOUS, "--run-dir", str(run)]) == 0
    from tandem.api import load_policy

    phases = sorted(p.name for p in (run / "phases").iterdir())
    before, after = load_policy(run / "phases" / carried), load_policy(run / "phases" / phases[-1])
    obs = __import__("numpy").random.default_rng(0).uniform(-1, 1, (32, 3)).astype("float32")
    assert phases[-1].endswith(online)
    if "--prefill" in stages:   # the online phase's buffer started with the dataset's 600 transitions
        cfg = json.loads((run / "phases" / phases[-1] / "config.json").read_text())["run"]
        assert cfg["prefill"] == pendulum_data and cfg["dataset"] is None
        from tandem.collect import replay_episodes

        assert len(replay_episodes(run / "phases" / phases[-1], "Pendulum-v1")) == 3
    # TD3+BC normalises observations and TD3 does not: its statistics were folded into TD3's first layers.
    __import__("numpy").testing.assert_allclose(after(obs), before(obs), atol=1e-5 if online == "td3" else 1e-6)
    if online == "td3":   # the target networks start as the carried ones (TD3 acts on its target actor's targets)
        from tandem.runners.init_from import load_learner_state

        state = load_learner_state(run / "phases" / phases[-1]).state
        for k in ("actor", "critic"):
            for x, y in zip(*(__import__("jax").tree_util.tree_leaves(t) for t in (state.params[k], state.target[k]))):
                __import__("numpy").testing.assert_array_equal(x, y)


@pytest.mark.parametrize("torso", ["mlp:8,8", "mlp"])
def test_folded_statistics_give_the_same_function_of_the_raw_observation(torso):
    """fold(): a network on (x - mean) / std equals the folded one on x (an actor; a critic ensemble whose action
    joins the observation), seeds and ensemble members each with their own statistics; foldable() only where the
    first layer reads an array observation."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from tandem.envs.spec import EnvSpec
    from tandem.nets.spec import NetworkSpec, network
    from tandem.runners.init_from import fold, foldable

    rng = np.random.default_rng(0)
    K, E, n = 2, 3, 4
    mean, std = rng.normal(size=(K, n)) * 5, rng.uniform(0.1, 20, size=(K, n))
    x, a = rng.normal(size=(16, n)).astype(np.float32) * 10, rng.uniform(-1, 1, (16, 2)).astype(np.float32)
    z = [((x - mean[k]) / std[k]).astype(np.float32) for k in range(K)]
    spec = NetworkSpec.from_text(torso, "relu", 2, 1.0, "--actor-net")
    net = network(spec, (n,))
    keys = jax.random.split(jax.random.PRNGKey(0), K * E)
    actor = jax.vmap(lambda k: net.init(k, jnp.zeros((1, n))))(keys[:K])
    critic = jax.vmap(jax.vmap(lambda k: net.init(k, jnp.zeros((1, n)), jnp.zeros((1, 2)))))(keys.reshape(K, E, 2))
    f_actor, f_critic = fold(actor, torso, mean, std), fold(critic, torso, mean, std)
    pick = lambda t, *i: jax.tree_util.tree_map(lambda v: v[i], t)   # noqa: E731
    for k in range(K):
        np.testing.assert_allclose(net.apply(pick(f_actor, k), x), net.apply(pick(actor, k), z[k]), atol=2e-4)
        for e in range(E):
            np.testing.assert_allclose(net.apply(pick(f_critic, k, e), x, a), net.apply(pick(critic, k, e), z[k], a),
                                       atol=2e-4)
    vec = EnvSpec("t", "gymnasium", (n,), "continuous", action_dim=2, action_low=(-1.0,) * 2, action_high=(1.0,) * 2)
    assert foldable(vec, {"actor": {"torso": torso}, "critic": {"torso": "mlp:8"}})
    assert not foldable(vec, {"actor": {"torso": "mlp>mlp:8"}, "critic": {"torso": "mlp:8"}})


@pytest.mark.parametrize("args, names", [
    (["train", "td3", "--pretrain", "bc:5"], "phase 2-td3 from phase 1-bc"),
    (["train", "sac", "--pretrain", "bc:5", "--actor-net", "mlp:16", "--offline", "td3bc:5"],
     "phase 2-td3bc from phase 1-bc"),
])
def test_phases_whose_actors_do_not_fit_are_refused_before_any_runs(pendulum_data, tmp_path, capsys, args, names):
    out = tmp_path / "out"
    assert main([*args, "--env", "Pendulum-v1", "--dataset", pendulum_data, "--total-steps", "64", "--quiet",
                 "--run-dir", str(out)]) == 2
    assert names in capsys.readouterr().err and not out.exists()


def test_prefill_puts_the_dataset_in_the_replay_buffer_before_the_first_step(pendulum_data, tmp_path):
    # 600 random transitions, then 64 online steps (learning never starts): the buffer is the dataset's rows in its
    # order (actions in [-1, 1]), then the run's own; both seeds alike.
    run = tmp_path / "sac"
    assert main(["train", "sac", "--env", "Pendulum-v1", "--prefill", pendulum_data, "--total-steps", "64",
                 "--num-seeds", "2", "--learning-starts", "10000", "--buffer-size", "1000", *TINY_CONTINUOUS,
                 "--run-dir", str(run)]) == 0
    import numpy as np

    from tandem.buffers.dataset import load
    from tandem.collect import replay_episodes

    t = load(pendulum_data, "Pendulum-v1")
    from tandem.io.checkpoint import latest_checkpoint, load_checkpoint
    from tandem.runners.init_from import latest_manifest

    ckpt, _, cfg, _ = latest_manifest(run)
    import jax

    from tandem.buffers.replay import uniform_replay
    from tandem.buffers.transition import transition_fields
    from tandem.envs import env_spec

    spec = env_spec("Pendulum-v1")
    shapes = jax.eval_shape(uniform_replay(cfg.algo_config.needs.replay.capacity, transition_fields(spec), 1).init)
    buf, _ = load_checkpoint(ckpt, jax.tree_util.tree_map(lambda s: np.zeros((2,) + s.shape, s.dtype), shapes),
                             expect_algo="sac", subtree=("agent", "replay"))
    assert buf.size.tolist() == [664, 664]
    for k in range(2):
        np.testing.assert_array_equal(buf.data["obs"][k, :600], t.obs)
        np.testing.assert_array_equal(buf.data["final_obs"][k, :600], t.next_obs)
        np.testing.assert_allclose(buf.data["action"][k, :600], t.action / 2.0, atol=1e-6)
        np.testing.assert_array_equal(buf.data["truncated"][k, :600], t.truncated)
    # The dataset's episodes come back out of the buffer, followed by none of the unfinished online one.
    assert len(replay_episodes(run, "Pendulum-v1")) == 3


@pytest.mark.parametrize("args, names", [
    (["train", "ppo", "--env", "Pendulum-v1", "--prefill", "DATA"], "keeps no replay buffer"),
    (["train", "sac", "--env", "MountainCarContinuous-v0", "--prefill", "DATA"], "collected on 'Pendulum-v1'"),
    (["train", "sac", "--env", "Pendulum-v1", "--prefill", "no/such/data"], "--prefill 'no/such/data'"),
])
def test_bad_prefill_exits_2_before_writing(pendulum_data, tmp_path, capsys, args, names):
    out = tmp_path / "out"
    assert main([*[a.replace("DATA", pendulum_data) for a in args], "--quiet", "--run-dir", str(out)]) == 2
    assert names in capsys.readouterr().err and not out.exists()
