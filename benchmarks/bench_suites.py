"""JAX environment suites benchmark: tandem PPO on Jumanji and XLand-MiniGrid against each suite's raw step rate.

How to run (from the repository root):

    pip install -e ".[suites]" && python benchmarks/bench_suites.py --out BENCHMARKS.md
    python benchmarks/bench_suites.py --quick --out /tmp/bench.md     # smoke test: 1 repeat, short runs

For each environment (the PPO preset's hyperparameters and steps):

- tandem PPO with 1 and with 8 seeds (``--num-seeds``, vmapped in one compiled program), each a fresh
  ``tandem train`` process with an empty compilation cache, repeated --repeats times: the wall time a user
  waits, the compilation and run times and the SPS (all seeds' steps per second of run time) from
  summary.json, and the greedy evaluation return at the preset's steps;
- in the same invocation, the raw step rate of the library itself: its own auto-reset wrapper
  (``jumanji.wrappers.AutoResetWrapper``, ``xminigrid.wrappers.GymAutoResetWrapper``) vmapped over the same
  number of environments (envs per seed x seeds), uniformly random valid actions, one jitted ``lax.scan``,
  timed after compilation: the ceiling for any learner on this machine;
- the return of uniformly random valid actions (the baseline the returns are read against).

Only the standard library is used here; the children import tandem and the suites. The markdown section goes
between <!-- bench_suites:start --> and <!-- bench_suites:end --> in --out (replaced if present, else appended).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench_ppo import write_section  # noqa: E402

START, END = "<!-- bench_suites:start -->", "<!-- bench_suites:end -->"
ENVS = ["xminigrid:MiniGrid-Empty-8x8", "jumanji:Game2048-v1"]

RAW_CHILD = r'''
import json, sys, time
import jax, jax.numpy as jnp
env_id, num_envs, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
suite, name = env_id.split(":", 1)
# reset(key) -> (state, timestep); step(state, timestep, action) -> (state, timestep); valid(key, timestep) -> action
if suite == "jumanji":
    import jumanji
    from jumanji.wrappers import AutoResetWrapper
    env = AutoResetWrapper(jumanji.make(name))
    reset = env.reset
    step = lambda s, ts, a: env.step(s, a)
    valid = lambda k, ts: jax.random.categorical(k, jnp.where(ts.observation.action_mask, 0.0, -jnp.inf))
else:
    import xminigrid
    from xminigrid.wrappers import GymAutoResetWrapper
    raw, params = xminigrid.make(name)
    env = GymAutoResetWrapper(raw)
    reset = lambda k: (None, env.reset(params, k))  # the timestep is the whole state
    step = lambda s, ts, a: (None, env.step(params, ts, a))
    valid = lambda k, ts: jax.random.randint(k, (), 0, raw.num_actions(params))

def run(key):
    states, ts = jax.vmap(reset)(jax.random.split(key, num_envs))
    def body(c, k):
        states, ts, ret, alive, done_ret, done_n = c
        a = jax.vmap(valid)(jax.random.split(k, num_envs), ts)
        states, ts = jax.vmap(step)(states, ts, a)
        last = ts.step_type == 2
        ret = ret + ts.reward
        done_ret = done_ret + jnp.where(last & alive, ret, 0.0).sum()
        done_n = done_n + (last & alive).sum()
        alive = alive & ~last
        return (states, ts, jnp.where(last, 0.0, ret), alive, done_ret, done_n), None
    init = (states, ts, jnp.zeros(num_envs), jnp.ones(num_envs, bool), jnp.zeros(()), jnp.zeros((), jnp.int32))
    c, _ = jax.lax.scan(body, init, jax.random.split(key, steps))
    return c[4], c[5]

f = jax.jit(run)
t0 = time.perf_counter(); jax.block_until_ready(f(jax.random.PRNGKey(1))); compile_s = time.perf_counter() - t0
t0 = time.perf_counter(); total, n = jax.block_until_ready(f(jax.random.PRNGKey(2))); run_s = time.perf_counter() - t0
print(json.dumps({"sps": num_envs * steps / run_s, "compile_s": compile_s, "random_return": float(total / max(int(n), 1)),
                  "random_episodes": int(n)}))
'''


def _env() -> dict:
    env = dict(os.environ)
    env.pop("TANDEM_CACHE_DIR", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def tandem_run(env_id: str, seeds: int, steps: int | None, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        env = {**_env(), "TANDEM_CACHE_DIR": str(Path(tmp) / "cache")}  # cold: an empty compilation cache
        cmd = [sys.executable, "-m", "tandem.cli", "train", "ppo", "--env", env_id, "--num-seeds", str(seeds),
               "--seed", str(repeat), "--run-dir", str(run_dir), "--quiet", "--no-tensorboard", "--eval-episodes", "20"]
        if steps:
            cmd += ["--total-steps", str(steps)]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        wall = time.perf_counter() - t0
        if res.returncode:
            return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}"}
        s = json.loads((run_dir / "summary.json").read_text())
    return {"wall": wall, "compile": s["compile_seconds"], "run": s["run_seconds"], "sps": s["sps"],
            "steps": s["env_steps"], "ret": s["final_eval_return"], "ret_per_seed": s["final_eval_return_per_seed"]}


def raw_run(env_id: str, num_envs: int, steps: int) -> dict:
    res = subprocess.run([sys.executable, "-c", RAW_CHILD, env_id, str(num_envs), str(steps)], capture_output=True,
                         text=True, env=_env(), cwd=REPO)
    if res.returncode:
        return {"error": res.stderr.strip().splitlines()[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def preset_of(env_id: str) -> tuple[int, int]:
    """(num_envs, total_steps) of the PPO preset."""
    code = ("import json; from tandem.algos import preset; c, t = preset('ppo', %r); print(json.dumps([c.num_envs, t]))"
            % env_id)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=REPO, check=True)
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def med(rows, key):
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) if vals else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 repeat, 20k steps: a smoke test")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    lines = [START, "## JAX environment suites: tandem PPO on Jumanji and XLand-MiniGrid (benchmarks/bench_suites.py)", ""]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in ("jax", "jumanji", "xminigrid"))
    lines += [f"Run {datetime.date.today()} on {cpu}, {os.cpu_count()} cores, no GPU; {versions}. Each tandem row: the "
              f"median of {repeats} fresh `tandem train ppo` processes (seeds 0..{repeats - 1}), cold compilation "
              f"cache, the preset's hyperparameters and steps. SPS: all seeds' env steps per second of run time "
              f"(compilation excluded); wall: what the user waits, start-up to summary. Raw env: the library's own "
              f"auto-reset env, vmapped over the same number of envs, random valid actions, one jitted scan "
              f"(compilation excluded).", ""]
    lines += ["| env | seeds | steps/seed | wall s | compile s | run s | tandem SPS | raw env SPS | tandem / raw | "
              "greedy return (median) | random valid actions |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for env_id in ENVS:
        num_envs, total = preset_of(env_id)
        steps = 20_000 if args.quick else None
        for seeds in (1, 8):
            rows = [tandem_run(env_id, seeds, steps, r) for r in range(repeats)]
            ok = [r for r in rows if "error" not in r]
            raw = raw_run(env_id, num_envs * seeds, 2000 if not args.quick else 200)
            if not ok:
                lines.append(f"| {env_id} | {seeds} | failed: {rows[0]['error']} |")
                continue
            sps, raw_sps = med(ok, "sps"), raw.get("sps", float("nan"))
            lines.append(f"| {env_id} | {seeds} | {ok[0]['steps']:,} | {med(ok, 'wall'):.1f} | {med(ok, 'compile'):.1f} "
                         f"| {med(ok, 'run'):.1f} | {sps:,.0f} | {raw_sps:,.0f} | {sps / raw_sps:.2f} | "
                         f"{med(ok, 'ret'):.2f} | {raw.get('random_return', float('nan')):.2f} |")
            print(lines[-1], flush=True)
    lines += ["", "Published figures: both suites report accelerator throughput, not CPU: the XLand-MiniGrid paper "
              "(Nikulin et al., arXiv:2312.12044) reports its PPO baselines 'reaching millions of steps per second "
              "during training' on GPUs, and Jumanji (Bonnet et al., arXiv:2306.09884) reports its A2C baselines on "
              "TPUs/GPUs. No CPU figure is published to set beside these rows, so the ceiling they are read against is "
              "the raw env rate measured here, in the same invocation.", END]
    section = "\n".join(lines)
    print(section)
    if args.out:
        write_section(args.out, section + "\n", START, END)


if __name__ == "__main__":
    main()
