"""The restaurant dialogue simulator's handcrafted policy (issue 13, item 1): success rate, return and turns at each
recognition error rate, in both action spaces (they take the same master actions, so their figures are equal by
construction; both are run as a check). Writes a markdown table (stdout, and --out if given).

    python benchmarks/bench_restaurant.py --dialogues 2000
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from tandem.envs import own


def measure(env_id: str, dialogues: int, policy=None) -> dict:
    """Success rate (with its 95% interval), mean return and turns of ``policy`` (obs -> action; the handcrafted
    one by default) over ``dialogues`` dialogues on seeds no collection or training uses."""
    env, policy = own.make(env_id), policy or own.handcrafted(env_id)
    success, returns, turns = [], [], []
    t0 = time.perf_counter()
    for k in range(dialogues):
        obs, _ = env.reset(seed=1_000_000 + k)   # away from the seeds tandem collect and training use
        total, n = 0.0, 0
        while True:
            obs, r, term, trunc, info = env.step(policy(obs))
            total, n = total + r, n + 1
            if term or trunc:
                break
        success.append(info["success"]), returns.append(total), turns.append(n)
    s = np.array(success, float)
    return {"success": s.mean(), "ci": 1.96 * s.std() / np.sqrt(len(s)), "return": float(np.mean(returns)),
            "turns": float(np.mean(turns)), "seconds": time.perf_counter() - t0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dialogues", type=int, default=2000)
    p.add_argument("--rates", default="0,0.1,0.15,0.2,0.3,0.4,0.5")
    p.add_argument("--out", default=None)
    ns = p.parse_args()
    lines = [f"Handcrafted policy, {ns.dialogues} dialogues per error rate ({platform.processor() or platform.machine()}, "
             f"{platform.python_version()}):", "",
             "| error rate | success (95% CI) | mean return | mean turns | summary space: success |",
             "|---|---|---|---|---|"]
    for rate in [float(x) for x in ns.rates.split(",")]:
        m = measure(f"tandem:Restaurant-v0:error_rate={rate}", ns.dialogues)
        s = measure(f"tandem:RestaurantSummary-v0:error_rate={rate}", ns.dialogues)
        lines.append(f"| {rate:.2f} | {100 * m['success']:.1f}% ± {100 * m['ci']:.1f} | {m['return']:.2f} | "
                     f"{m['turns']:.2f} | {100 * s['success']:.1f}% |")
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if ns.out:
        open(ns.out, "w").write(text + "\n")


if __name__ == "__main__":
    main()
