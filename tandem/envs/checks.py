"""The one set of environment checks: what ``reset``/``step`` must return, and what an action must be.

Each check returns the problems it finds as ``(kind, message)`` pairs, each message saying what was
expected and what came. Two users: the per-step guard of the Gymnasium adapter (``structural`` checks
only: a problem there stops the run with a TandemRuntimeError; non-finite values are the runners'
fault checks, a float64 observation for a float32 Box is cast as Gymnasium does) and ``tandem check-env``
(every check, collected and reported once each).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

STEP_TUPLE = "(obs, reward, terminated, truncated, info)"
Problems = list  # of (kind, message)


class Box(NamedTuple):
    """What the observation checks need from a Box space (Gymnasium or gymnax)."""

    shape: tuple[int, ...]
    dtype: Any  # None: not checked (gymnax observations are cast to float32 by the adapter)
    low: np.ndarray
    high: np.ndarray


def reset_output(out) -> Problems:
    """``reset()`` returns a pair (obs, info)."""
    if not isinstance(out, tuple) or len(out) != 2:
        return [("reset arity", f"reset() must return a tuple (obs, info), got {count(out)}")]
    return []


def step_output(out) -> Problems:
    """``step()`` returns five values."""
    if not isinstance(out, tuple) or len(out) != 5:
        return [("step arity", f"step() must return 5 values {STEP_TUPLE}, got {count(out)}")]
    return []


def observation(obs, box: Box | None, check_type: bool = True, structural: bool = False) -> Problems:
    """Type, shape, dtype, finiteness and Box bounds of one observation (only finiteness without a Box).

    ``structural``: only what makes the observation unusable (not an array, not numeric, the wrong shape).
    """
    if structural and type(obs) is np.ndarray and box is not None and obs.shape == box.shape and obs.dtype.kind in "fiub":
        return []  # the common case, checked in a few attribute reads (this runs every step)
    found = []
    if check_type and box is not None and not isinstance(obs, np.ndarray) and not structural:
        found.append(("obs type", f"observation type: expected numpy.ndarray, got {type_name(obs)}"))
    try:
        arr = np.asarray(obs)
    except Exception as e:
        return found + [("obs array", f"observation cannot be made an array ({type(e).__name__}: {e})")]
    if arr.dtype.kind not in "fiub":
        if structural or arr.dtype != object:
            found.append(("obs dtype", f"observation dtype: expected a real-valued (numeric) array, got {arr.dtype}"))
        return found  # a Dict/Tuple/object observation: nothing numeric to check (the space was reported)
    if box is not None and arr.shape != box.shape:
        found.append(("obs shape", f"observation shape: expected {box.shape} (observation_space.shape), got {arr.shape}"))
    if structural:
        return found
    if box is not None and box.dtype is not None and isinstance(obs, np.ndarray) and arr.dtype != box.dtype:
        found.append(("obs dtype", f"observation dtype: expected {box.dtype} (observation_space.dtype), got {arr.dtype}"))
    bad = np.argwhere(~np.isfinite(arr)) if np.issubdtype(arr.dtype, np.inexact) else []
    if len(bad):
        i = tuple(int(j) for j in bad[0])
        found.append(("obs nonfinite", f"observation{index(i)}: expected a finite number, got {arr[i]}"))
    if box is None or arr.shape != box.shape:
        return found  # bounds are only comparable element by element
    # NaN compares false both ways, so a NaN is reported once above, not again here.
    for kind, mask, bound, sign in (("obs below", arr < box.low, box.low, ">="),
                                    ("obs above", arr > box.high, box.high, "<=")):
        if mask.any():
            i = tuple(int(j) for j in np.argwhere(mask)[0])
            name = "low" if sign == ">=" else "high"
            found.append((kind, f"observation outside the Box bounds: expected observation{index(i)} {sign} "
                                f"{bound[i]} (observation_space.{name}{index(i)}), got {arr[i]}"))
    return found


_REAL_SCALARS = (float, int, np.float64, np.float32, np.int64, np.int32)


def reward(r, structural: bool = False) -> Problems:
    """A real scalar (a 0-d numeric array counts), finite unless ``structural``."""
    if type(r) in _REAL_SCALARS:  # the common case
        return [] if structural or math.isfinite(r) else [("reward nonfinite", f"reward: expected a finite number, got {float(r)}")]
    if isinstance(r, np.ndarray) and r.shape == () and np.issubdtype(r.dtype, np.number):
        r = r[()]  # a 0-d array (as gymnax gives) is a scalar in all but name
    if isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, float, np.integer, np.floating)):
        shape = f" with shape {r.shape}" if isinstance(r, np.ndarray) else ""
        return [("reward type", f"reward: expected a real scalar (float or int), got {type_name(r)}{shape} ({r!r})")]
    if not structural and not math.isfinite(float(r)):
        return [("reward nonfinite", f"reward: expected a finite number, got {float(r)}")]
    return []


def flags(terminated, truncated) -> Problems:
    """Both done flags are bools."""
    return [(f"{name} type", f"{name}: expected bool, got {type_name(flag)} ({flag!r})")
            for name, flag in (("terminated", terminated), ("truncated", truncated))
            if type(flag) is not bool and not isinstance(flag, (bool, np.bool_))]


def info(x, where: str) -> Problems:
    """The info of ``reset()``/``step()`` is a dict."""
    return [] if isinstance(x, dict) else [(f"{where} info", f"{where}() info: expected dict, got {type_name(x)}")]


def action(a, space) -> Problems:
    """An action inside a Gymnasium Discrete or Box space, of its exact shape (never broadcast)."""
    if hasattr(space, "n"):  # Discrete (no import: this runs at every step)
        ok = isinstance(a, (int, np.integer)) and not isinstance(a, bool) and space.start <= a < space.start + space.n
        expected = f"an integer of shape () in [{space.start}, {space.start + space.n})"
    else:
        ok = type(a) is np.ndarray and a.shape == space.shape and a.dtype.kind == "f" and \
            bool(np.all((a >= space.low) & (a <= space.high)))
        expected = f"a float array of shape {space.shape} within [{space.low.min()}, {space.high.max()}] (action_space)"
    if ok:
        return []
    arr = np.asarray(a)
    return [("action", f"action {arr!r} (shape {arr.shape}, dtype {arr.dtype}) is outside the action space: "
                       f"expected {expected}")]


def count(out) -> str:
    """How many values ``out`` is, in words (for messages)."""
    if isinstance(out, tuple):
        return f"{len(out)} value{'s' if len(out) != 1 else ''}"
    return f"a single {type_name(out)}"


def type_name(x) -> str:
    """The type of ``x``, qualified unless a builtin (for messages)."""
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def index(i: tuple[int, ...]) -> str:
    """An array index as ``[i, j]`` (for messages)."""
    return "[" + ", ".join(str(j) for j in i) + "]"
