"""IQL learner: ``make_learner(cfg, spec, total_updates)``, for discrete and continuous actions.

Implicit Q-learning (Kostrikov, Nair, Levine 2021) never queries an action outside the dataset. ``learn`` is
one gradient step on a [B] batch of transitions for each of three losses, in the order of the paper's code:

1. the value V(s) by expectile regression on min_i Q_target_i(s, a);
2. the critics (one vmapped ensemble) on r + gamma * (1 - terminated) * V(s'), with the value just updated;
3. the actor by advantage-weighted maximum likelihood of the dataset's actions, weights
   min(exp(beta * (min_i Q_target_i(s, a) - V(s))), max_weight), with the value just updated;

then a Polyak update of the target critics. Discrete actions: each critic outputs Q(s, .) over every action and
the actor is categorical (masked by the observation's ``action_mask`` when it has one). Continuous actions: each
critic takes (obs, action); the actor is a Gaussian with a state-independent log std (the paper's code) or a
tanh-squashed Gaussian. A step whose loss or gradient is not finite is reported in ``fault`` and not applied.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from tandem.algos.iql.config import IQLConfig
from tandem.algos.iql.losses import awr_actor_loss, awr_weights, expectile_loss
from tandem.algos.offline_actor import actor_distribution
from tandem.algos.learner import Learner, no_carry, optimizer
from tandem.algos.offpolicy import OffPolicyState, check_batch, critic_loss, init_state
from tandem.envs.spec import EnvSpec, obs_struct, obs_zeros
from tandem.nets import distributions as D
from tandem.nets.spec import NetworkSpec, network
from tandem.ops import polyak, td_target
from tandem.ops.finite import first_fault, grad_fault

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # gaussian's state-independent log std, clipped as the IQL paper's code


def make_learner(cfg: IQLConfig, spec: EnvSpec, total_updates: int) -> Learner:
    """The IQL learner of ``cfg`` for ``spec`` (``total_updates`` unused: constant learning rates).

    State: an ``OffPolicyState`` with ``params = {"actor": {"net": ..., "log_std": [D] (gaussian only)},
    "critic": the stacked ensemble, "value": ...}``, ``target = {"critic": ...}``, the optimizer states of the
    three (``opt_state = {"actor", "critic", "value"}``) and the gradient steps taken.
    """
    del total_updates
    discrete = spec.action_kind == "discrete"
    kind = "categorical" if discrete else cfg.distribution
    masked = discrete and spec.has_action_mask
    A = spec.num_actions if discrete else spec.action_dim
    actor_spec = NetworkSpec.from_text(cfg.actor_net, cfg.activation, 2 * A if kind == "tanh_gaussian" else A, 0.01,
                                       "--actor-net")
    critic_spec = NetworkSpec.from_text(cfg.critic_net, cfg.activation, A if discrete else 1, 1.0, "--critic-net")
    value_spec = NetworkSpec.from_text(cfg.value_net, cfg.activation, 1, 1.0, "--value-net")
    actor = network(actor_spec, obs_struct(spec), "--actor-net")
    critic = network(critic_spec, obs_struct(spec), "--critic-net")
    value = network(value_spec, obs_struct(spec), "--value-net")
    tx = {"actor": optimizer("adam", cfg.actor_lr), "critic": optimizer("adam", cfg.critic_lr),
          "value": optimizer("adam", cfg.value_lr)}

    dist_params, log_prob = actor_distribution(actor, kind, masked, LOG_STD_MIN)

    def q(critic_params, obs, action):
        """Q_i(s, a) of every critic: [num_critics, B] (discrete: Q(s, .) gathered at the action)."""
        if discrete:
            out = jax.vmap(critic.apply, in_axes=(0, None))(critic_params, obs)  # [E, B, A]
            return jnp.take_along_axis(out, jnp.broadcast_to(action.astype(jnp.int32)[None, :, None],
                                                             out.shape[:-1] + (1,)), axis=-1)[..., 0]
        return jax.vmap(critic.apply, in_axes=(0, None, None))(critic_params, obs, action)[..., 0]

    def v(value_params, obs):
        """V(s) [B]."""
        return value.apply(value_params, obs)[..., 0]

    def init(key) -> OffPolicyState:
        k_actor, k_critic, k_value = jax.random.split(key, 3)
        obs = obs_zeros(spec, (1,), jnp)
        action = jnp.zeros((1,), jnp.int32) if discrete else jnp.zeros((1, A), jnp.float32)
        args = (obs,) if discrete else (obs, action)
        # One critic after the other (lax.map), never vmapped: offpolicy.Networks.init says why.
        critics = jax.lax.map(lambda k: critic.init(k, *args), jax.random.split(k_critic, cfg.num_critics))
        params = {"actor": {"net": actor.init(k_actor, obs)}, "critic": critics, "value": value.init(k_value, obs)}
        if kind == "gaussian":
            params["actor"]["log_std"] = jnp.zeros((A,), jnp.float32)
        return init_state(params, {"critic": critics}, {name: tx[name].init(params[name]) for name in tx})

    def act(state: OffPolicyState, obs, key, carry):
        dp = dist_params(state.params["actor"], obs)
        if discrete:
            action = D.categorical_sample(key, dp)
        elif kind == "gaussian":
            action = jnp.clip(D.gaussian_sample(key, *dp), -1.0, 1.0)
        else:
            action, _ = D.tanh_gaussian_sample(key, *dp)
        return action, {}, carry

    def policy(state: OffPolicyState, obs, carry):
        dp = dist_params(state.params["actor"], obs)
        if discrete:
            return jnp.argmax(dp, axis=-1), carry
        return (jnp.clip(dp[0], -1.0, 1.0) if kind == "gaussian" else jnp.tanh(dp[0])), carry

    def step(name, params, opt_state, grads):
        upd, o = tx[name].update(grads, opt_state[name], params[name])
        return optax.apply_updates(params[name], upd), o

    def learn(state: OffPolicyState, batch, key):
        del key  # every loss is deterministic
        check_batch(batch)
        params, opt_state = dict(state.params), dict(state.opt_state)
        obs, action = batch.obs, batch.action
        q_target = jax.lax.stop_gradient(jnp.min(q(state.target["critic"], obs, action), axis=0))

        def value_loss(vp):
            vs = v(vp, obs)
            return expectile_loss(q_target - vs, cfg.expectile), vs

        (v_val, vs), grads = jax.value_and_grad(value_loss, has_aux=True)(params["value"])
        faults = [grad_fault(v_val, grads)]
        params["value"], opt_state["value"] = step("value", params, opt_state, grads)

        y = td_target(batch.reward, batch.terminated, v(params["value"], batch.final_obs), cfg.gamma)

        def c_loss(cp):
            qs = q(cp, obs, action)
            return critic_loss(qs, y), qs

        (c_val, qs), grads = jax.value_and_grad(c_loss, has_aux=True)(params["critic"])
        faults.append(grad_fault(c_val, grads))
        params["critic"], opt_state["critic"] = step("critic", params, opt_state, grads)

        adv = q_target - v(params["value"], obs)
        weights = awr_weights(adv, cfg.beta, cfg.max_weight)

        def a_loss(ap):
            return awr_actor_loss(log_prob(dist_params(ap, obs), action), weights)

        a_val, grads = jax.value_and_grad(a_loss)(params["actor"])
        faults.append(grad_fault(a_val, grads))
        params["actor"], opt_state["actor"] = step("actor", params, opt_state, grads)

        fault = first_fault(jnp.stack(faults))
        new = state.replace(params=params, target={"critic": polyak(state.target["critic"], params["critic"], cfg.tau)},
                            opt_state=opt_state, grad_steps=state.grad_steps + 1)
        new = jax.tree_util.tree_map(lambda n, o: jnp.where(fault == 0, n, o), new, state)  # a fault: no step
        metrics = {"value_loss": v_val, "critic_loss": c_val, "actor_loss": a_val, "q_mean": jnp.mean(qs),
                   "v_mean": jnp.mean(vs), "adv_mean": jnp.mean(adv),
                   "weight_mean": jnp.mean(weights), "fault": fault}
        return new, metrics

    network_spec = {"actor": actor_spec.to_dict(), "critic": critic_spec.to_dict(), "value": value_spec.to_dict(),
                    "num_critics": cfg.num_critics, "distribution": kind}
    return Learner(init, act, policy, learn, no_carry, network_spec)
