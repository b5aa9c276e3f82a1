"""Search strategies at equal budgets on tables: NAS-Bench-Graph, and sweeps that trained a whole RL space.

``graph``: on NAS-Bench-Graph datasets (shipped with PyPI ``nas-bench-graph``), each strategy gets ``--queries``
architecture lookups per search, over ``--seeds`` search seeds; the reported figure is the test accuracy of the
architecture it found best by validation accuracy (mean and 95% t interval over seeds), against the whole
space's best-by-validation architecture.

``sweep``: given the run directory of a ``tandem search --strategy grid`` sweep (every architecture of its space
trained, per-seed returns recorded) and the env's threshold, P* is the smallest actor whose mean return reaches
it. Each strategy then searches the sweep's table with ``--fraction`` of the sweep's environment steps (every
architecture costs the same steps, so that many architectures) under ``--objective smallest-reaching``, over
``--seeds`` search seeds; reported: the smallest reaching actor each search found, its ratio to P*, the median
ratio and how many searches came within 1.5x.

    python benchmarks/bench_search_strategies.py graph --datasets cora citeseer pubmed --queries 100 --seeds 20
    python benchmarks/bench_search_strategies.py sweep runs/sweep-cartpole --target 475 --fraction 0.25 --seeds 5

``--marker FILE`` writes the section into a Markdown file between ``<!-- bench_search_<name> -->`` markers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import statistics
import time
from pathlib import Path

import numpy as np

STRATEGY_NAMES = ("random", "evolution", "controller")


def _machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _interval(xs: list[float]) -> float:
    """Half-width of the 95% t interval of the mean."""
    from scipy import stats

    return float(stats.t.ppf(0.975, len(xs) - 1) * np.std(xs, ddof=1) / math.sqrt(len(xs))) if len(xs) > 1 else 0.0


def graph(ns) -> str:
    """The NAS-Bench-Graph section."""
    from tandem.search.strategies import STRATEGIES
    from tandem.search.tabular import GraphBench, GraphSpace, run_queries

    space = GraphSpace()
    rows, wins = [], {}
    for ds in ns.datasets:
        bench = GraphBench(ds)
        oracle_valid, oracle_test = bench.best_by_validation()
        means = {}
        for name in STRATEGY_NAMES:
            t0, tests = time.perf_counter(), []
            for seed in range(ns.seeds):
                strategy = STRATEGIES[name](space, seed, ns.batch)
                history = run_queries(strategy, lambda a: bench.query(a)[0], ns.queries, ns.batch)
                best = max(history, key=lambda p: p[1])[0]  # by validation accuracy; the first of equals
                tests.append(bench.query(best)[1])
            means[name] = float(np.mean(tests))
            rows.append(f"| {ds} | {name} | {100 * means[name]:.2f} ± {100 * _interval(tests):.2f} | "
                        f"{100 * statistics.median(tests):.2f} | {100 * oracle_test:.2f} | "
                        f"{time.perf_counter() - t0:.1f} s |")
            print(rows[-1], flush=True)
        wins[ds] = means["controller"] > means["random"]
    verdict = (f"The controller's mean beats random search's on {sum(wins.values())} of {len(wins)} datasets "
               f"({', '.join(d for d, w in wins.items() if w) or 'none'}); goal: at least two of three.")
    return f"""<!-- bench_search_graph -->
### Strategies on NAS-Bench-Graph (`benchmarks/bench_search_strategies.py graph`)

{ns.queries} queries per search, {ns.seeds} search seeds, proposals in batches of {ns.batch}; the figure is the
test accuracy (%) of the architecture each search found best by validation accuracy: mean ± 95% t interval,
and median. "Oracle" is the test accuracy of the whole space's best-by-validation architecture. Machine:
{_machine()}; measured {datetime.date.today().isoformat()}.

| dataset | strategy | test accuracy, mean ± 95% | median | oracle | wall time |
|---|---|---|---|---|---|
{chr(10).join(rows)}

{verdict}
<!-- /bench_search_graph -->"""


def sweep(ns) -> str:
    """The section of one RL sweep."""
    from tandem.search.run import SearchConfig, score
    from tandem.search.space import Arch
    from tandem.search.strategies import STRATEGIES
    from tandem.search.tabular import SweepTable, run_queries

    table = SweepTable(Path(ns.sweep))
    rec, space = table.record, table.space
    star = table.smallest_reaching(ns.target)
    max_params = max(m["actor_params"] for m in table.members.values())
    cfg = SearchConfig(rec["algo"], rec["env"], objective="smallest-reaching", target=ns.target)
    budget = max(1, int(ns.fraction * space.size))
    steps_per_arch = next(iter(table.members.values()))["steps"]

    def score_of(a: Arch) -> float:
        m = table.member(a)
        return score(cfg, m["mean_return"], m["actor_params"], max_params)

    rows, ratios = [], {}
    for name in STRATEGY_NAMES:
        found = []
        for seed in range(ns.seeds):
            strategy = STRATEGIES[name](space, seed, ns.batch)
            history = run_queries(strategy, score_of, budget, ns.batch)
            reaching = [table.member(a) for a, _ in history if table.member(a)["mean_return"] >= ns.target]
            found.append(min(reaching, key=lambda m: m["actor_params"]) if reaching else None)
        r = [m["actor_params"] / star["actor_params"] if m and star else math.inf for m in found]
        ratios[name] = r
        within = sum(x <= 1.5 for x in r)
        shown = ", ".join("{} ({})".format(m["spec"].removeprefix("actor_net="), m["actor_params"]) if m else "none"
                          for m in found)
        rows.append(f"| {name} | {shown} | {statistics.median(r):.2f} | {within}/{len(r)} |")
        print(rows[-1], flush=True)
    beats = {n: statistics.median(ratios[n]) < statistics.median(ratios["random"]) for n in ("controller", "evolution")}
    star_text = (f"P* = `{star['spec']}` ({star['actor_params']} actor parameters, mean return "
                 f"{star['mean_return']:.1f} over seeds {star['seeds']})" if star else "no actor of the space reaches it")
    reaching_count = sum(m["mean_return"] >= ns.target for m in table.members.values())
    exported = _export_sizes(Path(ns.sweep), star) if star else ""
    name = Path(ns.sweep).name
    cfg_path = Path(ns.sweep) / "search_config.json"
    overrides = json.loads(cfg_path.read_text())["overrides"] if cfg_path.is_file() else {}
    shared = ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())) or "the preset's"
    return f"""<!-- bench_search_sweep_{name} -->
### Strategies on the sweep `{name}` (`benchmarks/bench_search_strategies.py sweep`)

The sweep (`tandem search --strategy grid`): {rec['algo']} on {rec['env']}, all {space.size} architectures of
`{rec['space']}`, the preset's settings but {shared}; {steps_per_arch:,} env steps each (all seeds), {reaching_count} of them reaching the threshold {ns.target:g}; {star_text}. Each
search spends {ns.fraction:.0%} of the sweep's steps ({budget} architectures, in batches of {ns.batch}) on the
sweep's recorded returns, objective smallest-reaching {ns.target:g}, {ns.seeds} search seeds. Machine:
{_machine()}; measured {datetime.date.today().isoformat()}.

| strategy | smallest reaching actor found per search seed (actor parameters) | median ratio to P* | within 1.5x |
|---|---|---|---|
{chr(10).join(rows)}

{exported}
Median ratio below random search's: controller {'yes' if beats['controller'] else 'no'}, evolution
{'yes' if beats['evolution'] else 'no'} (goal: both, and within 1.5x of P*).
<!-- /bench_search_sweep_{name} -->"""


def _export_sizes(sweep_dir: Path, star: dict) -> str:
    """P* exported in every format (seed 0 of its member run directory): the weights' and the files' bytes."""
    import tempfile

    from tandem.export import FORMATS, export

    if not (sweep_dir / "members" / str(star["member"])).is_dir():
        return "(P* not exported: this copy of the sweep holds its records but not its members' checkpoints.)\n"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in FORMATS:
            out = Path(tmp) / {"numpy": "policy.py", "c": "policy", "onnx": "policy.onnx"}[fmt]
            info = export(sweep_dir, fmt, out, member=star["member"])
            files = sum(Path(f).stat().st_size for f in info["files"])
            rows.append(f"| {fmt} | {info['num_params']} | {info['weight_bytes']} | {files:,} |")
    return ("P* exported (`tandem export SWEEP --member K`, seed 0): float32 numbers embedded (the layers and the "
            "observation normalisation), their bytes, and the files' bytes.\n\n"
            "| format | numbers | weight bytes | file bytes |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")


def _write(marker: str, section: str) -> None:
    path = Path(marker)
    text = path.read_text()
    start = section.splitlines()[0]
    end = start.replace("<!-- ", "<!-- /")
    if start in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("graph")
    g.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "pubmed"])
    g.add_argument("--queries", type=int, default=100)
    g.add_argument("--seeds", type=int, default=20)
    g.add_argument("--batch", type=int, default=5)
    s = sub.add_parser("sweep")
    s.add_argument("sweep", help="run directory of a tandem search --strategy grid")
    s.add_argument("--target", type=float, required=True)
    s.add_argument("--fraction", type=float, default=0.25)
    s.add_argument("--seeds", type=int, default=5)
    s.add_argument("--batch", type=int, default=4)
    for q in (g, s):
        q.add_argument("--marker", default=None, help="write the section into this Markdown file")
    ns = p.parse_args()
    section = graph(ns) if ns.cmd == "graph" else sweep(ns)
    print(section)
    if ns.marker:
        _write(ns.marker, section)


if __name__ == "__main__":
    main()
