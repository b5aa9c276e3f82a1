"""The actor-critic controller of an architecture search (ENAS, GraphNAS), written on tandem's own PPO learner.

Proposing a batch of B architectures is an episode of T steps in B parallel "envs", one step per decision of
the space (search/space.py ``decisions``): the observation is the choices made so far (one-hot, with the
current position marked) and an ``action_mask`` of the options this decision has (a width past the chosen
depth has one, so it costs no log-probability); the action is the option. The reward is 0 until the last
step, then the child's score standardised by the mean and standard deviation of every score seen so far.
The rollout [T, B] is a Transition like any other, and PPO's ``learn`` (its critic the learned baseline,
advantages by GAE with lambda = 1 and gamma 1 - 1e-6 (PPO allows gamma < 1): the Monte-Carlo return minus the baseline) updates the policy.
"""

from __future__ import annotations

import numpy as np

from tandem.search.space import Arch, Space

CONTROLLER_CONFIG = dict(gamma=0.999999, gae_lambda=1.0, lr=3e-3, update_epochs=4, num_minibatches=1, clip_coef=0.2,
                         ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, norm_adv=True, anneal_lr=False,
                         actor_net="mlp:64", critic_net="mlp:64", activation="tanh")
"""The controller's PPO settings (lr, epochs and entropy follow ENAS's small controller)."""


class Controller:
    """Propose ``batch`` architectures per round; learn from their scores (see the module docstring)."""

    def __init__(self, space: Space, seed: int, batch: int, **config):
        import jax

        from tandem.algos import get_algo
        from tandem.envs.spec import ACTION_MASK, EnvSpec

        self.space, self.batch = space, batch
        self.options = space.decisions()
        self.T, self.K = len(self.options), max(self.options)
        self.spec = EnvSpec(id="tandem:search-controller", backend="jax", obs_shape=(), action_kind="discrete",
                            num_actions=self.K, obs_fields=((ACTION_MASK, (self.K,), "bool"),
                                                            ("choices", (self.T * (self.K + 1),), "float32")))
        algo = get_algo("ppo")
        cfg = algo.config_cls(**{**algo.defaults, **CONTROLLER_CONFIG, "num_envs": batch, "num_steps": self.T,
                                 **config})
        cfg.validate()
        self.learner = algo.make_learner(cfg, self.spec, 1)
        from tandem.algos.onpolicy import actor_critic

        self.ac = actor_critic(cfg, self.spec, 1)  # the same pure functions: for log_prob
        self.key = jax.random.PRNGKey(seed)
        self.key, k = jax.random.split(self.key)
        self.state = self.learner.init(k)
        self._act = jax.jit(self.learner.act)
        self._learn = jax.jit(self.learner.learn)
        self.scores: list[float] = []
        self._pending = None

    def _obs(self, t: int, taken: np.ndarray) -> dict:
        """Observations of decision ``t`` for the batch, given the choices ``taken`` [B, t]."""
        B, T, K = taken.shape[0], self.T, self.K
        onehot = np.zeros((B, T, K + 1), np.float32)
        for j in range(t):
            onehot[np.arange(B), j, taken[:, j]] = 1.0
        if t < T:
            onehot[:, t, K] = 1.0
        mask = np.zeros((B, K), bool)
        if t < T:
            for b in range(B):
                prefix = list(taken[b, :t]) + [0] * (T - t)
                active = self.space.active(prefix)[t]
                mask[b, : (self.options[t] if active else 1)] = True
        return {"action_mask": mask, "choices": onehot.reshape(B, -1)}

    def propose(self, n: int) -> list[Arch]:
        """A batch of ``n`` (the batch size it was built for) sampled architectures."""
        import jax

        if n != self.batch:
            raise ValueError(f"the controller proposes batches of {self.batch}, not {n}")
        taken = np.zeros((n, 0), np.int64)
        carry = self.learner.init_carry(n)
        obs_seq, actions, extras = [], [], []
        for t in range(self.T):
            obs = self._obs(t, taken)
            self.key, k = jax.random.split(self.key)
            action, ex, carry = self._act(self.state, obs, k, carry)
            action = np.asarray(action)
            obs_seq.append(obs), actions.append(action), extras.append(ex)
            taken = np.concatenate([taken, action[:, None]], axis=1)
        self._pending = (obs_seq, actions, extras, taken)
        return [self.space.decode(self.space.canonical(c)) for c in taken]

    def observe(self, archs, scores) -> None:
        """One PPO update on the last batch, rewarded by its standardised scores."""
        import jax

        from tandem.buffers.transition import Transition

        obs_seq, actions, extras, taken = self._pending
        self.scores += [float(s) for s in scores]
        mean, std = float(np.mean(self.scores)), float(np.std(self.scores))
        reward = np.zeros((self.T, self.batch), np.float32)
        reward[-1] = (np.asarray(scores, np.float64) - mean) / (std + 1e-8)
        terminated = np.zeros((self.T, self.batch), bool)
        terminated[-1] = True
        final = obs_seq[1:] + [self._obs(self.T, taken)]
        stack = lambda xs: jax.tree_util.tree_map(lambda *a: np.stack(a), *xs)  # noqa: E731
        batch = Transition(stack(obs_seq), np.stack(actions).astype(np.int32), reward, terminated,
                           np.zeros_like(terminated), stack(final), stack(extras))
        self.key, k = jax.random.split(self.key)
        self.state, self.metrics = self._learn(self.state, batch, k)
        self._pending = None

    def log_prob(self, arch: Arch) -> float:
        """log pi(arch): the sum over decisions of the log-probability of its canonical choice (masked options
        excluded, a forced decision contributing 0)."""
        import jax
        import jax.numpy as jnp

        choices = np.asarray([self.space.encode(arch)])
        total = 0.0
        for t in range(self.T):
            obs = self._obs(t, choices[:, :t])
            logits = self.ac.dist_params(self.state.params, self.ac.prep(self.state, obs))
            total += float(jax.nn.log_softmax(jnp.asarray(logits))[0, choices[0, t]])
        return total
