"""`tandem check-env ID`: run an environment for a few random steps and report what breaks the API.

tandem's own checks, not Gymnasium's passive checker: every problem says what was expected and
what came instead, names the step it first happened at, and is reported once however often it
repeats. A check never crashes on a broken env: an exception from ``reset``/``step`` becomes a
problem too. Only an unknown ID raises (TandemInputError, exit 2), as everywhere else.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from tandem.errors import TandemInputError

STEP_TUPLE = "(obs, reward, terminated, truncated, info)"


class CheckResult(list):
    """The problems found, one message each (empty when the env passes).

    A plain ``list[str]``, plus ``summary`` ("200 steps, obs (4,) float32, actions Discrete(2)")
    for :func:`format_report`.
    """

    summary: str = ""


class _Box(NamedTuple):
    """What the observation checks need from a Box space (Gymnasium or gymnax)."""

    shape: tuple[int, ...]
    dtype: Any  # None: not checked (gymnax observations are cast to float32 by the adapter)
    low: np.ndarray
    high: np.ndarray


class _Problems:
    """Collects problems by kind, keeping the first occurrence and counting the repeats."""

    def __init__(self):
        self._first: dict[str, list] = {}  # kind -> [where, message, count]; dicts keep insertion order

    def add(self, kind: str, where: str | None, message: str) -> None:
        """Record a problem; ``where`` is "step 3", "reset(seed=0)", or None for one about the env itself."""
        entry = self._first.setdefault(kind, [where, message.rstrip("."), 0])
        entry[2] += 1

    def messages(self) -> list[str]:
        out = []
        for where, message, count in self._first.values():
            if where is None:
                out.append(message)
            elif count == 1:
                out.append(f"{message} (at {where})")
            else:
                out.append(f"{message} (first at {where}, {count} times in all)")
        return out


def check_env(env_id: str, steps: int = 200) -> list[str]:
    """Check an environment against the API tandem relies on; return the problems found.

    ``env_id`` is a Gymnasium ID, ``gymnax:<name>`` or ``package.module:ClassName``. The env is reset
    with a seed and stepped ``steps`` times with random actions (reset again whenever an episode
    ends). Returns a :class:`CheckResult`, a list of messages that is empty when nothing is wrong.
    Raises TandemInputError for an unknown ID.
    """
    if steps < 1:
        raise TandemInputError(f"--steps must be at least 1, got {steps}.")
    if env_id.startswith("gymnax:"):
        return _check_gymnax(env_id, steps)
    return _check_gymnasium(env_id, steps)


def format_report(env_id: str, problems: list[str]) -> str:
    """A readable report: one OK line, or a header and one bullet per problem."""
    summary = getattr(problems, "summary", "")
    details = f" ({summary})" if summary else ""
    if not problems:
        return f"{env_id}: OK{details}"
    n = len(problems)
    lines = [f"{env_id}: {n} problem{'s' if n != 1 else ''}{details}"]
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Gymnasium-API envs (registered IDs and entry points)


def _check_gymnasium(env_id: str, steps: int) -> CheckResult:
    from gymnasium import spaces

    from tandem.envs.gymnasium_host import make_single, spec_from_spaces

    found = _Problems()
    result = CheckResult()
    try:
        env = make_single(env_id)  # an unknown ID raises TandemInputError: exit 2, not a problem
    except TandemInputError:
        raise
    except Exception as e:  # the env's own constructor failed: that is a broken env
        result.extend([f"creating the env raised {type(e).__name__}: {e}"])
        result.summary = "not run"
        return result

    obs_space = getattr(env, "observation_space", None)
    act_space = getattr(env, "action_space", None)
    for name, space in (("observation_space", obs_space), ("action_space", act_space)):
        if not isinstance(space, spaces.Space):
            found.add(f"{name} missing", None, f"{name}: expected a gymnasium.spaces.Space, got {_type(space)}")
    if not isinstance(act_space, spaces.Space):
        # Without an action space there is nothing to sample; report what we know and stop.
        result.extend(found.messages())
        result.summary = "not run"
        return result

    if isinstance(obs_space, spaces.Space):
        try:
            max_steps = env.spec.max_episode_steps if getattr(env, "spec", None) is not None else None
            spec_from_spaces(env_id, obs_space, act_space, max_steps)
        except TandemInputError as e:
            found.add("unsupported space", None, _strip_env_prefix(env_id, str(e)))

    box = None
    if isinstance(obs_space, spaces.Box):
        box = _Box(tuple(obs_space.shape), np.dtype(obs_space.dtype), obs_space.low, obs_space.high)

    act_space.seed(0)
    taken = _run_gymnasium(env, act_space, box, steps, found)
    try:
        env.close()
    except Exception as e:
        found.add("close", None, f"close() raised {type(e).__name__}: {e}")

    result.extend(found.messages())
    ran = f"{taken} steps" if taken == steps else f"stopped after {taken} of {steps} steps"
    obs_desc = f"obs {box.shape} {box.dtype}" if box is not None else f"obs {obs_space}"
    result.summary = f"{ran}, {obs_desc}, actions {act_space}"
    return result


def _run_gymnasium(env, act_space, box: _Box | None, steps: int, found: _Problems) -> int:
    """Reset and step the env, recording problems; return the number of steps taken.

    Stops early only when going on would be meaningless: an exception, or a reset/step whose
    return value cannot be unpacked (then it is unknown whether the episode ended).
    """
    seed = 0
    where = "reset(seed=0)"
    if not _gym_reset(env, seed, where, box, found):
        return 0
    for t in range(1, steps + 1):
        where = f"step {t}"
        try:
            out = env.step(act_space.sample())
        except Exception as e:
            found.add("step raised", where, f"step() raised {type(e).__name__}: {e}")
            return t - 1
        if not isinstance(out, tuple) or len(out) != 5:
            found.add("step arity", where, f"step() must return 5 values {STEP_TUPLE}, got {_count(out)}")
            return t
        obs, reward, terminated, truncated, info = out
        _check_obs(obs, box, where, found, check_type=True)
        _check_reward(reward, where, found)
        for name, flag in (("terminated", terminated), ("truncated", truncated)):
            if not isinstance(flag, (bool, np.bool_)):
                found.add(f"{name} type", where, f"{name}: expected bool, got {_type(flag)} ({flag!r})")
        if not isinstance(info, dict):
            found.add("step info", where, f"step() info: expected dict, got {_type(info)}")
        if t < steps and (_truthy(terminated) or _truthy(truncated)):
            seed += 1
            if not _gym_reset(env, seed, f"reset(seed={seed}) after step {t}", box, found):
                return t
    return steps


def _gym_reset(env, seed: int, where: str, box: _Box | None, found: _Problems) -> bool:
    """One ``reset(seed=...)`` with its checks; False when the check cannot go on."""
    try:
        out = env.reset(seed=seed)
    except Exception as e:
        found.add("reset raised", where, f"reset() raised {type(e).__name__}: {e}")
        return False
    if not isinstance(out, tuple) or len(out) != 2:
        found.add("reset arity", where, f"reset() must return a tuple (obs, info), got {_count(out)}")
        return False
    obs, info = out
    _check_obs(obs, box, where, found, check_type=True)
    if not isinstance(info, dict):
        found.add("reset info", where, f"reset() info: expected dict, got {_type(info)}")
    return True


# ---------------------------------------------------------------------------------------------
# gymnax envs: the same checks on a compiled rollout


def _check_gymnax(env_id: str, steps: int) -> CheckResult:
    import jax

    from tandem.envs.gymnax_jax import PREFIX, JaxEnv, _make, gymnax_spec

    raw_env, params = _make(env_id[len(PREFIX):])  # unknown name: TandemInputError, exit 2
    found = _Problems()
    result = CheckResult()
    try:
        spec = gymnax_spec(env_id)
    except TandemInputError as e:  # a known env whose spaces tandem cannot drive
        result.extend([_strip_env_prefix(env_id, str(e))])
        result.summary = "not run"
        return result

    obs_space = raw_env.observation_space(params)
    box = _Box(spec.obs_shape, None,
               np.broadcast_to(np.asarray(obs_space.low, np.float64), spec.obs_shape),
               np.broadcast_to(np.asarray(obs_space.high, np.float64), spec.obs_shape))
    if spec.action_kind == "discrete":
        actions = f"Discrete({spec.num_actions})"
    else:
        actions = f"Box({spec.action_dim},) in [{min(spec.action_low)}, {max(spec.action_high)}]"
    described = f"obs {spec.obs_shape} float32, actions {actions}"

    env = JaxEnv(env_id)

    def random_action(key):
        # Canonical actions (see envs/spec.py): the adapter maps them to the env's own.
        if spec.action_kind == "discrete":
            return jax.random.randint(key, (), 0, spec.num_actions)
        return jax.random.uniform(key, (spec.action_dim,), minval=-1.0, maxval=1.0)

    def body(state, key):
        k_act, k_step = jax.random.split(key)
        state, ts = env.step(k_step, state, random_action(k_act))
        return state, ts

    key_reset, key_run = jax.random.split(jax.random.PRNGKey(0))
    try:
        state, obs0 = jax.jit(env.reset)(key_reset)
    except Exception as e:
        result.extend([f"reset raised {type(e).__name__}: {e}"])
        result.summary = f"stopped at reset, {described}"
        return result
    try:
        # The whole rollout as one compiled scan; gymnax resets by itself when an episode ends.
        _, traj = jax.jit(lambda s, ks: jax.lax.scan(body, s, ks))(state, jax.random.split(key_run, steps))
    except Exception as e:
        found.add("step raised", "the compiled rollout", f"step raised {type(e).__name__}: {e}")
        result.extend(found.messages())
        result.summary = f"stopped after reset, {described}"
        return result

    _check_obs(np.asarray(obs0), box, "reset", found, check_type=False)
    traj = jax.tree_util.tree_map(np.asarray, traj)
    for t in range(steps):
        where = f"step {t + 1}"
        _check_obs(traj.obs[t], box, where, found, check_type=False)
        if traj.terminated[t] or traj.truncated[t]:
            # After a done, obs is already the reset one; final_obs is what the action led to.
            _check_obs(traj.final_obs[t], box, where, found, check_type=False)
        _check_reward(traj.reward[t], where, found)
    result.extend(found.messages())
    result.summary = f"{steps} steps, {described}"
    return result


# ---------------------------------------------------------------------------------------------
# Shared checks


def _check_obs(obs, box: _Box | None, where: str, found: _Problems, check_type: bool) -> None:
    """Type, shape, dtype, finiteness and Box bounds of one observation (only finiteness without a Box)."""
    if check_type and box is not None and not isinstance(obs, np.ndarray):
        found.add("obs type", where, f"observation type: expected numpy.ndarray, got {_type(obs)}")
    try:
        arr = np.asarray(obs)
    except Exception as e:
        found.add("obs array", where, f"observation cannot be made an array ({type(e).__name__}: {e})")
        return
    if box is not None and arr.shape != box.shape:
        found.add("obs shape", where, f"observation shape: expected {box.shape} (observation_space.shape), got {arr.shape}")
    if box is not None and box.dtype is not None and isinstance(obs, np.ndarray) and arr.dtype != box.dtype:
        found.add("obs dtype", where, f"observation dtype: expected {box.dtype} (observation_space.dtype), got {arr.dtype}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        return  # a Dict/Tuple/object observation: nothing numeric to check (the space was reported)
    bad = np.argwhere(~np.isfinite(arr)) if np.issubdtype(arr.dtype, np.inexact) else []
    if len(bad):
        i = tuple(int(j) for j in bad[0])
        found.add("obs nonfinite", where, f"observation{_index(i)}: expected a finite number, got {arr[i]}")
    if box is None or arr.shape != box.shape:
        return  # bounds are only comparable element by element
    # NaN compares false both ways, so a NaN is reported once above, not again here.
    for kind, mask, bound, sign in (("obs below", arr < box.low, box.low, ">="),
                                    ("obs above", arr > box.high, box.high, "<=")):
        if mask.any():
            i = tuple(int(j) for j in np.argwhere(mask)[0])
            name = "low" if sign == ">=" else "high"
            found.add(kind, where, f"observation outside the Box bounds: expected observation{_index(i)} {sign} "
                                   f"{bound[i]} (observation_space.{name}{_index(i)}), got {arr[i]}")


def _check_reward(reward, where: str, found: _Problems) -> None:
    real = (int, float, np.integer, np.floating)
    if isinstance(reward, np.ndarray) and reward.shape == () and np.issubdtype(reward.dtype, np.number):
        reward = reward[()]  # a 0-d array (as gymnax gives) is a scalar in all but name
    if isinstance(reward, (bool, np.bool_)) or not isinstance(reward, real):
        shape = f" with shape {reward.shape}" if isinstance(reward, np.ndarray) else ""
        found.add("reward type", where, f"reward: expected a real scalar (float or int), got {_type(reward)}{shape} ({reward!r})")
        return
    if not math.isfinite(float(reward)):
        found.add("reward nonfinite", where, f"reward: expected a finite number, got {float(reward)}")


def _truthy(flag) -> bool:
    """Whether a (possibly malformed) done flag says the episode ended."""
    try:
        return bool(np.any(flag))
    except Exception:
        return False


def _count(out) -> str:
    if isinstance(out, tuple):
        return f"{len(out)} value{'s' if len(out) != 1 else ''}"
    return f"a single {_type(out)}"


def _type(x) -> str:
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def _index(i: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(j) for j in i) + "]"


def _strip_env_prefix(env_id: str, message: str) -> str:
    """The report's header names the env already; drop the CLI-style "--env 'ID': " lead."""
    lead = f"--env {env_id!r}: "
    return message[len(lead):] if message.startswith(lead) else message
