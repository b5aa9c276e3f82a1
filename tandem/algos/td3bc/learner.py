"""TD3+BC learner: ``make_learner(cfg, spec, total_updates)``.

TD3's learner (td3/learner.py) for acting, the policy, the initial state and the network spec; ``learn`` is one
gradient step on a [B] dataset batch built from TD3's pieces: the clipped double-Q critic update with target
policy smoothing (td3/losses.py, offpolicy.py), then, every ``policy_delay`` steps, the actor step on
:func:`~tandem.algos.td3bc.losses.td3bc_actor_loss` against the updated first critic and the Polyak target
update. A step whose loss or gradient is not finite is reported in ``fault`` and not applied (the state is
returned unchanged). With ``normalize_obs`` (the default) every network sees observations normalised by the
dataset's statistics, which ``data_init`` puts in ``state.obs_rms`` before the first step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from tandem.algos.learner import Learner
from tandem.algos.obs_norm import ObsNormaliser
from tandem.algos.offpolicy import Networks, actor_critic_optimizers, check_batch, critic_loss
from tandem.algos.td3.learner import make_learner as td3_learner
from tandem.algos.td3.losses import smoothed_target_action
from tandem.algos.td3bc.config import TD3BCConfig
from tandem.algos.td3bc.losses import td3bc_actor_loss
from tandem.envs.spec import EnvSpec
from tandem.ops import polyak, td_target
from tandem.ops.finite import first_fault, grad_fault


def make_learner(cfg: TD3BCConfig, spec: EnvSpec, total_updates: int) -> Learner:
    """The TD3+BC learner of ``cfg`` for ``spec`` (a continuous action space): TD3's state, ``params["actor"]``
    (mu, tanh-squashed) and ``params["critic"]`` (the stacked twin critics), targets of both in ``state.target``."""
    td3 = td3_learner(cfg, spec, total_updates)
    nets = Networks(cfg, spec, spec.action_dim)
    tx_actor, tx_critic = actor_critic_optimizers(cfg, total_updates, cfg.policy_delay)  # TD3's, as its init's
    norm = ObsNormaliser(spec, cfg.normalize_obs)

    def mu(actor_params, obs):
        return jnp.tanh(nets.actor.apply(actor_params, obs))

    def init(key):
        state = td3.init(key)
        return state.replace(obs_rms=norm.init()) if cfg.normalize_obs else state

    def data_init(state, data):
        return state.replace(obs_rms=norm.from_data(data.obs)) if cfg.normalize_obs else state

    def act(state, obs, key, carry):
        return td3.act(state, norm.apply(state.obs_rms, obs), key, carry)

    def policy(state, obs, carry):
        return td3.policy(state, norm.apply(state.obs_rms, obs), carry)

    def learn(state, batch, key):
        check_batch(batch)
        params, target, opt_state, n = state.params, state.target, state.opt_state, state.grad_steps
        obs, next_obs = norm.apply(state.obs_rms, batch.obs), norm.apply(state.obs_rms, batch.final_obs)
        next_action = smoothed_target_action(mu(target["actor"], next_obs), key, cfg.target_noise,
                                             cfg.target_noise_clip)
        y = td_target(batch.reward, batch.terminated, jnp.min(nets.q(target["critic"], next_obs, next_action), axis=0),
                      cfg.gamma)

        def c_loss(cp):
            q = nets.q(cp, obs, batch.action)
            return critic_loss(q, y), q

        (c_val, q), grads = jax.value_and_grad(c_loss, has_aux=True)(params["critic"])
        c_fault = grad_fault(c_val, grads)
        upd, c_opt = tx_critic.update(grads, opt_state["critic"], params["critic"])
        critic = optax.apply_updates(params["critic"], upd)

        def actor_step(args):
            actor, a_opt, target = args
            q1 = jax.tree_util.tree_map(lambda x: x[:1], critic)

            def a_loss(ap):
                pi = mu(ap, obs)
                return td3bc_actor_loss(nets.q(q1, obs, pi)[0], pi, batch.action, cfg.alpha)

            (a_val, (lam, bc)), grads = jax.value_and_grad(a_loss, has_aux=True)(actor)
            upd, a_opt = tx_actor.update(grads, a_opt, actor)
            actor = optax.apply_updates(actor, upd)
            target = polyak(target, {"actor": actor, "critic": critic}, cfg.tau)
            return actor, a_opt, target, a_val, lam, bc, grad_fault(a_val, grads)

        def skip(args):
            nan = jnp.full((), jnp.nan, jnp.float32)
            return (*args, nan, nan, nan, jnp.zeros((), jnp.int32))

        args = (params["actor"], opt_state["actor"], target)
        if cfg.policy_delay == 1:
            actor, a_opt, target, a_val, lam, bc, a_fault = actor_step(args)
        else:  # as TD3: a real branch for one seed per device, a select when seeds are vmapped
            actor, a_opt, target, a_val, lam, bc, a_fault = jax.lax.cond((n + 1) % cfg.policy_delay == 0,
                                                                         actor_step, skip, args)
        fault = first_fault(jnp.stack([c_fault, a_fault]))
        new = state.replace(params={"actor": actor, "critic": critic}, target=target,
                            opt_state={"actor": a_opt, "critic": c_opt}, grad_steps=n + 1)
        new = jax.tree_util.tree_map(lambda x, old: jnp.where(fault == 0, x, old), new, state)
        metrics = {"losses/critic": c_val, "losses/actor": a_val, "losses/bc": bc, "charts/lambda": lam,
                   "charts/q": jnp.mean(q), "fault": fault}
        return new, metrics

    return Learner(init, act, policy, learn, td3.init_carry, td3.network_spec, data_init=data_init)
