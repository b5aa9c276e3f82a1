"""PPO's fallback (an environment without a preset) against Stable-Baselines3's PPO defaults, side by side.

    python benchmarks/bench_fallback.py --seeds 2 --envs LunarLander-v3:1000000 BipedalWalker-v3:1000000 --out BENCHMARKS.md

A new user runs ``tandem train ppo --env ID`` on a popular environment tandem has no preset for, or
``PPO("MlpPolicy", env).learn(N)`` in SB3. For each environment (LunarLander-v3 and BipedalWalker-v3 by
default: Box2D, one discrete and one continuous, neither with a tandem preset) and seed this runs, each
as a fresh process timed from outside:

* ``tandem``: ``tandem train ppo --env ID --total-steps N`` with no other flag (the fallback, SB3's
  defaults: ``SB3_PPO_DEFAULTS`` in ``tandem/algos/ppo/presets.py``);
* ``tandem, old fallback``: the same with the flags of the fallback before it changed (the dataclass
  defaults: 8 envs x 128 steps, 4 epochs of 4 minibatches, lr 2.5e-4 annealed);
* ``SB3``: ``PPO("MlpPolicy", env, seed=S)`` on one env (benchmarks/sb3_offpolicy.py --algo ppo).

Each ends with 20 deterministic evaluation episodes. The section goes between
<!-- bench_fallback:start --> and <!-- bench_fallback:end --> in --out.
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

from bench_offpolicy import sb3_run  # noqa: E402
from bench_ppo import REPO, Run, fmt, machine_info, median, ok, run_tandem, table, write_section  # noqa: E402

START, END = "<!-- bench_fallback:start -->", "<!-- bench_fallback:end -->"
EVAL_EPISODES = 20
OLD_FALLBACK = ["--num-envs", "8", "--num-steps", "128", "--num-minibatches", "4", "--update-epochs", "4",
                "--lr", "2.5e-4", "--anneal-lr"]
VARIANTS = ("tandem", "tandem, old fallback", "SB3")


def run_one(variant: str, env: str, steps: int, seed: int, work: Path, cache: Path, timeout: float):
    """One run, or the result a run of an earlier invocation left in ``work`` (--work)."""
    if variant == "SB3":
        saved = work / f"sb3-{env}-{steps}-{seed}.json"
        if saved.exists():
            d = json.loads(saved.read_text())
            return Run(variant, seed, wall=d.pop("wall"), data=d)
        r = sb3_run("ppo", env, steps, [], seed, timeout)
        if r.error is None:
            saved.write_text(json.dumps({**r.data, "wall": r.wall}))
        return r
    flags = OLD_FALLBACK if variant != "tandem" else []
    args = ["--env", env, "--total-steps", str(steps), "--eval-episodes", str(EVAL_EPISODES), *flags]
    run_dir = work / f"{'old' if flags else 'new'}-{env}-{steps}-{seed}"
    return run_tandem(variant, seed, args, run_dir, cache, timeout, reuse=True)


def markdown(results: dict, seeds: int, steps: dict, machine: dict, argv: list[str]) -> list[str]:
    lines = [START, "## PPO without a preset: tandem's fallback against SB3's defaults", "",
             f"`python benchmarks/bench_fallback.py {' '.join(argv)}` on {machine['cpu']} ({machine['usable_cores']} "
             f"cores), Python {machine['python']}, jax {machine['jax']}, torch {machine['torch']}, SB3 {machine['sb3']}, "
             f"gymnasium {machine['gymnasium']}; {machine['date']}. Seeds 0..{seeds - 1}, "
             f"each a fresh process; the return is the mean of {EVAL_EPISODES} deterministic evaluation episodes "
             f"at the end. tandem's fallback is SB3's PPO defaults (`SB3_PPO_DEFAULTS` in "
             f"`tandem/algos/ppo/presets.py`); the old fallback is what it replaced (8 envs x 128 steps, 4 epochs "
             f"of 4 minibatches, lr 2.5e-4 annealed).", ""]
    rows = []
    for env, by_variant in results.items():
        for variant in VARIANTS:
            runs = by_variant[variant]
            good = ok(runs)
            rets = [r.get("final_eval_return") for r in good]
            rows.append([env, f"{steps[env]:,}", variant, f"{len(good)}/{len(runs)}",
                         fmt(statistics.mean(rets) if rets else None), ", ".join(fmt(x) for x in rets),
                         fmt(median(r.wall for r in good)),
                         fmt(median(r.get("sps") for r in good), 0)])
    lines += table(["env", "steps", "run", "ok", "eval return (mean of seeds)", "per seed", "wall, s (median)",
                    "training SPS (median)"], rows)
    lines += ["", END]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--envs", nargs="+", default=["LunarLander-v3:1000000", "BipedalWalker-v3:1000000"],
                   help="ENV:STEPS, the environment steps of every run on ENV")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    p.add_argument("--work", type=Path, default=None,
                   help="keep the runs here (default: a temporary directory); a finished run found there is read, "
                        "not run again (a tandem run's wall time is then its in-process wall_seconds)")
    argv = sys.argv[1:]
    a = p.parse_args()
    machine = machine_info()
    steps = {e.rsplit(":", 1)[0]: int(e.rsplit(":", 1)[1]) for e in a.envs}
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-fallback-") as tmp:
        work = a.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cache = work / "cache"
        for env in steps:
            results[env] = {v: [] for v in VARIANTS}
            for seed in range(a.seeds):
                for variant in VARIANTS:
                    r = run_one(variant, env, steps[env], seed, work, cache, a.timeout)
                    results[env][variant].append(r)
                    print(f"{env} {variant} seed {seed}: eval {fmt(r.get('final_eval_return'))}, wall {fmt(r.wall)} s"
                          + (f"  ERROR {r.error}" if r.error else ""), flush=True)
    section = "\n".join(markdown(results, a.seeds, steps, machine, argv)) + "\n"
    write_section(a.out, section, START, END)
    print(section)


if __name__ == "__main__":
    main()
