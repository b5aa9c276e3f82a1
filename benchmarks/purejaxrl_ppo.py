"""Child process of bench_jax_reference.py: a minimal PureJaxRL-style PPO on gymnax CartPole-v1, the reference
tandem's JAX runner is measured against.

    python benchmarks/purejaxrl_ppo.py --num-seeds 1 --total-steps 1000000

Written for this benchmark in the style of PureJaxRL's ``ppo.py`` (Lu et al. 2022): the whole training run is
one jitted function (a ``lax.scan`` over updates, each a ``lax.scan`` over rollout steps, then epochs and
minibatches), ``vmap``-ed over seeds, after an initialisation program (``lax.map`` over seeds). The settings are the ones bench_ppo.py passes tandem for "PureJaxRL
settings": 4 envs x 128 steps, 4 epochs of 4 minibatches, Adam lr 2.5e-4 annealed linearly to 0 (eps 1e-5),
global-norm clip 0.5, gamma 0.99, GAE lambda 0.95, clip 0.2, value coefficient 0.5, no entropy bonus, separate
64x64 tanh actor and critic, orthogonal initialisation (sqrt 2, 0.01 for the policy head, 1 for the value).
There is no episode bookkeeping beyond a running mean of finished returns, no non-finite checks, no
checkpoints. Prints one JSON line: compile_seconds (both programs' lower + compile, and the initialisation's
run), run_seconds (the compiled call, blocked
until done), the mean return of the episodes finished in the last update (mean over seeds).
"""

from __future__ import annotations

import time

_T0 = time.time()

import argparse  # noqa: E402
import json  # noqa: E402


def make_train(total_steps: int, num_envs: int = 4, num_steps: int = 128, epochs: int = 4, minibatches: int = 4,
               lr: float = 2.5e-4, gamma: float = 0.99, lam: float = 0.95, clip: float = 0.2, vf_coef: float = 0.5,
               ent_coef: float = 0.0, max_grad_norm: float = 0.5):
    import flax.linen as nn
    import gymnax
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    env, params = gymnax.make("CartPole-v1")
    num_updates = total_steps // (num_envs * num_steps)
    mb_size = num_envs * num_steps // minibatches
    n_actions = env.action_space(params).n

    def dense(n, gain):
        return nn.Dense(n, kernel_init=nn.initializers.orthogonal(gain), bias_init=nn.initializers.zeros)

    class Actor(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.tanh(dense(64, np.sqrt(2))(x))
            x = nn.tanh(dense(64, np.sqrt(2))(x))
            return dense(n_actions, 0.01)(x)

    class Critic(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.tanh(dense(64, np.sqrt(2))(x))
            x = nn.tanh(dense(64, np.sqrt(2))(x))
            return dense(1, 1.0)(x)[..., 0]

    actor, critic = Actor(), Critic()
    schedule = optax.linear_schedule(lr, 0.0, num_updates * epochs * minibatches)
    tx = optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(schedule, eps=1e-5))

    def init(key):
        key, ka, kc, ke = jax.random.split(key, 4)
        dummy = jnp.zeros(env.observation_space(params).shape)
        net = {"actor": actor.init(ka, dummy), "critic": critic.init(kc, dummy)}
        opt = tx.init(net)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(ke, num_envs), params)
        return net, opt, state, obs, key

    def train(start):
        net, opt, state, obs, key = start

        def update(carry, _):
            net, opt, state, obs, ep_ret, key = carry

            def step(c, _):
                state, obs, ep_ret, key = c
                key, ks, kst = jax.random.split(key, 3)
                logits = actor.apply(net["actor"], obs)
                action = jax.random.categorical(ks, logits)
                logp = jax.nn.log_softmax(logits)[jnp.arange(num_envs), action]
                value = critic.apply(net["critic"], obs)
                obs2, state, reward, term, trunc, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                    jax.random.split(kst, num_envs), state, action, params)
                done = term | trunc  # PureJaxRL's GAE treats both as the episode's end
                ep_ret = ep_ret + reward
                fin = (jnp.where(done, ep_ret, 0.0).sum(), done.sum())
                ep_ret = jnp.where(done, 0.0, ep_ret)
                return (state, obs2, ep_ret, key), (obs, action, logp, value, reward, done, fin)

            (state, obs, ep_ret, key), (b_obs, b_act, b_logp, b_val, b_rew, b_done, fin) = jax.lax.scan(
                step, (state, obs, ep_ret, key), None, num_steps)
            last_val = critic.apply(net["critic"], obs)

            def gae(c, x):
                adv, next_val = c
                rew, val, done = x
                delta = rew + gamma * next_val * (1 - done) - val
                adv = delta + gamma * lam * (1 - done) * adv
                return (adv, val), adv

            _, b_adv = jax.lax.scan(gae, (jnp.zeros(num_envs), last_val), (b_rew, b_val, b_done), reverse=True)
            b_ret = b_adv + b_val

            def loss_fn(net, mb):
                o, a, old_logp, adv, ret = mb
                logits = actor.apply(net["actor"], o)
                logp = jax.nn.log_softmax(logits)[jnp.arange(o.shape[0]), a]
                ratio = jnp.exp(logp - old_logp)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip, 1 + clip) * adv).mean()
                v = critic.apply(net["critic"], o)
                ent = -(jax.nn.softmax(logits) * jax.nn.log_softmax(logits)).sum(-1).mean()
                return pg + vf_coef * 0.5 * ((v - ret) ** 2).mean() - ent_coef * ent

            flat = jax.tree_util.tree_map(lambda x: x.reshape((num_envs * num_steps,) + x.shape[2:]),
                                          (b_obs, b_act, b_logp, b_adv, b_ret))

            def epoch(c, k):
                def minibatch(c, mb):
                    net, opt = c
                    grads = jax.grad(loss_fn)(net, mb)
                    upd, opt = tx.update(grads, opt, net)
                    return (optax.apply_updates(net, upd), opt), None

                perm = jax.random.permutation(k, num_envs * num_steps)
                mbs = jax.tree_util.tree_map(lambda x: x[perm].reshape((minibatches, mb_size) + x.shape[1:]), flat)
                return jax.lax.scan(minibatch, c, mbs)[0], None

            key, k = jax.random.split(key)
            (net, opt), _ = jax.lax.scan(epoch, (net, opt), jax.random.split(k, epochs))
            fin_sum, fin_n = fin[0].sum(), fin[1].sum()
            return (net, opt, state, obs, ep_ret, key), fin_sum / jnp.maximum(fin_n, 1)

        carry = (net, opt, state, obs, jnp.zeros(num_envs), key)
        carry, returns = jax.lax.scan(update, carry, None, num_updates)
        return carry[0], returns

    return init, train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num-seeds", type=int, default=1)
    p.add_argument("--total-steps", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    import jax
    import numpy as np

    init, train = make_train(a.total_steps)
    keys = jax.random.split(jax.random.PRNGKey(a.seed), a.num_seeds)
    t0 = time.time()
    # The initialisation runs per seed in a lax.map, the training vmapped over seeds: a vmapped orthogonal
    # initialiser batches its QR decomposition, which deadlocked XLA's CPU thread pool here (1 run in 2 with
    # 8 seeds; tandem initialises seeds the same way, runners/common.init_seeds).
    start = jax.jit(lambda ks: jax.lax.map(init, ks)).lower(keys).compile()(keys)
    fn = jax.jit(jax.vmap(train)) if a.num_seeds > 1 else jax.jit(lambda s: train(jax.tree_util.tree_map(
        lambda x: x[0], s)))
    compiled = fn.lower(start).compile()
    compile_seconds = time.time() - t0
    t1 = time.time()
    _, returns = jax.block_until_ready(compiled(start))
    run_seconds = time.time() - t1
    last = np.asarray(returns)[..., -1]
    print(json.dumps({"compile_seconds": compile_seconds, "run_seconds": run_seconds,
                      "final_train_return": float(np.mean(last)), "num_seeds": a.num_seeds,
                      "sps": a.total_steps * a.num_seeds / run_seconds, "seconds_before_compile": t0 - _T0}))


if __name__ == "__main__":
    main()
