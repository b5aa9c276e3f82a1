"""PPO on MuJoCo at 1M steps with tandem's presets, against the RL Zoo's published 1M-step PPO returns.

    pip install -e ".[bench]" && python benchmarks/bench_mujoco_ppo.py --seeds 3 --out BENCHMARKS.md

For each task (HalfCheetah-v5, Hopper-v5, Walker2d-v5) and seed, one fresh ``tandem train ppo --env ID``
process with the preset (the RL Zoo's tuned v3 settings, ``tandem/algos/ppo/presets.py``) and its 1M steps,
then 10 deterministic evaluation episodes. The Zoo's figures are published, not run here: its benchmark
table (rl-baselines3-zoo ``benchmark.md``) gives PPO at 1M steps 5819 on HalfCheetah-v3, 2410 on Hopper-v3
and 3479 on Walker2d-v3 (the v5 tasks have the same dynamics and rewards as v3 with MuJoCo's current
bindings). The learning curves go to ``--plots`` as one PNG per task (``tandem plot``). The section goes
between <!-- bench_mujoco_ppo:start --> and <!-- bench_mujoco_ppo:end --> in --out.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_ppo import REPO, fmt, machine_info, median, ok, run_tandem, table, write_section  # noqa: E402

START, END = "<!-- bench_mujoco_ppo:start -->", "<!-- bench_mujoco_ppo:end -->"
ZOO = {"HalfCheetah-v5": 5819.1, "Hopper-v5": 2410.4, "Walker2d-v5": 3478.8}  # benchmark.md, PPO, *-v3, 1M steps
EVAL_EPISODES = 10


def render(rows, met, a, argv, machine) -> str:
    lines = [START, "## PPO on MuJoCo at 1M steps: tandem's presets against the RL Zoo's published returns", "",
             f"`python benchmarks/bench_mujoco_ppo.py {' '.join(argv)}` on {machine['cpu']} "
             f"({machine['usable_cores']} cores), Python {machine['python']}, jax {machine['jax']}, gymnasium "
             f"{machine['gymnasium']}; {machine['date']}. {a.steps:,} steps per run, seeds from 0 (the ok column "
             f"counts them), each a "
             f"fresh process with the preset; the return is the mean of {EVAL_EPISODES} deterministic evaluation "
             f"episodes at the end. The RL Zoo's figures are its published PPO results at 1M steps on the v3 tasks "
             f"(rl-baselines3-zoo benchmark.md), not run here. Target: at least the Zoo's on 2 of 3 tasks (mean of "
             f"seeds): met on {met} of {len(rows)} measured.", ""]
    lines += table(["env", "ok", "eval return (mean of seeds)", "per seed", "RL Zoo, 1M", "at least the Zoo's?",
                    "wall, s (median)", "training SPS (median)", "learning curves"], rows)
    return "\n".join(lines + ["", END]) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--envs", nargs="+", default=list(ZOO), help="ENV or ENV:SEEDS (seeds 0..SEEDS-1 on that task; "
                                                                 "default --seeds)")
    p.add_argument("--timeout", type=float, default=7200)
    p.add_argument("--plots", type=Path, default=HERE / "plots")
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    p.add_argument("--work", type=Path, default=None,
                   help="keep the run directories here (default: a temporary directory); a run whose directory "
                        "already holds a summary.json is read, not run again (its wall time is the in-process "
                        "wall_seconds), so a long invocation can be continued or extended by seeds")
    argv = sys.argv[1:]
    a = p.parse_args()
    from tandem.plot import plot_runs

    machine = machine_info()
    rows, met = [], 0
    a.plots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-mujoco-ppo-") as tmp:
        work = a.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for item in a.envs:
            env, _, n = item.partition(":")
            runs = []
            for seed in range(int(n) if n else a.seeds):
                r = run_tandem("tandem", seed, ["--env", env, "--total-steps", str(a.steps), "--eval-episodes",
                                                str(EVAL_EPISODES), "--no-tensorboard"],
                               work / f"{env}-seed{seed}", work / "cache", a.timeout, reuse=True)
                runs.append(r)
                print(f"{env} seed {seed}: eval {fmt(r.get('final_eval_return'))}, wall {fmt(r.wall)} s, "
                      f"sps {fmt(r.get('sps'), 0)}" + (f"  ERROR {r.error}" if r.error else ""), flush=True)
            good = ok(runs)
            rets = [r.get("final_eval_return") for r in good]
            mean = statistics.mean(rets) if rets else None
            zoo = ZOO.get(env)
            met += bool(mean is not None and zoo is not None and mean >= zoo)
            png = a.plots / f"ppo-{env}.png"
            done = [str(work / f"{env}-seed{r.seed}") for r in good]
            if done:
                plot_runs(done, str(png))
            rows.append([env, f"{len(good)}/{len(runs)}", fmt(mean, 0), ", ".join(fmt(x, 0) for x in rets),
                         fmt(zoo, 0), "yes" if mean is not None and zoo is not None and mean >= zoo else "no",
                         fmt(median(r.wall for r in good), 0), fmt(median(r.get("sps") for r in good), 0),
                         f"[curve]({png.relative_to(REPO)})" if done and png.is_relative_to(REPO) else "—"])
            shutil.rmtree(work / "cache", ignore_errors=True)
            section = render(rows, met, a, argv, machine)  # after every task: finished tasks are kept
            write_section(a.out, section, START, END)
    print(section)


if __name__ == "__main__":
    main()
