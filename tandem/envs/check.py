"""`tandem check-env ID`: run an environment for a few random steps and report what breaks the API.

tandem's own checks, not Gymnasium's passive checker: every problem says what was expected and
what came instead, names the step it first happened at, and is reported once however often it
repeats. A check never crashes on a broken env: an exception from ``reset``/``step`` becomes a
problem too. Only an unknown ID raises (TandemInputError, exit 2), as everywhere else.
"""

from __future__ import annotations

import numpy as np

from tandem.envs import checks
from tandem.envs.checks import Box as _Box
from tandem.envs.spec import ACTION_MASK
from tandem.errors import TandemInputError, UnsupportedSpace


class CheckResult(list):
    """The problems found, one message each (empty when the env passes).

    A plain ``list[str]``, plus ``summary`` ("200 steps, obs (4,) float32, actions Discrete(2)")
    for :func:`format_report`.
    """

    summary: str = ""


class _Problems:
    """Collects problems by kind, keeping the first occurrence and counting the repeats."""

    def __init__(self):
        self._first: dict[str, list] = {}  # kind -> [where, message, count]; dicts keep insertion order

    def add(self, kind: str, where: str | None, message: str) -> None:
        """Record a problem; ``where`` is "step 3", "reset(seed=0)", or None for one about the env itself."""
        entry = self._first.setdefault(kind, [where, message.rstrip("."), 0])
        entry[2] += 1

    def extend(self, problems: list, where: str | None) -> None:
        """Record the (kind, message) pairs of a check in envs/checks.py."""
        for kind, message in problems:
            self.add(kind, where, message)

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

    ``env_id`` is any ID the env-backend registry knows. The env is reset with a seed and stepped ``steps``
    times with random actions (reset again whenever an episode ends). Returns a :class:`CheckResult`, a list
    of messages that is empty when nothing is wrong. Raises TandemInputError for an unknown ID.
    """
    from tandem.envs.registry import backend_of

    if steps < 1:
        raise TandemInputError(f"--steps must be at least 1, got {steps}.")
    return backend_of(env_id).check(env_id, steps)


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


def check_gymnasium(env_id: str, steps: int) -> CheckResult:
    """check-env for a Gymnasium ID or entry point (the gymnasium backend)."""
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
            found.add(f"{name} missing", None, f"{name}: expected a gymnasium.spaces.Space, got {checks.type_name(space)}")
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

    def box_of(space):
        return _Box(tuple(space.shape), np.dtype(space.dtype), space.low, space.high)

    boxes = {}  # field -> Box ("" for a Box observation); empty: nothing numeric to check field by field
    if isinstance(obs_space, spaces.Box):
        boxes = {"": box_of(obs_space)}
    elif isinstance(obs_space, spaces.Dict):
        boxes = {str(k): box_of(v) for k, v in obs_space.spaces.items() if isinstance(v, spaces.Box)}

    act_space.seed(0)
    taken = _run_gymnasium(env, act_space, boxes, steps, found)
    try:
        env.close()
    except Exception as e:
        found.add("close", None, f"close() raised {type(e).__name__}: {e}")

    result.extend(found.messages())
    ran = f"{taken} steps" if taken == steps else f"stopped after {taken} of {steps} steps"
    obs_desc = f"obs {boxes[''].shape} {boxes[''].dtype}" if "" in boxes else f"obs {obs_space}"
    result.summary = f"{ran}, {obs_desc}, actions {act_space}"
    return result


def _run_gymnasium(env, act_space, boxes: dict, steps: int, found: _Problems) -> int:
    """Reset and step the env, recording problems; return the number of steps taken.

    Stops early only when going on would be meaningless: an exception, or a reset/step whose
    return value cannot be unpacked (then it is unknown whether the episode ended). Where the env gives
    ``info["action_mask"]``, the random actions are drawn among the valid ones.
    """
    seed = 0
    where = "reset(seed=0)"
    info = _gym_reset(env, seed, where, boxes, found)
    if info is None:
        return 0
    for t in range(1, steps + 1):
        where = f"step {t}"
        try:
            out = env.step(_sample(act_space, info))
        except Exception as e:
            found.add("step raised", where, f"step() raised {type(e).__name__}: {e}")
            return t - 1
        if checks.step_output(out):
            found.extend(checks.step_output(out), where)
            return t
        obs, reward, terminated, truncated, info = out
        _check_obs(obs, boxes, found, where)
        found.extend(checks.reward(reward), where)
        found.extend(checks.flags(terminated, truncated), where)
        found.extend(checks.info(info, "step"), where)
        _check_mask(info, act_space, found, where)
        if t < steps and (_truthy(terminated) or _truthy(truncated)):
            seed += 1
            info = _gym_reset(env, seed, f"reset(seed={seed}) after step {t}", boxes, found)
            if info is None:
                return t
    return steps


def _gym_reset(env, seed: int, where: str, boxes: dict, found: _Problems):
    """One ``reset(seed=...)`` with its checks; its info (a dict), or None when the check cannot go on."""
    try:
        out = env.reset(seed=seed)
    except Exception as e:
        found.add("reset raised", where, f"reset() raised {type(e).__name__}: {e}")
        return None
    if checks.reset_output(out):
        found.extend(checks.reset_output(out), where)
        return None
    obs, info = out
    _check_obs(obs, boxes, found, where)
    found.extend(checks.info(info, "reset"), where)
    _check_mask(info, env.action_space, found, where)
    return info if isinstance(info, dict) else {}


def _check_obs(obs, boxes: dict, found: _Problems, where: str) -> None:
    """The observation checks, field by field for a Dict observation."""
    if "" in boxes or not boxes:
        found.extend(checks.observation(obs, boxes.get("")), where)
        return
    if not isinstance(obs, dict):
        found.add("obs type", where, f"observation type: expected dict (a Dict observation space), got "
                                     f"{checks.type_name(obs)}")
        return
    for name, box in boxes.items():
        if name not in obs:
            found.add(f"obs field {name}", where, f"observation: expected field {name!r}, got fields {sorted(obs)}")
            continue
        found.extend([(f"{k} {name}", f"field {name!r}: {m}") for k, m in checks.observation(obs[name], box)], where)


def _check_mask(info, act_space, found: _Problems, where: str) -> None:
    """An ``info["action_mask"]``: one bool per discrete action, at least one of them valid."""
    if not isinstance(info, dict) or ACTION_MASK not in info:
        return
    m = np.asarray(info[ACTION_MASK])
    n = getattr(act_space, "n", None)
    if n is None or m.shape != (int(n),) or m.dtype.kind not in "bui":
        found.add("mask shape", where, f"info['action_mask']: expected {n} booleans (one per action of "
                                       f"{act_space}), got shape {m.shape} {m.dtype}")
    elif not m.any():
        found.add("mask empty", where, "info['action_mask']: expected at least one valid action, got none")


def _sample(act_space, info):
    """A random action, among the valid ones where ``info`` has a well-formed mask."""
    m = np.asarray(info.get(ACTION_MASK)) if isinstance(info, dict) and ACTION_MASK in info else None
    if m is not None and getattr(act_space, "n", None) is not None and m.shape == (int(act_space.n),) and m.any():
        return act_space.sample(mask=m.astype(np.int8))
    return act_space.sample()


# ---------------------------------------------------------------------------------------------
# gymnax envs: the same checks on a compiled rollout


def check_jax(env_id: str, steps: int) -> CheckResult:
    """check-env for a functional JAX env of any JAX backend (``reset(key)``, ``step(key, state, action)``):
    the same checks on a compiled rollout. Observation bounds are checked where the env exposes
    ``obs_bounds()`` (low, high)."""
    import jax

    from tandem.envs.registry import backend_of

    backend = backend_of(env_id)
    found = _Problems()
    result = CheckResult()
    try:
        env = backend.make(env_id)  # an unknown name: TandemInputError, exit 2
    except UnsupportedSpace as e:
        result.extend([_strip_env_prefix(env_id, str(e))])  # a known env whose spaces tandem cannot drive
        result.summary = "not run"
        return result
    spec = env.spec
    boxes = _jax_boxes(spec, env.obs_bounds() if hasattr(env, "obs_bounds") else None)
    if spec.action_kind == "discrete":
        actions = f"Discrete({spec.num_actions})" + (" with an action_mask" if spec.has_action_mask else "")
    else:
        actions = f"Box({spec.action_dim},) in [{min(spec.action_low)}, {max(spec.action_high)}]"
    described = f"obs {spec.describe_obs()}, actions {actions}"

    def check_obs(obs, where, final=False):
        for name, box in boxes.items():
            x = np.asarray(obs[name] if name else obs)
            problems = checks.observation(x, box, check_type=False)
            if name:
                problems = [(f"{kind} {name}", f"field {name!r}: {msg}") for kind, msg in problems]
            found.extend(problems, where)
        if spec.has_action_mask and not final and not np.asarray(obs[ACTION_MASK]).any():
            found.add("mask empty", where, "action_mask: expected at least one valid action, got none")

    def random_action(key, obs):
        # Canonical actions (see envs/spec.py): the adapter maps them to the env's own; a valid one under a mask.
        if spec.has_action_mask:
            return jax.random.categorical(key, jax.numpy.where(obs[ACTION_MASK], 0.0, -jax.numpy.inf))
        if spec.action_kind == "discrete":
            return jax.random.randint(key, (), 0, spec.num_actions)
        return jax.random.uniform(key, (spec.action_dim,), minval=-1.0, maxval=1.0)

    def body(carry, key):
        state, obs = carry
        k_act, k_step = jax.random.split(key)
        state, ts = env.step(k_step, state, random_action(k_act, obs))
        return (state, ts.obs), ts

    key_reset, key_run = jax.random.split(jax.random.PRNGKey(0))
    try:
        state, obs0 = jax.jit(env.reset)(key_reset)
    except Exception as e:
        result.extend([f"reset raised {type(e).__name__}: {e}"])
        result.summary = f"stopped at reset, {described}"
        return result
    try:
        # The whole rollout as one compiled scan; gymnax resets by itself when an episode ends.
        _, traj = jax.jit(lambda c, ks: jax.lax.scan(body, c, ks))((state, obs0), jax.random.split(key_run, steps))
    except Exception as e:
        found.add("step raised", "the compiled rollout", f"step raised {type(e).__name__}: {e}")
        result.extend(found.messages())
        result.summary = f"stopped after reset, {described}"
        return result

    check_obs(jax.tree_util.tree_map(np.asarray, obs0), "reset")
    traj = jax.tree_util.tree_map(np.asarray, traj)
    for t in range(steps):
        where = f"step {t + 1}"
        check_obs(jax.tree_util.tree_map(lambda x: x[t], traj.obs), where)
        if traj.terminated[t] or traj.truncated[t]:
            # After a done, obs is already the reset one; final_obs is what the action led to.
            check_obs(jax.tree_util.tree_map(lambda x: x[t], traj.final_obs), where, final=True)
        found.extend(checks.reward(traj.reward[t]), where)
    result.extend(found.messages())
    result.summary = f"{steps} steps, {described}"
    return result


# ---------------------------------------------------------------------------------------------
# Helpers


def _jax_boxes(spec, bounds) -> dict:
    """{field: Box} of a JAX env's observation ({"": Box} for an array one); ``bounds``: the adapter's
    ``obs_bounds()``, (low, high) for an array observation, {field: (low, high)} for a structured one."""
    def box(shape, lh):
        low, high = lh if lh is not None else (-np.inf, np.inf)
        return _Box(tuple(shape), None, np.broadcast_to(np.asarray(low, np.float64), shape),
                    np.broadcast_to(np.asarray(high, np.float64), shape))

    if not spec.obs_fields:
        return {"": box(spec.obs_shape, bounds)}
    return {name: box(shape, (bounds or {}).get(name)) for name, shape, _ in spec.obs_fields}


def _truthy(flag) -> bool:
    """Whether a (possibly malformed) done flag says the episode ended."""
    try:
        return bool(np.any(flag))
    except Exception:
        return False


def _strip_env_prefix(env_id: str, message: str) -> str:
    """The report's header names the env already; drop the CLI-style "--env 'ID': " lead."""
    lead = f"--env {env_id!r}: "
    return message[len(lead):] if message.startswith(lead) else message
