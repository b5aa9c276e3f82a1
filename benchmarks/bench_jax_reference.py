"""tandem's JAX runner against a minimal PureJaxRL-style PPO (benchmarks/purejaxrl_ppo.py), side by side.

    python benchmarks/bench_jax_reference.py --reps 2 --out BENCHMARKS.md

gymnax CartPole-v1, 1M steps per seed, PureJaxRL's settings (bench_ppo.PUREJAXRL_CARTPOLE: 4 envs x 128
steps, 4 epochs of 4 minibatches, lr 2.5e-4 annealed, no entropy bonus), 1 and 8 seeds, every run a fresh
process with a cold compilation cache; tandem and the reference alternate. For tandem: compile_seconds
(initialisation and the ahead-of-time compilation of its training and evaluation programs) and run_seconds
(the training loop) from summary.json; for the reference: lower + compile of its one program, and the
compiled call. The whole-process wall time is timed from outside. tandem also does what the reference
does not: per-step episode bookkeeping, non-finite checks, metrics rows, checkpoints, a final
evaluation of 10 episodes. The section goes between <!-- bench_jax_reference:start --> and
<!-- bench_jax_reference:end --> in --out.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_ppo import (PUREJAXRL_CARTPOLE, REPO, Run, fmt, json_child, machine_info, median, ok, ratio,  # noqa: E402
                       run_tandem, table, write_section)

START, END = "<!-- bench_jax_reference:start -->", "<!-- bench_jax_reference:end -->"
REFERENCE = HERE / "purejaxrl_ppo.py"


def tandem_run(k: int, rep: int, steps: int, work: Path, timeout: float) -> Run:
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=work))
    args = ["--env", "gymnax:CartPole-v1", "--total-steps", str(steps), *PUREJAXRL_CARTPOLE]
    if k > 1:
        args += ["--num-seeds", str(k)]
    return run_tandem(f"tandem x{k}", rep * k, args, work / f"tandem-x{k}-r{rep}", cache, timeout)


def reference_run(k: int, rep: int, steps: int, timeout: float) -> Run:
    cmd = [sys.executable, str(REFERENCE), "--num-seeds", str(k), "--total-steps", str(steps), "--seed", str(rep * k)]
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR="", JAX_ENABLE_COMPILATION_CACHE="false")
    return json_child(f"reference x{k}", rep * k, cmd, timeout, env)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 8])
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    argv = sys.argv[1:]
    a = p.parse_args()
    machine = machine_info()
    runs: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-jax-ref-") as tmp:
        work = Path(tmp)
        for rep in range(a.reps):
            for k in a.seeds:
                for lib in ("tandem", "reference"):
                    r = tandem_run(k, rep, a.steps, work, a.timeout) if lib == "tandem" else \
                        reference_run(k, rep, a.steps, a.timeout)
                    runs.setdefault((lib, k), []).append(r)
                    print(f"{r.label} rep {rep}: wall {fmt(r.wall)} s, compile {fmt(r.get('compile_seconds'))} s, "
                          f"run {fmt(r.get('run_seconds'))} s" + (f"  ERROR {r.error}" if r.error else ""), flush=True)
    rows = []
    for k in a.seeds:
        t, ref = ok(runs[("tandem", k)]), ok(runs[("reference", k)])
        med = {(lib, key): median(r.get(key) if key != "wall" else r.wall for r in rs)
               for lib, rs in (("t", t), ("r", ref)) for key in ("wall", "compile_seconds", "run_seconds")}
        for lib, rs, tag in (("tandem", t, "t"), ("reference", ref, "r")):
            rows.append([str(k), lib, f"{len(rs)}/{a.reps}", fmt(med[(tag, "wall")]), fmt(med[(tag, "compile_seconds")]),
                         fmt(med[(tag, "run_seconds")]),
                         "1.00x" if tag == "r" else ratio(med[("t", "run_seconds")], med[("r", "run_seconds")]),
                         "1.00x" if tag == "r" else ratio(med[("t", "compile_seconds")], med[("r", "compile_seconds")])])
    lines = [START, "## JAX runner against a minimal PureJaxRL-style PPO", "",
             f"`python benchmarks/bench_jax_reference.py {' '.join(argv)}` on {machine['cpu']} "
             f"({machine['usable_cores']} cores), Python {machine['python']}, jax {machine['jax']}; {machine['date']}, "
             f"load before start {machine['load_before']}. gymnax CartPole-v1, {a.steps:,} steps per seed, PureJaxRL's "
             f"settings, cold compilation caches, medians of {a.reps} repetitions. Ratios are tandem / reference "
             f"(targets: run time within 1.1x, compilation within 1.5x).", ""]
    lines += table(["seeds", "program", "ok", "wall, s", "compile, s", "run, s", "run ratio", "compile ratio"], rows)
    section = "\n".join(lines + ["", END]) + "\n"
    write_section(a.out, section, START, END)
    print(section)


if __name__ == "__main__":
    main()
