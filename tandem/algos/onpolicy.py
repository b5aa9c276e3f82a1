"""What PPO/A2C and IMPALA share: the rollout and optimisation hyperparameters, the learner state, and the
actor-critic itself (networks, observation and reward normalisation, the action distribution, act, policy).

An on-policy learner's ``learn(state, batch, key)`` takes a time-major [T, N] rollout whose extras hold the
behaviour policy's ``log_prob``; PPO turns it into GAE advantages and clipped epochs, IMPALA into V-trace
targets and one gradient step. Everything before the loss is built here, once.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import optax

from tandem.algos.learner import hold, optimizer
from tandem.algos.needs import RunnerNeeds
from tandem.envs.spec import ACTION_MASK, EnvSpec, obs_struct, obs_zeros
from tandem.errors import TandemInputError
from tandem.fields import field, validate_fields
from tandem.nets import distributions as D
from tandem.nets.spec import ACTIVATIONS, NetworkSpec, check_spec, network
from tandem.algos.obs_norm import ObsNormaliser
from tandem.ops import RunningMeanStd, rms_init, rms_update


@dataclasses.dataclass(frozen=True)
class OnPolicyConfig:
    num_envs: int = field(8, "Parallel environments per seed.", lo=1, group="environment")
    num_steps: int = field(128, "Rollout length per environment between updates.", lo=1)
    lr: float = field(2.5e-4, "Learning rate (the starting value when --anneal-lr).", lo=0, lo_open=True)
    anneal_lr: bool = field(True, "Anneal the learning rate linearly to 0 over the run.")
    optimizer: Literal["adam", "rmsprop"] = field("adam", "Optimizer; A2C uses RMSprop as in the A3C paper.")
    opt_eps: float = field(1e-5, "Epsilon of the optimizer's denominator.", lo=0, lo_open=True)
    rmsprop_decay: float = field(0.99, "RMSprop decay (alpha), used when --optimizer rmsprop.", lo=0, hi=1,
                                 lo_open=True, hi_open=True)
    gamma: float = field(0.99, "Discount factor.", lo=0, hi=1, hi_open=True)
    ent_coef: float = field(0.0, "Entropy bonus coefficient.", lo=0)
    vf_coef: float = field(0.5, "Value loss coefficient.", lo=0)
    max_grad_norm: float = field(0.5, "Global gradient-norm clip (0 disables).", lo=0)
    normalize_obs: bool = field(False, "Normalise observations by running mean/std (statistics are checkpointed).")
    normalize_reward: bool = field(False, "Scale rewards by the running std of the discounted return "
                                          "(statistics are checkpointed).")
    actor_net: str = field("mlp:64,64", "Actor network spec, e.g. mlp:64,64 (two hidden layers of 64); 'mlp' "
                                        "alone is a linear policy.", check=check_spec, group="networks")
    critic_net: str = field("mlp:64,64", "Critic network spec, e.g. mlp:64,64.", check=check_spec, group="networks")
    activation: Literal[ACTIVATIONS] = field("tanh", "Hidden activation of actor and critic.", group="networks")
    init_log_std: float = field(0.0, "Initial log standard deviation of the Gaussian policy (continuous actions).")
    use_sde: bool = field(False, "gSDE exploration (continuous actions): the noise is linear in the actor's last "
                                 "features, its weights (log std [features, actions]) resampled every "
                                 "--sde-sample-freq steps of each env and at each episode start.")
    sde_sample_freq: int = field(0, "Steps between resamples of gSDE's noise weights; 0: the rollout length "
                                    "(--num-steps).", lo=0)
    critic_warmup: int = field(0, "Updates at the start in which only the critic learns, the actor held still: "
                                  "after --init-from or --pretrain bc, a fresh critic learns the given policy's "
                                  "values before its policy gradient may move it.", lo=0)

    @property
    def batch_size(self) -> int:
        """Transitions per update: num_envs x num_steps."""
        return self.num_envs * self.num_steps

    @property
    def needs(self) -> RunnerNeeds:
        """A [num_steps, num_envs] rollout per update; no replay."""
        return RunnerNeeds(self.num_envs, self.num_steps)

    def validate(self) -> None:
        """Raise TandemInputError naming the first field of the wrong type or out of range."""
        validate_fields(self)


class AgentState(flax.struct.PyTreeNode):
    params: Any  # {"actor": {"net": ..., "log_std": [D] (continuous only)}, "critic": ...}
    opt_state: Any
    obs_rms: Any  # RunningMeanStd ({field: RunningMeanStd} for a structured observation)
    ret_rms: RunningMeanStd
    ret_acc: jax.Array  # [num_envs] discounted return so far, for reward scaling


class ActorCritic(NamedTuple):
    """The parts of an on-policy learner before its loss. x: an observation after ``prep``; dp: the
    distribution's parameters (logits, or (mean, log_std)).

    tx: the optimizer; init(key) -> AgentState; init_carry(num_envs); act / policy: the Learner's;
    prep(state, obs) -> x; dist_params(params, x) -> dp; value_fn(params, x) -> [...];
    log_prob_entropy(dp, action) -> (log_prob, entropy); normalize_batch(state, batch) -> (obs, final_obs,
    reward, ret_rms, ret_acc): the rollout as the loss sees it; obs_stats_update(rms, raw obs);
    network_spec: the manifest's record of the networks.
    """

    tx: optax.GradientTransformation
    init: Callable
    init_carry: Callable
    act: Callable
    policy: Callable
    prep: Callable
    dist_params: Callable
    value_fn: Callable
    log_prob_entropy: Callable
    normalize_batch: Callable
    obs_stats_update: Callable
    network_spec: dict


def actor_critic(cfg: OnPolicyConfig, spec: EnvSpec, grad_steps: int, steps_per_update: int = 1) -> ActorCritic:
    """The actor-critic of ``cfg`` for ``spec``; ``grad_steps`` (of the whole run) sets the learning-rate
    annealing horizon; ``steps_per_update`` (gradient steps per update) turns --critic-warmup into steps."""
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
    norm = ObsNormaliser(spec, cfg.normalize_obs)

    lr = optax.linear_schedule(cfg.lr, 0.0, max(1, grad_steps)) if cfg.anneal_lr else cfg.lr
    tx = optimizer(cfg.optimizer, lr, eps=cfg.opt_eps, rmsprop_decay=cfg.rmsprop_decay, max_grad_norm=cfg.max_grad_norm)
    if cfg.critic_warmup:   # only then: the optimizer state of a run without warm-up keeps its structure
        tx = optax.chain(hold("actor", cfg.critic_warmup * steps_per_update), tx)

    def prep(state: AgentState, obs):
        return norm.apply(state.obs_rms, obs)

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
            obs_rms=norm.init(),
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

    def normalize_batch(state: AgentState, batch):
        """(obs, final_obs) normalised with the statistics before this batch, the reward (scaled with
        --normalize-reward) and the new reward statistics."""
        obs, final_obs = prep(state, batch.obs), prep(state, batch.final_obs)
        reward, ret_rms, ret_acc = batch.reward, state.ret_rms, state.ret_acc
        if cfg.normalize_reward:
            reward, ret_rms, ret_acc = scale_rewards(state, reward, jnp.logical_or(batch.terminated, batch.truncated))
        return obs, final_obs, reward, ret_rms, ret_acc

    distribution = ("categorical" if discrete else "diag_gaussian_gsde" if sde
                    else "diag_gaussian_state_independent_log_std")
    network_spec = {"actor": actor_spec.to_dict(), "critic": critic_spec.to_dict(), "distribution": distribution}
    return ActorCritic(tx, init, init_carry, act, policy, prep, dist_params, value_fn, log_prob_entropy,
                       normalize_batch, norm.update, network_spec)
