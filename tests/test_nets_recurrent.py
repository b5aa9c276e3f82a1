"""Recurrent blocks (nets/recurrent.py) and recurrent PPO/A2C/IMPALA (algos/onpolicy.py): each cell against a
numpy loop of its equations, the carry reset at episode starts, the parameter counts by hand, and the learners'
sequence computations against an explicitly unrolled, step-by-step computation."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tandem.nets.spec import NetworkSpec, initial_carry, network, num_params


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm(p, xs, resets, h, c):
    """The LSTM equations step by step (gates i, f, g, o), zeroing the state where reset."""
    W, U, b = (np.asarray(p[k], np.float64) for k in ("W", "U", "b"))
    H = U.shape[0]
    out = []
    for x, r in zip(xs, resets):
        h, c = np.where(r[:, None], 0, h), np.where(r[:, None], 0, c)
        z = x @ W + h @ U + b
        i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out), (h, c)


def numpy_gru(p, xs, resets, h):
    """The GRU equations (PyTorch's form: the reset gate scales the recurrent part of the candidate, its bias too)."""
    W, U, b, b_hn = (np.asarray(p[k], np.float64) for k in ("W", "U", "b", "b_hn"))
    H = U.shape[0]
    out = []
    for x, r in zip(xs, resets):
        h = np.where(r[:, None], 0, h)
        wx, uh = x @ W + b, h @ U
        rg = sigmoid(wx[:, :H] + uh[:, :H])
        u = sigmoid(wx[:, H:2 * H] + uh[:, H:2 * H])
        n = np.tanh(wx[:, 2 * H:] + rg * (uh[:, 2 * H:] + b_hn))
        h = (1 - u) * n + u * h
        out.append(h)
    return np.stack(out), (h,)


def _net(text, F=3, out=2):
    spec = NetworkSpec.from_text(text, "tanh", out, 1.0)
    net = network(spec, (F,), recurrent_ok=True)
    T, B = 6, 4
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((T, B, F)), carry=initial_carry(spec, (B,)),
                      reset=jnp.zeros((T, B), bool))
    # Random biases too (init sets them to zero), so the test sees every term.
    params = jax.tree_util.tree_map(lambda x: x + 0.3 * jax.random.normal(jax.random.PRNGKey(x.size), x.shape), params)
    return spec, net, params


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cell_equals_a_numpy_loop_of_its_equations_with_resets(kind):
    spec, net, params = _net(f"{kind}:5", out=2)
    T, B, F = 6, 4, 3
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(T, B, F)).astype(np.float32)
    resets = rng.random((T, B)) < 0.3
    carry = tuple(jnp.asarray(rng.normal(size=(B, 5)), jnp.float32) for _ in initial_carry(spec, (B,))[0])
    out, final, every = net.apply(params, jnp.asarray(xs), carry=(carry,), reset=jnp.asarray(resets))
    p = params["params"]["Recurrent_0"]
    ref = numpy_lstm if kind == "lstm" else numpy_gru
    hs, ref_final = ref(p, xs.astype(np.float64), resets, *[np.asarray(c, np.float64) for c in carry])
    head = params["params"]["head"]
    np.testing.assert_allclose(np.asarray(out), hs @ np.asarray(head["kernel"]) + np.asarray(head["bias"]),
                               rtol=1e-5, atol=1e-5)
    for a, b in zip(final[0], ref_final):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(every[0][0][-1]), np.asarray(final[0][0]))  # h after the last step
    np.testing.assert_allclose(np.asarray(every[0][0]), hs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_state_after_a_done_is_the_initial_state(kind):
    """Where reset is set, the step sees the zero carry: from there on the outputs are those of a fresh sequence
    started at that step, whatever came before."""
    spec, net, params = _net(f"mlp:8>{kind}:6")
    T, B, F = 6, 4, 3
    xs = jax.random.normal(jax.random.PRNGKey(1), (T, B, F))
    reset = jnp.zeros((T, B), bool).at[3].set(True)
    zero = initial_carry(spec, (B,))
    warm = jax.tree_util.tree_map(lambda c: c + 1.0, zero)
    out, _, _ = net.apply(params, xs, carry=warm, reset=reset)
    fresh, _, _ = net.apply(params, xs[3:], carry=zero, reset=jnp.zeros((T - 3, B), bool))
    np.testing.assert_allclose(np.asarray(out[3:]), np.asarray(fresh), rtol=1e-6, atol=1e-6)
    assert not np.allclose(np.asarray(out[:3]),
                           np.asarray(net.apply(params, xs[:3], carry=zero, reset=reset[:3])[0]))  # the carry mattered


def test_lstm_forget_gate_starts_open():
    spec = NetworkSpec.from_text("lstm:4", "tanh", 1, 1.0)
    params = network(spec, (3,), recurrent_ok=True).init(jax.random.PRNGKey(0), jnp.zeros((1, 1, 3)),
                                                         carry=initial_carry(spec, (1,)), reset=jnp.zeros((1, 1), bool))
    np.testing.assert_array_equal(np.asarray(params["params"]["Recurrent_0"]["b"]), [0] * 4 + [1] * 4 + [0] * 8)


def test_parameter_counts_by_hand():
    # lstm:8 on 3 inputs: W [3, 32], U [8, 32], b [32]; head 8 * 2 + 2.
    assert num_params(_net("lstm:8")[2]) == 3 * 32 + 8 * 32 + 32 + 8 * 2 + 2
    # gru:8: W [3, 24], U [8, 24], b [24], b_hn [8]; head.
    assert num_params(_net("gru:8")[2]) == 3 * 24 + 8 * 24 + 24 + 8 + 8 * 2 + 2
    # mlp:16>lstm:8>mlp:4: 3*16+16, lstm on 16 inputs, 8*4+4, head 4*2+2.
    assert num_params(_net("mlp:16>lstm:8>mlp:4")[2]) == 64 + (16 * 32 + 8 * 32 + 32) + 36 + 10
    # Two recurrent blocks: a carry each, in order.
    spec = NetworkSpec.from_text("lstm:8>gru:4", "tanh", 1, 1.0)
    carry = initial_carry(spec, (5,))
    assert [[c.shape for c in block] for block in carry] == [[(5, 8), (5, 8)], [(5, 4)]]


def test_spec_round_trip_and_bad_arguments_name_the_token():
    from tandem.errors import TandemInputError
    from tandem.nets.spec import parse

    for text in ("lstm:64", "nature_cnn>lstm:256", "mlp:64>gru:32>mlp:16"):
        printed = NetworkSpec.from_text(text, "tanh", 1, 1.0).to_string()
        assert parse(printed) == parse(text) and printed.endswith(text.rpartition(">")[2])
    for text, needle in (("lstm", "expected one width"), ("lstm:0", "'0' is not a positive integer"),
                         ("gru:8,8", "expected one width"), ("lstm:x", "'x'")):
        with pytest.raises(TandemInputError, match=needle) as e:
            parse(text)
        assert "lstm:H" in str(e.value)  # what is allowed


# ---------------------------------------------------------------------------------------------
# The on-policy learners: acting step by step, learning from the whole sequence.

T, N = 7, 4


def _setup(algo="ppo", actor="mlp:16>lstm:8", critic="gru:8", **kw):
    from tandem.algos import preset
    from tandem.algos.onpolicy import actor_critic
    from tandem.envs import env_spec

    spec = env_spec("tandem:MaskedCartPole-v1")
    base = preset(algo, "CartPole-v1")[0]   # no normalisation: the unrolled references below see raw inputs
    cfg = dataclasses.replace(base, num_envs=N, num_steps=T, actor_net=actor, critic_net=critic, **kw)
    return cfg, spec, actor_critic(cfg, spec, 10)


def _rollout(ac, state, seed=0):
    """T steps of act on random observations, episodes ending at chosen steps (the carry reset as the runners
    do), as a Transition [T, N] with the stacked extras."""
    from tandem.algos.learner import reset_done
    from tandem.buffers.transition import Transition

    rng = np.random.default_rng(seed)
    obs = jnp.asarray(rng.normal(size=(T, N, 2)), jnp.float32)
    final_obs = jnp.asarray(rng.normal(size=(T, N, 2)), jnp.float32)
    terminated = np.zeros((T, N), bool)
    truncated = np.zeros((T, N), bool)
    terminated[2, 0] = terminated[4, 1] = True
    truncated[3, 2] = truncated[T - 1, 3] = True
    carry, carry0 = ac.init_carry(N), ac.init_carry(N)
    actions, extras = [], []
    for t in range(T):
        a, ex, carry = ac.act(state, obs[t], jax.random.PRNGKey(10 + t), carry)
        actions.append(a)
        extras.append(ex)
        carry = reset_done(carry, carry0, jnp.asarray(terminated[t] | truncated[t]))
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *extras)
    batch = Transition(obs, jnp.stack(actions), jnp.asarray(rng.normal(size=(T, N)), jnp.float32),
                       jnp.asarray(terminated), jnp.asarray(truncated), final_obs, stacked)
    return batch


def _unrolled(params, batch, cfg):
    """Log-probabilities, values and next values by a Python loop over the steps, each one network call on a
    sequence of one, the carry zeroed by hand after each episode end."""
    from tandem.nets import distributions as D

    actor = network(NetworkSpec.from_text(cfg.actor_net, cfg.activation, 2, 0.01), (2,), recurrent_ok=True)
    critic = network(NetworkSpec.from_text(cfg.critic_net, cfg.activation, 1, 1.0), (2,), recurrent_ok=True)
    n = batch.reward.shape[1]
    ca = initial_carry(NetworkSpec.from_text(cfg.actor_net, "tanh", 2, 0.01), (n,))
    cc = initial_carry(NetworkSpec.from_text(cfg.critic_net, "tanh", 1, 1.0), (n,))
    no = jnp.zeros((1, n), bool)
    lps, vs, nvs = [], [], []
    for t in range(T):
        logits, ca, _ = actor.apply(params["actor"]["net"], batch.obs[t][None], carry=ca, reset=no)
        lps.append(D.categorical_log_prob(logits[0], batch.action[t]))
        v, cc, _ = critic.apply(params["critic"], batch.obs[t][None], carry=cc, reset=no)
        nv, _, _ = critic.apply(params["critic"], batch.final_obs[t][None], carry=cc, reset=no)
        vs.append(v[0, :, 0])
        nvs.append(nv[0, :, 0])
        done = (batch.terminated[t] | batch.truncated[t])[:, None]
        ca = jax.tree_util.tree_map(lambda c: jnp.where(done, 0.0, c), ca)
        cc = jax.tree_util.tree_map(lambda c: jnp.where(done, 0.0, c), cc)
    return jnp.stack(lps), jnp.stack(vs), jnp.stack(nvs)


def test_sequence_replay_equals_acting_and_an_explicit_unroll():
    """The loss's sequence (from the carry stored at the segment's start, reset at the episode starts) scores
    each action as act did, gives the values and next values of an explicit step-by-step unroll, and so does its
    gradient (backpropagation through the whole segment)."""
    from tandem.algos.onpolicy import sequence

    cfg, spec, ac = _setup()
    state = ac.init(jax.random.PRNGKey(0))
    batch = _rollout(ac, state)
    assert set(batch.extras["carry"]) == {"actor", "critic"}
    seq = sequence(batch)
    np.testing.assert_array_equal(np.asarray(seq[1][3, 0]), True)  # env 0 ended at step 2
    np.testing.assert_array_equal(np.asarray(seq[1][0]), False)

    def seq_terms(params):
        dp = ac.dist_params(params, batch.obs, seq)
        lp, _ = ac.log_prob_entropy(dp, batch.action)
        v, nv = ac.values(params, batch.obs, batch.final_obs, seq)
        return lp, v, nv

    lp, v, nv = seq_terms(state.params)
    np.testing.assert_allclose(np.asarray(lp), np.asarray(batch.extras["log_prob"]), rtol=1e-5, atol=1e-6)
    ulp, uv, unv = _unrolled(state.params, batch, cfg)
    for a, b in ((lp, ulp), (v, uv), (nv, unv)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)

    weights = jax.random.normal(jax.random.PRNGKey(3), (3, T, N))

    def scalar(fn):
        return lambda p: sum((w * x).sum() for w, x in zip(weights, fn(p)))

    g_seq = jax.grad(scalar(seq_terms))(state.params)
    g_unrolled = jax.grad(scalar(lambda p: _unrolled(p, batch, cfg)))(state.params)
    for a, b in zip(jax.tree_util.tree_leaves(g_seq), jax.tree_util.tree_leaves(g_unrolled)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def _unrolled_ppo_loss(cfg, batch, adv, target, v0):
    """PPO's loss on a (sub)batch [T, n] from the explicit unroll, with advantages and targets given."""
    from tandem.algos.ppo.losses import clipped_surrogate_loss, normalize_advantage, value_loss
    from tandem.nets import distributions as D

    n = batch.reward.shape[1]
    actor_spec = NetworkSpec.from_text(cfg.actor_net, cfg.activation, 2, 0.01)
    actor = network(actor_spec, (2,), recurrent_ok=True)

    def loss(p):
        lp, v, _ = _unrolled(p, batch, cfg)
        starts = jnp.concatenate([jnp.zeros((1, n), bool), (batch.terminated | batch.truncated)[:-1]])
        logits = actor.apply(p["actor"]["net"], batch.obs, carry=initial_carry(actor_spec, (n,)), reset=starts)[0]
        ent = D.categorical_entropy(logits).mean()
        pg, _, _ = clipped_surrogate_loss(lp, batch.extras["log_prob"], normalize_advantage(adv), cfg.clip_coef)
        return pg + cfg.vf_coef * value_loss(v, v0, target, cfg.clip_coef, cfg.clip_vloss) - cfg.ent_coef * ent

    return loss


def _gae(cfg, batch, v0, nv0):
    from tandem.ops import gae_advantages

    gae = jax.vmap(gae_advantages, in_axes=(1, 1, 1, 1, 1, None, None), out_axes=1)
    return gae(batch.reward, v0, nv0, batch.terminated, batch.truncated, cfg.gamma, cfg.gae_lambda)


def _envs(batch, envs):
    return jax.tree_util.tree_map(lambda x: x[:, envs], batch)


def test_recurrent_ppo_learn_equals_optimizer_steps_on_the_unrolled_loss(minibatches=2):
    """One epoch: learn's new parameters are optimizer steps on the PPO loss computed from the explicit unroll
    (advantages by GAE over its values, before the first step). With 2 minibatches each step sees two envs'
    whole sequences, in the order learn's permutation (over the envs, from its first epoch key) drew them (one
    minibatch of all the envs is the same computation with one step, not run separately)."""
    from tandem.algos.ppo.learner import make_learner

    cfg, spec, ac = _setup(update_epochs=1, num_minibatches=minibatches, anneal_lr=False, ent_coef=0.01)
    learner = make_learner(cfg, spec, 10)
    state = learner.init(jax.random.PRNGKey(0))
    batch = _rollout(ac, state, seed=1)
    key = jax.random.PRNGKey(5)
    new, metrics = learner.learn(state, batch, key)
    assert int(metrics["fault"]) == 0

    _, v0, nv0 = _unrolled(state.params, batch, cfg)
    adv, target = _gae(cfg, batch, v0, nv0)
    perm = np.asarray(jax.random.permutation(jax.random.split(key, 1)[0], N)).reshape(minibatches, -1)
    params, opt_state = state.params, state.opt_state
    for envs in perm:
        sub = lambda x: x[:, envs]  # noqa: E731
        grads = jax.grad(_unrolled_ppo_loss(cfg, _envs(batch, envs), sub(adv), sub(target), sub(v0)))(params)
        upd, opt_state = ac.tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, upd)
    for a, b in zip(jax.tree_util.tree_leaves(new.params), jax.tree_util.tree_leaves(params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-7)


def test_policy_carries_its_state_and_load_policy_steps_it(tmp_path):
    """The deterministic policy advances the actor's carry (an observation sequence is scored as the loss's
    sequence scores it); a trained run's load_policy does the same through step(obs, carry)."""
    import tandem

    cfg, spec, ac = _setup()
    state = ac.init(jax.random.PRNGKey(0))
    obs = jax.random.normal(jax.random.PRNGKey(2), (T, N, 2))
    carry, actions = ac.init_carry(N), []
    for t in range(T):
        a, carry = ac.policy(state, obs[t], carry)
        actions.append(a)
    seq = (ac.init_carry(N), jnp.zeros((T, N), bool))
    seq = ({k: v for k, v in seq[0].items()}, seq[1])
    logits = ac.dist_params(state.params, obs, seq)
    np.testing.assert_array_equal(np.stack(actions), np.asarray(jnp.argmax(logits, -1)))

    run = tandem.train("ppo", "tandem:MaskedCartPole-v1", run_dir=str(tmp_path / "run"), actor_net="lstm:8",
                       critic_net="mlp:8", num_envs=2, num_steps=16, num_minibatches=2, total_steps=64,
                       eval_episodes=1, tensorboard=False)
    policy = tandem.load_policy(run.run_dir)
    c = policy.initial_carry(3)
    seen = []
    x = np.random.default_rng(0).normal(size=(5, 3, 2)).astype(np.float32)
    for t in range(5):
        _, c = policy.step(x[t], c)
        seen.append(np.asarray(c["actor"][0][0]))
    assert not np.allclose(seen[0], seen[-1])  # the state moves with the observations
    assert np.asarray(policy(x[0, 0])).shape == ()  # one observation, from a fresh carry
