"""What PPO/A2C and IMPALA share: the rollout and optimisation hyperparameters, the learner state, and the
actor-critic itself (networks, observation and reward normalisation, the action distribution, act, policy).

An on-policy learner's ``learn(state, batch, key)`` takes a time-major [T, N] rollout whose extras hold the
behaviour policy's ``log_prob``; PPO turns it into GAE advantages and clipped epochs, IMPALA into V-trace
targets and one gradient step. Everything before the loss is built here, once.

Recurrent networks (an ``lstm``/``gru`` block in --actor-net or --critic-net): the acting carry holds each
recurrent network's state (``carry["actor"]``, ``carry["critic"]``), reset where an episode ends like any acting
state; ``act`` returns the carry before each step in its extras (``extras["carry"]``), so a rollout holds the
carry at the start of its segment whichever runner collected it. The loss replays each env's segment from that
carry (its gradient stops there: truncated backpropagation through the rollout), zeroing the carry at the steps
where an episode started (:func:`sequence`).
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
from tandem.algos.obs_norm import ObsNormaliser
from tandem.algos.prune import PruneConfig, schedule
from tandem.envs.spec import ACTION_MASK, EnvSpec, obs_struct, obs_zeros
from tandem.errors import TandemInputError
from tandem.fields import field, validate_fields
from tandem.nets import distributions as D
from tandem.nets.spec import ACTIVATIONS, NetworkSpec, check_spec, initial_carry, is_recurrent, network
from tandem.ops import RunningMeanStd, rms_init, rms_update


@dataclasses.dataclass(frozen=True)
class OnPolicyConfig(PruneConfig):
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
        self.validate_prune()


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
    prep(state, obs) -> x; dist_params(params, x, seq=None) -> dp; value_fn(params, x, seq=None) -> [...];
    values(params, x, final_x, seq=None) -> (value, next value) [T, N] of a rollout (the next value of step t is
    the critic's at ``final_x[t]``, after step t);
    log_prob_entropy(dp, action) -> (log_prob, entropy); normalize_batch(state, batch) -> (obs, final_obs,
    reward, ret_rms, ret_acc): the rollout as the loss sees it; obs_stats_update(rms, raw obs);
    network_spec: the manifest's record of the networks; recurrent: whether a network is (then ``x`` is a
    time-major [T, N] sequence and ``seq`` is :func:`sequence` of its rollout, else ``x`` any batch and ``seq``
    None).
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
    values: Callable
    recurrent: bool


def sequence(batch):
    """What a recurrent loss replays a [T, N] rollout from: (the carry at its start, [N, ...] per network,
    episode-start flags [T, N]: the carry is zeroed before step t where step t - 1 ended an episode; step 0
    starts from the stored carry, already reset by the runner where the previous rollout ended one)."""
    done = jnp.logical_or(batch.terminated, batch.truncated)
    carry0 = jax.tree_util.tree_map(lambda c: jax.lax.stop_gradient(c[0]), batch.extras["carry"])
    return carry0, jnp.concatenate([jnp.zeros_like(done[:1]), done[:-1]], axis=0)


def actor_critic(cfg: OnPolicyConfig, spec: EnvSpec, grad_steps: int, steps_per_update: int = 1) -> ActorCritic:
    """The actor-critic of ``cfg`` for ``spec``; ``grad_steps`` (of the whole run) sets the learning-rate
    annealing horizon; ``steps_per_update`` (gradient steps per update) turns --critic-warmup into steps."""
    discrete = spec.action_kind == "discrete"
    out_dim = spec.num_actions if discrete else spec.action_dim
    actor_spec = NetworkSpec.from_text(cfg.actor_net, cfg.activation, out_dim, 0.01, "--actor-net")
    critic_spec = NetworkSpec.from_text(cfg.critic_net, cfg.activation, 1, 1.0, "--critic-net")
    actor = network(actor_spec, obs_struct(spec), "--actor-net", recurrent_ok=True)
    critic = network(critic_spec, obs_struct(spec), "--critic-net", recurrent_ok=True)
    rec = {"actor": is_recurrent(actor_spec), "critic": is_recurrent(critic_spec)}
    recurrent = rec["actor"] or rec["critic"]
    masked = discrete and spec.has_action_mask
    if cfg.use_sde and discrete:
        raise TandemInputError(f"--use-sde: gSDE explores continuous actions, and {spec.id} has discrete actions; "
                               f"allowed: --use-sde with a Box action space, or --no-use-sde.")
    sde = cfg.use_sde
    sde_every = cfg.sde_sample_freq or cfg.num_steps

    def seq_args(name, seq):
        """The carry and reset keywords of network ``name`` (nothing for a feed-forward one)."""
        if not rec[name]:
            return {}
        if seq is None:
            raise ValueError(f"the {name} is recurrent: it needs the rollout's sequence (onpolicy.sequence)")
        return {"carry": seq[0][name], "reset": seq[1]}

    def run(name, p, x, seq, **kw):
        """(output, final carry or None) of network ``name`` on ``x``."""
        out = (actor if name == "actor" else critic).apply(p, x, **kw, **seq_args(name, seq))
        return (out[0], out[1]) if rec[name] else (out, None)

    def zero_carry(batch_shape):
        return {n: initial_carry(s, batch_shape) for n, s in (("actor", actor_spec), ("critic", critic_spec)) if rec[n]}

    def init_inputs(lead):
        """Dummy inputs for init: one observation, a sequence of one for a recurrent network."""
        dummy = obs_zeros(spec, lead, jnp)
        seq = (zero_carry(lead[1:]), jnp.zeros(lead, bool)) if recurrent else None
        return dummy, seq

    def init_net(name, key, features=False):
        dummy, seq = init_inputs((1, 1) if recurrent else (1,))
        net = actor if name == "actor" else critic
        return net.init_with_output(key, dummy, features=features, **seq_args(name, seq))

    def head_input_width():
        """gSDE's log std is [F, D] over the actor's last features (F: the head's input width)."""
        out = jax.eval_shape(lambda k: init_net("actor", k, True)[0], jax.random.PRNGKey(0))
        return (out[0] if rec["actor"] else out)[1].shape[-1]

    sde_features = head_input_width() if sde else 0
    norm = ObsNormaliser(spec, cfg.normalize_obs)

    lr = optax.linear_schedule(cfg.lr, 0.0, max(1, grad_steps)) if cfg.anneal_lr else cfg.lr
    tx = optimizer(cfg.optimizer, lr, eps=cfg.opt_eps, rmsprop_decay=cfg.rmsprop_decay, max_grad_norm=cfg.max_grad_norm,
                   prune=schedule(cfg, grad_steps))
    if cfg.critic_warmup:   # only then: the optimizer state of a run without warm-up keeps its structure
        tx = optax.chain(hold("actor", cfg.critic_warmup * steps_per_update), tx)

    def prep(state: AgentState, obs):
        return norm.apply(state.obs_rms, obs)

    def dist_carry(params, x, seq):
        """(logits, or (mean, log_std) with log_std [D] shared or, under gSDE, [..., D] per sample; the actor's
        final carry or None)."""
        if sde:
            (mean, feat), c = actor_features(params, x, seq)
            return (mean, D.sde_log_std(feat, params["actor"]["log_std"])), c
        out, c = run("actor", params["actor"]["net"], x, seq)
        if masked:  # invalid actions: probability 0 in act, policy and the loss (entropy over the valid ones)
            out = D.masked_logits(out, x[ACTION_MASK])
        return (out if discrete else (out, params["actor"]["log_std"])), c

    def dist_params(params, x, seq=None):
        return dist_carry(params, x, seq)[0]

    def actor_features(params, x, seq):
        """gSDE: ((mean, the features its noise is linear in), final carry); no gradient reaches the torso through
        the noise's variance (SB3's default, learn_features=False)."""
        (mean, feat), c = run("actor", params["actor"]["net"], x, seq, features=True)
        return (mean, jax.lax.stop_gradient(feat)), c

    def value_fn(params, x, seq=None):
        return run("critic", params["critic"], x, seq)[0][..., 0]

    def values(params, x, final_x, seq=None):
        """(value [T, N], next value [T, N]): a recurrent critic's next value at step t is one more step of it
        on ``final_x[t]`` from its carry after step t (the bootstrap of a truncated episode sees its history)."""
        if not rec["critic"]:
            return value_fn(params, x), value_fn(params, final_x)
        out, _, every = critic.apply(params["critic"], x, **seq_args("critic", seq))
        lead = jax.tree_util.tree_leaves(seq[1])[0].shape
        nxt = critic.apply(params["critic"], jax.tree_util.tree_map(lambda a: a[None], final_x), carry=every,
                           reset=jnp.zeros((1,) + lead, bool))[0]
        return out[..., 0], nxt[0, ..., 0]

    def one_step(x, carry):
        """A single step as a sequence of one: (x [1, N, ...], seq) for the recurrent networks, or (x, None)."""
        if not recurrent:
            return x, None
        n = jax.tree_util.tree_leaves(x)[0].shape[0]
        return jax.tree_util.tree_map(lambda a: a[None], x), ({k: carry[k] for k in rec if rec[k]},
                                                               jnp.zeros((1, n), bool))

    def first(tree):
        return jax.tree_util.tree_map(lambda a: a[0], tree) if recurrent else tree

    def advance(carry, seq_new):
        """The acting carry with the recurrent networks' new states."""
        return {**carry, **{k: v for k, v in seq_new.items() if v is not None}}

    def log_prob_entropy(dp, action):
        if discrete:
            return D.categorical_log_prob(dp, action), D.categorical_entropy(dp)
        mean, log_std = dp
        return D.gaussian_log_prob(mean, log_std, action), D.gaussian_entropy(mean, log_std)

    def init(key) -> AgentState:
        k_actor, k_critic = jax.random.split(key)
        params = {"actor": {"net": init_net("actor", k_actor)[1]}, "critic": init_net("critic", k_critic)[1]}
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
        """The recurrent networks' zero states; gSDE: each env's standard-normal noise weights [F, D] and its
        steps since they were drawn."""
        carry = zero_carry((num_envs,))
        if sde:
            carry.update({"sde_eps": jnp.zeros((num_envs, sde_features, out_dim), jnp.float32),
                          "sde_age": jnp.zeros((num_envs,), jnp.int32)})
        return carry

    def recurrent_extras(carry, x, seq, params):
        """The carry before this step (what the loss replays from), and the critic's state advanced by it."""
        if not recurrent:
            return {}, {}
        new = {"critic": run("critic", params["critic"], x, seq)[1]} if rec["critic"] else {}
        return {"carry": {k: carry[k] for k in rec if rec[k]}}, new

    def sde_act(state: AgentState, obs, key, carry):
        """gSDE: mean + features @ (exp(log_std) * eps), eps redrawn for the envs whose weights are
        --sde-sample-freq steps old or whose episode just started (age 0 after reset_done)."""
        x, seq = one_step(prep(state, obs), carry)
        (mean, feat), c = actor_features(state.params, x, seq)
        mean, feat = first((mean, feat))
        log_std = state.params["actor"]["log_std"]
        redraw = (carry["sde_age"] % sde_every == 0)[:, None, None]
        eps = jnp.where(redraw, jax.random.normal(key, carry["sde_eps"].shape), carry["sde_eps"])
        action = mean + D.sde_noise(feat, log_std, eps)
        log_prob = D.gaussian_log_prob(mean, D.sde_log_std(feat, log_std), action)
        extras, new = recurrent_extras(carry, x, seq, state.params)
        carry = advance({**carry, "sde_eps": eps, "sde_age": carry["sde_age"] + 1}, {**new, "actor": c})
        return action, {"log_prob": log_prob, **extras}, carry

    def act(state: AgentState, obs, key, carry):
        if sde:
            return sde_act(state, obs, key, carry)
        x, seq = one_step(prep(state, obs), carry)
        dp, c = dist_carry(state.params, x, seq)
        dp = first(dp)
        if discrete:
            action = D.categorical_sample(key, dp)
        else:
            action = D.gaussian_sample(key, *dp)
        log_prob, _ = log_prob_entropy(dp, action)
        extras, new = recurrent_extras(carry, x, seq, state.params)
        return action, {"log_prob": log_prob, **extras}, advance(carry, {**new, "actor": c})

    def policy(state: AgentState, obs, carry):
        """Deterministic; a recurrent actor's state advances (the critic's is left as it is: acting does not
        read it)."""
        x, seq = one_step(prep(state, obs), carry)
        dp, c = dist_carry(state.params, x, seq)
        dp = first(dp)
        return (jnp.argmax(dp, axis=-1) if discrete else dp[0]), advance(carry, {"actor": c})

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
                       normalize_batch, norm.update, network_spec, values, recurrent)
