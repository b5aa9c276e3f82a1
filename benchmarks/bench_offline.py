"""Offline RL on continuous control, then online fine-tuning (issue 13, item 5, its continuous half): datasets made
locally from a partly trained SAC on Pendulum-v1, in D4RL's sense of "medium" and "medium-replay".

1. The behaviour policy: SAC on Pendulum-v1 (4 envs, one gradient step per 4 transitions, seed 0) stopped after
   --sac-steps env steps, before it has learned to swing up from every start.
2. The datasets (``tandem collect``): **medium**, --episodes episodes sampled from that SAC's exploration policy
   (``--stochastic``); **medium-replay**, every complete episode in its replay buffer (``--policy replay:RUN``):
   random actions, then the policy as it learned.
3. Per dataset, five arms, each one staged run (tandem/pipeline.py) of --seeds seeds (vmapped) in one run
   directory: behaviour cloning (``sac --pretrain bc:G``), TD3+BC (``td3 --offline td3bc:G``), IQL (``sac
   --offline iql:G``), SAC-RND (``sac --offline sacrnd:G``), each then fine-tuned online for --online-steps env
   steps from its actor (and critic where it fits); and SAC from scratch. Online phases share one setting: the
   env's preset, with learning starting after --learning-starts steps; with --prefill, an online phase after a
   stage starts with the dataset in its replay buffer (``--prefill``, runners/prefill.py); with --bc-decay, TD3
   after TD3+BC keeps TD3+BC's cloning term, decaying (TD3's ``--bc-decay``).
4. Every policy is scored greedily on --eval episodes (reset seeds 10,000 + i, which no run uses): each offline
   phase's final policy (online step 0) and each online checkpoint (every --online-every steps).

Reported: the behaviour policy (its dataset's mean return, and its greedy return), and per dataset and arm the
median over seeds of the return at each point. The records: ``plots/offline.json`` and its PNG.

    python benchmarks/bench_offline.py --seeds 3
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from records import finish, print_tables
import tandem.runners.checkpointing as checkpointing
from tandem.api import load_policy, resolve_config, run
from tandem.collect import collect
from tandem.io.checkpoint import list_checkpoints, read_manifest

ENV = "Pendulum-v1"
ARMS = {"bc": ("sac", {"pretrain": "bc:{g}"}), "td3bc": ("td3", {"offline": "td3bc:{g}"}),
        "iql": ("sac", {"offline": "iql:{g}"}), "sacrnd": ("sac", {"offline": "sacrnd:{g}"}), "scratch": ("sac", {})}


def evaluate(policy, episodes: int) -> float:
    """The mean return of a deterministic policy over ``episodes`` Pendulum episodes (reset seeds 10,000 + i),
    played side by side (every episode is 200 steps)."""
    import gymnasium as gym

    envs = [gym.make(ENV) for _ in range(episodes)]
    obs = np.stack([e.reset(seed=10_000 + i)[0] for i, e in enumerate(envs)])
    total, done = np.zeros(episodes), np.zeros(episodes, bool)
    while not done.all():
        actions = np.asarray(policy(obs.astype(np.float32)))
        for i, e in enumerate(envs):
            if not done[i]:
                o, r, term, trunc, _ = e.step(actions[i])
                obs[i], total[i], done[i] = o, total[i] + r, term or trunc
    return float(total.mean())


def scores(run_dir: Path, seeds: int, episodes: int) -> list[list[tuple[int, float]]]:
    """Per seed, [(env steps, greedy return)] of every checkpoint of a run, oldest first."""
    out = [[] for _ in range(seeds)]
    for ckpt in list_checkpoints(run_dir / "checkpoints"):
        steps = int(read_manifest(ckpt)["counters"]["env_steps"])
        for k in range(seeds):
            out[k].append((steps, evaluate(load_policy(run_dir, k, checkpoint=ckpt), episodes)))
    return out


def arm(name: str, data: str | None, root: Path, ns) -> dict:
    """One arm's staged run: per seed, the curve [(online env steps, return)] (step 0: the offline policy), and
    each phase's wall and compile seconds."""
    algo, stages = ARMS[name]
    stages = {k: v.format(g=ns.offline_steps) for k, v in stages.items()}
    cfg = resolve_config(algo, ENV, total_steps=ns.online_steps, num_seeds=ns.seeds, seed=1,
                         learning_starts=ns.learning_starts,
                         checkpoint_every=ns.online_every, eval_episodes=0, quiet=True, tensorboard=False,
                         run_dir=str(root / name), **({"bc_decay": ns.bc_decay} if algo == "td3" else {}),
                         **({"dataset": data, **stages, **({"prefill": data} if ns.prefill else {})} if stages else {}))
    result = run(cfg)
    phases = sorted((root / name / "phases").iterdir()) if stages else [root / name]
    online = scores(phases[-1], ns.seeds, ns.eval)
    if stages:   # the offline policy: the last offline phase's final checkpoint, at online step 0
        last = list_checkpoints(phases[-2] / "checkpoints")[-1]
        for k in range(ns.seeds):
            online[k].insert(0, (0, evaluate(load_policy(phases[-2], k, checkpoint=last), ns.eval)))
    timing = [{k: p.get(k) for k in ("phase", "wall_seconds", "compile_seconds")}
              for p in result.summary.get("phases", [dict(result.summary, phase=f"1-{algo}")])]
    return {"arm": name, "curve": online, "phases": timing}


def plot(results: dict, path: str) -> None:
    """Greedy return against online env steps, the median over seeds of each arm, a panel per dataset."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sets = list(results["datasets"])
    fig = Figure(figsize=(5 * len(sets), 3.8))
    FigureCanvasAgg(fig)
    for k, name in enumerate(sets):
        ax = fig.add_subplot(1, len(sets), k + 1)
        for r in (r for r in results["rows"] if r["dataset"] == name):
            pts = np.array(r["curve"], float)   # [seed, point, (steps, return)]
            ax.plot(pts[0, :, 0], np.median(pts[:, :, 1], 0), marker="o", ms=3, label=r["arm"])
        ax.axhline(results["datasets"][name]["mean_return"], color="grey", ls="--", lw=1, label="dataset mean")
        ax.set(title=f"Pendulum-v1, {name}", xlabel="online env steps", ylabel="greedy return")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def table(results: dict) -> str:
    """Markdown: per dataset and arm, the median over seeds of the greedy return at each point, the per-seed
    returns offline and at the end, and the offline phase's time."""
    first = results["rows"][0]["curve"][0]
    steps = [s for s, _ in first] if results["rows"][0]["arm"] != "scratch" else [0] + [s for s, _ in first]
    lines = [f"| dataset | arm | return at {' / '.join(f'{s:,}' for s in steps)} online steps (median) | offline, "
             f"per seed | end, per seed | offline phase: wall (compile) s |", "|---|---|---|---|---|---|"]
    for r in results["rows"]:
        pts = np.array(r["curve"], float)
        med = [f"{x:.0f}" for x in np.median(pts[:, :, 1], 0)]
        offline = "–" if r["arm"] == "scratch" else ", ".join(f"{x:.0f}" for x in pts[:, 0, 1])
        med = med if r["arm"] != "scratch" else ["–"] + med
        times = [p for p in r["phases"] if not p["phase"].endswith(("-sac", "-td3"))]
        t = ", ".join(f"{p['wall_seconds']:.0f} ({p['compile_seconds']:.0f})" for p in times) or "–"
        lines.append(f"| {r['dataset']} | {r['arm']} | {' / '.join(med)} | {offline} | "
                     f"{', '.join(f'{x:.0f}' for x in pts[:, -1, 1])} | {t} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sac-steps", type=int, default=8000, help="env steps of the behaviour SAC (4 envs)")
    p.add_argument("--episodes", type=int, default=50, help="episodes of the medium dataset")
    p.add_argument("--offline-steps", type=int, default=20_000, help="gradient steps of each offline phase")
    p.add_argument("--online-steps", type=int, default=6000, help="env steps of each online phase")
    p.add_argument("--online-every", type=int, default=1000, help="online env steps between scored checkpoints")
    p.add_argument("--learning-starts", type=int, default=256, help="online transitions before the first update")
    p.add_argument("--eval", type=int, default=20, help="episodes scoring each policy")
    p.add_argument("--arms", default=",".join(ARMS), help="comma-separated, of " + ", ".join(ARMS))
    p.add_argument("--datasets", default="medium,medium-replay", help="comma-separated, of medium, medium-replay")
    p.add_argument("--prefill", action="store_true", help="online phases after a stage start with the dataset in "
                   "their replay buffer (--prefill, runners/prefill.py)")
    p.add_argument("--bc-decay", type=int, default=0, help="online TD3 (after TD3+BC) keeps TD3+BC's cloning term, "
                   "its weight decaying to 0 over this many gradient steps (TD3's --bc-decay)")
    p.add_argument("--out", default="plots/offline.json", help="the record (JSON; the PNG beside it)")
    p.add_argument("--table", nargs="*", default=None, help="print the tables of these records and stop")
    ns = p.parse_args()
    if ns.table is not None:
        print_tables(ns.table, table)
        return
    checkpointing.KEEP = 10_000   # every online checkpoint is scored
    results = {"machine": f"{platform.machine()}, {platform.python_version()}", "args": vars(ns), "rows": []}
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        behaviour = root / "sac"
        run(resolve_config("sac", ENV, total_steps=ns.sac_steps, num_envs=4, utd=0.25, buffer_size=40_000, seed=0,
                           eval_episodes=0, quiet=True, tensorboard=False, run_dir=str(behaviour)))
        results["behaviour"] = {"sac_steps": ns.sac_steps, "greedy_return": evaluate(load_policy(behaviour), ns.eval)}
        sets = {"medium": collect(ENV, str(behaviour), ns.episodes, root / "medium", seed=0, stochastic=True),
                "medium-replay": collect(ENV, f"replay:{behaviour}", None, root / "medium-replay")}
        results["datasets"] = sets
        print(json.dumps({"behaviour": results["behaviour"], "datasets": sets}), flush=True)
        scratch = None   # the same run for both datasets
        for name, report in sets.items():
            if name not in ns.datasets.split(","):
                continue
            for a in ns.arms.split(","):
                if a == "scratch":
                    scratch = scratch or arm(a, None, root, ns)
                row = {"dataset": name, **(scratch if a == "scratch" else arm(a, report["out"], root / name, ns))}
                results["rows"].append(row)
                print(json.dumps({**row, "curve": [[round(r) for _, r in c] for c in row["curve"]]}), flush=True)
    finish(results, ns.out, plot, table, t0)


if __name__ == "__main__":
    main()
