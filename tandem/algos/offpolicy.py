"""What DDPG, TD3 and SAC share: the replay hyperparameters, the learner state, the update scaffold.

``update(state, traj, key)`` has the same signature as PPO's, so every runner drives a replay
learner unchanged: it appends the rollout ([T, N] transitions, ``T = train_freq``) to the replay
buffer inside the state, then, once ``learning_starts`` transitions have been seen, runs
``gradient_steps`` gradient steps in one ``lax.scan`` (several updates per compiled call).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Literal

import flax.struct
import jax
import jax.numpy as jnp
import optax

from tandem.buffers.replay import ReplayBuffer, replay_add, replay_init, replay_sample
from tandem.envs.spec import EnvSpec
from tandem.errors import TandemInputError, out_of_range
from tandem.nets.mlp import MLP, MLPSpec, ensemble_apply, ensemble_init, flatten_obs


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig:
    num_envs: int = 1
    """Parallel environments per seed."""
    train_freq: int = 1
    """Environment steps (per env) between training calls."""
    utd: float = 1.0
    """Update-to-data ratio: gradient steps per environment transition. Each training call runs
    utd * train_freq * num_envs gradient steps (must be a whole number) in one compiled call."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions per seed (checked against free memory before allocation; rounded
    down to a multiple of train_freq * num_envs, the transitions stored per training call)."""
    batch_size: int = 256
    """Transitions per gradient step, sampled uniformly from the replay buffer."""
    learning_starts: int = 10_000
    """Transitions per seed collected with uniformly random actions before learning starts."""
    gamma: float = 0.99
    """Discount factor, in [0, 1)."""
    tau: float = 0.005
    """Polyak coefficient of the target networks: target <- tau * online + (1 - tau) * target."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    num_critics: int = 2
    """Critics in the ensemble; targets use the minimum over them (clipped double Q with 2)."""
    actor_hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor."""
    critic_hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of each critic (input: observation and action)."""
    activation: Literal["relu", "tanh", "gelu", "silu", "elu"] = "relu"
    """Hidden activation of actor and critics."""
    save_replay: bool = True
    """Store the replay buffer in checkpoints (exact resume). --no-save-replay: small checkpoints; a
    resumed run then refills an empty buffer and is no longer identical to an uninterrupted one."""

    @property
    def num_steps(self) -> int:  # the runners' rollout length
        return self.train_freq

    @property
    def gradient_steps(self) -> int:
        return int(round(self.utd * self.train_freq * self.num_envs))

    def validate(self) -> None:
        for f in ("num_envs", "train_freq", "buffer_size", "batch_size", "num_critics"):
            if int(getattr(self, f)) < 1:
                raise out_of_range(f, getattr(self, f), "an integer >= 1")
        if self.learning_starts < 0:
            raise out_of_range("learning_starts", self.learning_starts, "an integer >= 0")
        if not self.utd > 0:
            raise out_of_range("utd", self.utd, "a float > 0")
        g = self.utd * self.train_freq * self.num_envs
        if abs(g - round(g)) > 1e-9:
            raise TandemInputError(
                f"--utd {self.utd} x --train-freq {self.train_freq} x --num-envs {self.num_envs} = {g:g} gradient "
                f"steps per training call; allowed: values whose product is a whole number >= 1.")
        if not 0.0 <= self.gamma < 1.0:
            raise out_of_range("gamma", self.gamma, "0 <= gamma < 1")
        if not 0.0 < self.tau <= 1.0:
            raise out_of_range("tau", self.tau, "0 < tau <= 1")
        for f in ("actor_lr", "critic_lr"):
            if not getattr(self, f) > 0:
                raise out_of_range(f, getattr(self, f), "a float > 0")
        if self.num_critics > 16:
            raise out_of_range("num_critics", self.num_critics, "1 <= num_critics <= 16")
        for f in ("actor_hidden", "critic_hidden"):
            if not getattr(self, f) or any(int(w) < 1 for w in getattr(self, f)):
                raise out_of_range(f, getattr(self, f), "positive layer widths, e.g. 256 256")


class OffPolicyState(flax.struct.PyTreeNode):
    params: Any  # {"actor", "critic" (stacked ensemble), ...}
    target: Any  # target networks
    opt_state: Any
    replay: ReplayBuffer
    env_steps: jax.Array  # int32, transitions stored per seed (decides learning_starts)
    grad_steps: jax.Array  # int32, gradient steps taken
    updates: jax.Array  # int32, training calls


class Networks:
    """Actor and critic ensemble of a replay learner, from the config (built in ``nets/``)."""

    def __init__(self, cfg: OffPolicyConfig, spec: EnvSpec, actor_out: int):
        if spec.action_kind != "continuous":
            raise TandemInputError(f"--env {spec.id!r} has a discrete action space; DDPG, TD3 and SAC need a "
                                   f"continuous (Box) one. Allowed: e.g. Pendulum-v1, HalfCheetah-v5, gymnax:Pendulum-v1.")
        self.obs_ndim = len(spec.obs_shape)
        self.obs_dim = math.prod(spec.obs_shape)
        self.action_dim = spec.action_dim
        self.actor_spec = MLPSpec(tuple(cfg.actor_hidden), cfg.activation, head_gain=0.01)
        self.critic_spec = MLPSpec(tuple(cfg.critic_hidden), cfg.activation, head_gain=1.0)
        self.actor, self.critic = MLP(self.actor_spec, actor_out), MLP(self.critic_spec, 1)
        self.num_critics = cfg.num_critics

    def init(self, key) -> dict:
        k_actor, k_critic = jax.random.split(key)
        return {"actor": self.actor.init(k_actor, jnp.zeros((1, self.obs_dim), jnp.float32)),
                "critic": ensemble_init(self.critic, k_critic, self.num_critics,
                                        jnp.zeros((1, self.obs_dim + self.action_dim), jnp.float32))}

    def prep(self, obs):
        return flatten_obs(obs.astype(jnp.float32), self.obs_ndim)

    def q(self, critic_params, obs, action):
        """Q-values of every critic: [num_critics, B]."""
        return ensemble_apply(self.critic, critic_params, jnp.concatenate([obs, action], axis=-1))[..., 0]

    def spec_dict(self, distribution: str) -> dict:
        return {"actor": self.actor_spec.to_dict(), "critic": self.critic_spec.to_dict(),
                "num_critics": self.num_critics, "distribution": distribution}


def transition_fields(spec: EnvSpec) -> dict:
    obs = (tuple(spec.obs_shape), jnp.float32)
    return {"obs": obs, "action": ((spec.action_dim,), jnp.float32), "reward": ((), jnp.float32),
            "next_obs": obs, "terminated": ((), jnp.bool_), "truncated": ((), jnp.bool_)}


def init_state(cfg: OffPolicyConfig, spec: EnvSpec, params: dict, target: dict, opt_state: dict) -> OffPolicyState:
    zero = jnp.zeros((), jnp.int32)
    per_call = cfg.train_freq * cfg.num_envs
    capacity = max(per_call, cfg.buffer_size - cfg.buffer_size % per_call)
    return OffPolicyState(params, target, opt_state, replay_init(capacity, transition_fields(spec)),
                          zero, zero, zero)


def critic_loss(q, target):
    """Squared TD error summed over the ensemble: sum_i mean_b (Q_i(s_b, a_b) - y_b)^2. q: [E, B], target: [B]."""
    return jnp.sum(jnp.mean((q - target[None]) ** 2, axis=-1))


def adam(lr: float):
    return optax.flatten(optax.adam(lr))


def random_before_start(cfg: OffPolicyConfig, state: OffPolicyState, action, key):
    """Uniformly random actions in [-1, 1] until learning_starts transitions have been stored."""
    random = jax.random.uniform(key, action.shape, action.dtype, -1.0, 1.0)
    return jnp.where(state.env_steps < cfg.learning_starts, random, action)


def make_update(cfg: OffPolicyConfig, grad_step: Callable, metric_names: tuple[str, ...]):
    """The training call: store the rollout, then ``cfg.gradient_steps`` gradient steps once learning has started.

    grad_step(params, target, opt_state, grad_steps, batch, key) -> (params, target, opt_state, metrics), where
    grad_steps counts the gradient steps before this one. Before learning starts the metrics are NaN
    (the metrics row shows them as empty).
    """
    G = cfg.gradient_steps

    def update(state: OffPolicyState, traj, key):
        T, N = traj["reward"].shape
        flat = lambda x: x.reshape((T * N,) + x.shape[2:])  # noqa: E731
        rows = {"obs": flat(traj["obs"]), "action": flat(traj["action"]), "reward": flat(traj["reward"]),
                "next_obs": flat(traj["final_obs"]), "terminated": flat(traj["terminated"]),
                "truncated": flat(traj["truncated"])}
        replay = replay_add(state.replay, rows)
        env_steps = state.env_steps + T * N
        learn = (state.params, state.target, state.opt_state, state.grad_steps)
        # All G batches are gathered up front in one gather, outside the cond and the scan, which then
        # only see the sampled batches, never the buffer.
        k_sample, k_steps = jax.random.split(key)
        batches = jax.vmap(lambda k: replay_sample(replay, k, cfg.batch_size))(jax.random.split(k_sample, G))

        def train(learn):
            def body(learn, xs):
                batch, k = xs
                params, target, opt_state, n = learn
                params, target, opt_state, metrics = grad_step(params, target, opt_state, n, batch, k)
                return (params, target, opt_state, n + 1), metrics

            learn, metrics = jax.lax.scan(body, learn, (batches, jax.random.split(k_steps, G)))
            return learn, {k: jnp.nanmean(metrics[k]) for k in metric_names}  # NaN: a skipped (delayed) step

        def wait(learn):
            return learn, {k: jnp.full((), jnp.nan, jnp.float32) for k in metric_names}

        learn, metrics = jax.lax.cond(env_steps >= cfg.learning_starts, train, wait, learn)
        params, target, opt_state, grad_steps = learn
        return OffPolicyState(params, target, opt_state, replay, env_steps, grad_steps, state.updates + 1), metrics

    return update
