"""Pruned (gradual magnitude pruning to 90%) vs dense networks at equal steps, one task of each family (issue 10,
item 6, its fifth row): PPO on gymnax:CartPole-v1 (its preset, mlp:64,64) and SAC on gymnax:Pendulum-v1 (10k
steps, the paper's setting of wide networks: mlp:256,256). The pruned arm prunes every weight matrix of the actor
and the critic from 20% to 80% of the run (the schedule of "In deep reinforcement learning, a pruned network is a
good network", Obando-Ceron et al. 2024), the dense arm is the same run without it. Reported: the final evaluation
return per seed (10 deterministic episodes), the median, the parameters and the non-zero ones, SPS and compile time.

    python benchmarks/bench_prune.py
"""

from __future__ import annotations

import argparse
import time

from bench_recurrent import machine, plot, run_arm, table
from records import finish

TASKS = [("ppo", "gymnax:CartPole-v1", "mlp:64,64", {}),
         ("sac", "gymnax:Pendulum-v1", "mlp:256,256", {"total_steps": 10_000})]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--out", default="plots/prune.json")
    ns = p.parse_args()
    t0 = time.time()
    rows = []
    for algo, task, net, kw in TASKS:
        for arm, prune in (("dense", {}), (f"pruned {ns.sparsity:.0%}", {"prune_sparsity": ns.sparsity})):
            rows.append(run_arm(algo, task, f"{algo} {arm}", f"{net}" + (f", {ns.sparsity:.0%} pruned" if prune else ""),
                                ns.seeds, actor_net=net, critic_net=net, **kw, **prune))
    finish({"title": "Pruned vs dense at equal steps", "seeds": ns.seeds, "tasks": [t for _, t, _, _ in TASKS],
            "machine": machine(), "rows": rows}, ns.out, plot, table, t0)


if __name__ == "__main__":
    main()
