"""PPO with the MinAtar CNN on two MinAtar games against a published JAX PPO figure, and Soft MoE against dense
layers of the same parameter count (issue 10, item 6, rows 1 and 3). gymnax's MinAtar games on the JAX runner.

``--part ppo``: PPO with its MinAtar preset (``conv:16>mlp:128``, ReLU, actor and critic; gymnax-blines' PPO
settings: 64 envs x 128 steps, 4 epochs of 8 minibatches, lr 5e-4 held, gamma 0.999, entropy 0.01) on
Breakout-MinAtar and SpaceInvaders-MinAtar, --seeds seeds at once (vmapped), --steps each. The published figure
is gymnax-blines' PPO (R. T. Lange, github.com/RobertTLange/gymnax-blines, the learning curves of
``docs/lcurves.png``, its default lr 5e-4 curve), read off the plot at the same step counts by locating the
curve's pixels (PUBLISHED below; about +-0.5 on Breakout, +-1 on SpaceInvaders). That agent is a 2x256 tanh MLP
on the flattened grid with the same PPO settings, evaluated on 164 test episodes; no SPS is published for it on
a comparable machine, so the SPS column is tandem's alone.

``--part moe``: the penultimate dense layer replaced by a Soft MoE layer ("Mixtures of Experts Unlock Parameter
Scaling for Deep RL", Obando-Ceron et al. 2024) with 1, 4 and 8 experts: ``conv:16>soft_moe:E,1,16,W``
(PerConv tokens: the 100 positions of the 10x10x16 conv output, one slot per expert, experts of W units, 32 by
default: the 100 output tokens of W features are flattened into the heads, so W = 128 ran at 1.2-1.4k SPS for
3 seeds here against 3.7k for the MinAtar network, too slow for this machine), each
against a dense layer ``conv:16>mlp:K`` whose network has the same parameter count (K chosen to match the
actor's and the critic's parameters together, to within one unit of K; the MinAtar network's own dense layer of
128 is in ``--part ppo``). PPO with the same preset on Breakout-MinAtar, --moe-steps each. The
question is the paper's: does the return grow with the number of experts, where the dense layer of equal size
does not?

Reported per row: the final evaluation return of each seed (10 deterministic episodes), the median, the
parameters, SPS after compilation (all seeds) and compile seconds, and the learning curves in the PNG.

    python benchmarks/bench_minatar.py --part ppo --out plots/minatar.json
    python benchmarks/bench_minatar.py --part moe --out plots/minatar-moe.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench_recurrent import machine, plot, run_arm
from records import finish

GAMES = ["gymnax:Breakout-MinAtar", "gymnax:SpaceInvaders-MinAtar"]
MINATAR_NET = "conv:16>mlp:128"
# gymnax-blines' PPO (lr 5e-4), docs/lcurves.png, read off the curve at these env steps.
PUBLISHED = {"gymnax:Breakout-MinAtar": {500_000: 12.4, 1_000_000: 16.5, 2_000_000: 15.6, 3_000_000: 15.6},
             "gymnax:SpaceInvaders-MinAtar": {500_000: 26.8, 1_000_000: 51.2, 2_000_000: 85.0, 3_000_000: 92.6}}
CONV_PARAMS, POSITIONS, CONV_OUT = 9 * 4 * 16 + 16, 100, 1600   # conv:16 on Breakout's 10x10x4 grid
HEADS = (3, 1)   # Breakout's 3 action logits (actor) and the value (critic)


def moe_params(experts: int, width: int) -> int:
    """Parameters of the actor and the critic ``conv:16>soft_moe:E,1,16,W`` with their heads on Breakout."""
    moe = 16 * experts + experts * (16 * width + width)
    return sum(CONV_PARAMS + moe + POSITIONS * width * h + h for h in HEADS)


def dense_params(units: int) -> int:
    """Parameters of the actor and the critic ``conv:16>mlp:K`` with their heads on Breakout."""
    return sum(CONV_PARAMS + CONV_OUT * units + units + units * h + h for h in HEADS)


def matching_dense(experts: int, width: int) -> int:
    """The K whose ``conv:16>mlp:K`` has the parameter count nearest ``conv:16>soft_moe:E,1,16,W``'s."""
    target = moe_params(experts, width)
    return min(range(1, 1024), key=lambda k: abs(dense_params(k) - target))


def table(r: dict) -> str:
    published = r.get("published")
    lines = [f"{r['title']}, {r['seeds']} seeds; {r['machine']}", "",
             "| game | steps | network | params | final eval return per seed | median |"
             + (" gymnax-blines PPO (published) |" if published else "") + " SPS (all seeds) | compile s |",
             "|---|---|---|---|---|---|" + ("---|" if published else "") + "---|---|"]
    for row in r["rows"]:
        per = ", ".join(f"{x:.1f}" for x in row["final_eval_return_per_seed"])
        pub = ""
        if published:
            curve = {int(k): v for k, v in published.get(row["task"], {}).items()}
            near = min(curve, key=lambda k: abs(k - row["steps"]), default=None)   # the rollouts' rounding
            pub = f" {curve[near]:.1f} at {near:,} |" if near and abs(near - row["steps"]) < 0.02 * near else " - |"
        lines.append(f"| {row['task'].split(':')[1]} | {row['steps']:,} | `{row['net']}` | {row['num_params']:,} | "
                     f"{per} | {row['median']:.1f} |{pub} {row['sps']:,.0f} | {row['compile_seconds']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=["ppo", "moe"], required=True)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1_000_000, help="env steps per seed, --part ppo")
    p.add_argument("--games", nargs="+", default=GAMES)
    p.add_argument("--moe-steps", type=int, default=150_000, help="env steps per seed, --part moe")
    p.add_argument("--experts", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--expert-width", type=int, default=32)
    p.add_argument("--out", required=True)
    ns = p.parse_args()
    t0 = time.time()
    rows = []
    if ns.part == "ppo":
        for game in ns.games:
            rows.append(run_arm("ppo", game, "ppo", MINATAR_NET, ns.seeds, total_steps=ns.steps))
        rec = {"title": "PPO with the MinAtar CNN against gymnax-blines' published PPO", "published": PUBLISHED}
    else:
        game = "gymnax:Breakout-MinAtar"
        arms = []
        for e in ns.experts:
            arms.append((f"soft_moe {e} experts", f"conv:16>soft_moe:{e},1,16,{ns.expert_width}"))
            arms.append((f"dense, as soft_moe {e}", f"conv:16>mlp:{matching_dense(e, ns.expert_width)}"))
        for arm, net in arms:
            rows.append(run_arm("ppo", game, arm, net, ns.seeds, total_steps=ns.moe_steps, actor_net=net,
                                critic_net=net))
        rec = {"title": "Soft MoE vs dense layers of the same parameter count, PPO on Breakout-MinAtar"}
        print("median by arm:", {r["arm"]: float(np.median(r["final_eval_return_per_seed"])) for r in rows})
    rec.update({"seeds": ns.seeds, "tasks": sorted({r["task"] for r in rows}), "machine": machine(), "rows": rows})
    finish(rec, ns.out, plot, table, t0)


if __name__ == "__main__":
    main()
