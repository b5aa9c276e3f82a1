"""Strategies on tables: NAS-Bench-Graph's space and lookups against the package's own, the query budget, the grid
sweep, and a sweep's record read back as a table."""

import itertools
import json

import numpy as np
import pytest

from tandem.errors import TandemInputError
from tandem.search.space import Arch, parse_space
from tandem.search.strategies import STRATEGIES, GridSearch
from tandem.search.tabular import GraphArch, GraphBench, GraphSpace, SweepTable, run_queries

nbg = pytest.importorskip("nas_bench_graph")


@pytest.fixture(scope="module")
def cora():
    return GraphBench("cora")


def test_graph_queries_match_the_packages_lookups(cora):
    # The package README's DAG (gcn on the input; gin and cheb on gcn; fc on gin) in two node orders is one entry.
    # (The README's second order, links [0, 1, 1, 2], feeds fc from cheb: another DAG.)
    a = GraphArch((0, 1, 2, 1), ("gcn", "gin", "fc", "cheb"))
    b = GraphArch((0, 1, 1, 3), ("gcn", "cheb", "gin", "fc"))
    assert cora.query(a) == cora.query(b)
    entry = cora.table[nbg.Arch([0, 1, 2, 1], ["gcn", "gin", "fc", "cheb"]).valid_hash()]
    assert cora.query(a) == (entry["valid_perf"], entry["perf"])
    # Hash 0 is four GATs on the input (links [0,0,0,0], operation index 0): the table's own key.
    assert cora.query(GraphArch((0, 0, 0, 0), ("gat",) * 4)) == (cora.table[0]["valid_perf"], cora.table[0]["perf"])
    # The all-skip network is no GNN: not in the table, scored 0 as NNI's evaluator does.
    assert cora.query(GraphArch((0, 0, 1, 2), ("skip",) * 4)) == (0.0, 0.0)
    space, rng = GraphSpace(), np.random.default_rng(0)
    for _ in range(300):
        arch = space.sample(rng)
        assert space.decode(space.encode(arch)) == arch
        if set(arch.ops) != {"skip"}:
            e = cora.table[nbg.Arch(list(arch.links), list(arch.ops)).valid_hash()]
            assert cora.query(arch) == (float(e["valid_perf"]), float(e["perf"]))


def test_graph_space_reaches_every_table_entry(cora):
    """The 24 x 9^4 choice vectors reach all 26,206 architectures of the table, and nothing else."""
    space = GraphSpace()
    assert space.size == 2 * 3 * 4 * 9**4 == 157_464
    hashes = set()
    for l1, l2, l3 in itertools.product(range(2), range(3), range(4)):
        for ops in itertools.product(space.ops, repeat=4):
            if set(ops) != {"skip"}:
                hashes.add(nbg.Arch([0, l1, l2, l3], list(ops)).valid_hash())
    assert hashes == set(cora.table) and len(hashes) == 26_206
    assert cora.best_by_validation() == max(((e["valid_perf"], e["perf"]) for e in cora.table.values()))


@pytest.mark.parametrize("name", ["random", "evolution", "controller"])
def test_run_queries_spends_exactly_the_budget_on_distinct_architectures(cora, name):
    space = GraphSpace()
    history = run_queries(STRATEGIES[name](space, 3, 5), lambda a: cora.query(a)[0], 23, 5)
    assert len(history) == 23 and len({a for a, _ in history}) == 23
    assert all(s == cora.query(a)[0] for a, s in history)
    again = run_queries(STRATEGIES[name](space, 3, 5), lambda a: cora.query(a)[0], 23, 5)
    assert again == history  # deterministic given the seed


def test_a_strategy_repeating_itself_costs_no_queries_and_stops():
    class Stuck:
        def __init__(self):
            self.observed = 0

        def propose(self, n):
            return [GraphArch((0, 0, 0, 0), ("gcn",) * 4)] * n

        def observe(self, archs, scores):
            self.observed += 1

    s = Stuck()
    history = run_queries(s, lambda a: 0.5, 10, 4, max_rounds=7)
    assert len(history) == 1 and s.observed == 7


def test_grid_proposes_every_architecture_once():
    space = parse_space("actor=mlp:1-2x4,8,16;activation=tanh,relu")
    archs = GridSearch(space).propose(space.size)
    assert len(set(archs)) == space.size == len(list(space.enumerate()))
    assert set(archs) == set(space.enumerate())
    again = GridSearch(space).propose(space.size + 2)
    assert again[space.size:] == archs[:2]  # after the last, from the first again


def _sweep_record(space_text, returns):
    space = parse_space(space_text)
    members = []
    for i, a in enumerate(space.enumerate()):
        params = sum(w for w in a.actor) * 10
        members.append({"member": i, "arch": a.to_dict(), "spec": a.label(), "actor_params": params,
                        "mean_return": float(np.mean(returns(a))), "returns": list(returns(a)), "seeds": [0, 1],
                        "steps": 2000})
    return {"algo": "ppo", "env": "gymnax:CartPole-v1", "space": space.to_string(), "members": members}


def test_sweep_table_finds_p_star_and_refuses_an_incomplete_sweep(tmp_path):
    record = _sweep_record("actor=mlp:1-2x2,4,8", lambda a: [100.0 * sum(a.actor) / 8, 100.0 * sum(a.actor) / 8])
    (tmp_path / "search.json").write_text(json.dumps(record))
    table = SweepTable(tmp_path)
    star = table.smallest_reaching(100.0)  # reaching: widths summing to >= 8; fewest params: (8,) ties (4, 4)
    assert Arch.from_dict(star["arch"]) in {Arch((8,)), Arch((4, 4))} and star["actor_params"] == 80
    assert table.smallest_reaching(1e9) is None
    record["members"] = record["members"][:-1]
    (tmp_path / "search.json").write_text(json.dumps(record))
    with pytest.raises(TandemInputError, match="11 of the space's 12"):
        SweepTable(tmp_path)


def test_unknown_graph_dataset_is_named():
    with pytest.raises(TandemInputError, match="'karate'.*allowed: cora"):
        GraphBench("karate")
