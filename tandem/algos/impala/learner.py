"""IMPALA learner: ``make_learner(cfg, spec, total_updates)`` -> init / act / policy / learn.

The actor-critic is PPO's (algos/onpolicy.py); the batch is a [T, N] rollout of any behaviour policy whose
``log_prob`` travels in its extras. On the host and JAX runners the behaviour policy is the learner's own
(lag 0, every importance weight 1); on the Ray runner it is a version behind (--lag 1) or more (--async).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from tandem.algos.impala.config import IMPALAConfig
from tandem.algos.impala.losses import impala_loss_terms
from tandem.algos.learner import Learner
from tandem.algos.onpolicy import AgentState, actor_critic, sequence
from tandem.buffers.transition import Transition
from tandem.envs.spec import EnvSpec
from tandem.ops import vtrace
from tandem.ops.finite import grad_fault


def make_learner(cfg: IMPALAConfig, spec: EnvSpec, total_updates: int) -> Learner:
    """The IMPALA learner of ``cfg`` for ``spec``: one gradient step per batch, so ``total_updates`` is the
    learning-rate annealing horizon."""
    ac = actor_critic(cfg, spec, total_updates)

    def targets(r, v, nv, term, trunc, log_rho):
        return vtrace(r, v, nv, term, trunc, log_rho, cfg.gamma, cfg.vtrace_lambda, cfg.clip_rho, cfg.clip_c,
                      cfg.clip_pg_rho)

    vtrace_envs = jax.vmap(targets, in_axes=1, out_axes=1)  # [T, N]: one trajectory per env

    def loss_fn(params, obs, final_obs, reward, batch: Transition):
        seq = sequence(batch) if ac.recurrent else None
        dp = ac.dist_params(params, obs, seq)
        log_prob, entropy = ac.log_prob_entropy(dp, batch.action)
        value, next_value = ac.values(params, obs, final_obs, seq)
        log_rho = log_prob - batch.extras["log_prob"]
        vs, pg_adv = vtrace_envs(reward, value, next_value, batch.terminated, batch.truncated, log_rho)
        pg_loss, v_loss, ent = impala_loss_terms(log_prob, entropy, value, vs, pg_adv)
        loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * ent
        rho = jnp.exp(jax.lax.stop_gradient(log_rho))
        return loss, {"losses/policy": pg_loss, "losses/value": v_loss, "losses/entropy": ent,
                      "vtrace/rho_mean": rho.mean(), "vtrace/rho_clipfrac": jnp.mean(rho > cfg.clip_rho)}

    def learn(state: AgentState, batch: Transition, key):
        """batch: a time-major [T, N] rollout whose extras hold the behaviour policy's ``log_prob``."""
        del key  # one full-batch gradient step: nothing to sample
        obs, final_obs, reward, ret_rms, ret_acc = ac.normalize_batch(state, batch)
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, obs, final_obs, reward,
                                                                           batch)
        upd, opt_state = ac.tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, upd)
        obs_rms = ac.obs_stats_update(state.obs_rms, batch.obs)
        return AgentState(params, opt_state, obs_rms, ret_rms, ret_acc), {**metrics, "fault": grad_fault(loss, grads)}

    return Learner(ac.init, ac.act, ac.policy, learn, ac.init_carry, ac.network_spec)
