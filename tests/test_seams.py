"""Each seam takes an addition alone: a network block, an algorithm and an environment backend, each defined
and registered in this file, train through tandem's runners without any tandem file being touched."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

import tandem
from tandem.algos import Algo, register_algo
from tandem.algos.learner import Learner, no_carry, optimizer
from tandem.algos.needs import RunnerNeeds
from tandem.cli import main
from tandem.envs.check import check_jax
from tandem.envs.registry import Backend, register_backend
from tandem.envs.spec import EnvSpec, TimeStep
from tandem.fields import field, validate_fields
from tandem.nets import distributions as D
from tandem.nets.spec import BlockDef, NetworkSpec, check_spec, network, parse, register_block
from tandem.ops.finite import grad_fault

# --- A network block: a residual MLP layer, "res:W" ------------------------------------------------------


class Residual(nn.Module):
    width: int
    activation: str

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(self.width)(x)
        return x + getattr(nn, self.activation)(nn.Dense(self.width)(x))


def _parse_width(args: list[str]) -> tuple[int]:
    if len(args) != 1 or not args[0].isdigit() or int(args[0]) < 1:
        raise ValueError(f"res takes one positive width, got {args}")
    return (int(args[0]),)


register_block("res", BlockDef(_parse_width, lambda args, act: Residual(args[0], act), "res:W (a residual layer)"))


def test_a_registered_block_builds_and_trains(train):
    r = train("ppo", "gymnax:CartPole-v1", actor_net="mlp:8>res:16", critic_net="res:8", total_steps=512,
              num_envs=4, num_steps=64, num_minibatches=2, update_epochs=1, eval_episodes=1, tensorboard=False)
    assert r.summary["env_steps"] == 512
    # mlp:8 (4*8+8) + res:16 (8*16+16 + 16*16+16) + head (16*2+2); the critic: res:8 + head
    assert r.summary["num_params_actor"] == 40 + 144 + 272 + 34
    assert r.summary["num_params_critic"] == (4 * 8 + 8) + (8 * 8 + 8) + 9
    manifest_spec = json.loads((r.run_dir / "config.json").read_text())["algo_config"]["actor_net"]
    assert manifest_spec == "mlp:8>res:16"
    assert tandem.load_policy(r.run_dir)(np.zeros(4, np.float32)).shape == ()


def test_a_malformed_use_of_a_registered_block_names_it(capsys, tmp_path):
    assert main(["train", "ppo", "--actor-net", "res:8,8", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "res takes one positive width" in err and "res:W (a residual layer)" in err and "mlp:W1,W2" in err
    assert not (tmp_path / "r").exists()


# --- An algorithm: REINFORCE with a learned baseline, "reinforce" ------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReinforceConfig:
    num_envs: int = field(8, "Parallel environments per seed.", lo=1)
    num_steps: int = field(64, "Rollout length per environment.", lo=1)
    lr: float = field(1e-2, "Adam learning rate.", lo=0, lo_open=True)
    gamma: float = field(0.99, "Discount factor.", lo=0, hi=1, hi_open=True)
    actor_net: str = field("mlp:32", "Actor network spec.", check=check_spec, group="networks")
    critic_net: str = field("mlp:32", "Baseline network spec.", check=check_spec, group="networks")
    activation: str = field("tanh", "Hidden activation.", group="networks")

    @property
    def needs(self) -> RunnerNeeds:
        return RunnerNeeds(self.num_envs, self.num_steps)

    def validate(self) -> None:
        validate_fields(self)


class ReinforceState(flax.struct.PyTreeNode):
    params: Any
    opt_state: Any


def make_reinforce(cfg: ReinforceConfig, spec: EnvSpec, total_updates: int) -> Learner:
    actor_spec = NetworkSpec(parse(cfg.actor_net), cfg.activation, spec.num_actions, 0.01)
    critic_spec = NetworkSpec(parse(cfg.critic_net), cfg.activation, 1, 1.0)
    actor, critic = network(actor_spec, spec.obs_shape), network(critic_spec, spec.obs_shape)
    tx = optimizer("adam", cfg.lr)

    def init(key):
        k1, k2 = jax.random.split(key)
        x = jnp.zeros((1,) + spec.obs_shape)
        params = {"actor": actor.init(k1, x), "critic": critic.init(k2, x)}
        return ReinforceState(params, tx.init(params))

    def act(state, obs, key, carry):
        return D.categorical_sample(key, actor.apply(state.params["actor"], obs)), {}, carry

    def policy(state, obs, carry):
        return jnp.argmax(actor.apply(state.params["actor"], obs), axis=-1), carry

    def learn(state, batch, key):
        def ret_step(g, xs):  # reward-to-go within the rollout, cut at episode ends
            r, done = xs
            g = r + cfg.gamma * jnp.where(done, 0.0, g)
            return g, g

        done = batch.terminated | batch.truncated
        _, returns = jax.lax.scan(ret_step, jnp.zeros(batch.reward.shape[1]), (batch.reward, done), reverse=True)

        def loss_fn(params):
            value = critic.apply(params["critic"], batch.obs)[..., 0]
            logp = D.categorical_log_prob(actor.apply(params["actor"], batch.obs), batch.action)
            adv = jax.lax.stop_gradient(returns - value)
            return -jnp.mean(logp * adv) + 0.5 * jnp.mean((returns - value) ** 2)

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        upd, opt_state = tx.update(grads, state.opt_state, state.params)
        return ReinforceState(optax.apply_updates(state.params, upd), opt_state), \
            {"losses/total": loss, "fault": grad_fault(loss, grads)}

    return Learner(init, act, policy, learn, no_carry, {"actor": actor_spec.to_dict(), "critic": critic_spec.to_dict()})


register_algo(Algo("reinforce", ReinforceConfig, {}, {"default": ({}, 20_000)}, make_reinforce, "gymnax:CartPole-v1"))


def test_a_registered_algorithm_trains_resumes_and_is_evaluated(train, tmp_path):
    """Through the CLI, the JAX runner, checkpoints and load_policy: an algorithm none of them knows."""
    run_dir = tmp_path / "cli"
    assert main(["train", "reinforce", "--total-steps", "4096", "--num-seeds", "2", "--eval-episodes", "2",
                 "--run-dir", str(run_dir), "--quiet", "--no-tensorboard"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["algo"] == "reinforce" and summary["runner"] == "jax" and summary["updates"] == 8
    assert "losses/total" in (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert tandem.load_policy(run_dir, seed_index=1)(np.zeros((3, 4), np.float32)).shape == (3,)
    r = train("reinforce", "CartPole-v1", name="host", total_steps=1024, eval_episodes=1, tensorboard=False)
    assert r.summary["runner"] == "host" and r.summary["env_steps"] == 1024


# --- An environment backend: "toy:Chain-v0", a JAX chain walk ------------------------------------------

LENGTH, LIMIT = 4, 12


def toy_spec(env_id: str) -> EnvSpec:
    if env_id != "toy:Chain-v0":
        from tandem.errors import TandemInputError

        raise TandemInputError(f"--env {env_id!r}: the toy backend has only toy:Chain-v0.")
    return EnvSpec(env_id, "toy", (1,), "discrete", num_actions=2, max_episode_steps=LIMIT)


class Chain:
    """Start at 0; action 1 steps right, 0 left (not below 0); reaching LENGTH pays 1 and terminates."""

    def __init__(self, env_id: str):
        self.spec = toy_spec(env_id)

    def reset(self, key):
        state = {"pos": jnp.int32(0), "t": jnp.int32(0)}
        return state, jnp.zeros((1,), jnp.float32)

    def step(self, key, state, action):
        pos = jnp.maximum(state["pos"] + 2 * action.astype(jnp.int32) - 1, 0)
        t = state["t"] + 1
        terminated = pos >= LENGTH
        truncated = (t >= LIMIT) & ~terminated
        final_obs = (pos / LENGTH).astype(jnp.float32)[None]
        done = terminated | truncated
        new = {"pos": jnp.where(done, 0, pos), "t": jnp.where(done, 0, t)}
        obs = jnp.where(done, jnp.zeros((1,)), final_obs)
        return new, TimeStep(obs, terminated.astype(jnp.float32), terminated, truncated, final_obs)

    def obs_bounds(self):
        return np.zeros(1), np.ones(1)


register_backend(Backend("toy", "toy", "jax", toy_spec, Chain, check_jax))


def test_a_registered_env_backend_is_checked_and_learned(capsys, train):
    assert main(["check-env", "toy:Chain-v0"]) == 0
    assert "toy:Chain-v0: OK" in capsys.readouterr().out
    r = train("ppo", "toy:Chain-v0", total_steps=8192, num_envs=8, num_steps=32, num_minibatches=2, update_epochs=4,
              lr=3e-3, gamma=0.9, eval_episodes=2, tensorboard=False)
    assert r.summary["runner"] == "jax"
    # Walking right reaches the end in LENGTH steps; any other deterministic policy never does (return 0).
    assert r.summary["final_eval_return"] == 1.0, r.summary


def test_an_unknown_name_of_a_registered_backend_exits_2(capsys, tmp_path):
    assert main(["train", "ppo", "--env", "toy:Nope", "--run-dir", str(tmp_path / "r")]) == 2
    assert "only toy:Chain-v0" in capsys.readouterr().err
