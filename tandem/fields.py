"""Config fields at the bottom layer: a field carries its doc and its range, and one ``validate_fields``
checks any config dataclass against them. Imports nothing of tandem but ``errors``.

``field(8, "Parallel environments per seed.", lo=1)`` declares a field; ``--help`` shows the doc and
the range (cli.py reads them with :func:`doc_of` and :func:`range_of`), validation raises a
TandemInputError naming the field as its flag, and architecture search reuses the same ranges.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import typing
from typing import Any, Callable

from tandem.errors import TandemInputError

INT32_MAX = 2**31 - 1
"""Step counters, thresholds and indices live in int32 on the device: integer settings stay at or below this
(and the preflight memory check bounds --buffer-size further)."""
SEED_MAX = 2**31 - 1_000_000
"""Largest --seed (a margin below 2**31 for the seeds derived from it)."""


def flag(field: str) -> str:
    """The CLI flag of a config field: ``num_envs`` -> ``--num-envs``."""
    return "--" + field.replace("_", "-")


@dataclasses.dataclass(frozen=True)
class Range:
    """The allowed values of a numeric field. Integers: ``lo <= v <= hi`` (``hi`` None: unbounded).
    Floats: finite, within the bounds, each open or closed. None values of an optional field pass."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def describe(self, name: str, integer: bool) -> str:
        """What is allowed, in words (the text of the error and of ``--help``)."""
        if integer:
            return f"an integer {self.lo} <= {name} <= {self.hi}" if self.hi is not None else f"an integer >= {self.lo}"
        lo_s = None if self.lo is None else f"{self.lo:g} {'<' if self.lo_open else '<='} "
        hi_s = None if self.hi is None else f" {'<' if self.hi_open else '<='} {self.hi:g}"
        if lo_s and hi_s:
            return f"{lo_s}{name}{hi_s}"
        if lo_s:
            return f"a finite float {'>' if self.lo_open else '>='} {self.lo:g}"
        if hi_s:
            return f"a finite float {'<' if self.hi_open else '<='} {self.hi:g}"
        return "a finite float"

    def contains(self, v, integer: bool) -> bool:
        """Whether ``v`` (already of the field's type) is allowed."""
        if integer:
            return self.lo <= v and (self.hi is None or v <= self.hi)
        return math.isfinite(v) and (self.lo is None or (v > self.lo if self.lo_open else v >= self.lo)) and (
            self.hi is None or (v < self.hi if self.hi_open else v <= self.hi))


def field(default, doc: str, *, lo=None, hi: Any = "int32", lo_open: bool = False, hi_open: bool = False,
          check: Callable[[str, Any], None] | None = None, group: str | None = None, aliases: tuple = ()):
    """A config field with its doc and range.

    ``lo``/``hi``: the bounds of a numeric field (an int field's ``hi`` defaults to INT32_MAX; pass None for
    none); floats are always required finite. ``check(name, value)``: a further validator (e.g. a network spec
    parser) raising TandemInputError. ``group``: the config group shown in ``--help`` (run, environment,
    algorithm, networks, ray, logging). ``aliases``: other flags for it (``("--async",)``: a keyword can't be a
    field name).
    """
    meta = {"doc": doc, "range": (lo, hi, lo_open, hi_open), "check": check, "group": group, "aliases": aliases}
    return dataclasses.field(default=default, metadata=meta)


def doc_of(cls, name: str) -> str:
    """The doc of field ``name`` of config class ``cls``."""
    return _fields(cls)[name].metadata.get("doc", "")


def aliases_of(cls, name: str) -> tuple:
    """The other flags of field ``name`` (``--help`` and the parser accept them too)."""
    return tuple(_fields(cls)[name].metadata.get("aliases", ()))


def group_of(cls, name: str) -> str | None:
    """The config group of field ``name`` (None: the class's default group)."""
    return _fields(cls)[name].metadata.get("group")


def range_of(cls, name: str) -> Range | None:
    """The declared range of a numeric field (None for bools, strings, literals)."""
    hint = _base(field_hints(cls)[name])
    if hint not in (int, float):
        return None
    lo, hi, lo_open, hi_open = _fields(cls)[name].metadata.get("range", (None, "int32", False, False))
    if hint is int:
        return Range(0 if lo is None else lo, INT32_MAX if hi == "int32" else hi)
    return Range(lo, None if hi == "int32" else hi, lo_open, hi_open)


def help_text(cls, name: str) -> str:
    """``--help`` text of a field: its doc and, for a number, the allowed range."""
    r = range_of(cls, name)
    doc = doc_of(cls, name)
    check = _fields(cls)[name].metadata.get("check")
    if check is not None and hasattr(check, "help"):
        doc = f"{doc} {check.help()}"
    if r is None:
        return doc
    return f"{doc} [allowed: {r.describe(name, _base(field_hints(cls)[name]) is int)}]"


@functools.lru_cache(maxsize=None)
def _fields(cls) -> dict:
    return {f.name: f for f in dataclasses.fields(cls)}


@functools.lru_cache(maxsize=None)
def field_hints(cls) -> dict:
    """Field name -> type hint of a config dataclass (resolved once per class)."""
    return {f.name: typing.get_type_hints(cls)[f.name] for f in dataclasses.fields(cls)}


def _base(hint):
    args = typing.get_args(hint)
    if type(None) in args:
        return [a for a in args if a is not type(None)][0]
    return hint


def _is_bool(v) -> bool:
    import numpy as np

    return isinstance(v, (bool, np.bool_))


def _is_int(v) -> bool:  # numpy integers too; never a bool
    return isinstance(v, numbers.Integral) and not _is_bool(v)


def _is_real(v) -> bool:  # an int or a float (numpy's too); never a bool
    return isinstance(v, numbers.Real) and not _is_bool(v)


def show(value) -> str:
    """repr for a message, kept short (and safe for ints too long for str())."""
    try:
        text = repr(value)
    except Exception:  # e.g. ValueError: an int with more than sys.get_int_max_str_digits() digits
        text = (f"<{'negative ' if value < 0 else ''}int of {value.bit_length()} bits>" if isinstance(value, int)
                else f"<{type(value).__name__}>")
    return text if len(text) <= 80 else text[:77] + "..."


def range_error(name: str, value, allowed: str) -> TandemInputError:
    """The error for a value out of range, named as its flag, with a safe repr of the value."""
    return TandemInputError(f"{flag(name)} {show(value)} is out of range: allowed {allowed}.")


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
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if type(None) in args:
        inner = [a for a in args if a is not type(None)][0]
        return _describe(inner) + (" or a path" if inner is str else "") + ", or None"
    return getattr(hint, "__name__", str(hint))


def coerce(cls, name: str, value):
    """``value`` for field ``name`` of config class ``cls`` as that field's type, or a TandemInputError naming
    the field as its flag. Lenient only where nothing is lost: numpy scalars, a path for a directory; never a
    bool for a number, a number for a bool, or a float for an integer."""
    hint = field_hints(cls)[name]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return None
        hint = _base(hint)
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
    elif origin is typing.Literal:
        ok = isinstance(value, str) and value in args
        out = str(value) if ok else value
    else:  # pragma: no cover - every config field has one of the types above
        raise TypeError(f"{cls.__name__}.{name}: unsupported type hint {hint!r}")
    if not ok:
        if origin is typing.Literal and isinstance(value, str):
            raise TandemInputError(f"{flag(name)} {show(value)} is not allowed: allowed {_describe(hint)}.")
        raise TandemInputError(f"{flag(name)} {show(value)} has the wrong type ({type(value).__name__}): "
                               f"allowed {_describe(field_hints(cls)[name])}.")
    return out


def validate_fields(cfg) -> None:
    """Every field of a config dataclass has its declared type, lies in its declared range and passes its
    declared check; the first that does not raises a TandemInputError naming it as its flag."""
    cls = type(cfg)
    for name in field_hints(cls):
        coerce(cls, name, getattr(cfg, name))
    for name in field_hints(cls):
        value, r = getattr(cfg, name), range_of(cls, name)
        if r is not None and value is not None:
            integer = _base(field_hints(cls)[name]) is int
            if not r.contains(value, integer):
                raise range_error(name, value, r.describe(name, integer))
        check = _fields(cls)[name].metadata.get("check")
        if check is not None:
            check(name, value)
