"""Gradual magnitude pruning (Zhu & Gupta 2017), as "In deep reinforcement learning, a pruned network is a good
network" (Obando-Ceron et al. 2024) applies it: the config fields every online learner takes, and the optax
transformation its optimizers end with.

Between ``start`` and ``end`` (gradient steps of that optimizer) the target sparsity follows the polynomial
schedule s(t) = s_f (1 - (1 - (t - start) / (end - start))^3), 0 before ``start`` and s_f from ``end`` on; every
``every`` steps in that window (and at ``end``) each weight matrix (every parameter of two or more dimensions
inside a network: Dense, convolution, recurrent, expert and hypernetwork kernels, the heads included; biases,
layer-norm scales and a log std are never pruned) keeps its largest-magnitude entries and the rest of it is
masked. Each matrix is pruned to the same sparsity (JaxPruner's uniform distribution); a critic ensemble's
stacked matrices are ranked together.

The masks are optimizer state: they live in the learner state, so checkpoints hold them and a resumed run goes
on with the same ones. The transformation comes last in the chain and turns the update into
``(params + update) * mask - params``, so after ``optax.apply_updates`` a masked weight is exactly 0 (x - x) after
every optimizer step, whatever the moments of Adam or RMSprop hold for it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from tandem.errors import TandemInputError
from tandem.fields import field

MASK_UPDATES = 100
"""Mask updates between start and end when ``--prune-every`` is 0."""


@dataclasses.dataclass(frozen=True)
class PruneConfig:
    """The pruning flags (a base of the on-policy and the replay configs)."""

    prune_sparsity: float = field(0.0, "Gradual magnitude pruning: the fraction of each weight matrix of the actor "
                                       "and critic pruned by the end of the schedule (0: no pruning).", lo=0, hi=1,
                                  hi_open=True, group="networks")
    prune_start: float = field(0.2, "Pruning starts at this fraction of the run's gradient steps.", lo=0, hi=1,
                               group="networks")
    prune_end: float = field(0.8, "Pruning reaches --prune-sparsity at this fraction of the run's gradient steps "
                                  "(the sparsity follows a cubic schedule in between).", lo=0, hi=1, group="networks")
    prune_every: int = field(0, "Gradient steps between mask updates while pruning; 0: 100 updates in all.", lo=0,
                             group="networks")

    def validate_prune(self) -> None:
        """TandemInputError when the schedule is empty."""
        if self.prune_sparsity > 0 and not self.prune_start < self.prune_end:
            raise TandemInputError(f"--prune-start {self.prune_start} must be below --prune-end {self.prune_end}; "
                                   f"allowed: 0 <= start < end <= 1.")


class Schedule(NamedTuple):
    """Target sparsity and the optimizer steps (counted by the transformation) it applies between."""

    sparsity: float
    start: int
    end: int
    every: int


def schedule(cfg, grad_steps: int) -> Schedule | None:
    """The schedule of ``cfg``'s pruning flags for an optimizer that takes ``grad_steps`` steps in the run, or None
    without pruning."""
    if not getattr(cfg, "prune_sparsity", 0.0):
        return None
    start, end = int(round(cfg.prune_start * grad_steps)), max(int(round(cfg.prune_end * grad_steps)), 1)
    start = min(start, end - 1)
    return Schedule(float(cfg.prune_sparsity), start, end, cfg.prune_every or max(1, (end - start) // MASK_UPDATES))


def sparsity_at(s: Schedule, t):
    """Zhu & Gupta's cubic schedule at step ``t`` (an array or an int)."""
    frac = jnp.clip((t - s.start) / (s.end - s.start), 0.0, 1.0)
    return s.sparsity * (1.0 - (1.0 - frac) ** 3)


def prunable(path, leaf) -> bool:
    """A weight matrix inside a flax network: two or more dimensions under a ``params`` collection."""
    keys = [getattr(k, "key", getattr(k, "name", None)) for k in path]
    return "params" in keys and getattr(leaf, "ndim", 0) >= 2


def magnitude_mask(w, sparsity):
    """The mask keeping the largest ``1 - sparsity`` of ``|w|``: round(sparsity * size) entries masked (more only
    where magnitudes tie at the threshold).

    The threshold is the k-th smallest magnitude, found by bisection on the magnitudes' float32 bit patterns
    (monotone for non-negative floats): 31 counting passes, exact, and on a CPU much cheaper than a sort (a mask
    update runs every step when seeds are vmapped, lax.cond becoming a select)."""
    bits = jax.lax.bitcast_convert_type(jnp.abs(w).astype(jnp.float32), jnp.int32)
    k = jnp.round(sparsity * w.size).astype(jnp.int32)

    def halve(_, lo_hi):
        lo, hi = lo_hi
        mid = lo + (hi - lo) // 2
        enough = jnp.sum(bits <= mid) >= k + 1
        return jnp.where(enough, lo, mid + 1), jnp.where(enough, mid, hi)

    threshold, _ = jax.lax.fori_loop(0, 31, halve, (jnp.int32(0), jnp.int32(2**31 - 1)))
    return jnp.where(k >= w.size, False, bits >= threshold)


class PruneState(NamedTuple):
    count: jax.Array   # optimizer steps taken
    masks: Any         # like params: a bool mask per prunable leaf, a scalar True elsewhere


def magnitude_prune(s: Schedule) -> optax.GradientTransformation:
    """The last transformation of an optimizer: masks updated on the schedule, masked weights held at exactly 0."""

    def init(params):
        masks = jax.tree_util.tree_map_with_path(
            lambda p, x: jnp.ones(x.shape, bool) if prunable(p, x) else jnp.ones((), bool), params)
        return PruneState(jnp.zeros((), jnp.int32), masks)

    def update(updates, state, params):
        if params is None:
            raise ValueError("magnitude_prune needs the parameters (tx.update(grads, state, params))")
        new = jax.tree_util.tree_map(lambda p, u: p + u, params, updates)
        t = state.count + 1   # the step this update completes
        due = (t >= s.start) & (t <= s.end) & (((t - s.start) % s.every == 0) | (t == s.end))
        target = sparsity_at(s, t)

        def recompute(masks):
            return jax.tree_util.tree_map_with_path(
                lambda p, m, w: magnitude_mask(w * m, target) & m if prunable(p, w) else m, masks, new)

        masks = jax.lax.cond(due, recompute, lambda m: m, state.masks)
        out = jax.tree_util.tree_map(lambda p, w, m: jnp.where(m, w, 0.0).astype(p.dtype) - p, params, new, masks)
        return out, PruneState(t, masks)

    return optax.GradientTransformation(init, update)


def nonzero(params) -> int:
    """The number of non-zero scalars in a parameter pytree."""
    return int(sum(int(jnp.count_nonzero(x)) for x in jax.tree_util.tree_leaves(params)))
