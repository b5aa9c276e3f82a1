"""The command line: ``tandem train|eval|plot|check-env``. The only module (with api.py) that parses input.

Exit codes: 0 done; 2 bad input (before anything is compiled or written); 1 a runtime failure,
reported in one paragraph; 130/143 after SIGINT/SIGTERM with a checkpoint written.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Sequence

USAGE = """usage: tandem COMMAND ...

commands:
  train ALGO [--env ID] [--total-steps N] [--seed S] [--num-seeds K] [--target-return R]
             [--run-dir DIR] [--resume DIR] [algorithm flags]     train an agent (ALGO: {algos})
  eval RUN_DIR [--episodes N] [--video out.mp4]   evaluate a run's latest checkpoint; prints JSON
  plot RUN_DIR... -o FILE.png        learning curves (mean and spread over seeds)
  check-env ID                       check that an environment follows the API
  search ALGO [--env ID] [--space SPACE] [--strategy random|evolution|controller|grid] --budget-steps N
              [--objective pareto|smallest-reaching --target R] [--seeds K] [--batch B] [--run-dir DIR]
              [--resume DIR] [train flags]       architecture search: a Pareto front of small actors
  export RUN_DIR [--member K] [--seed-index I] --format numpy|c|onnx -o OUT
                                     a run's policy as numpy-only Python, C99 or ONNX; prints JSON
  collect --env ID --policy handcrafted|random|RUN_DIR|replay:RUN_DIR [--episodes N] --out DIR [--seed S]
          [--stochastic]
                                     record episodes into a Minari dataset; prints JSON

`tandem train ALGO --help` lists every flag with its default for the chosen --env.
"""


def _err(msg: str, code: int) -> int:
    print(f"tandem: error: {msg}", file=sys.stderr)
    return code


def _peek_flag(args: Sequence[str], name: str) -> str | None:
    """Value of --name in args (as '--name V' or '--name=V'), without parsing the rest."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def _train(args: list[str]) -> int:
    from tandem.algos import algo_names

    if not args or args[0] in ("-h", "--help"):
        print(f"usage: tandem train ALGO [flags]   (ALGO: {', '.join(algo_names())}; "
              f"`tandem train ppo --help` lists the flags)")
        return 0 if args else 2
    algo, rest = args[0], args[1:]
    from tandem.algos import get_algo, preset
    from tandem.api import RENAMED
    from tandem.errors import TandemInputError
    from tandem.fields import flag

    get_algo(algo)  # unknown algorithm -> TandemInputError -> exit 2
    for old, new in RENAMED.items():
        if any(a == flag(old) or a.startswith(flag(old) + "=") for a in rest):
            raise TandemInputError(f"{flag(old)} was replaced by {flag(new)}, a network spec: e.g. {flag(new)} "
                                   f"mlp:64,64 for two hidden layers of 64 (see --help).")
    resume_dir = _peek_flag(rest, "--resume")
    if resume_dir is not None:
        return _resume(algo, resume_dir, rest)
    env = _peek_flag(rest, "--env") or get_algo(algo).default_env
    # Defaults shown in --help and used for unset flags are the preset for (algo, env).
    from tandem.config import RunConfig, TrainConfig

    algo_cfg, total = preset(algo, env)
    import tyro

    Args, split = _grouped_args(RunConfig(env=env, total_steps=total), algo_cfg)
    parsed = tyro.cli(Args, args=rest, prog=f"tandem train {algo}",
                      description=f"Train {algo.upper()} (defaults: the preset for --env {env}).",
                      config=(tyro.conf.OmitArgPrefixes,))
    run_cfg, algo_cfg = split(parsed)
    cfg = TrainConfig(algo, run_cfg, algo_cfg)
    cfg.validate()
    from tandem.api import run

    result = run(cfg)
    _report(result)
    return 0


def _grouped_args(run_cfg, algo_cfg):
    """A dataclass for tyro with one nested group per config group (run, environment, algorithm, networks,
    logging), each flag's help its field's doc and allowed range (tandem/fields.py), defaults from the
    given configs; and the function that turns a parsed one back into (RunConfig, algorithm config)."""
    from typing import Annotated

    import tyro

    from tandem.config import GROUPS
    from tandem.fields import aliases_of, field_hints, group_of, help_text

    members: dict[str, list] = {g: [] for g in GROUPS}
    for cfg, fallback in ((run_cfg, "run"), (algo_cfg, "algorithm")):
        cls = type(cfg)
        for name, hint in field_hints(cls).items():
            typ = Annotated[hint, tyro.conf.arg(help=help_text(cls, name), aliases=aliases_of(cls, name) or None)]
            members[group_of(cls, name) or fallback].append((name, typ, getattr(cfg, name), cls))
    groups = []
    for g, fields in members.items():
        if fields:
            cls = dataclasses.make_dataclass(
                g.capitalize(), [(n, t, dataclasses.field(default=d)) for n, t, d, _ in fields], frozen=True)
            groups.append((g, cls, fields))
    Args = dataclasses.make_dataclass(
        "Args", [(g, cls, dataclasses.field(default=cls())) for g, cls, _ in groups], frozen=True)

    def split(parsed):
        values = {type(run_cfg): {}, type(algo_cfg): {}}
        for g, _, fields in groups:
            for name, _, _, owner in fields:
                values[owner][name] = getattr(getattr(parsed, g), name)
        return type(run_cfg)(**values[type(run_cfg)]), type(algo_cfg)(**values[type(algo_cfg)])

    return Args, split


def _resume(algo: str, resume_dir: str, rest: list[str]) -> int:
    others = [a for a in rest if a.startswith("--") and a.split("=")[0] not in ("--resume", "--quiet", "--no-quiet")]
    from tandem.errors import TandemInputError

    if others:
        raise TandemInputError(f"--resume continues a run with its saved config; these flags cannot be changed "
                               f"on resume: {others}. Allowed with --resume: --quiet.")
    from tandem.api import load_run_config, resume

    cfg = load_run_config(resume_dir)
    if cfg.algo != algo:
        raise TandemInputError(f"--resume {resume_dir!r} is a {cfg.algo} run, not {algo}.")
    result = resume(resume_dir, quiet=True if "--quiet" in rest else None)
    _report(result)
    return 0


def _report(result) -> None:
    s = result.summary
    from rich.console import Console

    c = Console(stderr=False)
    ev = s["final_eval_return"]
    done = f"{s['updates']} gradient steps" if s["runner"] == "dataset" else f"{s['env_steps']} steps/seed"
    line = (f"[bold green]done[/] {s['algo']} {s['env']}: {done} in {s['wall_seconds']:.1f}s "
            f"(compile {s['compile_seconds']:.1f}s), eval return "
            f"{'n/a' if ev is None else f'{ev:.2f}'}")
    if s.get("target_return") is not None:
        line += (f", target {s['target_return']} reached at {s['steps_to_target']} steps" if s["reached_target"]
                 else f", target {s['target_return']} not reached")
    c.print(line)
    what = "summary.json; each phase's run in phases/" if "phases" in s else "summary.json, metrics.csv, checkpoints/, tb/"
    c.print(f"results in [bold]{result.run_dir}[/] ({what})")


def _eval(args: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="tandem eval", description="Evaluate a run's latest checkpoint (prints JSON).")
    p.add_argument("run_dir")
    p.add_argument("--episodes", type=int, default=10, help="deterministic episodes per seed (default 10)")
    p.add_argument("--video", default=None, metavar="PATH",
                   help="also write one episode of seed 0 as a video (PATH.mp4), or as a PNG strip of frames "
                        "(PATH.png, or wherever video encoding is unavailable); envs that render RGB frames only")
    ns = p.parse_args(args)
    from tandem.api import evaluate

    print(json.dumps(evaluate(ns.run_dir, ns.episodes, ns.video), indent=2))
    return 0


def _plot(args: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="tandem plot", description="Plot learning curves of one or more runs.")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .pdf, .svg)")
    p.add_argument("--x", choices=("env_steps", "wall_seconds"), default="env_steps", help="x axis")
    ns = p.parse_args(args)
    from tandem.plot import plot_runs

    out = plot_runs(ns.run_dirs, ns.output, x=ns.x)
    print(out)
    return 0


def _check_env(args: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="tandem check-env", description="Check an environment against the API.")
    p.add_argument("env_id")
    p.add_argument("--steps", type=int, default=200, help="random steps to take (default 200)")
    ns = p.parse_args(args)
    from tandem.envs.check import check_env, format_report

    problems = check_env(ns.env_id, steps=ns.steps)
    print(format_report(ns.env_id, problems))
    return 0 if not problems else 1


def _search(args: list[str]) -> int:
    import argparse
    import dataclasses as dc
    from pathlib import Path

    from tandem.errors import TandemInputError
    from tandem.search.run import OBJECTIVES, SearchConfig, search
    from tandem.search.space import DEFAULT_SPACE
    from tandem.search.strategies import STRATEGIES

    p = argparse.ArgumentParser(prog="tandem search", description="Architecture search: train many actor shapes "
                                "(a population per round, in as few compiled programs as the shapes allow) and "
                                "keep the Pareto front of actor size against return. Flags not listed here are "
                                "`tandem train ALGO` flags, shared by every member (e.g. --total-steps, --lr).")
    p.add_argument("algo", nargs="?")
    p.add_argument("--env", default=None)
    p.add_argument("--space", default=DEFAULT_SPACE, help=f"search space (default {DEFAULT_SPACE!r}: HyperPPO's)")
    p.add_argument("--strategy", default="random", help=f"one of {', '.join(STRATEGIES)}")
    p.add_argument("--budget-steps", type=int, default=None, help="env steps for the whole search (all seeds)")
    p.add_argument("--objective", default="pareto", help=f"one of {', '.join(OBJECTIVES)}")
    p.add_argument("--target", type=float, default=None, help="the return R of --objective smallest-reaching")
    p.add_argument("--param-penalty", type=float, default=0.0, help="pareto: score = return - this x log2(params)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per architecture")
    p.add_argument("--batch", type=int, default=8, help="architectures proposed and trained together per round")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default=None)
    p.add_argument("--resume", default=None, help="continue the search in this directory")
    p.add_argument("--quiet", action="store_true")
    ns, rest = p.parse_known_args(args)
    if ns.resume is not None:
        if rest or ns.algo:
            raise TandemInputError(f"--resume continues a search with its saved settings; allowed with it: --quiet "
                                   f"(got {' '.join(([ns.algo] if ns.algo else []) + rest)}).")
        run_dir = Path(ns.resume)
        cfg_path = run_dir / "search_config.json"
        if not cfg_path.is_file():
            raise TandemInputError(f"--resume {ns.resume!r}: no search_config.json there (not a search directory).")
        cfg = SearchConfig(**json.loads(cfg_path.read_text()))
        front = search(cfg, run_dir, quiet=ns.quiet, resume=True)
    else:
        if ns.algo is None:
            raise TandemInputError("search: give the algorithm, e.g. tandem search ppo --env gymnax:CartPole-v1 "
                                   "--budget-steps 2000000.")
        if ns.budget_steps is None:
            raise TandemInputError("search: --budget-steps N is required (env steps of the whole search).")
        from tandem.algos import get_algo, preset
        from tandem.config import RunConfig

        get_algo(ns.algo)
        env = ns.env or get_algo(ns.algo).default_env
        algo_cfg, total = preset(ns.algo, env)
        run_defaults = RunConfig(env=env, total_steps=total)
        overrides = {}
        if rest:
            import tyro

            Args, split = _grouped_args(run_defaults, algo_cfg)
            parsed = tyro.cli(Args, args=rest, prog=f"tandem search {ns.algo}", config=(tyro.conf.OmitArgPrefixes,))
            run_cfg, parsed_algo = split(parsed)
            for base, new in ((run_defaults, run_cfg), (algo_cfg, parsed_algo)):
                overrides.update({f.name: getattr(new, f.name) for f in dc.fields(new)
                                  if getattr(new, f.name) != getattr(base, f.name)})
        for name in ("seed", "num_seeds", "run_dir", "resume", "quiet", "env"):
            if name in overrides:
                raise TandemInputError(f"search: --{name.replace('_', '-')} is set by the search itself"
                                       + ("" if name != "num_seeds" else " (use --seeds)") + ".")
        cfg = SearchConfig(ns.algo, env, ns.space, ns.strategy, ns.budget_steps, ns.objective, ns.target,
                           ns.param_penalty, ns.seeds, ns.batch, ns.seed, overrides)
        run_dir = Path(ns.run_dir) if ns.run_dir else Path("runs") / f"search-{ns.algo}-{env.replace(':', '_')}"
        front = search(cfg, run_dir, quiet=ns.quiet)
    print(json.dumps({"run_dir": str(run_dir), "front": [{k: m[k] for k in ("member", "spec", "actor_params",
                                                                             "mean_return")} for m in front]},
                     indent=2))
    return 0


def _export(args: list[str]) -> int:
    import argparse

    from tandem.export import FORMATS, export

    p = argparse.ArgumentParser(prog="tandem export", description="Export a run's deterministic policy (observation "
                                "normalisation, the mlp actor, action rescaling) as code with no tandem or JAX "
                                "dependency; prints JSON (the files written, the weights' bytes).")
    p.add_argument("run_dir", help="a run directory (or, with --member, an architecture-search directory)")
    p.add_argument("--format", required=True, choices=FORMATS, help="numpy: one .py module needing only numpy; c: "
                   "OUT.h and OUT.c (C99, <math.h> only); onnx: an .onnx model (needs the export extra)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="OUT.py (numpy), OUT.onnx (onnx), or the stem OUT of OUT.h and OUT.c (c)")
    p.add_argument("--member", type=int, default=None, metavar="K",
                   help="export member K of a search (RUN_DIR/members/K)")
    p.add_argument("--seed-index", type=int, default=0, metavar="I", help="which seed of a multi-seed run (default 0)")
    ns = p.parse_args(args)
    print(json.dumps(export(ns.run_dir, ns.format, ns.output, member=ns.member, seed_index=ns.seed_index), indent=2))
    return 0


def _collect(args: list[str]) -> int:
    import argparse

    from tandem.collect import POLICIES, collect

    p = argparse.ArgumentParser(prog="tandem collect", description="Record episodes of a policy into a Minari "
                                "dataset (prints JSON: episodes, steps, mean return, success rate where the env "
                                "reports one). --dataset of `tandem train` reads it.")
    p.add_argument("--env", required=True, help="environment ID (as for tandem train)")
    p.add_argument("--policy", required=True, help=POLICIES)
    p.add_argument("--episodes", type=int, default=None, help="episodes to record (required, except with "
                   "replay:RUN_DIR, whose complete episodes are all written)")
    p.add_argument("--stochastic", action="store_true", help="a run's exploration policy (sampled, keyed by --seed) "
                   "instead of its deterministic one")
    p.add_argument("--seed-index", type=int, default=0, metavar="I", help="which seed of a multi-seed run "
                   "(default 0)")
    p.add_argument("--out", required=True, help="the dataset's directory (must not exist)")
    p.add_argument("--seed", type=int, default=0, help="episode k is reset with a seed derived from (seed, k)")
    p.add_argument("--dataset-id", default=None, help="the ID in the dataset's metadata (default ENV/POLICY-v0)")
    ns = p.parse_args(args)
    print(json.dumps(collect(ns.env, ns.policy, ns.episodes, ns.out, ns.seed, ns.dataset_id, ns.stochastic,
                             ns.seed_index), indent=2))
    return 0


COMMANDS = {"train": _train, "eval": _eval, "plot": _plot, "check-env": _check_env, "search": _search,
            "export": _export, "collect": _collect}


def main(argv: Sequence[str] | None = None) -> int:
    """Run a ``tandem`` command; returns its exit code (never raises for bad input or a failed run)."""
    from tandem.algos import algo_names
    from tandem.errors import Interrupted, TandemInputError, TandemRuntimeError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE.format(algos=", ".join(algo_names())))
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from tandem import __version__

        print(__version__)
        return 0
    cmd = COMMANDS.get(argv[0])
    if cmd is None:
        return _err(f"unknown command {argv[0]!r}; allowed: {', '.join(COMMANDS)}.", 2)
    try:
        return cmd(argv[1:])
    except TandemInputError as e:
        return _err(str(e), 2)
    except Interrupted as e:
        if e.immediate:
            return _err("interrupted again: stopped at once, without a new checkpoint; the checkpoints already "
                        "complete are intact; continue with --resume.", e.exit_code)
        return _err(f"interrupted; checkpoint written to {e.checkpoint}; continue with --resume.", e.exit_code)
    except TandemRuntimeError as e:
        return _err(str(e), 1)
    except SystemExit as e:  # argparse/tyro: 2 for bad flags, 0 for --help
        return e.code if isinstance(e.code, int) else 2
    except KeyboardInterrupt:
        return _err("interrupted.", 130)
    except Exception as e:  # an unexpected failure: one paragraph, no traceback unless asked
        import os
        import traceback

        if os.environ.get("TANDEM_DEBUG"):
            traceback.print_exc()
        return _err(f"runtime failure: {type(e).__name__}: {e} (set TANDEM_DEBUG=1 for the traceback).", 1)


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
