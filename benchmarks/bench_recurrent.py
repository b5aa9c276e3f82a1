"""Recurrent vs feed-forward PPO on the partially observed tasks (issue 10, item 6, its second row).

Each arm is one ``tandem.train`` call on the JAX runner training --seeds seeds at once (vmapped), at the same
steps and the same PPO settings (the env's preset, which is the recurrent one), the networks differing only in
their recurrent layer: ``mlp:64>lstm:64`` against ``mlp:64,64`` (the same width, one more dense layer instead of
the LSTM). Reported per task and arm: the final evaluation return of each seed (10 deterministic episodes),
their median, the steps per second after compilation, the compile seconds, and the learning curve (the recent
training return at each log point, median over seeds) in the PNG.

    python benchmarks/bench_recurrent.py            # both tasks, 3 seeds
"""

from __future__ import annotations

import argparse
import csv
import platform
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

import tandem
from records import finish

TASKS = ["tandem-jax:MaskedCartPole-v1", "tandem-jax:Memory-v0"]
ARMS = [("lstm", "mlp:64>lstm:64"), ("mlp", "mlp:64,64")]


def curve(run_dir: Path) -> tuple[list[int], list[float]]:
    """(env steps, median over seeds of the recent training return) at each log row."""
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    steps, values = [], []
    by_step: dict[int, list[float]] = {}
    for row in rows:
        if row.get("episode_return_recent") not in (None, "", "nan"):
            by_step.setdefault(int(row["env_steps"]), []).append(float(row["episode_return_recent"]))
    for s in sorted(by_step):
        steps.append(s)
        values.append(float(np.median(by_step[s])))
    return steps, values


def table(r: dict) -> str:
    lines = [f"{r.get('title', 'Recurrent vs feed-forward PPO, JAX runner')}, {r['seeds']} seeds; {r['machine']}", "",
             "| task | steps | network | params (non-zero) | final eval return per seed | median | SPS (all seeds) | compile s |",
             "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        per = ", ".join(f"{x:.1f}" for x in row["final_eval_return_per_seed"])
        params = f"{row['num_params']:,} ({row['num_nonzero_params']:,})" if "num_params" in row else "-"
        lines.append(f"| {row['task']} | {row['steps']:,} | `{row['net']}` | {params} | {per} | {row['median']:.1f} | "
                     f"{row['sps']:,.0f} | {row['compile_seconds']:.1f} |")
    return "\n".join(lines)


def plot(r: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(r["tasks"]), figsize=(5 * len(r["tasks"]), 3.5))
    for ax, task in zip(np.atleast_1d(axes), r["tasks"]):
        for row in (x for x in r["rows"] if x["task"] == task):
            ax.plot(row["curve_steps"], row["curve"], label=f"{row['arm']} ({row['net']})")
        ax.set_title(task)
        ax.set_xlabel("env steps")
        ax.set_ylabel("training return (median of seeds)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def run_arm(algo: str, task: str, arm: str, net: str, seeds: int, **kw) -> dict:
    """One arm: a tandem.train call of ``seeds`` seeds, as a row of the table (and its curve)."""
    with tempfile.TemporaryDirectory() as tmp:
        run = tandem.train(algo, task, run_dir=tmp + "/run", num_seeds=seeds, tensorboard=False, **kw)
        s = run.summary
        steps, values = curve(Path(tmp) / "run")
    per = [float(x) for x in s["final_eval_return_per_seed"]]
    print(f"{task} {arm}: {per} (median {np.median(per):.1f}), {s['sps']:.0f} SPS", flush=True)
    return {"task": task, "arm": arm, "net": net, "steps": s["env_steps"], "final_eval_return_per_seed": per,
            "median": float(np.median(per)), "sps": s["sps"], "compile_seconds": s["compile_seconds"],
            "num_params": s["num_params"], "num_nonzero_params": s["num_nonzero_params"], "curve_steps": steps,
            "curve": values}


def machine() -> str:
    """The machine line of a record."""
    return f"{platform.processor() or platform.machine()}, {jax.device_count()} JAX device(s), jax {jax.__version__}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=TASKS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=0, help="env steps per seed (0: the preset's)")
    p.add_argument("--out", default="plots/recurrent.json")
    ns = p.parse_args()
    t0 = time.time()
    kw = dict(total_steps=ns.steps) if ns.steps else {}
    rows = [run_arm("ppo", task, arm, net, ns.seeds, actor_net=net, critic_net=net, **kw)
            for task in ns.tasks for arm, net in ARMS]
    finish({"seeds": ns.seeds, "tasks": ns.tasks, "machine": machine(), "rows": rows}, ns.out, plot, table, t0)


if __name__ == "__main__":
    main()
