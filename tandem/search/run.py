"""``tandem search``: rounds of propose, train (a population), score, observe, until the budget of env steps is spent.

The run directory::

    search_config.json   what was asked (algorithm, env, space, strategy, objective, budget, seeds, overrides)
    search.json          every architecture tried: spec, parameter counts, per-seed returns, score, steps, round
    pareto.csv/.png      actor parameters against mean return, the front marked
    population/round-R/  the bucket runs of round R (tandem run directories: they resume like tandem train)
    members/K/           a standalone run directory for each member K on the front (tandem eval, export)

A round's architectures already tried are scored from the record (no steps spent). An interrupted search
resumes where it stood: the strategy is rebuilt from its seed and replayed over the recorded rounds (every
strategy is deterministic given its scores), then the unfinished round's buckets resume from their checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from tandem.errors import TandemInputError
from tandem.search.population import MemberResult, Trainer
from tandem.search.space import DEFAULT_SPACE, Arch, parse_space
from tandem.search.strategies import STRATEGIES

OBJECTIVES = ("pareto", "smallest-reaching")


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """What a search was asked to do (search_config.json)."""

    algo: str
    env: str
    space: str = DEFAULT_SPACE
    strategy: str = "random"
    budget_steps: int = 0
    objective: str = "pareto"
    target: float | None = None
    param_penalty: float = 0.0
    seeds: int = 1
    batch: int = 8
    seed: int = 0
    overrides: dict = dataclasses.field(default_factory=dict)


def score(cfg: SearchConfig, mean_return: float, actor_params: int, max_params: int) -> float:
    """The scalar a strategy maximises. pareto: the mean return minus ``param_penalty`` x log2(actor parameters);
    smallest-reaching R: below R the mean return, at or above it R plus |R| (or 1) x (1 - log p / log p_max), so
    every reaching actor beats every other and smaller reaching ones beat larger."""
    if cfg.objective == "pareto":
        return float(mean_return - cfg.param_penalty * math.log2(max(actor_params, 1)))
    R = float(cfg.target)
    if mean_return < R:
        return float(mean_return)
    return R + max(abs(R), 1.0) * (1.0 - math.log(max(actor_params, 1)) / math.log(max(max_params, 2)))


def pareto_front(points: list[tuple[int, float]]) -> list[int]:
    """Indices of the points (parameters, return) no other point dominates (at most as many parameters and at
    least the return, one of them strictly), by parameters ascending."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def check(cfg: SearchConfig) -> tuple:
    """Every input checked before anything is compiled or written: (space, trainer, steps per architecture)."""
    if cfg.strategy not in STRATEGIES:
        raise TandemInputError(f"--strategy {cfg.strategy!r} is unknown; allowed: {', '.join(STRATEGIES)}.")
    if cfg.objective not in OBJECTIVES:
        raise TandemInputError(f"--objective {cfg.objective!r} is unknown; allowed: {', '.join(OBJECTIVES)}.")
    if cfg.objective == "smallest-reaching" and cfg.target is None:
        raise TandemInputError("--objective smallest-reaching needs --target R (the return an actor must reach).")
    if cfg.seeds < 1 or cfg.batch < 1:
        raise TandemInputError(f"--seeds {cfg.seeds} / --batch {cfg.batch}: allowed integers >= 1.")
    space = parse_space(cfg.space)
    trainer = Trainer(cfg.algo, cfg.env, cfg.overrides, tuple(range(cfg.seed, cfg.seed + cfg.seeds)))
    per_arch = trainer.steps_per_member()
    if cfg.budget_steps < per_arch:
        raise TandemInputError(f"--budget-steps {cfg.budget_steps} is below one architecture's training: "
                               f"{cfg.seeds} seed(s) x {per_arch // cfg.seeds} steps = {per_arch}; allowed: at least "
                               f"{per_arch} (or fewer --total-steps / --seeds).")
    widest = _widest(space)
    trainer.check_fits(widest, cfg.batch)  # the widest member, a whole batch of it: fits in memory?
    return space, trainer, per_arch


def _widest(space) -> Arch:
    parts = {name: (max(n.widths),) * n.max_depth if n.max_depth else () for name, n in space.nets().items()}
    return Arch(parts.get("actor"), parts.get("critic"), space.activations[0] if space.activations else None)


def search(cfg: SearchConfig, run_dir: Path, quiet: bool = True, resume: bool = False) -> list[dict]:
    """Run (or resume) a search in ``run_dir``; returns the Pareto front's records (see the module docstring)."""
    from tandem.io.run_dir import write_json

    space, trainer, per_arch = check(cfg)
    record_path = run_dir / "search.json"
    if resume:
        stored = json.loads((run_dir / "search_config.json").read_text())
        if stored != _plain(cfg):
            raise TandemInputError(f"{run_dir}: its search_config.json differs from this search; resume it as it was "
                                   f"started (tandem search --resume {run_dir}).")
        record = json.loads(record_path.read_text()) if record_path.exists() else _empty(cfg, space)
    else:
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise TandemInputError(f"--run-dir {str(run_dir)!r} exists and is not empty; allowed: a new or empty "
                                   f"directory (use --resume {str(run_dir)!r} to continue that search).")
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "search_config.json", _plain(cfg))
        record = _empty(cfg, space)
    say = (lambda msg: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    say(f"search: {cfg.strategy} over {space.size:,} architectures ({space.to_string()}); {cfg.algo} on {cfg.env}, "
        f"{per_arch:,} steps per architecture, budget {cfg.budget_steps:,} steps")
    strategy = STRATEGIES[cfg.strategy](space, cfg.seed, cfg.batch)
    max_params = trainer.param_counts(_widest(space))[0]
    tried = {json.dumps(m["arch"], sort_keys=True): m for m in record["members"]}
    for r in range(len(record["rounds"])):  # replay the recorded rounds
        archs = strategy.propose(cfg.batch)
        if [a.to_dict() for a in archs] != record["rounds"][r]["archs"]:
            raise TandemInputError(f"{run_dir}: replaying round {r} proposed other architectures than recorded; the "
                                   f"search cannot resume exactly (was tandem upgraded?).")
        strategy.observe(archs, record["rounds"][r]["scores"])
    t0 = time.perf_counter()
    while record["steps"] + per_arch <= cfg.budget_steps:
        r = len(record["rounds"])
        archs = strategy.propose(cfg.batch)
        new = list(dict.fromkeys(a for a in archs if json.dumps(a.to_dict(), sort_keys=True) not in tried))
        affordable = (cfg.budget_steps - record["steps"]) // per_arch
        train_now = new[:affordable]
        if train_now:
            results = trainer.train(train_now, run_dir / "population" / f"round-{r}",
                                    on_bucket=lambda b, n: say(f"  round {r}: bucket {b}/{n} trained"))
            for a, res in zip(train_now, results):
                m = _member(len(record["members"]), r, res, cfg, max_params, run_dir / "population" / f"round-{r}")
                record["members"].append(m)
                tried[json.dumps(a.to_dict(), sort_keys=True)] = m
                record["steps"] += per_arch
        scores = [tried[json.dumps(a.to_dict(), sort_keys=True)]["score"]
                  if json.dumps(a.to_dict(), sort_keys=True) in tried else -math.inf for a in archs]
        if any(s == -math.inf for s in scores):  # the budget ended inside this round: not observed, not recorded
            break
        strategy.observe(archs, scores)
        record["rounds"].append({"archs": [a.to_dict() for a in archs], "scores": scores, "trained": len(train_now)})
        _write_outputs(run_dir, record, trainer, space)
        best = max(record["members"], key=lambda m: m["score"])
        say(f"round {r}: {len(train_now)} trained, {record['steps']:,}/{cfg.budget_steps:,} steps, "
            f"{time.perf_counter() - t0:.0f} s; best {best['spec']} return {best['mean_return']:.1f} "
            f"({best['actor_params']} actor params)")
        if not train_now and len(tried) >= space.size:
            break
    _write_outputs(run_dir, record, trainer, space)
    return sorted((m for m in record["members"] if m["on_front"]), key=lambda m: m["actor_params"])


def _plain(cfg: SearchConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _empty(cfg, space) -> dict:
    return {"algo": cfg.algo, "env": cfg.env, "space": space.to_string(), "space_size": space.size,
            "strategy": cfg.strategy, "objective": cfg.objective, "target": cfg.target, "budget_steps": cfg.budget_steps,
            "steps": 0, "rounds": [], "members": []}


def _member(index: int, r: int, res: MemberResult, cfg, max_params: int, root: Path) -> dict:
    mean = float(np.mean(res.returns))
    return {"member": index, "round": r, "arch": res.arch.to_dict(), "spec": res.arch.label(),
            "actor_params": res.actor_params, "params": res.params, "seeds": list(res.seeds),
            "returns": [float(x) for x in res.returns], "mean_return": mean,
            "score": score(cfg, mean, res.actor_params, max_params), "steps": res.env_steps * len(res.seeds),
            "reached": None if cfg.target is None else bool(mean >= cfg.target), "population": str(root),
            "on_front": False}


def _write_outputs(run_dir: Path, record: dict, trainer: Trainer, space) -> None:
    """search.json, pareto.csv/png and the front's member run directories."""
    import shutil

    from tandem.io.run_dir import write_json

    members = record["members"]
    front = set(pareto_front([(m["actor_params"], m["mean_return"]) for m in members]))
    for i, m in enumerate(members):
        m["on_front"] = i in front
    members_dir = run_dir / "members"
    for m in members:
        out = members_dir / str(m["member"])
        if m["on_front"] and not out.exists():
            root = Path(m["population"])
            archs = [Arch.from_dict(x["arch"]) for x in members if x["population"] == m["population"]]
            tmp = members_dir / f".{m['member']}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            trainer.write_member(root, archs, archs.index(Arch.from_dict(m["arch"])), tmp)
            tmp.rename(out)
        elif not m["on_front"] and out.exists():
            shutil.rmtree(out)
    write_json(run_dir / "search.json", record)
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["member", "spec", "actor_params", "params", "mean_return", "on_front"])
    for m in sorted(members, key=lambda m: m["actor_params"]):
        w.writerow([m["member"], m["spec"], m["actor_params"], m["params"], f"{m['mean_return']:.6g}", int(m["on_front"])])
    (run_dir / "pareto.csv").write_text(buf.getvalue())
    from tandem.plot import plot_pareto

    plot_pareto(record, run_dir / "pareto.png")
