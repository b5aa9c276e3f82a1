"""SimbaV2 and the hypernetwork critic against MLPs, SAC at equal steps on a MuJoCo task (issue 10, item 6, its
fourth row), 3 seeds trained together (vmapped) in one process per arm.

Arms (SAC's defaults otherwise: Adam 3e-4, batch 256, one update per step, 2 critics):
- ``mlp``: mlp:256,256 actor and critics (SAC's default);
- ``simba``: simba:128 actor and critics (SimbaV2's encoder of width 128, one block, its kernels projected after
  each step; about twice the MLP's parameters, where width 256 would be eight times and too slow here);
- ``hyper``: mlp:256,256 actor, hyper:256,64 critics (the state emits a 64-unit layer applied to the action).

The task is InvertedPendulum-v5 at 10k steps (learning starts at 1k): the MuJoCo task this 2-core CPU can run to
a solution for three arms and three seeds in minutes; HalfCheetah at a meaningful budget takes hours per arm here.

    python benchmarks/bench_critics.py
"""

from __future__ import annotations

import argparse
import time

from bench_recurrent import machine, plot, run_arm, table
from records import finish

ARMS = [("sac mlp", "mlp:256,256", "mlp:256,256"), ("sac simba", "simba:128", "simba:128"),
        ("sac hyper critic", "mlp:256,256", "hyper:256,64")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="InvertedPendulum-v5")
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default="plots/critics.json")
    ns = p.parse_args()
    t0 = time.time()
    rows = [run_arm("sac", ns.env, arm, f"actor {actor}, critic {critic}", ns.seeds, actor_net=actor,
                    critic_net=critic, total_steps=ns.steps, learning_starts=1_000)
            for arm, actor, critic in ARMS]
    finish({"title": f"SAC critics and actors at equal steps ({ns.env})", "seeds": ns.seeds, "tasks": [ns.env],
            "machine": machine(), "rows": rows}, ns.out, plot, table, t0)


if __name__ == "__main__":
    main()
