"""Off-policy benchmark: tandem's SAC and TD3 against Stable-Baselines3's and SBX's, side by side, one invocation.

    python benchmarks/bench_offpolicy.py --seeds 3 --only all --out BENCHMARKS.md

Experiments (each run is a fresh process timed from outside; tandem, SB3 and SBX alternate per seed; on
HalfCheetah the bare gradient step of tandem's learner is measured too, benchmarks/grad_step_bound.py):

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
The markdown section goes between <!-- bench_offpolicy:start --> and <!-- bench_offpolicy:end --> in --out
(--marker names other markers).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_ppo import (REPO, Run, fmt, json_child, machine_info, median, ok, ratio, run_tandem,  # noqa: E402
                       table, write_section)

SB3_CHILD = HERE / "sb3_offpolicy.py"
BOUND_CHILD = HERE / "grad_step_bound.py"
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


def sb3_run(algo, env, steps, flags, seed, timeout, lib: str = "sb3") -> Run:
    cmd = [sys.executable, str(SB3_CHILD), "--algo", algo, "--lib", lib, "--env", env, "--steps", str(steps),
           "--seed", str(seed), "--eval-episodes", str(EVAL_EPISODES), *flags]
    return json_child(f"{lib} {algo}", seed, cmd, timeout)


def bound_run(algo, env, timeout) -> Run:
    """The bare gradient step of tandem's learner (benchmarks/grad_step_bound.py): the SPS bound at UTD 1."""
    return json_child(f"bound {algo}", 0, [sys.executable, str(BOUND_CHILD), "--algo", algo, "--env", env], timeout)


def run_experiment(name, spec, seeds, libs, work, cache, timeout) -> dict:
    env, steps, algos = spec
    out = {}
    for algo, (t_flags, s_flags) in algos.items():
        runs = {lib: [] for lib in libs}
        for seed in range(seeds):
            for lib in libs:
                r = (tandem_run(algo, env, steps, t_flags, seed, work, cache, timeout) if lib == "tandem"
                     else sb3_run(algo, env, steps, s_flags, seed, timeout, lib))
                runs[lib].append(r)
                print(f"[{name}] {lib} {algo} seed {seed}: wall {fmt(r.wall)} s, sps {fmt(r.get('sps'))}, "
                      f"eval {fmt(r.get('final_eval_return'))}" + (f"  ERROR {r.error}" if r.error else ""), flush=True)
        if name == "cheetah":
            runs["bound"] = [bound_run(algo, env, timeout)]
            print(f"[{name}] bound {algo}: {fmt(runs['bound'][0].get('bound_sps'))} SPS", flush=True)
        out[algo] = runs
    return out


LIB_NAMES = {"tandem": "tandem", "sb3": "SB3", "sbx": "SBX"}


def markdown(results: dict, specs: dict, seeds: int, libs: list[str], machine: dict, marker: str = "bench_offpolicy",
             argv: str = "") -> list[str]:
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    lines = [start, "## Off-policy: SAC and TD3 against Stable-Baselines3 and SBX", "",
             f"`python benchmarks/bench_offpolicy.py {argv or f'--seeds {seeds}'}` on {machine['cpu']} "
             f"({machine['usable_cores']} cores, {machine['ram_gib']:.0f} GiB), {machine['os']}, Python "
             f"{machine['python']}, jax {machine['jax']}, torch {machine['torch']}, SB3 {machine['sb3']}, SBX "
             f"{machine.get('sbx', '—')}, gymnasium {machine['gymnasium']}; {machine['date']}, load before start "
             f"{machine['load_before']}. Each run is a fresh process timed from outside; medians over {seeds} seeds "
             f"(0..{seeds - 1}); same network sizes (256x256), batch 256 and update ratio (one gradient step per env "
             f"step) in every library. Training SPS counts the steps of the whole run over the training loop's "
             f"seconds (tandem: `sps` in summary.json; SB3 and SBX: `learn()`'s seconds). The bound is one bare "
             f"gradient step of tandem's learner (benchmarks/grad_step_bound.py: no env, no buffer, a scan of "
             f"identical steps), 1 / its seconds; SPS / bound is each library's SPS as a fraction of it.", ""]
    for name, runs_by_algo in results.items():
        env, steps, _ = specs[name]
        lines += [f"### {env}, {steps:,} steps", ""]
        rows = []
        for algo, runs in runs_by_algo.items():
            good = {lib: ok(runs[lib]) for lib in libs}
            sps = {lib: median(r.get("sps") for r in good[lib]) for lib in libs}
            bound = runs.get("bound", [Run("", 0)])[0].get("bound_sps")
            for lib in libs:
                rs = good[lib]
                rets = [r.get("final_eval_return") for r in rs]
                rows.append([
                    f"{LIB_NAMES[lib]} {algo.upper()}", f"{len(rs)}/{seeds}", fmt(median(r.wall for r in rs)),
                    fmt(median(r.get("compile_seconds") for r in rs)) if lib == "tandem" else "—",
                    fmt(sps[lib]), ratio(sps[lib], bound) if bound else "—",
                    fmt(statistics.mean(rets) if rets else None), ", ".join(fmt(x) for x in rets),
                    *[ratio(sps["tandem"], sps[o]) if lib == "tandem" and o in sps else "—" for o in ("sb3", "sbx")]])
            if bound:
                rows.append([f"bound {algo.upper()}", "—", "—", "—", fmt(bound), "1.00x", "—", "—", "—", "—"])
        lines += table(["run", "ok", "wall, s (median)", "compile, s", "training SPS (median)", "SPS / bound",
                        "eval return (mean of seeds)", "per seed", "tandem SPS / SB3's", "tandem SPS / SBX's"], rows)
        lines.append("")
    lines.append(end)
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--only", choices=("all", "cheetah", "pendulum"), default="all")
    p.add_argument("--pendulum-steps", type=int, default=10_000)
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    p.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    p.add_argument("--marker", default="bench_offpolicy",
                   help="the section's markers in --out (<!-- MARKER:start --> ... <!-- MARKER:end -->)")
    p.add_argument("--libs", nargs="+", choices=("tandem", "sb3", "sbx"), default=["tandem", "sb3", "sbx"],
                   help="the libraries run side by side (sbx: pip install sbx-rl, in the bench extra)")
    a = p.parse_args()
    machine = machine_info()
    if "sbx" in a.libs:
        machine["sbx"] = importlib.metadata.version("sbx-rl")
    specs = experiments(a.pendulum_steps)
    names = list(specs) if a.only == "all" else [a.only]
    work = Path(tempfile.mkdtemp(prefix="tandem-bench-offpolicy-"))
    cache = work / "xla-cache"
    for n in names:  # prime the compilation cache with the same programs: the timed runs start warm
        env, _, algos = specs[n]
        for algo, (t_flags, _) in algos.items():
            run_tandem("prime", 0, ["--env", env, "--total-steps", "200", "--eval-episodes", str(EVAL_EPISODES),
                                    *t_flags], work / f"prime-{algo}-{env}", cache, a.timeout, algo=algo)
    results = {n: run_experiment(n, specs[n], a.seeds, a.libs, work, cache, a.timeout) for n in names}
    if a.json:
        a.json.write_text(json.dumps({n: {algo: {lib: [r.__dict__ for r in rs] for lib, rs in v.items()}
                                          for algo, v in res.items()} for n, res in results.items()}, indent=1))
    section = "\n".join(markdown(results, specs, a.seeds, a.libs, machine, a.marker, " ".join(sys.argv[1:]))) + "\n"
    write_section(a.out, section, f"<!-- {a.marker}:start -->", f"<!-- {a.marker}:end -->")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
