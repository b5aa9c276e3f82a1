"""PPO benchmark: tandem against Stable-Baselines3, side by side on this machine.

How to run (from the repository root):

    pip install -e ".[bench]" && python benchmarks/bench_ppo.py

    python benchmarks/bench_ppo.py --seeds 3 --cap-steps 200000 --only all --out BENCHMARKS.md
    python benchmarks/bench_ppo.py --quick --out /tmp/bench.md       # smoke test: 1 seed, tiny caps

Every measured run is a fresh Python process, timed from outside with time.perf_counter around
subprocess.run, so a number is what a user waits for: start-up, imports, compilation, training,
final evaluation and writing results. tandem and SB3 runs alternate (tandem seed 0, SB3 seed 0,
tandem seed 1, ...), so slow drift of the machine hits both alike.

A. CartPole-v1 (Gymnasium): time until the mean return of the last 20 finished training episodes
   is >= 475, capped at --cap-steps. tandem runs "cold" (an empty compilation cache) and "warm" (a
   cache filled by one untimed priming run with the same config); SB3 runs
   benchmarks/sb3_ppo_cartpole.py with the RL-Zoo hyperparameters.
B. gymnax:CartPole-v1, tandem only (SB3 cannot step JAX environments): --gymnax-steps steps with
   1 seed and with --num-seeds 8 (cold cache), repeated --seeds times.

The markdown section goes between <!-- bench_ppo:start --> and <!-- bench_ppo:end --> in --out
(replaced if present, else appended) and is printed. It is rewritten whole, so --only drops the
other part of an earlier section. Only the standard library is used here; the children import
tandem, torch and SB3. A child that fails is recorded in the tables with its error.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SB3_CHILD = HERE / "sb3_ppo_cartpole.py"
START, END = "<!-- bench_ppo:start -->", "<!-- bench_ppo:end -->"
TARGET = 475.0
EVAL_EPISODES = 10


@dataclasses.dataclass
class Run:
    """One measured child process."""

    label: str  # "tandem cold", "tandem warm", "sb3", "gymnax x1", "gymnax x8"
    seed: int
    wall: float | None = None  # whole-process seconds, timed from outside
    data: dict = dataclasses.field(default_factory=dict)  # summary.json or the SB3 child's JSON line
    error: str | None = None

    def get(self, key):
        return self.data.get(key)


# ---------------------------------------------------------------------------------------------
# Running children


def tandem_command() -> list[str]:
    """The `tandem` console script of this Python, else the one on PATH, else the CLI via -c."""
    script = Path(sys.executable).parent / "tandem"
    if script.exists():
        return [str(script)]
    found = shutil.which("tandem")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from tandem.cli import main; sys.exit(main())"]


def timed_process(cmd: list[str], env: dict | None, timeout: float) -> tuple[float, subprocess.CompletedProcess | None, str | None]:
    """Run cmd in a fresh process; returns (wall seconds, completed process, error or None)."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, None, f"timed out after {timeout:.0f} s"
    except OSError as e:
        return time.perf_counter() - t0, None, f"could not start: {e}"
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return wall, proc, f"exit {proc.returncode}: {last_line(proc.stderr or proc.stdout)}"
    return wall, proc, None


def json_child(label: str, seed: int, cmd: list[str], timeout: float, env: dict | None = None) -> Run:
    """A child process timed from outside that prints one JSON line last (its data)."""
    wall, proc, error = timed_process(cmd, env, timeout)
    run = Run(label, seed, wall=wall, error=error)
    if error is None:
        try:
            run.data = json.loads(last_line(proc.stdout))
        except ValueError as e:
            run.error = f"unreadable output: {e}"
    return run


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"


def run_tandem(label: str, seed: int, args: list[str], run_dir: Path, cache_dir: Path, timeout: float,
               algo: str = "ppo", reuse: bool = False) -> Run:
    """`tandem train ALGO ARGS --seed S --run-dir DIR --quiet` with TANDEM_CACHE_DIR=cache_dir; reads summary.json.
    ``reuse``: a run_dir that already holds a summary.json (an earlier invocation's, kept with --work) is read,
    not run again; its wall time is then the in-process ``wall_seconds``."""
    if reuse and (run_dir / "summary.json").exists():
        data = json.loads((run_dir / "summary.json").read_text())
        return Run(label, seed, wall=data["wall_seconds"], data=data)
    env = dict(os.environ, TANDEM_CACHE_DIR=str(cache_dir))
    cmd = tandem_command() + ["train", algo, *args, "--seed", str(seed), "--run-dir", str(run_dir), "--quiet"]
    wall, _, error = timed_process(cmd, env, timeout)
    run = Run(label, seed, wall=wall, error=error)
    summary = run_dir / "summary.json"
    if error is None:
        try:
            run.data = json.loads(summary.read_text())
        except (OSError, ValueError) as e:
            run.error = f"no readable summary.json: {e}"
    return run


def cartpole_args(cap_steps: int) -> list[str]:
    return ["--env", "CartPole-v1", "--target-return", str(TARGET), "--total-steps", str(cap_steps),
            "--eval-episodes", str(EVAL_EPISODES)]


def tandem_cartpole_cold(seed: int, cap_steps: int, work: Path, timeout: float) -> Run:
    """tandem on CartPole-v1 with a fresh, empty compilation cache."""
    cache = Path(tempfile.mkdtemp(prefix="cache-cold-", dir=work))
    return run_tandem("tandem cold", seed, cartpole_args(cap_steps), work / f"tandem-cold-s{seed}", cache, timeout)


def tandem_cartpole_warm(seed: int, cap_steps: int, work: Path, warm_cache: Path, timeout: float) -> Run:
    """tandem on CartPole-v1 with the compilation cache filled by the priming run."""
    return run_tandem("tandem warm", seed, cartpole_args(cap_steps), work / f"tandem-warm-s{seed}", warm_cache, timeout)


def prime_warm_cache(cap_steps: int, work: Path, timeout: float) -> tuple[Path, Run]:
    """One untimed run with the same config, to fill the cache the warm runs use."""
    cache = work / "cache-warm"
    cache.mkdir()
    run = run_tandem("priming", 0, cartpole_args(cap_steps), work / "tandem-priming", cache, timeout)
    return cache, run


def sb3_cartpole(seed: int, cap_steps: int, timeout: float) -> Run:
    """SB3 PPO (RL-Zoo hyperparameters) on CartPole-v1 in benchmarks/sb3_ppo_cartpole.py."""
    cmd = [sys.executable, str(SB3_CHILD), "--seed", str(seed), "--cap-steps", str(cap_steps),
           "--target-return", str(TARGET), "--eval-episodes", str(EVAL_EPISODES), "--t0", repr(time.time())]
    wall, proc, error = timed_process(cmd, None, timeout)
    run = Run("sb3", seed, wall=wall, error=error)
    if error is None:
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        try:
            run.data = json.loads(lines[-1])
        except (IndexError, ValueError):
            run.error = f"no JSON result line in the output: {last_line(proc.stdout + proc.stderr)}"
    return run


# The throughput comparison is against a PureJaxRL-style script, so section B uses its CartPole
# hyperparameters (minus the entropy bonus) rather than tandem's preset for the env.
PUREJAXRL_CARTPOLE = ["--num-envs", "4", "--num-steps", "128", "--num-minibatches", "4", "--update-epochs", "4",
                      "--lr", "2.5e-4", "--gamma", "0.99", "--gae-lambda", "0.95", "--ent-coef", "0.0",
                      "--clip-coef", "0.2", "--vf-coef", "0.5", "--max-grad-norm", "0.5"]


def tandem_gymnax(tag: str, rep: int, num_seeds: int, flags: list[str], work: Path, timeout: float) -> Run:
    """tandem on gymnax:CartPole-v1 (the whole run compiled), with num_seeds seeds vmapped; cold cache."""
    seed = rep * num_seeds  # repetitions use disjoint seeds
    cache = Path(tempfile.mkdtemp(prefix="cache-gymnax-", dir=work))
    args = ["--env", "gymnax:CartPole-v1", *flags]
    if num_seeds > 1:
        args += ["--num-seeds", str(num_seeds)]
    return run_tandem(f"{tag} x{num_seeds}", seed, args, work / f"{tag}-x{num_seeds}-r{rep}", cache, timeout)


def progress(i: int, n: int, run: Run) -> None:
    status = f"ERROR {run.error}" if run.error else f"{run.wall:.1f} s"
    print(f"[{i}/{n}] {run.label} seed {run.seed}: {status}", file=sys.stderr, flush=True)


def bench_cartpole(seeds: int, cap_steps: int, work: Path, timeout: float) -> tuple[list[Run], Run]:
    """Section A: priming run, then per seed tandem cold, tandem warm, SB3."""
    print("A. CartPole-v1: priming the warm cache (untimed) ...", file=sys.stderr, flush=True)
    warm_cache, priming = prime_warm_cache(cap_steps, work, timeout)
    if priming.error:
        print(f"   priming failed: {priming.error}", file=sys.stderr, flush=True)
    runs, n = [], 3 * seeds

    def record(run: Run) -> None:
        runs.append(run)
        progress(len(runs), n, run)

    for s in range(seeds):
        record(tandem_cartpole_cold(s, cap_steps, work, timeout))
        record(tandem_cartpole_warm(s, cap_steps, work, warm_cache, timeout))
        record(sb3_cartpole(s, cap_steps, timeout))
    return runs, priming


def gymnax_configs(total_steps: int, preset_steps: int) -> list[tuple[str, list[str]]]:
    """B: PureJaxRL's settings for throughput; C: tandem's preset (its default total_steps unless capped)."""
    preset = [] if preset_steps <= 0 else ["--total-steps", str(preset_steps)]
    return [("purejaxrl", ["--total-steps", str(total_steps), *PUREJAXRL_CARTPOLE]), ("preset", preset)]


def bench_gymnax(reps: int, configs: list[tuple[str, list[str]]], work: Path, timeout: float) -> list[Run]:
    """Sections B and C: per configuration and repetition, 1 seed then 8 seeds."""
    runs, n = [], 2 * reps * len(configs)
    for tag, flags in configs:
        print(f"gymnax:CartPole-v1, {tag}: {' '.join(flags)} ...", file=sys.stderr, flush=True)
        for r in range(reps):
            for k in (1, 8):
                runs.append(tandem_gymnax(tag, r, k, flags, work, timeout))
                progress(len(runs), n, runs[-1])
    return runs


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    ram_gib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 2**20
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def version(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "ram_gib": ram_gib,
        "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
        **{name: version(dist) for name, dist in [("tandem", "tandem-rl"), ("jax", "jax"), ("jaxlib", "jaxlib"),
                                                   ("torch", "torch"), ("sb3", "stable-baselines3"),
                                                   ("gymnasium", "gymnasium"), ("gymnax", "gymnax")]},
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": load_average(),
    }


def load_average() -> str:
    """1-minute load average: the benchmark is only meaningful on an otherwise idle machine."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


# ---------------------------------------------------------------------------------------------
# Markdown


def fmt(x, nd: int = 1) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:,.{nd}f}" if abs(x) >= 1000 else f"{x:.{nd}f}"
    return str(x)


def median(values) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def ratio(a, b) -> str:
    return "—" if a is None or not b else f"{a / b:.2f}x"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def ok(runs: list[Run]) -> list[Run]:
    return [r for r in runs if r.error is None]


def reached(runs: list[Run]) -> str:
    return f"{sum(bool(r.get('reached_target')) for r in ok(runs))}/{len(runs)}"


def cartpole_markdown(runs: list[Run], priming: Run, cap_steps: int) -> list[str]:
    groups = {label: [r for r in runs if r.label == label] for label in ("tandem cold", "tandem warm", "sb3")}

    def med(label, key):
        return median(r.wall if key == "wall" else r.get(key) for r in ok(groups[label]))

    def row(name, key, nd=1, labels=("tandem cold", "tandem warm", "sb3")):
        return [name] + [fmt(med(lb, key), nd) if lb in labels else "n/a" for lb in groups]

    walls = {lb: med(lb, "wall") for lb in groups}
    lines = [f"### A. CartPole-v1: time to a return of {TARGET:g}", "",
             f"Stop when the mean return of the last 20 finished training episodes is >= {TARGET:g} "
             f"(cap {cap_steps:,} steps), then {EVAL_EPISODES} deterministic evaluation episodes. "
             "Each library with its tuned defaults for CartPole-v1. SB3: RL-Zoo hyperparameters (8 envs, "
             "32 steps, 1 minibatch of 256, 20 epochs, gamma 0.98, lambda 0.8, lr and clip linear from 1e-3 and "
             "0.2). tandem: its preset (the same but 10 epochs and lr linear from 2e-3, clip fixed at 0.2; "
             "`tandem/algos/ppo/presets.py`), same 64x64 tanh networks. tandem uses its host runner "
             "(Gymnasium envs, jitted act and update); SB3 uses DummyVecEnv and torch on the CPU. "
             "Medians over seeds; steps and sps over runs that finished.", ""]
    lines += table(["median", "tandem, cold cache", "tandem, warm cache", "SB3"], [
        row("**whole-process wall, s**", "wall"),
        ["reached target"] + [reached(groups[lb]) for lb in groups],
        row("steps to target", "steps_to_target", 0),
        row("compile, s", "compile_seconds", labels=("tandem cold", "tandem warm")),
        row("training sps", "sps", 0),
        row("final eval return", "final_eval_return"),
    ])
    lines += ["", f"**SB3 wall / tandem wall** (median; > 1 means tandem is faster): "
                  f"cold cache {ratio(walls['sb3'], walls['tandem cold'])}, "
                  f"warm cache {ratio(walls['sb3'], walls['tandem warm'])}.", ""]
    if priming.error:
        lines += [f"The priming run for the warm cache failed ({priming.error}); warm runs started with "
                  "whatever the cache held.", ""]
    lines += ["<details><summary>Per seed</summary>", ""]
    lines += table(["seed", "run", "wall, s", "in-process, s †", "compile, s", "steps to target", "s to target ‡",
                    "sps", "final eval return", "error"],
                   [[str(r.seed), r.label, fmt(r.wall), fmt(r.get("wall_seconds" if r.label != "sb3" else "train_seconds")),
                     fmt(r.get("compile_seconds")), fmt(r.get("steps_to_target")), fmt(r.get("seconds_to_target")),
                     fmt(r.get("sps"), 0), fmt(r.get("final_eval_return")), r.error or ""] for r in runs])
    threads = sorted({r.get("torch_threads") for r in ok(groups["sb3"])} - {None})
    lines += ["", "† tandem: summary.json `wall_seconds` (set-up, compilation, training, evaluation; after "
                  "imports); SB3: `model.learn` only.", "",
              "‡ In-process time to target: tandem counts from the start of training set-up (after "
              "imports); SB3 from the parent's launch of the process. Compare the outside wall times."]
    if threads:
        lines += ["", f"SB3 ran with torch's default of {', '.join(map(str, threads))} thread(s)."]
    lines += ["", "</details>", ""]
    return lines


def gymnax_markdown(all_runs: list[Run], total_steps: int) -> list[str]:
    return (gymnax_config_markdown([r for r in all_runs if r.label.startswith("purejaxrl")], "purejaxrl",
                                   f"### B. gymnax:CartPole-v1, throughput: {total_steps:,} steps per seed",
                                   "PPO with PureJaxRL's CartPole hyperparameters (4 envs x 128 steps, 4 epochs x 4 "
                                   "minibatches, lr 2.5e-4 annealed, 64x64 tanh networks; no entropy bonus), passed "
                                   "as flags: `" + " ".join(PUREJAXRL_CARTPOLE) + "`.")
            + gymnax_config_markdown([r for r in all_runs if r.label.startswith("preset")], "preset",
                                     "### C. gymnax:CartPole-v1 with tandem's defaults, 1 seed vs 8 seeds",
                                     "`tandem train ppo --env gymnax:CartPole-v1 [--num-seeds 8]`: the preset "
                                     "(8 envs x 32 steps, 10 epochs, lr 2e-3, its default 150,000 steps per seed)."))


def gymnax_config_markdown(runs: list[Run], tag: str, title: str, what: str) -> list[str]:
    one = [r for r in runs if r.label == f"{tag} x1"]
    eight = [r for r in runs if r.label == f"{tag} x8"]

    def med(group, key):
        return median(r.wall if key == "wall" else r.get(key) for r in ok(group))

    def passing(group):
        counts = []
        for r in group:
            per_seed = r.get("final_eval_return_per_seed") or []
            counts.append("error" if r.error else f"{sum(x is not None and x >= TARGET for x in per_seed)}/{len(per_seed)}")
        return ", ".join(counts) or "—"

    lines = [title, "", what + " "
             "The whole run is one compiled program (JAX runner); with `--num-seeds 8` the seeds are vmapped "
             "(and sharded over the CPU cores). SB3 cannot step JAX environments. Each process starts with an "
             "empty compilation cache. sps counts the steps of all seeds.", ""]
    lines += table(["median", "1 seed", "8 seeds (`--num-seeds 8`)"], [
        ["**whole-process wall, s**", fmt(med(one, "wall")), fmt(med(eight, "wall"))],
        ["compile, s", fmt(med(one, "compile_seconds")), fmt(med(eight, "compile_seconds"))],
        ["run after compile, s", fmt(med(one, "run_seconds")), fmt(med(eight, "run_seconds"))],
        ["sps (all seeds)", fmt(med(one, "sps"), 0), fmt(med(eight, "sps"), 0)],
        ["final eval return (mean of seeds)", fmt(med(one, "final_eval_return")), fmt(med(eight, "final_eval_return"))],
        [f"seeds with eval return >= {TARGET:g}, per run", passing(one), passing(eight)],
    ])
    lines += ["", f"**run_seconds(8 seeds) / run_seconds(1 seed)** (medians): "
                  f"{ratio(med(eight, 'run_seconds'), med(one, 'run_seconds'))} for 8x the environment steps.", ""]
    lines += ["<details><summary>Per run</summary>", ""]
    lines += table(["seeds", "wall, s", "in-process, s †", "compile, s", "run, s", "sps", "final eval return per seed",
                    "error"],
                   [[", ".join(map(str, r.get("seeds") or [r.seed])), fmt(r.wall), fmt(r.get("wall_seconds")),
                     fmt(r.get("compile_seconds")),
                     fmt(r.get("run_seconds")), fmt(r.get("sps"), 0),
                     " ".join(fmt(x, 0) for x in r.get("final_eval_return_per_seed") or []) or "—", r.error or ""]
                    for r in runs])
    lines += ["", "† summary.json `wall_seconds`: set-up, compilation, training, evaluation, checkpoints; "
                  "the rest of the wall time is interpreter start-up and imports.", "", "</details>", ""]
    return lines


def render(machine: dict, argv: list[str], quick: bool, cartpole, gymnax) -> str:
    m = machine
    ram = f"{m['ram_gib']:.0f} GiB RAM" if m["ram_gib"] else "RAM unknown"
    lines = [START, "## PPO: tandem vs Stable-Baselines3", ""]
    if quick:
        lines += ["> **Smoke test (`--quick`)**: tiny step caps, one seed. These numbers say nothing about speed.", ""]
    lines += [f"Measured {m['date']} with `python benchmarks/bench_ppo.py {' '.join(argv)}`".rstrip() + ".", "",
              f"Machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {ram}, {m['os']}; "
              f"Python {m['python']}, tandem {m['tandem']}, jax {m['jax']} (jaxlib {m['jaxlib']}), torch {m['torch']}, "
              f"stable-baselines3 {m['sb3']}, gymnasium {m['gymnasium']}, gymnax {m['gymnax']}.", "",
              "Every run is a fresh Python process timed from outside, so wall time includes start-up, imports, "
              "compilation, training, the final evaluation and writing results. tandem and SB3 runs alternate. "
              f"1-minute load average before / after: {m['load_before']} / {load_average()} "
              "(the numbers are only meaningful on an otherwise idle machine).", ""]
    if cartpole is not None:
        lines += cartpole_markdown(*cartpole)
    if gymnax is not None:
        lines += gymnax_markdown(*gymnax)
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str, start: str = START, end: str = END) -> None:
    """Replace the text between the markers start and end in path (each benchmark has its own), or append
    the section (creating the file)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="PPO benchmark: tandem vs Stable-Baselines3 (see the module docstring).")
    p.add_argument("--seeds", type=int, default=None, help="seeds (repetitions) per measurement (default 3; --quick: 1)")
    p.add_argument("--cap-steps", type=int, default=None,
                   help="CartPole-v1 step cap per run (default 200000; --quick: 20000)")
    p.add_argument("--gymnax-steps", type=int, default=None,
                   help="gymnax:CartPole-v1 steps per seed (default 1000000; --quick: 20000)")
    p.add_argument("--only", choices=("cartpole", "gymnax", "all"), default="all", help="which sections to run")
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md", help="markdown file to update")
    p.add_argument("--quick", action="store_true", help="smoke test: 1 seed and small caps unless given")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds before a child process is given up")
    ns = p.parse_args(argv)
    small = ns.quick
    ns.seeds = ns.seeds if ns.seeds is not None else (1 if small else 3)
    ns.cap_steps = ns.cap_steps if ns.cap_steps is not None else (20_000 if small else 200_000)
    ns.gymnax_steps = ns.gymnax_steps if ns.gymnax_steps is not None else (20_000 if small else 1_000_000)
    if ns.seeds < 1 or ns.cap_steps < 1 or ns.gymnax_steps < 1:
        p.error("--seeds, --cap-steps and --gymnax-steps must be >= 1")
    return ns


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    machine = machine_info()
    cartpole = gymnax = None
    with tempfile.TemporaryDirectory(prefix="bench_ppo-") as tmp:
        work = Path(tmp)
        if args.only in ("cartpole", "all"):
            runs, priming = bench_cartpole(args.seeds, args.cap_steps, work, args.timeout)
            cartpole = (runs, priming, args.cap_steps)
        if args.only in ("gymnax", "all"):
            configs = gymnax_configs(args.gymnax_steps, 20_000 if args.quick else 0)
            gymnax = (bench_gymnax(args.seeds, configs, work, args.timeout), args.gymnax_steps)
    section = render(machine, argv, args.quick, cartpole, gymnax)
    write_section(args.out, section)
    print(section)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
