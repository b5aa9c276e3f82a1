"""Algorithm registry: a name -> config class, default overrides, per-env presets, learner factory.

A2C is registered as PPO with other defaults: one implementation, two presets.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from tandem.errors import TandemInputError


@dataclasses.dataclass(frozen=True)
class Algo:
    name: str
    config_cls: type
    defaults: dict
    presets: dict  # env id -> (overrides for the algo config, default total_steps)
    make_learner: Callable[..., Any]
    family: str  # "on_policy" for rollout learners


def _registry() -> dict[str, Algo]:
    from tandem.algos.ppo import config as ppo_config
    from tandem.algos.ppo.learner import make_learner
    from tandem.algos.ppo.presets import A2C_PRESETS, PPO_PRESETS

    return {
        "ppo": Algo("ppo", ppo_config.PPOConfig, {}, PPO_PRESETS, make_learner, "on_policy"),
        "a2c": Algo("a2c", ppo_config.PPOConfig, ppo_config.A2C_DEFAULTS, A2C_PRESETS, make_learner, "on_policy"),
    }


ALGO_NAMES = ("ppo", "a2c")


def get_algo(name: str) -> Algo:
    if name not in ALGO_NAMES:
        raise TandemInputError(f"unknown algorithm {name!r}; allowed: {', '.join(ALGO_NAMES)}.")
    return _registry()[name]


def preset(name: str, env_id: str) -> tuple[Any, int]:
    """The tuned config for (algorithm, env) and its default total_steps; a sensible fallback otherwise."""
    algo = get_algo(name)
    overrides, total = algo.presets.get(env_id, algo.presets["default"])
    cfg = algo.config_cls(**{**algo.defaults, **overrides})
    return cfg, total
