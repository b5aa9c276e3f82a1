"""Child process of bench_offpolicy.py: the bare cost of one tandem SAC or TD3 gradient step, the bound on SPS.

    python benchmarks/grad_step_bound.py --algo sac --env HalfCheetah-v5 [--steps 2000]

No environment and no replay buffer: the learner of the benchmark's configuration (tandem's defaults for
the env: 256x256 networks, batch 256) and one fixed random batch, and a jitted ``lax.scan`` of --steps
identical ``learn`` calls, timed after a warm-up call. At one gradient step per environment step a run
cannot exceed 1 / (seconds per step) SPS; bench_offpolicy.py reports tandem's SPS as a fraction of it.
For TD3 the step is the average over the policy delay (the actor and targets update every second step).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--algo", choices=("sac", "td3"), required=True)
    p.add_argument("--env", required=True)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    from tandem.api import resolve_config
    from tandem.buffers.transition import Transition, transition_fields
    from tandem.envs.registry import backend_of
    from tandem.runners.build import make_learner, schedule

    cfg = resolve_config(a.algo, a.env)
    spec = backend_of(a.env).spec(a.env)
    learner = make_learner(cfg, spec, schedule(cfg))
    fields = transition_fields(spec)
    rng = np.random.default_rng(0)
    B = cfg.algo_config.batch_size

    def rows(name):
        shape, dtype = fields[name]
        if np.dtype(dtype) == np.bool_:
            return jnp.asarray(rng.random((B,) + shape) < 0.01)
        return jnp.asarray(rng.standard_normal((B,) + shape).clip(-1, 1).astype(dtype))

    batch = Transition(**{name: rows(name) for name in fields}, extras={})
    state = learner.init(jax.random.PRNGKey(0))

    @jax.jit
    def many(state, key):
        def body(s, k):
            s, _ = learner.learn(s, batch, k)
            return s, None

        return jax.lax.scan(body, state, jax.random.split(key, a.steps))[0]

    jax.block_until_ready(many(state, jax.random.PRNGKey(1)))  # compile and warm up
    per_step = []
    for r in range(a.repeats):
        t = time.perf_counter()
        jax.block_until_ready(many(state, jax.random.PRNGKey(2 + r)))
        per_step.append((time.perf_counter() - t) / a.steps)
    best = min(per_step)
    print(json.dumps({"algo": a.algo, "env": a.env, "batch_size": B, "seconds_per_step": best,
                      "bound_sps": 1.0 / best, "all_seconds_per_step": per_step}))


if __name__ == "__main__":
    main()
