"""The cost of each network block per update, against an MLP (issue 10, item 6, its last row).

For each network (a spec on its input), one "update" is an Adam step on a regression of the network's scalar
output to a target on a batch of --batch inputs, run as tandem runs its updates: --steps identical steps inside
one jitted ``lax.scan`` (on a CPU, XLA runs convolutions differently inside a loop body: nets/conv.py). A
recurrent network takes its batch as 16-step sequences (batch / 16 of them, from a zero carry, the carry
reset nowhere), as PPO's recurrent minibatches do; SimbaV2's steps include the projection of its kernels
back onto the unit sphere (learner.with_projection), as every tandem optimizer applies it.
Reported per network: parameters, the compile seconds, and the median over --repeats of the milliseconds per
step, with its ratio to the MLP row of the same input (an MLP whose hidden width is the block's output width).

    python benchmarks/bench_blocks.py
    python benchmarks/bench_blocks.py --only simba:256,1 mlp:64>lstm:64 --out plots/blocks-more.json
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from records import finish
from tandem.algos.learner import with_projection
from tandem.nets.spec import NetworkSpec, initial_carry, is_recurrent, network, num_params, parse

# (row, spec, input shape, uint8 input, the MLP row it is compared with)
ROWS = [
    ("mlp 256x256 (vector 17)", "mlp:256,256", (17,), False, None),
    ("mlp 256x256 + layer norm", "mlp:256,256,ln", (17,), False, "mlp 256x256 (vector 17)"),
    ("mlp 256 > soft_moe 1 expert", "mlp:256>soft_moe:1,1,16,16", (17,), False, "mlp 256x256 (vector 17)"),
    ("mlp 256 > soft_moe 4 experts", "mlp:256>soft_moe:4,1,16,16", (17,), False, "mlp 256x256 (vector 17)"),
    ("mlp 256 > soft_moe 8 experts", "mlp:256>soft_moe:8,1,16,16", (17,), False, "mlp 256x256 (vector 17)"),
    ("mlp 128 (MinAtar 10x10x4, flattened)", "mlp:128", (10, 10, 4), False, None),
    ("conv 16 > mlp 128 (MinAtar)", "conv:16>mlp:128", (10, 10, 4), False, "mlp 128 (MinAtar 10x10x4, flattened)"),
    ("simba 256, 1 block", "simba:256,1", (17,), False, "mlp 256x256 (vector 17)"),
    ("simba 256, 2 blocks", "simba:256,2", (17,), False, "mlp 256x256 (vector 17)"),
    ("mlp 64x64 (vector 4)", "mlp:64,64", (4,), False, None),
    ("mlp 64 > lstm 64 (16-step sequences)", "mlp:64>lstm:64", (4,), False, "mlp 64x64 (vector 4)"),
    ("mlp 64 > gru 64 (16-step sequences)", "mlp:64>gru:64", (4,), False, "mlp 64x64 (vector 4)"),
    ("mlp 512 (Atari 84x84x4, flattened)", "mlp:512", (84, 84, 4), True, None),
    ("nature_cnn > mlp 512", "nature_cnn>mlp:512", (84, 84, 4), True, "mlp 512 (Atari 84x84x4, flattened)"),
    ("impala_cnn > mlp 256", "impala_cnn>mlp:256", (84, 84, 4), True, "mlp 512 (Atari 84x84x4, flattened)"),
]
CRITICS = [("Q: mlp 256x256 (state 17, action 6)", "mlp:256,256", None),
           ("Q: hyper 256,64 (state 17, action 6)", "hyper:256,64", "Q: mlp 256x256 (state 17, action 6)")]


def time_network(spec: str, shape: tuple, uint8: bool, batch: int, steps: int, repeats: int, action_dim: int = 0,
                 seq_len: int = 16):
    """(parameters, compile seconds, [seconds per step] of each repeat) of ``steps`` scanned Adam steps."""
    nspec = NetworkSpec(parse(spec), "relu", 1)
    net = network(nspec, shape, "--critic-net" if action_dim else "--actor-net", recurrent_ok=True)
    recurrent = is_recurrent(nspec)
    lead = (seq_len, batch // seq_len) if recurrent else (batch,)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, lead + shape).astype(np.uint8) if uint8 else rng.normal(size=lead + shape)
    x = jnp.asarray(x if uint8 else x.astype(np.float32))
    a = jnp.asarray(rng.uniform(-1, 1, (batch, action_dim)).astype(np.float32)) if action_dim else None
    y = jnp.asarray(rng.normal(size=lead + (1,)).astype(np.float32))
    if recurrent:
        carry, reset = initial_carry(nspec, lead[1:]), jnp.zeros(lead, bool)
        params = net.init(jax.random.PRNGKey(0), x[:, :1], carry=initial_carry(nspec, (1,)), reset=reset[:, :1])
    else:
        params = net.init(jax.random.PRNGKey(0), x[:1], None if a is None else a[:1])
    tx = with_projection(optax.adam(3e-4))

    def loss(p):
        out = net.apply(p, x, carry=carry, reset=reset)[0] if recurrent else net.apply(p, x, a)
        return jnp.mean((out - y) ** 2)

    def step(carry, _):
        p, s = carry
        g = jax.grad(loss)(p)
        u, s = tx.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    run = jax.jit(lambda p, s: jax.lax.scan(step, (p, s), None, length=steps)[0])
    state = (params, tx.init(params))
    t0 = time.perf_counter()
    compiled = run.lower(*state).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*state))   # warm
    per_step = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*state))
        per_step.append((time.perf_counter() - t0) / steps)
    return num_params(params), compile_s, per_step


def table(results: dict) -> str:
    """Markdown: parameters, compile seconds, ms per step (median) and the ratio to its MLP row."""
    ms = {r["row"]: np.median(r["seconds_per_step"]) * 1e3 for r in results["rows"]}
    lines = [f"batch {results['batch']}, {results['steps']} scanned steps, median of {results['repeats']}; "
             f"{results['machine']}", "",
             "| network | parameters | compile s | ms per update | × its MLP |", "|---|---|---|---|---|"]
    for r in results["rows"]:
        ratio = f"{ms[r['row']] / ms[r['versus']]:.2f}" if r["versus"] else "1 (reference)"
        lines.append(f"| {r['row']} (`{r['spec']}`) | {r['params']:,} | {r['compile_seconds']:.1f} | "
                     f"{ms[r['row']]:.2f} | {ratio} |")
    return "\n".join(lines)


def plot(results: dict, path: str) -> None:
    """Bars: ms per update of each network."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    rows = results["rows"]
    ax.barh([r["row"] for r in rows], [np.median(r["seconds_per_step"]) * 1e3 for r in rows])
    ax.set(xlabel="ms per update (log)", xscale="log", title=f"block cost, batch {results['batch']}")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=20, help="scanned steps per timed call")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default="plots/blocks.json")
    p.add_argument("--only", nargs="+", default=None, metavar="SPEC",
                   help="time only the rows of these specs (and the MLP rows they are compared with)")
    ns = p.parse_args()
    t0 = time.time()
    rows = []
    todo = ROWS
    if ns.only:
        todo = [r for r in ROWS if r[1] in ns.only]
        refs = {r[4] for r in todo if r[4]}
        todo = [r for r in ROWS if r in todo or r[0] in refs]
    for row, spec, shape, uint8, versus in todo:
        n, c, s = time_network(spec, shape, uint8, ns.batch, ns.steps, ns.repeats)
        rows.append({"row": row, "spec": spec, "params": n, "compile_seconds": c, "seconds_per_step": s,
                     "versus": versus})
        print(f"{row}: {np.median(s) * 1e3:.2f} ms", flush=True)
    for row, spec, versus in CRITICS if not ns.only else ():
        n, c, s = time_network(spec, (17,), False, ns.batch, ns.steps, ns.repeats, action_dim=6)
        rows.append({"row": row, "spec": spec, "params": n, "compile_seconds": c, "seconds_per_step": s,
                     "versus": versus})
        print(f"{row}: {np.median(s) * 1e3:.2f} ms", flush=True)
    machine = f"{platform.processor() or platform.machine()}, {jax.device_count()} JAX device(s), jax {jax.__version__}"
    results = {"batch": ns.batch, "steps": ns.steps, "repeats": ns.repeats, "machine": machine, "rows": rows}
    finish(results, ns.out, plot, table, t0)


if __name__ == "__main__":
    main()
