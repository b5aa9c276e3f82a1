"""PPO/A2C learner: ``make_learner(cfg, spec, total_updates)`` -> init / act / policy / learn.

Pure functions over an ``algos/onpolicy.AgentState``; no loops over environments, no I/O. Runners drive it.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from tandem.algos.learner import Learner
from tandem.algos.onpolicy import AgentState, actor_critic, sequence
from tandem.algos.ppo.config import PPOConfig
from tandem.algos.ppo.losses import clipped_surrogate_loss, normalize_advantage, value_loss
from tandem.buffers.transition import Transition
from tandem.envs.spec import EnvSpec
from tandem.errors import TandemInputError
from tandem.ops import gae_advantages
from tandem.ops.finite import first_fault, grad_fault


def make_learner(cfg: PPOConfig, spec: EnvSpec, total_updates: int) -> Learner:
    """The PPO learner of ``cfg`` for ``spec``; ``total_updates`` sets the learning-rate annealing horizon."""
    steps = cfg.update_epochs * cfg.num_minibatches
    ac = actor_critic(cfg, spec, total_updates * steps, steps)
    tx, dist_params, value_fn, log_prob_entropy = ac.tx, ac.dist_params, ac.value_fn, ac.log_prob_entropy
    if ac.recurrent and cfg.num_envs % cfg.num_minibatches:
        raise TandemInputError(f"--num-minibatches {cfg.num_minibatches}: a recurrent network learns from whole "
                               f"sequences, so each minibatch is a set of envs and --num-minibatches must divide "
                               f"--num-envs {cfg.num_envs}; allowed: a divisor of {cfg.num_envs}.")

    def loss_fn(params, mb):
        """mb: flat samples, or (recurrent) [T, n] sequences with their ``seq`` (the carry at the start, resets)."""
        seq = mb.get("seq")
        dp = dist_params(params, mb["obs"], seq)
        log_prob, entropy = log_prob_entropy(dp, mb["action"])
        adv = normalize_advantage(mb["advantage"]) if cfg.norm_adv else mb["advantage"]
        pg_loss, approx_kl, clip_frac = clipped_surrogate_loss(log_prob, mb["log_prob"], adv, cfg.clip_coef)
        v_loss = value_loss(value_fn(params, mb["obs"], seq), mb["value"], mb["target"], cfg.clip_coef,
                            cfg.clip_vloss)
        ent = entropy.mean()
        loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * ent
        return loss, {"losses/policy": pg_loss, "losses/value": v_loss, "losses/entropy": ent,
                      "losses/approx_kl": approx_kl, "losses/clipfrac": clip_frac}

    def prepare(state: AgentState, batch: Transition):
        """The rollout with its GAE advantages and targets, and the new reward statistics: flat [T*N] samples, or
        (recurrent) the [T, N] sequences with their ``seq``."""
        obs, final_obs, reward, ret_rms, ret_acc = ac.normalize_batch(state, batch)
        seq = sequence(batch) if ac.recurrent else None
        value, next_value = ac.values(state.params, obs, final_obs, seq)
        gae = jax.vmap(gae_advantages, in_axes=(1, 1, 1, 1, 1, None, None), out_axes=1)
        advantage, target = gae(reward, value, next_value, batch.terminated, batch.truncated, cfg.gamma, cfg.gae_lambda)
        size = math.prod(batch.reward.shape)
        data = {"obs": obs, "action": batch.action, "log_prob": batch.extras["log_prob"], "advantage": advantage,
                "target": target, "value": value}
        if ac.recurrent:
            return {**data, "seq": seq}, ret_rms, ret_acc
        return jax.tree_util.tree_map(lambda x: x.reshape((size,) + x.shape[2:]), data), ret_rms, ret_acc

    def minibatches(data, k):
        """The shuffled minibatches of one epoch, stacked: random sets of samples, or (recurrent) of envs, each
        env's sequence whole and in time order (its carry [N, ...] is cut along the envs, its arrays [T, N, ...]
        along axis 1)."""
        M = cfg.num_minibatches
        if not ac.recurrent:
            size = jax.tree_util.tree_leaves(data)[0].shape[0]
            perm = jax.random.permutation(k, size)
            return jax.tree_util.tree_map(lambda x: x[perm].reshape((M, size // M) + x.shape[1:]), data)
        perm = jax.random.permutation(k, cfg.num_envs).reshape(M, cfg.num_envs // M)
        carry0, reset = data.pop("seq")
        by_env = jax.tree_util.tree_map(lambda x: jnp.moveaxis(x[:, perm], 1, 0), {**data, "reset": reset})
        reset = by_env.pop("reset")
        return {**by_env, "seq": (jax.tree_util.tree_map(lambda c: c[perm], carry0), reset)}

    def learn(state: AgentState, batch: Transition, key):
        """batch: a time-major [T, N] rollout whose extras hold the behaviour policy's ``log_prob`` (and, with a
        recurrent network, the carry before each step)."""
        flat, ret_rms, ret_acc = prepare(state, batch)

        def epoch(carry, k):
            params, opt_state = carry
            mbs = minibatches(dict(flat), k)

            def minibatch(c, mb):
                p, o = c
                (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, mb)
                upd, o = tx.update(grads, o, p)
                return (optax.apply_updates(p, upd), o), {**metrics, "fault": grad_fault(loss, grads)}

            return jax.lax.scan(minibatch, (params, opt_state), mbs)

        (params, opt_state), metrics = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(key, cfg.update_epochs))
        fault = first_fault(metrics.pop("fault"))
        metrics = {**jax.tree_util.tree_map(jnp.mean, metrics), "fault": fault}
        obs_rms = ac.obs_stats_update(state.obs_rms, batch.obs)
        return AgentState(params, opt_state, obs_rms, ret_rms, ret_acc), metrics

    def gradient(state: AgentState, batch: Transition, key):
        """A2C's one step, computed alone: the gradient of the loss on the whole batch (no normalisation: its
        statistics would have to travel with the gradient)."""
        del key  # one minibatch of everything: nothing to shuffle
        flat, _, _ = prepare(state, batch)
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, flat)
        return grads, {**metrics, "fault": grad_fault(loss, grads)}

    def apply_gradient(state: AgentState, grads):
        upd, opt_state = tx.update(grads, state.opt_state, state.params)
        return state.replace(params=optax.apply_updates(state.params, upd), opt_state=opt_state)

    one_step = cfg.update_epochs == 1 and cfg.num_minibatches == 1 and not (cfg.normalize_obs or cfg.normalize_reward)
    return Learner(ac.init, ac.act, ac.policy, learn, ac.init_carry, ac.network_spec,
                   gradient if one_step else None, apply_gradient if one_step else None)
