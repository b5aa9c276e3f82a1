"""SAC-RND learner: ``make_learner(cfg, spec, total_updates)``.

SAC's learner (sac/learner.py) for acting, the policy and the actor, critic and temperature state, plus the
random network distillation of the paper: a fixed random prior f_prior(s, a) and a predictor f(s, a), each an
``rnd_net`` MLP on the concatenated observation and action (the paper conditions the predictor on the action
with FiLM; plain concatenation is its simpler variant). The bonus is
b(s, a) = ||f(s, a) - f_prior(s, a)||^2 / std, std the running std of that error on the dataset batches
(sacrnd/losses.py). The prior's output is stop-gradiented, as in the authors' code: the actor's gradient of
the bonus flows through the predictor.

``learn`` is one gradient step on a [B] dataset batch, in this order: the predictor (Adam, trained alongside
rather than pre-trained) on the mean error of the batch's (s, a), the running std updated with those errors;
the critics on y = r + gamma * (1 - terminated) * (min_i Q'_i(s', a') - alpha * log pi(a'|s')
- beta_critic * b(s', a')), a' ~ pi(.|s'); the actor on SAC's loss + beta_actor * mean b(s, a), a ~ pi(.|s)
(the updated predictor and critics); the temperature; the Polyak targets. The key splits into
(a' sample, a sample, random actions for the ``charts/bonus_random`` metric). A step whose loss or gradient is
not finite is reported in ``fault`` and not applied (the state is returned unchanged).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from tandem.algos.learner import Learner, optimizer
from tandem.algos.offpolicy import Networks, actor_critic_optimizers, check_batch, critic_loss
from tandem.algos.sac.learner import LOG_STD_MAX, LOG_STD_MIN
from tandem.algos.sac.learner import make_learner as sac_learner
from tandem.algos.sac.losses import alpha_loss, sac_actor_loss, soft_next_value
from tandem.algos.sacrnd.config import SACRNDConfig
from tandem.algos.sacrnd.losses import rnd_bonus, rnd_error
from tandem.envs.spec import EnvSpec, obs_struct, obs_zeros
from tandem.nets.distributions import tanh_gaussian_sample
from tandem.nets.spec import NetworkSpec, network
from tandem.ops import polyak, rms_init, rms_update, td_target
from tandem.ops.finite import first_fault, grad_fault


def make_learner(cfg: SACRNDConfig, spec: EnvSpec, total_updates: int) -> Learner:
    """The SAC-RND learner of ``cfg`` for ``spec`` (a continuous action space): SAC's state (``params["actor"]``,
    ``params["critic"]``, ``params["log_alpha"]``) plus ``params["rnd"] = {"predictor", "prior", "rms"}``; only
    the predictor has an optimizer (``opt_state["rnd"]``), the prior stays as initialised."""
    sac = sac_learner(cfg, spec, total_updates)
    A = spec.action_dim
    nets = Networks(cfg, spec, 2 * A)
    tx_actor, tx_critic = actor_critic_optimizers(cfg, total_updates)  # SAC's, as its init's
    tx_alpha, tx_rnd = optimizer("adam", cfg.alpha_lr, flat=False), optimizer("adam", cfg.rnd_lr)
    target_entropy = sac.network_spec["target_entropy"]
    rnd_spec = NetworkSpec.from_text(cfg.rnd_net, "relu", cfg.rnd_dim, 1.0, "--rnd-net")
    rnd = network(rnd_spec, obs_struct(spec), "--rnd-net")

    def dist(actor_params, obs):
        mean, log_std = jnp.split(nets.actor.apply(actor_params, obs), 2, axis=-1)
        return mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)

    def init(key):
        k_sac, k_pred, k_prior = jax.random.split(key, 3)
        state = sac.init(k_sac)
        obs, action = obs_zeros(spec, (1,), jnp), jnp.zeros((1, A), jnp.float32)
        r = {"predictor": rnd.init(k_pred, obs, action), "prior": rnd.init(k_prior, obs, action), "rms": rms_init(())}
        return state.replace(params={**state.params, "rnd": r},
                             opt_state={**state.opt_state, "rnd": tx_rnd.init(r["predictor"])})

    def learn(state, batch, key):
        check_batch(batch)
        params, target, opt_state = state.params, state.target, state.opt_state
        obs, next_obs = batch.obs, batch.final_obs
        k_next, k_pi, k_rand = jax.random.split(key, 3)
        log_alpha = params["log_alpha"]
        alpha = jnp.exp(log_alpha) if cfg.autotune_alpha else jnp.float32(cfg.alpha)

        prior = params["rnd"]["prior"]

        def r_loss(pp):
            e = rnd_error(rnd.apply(pp, obs, batch.action), rnd.apply(prior, obs, batch.action))
            return jnp.mean(e), e

        (r_val, err), grads = jax.value_and_grad(r_loss, has_aux=True)(params["rnd"]["predictor"])
        faults = [grad_fault(r_val, grads)]
        upd, r_opt = tx_rnd.update(grads, opt_state["rnd"], params["rnd"]["predictor"])
        r = {"predictor": optax.apply_updates(params["rnd"]["predictor"], upd), "prior": prior,
             "rms": rms_update(params["rnd"]["rms"], err)}

        def bonus(o, a):
            return rnd_bonus(rnd_error(rnd.apply(r["predictor"], o, a), jax.lax.stop_gradient(rnd.apply(prior, o, a))),
                             r["rms"])

        next_action, next_log_prob = tanh_gaussian_sample(k_next, *dist(params["actor"], next_obs))
        next_q = jnp.min(nets.q(target["critic"], next_obs, next_action), axis=0)
        next_v = soft_next_value(next_q, next_log_prob, alpha) - cfg.beta_critic * bonus(next_obs, next_action)
        y = td_target(batch.reward, batch.terminated, next_v, cfg.gamma)

        def c_loss(cp):
            q = nets.q(cp, obs, batch.action)
            return 0.5 * critic_loss(q, y), q

        (c_val, q), grads = jax.value_and_grad(c_loss, has_aux=True)(params["critic"])
        faults.append(grad_fault(c_val, grads))
        upd, c_opt = tx_critic.update(grads, opt_state["critic"], params["critic"])
        critic = optax.apply_updates(params["critic"], upd)

        def a_loss(ap):
            action, log_prob = tanh_gaussian_sample(k_pi, *dist(ap, obs))
            b = bonus(obs, action)
            q_min = jnp.min(nets.q(critic, obs, action), axis=0)
            return sac_actor_loss(log_prob, q_min, alpha) + cfg.beta_actor * jnp.mean(b), (log_prob, b)

        (a_val, (log_prob, b_pi)), grads = jax.value_and_grad(a_loss, has_aux=True)(params["actor"])
        faults.append(grad_fault(a_val, grads))
        upd, a_opt = tx_actor.update(grads, opt_state["actor"], params["actor"])
        actor = optax.apply_updates(params["actor"], upd)

        al_val, al_opt = jnp.zeros(()), opt_state["alpha"]
        if cfg.autotune_alpha:
            al_val, grad = jax.value_and_grad(alpha_loss)(log_alpha, log_prob, target_entropy)
            faults.append(grad_fault(al_val, grad))
            upd, al_opt = tx_alpha.update(grad, opt_state["alpha"], log_alpha)
            log_alpha = optax.apply_updates(log_alpha, upd)

        fault = first_fault(jnp.stack(faults))
        new = state.replace(params={"actor": actor, "critic": critic, "log_alpha": log_alpha, "rnd": r},
                            target={"critic": polyak(target["critic"], critic, cfg.tau)},
                            opt_state={"actor": a_opt, "critic": c_opt, "alpha": al_opt, "rnd": r_opt},
                            grad_steps=state.grad_steps + 1)
        new = jax.tree_util.tree_map(lambda x, old: jnp.where(fault == 0, x, old), new, state)
        random_action = jax.random.uniform(k_rand, batch.action.shape, jnp.float32, -1.0, 1.0)
        metrics = {"losses/critic": c_val, "losses/actor": a_val, "losses/alpha": al_val, "losses/rnd": r_val,
                   "charts/alpha": alpha, "charts/q": jnp.mean(q), "charts/entropy": -jnp.mean(log_prob),
                   "charts/bonus_data": jnp.mean(rnd_bonus(err, r["rms"])), "charts/bonus_policy": jnp.mean(b_pi),
                   "charts/bonus_random": jnp.mean(bonus(obs, random_action)), "fault": fault}
        return new, metrics

    network_spec = {**sac.network_spec, "rnd": rnd_spec.to_dict()}
    return Learner(init, sac.act, sac.policy, learn, sac.init_carry, network_spec)
