"""Frozen, typed configuration. Validation happens here, before anything is compiled or written."""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import typing
from typing import Any

from tandem.errors import TandemInputError

INT32_MAX = 2**31 - 1
"""Step counters, thresholds and indices live in int32 on the device: integer settings stay at or below this
(and the preflight memory check bounds --buffer-size further)."""
SEED_MAX = 2**31 - 1_000_000
"""Largest --seed (a margin below 2**31 for the seeds derived from it)."""


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


@functools.lru_cache(maxsize=None)
def field_hints(cls) -> dict:
    """Field name -> type hint of a config dataclass (resolved once per class)."""
    return {f.name: typing.get_type_hints(cls)[f.name] for f in dataclasses.fields(cls)}


def _is_bool(v) -> bool:
    import numpy as np

    return isinstance(v, (bool, np.bool_))


def _is_int(v) -> bool:  # numpy integers too; never a bool
    return isinstance(v, numbers.Integral) and not _is_bool(v)


def _is_real(v) -> bool:  # an int or a float (numpy's too); never a bool
    return isinstance(v, numbers.Real) and not _is_bool(v)


def _show(value) -> str:
    """repr for a message, kept short (and safe for ints too long for str())."""
    try:
        text = repr(value)
    except Exception:  # e.g. ValueError: an int with more than sys.get_int_max_str_digits() digits
        text = (f"<{'negative ' if value < 0 else ''}int of {value.bit_length()} bits>" if isinstance(value, int)
                else f"<{type(value).__name__}>")
    return text if len(text) <= 80 else text[:77] + "..."


def range_error(name: str, value, allowed: str) -> TandemInputError:
    """The error for a value out of range, named as its flag, with a safe repr of the value."""
    return TandemInputError(f"{flag(name)} {_show(value)} is out of range: allowed {allowed}.")


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return "True or False"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if origin is tuple:
        return "a sequence of integers, e.g. (64, 64)"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if type(None) in args:
        inner = [a for a in args if a is not type(None)][0]
        return _describe(inner) + (" or a path" if inner is str else "") + ", or None"
    return getattr(hint, "__name__", str(hint))


def coerce(cls, name: str, value):
    """``value`` for field ``name`` of config class ``cls`` as that field's type, or a TandemInputError naming
    the field as its flag. Lenient only where nothing is lost: numpy scalars, a list for a tuple, a path
    for a directory; never a bool for a number, a number for a bool, or a float for an integer."""
    hint = field_hints(cls)[name]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return None
        hint = [a for a in args if a is not type(None)][0]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is str and isinstance(value, os.PathLike):
            value = os.fspath(value)
    out, ok = value, False
    if hint is bool:
        ok = _is_bool(value)
        out = bool(value) if ok else value
    elif hint is int:
        ok = _is_int(value)
        out = int(value) if ok else value
    elif hint is float:
        ok = _is_real(value)
        try:
            out = float(value) if ok else value
        except OverflowError:  # an int beyond the float range
            raise range_error(name, value, "a finite number") from None
    elif hint is str:
        ok = isinstance(value, str)
        out = str(value) if ok else value
    elif origin is tuple:
        ok = isinstance(value, (tuple, list)) and all(_is_int(x) for x in value)
        out = tuple(int(x) for x in value) if ok else value
    elif origin is typing.Literal:
        ok = isinstance(value, str) and value in args
        out = str(value) if ok else value
    else:  # pragma: no cover - every config field has one of the types above
        raise TypeError(f"{cls.__name__}.{name}: unsupported type hint {hint!r}")
    if not ok:
        if origin is typing.Literal and isinstance(value, str):
            raise TandemInputError(f"{flag(name)} {_show(value)} is not allowed: allowed {_describe(hint)}.")
        raise TandemInputError(f"{flag(name)} {_show(value)} has the wrong type ({type(value).__name__}): "
                               f"allowed {_describe(field_hints(cls)[name])}.")
    return out


def check_types(cfg) -> None:
    """Every field of a config dataclass has its declared type (e.g. after loading config.json)."""
    for name in field_hints(type(cfg)):
        coerce(type(cfg), name, getattr(cfg, name))


def check_int(cfg, name: str, lo: int, hi: int | None = INT32_MAX) -> None:
    """lo <= field <= hi (hi None: no upper bound; the field's type is already checked)."""
    v = getattr(cfg, name)
    if not (lo <= v and (hi is None or v <= hi)):
        raise range_error(name, v, f"an integer {lo} <= {name} <= {hi}" if hi is not None else f"an integer >= {lo}")


def check_float(cfg, name: str, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
                hi_open: bool = False) -> None:
    """A finite value within the bounds (open or closed); NaN and +-inf are always out of range."""
    v = getattr(cfg, name)
    ok = math.isfinite(v) and (lo is None or (v > lo if lo_open else v >= lo)) and (
        hi is None or (v < hi if hi_open else v <= hi))
    if ok:
        return
    lo_s = None if lo is None else f"{lo:g} {'<' if lo_open else '<='} "
    hi_s = None if hi is None else f" {'<' if hi_open else '<='} {hi:g}"
    if lo_s and hi_s:
        allowed = f"{lo_s}{name}{hi_s}"
    elif lo_s:
        allowed = f"a finite float {'>' if lo_open else '>='} {lo:g}"
    elif hi_s:
        allowed = f"a finite float {'<' if hi_open else '<='} {hi:g}"
    else:
        allowed = "a finite float"
    raise range_error(name, v, allowed)


def check_widths(cfg, name: str, allow_empty: bool) -> None:
    """Hidden layer widths: each an integer >= 1 (and at least one layer unless allow_empty)."""
    v = getattr(cfg, name)
    if (not v and not allow_empty) or any(not 1 <= w <= INT32_MAX for w in v):
        raise range_error(name, v, ("" if allow_empty else "one or more ") + "positive layer widths, e.g. 64 64")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What to train on and how the run is driven (shared by every algorithm)."""

    env: str = "CartPole-v1"
    """Environment: a Gymnasium ID (CartPole-v1), gymnax:<name> (gymnax:CartPole-v1), or package.module:ClassName."""
    total_steps: int = 100_000
    """Environment steps per seed (rounded up to whole rollouts)."""
    seed: int = 0
    """Random seed; with --num-seeds K the seeds are seed, seed+1, ..., seed+K-1."""
    num_seeds: int = 1
    """Independent seeds trained together in one program (vmapped over seeds)."""
    target_return: float | None = None
    """Stop once the mean return of the last 20 finished training episodes reaches this (every seed)."""
    run_dir: str | None = None
    """Run directory (default: runs/<algo>-<env>-<time>)."""
    resume: str | None = None
    """Resume the run in this directory from its latest checkpoint, up to its configured total."""
    eval_episodes: int = 10
    """Deterministic evaluation episodes per seed at the end of the run."""
    log_every: int = 0
    """Updates between metric rows (0: about 50 rows per run)."""
    checkpoint_every: int = 0
    """Updates between checkpoints (0: about 5 per run); a final checkpoint is always written."""
    async_envs: bool = False
    """Gymnasium envs in subprocesses (AsyncVectorEnv) instead of in this process."""
    tensorboard: bool = True
    """Write TensorBoard events under <run_dir>/tb."""
    quiet: bool = False
    """No progress bar or final report on the terminal."""

    def validate(self) -> None:
        check_types(self)
        check_int(self, "total_steps", 1)
        check_int(self, "seed", 0, SEED_MAX)
        check_int(self, "num_seeds", 1, 4096)
        check_int(self, "eval_episodes", 0)
        check_int(self, "log_every", 0)
        check_int(self, "checkpoint_every", 0)
        if self.target_return is not None and not math.isfinite(self.target_return):
            raise range_error("target_return", self.target_return, "a finite number (or unset)")
        if not self.env:
            raise range_error("env", self.env, "a Gymnasium ID, gymnax:<name> or package.module:ClassName")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The full resolved configuration of a run: what config.json holds."""

    algo: str
    run: RunConfig
    algo_config: Any

    def to_dict(self) -> dict:
        return {"algo": self.algo, "run": dataclasses.asdict(self.run), "algo_config": dataclasses.asdict(self.algo_config)}

    def validate(self) -> None:
        self.run.validate()
        self.algo_config.validate()
        # Combinations: the step counters are int32 on the device.
        ac = self.algo_config
        per_update = ac.num_envs * ac.num_steps
        updates = max(1, -(-self.run.total_steps // per_update))  # exact for any size
        if updates * per_update > INT32_MAX:
            raise TandemInputError(
                f"--total-steps {self.run.total_steps} rounded up to whole rollouts of --num-envs {ac.num_envs} x "
                f"{'--train-freq' if hasattr(ac, 'train_freq') else '--num-steps'} {ac.num_steps} = {per_update} steps "
                f"is {updates * per_update} env steps per seed; allowed: at most {INT32_MAX}.")
        grad_steps = getattr(ac, "gradient_steps", None)
        if grad_steps is not None and updates * grad_steps > INT32_MAX:
            raise TandemInputError(
                f"--total-steps {self.run.total_steps} with --utd {ac.utd} makes {updates * grad_steps} gradient steps "
                f"per seed; allowed: at most {INT32_MAX} (lower --utd or --total-steps).")


def config_from_dict(d: dict) -> TrainConfig:
    """Rebuild a TrainConfig from config.json (e.g. for resume and eval)."""
    from tandem.algos import get_algo

    algo = get_algo(d["algo"])
    ac = {k: tuple(v) if isinstance(v, list) else v for k, v in d["algo_config"].items()}
    return TrainConfig(d["algo"], RunConfig(**d["run"]), algo.config_cls(**ac))
