"""Off-policy benchmark: tandem's SAC and TD3 against Stable-Baselines3's, side by side, one invocation.

    python benchmarks/bench_offpolicy.py --seeds 3 --only all --out BENCHMARKS.md

Experiments (each run is a fresh process timed from outside; tandem and SB3 alternate per seed):

* ``cheetah``: HalfCheetah-v5, 12,000 steps, learning from step 2,000, one gradient step per env
  step, 256x256 networks, batch 256, lr 3e-4: whole-process wall time, training SPS, and the
  deterministic evaluation return at 12k steps (10 episodes).
* ``pendulum``: Pendulum-v1, 10,000 steps (--pendulum-steps): the evaluation return at equal steps
  with tandem's Pendulum presets, mirrored in SB3 (SAC: lr 1e-3, learning from step 100; TD3: lr
  1e-3, gamma 0.98, buffer 200k, learning from step 1,000 instead of the preset's 10,000).

tandem uses one persistent compilation cache for the whole benchmark, primed by a short run of each
algorithm first (so the timed runs are what a user waits for on a second run); its compile seconds
are reported separately. tandem writes its run directory (metrics, TensorBoard, 5 checkpoints with
the replay buffer) as a user's run does; SB3 writes nothing.
The markdown section goes between <!-- bench_offpolicy:start --> and <!-- bench_offpolicy:end --> in --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_ppo import (REPO, Run, fmt, last_line, machine_info, median, ok, ratio, run_tandem,  # noqa: E402
                       table, timed_process, write_section)

SB3_CHILD = HERE / "sb3_offpolicy.py"
START, END = "<!-- bench_offpolicy:start -->", "<!-- bench_offpolicy:end -->"
EVAL_EPISODES = 10


def experiments(pendulum_steps: int) -> dict:
    """name -> (env, steps, {algo: (tandem flags, SB3 flags)})."""
    cheetah = ["--learning-starts", "2000"]
    return {
        "cheetah": ("HalfCheetah-v5", 12_000, {
            "sac": (cheetah, ["--learning-starts", "2000", "--lr", "3e-4"]),
            "td3": (cheetah, ["--learning-starts", "2000", "--lr", "3e-4"]),
        }),
        "pendulum": ("Pendulum-v1", pendulum_steps, {
            "sac": ([], ["--learning-starts", "100", "--lr", "1e-3"]),
            "td3": (["--learning-starts", "1000"], ["--learning-starts", "1000", "--lr", "1e-3", "--gamma", "0.98",
                                                    "--buffer-size", "200000"]),
        }),
    }


def tandem_run(algo, env, steps, flags, seed, work: Path, cache: Path, timeout) -> Run:
    args = ["--env", env, "--total-steps", str(steps), "--eval-episodes", str(EVAL_EPISODES), *flags]
    return run_tandem(f"tandem {algo}", seed, args, work / f"{algo}-{env}-{seed}", cache, timeout, algo=algo)


def sb3_run(algo, env, steps, flags, seed, timeout) -> Run:
    cmd = [sys.executable, str(SB3_CHILD), "--algo", algo, "--env", env, "--steps", str(steps), "--seed", str(seed),
           "--eval-episodes", str(EVAL_EPISODES), *flags]
    wall, proc, error = timed_process(cmd, None, timeout)
    run = Run(f"sb3 {algo}", seed, wall=wall, error=error)
    if error is None:
        try:
            run.data = json.loads(last_line(proc.stdout))
        except ValueError as e:
            run.error = f"unreadable output: {e}"
    return run


def run_experiment(name, spec, seeds, work, cache, timeout) -> dict:
    env, steps, algos = spec
    out = {}
    for algo, (t_flags, s_flags) in algos.items():
        runs = {"tandem": [], "sb3": []}
        for seed in range(seeds):
            for lib in ("tandem", "sb3"):
                r = (tandem_run(algo, env, steps, t_flags, seed, work, cache, timeout) if lib == "tandem"
                     else sb3_run(algo, env, steps, s_flags, seed, timeout))
                runs[lib].append(r)
                print(f"[{name}] {lib} {algo} seed {seed}: wall {fmt(r.wall)} s, sps {fmt(r.get('sps'))}, "
                      f"eval {fmt(r.get('final_eval_return'))}" + (f"  ERROR {r.error}" if r.error else ""), flush=True)
        out[algo] = runs
    return out


def markdown(results: dict, specs: dict, seeds: int, machine: dict) -> list[str]:
    lines = [START, "## Off-policy: SAC and TD3 against Stable-Baselines3", "",
             f"`python benchmarks/bench_offpolicy.py --seeds {seeds}` on {machine['cpu']} ({machine['usable_cores']} "
             f"cores, {machine['ram_gib']:.0f} GiB), {machine['os']}, Python {machine['python']}, jax "
             f"{machine['jax']}, torch {machine['torch']}, SB3 {machine['sb3']}, gymnasium {machine['gymnasium']}; "
             f"{machine['date']}, load before start {machine['load_before']}. Each run is a fresh process timed from "
             f"outside; medians over {seeds} seeds (0..{seeds - 1}); same network sizes (256x256), batch 256 and "
             f"update ratio (one gradient step per env step) in both libraries. Training SPS counts the steps of the "
             f"whole run over the training loop's seconds (tandem: `sps` in summary.json; SB3: `learn()`'s seconds).",
             ""]
    for name, runs_by_algo in results.items():
        env, steps, _ = specs[name]
        lines += [f"### {env}, {steps:,} steps", ""]
        rows = []
        for algo, runs in runs_by_algo.items():
            t, s = ok(runs["tandem"]), ok(runs["sb3"])
            t_wall, s_wall = median(r.wall for r in t), median(r.wall for r in s)
            t_ret = [r.get("final_eval_return") for r in t]
            s_ret = [r.get("final_eval_return") for r in s]
            for lib, rs, rets, wall in (("tandem", t, t_ret, t_wall), ("SB3", s, s_ret, s_wall)):
                rows.append([
                    f"{lib} {algo.upper()}", f"{len(rs)}/{seeds}", fmt(wall),
                    fmt(median(r.get("compile_seconds") for r in rs)) if lib == "tandem" else "—",
                    fmt(median(r.get("sps") for r in rs)),
                    fmt(statistics.mean(rets) if rets else None), ", ".join(fmt(x) for x in rets),
                    ratio(s_wall, t_wall) if lib == "tandem" else "1.00x"])
        lines += table(["run", "ok", "wall, s (median)", "compile, s", "training SPS (median)",
                        "eval return (mean of seeds)", "per seed", "speed vs SB3 (wall)"], rows)
        lines.append("")
    lines.append(END)
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--only", choices=("all", "cheetah", "pendulum"), default="all")
    p.add_argument("--pendulum-steps", type=int, default=10_000)
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    p.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    a = p.parse_args()
    machine = machine_info()
    specs = experiments(a.pendulum_steps)
    names = list(specs) if a.only == "all" else [a.only]
    work = Path(tempfile.mkdtemp(prefix="tandem-bench-offpolicy-"))
    cache = work / "xla-cache"
    for n in names:  # prime the compilation cache with the same programs: the timed runs start warm
        env, _, algos = specs[n]
        for algo, (t_flags, _) in algos.items():
            run_tandem("prime", 0, ["--env", env, "--total-steps", "200", "--eval-episodes", str(EVAL_EPISODES),
                                    *t_flags], work / f"prime-{algo}-{env}", cache, a.timeout, algo=algo)
    results = {n: run_experiment(n, specs[n], a.seeds, work, cache, a.timeout) for n in names}
    if a.json:
        a.json.write_text(json.dumps({n: {algo: {lib: [r.__dict__ for r in rs] for lib, rs in v.items()}
                                          for algo, v in res.items()} for n, res in results.items()}, indent=1))
    write_section(a.out, "\n".join(markdown(results, specs, a.seeds, machine)) + "\n", START, END)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
