"""Strategies on tabular benchmarks: every architecture's score is looked up, so a search costs queries, not training.

Two tables:

- **NAS-Bench-Graph** (Qin et al. 2022, PyPI ``nas-bench-graph``, shipped with the package, offline): 26,206 GNN
  architectures trained on nine graph datasets. An architecture is a DAG of four computing nodes, node i fed by
  node ``links[i]`` (0 the input; node 0 always reads the input, node 1 one of {0, 1}, node 2 one of {0, 1, 2},
  node 3 one of {0, ..., 3}) and computing one of nine operations; leaves feed the output. These 24 x 9^4 =
  157,464 choice vectors are NNI's encoding of the space (the package's ``runnni.py``); the package's own
  ``Arch.valid_hash`` maps isomorphic ones to one table entry. The all-``skip`` network is no GNN: it is not in
  the table and scores 0, as in NNI's evaluator.
- **A sweep** (:class:`SweepTable`): the ``search.json`` of a ``tandem search --strategy grid`` run, which trained
  every architecture of its space. A strategy replaying it gets, for each architecture it proposes, the very
  returns training would have given (training is deterministic given the architecture and its seeds), so
  strategies are compared at equal budgets without retraining.

:func:`run_queries` drives any strategy of search/strategies.py against a score function. An architecture asked
for again is answered from the record and costs no query, as in ``tandem search`` (where a repeat costs no steps).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Callable

import numpy as np

from tandem.errors import TandemInputError
from tandem.search.space import Arch, parse_space

GRAPH_DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv")
"""The datasets with the full 9-operation space (``proteins`` uses 5 operations and is left out)."""
LINK_OPTIONS = (2, 3, 4)  # node 1, 2, 3 may read any node before it (node 0 reads the input)


@dataclasses.dataclass(frozen=True)
class GraphArch:
    """A NAS-Bench-Graph architecture: the input of each node (0: the graph's features) and each node's operation."""

    links: tuple[int, int, int, int]
    ops: tuple[str, str, str, str]

    def label(self) -> str:
        """``links=0,0,1,2;ops=gcn,gat,skip,fc``."""
        return f"links={','.join(map(str, self.links))};ops={','.join(self.ops)}"

    def to_dict(self) -> dict:
        """Plain data."""
        return {"links": list(self.links), "ops": list(self.ops)}


class GraphSpace:
    """NAS-Bench-Graph's space as decisions (three links, four operations), with the interface strategies use
    (``decisions``, ``active``, ``encode``, ``decode``, ``canonical``, ``sample``, ``size``)."""

    def __init__(self):
        from nas_bench_graph.architecture import gnn_list

        self.ops = tuple(gnn_list)

    @property
    def size(self) -> int:
        """157,464 choice vectors (26,206 architectures up to isomorphism)."""
        return math.prod(self.decisions())

    def decisions(self) -> list[int]:
        """Options per decision: node 1's, 2's and 3's input, then the four operations."""
        return list(LINK_OPTIONS) + [len(self.ops)] * 4

    def active(self, choices) -> list[bool]:
        """Every decision matters."""
        return [True] * 7

    def canonical(self, choices) -> list[int]:
        """The choices themselves (isomorphic vectors are distinct points that the table maps to one entry)."""
        return [int(c) for c in choices]

    def decode(self, choices) -> GraphArch:
        """The architecture of a choice vector."""
        c = [int(x) for x in choices]
        return GraphArch((0, c[0], c[1], c[2]), tuple(self.ops[i] for i in c[3:7]))

    def encode(self, arch: GraphArch) -> list[int]:
        """The choice vector of an architecture."""
        return list(arch.links[1:]) + [self.ops.index(o) for o in arch.ops]

    def sample(self, rng: np.random.Generator) -> GraphArch:
        """A uniform choice vector."""
        return self.decode([int(rng.integers(k)) for k in self.decisions()])

    def to_string(self) -> str:
        """A name for reports."""
        return "nas-bench-graph"


class GraphBench:
    """One dataset's table: validation and test accuracy of each architecture, through the package's lookup."""

    def __init__(self, dataset: str):
        if dataset not in GRAPH_DATASETS:
            raise TandemInputError(f"NAS-Bench-Graph dataset {dataset!r} is unknown; allowed: {', '.join(GRAPH_DATASETS)}.")
        import nas_bench_graph

        self.dataset = dataset
        self.table = nas_bench_graph.light_read(dataset)  # the package's reader of its shipped table

    def query(self, arch: GraphArch) -> tuple[float, float]:
        """(validation accuracy, test accuracy); (0, 0) for the all-skip network, which the table does not hold."""
        from nas_bench_graph.architecture import Arch as PackageArch

        if all(o == "skip" for o in arch.ops):
            return 0.0, 0.0
        entry = self.table[PackageArch(list(arch.links), list(arch.ops)).valid_hash()]
        return float(entry["valid_perf"]), float(entry["perf"])

    def best_by_validation(self) -> tuple[float, float]:
        """The whole table's best validation accuracy and that architecture's test accuracy (the oracle)."""
        best = max(self.table.values(), key=lambda e: e["valid_perf"])
        return float(best["valid_perf"]), float(best["perf"])


class SweepTable:
    """The record of a grid search (every architecture of its space trained): space and per-seed returns."""

    def __init__(self, path: Path):
        path = Path(path)
        record_path = path / "search.json" if path.is_dir() else path
        try:
            record = json.loads(record_path.read_text())
        except FileNotFoundError:
            raise TandemInputError(f"{str(record_path)!r}: no such file (a tandem search run's search.json).") from None
        self.record, self.space = record, parse_space(record["space"])
        self.members = {json.dumps(m["arch"], sort_keys=True): m for m in record["members"]}
        if len(self.members) < self.space.size:
            raise TandemInputError(f"{str(record_path)!r} holds {len(self.members)} of the space's {self.space.size} "
                                   f"architectures; a sweep must have trained all of them (--strategy grid).")

    def member(self, arch: Arch) -> dict:
        """The record of one architecture."""
        return self.members[json.dumps(arch.to_dict(), sort_keys=True)]

    def smallest_reaching(self, target: float) -> dict | None:
        """P*: the member with the fewest actor parameters whose mean return reaches ``target`` (None if none)."""
        reaching = [m for m in self.members.values() if m["mean_return"] >= target]
        return min(reaching, key=lambda m: (m["actor_params"], -m["mean_return"])) if reaching else None


def run_queries(strategy, score_of: Callable[[object], float], queries: int, batch: int,
                max_rounds: int | None = None) -> list[tuple[object, float]]:
    """Rounds of ``propose(batch)`` and ``observe`` until ``queries`` distinct architectures were scored; returns
    the distinct (architecture, score) pairs in the order first queried. In the round where the budget ends, the
    architectures past it are not queried and the round is not observed (as in ``tandem search``). A strategy that
    keeps proposing known architectures stops after ``max_rounds`` rounds (default 20 x queries / batch)."""
    tried: dict = {}
    max_rounds = max_rounds if max_rounds is not None else 20 * math.ceil(queries / batch)
    for _ in range(max_rounds):
        if len(tried) >= queries:
            break
        archs = strategy.propose(batch)
        for a in archs:
            if a not in tried and len(tried) < queries:
                tried[a] = float(score_of(a))
        if any(a not in tried for a in archs):  # the budget ended inside this round
            break
        strategy.observe(archs, [tried[a] for a in archs])
    return list(tried.items())
