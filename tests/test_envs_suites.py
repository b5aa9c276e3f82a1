"""The JAX environment suites (Jumanji, XLand-MiniGrid), structured observations and action masks.

Adapter parity against each library's own step, masking against hand values and over many sampled steps,
structured observations through rollouts, replay and checkpoints, and the bad input of issue 15.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tandem
from tandem.cli import main
from tandem.envs.registry import backend_of
from tandem.errors import TandemInputError
from tandem.nets import distributions as D

pytest.importorskip("jumanji")
pytest.importorskip("xminigrid")

MASKED = "tests.envs_for_tests:MaskedChoiceEnv"


def _library_rollout(env, decode, steps: int, num_envs: int, seed: int):
    """Random valid actions through tandem's adapter and, from the same states and keys, the library's own
    step with its own reset where an episode ended: both sequences of (obs, reward, done flags)."""
    def one(key):
        k0, key = jax.random.split(key)
        state, obs = env.reset(k0)

        def body(c, k):
            state, obs = c
            k_act, k_env = jax.random.split(k)
            if env.spec.has_action_mask:
                a = jax.random.categorical(k_act, jnp.where(obs["action_mask"], 0.0, -jnp.inf))
            else:
                a = jax.random.randint(k_act, (), 0, env.spec.num_actions)
            new_state, ts = env.step(k_env, state, a)
            ref = decode(state, a, k_env)
            return (new_state, ts.obs), (ts, ref)

        return jax.lax.scan(body, (state, obs), jax.random.split(key, steps))[1]

    keys = jax.random.split(jax.random.PRNGKey(seed), num_envs)
    return jax.tree_util.tree_map(np.asarray, jax.jit(jax.vmap(one))(keys))


def test_jumanji_step_equals_the_library_step():
    from tandem.envs.jumanji_jax import JumanjiEnv

    env = JumanjiEnv("jumanji:Minesweeper-v0")
    raw = env.raw_env

    def library(state, a, key):  # Minesweeper's own (row, column) action and its own reset
        state2, ts = raw.step(state, jnp.stack(jnp.unravel_index(a, (10, 10))).astype(jnp.int32))
        last = ts.step_type == 2
        _, reset_ts = raw.reset(key)
        nxt = jax.tree_util.tree_map(lambda r, o: jnp.where(last, r, o), reset_ts.observation, ts.observation)
        return ts.observation, nxt, ts.reward, last & (ts.discount == 0), last & (ts.discount != 0)

    ts, (final, nxt, reward, term, trunc) = _library_rollout(env, library, 200, 4, 0)
    assert term.sum() >= 4  # several episodes ended within the rollout
    np.testing.assert_array_equal(ts.reward, reward)
    np.testing.assert_array_equal(ts.terminated, term)
    np.testing.assert_array_equal(ts.truncated, trunc)
    for name in ("board", "num_mines", "step_count"):
        np.testing.assert_array_equal(ts.obs[name], getattr(nxt, name))
        np.testing.assert_array_equal(ts.final_obs[name], getattr(final, name))
    np.testing.assert_array_equal(ts.obs["action_mask"], nxt.action_mask.reshape(4, 200, 100))


def test_xminigrid_step_equals_the_library_step_with_both_kinds_of_end():
    from tandem.envs.xminigrid_jax import XMiniGridEnv

    env = XMiniGridEnv("xminigrid:MiniGrid-Empty-5x5")
    raw, params = env.raw_env, env.params

    def library(ts0, a, key):
        ts = raw.step(params, ts0, a)
        last = ts.step_type == 2
        nxt = jnp.where(last, raw.reset(params, key).observation, ts.observation)
        return ts.observation, nxt, ts.reward, last & (ts.discount == 0), last & (ts.discount != 0)

    ts, (final, nxt, reward, term, trunc) = _library_rollout(env, library, 400, 8, 1)
    assert term.sum() >= 1 and trunc.sum() >= 1  # the goal reached, and the time limit (max_steps) hit
    assert (ts.final_obs.dtype, ts.obs.dtype) == (np.uint8, np.uint8)
    for got, want in ((ts.obs, nxt), (ts.final_obs, final), (ts.reward, reward), (ts.terminated, term),
                      (ts.truncated, trunc)):
        np.testing.assert_array_equal(got, want)
    assert (ts.reward[ts.terminated] > 0).all() and (ts.reward[ts.truncated & ~ts.terminated] == 0).all()


def test_masked_log_prob_and_entropy_against_hand_values():
    logits = jnp.array([1.0, 5.0, 3.0, 9.0])
    mask = jnp.array([True, False, True, False])  # the two largest logits are invalid
    ml = D.masked_logits(logits, mask)
    z = math.exp(1.0) + math.exp(3.0)
    p1, p3 = math.exp(1.0) / z, math.exp(3.0) / z
    np.testing.assert_allclose(D.categorical_log_prob(ml, jnp.int32(2)), math.log(p3), rtol=1e-6)
    np.testing.assert_allclose(D.categorical_log_prob(ml, jnp.int32(0)), math.log(p1), rtol=1e-6)
    np.testing.assert_allclose(D.categorical_entropy(ml), -(p1 * math.log(p1) + p3 * math.log(p3)), rtol=1e-6)
    assert int(jnp.argmax(ml)) == 2
    draws = D.categorical_sample(jax.random.PRNGKey(0), jnp.broadcast_to(ml, (20_000, 4)))
    assert set(np.unique(np.asarray(draws))) == {0, 2}
    np.testing.assert_allclose(np.mean(np.asarray(draws) == 2), p3, atol=0.01)
    grad = jax.grad(lambda x: D.categorical_entropy(D.masked_logits(x, mask)))(logits)
    assert np.isfinite(np.asarray(grad)).all() and grad[1] == 0 and grad[3] == 0


def _ppo_rollout(env, learner, state, num_envs: int, steps: int, key):
    """A [steps, num_envs] Transition of PPO's sampled actions on a JAX env (no training)."""
    from tandem.buffers.transition import transition

    def run(key):
        s, obs = jax.vmap(env.reset)(jax.random.split(key, num_envs))

        def body(c, k):
            s, obs = c
            k_act, k_env = jax.random.split(k)
            a, extras, _ = learner.act(state, obs, k_act, {})
            s, ts = jax.vmap(env.step)(jax.random.split(k_env, num_envs), s, a)
            return (s, ts.obs), transition(obs, a, ts, extras)

        return jax.lax.scan(body, (s, obs), jax.random.split(key, steps))[1]

    return jax.jit(run)(key)


def test_ppo_never_acts_outside_the_mask_on_a_jax_suite():
    """PPO's act (sampling) and policy (argmax) over many steps of Minesweeper: every action valid."""
    from tandem.algos import preset
    from tandem.algos.ppo.learner import make_learner
    from tandem.envs.jumanji_jax import JumanjiEnv

    env = JumanjiEnv("jumanji:Minesweeper-v0")
    learner = make_learner(preset("ppo", env.spec.id)[0], env.spec, 1)
    state = learner.init(jax.random.PRNGKey(0))
    traj = _ppo_rollout(env, learner, state, 16, 300, jax.random.PRNGKey(1))
    greedy, _ = learner.policy(state, traj.obs, {})  # [300, 16] at once
    mask = np.asarray(traj.obs["action_mask"])
    valid = np.take_along_axis(mask, np.asarray(traj.action)[..., None], -1)
    valid_greedy = np.take_along_axis(mask, np.asarray(greedy)[..., None], -1)
    assert valid.size == 4800 and valid.all() and valid_greedy.all()


def test_a_gymnasium_mask_in_info_is_respected(train_ppo):
    """MaskedChoiceEnv raises on any invalid action: training and evaluation run through, and learn it."""
    run = train_ppo(MASKED, total_steps=8192, update_epochs=4, lr=3e-3, eval_episodes=4)
    spec = backend_of(MASKED).spec(MASKED)
    assert spec.describe_obs() == "{action_mask: (6,) bool, obs: (6,) float32}"
    assert run.summary["final_eval_return"] >= 18  # of 20: the rewarded action is found among the valid ones
    policy = tandem.load_policy(run.run_dir)  # takes the same dict, one observation or a batch
    mask = np.array([[1, 0, 0, 1, 1, 0]] * 2, bool)
    actions = policy({"obs": np.eye(6, dtype=np.float32)[[0, 1]], "action_mask": mask})
    assert actions[0] == 0 and mask[1, actions[1]]  # the rewarded action; a valid one when it is masked out
    assert policy({"obs": np.eye(6, dtype=np.float32)[3], "action_mask": mask[0]}) == 3
    with pytest.raises(TandemInputError, match=r"expected a dict with fields \['action_mask', 'obs'\]"):
        policy(np.eye(6, dtype=np.float32)[3])


def test_replay_stores_structured_observations_field_by_field():
    from tandem.buffers.replay import replay_add, replay_init, replay_sample

    fields = {"obs": {"board": ((2, 2), jnp.int32), "action_mask": ((3,), jnp.bool_)}, "reward": ((), jnp.float32)}
    buf = replay_init(8, fields)
    rows = {"obs": {"board": jnp.arange(16, dtype=jnp.int32).reshape(4, 2, 2),
                    "action_mask": jnp.array([[1, 0, 1]] * 4, bool)}, "reward": jnp.arange(4.0)}
    buf = jax.jit(replay_add)(replay_add(buf, rows), rows)
    assert buf.data["obs"]["board"].dtype == jnp.int32 and buf.data["obs"]["action_mask"].dtype == jnp.bool_
    sample = replay_sample(buf, jax.random.PRNGKey(0), 64)
    i = np.asarray(sample["reward"]).astype(int)  # row k holds board k and reward k
    np.testing.assert_array_equal(np.asarray(sample["obs"]["board"]), np.arange(16).reshape(4, 2, 2)[i])
    with pytest.raises(ValueError, match=r"field \"obs\['board'\]\" shape \(4, 3\) does not match expected"):
        replay_add(buf, {**rows, "obs": {**rows["obs"], "board": jnp.zeros((4, 3), jnp.int32)}})


def test_normalize_obs_on_a_structured_observation_is_per_field_and_leaves_the_mask():
    """--normalize-obs on Minesweeper: running statistics per field (the mask excluded), merged from each rollout."""
    import dataclasses

    from tandem.algos import preset
    from tandem.algos.ppo.learner import make_learner
    from tandem.envs.jumanji_jax import JumanjiEnv

    env = JumanjiEnv("jumanji:Minesweeper-v0")
    cfg = dataclasses.replace(preset("ppo", env.spec.id)[0], normalize_obs=True, num_envs=4, num_steps=32,
                              num_minibatches=2)
    learner = make_learner(cfg, env.spec, 1)
    state = learner.init(jax.random.PRNGKey(0))
    assert sorted(state.obs_rms) == ["board", "num_mines", "step_count"]

    batch = _ppo_rollout(env, learner, state, 4, 32, jax.random.PRNGKey(1))
    new, _ = learner.learn(state, batch, jax.random.PRNGKey(2))
    steps = np.asarray(batch.obs["step_count"], np.float64)
    np.testing.assert_allclose(new.obs_rms["step_count"].mean, steps.mean(), rtol=1e-4)
    np.testing.assert_allclose(new.obs_rms["step_count"].var, steps.var(), rtol=1e-3)
    np.testing.assert_allclose(new.obs_rms["board"].mean, np.asarray(batch.obs["board"], np.float64).mean((0, 1)),
                               rtol=1e-4, atol=1e-6)


def test_network_inputs_route_each_field():
    """board=conv:4+step_count=none|mlp:8 on a dict observation: the parameters a hand count gives, and the
    unused field has no effect on the output."""
    from tandem.nets.spec import NetworkSpec, network, num_params

    obs_struct = {"board": jax.ShapeDtypeStruct((5, 5), jnp.int32), "step_count": jax.ShapeDtypeStruct((), jnp.int32),
                  "action_mask": jax.ShapeDtypeStruct((3,), jnp.bool_)}
    spec = NetworkSpec.from_text("board=conv:4+step_count=none|mlp:8", "relu", 3, 1.0)
    assert spec.to_string() == "board=conv:4+step_count=none|mlp:8"
    assert NetworkSpec.from_dict(spec.to_dict()) == spec
    net = network(spec, obs_struct)
    obs = {"board": jnp.ones((2, 5, 5), jnp.int32), "step_count": jnp.zeros((2,), jnp.int32),
           "action_mask": jnp.ones((2, 3), bool)}
    params = net.init(jax.random.PRNGKey(0), obs)
    conv = 3 * 3 * 1 * 4 + 4
    mlp = 5 * 5 * 4 * 8 + 8
    head = 8 * 3 + 3
    assert num_params(params) == conv + mlp + head
    other = {**obs, "step_count": jnp.full((2,), 77, jnp.int32)}
    np.testing.assert_array_equal(net.apply(params, obs), net.apply(params, other))
    default = network(NetworkSpec.from_text("mlp:8", "relu", 3, 1.0), obs_struct)  # all fields but the mask
    assert num_params(default.init(jax.random.PRNGKey(0), obs)) == (25 + 1) * 8 + 8 + head


@pytest.mark.parametrize("args, needle", [
    (["--env", "jumanji:Snake-v9"], "Jumanji has no environment 'Snake-v9'. Allowed: jumanji:BinPack-v2"),
    (["--env", "xminigrid:MiniGrid-Nope"], "XLand-MiniGrid has no environment 'MiniGrid-Nope'. Allowed: "),
    (["--env", "jumanji:Sokoban-v0"], "downloads its Boxoban level set .* The other Jumanji environments need no "
                                      "download: jumanji:BinPack-v2"),
    (["--env", "jumanji:Cleaner-v0"], r"action_mask of shape \(3, 4\) does not match the action's choices"),
    (["--env", "tests.envs_for_tests:WrongMaskEnv"], r"action_mask of shape \(7,\) does not match the 6 actions"),
    (["--env", "jumanji:Minesweeper-v0", "--actor-net", "board|mlp:8"],
     "--actor-net 'board|mlp:8': the inputs do not cover the observation field.s. num_mines, step_count"),
    (["--env", "jumanji:Minesweeper-v0", "--critic-net", "bord+num_mines+step_count|mlp:8"],
     "--critic-net .*: the observation has no field 'bord'; its fields: action_mask, board"),
    (["--env", "jumanji:Minesweeper-v0", "--actor-net", "step_count=conv:4+board+num_mines|mlp"],
     r"block 'conv' takes an image or a grid .* but field 'step_count' has shape \(\)"),
    (["--env", "gymnax:CartPole-v1", "--actor-net", "conv:8>mlp:8"], r"block 'conv' takes an image .* the observation has shape \(4,\)"),
    (["--env", "gymnax:CartPole-v1", "--actor-net", "obs|mlp:8"], "an inputs section .* is for structured observations"),
])
def test_bad_input_exits_2_before_anything_is_written(tmp_path, capsys, args, needle):
    run_dir = tmp_path / "run"
    code = main(["train", "ppo", *args, "--total-steps", "256", "--run-dir", str(run_dir), "--quiet"])
    assert code == 2
    assert not run_dir.exists()
    import re

    assert re.search(needle, capsys.readouterr().err), capsys.readouterr().err


def test_check_env_reports_the_fields_of_a_suite(capsys):
    assert main(["check-env", "jumanji:Snake-v1", "--steps", "50"]) == 0
    out = capsys.readouterr().out
    assert "jumanji:Snake-v1: OK (50 steps, obs {action_mask: (4,) bool, grid: (12, 12, 5) float32" in out
    assert "actions Discrete(4) with an action_mask" in out
    assert main(["check-env", "xminigrid:MiniGrid-DoorKey-8x8", "--steps", "50"]) == 0
    assert "obs (7, 7, 2) uint8, actions Discrete(6)" in capsys.readouterr().out


def test_check_env_samples_within_a_gymnasium_mask_and_checks_it(capsys):
    """MaskedChoiceEnv raises on an invalid action: check-env's random actions respect info['action_mask']; a mask of
    the wrong shape is reported; a Dict observation is checked field by field."""
    assert main(["check-env", MASKED]) == 0
    assert main(["check-env", "tests.envs_for_tests:WrongMaskEnv", "--steps", "20"]) == 1
    assert "info['action_mask']: expected 6 booleans (one per action of Discrete(6)), got shape (7,) bool" in \
        capsys.readouterr().out
    assert main(["check-env", "tests.envs_for_tests:DictGoalEnv", "--steps", "60"]) == 0


def test_a_missing_suite_package_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "jumanji", None)  # as if not installed: importing it raises ImportError
    with pytest.raises(TandemInputError, match=r"needs the jumanji package .* pip install 'tandem-rl\[suites\]'"):
        backend_of("jumanji:Snake-v1").spec("jumanji:Snake-v1")
