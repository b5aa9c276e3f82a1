"""Minari datasets (issue 13, item 2): `tandem collect` writes them, --dataset reads any local one (a path, or an ID
under MINARI_DATASETS_PATH, including one recorded with Minari's own DataCollector), and a dataset that does not
fit the environment, or cannot be read, is refused with a message naming it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from tandem.buffers.dataset import load
from tandem.cli import main
from tandem.collect import collect
from tandem.envs import own
from tandem.envs.gymnasium_host import episode_seed
from tandem.errors import TandemInputError

minari = pytest.importorskip("minari")

REST = "tandem:Restaurant-v0:error_rate=0.2"


@pytest.fixture(scope="module")
def restaurant_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "rest"
    report = collect(REST, "handcrafted", 25, out, seed=7)
    return out, report


def test_collect_then_load_gives_the_episodes_played_again(restaurant_dataset):
    out, report = restaurant_dataset
    t = load(str(out), REST)
    env, policy = own.make(REST), own.handcrafted(REST)
    obs, acts, rewards, terms, truncs, nexts = [], [], [], [], [], []
    for k in range(25):
        o, _ = env.reset(seed=episode_seed(7, k))
        while True:
            a = policy(o)
            o2, r, term, trunc, _ = env.step(a)
            obs.append(o), acts.append(a), rewards.append(r), terms.append(term), truncs.append(trunc), nexts.append(o2)
            o = o2
            if term or trunc:
                break
    assert t.size == report["steps"] == len(acts)
    np.testing.assert_array_equal(t.obs, np.stack(obs))
    np.testing.assert_array_equal(t.next_obs, np.stack(nexts))
    np.testing.assert_array_equal(t.action, np.array(acts))
    np.testing.assert_array_equal(t.reward, np.array(rewards, np.float32))
    np.testing.assert_array_equal(t.terminated, np.array(terms))
    np.testing.assert_array_equal(t.truncated, np.array(truncs))
    assert t.episode_returns().mean() == pytest.approx(report["mean_return"])
    assert 0.8 < report["success_rate"] <= 1.0


def test_a_dataset_of_other_env_options_or_spaces_is_refused(restaurant_dataset):
    out, _ = restaurant_dataset
    with pytest.raises(TandemInputError, match="collected on 'tandem:Restaurant-v0:error_rate=0.2'"):
        load(str(out), "tandem:Restaurant-v0:error_rate=0.3")
    with pytest.raises(TandemInputError, match="collected on"):
        load(str(out), "tandem:RestaurantSummary-v0:error_rate=0.2")


def test_a_dataset_recorded_with_minaris_own_collector_loads_by_id(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    env = minari.DataCollector(gym.make("CartPole-v1"))
    env.action_space.seed(0)
    for k in range(3):
        env.reset(seed=k)
        while True:
            _, _, term, trunc, _ = env.step(env.action_space.sample())
            if term or trunc:
                break
    with pytest.warns(UserWarning):
        env.create_dataset("cartpole/random-v0", algorithm_name="random")
    t = load("cartpole/random-v0", "CartPole-v1")
    assert t.obs.shape[1:] == (4,) and t.terminated.sum() == 3 and np.all(t.episode[1:] >= t.episode[:-1])
    assert np.array_equal(t.next_obs[:-1][t.episode[1:] == t.episode[:-1]], t.obs[1:][t.episode[1:] == t.episode[:-1]])
    with pytest.raises(TandemInputError, match="recorded on 'CartPole-v1', not on --env 'Acrobot-v1'"):
        load("cartpole/random-v0", "Acrobot-v1")


def _from_buffers(tmp_path, monkeypatch, obs_dim, episodes):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    from minari.data_collector import EpisodeBuffer

    rng = np.random.default_rng(0)
    buffers = [EpisodeBuffer(observations=list(rng.normal(size=(4, obs_dim)).astype(np.float32)),
                             actions=[0, 1, 0], rewards=[1.0, 1.0, 1.0], terminations=[False, False, True],
                             truncations=[False, False, False]) for _ in range(episodes)]
    space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    with pytest.warns(UserWarning):
        minari.create_dataset_from_buffers(f"made/d{obs_dim}-v0", buffers, observation_space=space,
                                           action_space=gym.spaces.Discrete(2))
    return f"made/d{obs_dim}-v0"


def test_spaces_are_checked_when_the_dataset_names_no_env(tmp_path, monkeypatch):
    with pytest.raises(TandemInputError, match="observation space does not match --env 'CartPole-v1'"):
        load(_from_buffers(tmp_path, monkeypatch, 3, 2), "CartPole-v1")


def test_missing_and_damaged_datasets_are_named(restaurant_dataset, tmp_path):
    with pytest.raises(TandemInputError, match="no Minari dataset there"):
        load(str(tmp_path / "nothing"), REST)
    import shutil

    out, _ = restaurant_dataset
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    data = broken / "data" / "main_data.hdf5"
    data.write_bytes(data.read_bytes()[:200])
    with pytest.raises(TandemInputError, match="cannot read"):
        load(str(broken), REST)
    (broken / "data" / "metadata.json").write_text("{not json")
    with pytest.raises(TandemInputError, match="cannot read the dataset"):
        load(str(broken), REST)


def test_collections_are_reproducible(tmp_path):
    a = collect("CartPole-v1", "random", 3, tmp_path / "a", seed=3)
    b = collect("CartPole-v1", "random", 3, tmp_path / "b", seed=3)
    ta, tb = load(str(tmp_path / "a"), "CartPole-v1"), load(str(tmp_path / "b"), "CartPole-v1")
    assert a["steps"] == b["steps"] and np.array_equal(ta.obs, tb.obs) and np.array_equal(ta.action, tb.action)


@pytest.mark.parametrize("args, names", [
    (["--env", "CartPole-v1", "--policy", "handcrafted", "--episodes", "2"], "only tandem's own"),
    (["--env", REST, "--policy", "random", "--episodes", "0"], "--episodes 0"),
    (["--env", REST, "--policy", "no/such/run", "--episodes", "2"], "no config.json"),
    (["--env", "tandem:Nope-v0", "--policy", "random", "--episodes", "2"], "Restaurant-v0"),
])
def test_collect_rejects_bad_input_before_writing(tmp_path, capsys, args, names):
    out = tmp_path / "out"
    assert main(["collect", *args, "--out", str(out)]) == 2
    assert names in capsys.readouterr().err and not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_collect_refuses_an_existing_out(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    assert main(["collect", "--env", REST, "--policy", "random", "--episodes", "1", "--out", str(tmp_path / "out")]) == 2
    assert "exists" in capsys.readouterr().err


@pytest.fixture(scope="module")
def sac_run(tmp_path_factory):
    """A short SAC run on Pendulum with 2 envs whose 900-row buffer has wrapped: it holds steps 150-599 of each env
    (Pendulum's episodes are 200 steps), so its complete episodes are the second and third of each env."""
    import tandem

    d = tmp_path_factory.mktemp("sac") / "run"
    tandem.train("sac", "Pendulum-v1", run_dir=str(d), total_steps=1200, num_envs=2, utd=0.5, buffer_size=900,
                 learning_starts=100, actor_net="mlp:16", critic_net="mlp:16", batch_size=16, eval_episodes=1,
                 tensorboard=False, quiet=True)
    return d


def test_a_replay_buffer_becomes_its_complete_episodes_with_true_transitions(sac_run, tmp_path):
    report = collect("Pendulum-v1", f"replay:{sac_run}", None, tmp_path / "replay")
    assert report["episodes"] == 4 and report["steps"] == 800
    t = load(str(tmp_path / "replay"), "Pendulum-v1")
    assert np.array_equal(np.bincount(t.episode), [200] * 4)
    assert t.truncated.sum() == 4 and not t.terminated.any() and t.truncated[199::200].all()
    assert np.abs(t.action).max() <= 2.0 and np.abs(t.action).max() > 1.0   # the env's bounds, not [-1, 1]
    # Every transition against Pendulum's own dynamics, from the state its observation encodes.
    env = gym.make("Pendulum-v1").unwrapped
    env.reset(seed=0)
    for i in range(t.size):
        cos, sin, thdot = t.obs[i].astype(np.float64)
        env.state = np.array([np.arctan2(sin, cos), thdot])
        nxt, reward, *_ = env.step(t.action[i])
        np.testing.assert_allclose(nxt, t.next_obs[i], atol=1e-4)
        assert reward == pytest.approx(float(t.reward[i]), abs=1e-3)
    # Within an episode, each step starts where the last ended.
    same = t.episode[1:] == t.episode[:-1]
    np.testing.assert_array_equal(t.obs[1:][same], t.next_obs[:-1][same])


def test_a_runs_stochastic_policy_is_collected_reproducibly(sac_run, tmp_path):
    a = collect("Pendulum-v1", str(sac_run), 2, tmp_path / "a", seed=1, stochastic=True)
    b = collect("Pendulum-v1", str(sac_run), 2, tmp_path / "b", seed=1, stochastic=True)
    c = collect("Pendulum-v1", str(sac_run), 2, tmp_path / "c", seed=1)
    ta, tb, tc = (load(str(tmp_path / k), "Pendulum-v1") for k in "abc")
    assert a["policy"].endswith("-stochastic") and np.array_equal(ta.action, tb.action)
    assert not np.allclose(ta.action, tc.action)   # sampled, not the mean
    from tandem.api import load_policy

    np.testing.assert_allclose(tc.action, load_policy(sac_run)(tc.obs), atol=1e-6)


@pytest.mark.parametrize("args, names", [
    (["--policy", "replay:RUN", "--episodes", "2"], "leave --episodes out"),
    (["--policy", "random", "--episodes", "2", "--stochastic"], "--stochastic"),
    (["--policy", "RUN", "--episodes", "2", "--seed-index", "3"], "--seed-index 3"),
    (["--policy", "replay:no/such/run"], "replay:no/such/run"),
])
def test_collect_rejects_bad_replay_or_run_input(sac_run, tmp_path, capsys, args, names):
    args = [a.replace("RUN", str(sac_run)) for a in args]
    assert main(["collect", "--env", "Pendulum-v1", *args, "--out", str(tmp_path / "out")]) == 2
    assert names in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_collect_refuses_the_replay_of_a_run_without_one(tmp_path, capsys, tiny):
    import tandem

    tandem.train("ppo", "CartPole-v1", run_dir=str(tmp_path / "ppo"), **{**tiny.ppo, "total_steps": 512}, quiet=True)
    assert main(["collect", "--env", "CartPole-v1", "--policy", f"replay:{tmp_path / 'ppo'}", "--out",
                 str(tmp_path / "out")]) == 2
    assert "keeps no replay buffer" in capsys.readouterr().err and not (tmp_path / "out").exists()
