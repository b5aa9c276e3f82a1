"""PPO/A2C learner: ``make_learner(cfg, spec, total_updates)`` -> init / act / policy / learn.

Pure functions over an :class:`AgentState`; no loops over environments, no I/O. Runners drive it.
"""

from __future__ import annotations

import math
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from tandem.algos.learner import Learner, optimizer
from tandem.algos.ppo.config import PPOConfig
from tandem.algos.ppo.losses import clipped_surrogate_loss, normalize_advantage, value_loss
from tandem.buffers.transition import Transition
from tandem.envs.spec import ACTION_MASK, EnvSpec, obs_struct, obs_zeros
from tandem.errors import TandemInputError
from tandem.nets import distributions as D
from tandem.nets.spec import NetworkSpec, network
from tandem.ops import RunningMeanStd, gae_advantages, rms_init, rms_normalize, rms_update
from tandem.ops.finite import first_fault, grad_fault


class AgentState(flax.struct.PyTreeNode):
    params: Any  # {"actor": {"net": ..., "log_std": [D] (continuous only)}, "critic": ...}
    opt_state: Any
    obs_rms: Any  # RunningMeanStd ({field: RunningMeanStd} for a structured observation)
    ret_rms: RunningMeanStd
    ret_acc: jax.Array  # [num_envs] discounted return so far, for reward scaling


def make_learner(cfg: PPOConfig, spec: EnvSpec, total_updates: int) -> Learner:
    """The PPO learner of ``cfg`` for ``spec``; ``total_updates`` sets the learning-rate annealing horizon."""
    discrete = spec.action_kind == "discrete"
    out_dim = spec.num_actions if discrete else spec.action_dim
    actor_spec = NetworkSpec.from_text(cfg.actor_net, cfg.activation, out_dim, 0.01, "--actor-net")
    critic_spec = NetworkSpec.from_text(cfg.critic_net, cfg.activation, 1, 1.0, "--critic-net")
    actor, critic = network(actor_spec, obs_struct(spec), "--actor-net"), network(critic_spec, obs_struct(spec), "--critic-net")
    masked = discrete and spec.has_action_mask
    if cfg.use_sde and discrete:
        raise TandemInputError(f"--use-sde: gSDE explores continuous actions, and {spec.id} has discrete actions; "
                               f"allowed: --use-sde with a Box action space, or --no-use-sde.")
    sde = cfg.use_sde
    sde_every = cfg.sde_sample_freq or cfg.num_steps
    # gSDE's log std is [F, D] over the actor's last features (F: the head's input width).
    sde_features = (jax.eval_shape(lambda k: actor.init_with_output(k, obs_zeros(spec, (1,), jnp), features=True)[0],
                                   jax.random.PRNGKey(0))[1].shape[-1] if sde else 0)
    # A structured observation is normalised field by field, every field but the mask (a raw step counter in
    # the thousands would saturate a tanh network); an array observation as one array.
    norm_fields = [n for n, _, _ in spec.obs_fields if n != ACTION_MASK]

    grad_steps = max(1, total_updates * cfg.update_epochs * cfg.num_minibatches)
    lr = optax.linear_schedule(cfg.lr, 0.0, grad_steps) if cfg.anneal_lr else cfg.lr
    tx = optimizer(cfg.optimizer, lr, eps=cfg.opt_eps, rmsprop_decay=cfg.rmsprop_decay, max_grad_norm=cfg.max_grad_norm)

    def prep(state: AgentState, obs):
        if not cfg.normalize_obs:
            return obs
        if not spec.obs_fields:
            return rms_normalize(state.obs_rms, obs.astype(jnp.float32))
        return {**obs, **{n: rms_normalize(state.obs_rms[n], obs[n].astype(jnp.float32)) for n in norm_fields}}

    def obs_stats_init():
        if not spec.obs_fields:
            return rms_init(spec.obs_shape)
        return {n: rms_init(shape) for n, shape, _ in spec.obs_fields if n != ACTION_MASK}

    def obs_stats_update(rms, obs):
        if not spec.obs_fields:
            return rms_update(rms, obs)
        return {n: rms_update(rms[n], obs[n]) for n in norm_fields}

    def dist_params(params, x):
        """Logits, or (mean, log_std) with log_std [D] shared or, under gSDE, [..., D] per sample."""
        if sde:
            mean, feat = actor_features(params, x)
            return mean, D.sde_log_std(feat, params["actor"]["log_std"])
        out = actor.apply(params["actor"]["net"], x)
        if masked:  # invalid actions: probability 0 in act, policy and the loss (entropy over the valid ones)
            out = D.masked_logits(out, x[ACTION_MASK])
        return out if discrete else (out, params["actor"]["log_std"])

    def actor_features(params, x):
        """gSDE: (mean, the features its noise is linear in); no gradient reaches the torso through the
        noise's variance (SB3's default, learn_features=False)."""
        mean, feat = actor.apply(params["actor"]["net"], x, features=True)
        return mean, jax.lax.stop_gradient(feat)

    def value_fn(params, x):
        return critic.apply(params["critic"], x)[..., 0]

    def log_prob_entropy(dp, action):
        if discrete:
            return D.categorical_log_prob(dp, action), D.categorical_entropy(dp)
        mean, log_std = dp
        return D.gaussian_log_prob(mean, log_std, action), D.gaussian_entropy(mean, log_std)

    def init(key) -> AgentState:
        k_actor, k_critic = jax.random.split(key)
        dummy = obs_zeros(spec, (1,), jnp)
        params = {"actor": {"net": actor.init(k_actor, dummy)}, "critic": critic.init(k_critic, dummy)}
        if not discrete:
            shape = (sde_features, out_dim) if sde else (out_dim,)
            params["actor"]["log_std"] = jnp.full(shape, cfg.init_log_std, jnp.float32)
        return AgentState(
            params=params,
            opt_state=tx.init(params),
            obs_rms=obs_stats_init(),
            ret_rms=rms_init(()),
            ret_acc=jnp.zeros((cfg.num_envs,), jnp.float32),
        )

    def init_carry(num_envs: int):
        """gSDE: each env's standard-normal noise weights [F, D] and its steps since they were drawn."""
        if not sde:
            return {}
        return {"sde_eps": jnp.zeros((num_envs, sde_features, out_dim), jnp.float32),
                "sde_age": jnp.zeros((num_envs,), jnp.int32)}

    def sde_act(state: AgentState, obs, key, carry):
        """gSDE: mean + features @ (exp(log_std) * eps), eps redrawn for the envs whose weights are
        --sde-sample-freq steps old or whose episode just started (age 0 after reset_done)."""
        x = prep(state, obs)
        mean, feat = actor_features(state.params, x)
        log_std = state.params["actor"]["log_std"]
        redraw = (carry["sde_age"] % sde_every == 0)[:, None, None]
        eps = jnp.where(redraw, jax.random.normal(key, carry["sde_eps"].shape), carry["sde_eps"])
        action = mean + D.sde_noise(feat, log_std, eps)
        log_prob = D.gaussian_log_prob(mean, D.sde_log_std(feat, log_std), action)
        return action, {"log_prob": log_prob}, {"sde_eps": eps, "sde_age": carry["sde_age"] + 1}

    def act(state: AgentState, obs, key, carry):
        if sde:
            return sde_act(state, obs, key, carry)
        dp = dist_params(state.params, prep(state, obs))
        if discrete:
            action = D.categorical_sample(key, dp)
        else:
            action = D.gaussian_sample(key, *dp)
        log_prob, _ = log_prob_entropy(dp, action)
        return action, {"log_prob": log_prob}, carry

    def policy(state: AgentState, obs, carry):
        dp = dist_params(state.params, prep(state, obs))
        return (jnp.argmax(dp, axis=-1) if discrete else dp[0]), carry

    def scale_rewards(state: AgentState, reward, done):
        """SB3 VecNormalize-style: divide rewards by the std of a running discounted return."""
        def step(acc, xs):
            r, d = xs
            acc = acc * cfg.gamma + r
            return jnp.where(d, 0.0, acc), acc

        ret_acc, returns = jax.lax.scan(step, state.ret_acc, (reward, done))
        ret_rms = rms_update(state.ret_rms, returns)
        scaled = jnp.clip(reward / jnp.sqrt(ret_rms.var + 1e-8), -10.0, 10.0)
        return scaled, ret_rms, ret_acc

    def loss_fn(params, mb):
        dp = dist_params(params, mb["obs"])
        log_prob, entropy = log_prob_entropy(dp, mb["action"])
        adv = normalize_advantage(mb["advantage"]) if cfg.norm_adv else mb["advantage"]
        pg_loss, approx_kl, clip_frac = clipped_surrogate_loss(log_prob, mb["log_prob"], adv, cfg.clip_coef)
        v_loss = value_loss(value_fn(params, mb["obs"]), mb["value"], mb["target"], cfg.clip_coef, cfg.clip_vloss)
        ent = entropy.mean()
        loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * ent
        return loss, {"losses/policy": pg_loss, "losses/value": v_loss, "losses/entropy": ent,
                      "losses/approx_kl": approx_kl, "losses/clipfrac": clip_frac}

    def learn(state: AgentState, batch: Transition, key):
        """batch: a time-major [T, N] rollout whose extras hold the behaviour policy's ``log_prob``."""
        obs, final_obs = prep(state, batch.obs), prep(state, batch.final_obs)
        done = jnp.logical_or(batch.terminated, batch.truncated)
        reward, ret_rms, ret_acc = batch.reward, state.ret_rms, state.ret_acc
        if cfg.normalize_reward:
            reward, ret_rms, ret_acc = scale_rewards(state, reward, done)
        value = value_fn(state.params, obs)
        next_value = value_fn(state.params, final_obs)
        gae = jax.vmap(gae_advantages, in_axes=(1, 1, 1, 1, 1, None, None), out_axes=1)
        advantage, target = gae(reward, value, next_value, batch.terminated, batch.truncated, cfg.gamma, cfg.gae_lambda)

        size = math.prod(batch.reward.shape)
        flat = {"obs": obs, "action": batch.action, "log_prob": batch.extras["log_prob"], "advantage": advantage,
                "target": target, "value": value}
        flat = jax.tree_util.tree_map(lambda x: x.reshape((size,) + x.shape[2:]), flat)
        mb_size = size // cfg.num_minibatches

        def epoch(carry, k):
            params, opt_state = carry
            perm = jax.random.permutation(k, size)
            mbs = jax.tree_util.tree_map(lambda x: x[perm].reshape((cfg.num_minibatches, mb_size) + x.shape[1:]), flat)

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
        obs_rms = obs_stats_update(state.obs_rms, batch.obs) if cfg.normalize_obs else state.obs_rms
        return AgentState(params, opt_state, obs_rms, ret_rms, ret_acc), metrics

    distribution = ("categorical" if discrete else "diag_gaussian_gsde" if sde
                    else "diag_gaussian_state_independent_log_std")
    network_spec = {"actor": actor_spec.to_dict(), "critic": critic_spec.to_dict(), "distribution": distribution}
    return Learner(init, act, policy, learn, init_carry, network_spec)
