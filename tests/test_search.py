"""Architecture search: spaces, exact padding of population members, strategies, the controller, the command."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tandem
from tandem.errors import TandemInputError
from tandem.search.space import DEFAULT_SPACE, Arch, parse_space

TINY_SEARCH = dict(total_steps=2048, num_envs=4, num_steps=64, num_minibatches=2, update_epochs=2, eval_episodes=2,
                   tensorboard=False, log_every=2, checkpoint_every=4)


# -- spaces ---------------------------------------------------------------------------------------
def test_space_sizes_by_hand_and_enumeration():
    assert parse_space(DEFAULT_SPACE).size == 7 + 7**2 + 7**3 + 7**4 == 2800
    sp = parse_space("actor=mlp:0-2x4,8;activation=tanh,relu")
    assert sp.size == (1 + 2 + 4) * 2
    archs = list(sp.enumerate())
    assert len(archs) == len(set(archs)) == 14
    assert Arch((), None, "relu") in archs and Arch((8, 4), None, "tanh") in archs
    both = parse_space("actor=mlp:1x4,8,16;critic=mlp:1-2x32,64")
    assert both.size == 3 * (2 + 4)
    for a in both.enumerate():
        assert both.decode(both.encode(a)) == a
        assert both.encode(a) == both.canonical(both.encode(a))
    assert parse_space(both.to_string()) == both


def test_space_json_equals_compact(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"actor": {"depth": [1, 2], "widths": [16, 4]}, "activation": ["relu", "tanh"]}))
    assert parse_space(str(path)) == parse_space("actor=mlp:1-2x4,16;activation=relu,tanh")
    assert parse_space(str(path)).to_dict() == {"actor": {"depth": [1, 2], "widths": [4, 16]},
                                                "activation": ["relu", "tanh"]}


@pytest.mark.parametrize("text, token", [
    ("", "empty"), ("actor=mlp:1-4", "mlp:DEPTHSxWIDTHS"), ("actor=conv:1x4", "'conv'"),
    ("actor=mlp:1x0,4", "width 0"), ("actor=mlp:3-1x4", "depths 3-1"), ("policy=mlp:1x4", "'policy'"),
    ("actor=mlp:1x4,8;activation=sigmoid", "'sigmoid'"), ("actor=mlp:1x4", "nothing to search"),
    ("actor=mlp:1xa", "not an integer"), ("actor=mlp:1x4,4", "twice"), ("nope.json", "no such file"),
])
def test_malformed_space_names_the_token(text, token):
    with pytest.raises(TandemInputError, match=token.replace("(", r"\(")):
        parse_space(text)


# -- exact padding --------------------------------------------------------------------------------
def test_padded_member_equals_its_own_network_outputs_and_gradients():
    """A (8, 4) actor and (16,) critic zero-padded into (32, 16) / (64,) networks: same outputs and gradients on
    the same parameters, and the gradient of every padded entry exactly 0 (so the optimizers keep it at 0)."""
    from tandem.algos import get_algo
    from tandem.algos.onpolicy import actor_critic
    from tandem.envs import env_spec
    from tandem.search.population import cut_to, pad_to

    spec = env_spec("gymnax:CartPole-v1")
    algo = get_algo("ppo")

    def ac(actor, critic, activation):
        cfg = algo.config_cls(actor_net=actor, critic_net=critic, activation=activation)
        return actor_critic(cfg, spec, 1)

    obs = jax.random.normal(jax.random.PRNGKey(1), (64, 4))
    for activation in ("tanh", "relu", "gelu"):
        small, big = ac("mlp:8,4", "mlp:16", activation), ac("mlp:32,16", "mlp:64", activation)
        own = small.init(jax.random.PRNGKey(0)).params
        template = big.init(jax.random.PRNGKey(0)).params
        padded = jax.tree_util.tree_map(jnp.asarray, pad_to(own, template))

        def loss(net, params):
            logits = net.dist_params(params, obs)
            return jnp.sum(jax.nn.log_softmax(logits)[:, 0]) + jnp.sum(jnp.tanh(net.value_fn(params, obs)))

        np.testing.assert_allclose(big.dist_params(padded, obs), small.dist_params(own, obs), atol=1e-6)
        np.testing.assert_allclose(big.value_fn(padded, obs), small.value_fn(own, obs), atol=1e-6)
        g_own, g_big = jax.grad(lambda p: loss(small, p))(own), jax.grad(lambda p: loss(big, p))(padded)
        for a, b in zip(jax.tree_util.tree_leaves(g_own), jax.tree_util.tree_leaves(cut_to(g_big, g_own))):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        # every padded entry: exactly zero gradient
        rest = jax.tree_util.tree_map(lambda g, z: np.asarray(g) * (np.asarray(z) == 0),
                                      g_big, pad_to(jax.tree_util.tree_map(np.ones_like, own), template))
        assert all(float(np.abs(x).max()) == 0.0 for x in jax.tree_util.tree_leaves(rest)), activation
    from tandem.nets.mlp import ACTIVATION_FNS

    assert all(float(f(jnp.zeros(()))) == 0.0 for f in ACTIVATION_FNS.values())  # what the padding relies on


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    """A bucket of (8,), (32,), (8,) actors (seed 0) and the standalone run of (8,) with seed 0."""
    from tandem.search.population import Trainer

    root = tmp_path_factory.mktemp("population")
    trainer = Trainer("ppo", "gymnax:CartPole-v1", TINY_SEARCH, (0,))
    archs = [Arch((8,)), Arch((32,)), Arch((8,))]
    results = trainer.train(archs, root / "pop")
    alone = tandem.train("ppo", "gymnax:CartPole-v1", actor_net="mlp:8", seed=0, run_dir=str(root / "alone"),
                         **TINY_SEARCH)
    member = trainer.write_member(root / "pop", archs, 0, root / "member0")
    return trainer, archs, results, alone, member, root


def test_population_members_train_as_they_would_alone(population):
    trainer, archs, results, alone, member, root = population
    # identical members with the same seed: identical results; both as the standalone run
    assert results[0].returns == results[2].returns
    np.testing.assert_allclose(results[0].returns, alone.summary["final_eval_return_per_seed"], rtol=1e-6)
    assert results[0].actor_params == alone.summary["num_params_actor"]
    assert results[1].actor_params == 4 * 32 + 32 + 32 * 2 + 2
    mine = tandem.load_policy(member)
    for a, b in zip(jax.tree_util.tree_leaves(mine._state.params), jax.tree_util.tree_leaves(alone.policy._state.params)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    obs = np.random.default_rng(0).normal(size=(500, 4)).astype(np.float32)
    assert (mine(obs) == alone.policy(obs)).all()


def test_padded_weights_stay_exactly_zero_through_training(population):
    from tandem.io.checkpoint import latest_checkpoint, read_manifest

    trainer, archs, results, alone, member, root = population
    bucket = root / "pop" / "bucket-0"
    ckpt = latest_checkpoint(bucket / "checkpoints")
    assert read_manifest(ckpt)["counters"]["env_steps"] == 2048
    policy = tandem.load_policy(bucket, seed_index=0)  # position 0: the (8,) member in a (32,) network
    kernel = np.asarray(policy._state.params["actor"]["net"]["params"]["MLP_0"]["Dense_0"]["kernel"])
    head = np.asarray(policy._state.params["actor"]["net"]["params"]["head"]["kernel"])
    assert kernel.shape == (4, 32) and np.all(kernel[:, 8:] == 0) and np.all(head[8:] == 0)
    assert np.abs(kernel[:, :8]).min() > 0  # trained, not zero


# -- strategies -----------------------------------------------------------------------------------
def test_evolution_ages_and_mutates_within_the_space():
    from tandem.search.strategies import RegularisedEvolution, mutate

    sp = parse_space("actor=mlp:1-3x4,8,16;activation=tanh,relu")
    rng = np.random.default_rng(0)
    for a in list(sp.enumerate())[::7]:
        for _ in range(5):
            b = mutate(sp, a, rng)
            assert b != a and b in set(sp.enumerate())
            ca, cb = sp.encode(a), sp.encode(b)
            changed = [i for i, (x, y) in enumerate(zip(ca, cb)) if x != y]
            depth_changed = (len(a.actor) != len(b.actor))
            assert depth_changed or len(changed) == 1  # one width or the activation, else the depth (and new widths)
    evo = RegularisedEvolution(sp, seed=3, population=4, sample=2)
    first = evo.propose(4)
    evo.observe(first, [1.0, 2.0, 3.0, 4.0])
    children = evo.propose(2)
    evo.observe(children, [0.0, 0.0])
    assert [m[0] for m in evo.population] == first[2:] + children  # the two oldest died, not the two worst


def toy_score(a: Arch) -> float:
    """A synthetic score table with one known best: the single layer of 16."""
    return -abs(math.log2(a.actor[0]) - 4) - 2 * (len(a.actor) - 1)


def rounds_to_optimum(name, seed, space, batch=8, rounds=12):
    from tandem.search.strategies import STRATEGIES

    st = STRATEGIES[name](space, seed, batch)
    for r in range(rounds):
        archs = st.propose(batch)
        scores = [toy_score(a) for a in archs]
        st.observe(archs, scores)
        if max(scores) == 0:
            return r + 1
    return rounds + 1


def test_controller_finds_the_optimum_of_a_toy_space_faster_than_random():
    sp = parse_space("actor=mlp:1-3x4,8,16,32,64")  # 155 architectures, one best
    controller = [rounds_to_optimum("controller", s, sp) for s in range(5)]
    random = [rounds_to_optimum("random", s, sp) for s in range(5)]
    assert np.median(controller) < np.median(random), (controller, random)


def test_controller_log_probabilities_and_policy_gradient_step():
    from tandem.search.controller import Controller

    sp = parse_space("actor=mlp:1-2x4,8,16")
    c = Controller(sp, seed=0, batch=4)
    archs = c.propose(4)
    # the log-probability of each proposal, summed from the learner's own act(), equals log_prob()
    acted = np.sum([np.asarray(ex["log_prob"]) for ex in c._pending[2]], axis=0)
    np.testing.assert_allclose([c.log_prob(a) for a in archs], acted, atol=1e-5)
    # a depth-1 actor: its second width is forced (one option), so it costs nothing; at initialisation the policy
    # is near uniform (head gain 0.01): log pi = log(1/2) + log(1/3)
    np.testing.assert_allclose(c.log_prob(Arch((8,))), math.log(1 / 2) + math.log(1 / 3), atol=0.02)
    # one PPO step rewarding the first proposal most raises its probability
    assert archs[0] != archs[3]  # seed 0's first batch: distinct first and last proposals
    before = c.log_prob(archs[0])
    c.observe(archs, [10.0, 0.0, 0.0, -10.0])
    assert c.log_prob(archs[0]) > before


# -- the command ----------------------------------------------------------------------------------
def run_cli(*args):
    """``tandem ARGS`` in this process (its exit code and output), sparing the suite a JAX start-up per call."""
    import contextlib
    import io
    import types

    from tandem.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse's own errors
            code = e.code
    return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.mark.parametrize("flags, message", [
    (["--strategy", "bayes"], "--strategy 'bayes' is unknown; allowed: random, evolution, grid, controller"),
    (["--objective", "fastest"], "--objective 'fastest' is unknown"),
    (["--objective", "smallest-reaching"], "needs --target"),
    (["--space", "actor=mlp:1-2xq"], "not an integer"),
    (["--budget-steps", "1000"], "below one architecture's training"),
    (["--lr", "-1"], "--lr"),
    (["--num-seeds", "3"], "--num-seeds is set by the search itself"),
])
def test_search_bad_input_exits_2_before_writing(tmp_path, flags, message):
    args = ["search", "ppo", "--env", "gymnax:CartPole-v1", "--budget-steps", "100000", "--total-steps", "2048",
            "--run-dir", str(tmp_path / "s")]
    r = run_cli(*(args + flags))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr, r.stderr
    assert not (tmp_path / "s").exists()


def test_search_writes_records_front_members_and_resumes(tmp_path):
    """Two rounds of two architectures; then the second round is forgotten and the search resumed: it replays the
    first, proposes the same second round and retrains it to the same returns."""
    from tandem.search.run import SearchConfig, pareto_front, search

    cfg = SearchConfig("ppo", "gymnax:CartPole-v1", "actor=mlp:1x4,8,16,32", "evolution", 4 * 2048, "pareto",
                       batch=2, overrides={k: v for k, v in TINY_SEARCH.items()})
    run_dir = tmp_path / "s"
    front = search(cfg, run_dir)
    record = json.loads((run_dir / "search.json").read_text())
    assert record["steps"] == 4 * 2048 and len(record["rounds"]) == 2 and record["space_size"] == 4
    members = record["members"]
    assert len({json.dumps(m["arch"]) for m in members}) == len(members) == 4
    idx = pareto_front([(m["actor_params"], m["mean_return"]) for m in members])
    assert sorted(m["member"] for m in front) == sorted(members[i]["member"] for i in idx)
    for m in front:  # each front member: a run directory tandem reads
        ev = tandem.api.evaluate(run_dir / "members" / str(m["member"]), episodes=2)
        assert ev["episodes"] == 2
    k = front[0]["member"]  # a front member exported from the search directory: the same actions as tandem's policy
    out = tmp_path / "member_policy.py"
    r = run_cli("export", str(run_dir), "--member", str(k), "--format", "numpy", "-o", str(out))
    assert r.returncode == 0, r.stderr
    import importlib.util

    module_spec = importlib.util.spec_from_file_location("member_policy", out)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    obs = np.random.default_rng(1).normal(size=(200, 4)).astype(np.float32)
    assert (np.asarray(module.act(obs)) == tandem.load_policy(run_dir / "members" / str(k))(obs)).all()
    off = [m for m in members if not m["on_front"]]
    assert all(not (run_dir / "members" / str(m["member"])).exists() for m in off)
    assert (run_dir / "pareto.png").stat().st_size > 1000
    r = run_cli("plot", str(run_dir), "-o", str(tmp_path / "front.png"))
    assert r.returncode == 0 and (tmp_path / "front.png").stat().st_size > 1000, r.stderr
    rows = (run_dir / "pareto.csv").read_text().splitlines()
    assert rows[0] == "member,spec,actor_params,params,mean_return,on_front" and len(rows) == 5
    # forget round 1 (and its buckets' summaries: as if interrupted after training, before scoring)
    second = [m for m in members if m["round"] == 1]
    record["rounds"], record["members"], record["steps"] = record["rounds"][:1], members[:2], 2 * 2048
    (run_dir / "search.json").write_text(json.dumps(record))
    r = run_cli("search", "--resume", str(run_dir), "--quiet")
    assert r.returncode == 0, r.stderr
    again = json.loads((run_dir / "search.json").read_text())
    assert [m["returns"] for m in again["members"][2:]] == [m["returns"] for m in second]
    r = run_cli("search", "--resume", str(run_dir), "--lr", "0.1")
    assert r.returncode == 2 and "allowed with it: --quiet" in r.stderr
