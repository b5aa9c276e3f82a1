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
from tandem.config import INT32_MAX, check_float, check_int, check_types, check_widths
from tandem.envs.spec import EnvSpec
from tandem.errors import TandemInputError
from tandem.nets.mlp import MLP, MLPSpec, ensemble_apply, ensemble_init, flatten_obs
from tandem.ops.finite import first_fault
from tandem.ops.shapes import check_rank


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
        """Raise TandemInputError naming the first field of the wrong type or out of range."""
        check_types(self)
        for f in ("num_envs", "train_freq", "batch_size"):  # sampling is with replacement:
            check_int(self, f, 1)  # a batch larger than the buffer is allowed
        # No upper bound here: a buffer too large for memory is refused by the preflight memory check.
        check_int(self, "buffer_size", 1)  # the ring position is int32
        check_int(self, "learning_starts", 0)
        check_int(self, "num_critics", 1, 16)
        check_float(self, "utd", lo=0, lo_open=True)
        g = self.utd * self.train_freq * self.num_envs
        if abs(g - round(g)) > 1e-9 or not 1 <= round(g) <= INT32_MAX:
            raise TandemInputError(
                f"--utd {self.utd} x --train-freq {self.train_freq} x --num-envs {self.num_envs} = {g:g} gradient "
                f"steps per training call; allowed: values whose product is a whole number, 1 to {INT32_MAX}.")
        check_float(self, "gamma", 0, 1, hi_open=True)
        check_float(self, "tau", 0, 1, lo_open=True)
        for f in ("actor_lr", "critic_lr"):
            check_float(self, f, lo=0, lo_open=True)
        for f in ("actor_hidden", "critic_hidden"):
            check_widths(self, f, allow_empty=False)


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
        """Q-values of every critic: [num_critics, B] from obs [B, obs_dim] and action [B, action_dim].

        The critics' [E, B, 1] output is squeezed explicitly (after a check), never left to broadcast.
        """
        if obs.shape[:-1] != action.shape[:-1] or action.shape[-1:] != (self.action_dim,):
            raise ValueError(f"Networks.q: action shape {action.shape} does not match expected "
                             f"{obs.shape[:-1] + (self.action_dim,)} (obs shape {obs.shape}, "
                             f"action_dim {self.action_dim}).")
        out = ensemble_apply(self.critic, critic_params, jnp.concatenate([obs, action], axis=-1))
        expected = obs.shape[:-1] + (1,)
        if out.shape[1:] != expected:
            raise ValueError(f"Networks.q: critic output shape {out.shape} does not match expected (E,) + {expected}.")
        return out[..., 0]

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
    check_rank("critic_loss", 1, "[B]", target=target)
    if q.ndim != 2 or q.shape[1:] != target.shape:
        raise ValueError(f"critic_loss: q shape {q.shape} does not match expected (E,) + {target.shape} "
                         f"([num_critics, B], B from target shape {target.shape}); squeeze a critic's [E, B, 1] first.")
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
    grad_steps counts the gradient steps before this one; its metrics include ``fault``
    (ops/finite.py). Before learning starts the metrics are NaN (the metrics row shows them as empty).
    """
    G = cfg.gradient_steps

    def update(state: OffPolicyState, traj, key):
        check_rank("offpolicy update", 2, "[T, N] (time-major rollout)", reward=traj["reward"])
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
            return learn, {**{k: jnp.nanmean(metrics[k]) for k in metric_names},  # NaN: a skipped (delayed) step
                           "fault": first_fault(metrics["fault"])}

        def wait(learn):
            return learn, {**{k: jnp.full((), jnp.nan, jnp.float32) for k in metric_names},
                           "fault": jnp.zeros((), jnp.int32)}

        learn, metrics = jax.lax.cond(env_steps >= cfg.learning_starts, train, wait, learn)
        params, target, opt_state, grad_steps = learn
        return OffPolicyState(params, target, opt_state, replay, env_steps, grad_steps, state.updates + 1), metrics

    return update
