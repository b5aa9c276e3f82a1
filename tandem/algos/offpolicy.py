"""What DDPG, TD3 and SAC share: the replay hyperparameters, the learner state, the networks, the critic loss.

``learn(state, batch, key)`` of a replay learner is one gradient step on a [B] batch of transitions,
whatever its source: the runner side stores rollouts in the replay buffer and samples from it
(runners/agent.py), and a dataset phase feeds dataset batches to the same function.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import flax.struct
import jax
import jax.numpy as jnp

from tandem.algos.learner import optimizer
from tandem.algos.needs import ReplayNeeds, RunnerNeeds
from tandem.algos.prune import PruneConfig, schedule
from tandem.envs.spec import EnvSpec, obs_lead, obs_struct, obs_zeros
from tandem.errors import TandemInputError
from tandem.fields import INT32_MAX, field, validate_fields
from tandem.nets.spec import ACTIVATIONS, NetworkSpec, check_spec, network
from tandem.ops.shapes import check_rank


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig(PruneConfig):
    num_envs: int = field(1, "Parallel environments per seed.", lo=1, group="environment")
    train_freq: int = field(1, "Environment steps (per env) between training calls.", lo=1)
    utd: float = field(1.0, "Update-to-data ratio: gradient steps per environment transition. Each training call "
                            "runs utd * train_freq * num_envs gradient steps (must be a whole number) in one "
                            "compiled call.", lo=0, lo_open=True)
    # No upper bound: a buffer too large for memory is refused by the preflight memory check.
    buffer_size: int = field(1_000_000, "Replay capacity in transitions per seed (checked against free memory "
                                        "before allocation; rounded down to a multiple of train_freq * num_envs, "
                                        "the transitions stored per training call).", lo=1)
    # Sampling is with replacement: a batch larger than the buffer is allowed.
    batch_size: int = field(256, "Transitions per gradient step, sampled uniformly from the replay buffer.", lo=1)
    learning_starts: int = field(10_000, "Transitions per seed collected with uniformly random actions before "
                                         "learning starts.", lo=0)
    gamma: float = field(0.99, "Discount factor.", lo=0, hi=1, hi_open=True)
    tau: float = field(0.005, "Polyak coefficient of the target networks: target <- tau * online + (1 - tau) * "
                              "target.", lo=0, hi=1, lo_open=True)
    actor_lr: float = field(3e-4, "Adam learning rate of the actor.", lo=0, lo_open=True)
    critic_lr: float = field(3e-4, "Adam learning rate of the critics.", lo=0, lo_open=True)
    num_critics: int = field(2, "Critics in the ensemble; targets use the minimum over them (clipped double Q "
                                "with 2).", lo=1, hi=16)
    actor_net: str = field("mlp:256,256", "Actor network spec, e.g. mlp:256,256.", check=check_spec, group="networks")
    critic_net: str = field("mlp:256,256", "Network spec of each critic (input: observation and action), e.g. "
                                           "mlp:256,256.", check=check_spec, group="networks")
    activation: Literal[ACTIVATIONS] = field("relu", "Hidden activation of actor and critics.", group="networks")
    save_replay: bool = field(True, "Store the replay buffer in checkpoints (exact resume). --no-save-replay: small "
                                    "checkpoints; a resumed run then refills an empty buffer and is no longer "
                                    "identical to an uninterrupted one.")

    @property
    def gradient_steps(self) -> int:
        """Gradient steps per training call: utd x train_freq x num_envs."""
        return int(round(self.utd * self.train_freq * self.num_envs))

    @property
    def needs(self) -> RunnerNeeds:
        """A [train_freq, num_envs] rollout per training call, stored in a replay buffer of buffer_size rows."""
        per_call = self.train_freq * self.num_envs
        capacity = max(per_call, self.buffer_size - self.buffer_size % per_call)
        replay = ReplayNeeds(capacity, self.batch_size, self.gradient_steps, self.learning_starts, self.save_replay)
        return RunnerNeeds(self.num_envs, self.train_freq, self.gradient_steps, replay, rollout_flag="--train-freq")

    def validate(self) -> None:
        """Raise TandemInputError naming the first field of the wrong type or out of range."""
        validate_fields(self)
        self.validate_prune()
        g = self.utd * self.train_freq * self.num_envs
        if abs(g - round(g)) > 1e-9 or not 1 <= round(g) <= INT32_MAX:
            raise TandemInputError(
                f"--utd {self.utd} x --train-freq {self.train_freq} x --num-envs {self.num_envs} = {g:g} gradient "
                f"steps per training call; allowed: values whose product is a whole number, 1 to {INT32_MAX}.")


def actor_critic_optimizers(cfg, total_updates: int, actor_every: int = 1):
    """(tx_actor, tx_critic): Adam at --actor-lr and --critic-lr, each ending with the pruning schedule of its own
    gradient steps in the run (``total_updates`` training calls of ``cfg.gradient_steps`` steps online, one step
    each from a dataset; the actor steps every ``actor_every``: TD3's policy delay)."""
    steps = total_updates * (1 if cfg.needs.dataset is not None else cfg.gradient_steps)
    return (optimizer("adam", cfg.actor_lr, prune=schedule(cfg, steps // actor_every)),
            optimizer("adam", cfg.critic_lr, prune=schedule(cfg, steps)))


class OffPolicyState(flax.struct.PyTreeNode):
    params: Any  # {"actor", "critic" (stacked ensemble), ...}
    target: Any  # target networks
    opt_state: Any
    grad_steps: jax.Array  # int32, gradient steps taken
    obs_rms: Any = None  # observation statistics (algos/obs_norm.py) where the learner normalises: TD3+BC's


class Networks:
    """Actor and critic ensemble of a replay learner, built from the config's network specs."""

    def __init__(self, cfg: OffPolicyConfig, spec: EnvSpec, actor_out: int):
        if spec.action_kind != "continuous":
            raise TandemInputError(f"--env {spec.id!r} has a discrete action space; DDPG, TD3 and SAC need a "
                                   f"continuous (Box) one. Allowed: e.g. Pendulum-v1, HalfCheetah-v5, gymnax:Pendulum-v1.")
        self.spec = spec
        self.action_dim = spec.action_dim
        self.actor_spec = NetworkSpec.from_text(cfg.actor_net, cfg.activation, actor_out, 0.01, "--actor-net")
        self.critic_spec = NetworkSpec.from_text(cfg.critic_net, cfg.activation, 1, 1.0, "--critic-net")
        self.actor = network(self.actor_spec, obs_struct(spec), "--actor-net")
        self.critic = network(self.critic_spec, obs_struct(spec), "--critic-net")
        self.num_critics = cfg.num_critics

    def init(self, key) -> dict:
        """Parameters of the actor and of the critic ensemble (initialised one after the other with
        ``lax.map``, never vmapped: a vmapped orthogonal initialiser batches its QR decomposition, which
        was seen to deadlock XLA's CPU thread pool)."""
        k_actor, k_critic = jax.random.split(key)
        obs = obs_zeros(self.spec, (1,), jnp)
        action = jnp.zeros((1, self.action_dim), jnp.float32)
        critics = jax.lax.map(lambda k: self.critic.init(k, obs, action), jax.random.split(k_critic, self.num_critics))
        return {"actor": self.actor.init(k_actor, obs), "critic": critics}

    def q(self, critic_params, obs, action):
        """Q-values of every critic: [num_critics, B] from obs [B, *obs_shape] and action [B, action_dim].

        The critics' [E, B, 1] output is squeezed explicitly (after a check), never left to broadcast.
        """
        lead = obs_lead(self.spec, obs)
        if lead != action.shape[:-1] or action.shape[-1:] != (self.action_dim,):
            raise ValueError(f"Networks.q: action shape {action.shape} does not match expected "
                             f"{lead + (self.action_dim,)} (observation batch {lead}, action_dim {self.action_dim}).")
        out = jax.vmap(self.critic.apply, in_axes=(0, None, None))(critic_params, obs, action)
        expected = lead + (1,)
        if out.shape[1:] != expected:
            raise ValueError(f"Networks.q: critic output shape {out.shape} does not match expected (E,) + {expected}.")
        return out[..., 0]

    def spec_dict(self, distribution: str) -> dict:
        """What the checkpoint manifest records of the networks (plain data)."""
        return {"actor": self.actor_spec.to_dict(), "critic": self.critic_spec.to_dict(),
                "num_critics": self.num_critics, "distribution": distribution}


def init_state(params: dict, target: dict, opt_state: dict) -> OffPolicyState:
    """A replay learner's state before its first gradient step."""
    return OffPolicyState(params, target, opt_state, jnp.zeros((), jnp.int32))


def critic_loss(q, target):
    """Squared TD error summed over the ensemble: sum_i mean_b (Q_i(s_b, a_b) - y_b)^2. q: [E, B], target: [B]."""
    check_rank("critic_loss", 1, "[B]", target=target)
    if q.ndim != 2 or q.shape[1:] != target.shape:
        raise ValueError(f"critic_loss: q shape {q.shape} does not match expected (E,) + {target.shape} "
                         f"([num_critics, B], B from target shape {target.shape}); squeeze a critic's [E, B, 1] first.")
    return jnp.sum(jnp.mean((q - target[None]) ** 2, axis=-1))


def check_batch(batch) -> None:
    """A replay learner's batch is [B] transitions (a rollout's [T, N] must be flattened first)."""
    check_rank("offpolicy learn", 1, "[B] (a batch of transitions)", reward=batch.reward)
