"""The environment layer: adapter parity, truncation bookkeeping, spaces and action rescaling."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tandem.envs import env_spec
from tandem.envs.gymnasium_host import HostVecEnv
from tandem.envs.gymnax_jax import JaxEnv
from tandem.envs.spec import rescale_action
from tandem.errors import TandemInputError


def test_gymnax_and_gymnasium_cartpole_dynamics_agree():
    """Same start state, same actions: the two CartPoles give the same observations and terminations."""
    from gymnax.environments.classic_control.cartpole import EnvState

    genv = gym.make("CartPole-v1").unwrapped
    genv.reset(seed=0)
    jenv = JaxEnv("gymnax:CartPole-v1")
    start = np.array([0.01, -0.02, 0.03, 0.04])
    genv.state = start.copy()
    jstate = EnvState(time=0, **{k: jnp.float32(v) for k, v in zip(["x", "x_dot", "theta", "theta_dot"], start)})
    actions = np.random.default_rng(0).integers(0, 2, size=200)
    steps = 0
    for a in actions:
        g_obs, g_r, g_term, _, _ = genv.step(int(a))
        jstate, ts = jenv.step(jax.random.PRNGKey(0), jstate, jnp.int32(a))
        np.testing.assert_allclose(np.asarray(ts.final_obs), g_obs, rtol=1e-4, atol=1e-4)
        assert bool(ts.terminated) == bool(g_term)
        assert float(ts.reward) == pytest.approx(g_r)
        steps += 1
        if g_term:
            break
    assert steps > 5


def test_host_env_truncation_keeps_final_obs_and_resets():
    """Pendulum is cut at 200 steps: truncated (not terminated), final_obs is the last state, obs the reset one."""
    env = HostVecEnv("Pendulum-v1", num_envs=2, seed=3)
    env.reset()
    for t in range(200):
        ts = env.step(np.zeros((2, 1), np.float32))
        if t < 199:
            assert not ts.truncated.any() and not ts.terminated.any()
            np.testing.assert_array_equal(ts.obs, ts.final_obs)
    assert ts.truncated.all() and not ts.terminated.any()
    assert not np.allclose(ts.obs, ts.final_obs)
    # The final observation continues the trajectory: |cos|,|sin| on the unit circle, same as a real step.
    np.testing.assert_allclose(ts.final_obs[:, 0] ** 2 + ts.final_obs[:, 1] ** 2, 1.0, rtol=1e-5)
    env.close()


def test_gymnax_truncation_flag_and_final_obs():
    env = JaxEnv("gymnax:Pendulum-v1")
    state, obs = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    for t in range(200):
        state, ts = step(jax.random.PRNGKey(t), state, jnp.zeros((1,)))
    assert bool(ts.truncated) and not bool(ts.terminated)
    assert not np.allclose(np.asarray(ts.obs), np.asarray(ts.final_obs))


def test_spec_of_discrete_and_box_envs():
    s = env_spec("CartPole-v1")
    assert (s.obs_shape, s.action_kind, s.num_actions, s.max_episode_steps) == ((4,), "discrete", 2, 500)
    s = env_spec("gymnax:Pendulum-v1")
    assert (s.obs_shape, s.action_kind, s.action_dim, s.action_low, s.action_high) == ((3,), "continuous", 1, (-2.0,), (2.0,))


def test_action_rescaling_to_box_bounds():
    s = env_spec("MountainCarContinuous-v0")  # Box(-1, 1)
    np.testing.assert_allclose(rescale_action(s, np.array([[0.5], [3.0]])), [[0.5], [1.0]])
    s = env_spec("Pendulum-v1")  # Box(-2, 2): -1 -> -2, 0 -> 0, 0.5 -> 1, out of range is clipped
    np.testing.assert_allclose(rescale_action(s, np.array([[-1.0], [0.0], [0.5], [-7.0]])), [[-2.0], [0.0], [1.0], [-2.0]])


def test_action_rescaling_is_one_function_for_numpy_and_jax():
    """The host adapter, the JAX adapter and Policy share one rescaling: the same values from numpy and jnp,
    unbounded dimensions passed through, discrete actions as integers."""
    from tandem.envs.spec import EnvSpec

    s = EnvSpec("x", "gymnasium", (2,), "continuous", action_dim=3, action_low=(-2.0, 0.0, -np.inf),
                action_high=(2.0, 10.0, np.inf))
    a = np.array([[-1.0, 0.5, 7.0], [2.0, -3.0, -0.25]], np.float32)
    expected = [[-2.0, 7.5, 7.0], [2.0, 0.0, -0.25]]
    np.testing.assert_allclose(rescale_action(s, a), expected)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda x: rescale_action(s, x, jnp))(a)), expected, rtol=1e-6)
    d = EnvSpec("y", "gymnax", (2,), "discrete", num_actions=3)
    assert rescale_action(d, np.array([2])).dtype.kind == "i" and rescale_action(d, jnp.array([2]), jnp).dtype == jnp.int32


def test_image_observations_stay_uint8_in_the_spec():
    from gymnasium import spaces

    from tandem.envs.gymnasium_host import spec_from_spaces

    img = spec_from_spaces("img", spaces.Box(0, 255, (84, 84, 3), np.uint8), spaces.Discrete(4), None)
    assert img.obs_dtype == "uint8" and img.obs_shape == (84, 84, 3)
    vec = spec_from_spaces("vec", spaces.Box(0, 255, (5,), np.uint8), spaces.Discrete(4), None)
    assert vec.obs_dtype == "float32"


def test_backends_on_the_roadmap_get_a_clear_error():
    with pytest.raises(TandemInputError, match="Brax environments.*not supported yet.*Allowed: a Gymnasium ID, "
                                               "gymnax:<name>, jumanji:<name>, xminigrid:<name>"):
        env_spec("brax:ant")


def test_unsupported_space_is_named():
    with pytest.raises(TandemInputError, match="observation space.*Tuple.*not supported"):
        env_spec("Blackjack-v1")


@pytest.mark.parametrize("bad", ["NoSuchEnv-v0", "gymnax:NoSuch-v0", "tandem.nonexistent_module:Env", "os:NoSuchClass", ""])
def test_unknown_env_ids(bad):
    with pytest.raises(TandemInputError):
        env_spec(bad)


def test_entry_point_env():
    s = env_spec("gymnasium.envs.classic_control.cartpole:CartPoleEnv")
    assert s.action_kind == "discrete" and s.obs_shape == (4,)
