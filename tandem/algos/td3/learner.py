"""TD3 learner (and DDPG, its preset): ``make_learner(cfg, spec, total_updates)``.

Twin critics as one vmapped ensemble with the clipped double-Q target, target policy smoothing,
delayed actor and target updates, Polyak averaging, Gaussian or Ornstein-Uhlenbeck exploration. With
``bc_decay`` (fine-tuning after TD3+BC) the actor loss is TD3+BC's, its cloning weight decaying to 0.
``learn`` is one gradient step on a [B] batch of transitions.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from tandem.algos.learner import Learner
from tandem.algos.offpolicy import Networks, actor_critic_optimizers, check_batch, critic_loss, init_state
from tandem.algos.td3.config import TD3Config
from tandem.algos.td3.losses import deterministic_actor_loss, smoothed_target_action
from tandem.algos.td3bc.losses import td3bc_actor_loss
from tandem.envs.spec import EnvSpec
from tandem.ops import polyak, td_target
from tandem.ops.finite import first_fault, grad_fault


def make_learner(cfg: TD3Config, spec: EnvSpec, total_updates: int) -> Learner:
    """The TD3 (or DDPG) learner of ``cfg`` for ``spec`` (a continuous action space)."""
    nets = Networks(cfg, spec, spec.action_dim)
    tx_actor, tx_critic = actor_critic_optimizers(cfg, total_updates, cfg.policy_delay)
    ou = cfg.noise_type == "ou"

    def mu(actor_params, obs):
        return jnp.tanh(nets.actor.apply(actor_params, obs))

    def init(key):
        params = nets.init(key)
        opt_state = {"actor": tx_actor.init(params["actor"]), "critic": tx_critic.init(params["critic"])}
        return init_state(params, params, opt_state)

    def init_carry(num_envs: int):
        return {"ou": jnp.zeros((num_envs, spec.action_dim), jnp.float32)} if ou else {}

    def act(state, obs, key, carry):
        action = mu(state.params["actor"], obs)
        eps = jax.random.normal(key, action.shape, action.dtype)
        if ou:  # x <- x + theta * (0 - x) * dt + sigma * sqrt(dt) * eps, as SB3's OrnsteinUhlenbeckActionNoise
            noise = carry["ou"] - cfg.ou_theta * carry["ou"] * cfg.ou_dt + cfg.exploration_noise * math.sqrt(cfg.ou_dt) * eps
            carry = {"ou": noise}
        else:
            noise = cfg.exploration_noise * eps
        return jnp.clip(action + noise, -1.0, 1.0), {}, carry

    def policy(state, obs, carry):
        return mu(state.params["actor"], obs), carry

    def first_critic(critic_params):
        return jax.tree_util.tree_map(lambda x: x[:1], critic_params)

    def learn(state, batch, key):
        check_batch(batch)
        params, target, opt_state, n = state.params, state.target, state.opt_state, state.grad_steps
        obs, next_obs = batch.obs, batch.final_obs
        next_action = smoothed_target_action(mu(target["actor"], next_obs), key, cfg.target_noise, cfg.target_noise_clip)
        next_q = jnp.min(nets.q(target["critic"], next_obs, next_action), axis=0)
        y = td_target(batch.reward, batch.terminated, next_q, cfg.gamma)

        def c_loss(cp):
            q = nets.q(cp, obs, batch.action)
            return critic_loss(q, y), q

        (c_val, q), grads = jax.value_and_grad(c_loss, has_aux=True)(params["critic"])
        c_fault = grad_fault(c_val, grads)
        upd, c_opt = tx_critic.update(grads, opt_state["critic"], params["critic"])
        critic = optax.apply_updates(params["critic"], upd)

        def actor_loss(ap, q1):
            pi = mu(ap, obs)
            q = nets.q(q1, obs, pi)[0]
            if not cfg.bc_decay:
                return deterministic_actor_loss(q)
            weight = jnp.clip(1.0 - n.astype(jnp.float32) / cfg.bc_decay, 0.0, 1.0)   # n: steps before this one
            return td3bc_actor_loss(q, pi, batch.action, cfg.bc_alpha, weight)[0]

        def actor_step(args):
            actor, a_opt, target = args
            q1 = first_critic(critic)
            a_val, grads = jax.value_and_grad(actor_loss)(actor, q1)
            upd, a_opt = tx_actor.update(grads, a_opt, actor)
            actor = optax.apply_updates(actor, upd)
            return actor, a_opt, polyak(target, {"actor": actor, "critic": critic}, cfg.tau), a_val, grad_fault(a_val, grads)

        def skip(args):
            return (*args, jnp.full((), jnp.nan, jnp.float32), jnp.zeros((), jnp.int32))

        args = (params["actor"], opt_state["actor"], target)
        if cfg.policy_delay == 1:
            actor, a_opt, target, a_val, a_fault = actor_step(args)
        else:  # a real branch when one seed runs per device; a select (both computed) when seeds are vmapped
            actor, a_opt, target, a_val, a_fault = jax.lax.cond((n + 1) % cfg.policy_delay == 0, actor_step, skip, args)
        metrics = {"losses/critic": c_val, "losses/actor": a_val, "charts/q": jnp.mean(q),
                   "fault": first_fault(jnp.stack([c_fault, a_fault]))}
        new = state.replace(params={"actor": actor, "critic": critic}, target=target,
                            opt_state={"actor": a_opt, "critic": c_opt}, grad_steps=n + 1)
        return new, metrics

    noise = f"{cfg.noise_type}({cfg.exploration_noise})"
    network_spec = nets.spec_dict(f"deterministic_tanh+{noise}")
    return Learner(init, act, policy, learn, init_carry, network_spec)
