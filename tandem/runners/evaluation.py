"""The evaluation kernel of both runners: deterministic episodes, one step cap, one seeding scheme.

Each of E evaluation environments per seed plays its first episode to the end (or to the step cap) with
the deterministic policy; the return of episode e of seed k is entry [k, e]. Episode e of seed k is
seeded with :func:`eval_seed` (an integer reset seed on the host, ``PRNGKey`` of it in JAX), disjoint
from every training env's seeds. The compiled form (JAX envs) and the stepped form (host envs) share
the per-step accumulation :func:`accumulate` and the cap :func:`step_cap`.
"""

from __future__ import annotations

import numpy as np

ENV_SEED_STRIDE = 10_007
"""Training env i of seed s starts from seed s * ENV_SEED_STRIDE + i (both runners)."""
EVAL_SEED_OFFSET = 500_000
"""Evaluation episode e of seed s is seeded s * ENV_SEED_STRIDE + EVAL_SEED_OFFSET + e."""
EVAL_STEP_CAP = 10_000
"""Steps an evaluation episode may take when the environment declares no time limit."""


def eval_seed(seed: int, k: int, e: int) -> int:
    """The reset seed of evaluation episode ``e`` of seed ``seed + k``."""
    return (seed + k) * ENV_SEED_STRIDE + EVAL_SEED_OFFSET + e


def step_cap(spec) -> int:
    """The most steps an evaluation episode takes: the env's time limit, else EVAL_STEP_CAP."""
    return int(spec.max_episode_steps or EVAL_STEP_CAP)


def accumulate(ret, alive, reward, terminated, truncated, xp=np):
    """One step of the kernel: add the reward of the episodes still running, then retire the finished ones."""
    ret = ret + xp.where(alive, reward, 0.0)
    return ret, alive & ~(terminated | truncated)


def jax_evaluator(policy, init_carry, env, spec, episodes: int):
    """The compiled kernel for a functional JAX env: ``fn(agent [K, ...], seed_keys [K, E]) -> returns [K, E]``.

    A ``while_loop`` stops once every episode has ended (or at the step cap)."""
    import jax
    import jax.numpy as jnp

    from tandem.algos.learner import reset_done

    cap = step_cap(spec)

    def one_seed(agent, keys):
        def split(k):
            return jax.random.split(k)

        k_reset, k_steps = jax.vmap(split, out_axes=1)(keys)
        env_state, obs = jax.vmap(env.reset)(k_reset)
        carry0 = init_carry(episodes)

        def cond(c):
            t, _, _, _, _, alive = c
            return (t < cap) & alive.any()

        def body(c):
            t, env_state, obs, carry, ret, alive = c
            action, carry = policy(agent, obs, carry)
            k = jax.vmap(lambda x: jax.random.fold_in(x, t))(k_steps)
            env_state, ts = jax.vmap(env.step)(k, env_state, action)
            ret, alive = accumulate(ret, alive, ts.reward, ts.terminated, ts.truncated, jnp)
            carry = reset_done(carry, carry0, ts.terminated | ts.truncated)
            return t + 1, env_state, ts.obs, carry, ret, alive

        init = (jnp.int32(0), env_state, obs, carry0, jnp.zeros((episodes,)), jnp.ones((episodes,), bool))
        return jax.lax.while_loop(cond, body, init)[4]

    return jax.jit(jax.vmap(one_seed))


def jax_eval_keys(seed: int, num_seeds: int, episodes: int, seeds=None):
    """[K, E] PRNG keys of the evaluation episodes (:func:`eval_seed`); ``seeds``: each position's seed instead of
    seed, seed+1, ... (the members of an architecture search)."""
    import jax
    import jax.numpy as jnp

    per = [seed + k for k in range(num_seeds)] if seeds is None else [int(s) for s in seeds]
    seeds = np.array([[eval_seed(s, 0, e) % 2**32 for e in range(episodes)] for s in per], np.uint32)
    return jax.vmap(jax.vmap(jax.random.PRNGKey))(jnp.asarray(seeds))


def host_evaluate(policy_fn, agent, init_carry, reset_carry, make_envs, spec, num_seeds: int, episodes: int,
                  seed: int) -> np.ndarray:
    """The stepped kernel for host envs: ``policy_fn(agent, obs [K, E, ...], carry) -> (action, carry)`` jitted,
    ``make_envs(n, asynchronous)`` the env factory. Returns [K, E]."""
    from tandem.envs.spec import obs_reshape

    K, E = num_seeds, episodes
    envs = make_envs(K * E, False)
    try:
        obs = envs.reset([eval_seed(seed, k, e) for k in range(K) for e in range(E)])
        ret, alive = np.zeros(K * E), np.ones(K * E, bool)
        carry = init_carry
        for _ in range(step_cap(spec)):
            action, carry = policy_fn(agent, obs_reshape(spec, obs, (K, E)), carry)
            action = np.asarray(action)
            ts = envs.step(action.reshape((K * E,) + action.shape[2:]))
            ret, alive = accumulate(ret, alive, ts.reward, ts.terminated, ts.truncated)
            done = ts.terminated | ts.truncated
            if reset_carry is not None and done.any():
                carry = reset_carry(carry, done.reshape(K, E))
            obs = ts.obs
            if not alive.any():
                break
        return ret.reshape(K, E)
    finally:
        envs.close()
