"""Behaviour-cloning learner: ``make_learner(cfg, spec, total_updates)``.

An actor trained by maximum likelihood of a dataset's actions, in the canonical action space (envs/spec.py):
a categorical policy over logits (masked by the observation's ``action_mask`` when it has one), a Gaussian
with a learned state-independent log std, or a tanh-squashed Gaussian whose mean and log std both come from
the network (SAC's actor). ``learn`` is one gradient step on a [B] batch of transitions; a step whose loss or
gradient is not finite is reported in ``fault`` and not applied.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from tandem.algos.bc.config import BCConfig
from tandem.algos.offline_actor import actor_distribution
from tandem.algos.learner import Learner, no_carry, optimizer
from tandem.algos.offpolicy import OffPolicyState, check_batch, init_state
from tandem.envs.spec import EnvSpec, obs_struct, obs_zeros
from tandem.errors import TandemInputError
from tandem.nets import distributions as D
from tandem.nets.spec import NetworkSpec, network
from tandem.ops.finite import all_finite, grad_fault



def resolve_distribution(distribution: str, spec: EnvSpec) -> str:
    """The policy distribution of ``distribution`` (a BCConfig value) for ``spec``'s action space, or a
    TandemInputError naming the ones allowed for it."""
    discrete = spec.action_kind == "discrete"
    if distribution == "auto":
        return "categorical" if discrete else "tanh_gaussian"
    allowed = ("categorical",) if discrete else ("gaussian", "tanh_gaussian")
    if distribution not in allowed:
        raise TandemInputError(f"--distribution {distribution!r}: {spec.id} has {spec.action_kind} actions; allowed: "
                               f"{', '.join(('auto',) + allowed)}.")
    return distribution


def make_learner(cfg: BCConfig, spec: EnvSpec, total_updates: int) -> Learner:
    """The behaviour-cloning learner of ``cfg`` for ``spec`` (``total_updates`` unused: no schedule).

    State: an ``OffPolicyState`` with ``params = {"actor": {"net": ..., "log_std": [D] (gaussian only)},
    "critic": {}}``, no target networks, the optimizer state of ``params["actor"]`` and the gradient steps taken.
    """
    del total_updates
    kind = resolve_distribution(cfg.distribution, spec)
    discrete, masked = kind == "categorical", kind == "categorical" and spec.has_action_mask
    out_dim = spec.num_actions if discrete else 2 * spec.action_dim if kind == "tanh_gaussian" else spec.action_dim
    actor_spec = NetworkSpec.from_text(cfg.actor_net, cfg.activation, out_dim, 0.01, "--actor-net")
    actor = network(actor_spec, obs_struct(spec), "--actor-net")
    tx = optimizer("adam", cfg.lr, max_grad_norm=cfg.max_grad_norm, flat=False)
    if cfg.weight_decay > 0:  # AdamW: -lr * (adam(g) + wd * p), the decay after (and outside) the clipping
        tx = optax.chain(tx, optax.add_decayed_weights(-cfg.lr * cfg.weight_decay))
    tx = optax.flatten(tx)

    dist_params, log_prob = actor_distribution(actor, kind, masked)

    def init(key) -> OffPolicyState:
        params = {"actor": {"net": actor.init(key, obs_zeros(spec, (1,), jnp))}, "critic": {}}
        if kind == "gaussian":
            params["actor"]["log_std"] = jnp.zeros((spec.action_dim,), jnp.float32)
        return init_state(params, {}, tx.init(params["actor"]))

    def act(state: OffPolicyState, obs, key, carry):
        dp = dist_params(state.params["actor"], obs)
        if discrete:
            action = D.categorical_sample(key, dp)
        elif kind == "gaussian":
            action = D.gaussian_sample(key, *dp)
        else:
            action, _ = D.tanh_gaussian_sample(key, *dp)
        return action, {}, carry

    def policy(state: OffPolicyState, obs, carry):
        dp = dist_params(state.params["actor"], obs)
        if discrete:
            return jnp.argmax(dp, axis=-1), carry
        return (dp[0] if kind == "gaussian" else jnp.tanh(dp[0])), carry

    def loss_fn(actor_params, batch):
        lp = log_prob(dist_params(actor_params, batch.obs), batch.action)
        return -jnp.mean(lp), jnp.mean(lp)

    def gradient(state: OffPolicyState, batch, key):
        """The gradient of the mean negative log-likelihood of ``batch.action`` with respect to
        ``params["actor"]``, and the metrics of the parameters it was computed with."""
        del key  # the loss is deterministic
        check_batch(batch)
        (loss, lp_mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["actor"], batch)
        return grads, {"bc_loss": loss, "log_prob_mean": lp_mean, "grad_norm": optax.tree.norm(grads),
                       "fault": grad_fault(loss, grads)}

    def step(state: OffPolicyState, grads, ok):
        """One optimizer step of the actor where ``ok``; the state unchanged (every leaf) where not."""
        upd, opt_state = tx.update(grads, state.opt_state, state.params["actor"])
        new = state.replace(params={**state.params, "actor": optax.apply_updates(state.params["actor"], upd)},
                            opt_state=opt_state, grad_steps=state.grad_steps + 1)
        return jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), new, state)

    def apply_gradient(state: OffPolicyState, grads):
        """``gradient``'s grads applied; a non-finite one leaves the state unchanged."""
        return step(state, grads, all_finite(grads))

    def learn(state: OffPolicyState, batch, key):
        grads, metrics = gradient(state, batch, key)
        return step(state, grads, metrics["fault"] == 0), metrics

    network_spec = {"actor": actor_spec.to_dict(), "distribution": kind}
    return Learner(init, act, policy, learn, no_carry, network_spec, gradient, apply_gradient)
