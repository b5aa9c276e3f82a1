"""SAC learner: ``make_learner(cfg, spec, total_updates)``.

Tanh-squashed Gaussian actor (state-dependent std, log-prob corrected for the tanh), twin critics as
one vmapped ensemble, automatic temperature with target entropy -|A| (or a fixed alpha), Polyak targets.
``learn`` is one gradient step on a [B] batch of transitions.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from tandem.algos.learner import Learner, no_carry, optimizer
from tandem.algos.offpolicy import Networks, actor_critic_optimizers, check_batch, critic_loss, init_state
from tandem.algos.sac.config import SACConfig
from tandem.algos.sac.losses import alpha_loss, sac_actor_loss, soft_next_value
from tandem.envs.spec import EnvSpec
from tandem.nets.distributions import tanh_gaussian_sample
from tandem.ops import polyak, td_target
from tandem.ops.finite import first_fault, grad_fault

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # as SB3


def make_learner(cfg: SACConfig, spec: EnvSpec, total_updates: int) -> Learner:
    """The SAC learner of ``cfg`` for ``spec`` (a continuous action space)."""
    A = spec.action_dim
    nets = Networks(cfg, spec, 2 * A)
    tx_actor, tx_critic = actor_critic_optimizers(cfg, total_updates)
    tx_alpha = optimizer("adam", cfg.alpha_lr, flat=False)
    target_entropy = -float(A) if cfg.target_entropy is None else float(cfg.target_entropy)

    def dist(actor_params, obs):
        mean, log_std = jnp.split(nets.actor.apply(actor_params, obs), 2, axis=-1)
        return mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)

    def init(key):
        params = {**nets.init(key), "log_alpha": jnp.asarray(math.log(cfg.alpha), jnp.float32)}
        opt_state = {"actor": tx_actor.init(params["actor"]), "critic": tx_critic.init(params["critic"]),
                     "alpha": tx_alpha.init(params["log_alpha"])}
        return init_state(params, {"critic": params["critic"]}, opt_state)

    def act(state, obs, key, carry):
        action, _ = tanh_gaussian_sample(key, *dist(state.params["actor"], obs))
        return action, {}, carry

    def policy(state, obs, carry):
        return jnp.tanh(dist(state.params["actor"], obs)[0]), carry

    def learn(state, batch, key):
        check_batch(batch)
        params, target, opt_state = state.params, state.target, state.opt_state
        obs, next_obs = batch.obs, batch.final_obs
        k_next, k_pi = jax.random.split(key)
        log_alpha = params["log_alpha"]
        alpha = jnp.exp(log_alpha) if cfg.autotune_alpha else jnp.float32(cfg.alpha)

        next_action, next_log_prob = tanh_gaussian_sample(k_next, *dist(params["actor"], next_obs))
        next_q = jnp.min(nets.q(target["critic"], next_obs, next_action), axis=0)
        y = td_target(batch.reward, batch.terminated, soft_next_value(next_q, next_log_prob, alpha), cfg.gamma)

        def c_loss(cp):
            q = nets.q(cp, obs, batch.action)
            return 0.5 * critic_loss(q, y), q

        (c_val, q), grads = jax.value_and_grad(c_loss, has_aux=True)(params["critic"])
        faults = [grad_fault(c_val, grads)]
        upd, c_opt = tx_critic.update(grads, opt_state["critic"], params["critic"])
        critic = optax.apply_updates(params["critic"], upd)

        def a_loss(ap):
            action, log_prob = tanh_gaussian_sample(k_pi, *dist(ap, obs))
            return sac_actor_loss(log_prob, jnp.min(nets.q(critic, obs, action), axis=0), alpha), log_prob

        (a_val, log_prob), grads = jax.value_and_grad(a_loss, has_aux=True)(params["actor"])
        faults.append(grad_fault(a_val, grads))
        upd, a_opt = tx_actor.update(grads, opt_state["actor"], params["actor"])
        actor = optax.apply_updates(params["actor"], upd)

        al_val, al_opt = jnp.zeros(()), opt_state["alpha"]
        if cfg.autotune_alpha:
            al_val, grad = jax.value_and_grad(alpha_loss)(log_alpha, log_prob, target_entropy)
            faults.append(grad_fault(al_val, grad))
            upd, al_opt = tx_alpha.update(grad, opt_state["alpha"], log_alpha)
            log_alpha = optax.apply_updates(log_alpha, upd)

        metrics = {"losses/critic": c_val, "losses/actor": a_val, "losses/alpha": al_val, "charts/alpha": alpha,
                   "charts/q": jnp.mean(q), "charts/entropy": -jnp.mean(log_prob), "fault": first_fault(jnp.stack(faults))}
        new = state.replace(params={"actor": actor, "critic": critic, "log_alpha": log_alpha},
                            target={"critic": polyak(target["critic"], critic, cfg.tau)},
                            opt_state={"actor": a_opt, "critic": c_opt, "alpha": al_opt}, grad_steps=state.grad_steps + 1)
        return new, metrics

    network_spec = {**nets.spec_dict("tanh_diag_gaussian_state_dependent_std"), "target_entropy": target_entropy}
    return Learner(init, act, policy, learn, no_carry, network_spec)
