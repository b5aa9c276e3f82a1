"""tandem's own environments, under the ``tandem:`` prefix: Gymnasium-API classes run by the host runner.

An ID is ``tandem:NAME`` or ``tandem:NAME:KEY=VALUE,KEY=VALUE`` with options of that environment, e.g.
``tandem:Restaurant-v0:error_rate=0.3``. The ID, options included, is what config.json stores, so a run
rebuilds the same environment from it. An environment is an addition: one entry in :data:`ENVS`.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

from tandem.errors import TandemInputError

PREFIX = "tandem:"


@dataclasses.dataclass(frozen=True)
class OwnEnv:
    """entry: ``module:Class``; kwargs: fixed constructor arguments; options: the ID's options with their types
    and defaults; turn_limit: the option that is also the episode's step limit (gymnasium's TimeLimit);
    handcrafted: ``module:function`` of the obs -> action policy ``tandem collect --policy handcrafted`` runs."""

    entry: str
    about: str
    kwargs: dict
    options: dict[str, tuple[type, object]]
    turn_limit: str
    handcrafted: str | None = None


_RESTAURANT_OPTIONS = {"error_rate": (float, 0.15), "max_turns": (int, 30), "db_seed": (int, 0), "p_change": (float, 0.2)}
ENVS = {
    "Restaurant-v0": OwnEnv("tandem.envs.restaurant.env:RestaurantEnv",
                            "restaurant dialogue, master actions and the full belief state", {"summary": False},
                            _RESTAURANT_OPTIONS, "max_turns", "tandem.envs.restaurant.env:handcrafted_master"),
    "RestaurantSummary-v0": OwnEnv("tandem.envs.restaurant.env:RestaurantEnv",
                                   "restaurant dialogue, summary actions and summary state", {"summary": True},
                                   _RESTAURANT_OPTIONS, "max_turns", "tandem.envs.restaurant.env:handcrafted_summary"),
    "MaskedCartPole-v1": OwnEnv("tandem.envs.memory:MaskedCartPole", "CartPole-v1 with the velocities hidden", {},
                                {"max_steps": (int, 500)}, "max_steps"),
    "Memory-v0": OwnEnv("tandem.envs.memory:Memory", "recall at the last step the cue shown at the first", {},
                        {"steps": (int, 16), "cues": (int, 2)}, "steps"),
}


def allowed() -> str:
    """Every tandem: environment with its options, for messages and --help."""
    return "; ".join(f"{PREFIX}{n} ({e.about}; options " + ", ".join(f"{k}={d}" for k, (_, d) in e.options.items())
                     + ")" for n, e in ENVS.items())


def parse(env_id: str) -> tuple[str, OwnEnv, dict]:
    """(name, entry, options with defaults filled in) of a ``tandem:`` ID, or a TandemInputError naming the problem."""
    rest = env_id[len(PREFIX):]
    name, _, opts = rest.partition(":")
    if name not in ENVS:
        raise TandemInputError(f"--env {env_id!r}: {name!r} is not one of tandem's environments. Allowed: {allowed()}.")
    entry = ENVS[name]
    values = {k: d for k, (_, d) in entry.options.items()}
    for item in filter(None, opts.split(",")):
        key, eq, text = item.partition("=")
        if not eq or key not in entry.options:
            raise TandemInputError(f"--env {env_id!r}: option {item!r} is not KEY=VALUE with KEY one of "
                                   f"{', '.join(entry.options)}.")
        kind = entry.options[key][0]
        try:
            values[key] = kind(text)
        except ValueError:
            raise TandemInputError(f"--env {env_id!r}: option {key}={text!r} is not a{'n' if kind is int else ''} "
                                   f"{kind.__name__}.") from None
    return name, entry, values


def _load(path: str):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def make(env_id: str, **kwargs):
    """One environment of a ``tandem:`` ID, with its step limit (gymnasium's TimeLimit) and spec."""
    import gymnasium as gym

    name, entry, values = parse(env_id)
    registered = "tandem/" + name
    if registered not in gym.registry:
        gym.register(registered, entry_point=entry.entry, kwargs=entry.kwargs)
    try:
        return gym.make(registered, max_episode_steps=values[entry.turn_limit], disable_env_checker=True,
                        **values, **kwargs)
    except ValueError as e:
        raise TandemInputError(f"--env {env_id!r}: {e}.") from None


def handcrafted(env_id: str) -> Callable:
    """The handcrafted policy (obs -> action) of a ``tandem:`` environment, or a TandemInputError if it has none."""
    name, entry, _ = parse(env_id)
    if entry.handcrafted is None:
        have = [n for n, e in ENVS.items() if e.handcrafted]
        raise TandemInputError(f"--policy handcrafted: {env_id!r} has no handcrafted policy; these do: {have}.")
    return _load(entry.handcrafted)
