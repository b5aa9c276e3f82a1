"""Training from demonstrations in stages, in one run directory:

    tandem train a2c --env tandem:Restaurant-v0 --dataset D --pretrain bc:2000 --offline iql:5000 --total-steps 50000

runs behaviour cloning on D for 2,000 gradient steps, then batch RL (IQL) on D for 5,000, then A2C online for
50,000 env steps, each started from the networks of the one before (``--init-from``, runners/init_from.py: the
actor always, and IQL's state-value network as A2C's critic, so the online phase starts with a critic that
already values the cloned policy's states instead of a random one). Either stage may be left out.

Each phase is a run of its own under ``RUN_DIR/phases/`` (``1-bc``, ``2-iql``, ``3-a2c``) with its config.json,
metrics.csv, checkpoints and summary.json; RUN_DIR holds the whole config and, at the end, summary.json (the
last phase's, with every phase's figures under ``phases``). The phases share the online algorithm's
``--actor-net``, ``--activation`` and discount, and IQL's value network takes its ``--critic-net``, so the
networks carry over. ``--resume RUN_DIR`` skips the finished phases and resumes the one in progress from its
latest checkpoint, exactly as a single run resumes.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tandem.errors import TandemInputError

PHASE_ALGOS = {"pretrain": ("bc",), "offline": ("iql", "td3bc", "sacrnd")}
"""The algorithms each stage flag allows."""


def parse_stage(flag: str, text: str) -> tuple[str, int]:
    """(algorithm, gradient steps) of ``--pretrain``/``--offline`` ``ALGO:STEPS``, or a TandemInputError."""
    allowed = PHASE_ALGOS[flag]
    algo, sep, steps = text.partition(":")
    if not sep or algo not in allowed:
        raise TandemInputError(f"--{flag} {text!r}: expected ALGO:STEPS with ALGO one of {', '.join(allowed)} "
                               f"(e.g. {allowed[0]}:2000).")
    try:
        n = int(steps)
    except ValueError:
        n = 0
    if n < 1:
        raise TandemInputError(f"--{flag} {text!r}: STEPS must be an integer >= 1 (gradient steps of that phase).")
    return algo, n


def stages(cfg) -> list[tuple[str, str, int]]:
    """The offline stages of a config, in order: (flag, algorithm, steps)."""
    out = []
    for flag in ("pretrain", "offline"):
        text = getattr(cfg.run, flag)
        if text is not None:
            out.append((flag, *parse_stage(flag, text)))
    return out


def is_pipeline(cfg) -> bool:
    """Whether a config trains in stages (--pretrain or --offline)."""
    return cfg.run.pretrain is not None or cfg.run.offline is not None


STAGE_DISTRIBUTION = {"tanh_diag_gaussian_state_dependent_std": "tanh_gaussian",
                      "diag_gaussian_state_independent_log_std": "gaussian"}
"""A stage's --distribution for the online learner's actor (its network_spec's ``distribution``): SAC's
tanh-Gaussian, or the on-policy Gaussian with a state-independent log std."""


def _shared(algo: str, online, online_distribution: str | None) -> dict:
    """The fields a stage takes from the online algorithm's config so that its networks carry over."""
    from tandem.algos import get_algo

    mine = {f.name for f in dataclasses.fields(get_algo(algo).config_cls)}
    theirs = dataclasses.asdict(online.algo_config)
    out = {k: theirs[k] for k in ("actor_net", "activation", "gamma") if k in mine and k in theirs}
    if "distribution" in mine and online_distribution in STAGE_DISTRIBUTION:
        out["distribution"] = STAGE_DISTRIBUTION[online_distribution]
    if "value_net" in mine and "critic_net" in theirs and online.algo_config.needs.replay is None:
        out["value_net"] = theirs["critic_net"]   # IQL's V(s) becomes the on-policy critic V(s)
    elif "critic_net" in mine and "critic_net" in theirs and online.algo_config.needs.replay is not None:
        out["critic_net"] = theirs["critic_net"]  # Q(s, a) into Q(s, a)
    return out


def phase_configs(cfg, run_dir: Path) -> list[tuple[str, object]]:
    """(name, TrainConfig) of every phase, each validated: the offline stages, then the online run."""
    from tandem.api import resolve_config
    from tandem.envs import env_spec
    from tandem.runners.build import make_learner
    from tandem.runners.schedule import schedule

    r, spec = cfg.run, env_spec(cfg.run.env)
    distribution = make_learner(cfg, spec, schedule(cfg)).network_spec.get("distribution")
    common = {"seed": r.seed, "num_seeds": r.num_seeds, "eval_episodes": r.eval_episodes,
              "tensorboard": r.tensorboard, "quiet": r.quiet}
    phases, previous = [], None
    for k, (_, algo, steps) in enumerate(stages(cfg), start=1):
        name = f"{k}-{algo}"
        sub = resolve_config(algo, r.env, total_steps=steps, dataset=r.dataset, init_from=previous,
                             run_dir=str(run_dir / "phases" / name), **common, **_shared(algo, cfg, distribution))
        phases.append((name, sub))
        previous = sub.run.run_dir
    name = f"{len(phases) + 1}-{cfg.algo}"
    online = dataclasses.replace(cfg, run=dataclasses.replace(r, pretrain=None, offline=None, dataset=None,
                                                              init_from=previous, run_dir=str(run_dir / "phases" / name)))
    online.validate()
    phases.append((name, online))
    check_chain(phases, spec)
    return phases


def check_chain(phases: list[tuple[str, object]], spec) -> None:
    """TandemInputError unless each phase's actor fits the next one's (and both normalise observations or neither):
    what --init-from checks of a finished run, checked here on the networks' shapes before any phase runs."""
    import jax

    from tandem.runners.build import make_learner
    from tandem.runners.init_from import carried_actor, refuse_actor, refuse_normalisation
    from tandem.runners.schedule import schedule

    learners = [make_learner(c, spec, schedule(c)) for _, c in phases]
    actors = [jax.eval_shape(learner.init, jax.random.PRNGKey(0)).params["actor"] for learner in learners]
    for (before, a), (after, b), theirs, mine, learner in zip(phases, phases[1:], actors, actors[1:], learners[1:]):
        what = f"phase {after} from phase {before}"
        if carried_actor(mine, theirs, 0) is None:
            raise refuse_actor(what, a, b)
        problem = refuse_normalisation(what, a, b, spec, learner.network_spec)
        if problem:
            raise problem


def _phase_summary(name: str, s: dict) -> dict:
    keys = ("algo", "runner", "updates", "env_steps", "episodes", "wall_seconds", "compile_seconds",
            "final_eval_return", "final_eval_return_per_seed", "params_fingerprint")
    return {"phase": name, **{k: s.get(k) for k in keys}}


def run_pipeline(cfg, run_dir: Path, resume: bool = False, quiet: bool | None = None):
    """Run (or, with ``resume``, continue) every phase of a staged config in ``run_dir``. Returns the TrainResult
    of the last phase, its summary extended with ``phases``."""
    from tandem.api import load_run_config, resume as resume_run, run
    from tandem.io.checkpoint import latest_checkpoint
    from tandem.io.run_dir import write_json

    phases = phase_configs(cfg, run_dir)
    if not resume:   # every phase's config is valid and the dataset fits: now the directory
        from tandem.buffers.dataset import check

        check(cfg.run.dataset, cfg.run.env)
        if cfg.run.prefill is not None:
            check(cfg.run.prefill, cfg.run.env, "--prefill")
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", cfg.to_dict())
    done, result = [], None
    for name, sub in phases:
        d = Path(sub.run.run_dir)
        if quiet is not None:
            sub = dataclasses.replace(sub, run=dataclasses.replace(sub.run, quiet=quiet))
        if (d / "summary.json").is_file() and latest_checkpoint(d / "checkpoints") is not None:
            done.append(_phase_summary(name, json.loads((d / "summary.json").read_text())))
            continue
        if latest_checkpoint(d / "checkpoints") is not None:
            load_run_config(d)
            result = resume_run(d, quiet=sub.run.quiet)
        else:
            if d.exists():   # started, stopped before its first checkpoint: nothing of it to keep
                import shutil

                shutil.rmtree(d)
            result = run(sub)
        done.append(_phase_summary(name, result.summary))
    if result is None:   # every phase had finished: the last one's policy
        from tandem.api import TrainResult, load_policy

        last = Path(phases[-1][1].run.run_dir)
        result = TrainResult(json.loads((last / "summary.json").read_text()), load_policy(last), last)
    summary = {**result.summary, "run_dir": str(run_dir), "phases": done}
    write_json(run_dir / "summary.json", summary)
    return result._replace(summary=summary, run_dir=run_dir)
