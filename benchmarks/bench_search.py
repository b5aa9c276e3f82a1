"""Population training against one-after-another: wall time and the ranking of architectures (Kendall tau).

Trains P actor shapes of depth 2 (one bucket, one compiled program) on a gymnax env (``--env``, default
CartPole-v1) with PPO, then the same shapes one run after another (each compiled alone), from cold compilation
caches, and reports both wall times and the Kendall tau between the two rankings of the mean evaluation return.
Writes a Markdown section (its marker named after the env when it is not CartPole).

    python benchmarks/bench_search.py --archs 8 --seeds 2 --total-steps 50000 --marker BENCHMARKS.md
    python benchmarks/bench_search.py --env gymnax:Pendulum-v1 --options 2,4,8,16,32 --archs 8 --seeds 3 \
        --total-steps 300000 --marker BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
from pathlib import Path
import numpy as np
mode, work, widths, seeds, steps, env_id = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
import tandem
from tandem.search.population import Trainer
from tandem.search.space import Arch
t0 = time.perf_counter()
overrides = {"total_steps": steps, "tensorboard": False, "eval_episodes": 10}
trainer = Trainer("ppo", env_id, overrides, tuple(range(seeds)))
archs = [Arch(tuple(w)) for w in widths]
if mode == "population":
    res = trainer.train(archs, work / "pop")
    means = [float(np.mean(r.returns)) for r in res]
else:
    means = []
    for i, a in enumerate(archs):
        r = tandem.train("ppo", env_id, num_seeds=seeds, run_dir=str(work / f"alone-{i}"),
                         **a.overrides(), **overrides)
        means.append(float(np.mean(r.summary["final_eval_return_per_seed"])))
print(json.dumps({"mode": mode, "wall": time.perf_counter() - t0, "means": means}))
"""


def kendall_tau(a, b) -> float:
    """Kendall's tau-b between two score lists (ties counted as neither concordant nor discordant)."""
    n, conc, disc, ta, tb = len(a), 0, 0, 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            x, y = (a[i] > a[j]) - (a[i] < a[j]), (b[i] > b[j]) - (b[i] < b[j])
            if x == 0 and y == 0:
                continue
            if x == 0:
                ta += 1
            elif y == 0:
                tb += 1
            elif x == y:
                conc += 1
            else:
                disc += 1
    denom = ((conc + disc + ta) * (conc + disc + tb)) ** 0.5
    return (conc - disc) / denom if denom else float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--archs", type=int, default=8)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--total-steps", type=int, default=50_000)
    p.add_argument("--env", default="gymnax:CartPole-v1")
    p.add_argument("--options", default="4,8,16,32,64,128,256", help="the widths the depth-2 shapes pick from")
    p.add_argument("--marker", default=None, help="write the section into this Markdown file")
    ns = p.parse_args()
    options = [int(w) for w in ns.options.split(",")]
    k = len(options)
    widths = [[options[i % k], options[(3 * i + 1) % k]] for i in range(ns.archs)]  # depth 2: one bucket
    out = {}
    for mode in ("population", "separate"):
        with tempfile.TemporaryDirectory() as work:
            env = {**os.environ, "PYTHONPATH": str(ROOT), "TANDEM_CACHE_DIR": os.path.join(work, "xla")}
            r = subprocess.run([sys.executable, "-c", CHILD, mode, work, json.dumps(widths), str(ns.seeds),
                                str(ns.total_steps), ns.env], capture_output=True, text=True, env=env, check=True)
            out[mode] = json.loads(r.stdout.strip().splitlines()[-1])
            print(mode, f"{out[mode]['wall']:.1f} s", [round(m, 1) for m in out[mode]["means"]], flush=True)
    tau = kendall_tau(out["population"]["means"], out["separate"]["means"])
    speedup = out["separate"]["wall"] / out["population"]["wall"]
    print(f"speed-up {speedup:.2f}x, Kendall tau {tau:.2f}")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    rows = "\n".join(f"| mlp:{w[0]},{w[1]} | {a:.1f} | {b:.1f} |" for w, a, b in
                     zip(widths, out["population"]["means"], out["separate"]["means"]))
    tag = "" if ns.env == "gymnax:CartPole-v1" else "_" + ns.env.replace(":", "_")
    section = f"""<!-- bench_search{tag} -->
### Population against one-after-another (`benchmarks/bench_search.py`)

PPO on {ns.env}, {ns.archs} actor shapes of depth 2 (one bucket), {ns.seeds} seeds each,
{ns.total_steps:,} steps per seed, cold compilation caches, whole-process wall time; machine: {machine};
measured {time.strftime('%Y-%m-%d')}.

| | wall time |
|---|---|
| population (one compiled program) | {out['population']['wall']:.1f} s |
| one after another ({ns.archs} runs) | {out['separate']['wall']:.1f} s |
| speed-up | {speedup:.2f}x |
| Kendall tau of the two rankings | {tau:.2f} (goal >= 0.5) |

| actor | mean eval return, population | one after another |
|---|---|---|
{rows}
<!-- /bench_search{tag} -->"""
    if ns.marker:
        path = Path(ns.marker)
        text = path.read_text()
        start, end = f"<!-- bench_search{tag} -->", f"<!-- /bench_search{tag} -->"
        if start in text:
            text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        path.write_text(text)


if __name__ == "__main__":
    main()
