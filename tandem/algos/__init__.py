"""Algorithm registry: a name -> config class, default overrides, per-env presets, learner factory.

A2C is registered as PPO with other defaults, DDPG as TD3 with other defaults, A3C as A2C whose runner computes
the gradients on its workers: one implementation each.
An algorithm is an addition: a folder ``algos/<name>/`` and one line in ``_builtin()`` (or a call to
:func:`register_algo` from user code).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from tandem.errors import TandemInputError


@dataclasses.dataclass(frozen=True)
class Algo:
    """name; config_cls (a frozen dataclass with ``validate()`` and a ``needs`` property); defaults
    (overrides of the config's defaults); presets (env id -> (overrides, default total_steps), with a
    "default" entry); make_learner(cfg, spec, total_updates) -> Learner; default_env (without --env)."""

    name: str
    config_cls: type
    defaults: dict
    presets: dict
    make_learner: Callable[..., Any]
    default_env: str


_REGISTERED: dict[str, Algo] = {}


def _builtin() -> dict[str, Algo]:
    from tandem.algos.bc.config import BCConfig
    from tandem.algos.bc.learner import make_learner as bc_learner
    from tandem.algos.iql.config import IQLConfig
    from tandem.algos.iql.learner import make_learner as iql_learner
    from tandem.algos.impala.config import IMPALA_DEFAULTS, IMPALAConfig
    from tandem.algos.impala.learner import make_learner as impala_learner
    from tandem.algos.impala.presets import IMPALA_PRESETS
    from tandem.algos.ppo import config as ppo_config
    from tandem.algos.ppo.learner import make_learner as ppo_learner
    from tandem.algos.ppo.presets import A2C_PRESETS, A3C_PRESETS, PPO_PRESETS
    from tandem.algos.sac.config import SACConfig
    from tandem.algos.sac.learner import make_learner as sac_learner
    from tandem.algos.sac.presets import SAC_PRESETS
    from tandem.algos.sacrnd.config import SACRNDConfig
    from tandem.algos.sacrnd.learner import make_learner as sacrnd_learner
    from tandem.algos.td3.config import DDPG_DEFAULTS, TD3Config
    from tandem.algos.td3bc.config import TD3BCConfig
    from tandem.algos.td3bc.learner import make_learner as td3bc_learner
    from tandem.algos.td3.learner import make_learner as td3_learner
    from tandem.algos.td3.presets import DDPG_PRESETS, TD3_PRESETS

    return {
        "ppo": Algo("ppo", ppo_config.PPOConfig, {}, PPO_PRESETS, ppo_learner, "CartPole-v1"),
        "a2c": Algo("a2c", ppo_config.PPOConfig, ppo_config.A2C_DEFAULTS, A2C_PRESETS, ppo_learner,
                    "CartPole-v1"),
        "ddpg": Algo("ddpg", TD3Config, DDPG_DEFAULTS, DDPG_PRESETS, td3_learner, "Pendulum-v1"),
        "td3": Algo("td3", TD3Config, {}, TD3_PRESETS, td3_learner, "Pendulum-v1"),
        "sac": Algo("sac", SACConfig, {}, SAC_PRESETS, sac_learner, "Pendulum-v1"),
        "a3c": Algo("a3c", ppo_config.A3CConfig, ppo_config.A2C_DEFAULTS, A3C_PRESETS, ppo_learner, "CartPole-v1"),
        "impala": Algo("impala", IMPALAConfig, IMPALA_DEFAULTS, IMPALA_PRESETS, impala_learner, "CartPole-v1"),
        "bc": Algo("bc", BCConfig, {}, {"default": ({}, 10_000)}, bc_learner, "tandem:Restaurant-v0"),
        "iql": Algo("iql", IQLConfig, {}, {"default": ({}, 100_000)}, iql_learner, "tandem:Restaurant-v0"),
        "td3bc": Algo("td3bc", TD3BCConfig, {}, {"default": ({}, 100_000)}, td3bc_learner, "Pendulum-v1"),
        "sacrnd": Algo("sacrnd", SACRNDConfig, {}, {"default": ({}, 100_000)}, sacrnd_learner, "Pendulum-v1"),
    }


ALGO_NAMES = ("ppo", "a2c", "ddpg", "td3", "sac", "impala", "a3c")
"""The built-in online algorithms."""
OFFLINE_ALGOS = ("bc", "iql", "td3bc", "sacrnd")
"""The built-in offline algorithms: they train on a dataset (``--dataset``), and the env only evaluates them."""


def register_algo(algo: Algo) -> None:
    """Add an algorithm to the registry (``tandem train NAME`` and ``tandem.train(NAME, ...)``)."""
    _REGISTERED[algo.name] = algo


def algo_names() -> tuple[str, ...]:
    """Every algorithm name: the built-in ones, then the registered ones."""
    builtin = ALGO_NAMES + OFFLINE_ALGOS
    return builtin + tuple(n for n in _REGISTERED if n not in builtin)


def get_algo(name: str) -> Algo:
    """The registry entry of ``name``, or a TandemInputError listing the algorithms allowed."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in ALGO_NAMES + OFFLINE_ALGOS:
        raise TandemInputError(f"unknown algorithm {name!r}; allowed: {', '.join(algo_names())}.")
    return _builtin()[name]


def preset(name: str, env_id: str) -> tuple[Any, int]:
    """The tuned config for (algorithm, env) and its default total_steps; a sensible fallback otherwise."""
    algo = get_algo(name)
    overrides, total = algo.presets.get(env_id, algo.presets["default"])
    cfg = algo.config_cls(**{**algo.defaults, **overrides})
    return cfg, total
