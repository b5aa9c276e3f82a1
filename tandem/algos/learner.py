"""The interface every algorithm gives the runners: plain functions over a state pytree, and the
optimizers every learner builds (one place)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax


class Learner(NamedTuple):
    """An algorithm, as the runners see it. N: environments; B: a batch; all functions are jittable.

    init(key) -> state: the learner state of one seed (parameters under ``params["actor"]`` and
        ``params["critic"]``, optimizer state, normalisation statistics, ...).
    act(state, obs [N, *obs], key, carry) -> (action [N, *a], extras {name: [N, ...]}, carry): exploratory
        actions in the canonical space (envs/spec.py); extras travel with the rollout into ``learn``.
    policy(state, obs [..., *obs], carry) -> (action [..., *a], carry): deterministic; the carry is the
        recurrent state (or exploration noise, passed through), so recurrent policies evaluate and export.
    learn(state, batch: Transition, key) -> (state, metrics {name: scalar, "fault": int32}): gradient steps on
        one batch whatever its source: a [T, N] rollout (on-policy), a [B] replay sample or dataset batch.
    init_carry(num_envs) -> per-env acting state ({} if none); reset where an episode ends.
    network_spec: what the checkpoint manifest records of the networks (the NetworkSpec dicts, plain data).
    gradient(state, batch, key) -> (grads, metrics) and apply_gradient(state, grads) -> state: ``learn`` split in
        two where it is one gradient step, so the gradient can be computed where the batch is (an A3C worker,
        with parameters a few versions old) and applied where the parameters live; None where ``learn`` is more
        than one step (PPO's epochs).
    data_init(state, data: Transition [D]) -> state: what an offline learner takes from its whole dataset before
        the first gradient step (TD3+BC's observation statistics); the dataset runner calls it once on a fresh
        state, never on a resumed one. None where a learner takes nothing.
    """

    init: Callable
    act: Callable
    policy: Callable
    learn: Callable
    init_carry: Callable
    network_spec: dict
    gradient: Callable | None = None
    apply_gradient: Callable | None = None
    data_init: Callable | None = None


def no_carry(num_envs: int) -> dict:
    """The acting state of a learner that has none."""
    return {}


def reset_done(carry, init, done):
    """Per-env acting state back to its initial value where an episode just ended (done: [N])."""
    def reset(c, i):
        mask = done.reshape(done.shape + (1,) * (c.ndim - done.ndim))
        return jnp.where(mask, i, c)

    return jax.tree_util.tree_map(reset, carry, init)


def optimizer(kind: str, lr, *, eps: float = 1e-8, rmsprop_decay: float = 0.99, max_grad_norm: float = 0.0,
              flat: bool = True, prune=None) -> optax.GradientTransformation:
    """The optimizer of every learner: ``adam`` or torch-style ``rmsprop`` (eps outside the square root, as
    SB3's A2C uses), after global-norm clipping when ``max_grad_norm > 0``; ``lr`` a float or a schedule.

    ``flat``: one flat vector for the optimizer, a few fused kernels per step instead of a few per leaf
    (measured ~30% faster per gradient step for small networks on the CPU).
    ``prune``: an algos/prune.py Schedule: gradual magnitude pruning last, on the parameters' own shapes.
    SimbaV2's HyperDense kernels (nets/simba.py) go back onto the unit sphere after every step, whatever the
    rest (:func:`with_projection`; nothing changes for parameters without them).
    """
    if kind == "adam":
        base = optax.adam(lr, eps=eps)
    elif kind == "rmsprop":
        base = optax.rmsprop(lr, decay=rmsprop_decay, eps=eps, eps_in_sqrt=False)
    else:
        raise ValueError(f"optimizer {kind!r}: allowed 'adam' or 'rmsprop'")
    tx = optax.chain(optax.clip_by_global_norm(max_grad_norm), base) if max_grad_norm > 0 else base
    tx = optax.flatten(tx) if flat else tx
    if prune is not None:
        from tandem.algos.prune import magnitude_prune

        tx = optax.chain(tx, magnitude_prune(prune))
    return with_projection(tx)


def with_projection(tx: optax.GradientTransformation) -> optax.GradientTransformation:
    """``tx`` whose updates put every SimbaV2 HyperDense kernel back on the unit sphere: the update becomes
    project(params + update) - params for those leaves. The state is ``tx``'s own (checkpoints keep their
    structure), and a tree without such kernels gets ``tx``'s updates unchanged (decided when traced)."""
    from tandem.nets.simba import KERNEL, has_hyper_kernels, l2normalize

    def one(path, p, u):
        return l2normalize(p + u, axis=0) - p if getattr(path[-1], "key", None) == KERNEL else u

    def update(updates, state, params=None):
        updates, state = tx.update(updates, state, params)
        if params is None or not has_hyper_kernels(params):
            return updates, state
        return jax.tree_util.tree_map_with_path(one, params, updates), state

    return optax.GradientTransformation(tx.init, update)


class HoldState(NamedTuple):
    count: jax.Array  # gradient steps seen


def hold(key: str, steps: int) -> optax.GradientTransformation:
    """Zero the gradient of ``params[key]`` for the first ``steps`` gradient steps (the other parts learn). Put
    first in a chain: Adam's and RMSprop's moments of the held part stay zero, so its updates are exactly zero
    and its moments start from zero when it is let go. A critic warm-up is ``hold("actor", n)``."""

    def init(params):
        del params
        return HoldState(jnp.zeros((), jnp.int32))

    def update(updates, state, params=None):
        del params
        held = jax.tree_util.tree_map(lambda g: jnp.where(state.count < steps, jnp.zeros_like(g), g), updates[key])
        return {**updates, key: held}, HoldState(jnp.minimum(state.count + 1, steps))

    return optax.GradientTransformation(init, update)
