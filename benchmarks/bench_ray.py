"""The Ray runner, side by side with RLlib, on this machine (issue 12's benchmark).

Sections (each process timed from outside; several seeds; medians):

1. CartPole-v1 to a mean return of 475 (the last 20 training episodes, for RLlib too: its smoothing window is set to
   20), whole process, with 1 and 2 workers: tandem IMPALA (--lag 1), tandem IMPALA --async, tandem A3C, and
   RLlib's IMPALA with its tuned CartPole settings and tandem's network sizes (benchmarks/rllib_impala_cartpole.py,
   run by the interpreter of --rllib-python: RLlib 2.60 pins gymnasium 1.2.2, tandem 1.3.0). No final evaluation
   (RLlib has none here).
2. SPS against workers on an env whose step burns 0.5 ms of CPU (benchmarks/bench_envs.py:SlowCartPole): tandem
   IMPALA --lag 1 with the same 8 envs on 1 and 2 workers.
3. Faults: a --lag 1 run in which a worker is killed (SIGKILL, by its process id) 10 times, against the same run
   without kills (updates, env steps, params_fingerprint); and a run on an env that crashes with probability 1e-4 per
   step and stalls 1 s with probability 1e-4 (completed steps, restarts); both envs are the tests'
   (tests/envs_for_tests.py).

    python3 -m pip install -e ".[ray]"
    python3 -m venv /tmp/rllib && /tmp/rllib/bin/pip install "ray[rllib]==2.60.0" torch==2.13.0
    python3 benchmarks/bench_ray.py --rllib-python /tmp/rllib/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ppo import (REPO, Run, fmt, json_child, machine_info, median, run_tandem, table,  # noqa: E402
                       tandem_command, write_section)

START, END = "<!-- bench_ray:start -->", "<!-- bench_ray:end -->"
RLLIB_CHILD = Path(__file__).resolve().parent / "rllib_impala_cartpole.py"
COMMON = ["--no-tensorboard", "--eval-episodes", "0"]


def cartpole(seeds, workers, rllib_python, work: Path, timeout: float, cap: int, rllib_cap: int) -> list[Run]:
    runs = []
    for w in workers:
        for seed in seeds:
            target = ["--env", "CartPole-v1", "--num-workers", str(w), "--target-return", "475", "--total-steps",
                      str(cap), *COMMON]
            for label, algo, extra in (("tandem impala", "impala", []), ("tandem impala --async", "impala", ["--async"]),
                                       ("tandem a3c", "a3c", [])):
                run = run_tandem(f"{label} x{w}", seed, target + extra, work / f"{algo}{'-async' if extra else ''}-w{w}-s{seed}",
                                 work / "cache", timeout, algo=algo)
                runs.append(run)
                report(run)
            if rllib_python:
                run = json_child(f"rllib impala x{w}", seed, [rllib_python, str(RLLIB_CHILD), "--workers", str(w),
                                                               "--envs-per-worker", str(8 // w), "--seed", str(seed),
                                                               "--max-steps", str(rllib_cap), "--max-seconds",
                                                               str(min(timeout, 300))], timeout + 60)
                runs.append(run)
                report(run)
    return runs


def costly(seeds, work: Path, timeout: float, steps: int) -> list[Run]:
    runs = []
    for seed in seeds:
        for w in (1, 2):
            args = ["--env", "benchmarks.bench_envs:SlowCartPole", "--num-workers", str(w), "--num-envs", "8",
                    "--total-steps", str(steps), *COMMON]
            run = run_tandem(f"slow x{w}", seed, args, work / f"slow-w{w}-s{seed}", work / "cache", timeout,
                             algo="impala")
            runs.append(run)
            report(run)
    return runs


def faults(work: Path, timeout: float, steps: int, kills: int) -> dict:
    """The reference run, the run with ``kills`` worker kills, the crashing env's run."""
    base = ["--env", "tests.envs_for_tests:PidCartPole", "--num-workers", "2", "--total-steps", str(steps), *COMMON]
    ref = run_tandem("reference", 0, base, work / "fault-ref", work / "cache", timeout, algo="impala")
    report(ref)
    pid_dir = work / "pids"
    pid_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TANDEM_CACHE_DIR=str(work / "cache"), TANDEM_TEST_PID_DIR=str(pid_dir))
    run_dir = work / "fault-kill"
    cmd = tandem_command() + ["train", "impala", *base, "--seed", "0", "--run-dir", str(run_dir), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = []

    def killer():
        rng = random.Random(0)
        while len(killed) < kills and proc.poll() is None:
            time.sleep(1.5)
            if not (run_dir / "metrics.csv").exists():
                continue
            alive = [int(p) for p in os.listdir(pid_dir) if int(p) != proc.pid and _alive(int(p)) and int(p) not in killed]
            if len(alive) < 2:  # wait until the replacement of the last victim is up
                continue
            victim = rng.choice(alive)
            try:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            except ProcessLookupError:
                pass

    thread = threading.Thread(target=killer)
    thread.start()
    out, err = proc.communicate(timeout=timeout)
    thread.join()
    wall = time.perf_counter() - t0
    kill_run = Run("killed", 0, wall=wall, error=None if proc.returncode == 0 else f"exit {proc.returncode}: {err[-300:]}")
    if kill_run.error is None:
        kill_run.data = json.loads((run_dir / "summary.json").read_text())
    kill_run.data["kills"] = len(killed)
    report(kill_run)
    crash_env = dict(TANDEM_TEST_CRASH_P="1e-4", TANDEM_TEST_STALL_P="1e-4", TANDEM_TEST_STALL_S="1.0")
    os.environ.update(crash_env)
    crash = run_tandem("crashing", 0, ["--env", "tests.envs_for_tests:CrashingCartPole", "--num-workers", "2",
                                       "--total-steps", str(steps), *COMMON], work / "fault-crash", work / "cache",
                       timeout, algo="impala")
    for k in crash_env:
        os.environ.pop(k)
    report(crash)
    return {"reference": ref, "killed": kill_run, "crashing": crash}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def report(run: Run) -> None:
    what = run.error or (f"reached {run.get('reached') if 'reached' in run.data else run.get('reached_target')}, "
                         f"steps {run.get('env_steps') or run.get('steps')}, sps {fmt(run.get('sps'), 0)}")
    print(f"  {run.label} seed {run.seed}: {fmt(run.wall)} s, {what}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------


def _reached(r: Run) -> bool:
    return bool(r.get("reached_target") if "reached_target" in r.data else r.get("reached"))


def _steps_to(r: Run):
    return r.get("steps_to_target")


def markdown(cart: list[Run], slow: list[Run], fault: dict | None, info: dict, argv: list[str], cap: int) -> str:
    lines = [START, "## Ray runner: IMPALA and A3C against RLlib (issue 12)", "",
             f"`python3 benchmarks/{Path(__file__).name} {' '.join(argv)}` on {info['cpu']} ({info['usable_cores']} "
             f"usable cores, {info['ram_gib']:.0f} GiB), Python {info['python']}, tandem {info['tandem']}, jax "
             f"{info['jax']}, ray 2.60.0, {info['date']}, load before {info['load_before']}. Whole-process wall "
             f"times measured from outside, medians over seeds.", ""]
    if cart:
        labels = list(dict.fromkeys(r.label for r in cart))
        rows = []
        for label in labels:
            rs = [r for r in cart if r.label == label]
            good = [r for r in rs if r.error is None]
            hit = [r for r in good if _reached(r)]
            rows.append([label, f"{len(hit)}/{len(rs)}", fmt(median([r.wall for r in hit])),
                         fmt(median([_steps_to(r) for r in hit]), 0), fmt(median([r.get("sps") for r in good]), 0),
                         "; ".join(sorted({r.error for r in rs if r.error})) or ""])
        lines += [f"### CartPole-v1 to 475 (cap: {cap:,} steps for tandem; 2M steps or 300 s for RLlib)", "",
                  "Wall: the whole process of the runs that reached 475 (Ray start-up, workers, compilation included). "
                  "SPS: env steps per second of training (tandem: after compilation; RLlib: after building).", ""]
        lines += table(["run (workers)", "reached", "wall to 475 (s)", "steps to 475", "SPS", "errors"], rows)
        lines.append("")
    if slow:
        rows = []
        for w in (1, 2):
            rs = [r for r in slow if r.label == f"slow x{w}" and r.error is None]
            rows.append([str(w), fmt(median([r.get("sps") for r in rs]), 0), fmt(median([r.wall for r in rs]))])
        one, two = median([r.get("sps") for r in slow if r.label == "slow x1"]), median(
            [r.get("sps") for r in slow if r.label == "slow x2"])
        lines += ["### SPS against workers, 0.5 ms of CPU per env step", "",
                  "tandem IMPALA --lag 1, 8 envs in all (8 on one worker, or 4 on each of 2), "
                  f"`benchmarks.bench_envs:SlowCartPole`. 2 workers / 1 worker: {fmt(two / one if one and two else None, 2)}x.",
                  ""]
        lines += table(["workers", "SPS", "wall (s)"], rows)
        lines.append("")
    if fault:
        ref, kill, crash = fault["reference"], fault["killed"], fault["crashing"]
        same = ref.get("params_fingerprint") is not None and ref.get("params_fingerprint") == kill.get("params_fingerprint")
        lines += ["### Faults", "", table_text([
            ["run", "kills / restarts", "updates", "env steps", "wall (s)", "params_fingerprint"],
            ["--lag 1, no kills", "0 / " + fmt(ref.get("worker_restarts")), fmt(ref.get("updates")),
             fmt(ref.get("env_steps")), fmt(ref.wall), str(ref.get("params_fingerprint"))[:16]],
            ["--lag 1, a worker SIGKILLed", f"{kill.get('kills')} / {fmt(kill.get('worker_restarts'))}",
             fmt(kill.get("updates")), fmt(kill.get("env_steps")), fmt(kill.wall),
             str(kill.get("params_fingerprint"))[:16] + (" (same)" if same else " (differs)")],
            ["crash 1e-4/step, stall 1 s 1e-4/step", "— / " + fmt(crash.get("worker_restarts")),
             fmt(crash.get("updates")), fmt(crash.get("env_steps")), fmt(crash.wall),
             str(crash.get("params_fingerprint"))[:16] + (" (same)" if crash.get("params_fingerprint") ==
                                                           ref.get("params_fingerprint") else " (differs)")],
        ]), ""]
        for r in (ref, kill, crash):
            if r.error:
                lines += [f"{r.label}: {r.error}", ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def table_text(rows):
    return "\n".join(table(rows[0], rows[1:]))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rllib-python", default=None, help="a Python with ray[rllib]==2.60.0 and torch (none: no RLlib)")
    p.add_argument("--cap-steps", type=int, default=300_000, help="tandem's step cap per CartPole run")
    p.add_argument("--rllib-cap-steps", type=int, default=2_000_000,
                   help="RLlib's (its tuned example runs to 2M steps; it also stops at 300 s)")
    p.add_argument("--slow-steps", type=int, default=16_000)
    p.add_argument("--fault-steps", type=int, default=200_000)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--only", choices=("cartpole", "slow", "faults", "all"), default="all")
    p.add_argument("--work", type=Path, default=None, help="working directory (default: a temporary one)")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    a = p.parse_args(argv)
    # The children import benchmarks.bench_envs (and this checkout's tandem) from the repository root.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x])
    work = a.work or Path(tempfile.mkdtemp(prefix="bench_ray-"))
    work.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    seeds = list(range(a.seeds))
    cart = cartpole(seeds, a.workers, a.rllib_python, work, a.timeout, a.cap_steps, a.rllib_cap_steps) if a.only in ("cartpole", "all") else []
    slow = costly(seeds[:2], work, a.timeout, a.slow_steps) if a.only in ("slow", "all") else []
    fault = faults(work, a.timeout, a.fault_steps, a.kills) if a.only in ("faults", "all") else None
    (work / "results.json").write_text(json.dumps({"cartpole": [r.__dict__ for r in cart],
                                                   "slow": [r.__dict__ for r in slow],
                                                   "faults": {k: v.__dict__ for k, v in (fault or {}).items()}},
                                                  default=str, indent=1))
    write_section(a.out, markdown(cart, slow, fault, info, argv, a.cap_steps))
    print(f"results in {work}; {a.out} updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
