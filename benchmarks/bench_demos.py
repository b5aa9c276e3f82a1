"""The two-stage experiment of Fatemi et al. (issue 13, item 5) on the restaurant simulator: success rate against
online dialogues for four ways to start online A2C, from datasets of handcrafted dialogues.

    (a) scratch:   A2C from random networks;
    (b) bc:        behaviour cloning on the dataset, then A2C from the cloned actor (a fresh critic);
    (c) batch:     IQL alone on the dataset, then A2C from its actor and its V(s) as the critic;
    (d) two-stage: cloning, then IQL from the cloned actor, then A2C from IQL's actor and V(s).

The online phase of each arm is run at every budget of --budgets (env steps) from the same starting networks and
seed. A2C does not anneal its learning rate, so the run of a smaller budget should be the start of the run of a
larger one (not checked bit for bit here): the final policy of each stands for that point of one run. Each is scored greedily on --eval
dialogues (seeds no collection or training uses); the online dialogues are the episodes the run played (0 for the
offline phase's own policy, scored too). Reported: the median success over seeds at each point, and per seed the
online dialogues of the first point at which success reaches 90% of the handcrafted policy's.

    python benchmarks/bench_demos.py --sizes 300 --rates 0.1,0.3 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_restaurant import measure
from records import finish, print_tables

from tandem.api import load_policy, resolve_config, run
from tandem.collect import collect
from tandem.pipeline import phase_configs

ARMS = {"scratch": {}, "bc": {"pretrain": "bc:{bc}"}, "batch": {"offline": "iql:{rl}"},
        "two-stage": {"pretrain": "bc:{bc}", "offline": "iql:{rl}"}}


def arm_runs(arm, env, data, seed, budgets, root: Path, ns):
    """[(budget, online dialogues, success)] of one arm and seed."""
    stages = {k: v.format(bc=ns.bc_steps, rl=ns.rl_steps) for k, v in ARMS[arm].items()}
    common = dict(seed=seed, eval_episodes=0, quiet=True, tensorboard=False)
    base = resolve_config("a2c", env, total_steps=budgets[0], **common,
                          **({"dataset": data, **stages} if stages else {}))
    init_from = None
    if stages:
        *offline, (_, online) = phase_configs(base, root / f"{arm}-{seed}")
        for _, sub in offline:
            run(sub)
        init_from = online.run.init_from
    out = [(0, 0, measure(env, ns.eval, load_policy(init_from))["success"])] if init_from else []
    for b in budgets:
        cfg = resolve_config("a2c", env, total_steps=b, init_from=init_from, **common,
                             run_dir=str(root / f"{arm}-{seed}" / f"online-{b}"))
        res = run(cfg)
        out.append((b, res.summary["episodes"], measure(env, ns.eval, load_policy(res.run_dir))["success"]))
    return out


def first_reaching(points, target):
    """The online dialogues of the first budget whose success reaches ``target`` (None when none does)."""
    return next((d for _, d, s in points if s >= target), None)


def plot(results: dict, path: str) -> None:
    """Success against online dialogues, the median over seeds of each arm, a panel per (error rate, dataset)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = sorted({(r["error_rate"], r["dialogues"]) for r in results["rows"]})
    fig = Figure(figsize=(4.5 * len(panels), 3.6))
    FigureCanvasAgg(fig)
    for k, (rate, size) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for r in (r for r in results["rows"] if (r["error_rate"], r["dialogues"]) == (rate, size)):
            pts = np.array(r["curve"], float)   # [seed, point, (budget, dialogues, success)]
            ax.plot(np.median(pts[:, :, 1], 0), np.median(pts[:, :, 2], 0), marker="o", label=r["arm"])
        ax.axhline(0.9 * r["handcrafted_success"], color="grey", ls="--", lw=1, label="90% of handcrafted")
        ax.set(title=f"error rate {rate}, {size} dialogues", xlabel="online dialogues", ylabel="success", ylim=(-0.02, 1.02))
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def table(results: dict) -> str:
    """Markdown: per (error rate, dataset, arm), the median over seeds of success at each point, and the dialogues
    to 90% of the handcrafted policy's success of each seed."""
    steps = ["0"] + results["args"]["budgets"].split(",")
    lines = [f"| error rate | demos | arm | success at {' / '.join(steps)} online steps (median) | "
             f"online dialogues at {steps[-1]} steps | dialogues to 90% of handcrafted, per seed |", "|---|---|---|---|---|---|"]
    for r in results["rows"]:
        pts = np.array(r["curve"], float)
        succ = [f"{100 * x:.1f}%" for x in np.median(pts[:, :, 2], 0)]
        succ = succ if len(succ) == len(steps) else ["–"] + succ   # scratch has no offline policy to score at 0
        reach = ", ".join("not reached" if x is None else str(x) for x in r["reached_at"])
        lines.append(f"| {r['error_rate']} | {r['dialogues']} | {r['arm']} | {' / '.join(succ)} | "
                     f"{int(np.median(pts[:, -1, 1])):,} | {reach} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="300", help="dataset sizes (dialogues), comma-separated")
    p.add_argument("--rates", default="0.1,0.3", help="recognition error rates, comma-separated")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budgets", default="1000,2000,4000,8000,16000", help="online env steps, comma-separated")
    p.add_argument("--bc-steps", type=int, default=600)
    p.add_argument("--rl-steps", type=int, default=2000)
    p.add_argument("--eval", type=int, default=200, help="dialogues scoring each policy")
    p.add_argument("--out", default="plots/demos.json", help="the record (JSON; the PNG beside it), relative to the working directory")
    p.add_argument("--table", nargs="*", default=None, help="print the tables of these records and stop")
    ns = p.parse_args()
    if ns.table is not None:
        print_tables(ns.table, table)
        return
    budgets = [int(x) for x in ns.budgets.split(",")]
    results, t0 = {"machine": f"{platform.machine()}, {platform.python_version()}", "args": vars(ns), "rows": []}, time.time()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rate in [float(x) for x in ns.rates.split(",")]:
            env = f"tandem:Restaurant-v0:error_rate={rate}"
            hand = measure(env, 2000)["success"]
            scratch = [arm_runs("scratch", env, None, s, budgets, root / f"r{rate}", ns) for s in range(ns.seeds)]
            for size in [int(x) for x in ns.sizes.split(",")]:
                data = str(root / f"d{rate}-{size}")
                collect(env, "handcrafted", size, data, seed=0)
                arms = {"scratch": scratch}
                for arm in ("bc", "batch", "two-stage"):
                    arms[arm] = [arm_runs(arm, env, data, s, budgets, root / f"r{rate}-{size}", ns)
                                 for s in range(ns.seeds)]
                for arm, per_seed in arms.items():
                    reach = [first_reaching(pts, 0.9 * hand) for pts in per_seed]
                    row = {"error_rate": rate, "dialogues": size, "arm": arm, "handcrafted_success": hand,
                           "curve": per_seed, "reached_at": reach}
                    results["rows"].append(row)
                    print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
    finish(results, ns.out, plot, table, t0)


if __name__ == "__main__":
    main()
