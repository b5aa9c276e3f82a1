"""A population: many architectures, each with its own seeds, parameters and optimizer state, trained together.

Members whose networks have the same depth and activation share a *bucket*: one tandem run whose networks
are the bucket's padded shape (each hidden layer as wide as its widest member), its seed axis holding every
(member, seed) pair, vmapped and sharded over devices as seeds are (runners/jax_runner.py). A member starts
from its own shape's initialisation (the start state its seed gives a standalone run), zero-padded to the
bucket's shape. The padding is exact without masks: every activation tandem has maps 0 to 0, so a padded
unit's output is 0, every weight out of it and into it gets a zero gradient, and the optimizers (Adam,
RMSprop, SGD; weight decay of 0 is 0) keep zeros at zero. A member therefore computes what its own network
computes and trains as it would alone (up to the order of floating-point sums in wider matrix products);
tests/test_search.py checks outputs, gradients and whole runs.

A bucket is a run directory under the search's ``population/``: interrupted, it resumes like ``tandem train``.
An env without a JAX runner (Gymnasium) trains one run per architecture (its seeds vmapped), one after another.
Each member's state can be cut out of its bucket into a standalone run directory (:func:`write_member`):
``tandem eval``, ``tandem export`` and ``load_policy`` read it like any run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np

from tandem.errors import TandemInputError
from tandem.search.space import Arch

POPULATION_FILE = "population.json"
EVAL_FILE = "eval.json"


@dataclasses.dataclass(frozen=True)
class MemberResult:
    """One architecture's outcome: deterministic evaluation return per seed, env steps per seed, actor and
    total parameter counts (its own shape, not the bucket's)."""

    arch: Arch
    seeds: tuple[int, ...]
    returns: tuple[float, ...]
    env_steps: int
    actor_params: int
    params: int


def bucket_key(arch: Arch) -> tuple:
    """Members with equal keys train in one program: the depth of each searched net and the activation."""
    return (None if arch.actor is None else len(arch.actor), None if arch.critic is None else len(arch.critic),
            arch.activation)


def padded(archs: list[Arch]) -> Arch:
    """The bucket's shape: each hidden layer as wide as its widest member (all of one :func:`bucket_key`)."""
    def widest(name):
        shapes = [getattr(a, name) for a in archs]
        return None if shapes[0] is None else tuple(max(ws) for ws in zip(*shapes))

    return Arch(widest("actor"), widest("critic"), archs[0].activation)


def pad_to(tree, template):
    """Every leaf of ``tree`` zero-padded at the end of each axis to the shape of ``template``'s leaf."""
    def one(x, t):
        x = np.asarray(x)
        if x.shape == tuple(t.shape):
            return x
        if x.ndim != len(t.shape) or any(a > b for a, b in zip(x.shape, t.shape)):
            raise ValueError(f"cannot pad a leaf of shape {x.shape} to {tuple(t.shape)}")
        return np.pad(x, [(0, b - a) for a, b in zip(x.shape, t.shape)])

    return jax.tree_util.tree_map(one, tree, template)


def cut_to(tree, template, lead: int = 0):
    """The inverse of :func:`pad_to`: each leaf sliced to the shape of ``template``'s leaf (after ``lead``
    leading axes the template does not have, e.g. a seed axis)."""
    return jax.tree_util.tree_map(
        lambda x, t: np.asarray(x)[(slice(None),) * lead + tuple(slice(0, n) for n in t.shape)], tree, template)


class Trainer:
    """Trains architectures of one (algorithm, env, base overrides) and reports :class:`MemberResult` s.

    ``overrides``: RunConfig and algorithm fields every member shares (total_steps, lr, ...); each member adds its
    architecture's. ``seeds``: the seeds every architecture is trained with (the same for all: common random
    numbers make architectures comparable)."""

    def __init__(self, algo: str, env: str, overrides: dict, seeds: tuple[int, ...]):
        from tandem.api import resolve_config
        from tandem.envs import env_spec
        from tandem.runners.driver import runner_of

        self.algo, self.env, self.seeds = algo, env, tuple(seeds)
        self.overrides = {k: v for k, v in overrides.items() if k not in ("seed", "num_seeds", "run_dir", "quiet")}
        self.base = resolve_config(algo, env, **self.overrides)
        self.spec = env_spec(self.base.run.env)
        self.runner = runner_of(self.base, self.spec)
        if self.base.algo_config.needs.worker_gradients or self.base.run.num_workers is not None:
            raise TandemInputError(f"search: {algo} with Ray workers is not supported; allowed: ppo, a2c, impala, "
                                   f"sac, td3, ddpg without --num-workers.")
        if getattr(self.base.algo_config, "use_sde", False):
            raise TandemInputError("search: --use-sde draws its exploration matrix at the width of the network, so a "
                                   "padded member would not explore as it would alone; allowed: --no-use-sde.")

    def config(self, arch: Arch, num_seeds: int, seed: int, run_dir: Path | None = None, **extra):
        """The validated TrainConfig of ``arch`` (or a bucket's padded shape)."""
        from tandem.api import resolve_config

        return resolve_config(self.algo, self.env, **{**self.overrides, **arch.overrides(), "seed": seed,
                                                      "num_seeds": num_seeds, "quiet": True,
                                                      "run_dir": None if run_dir is None else str(run_dir), **extra})

    def steps_per_member(self) -> int:
        """Env steps one architecture costs: its seeds times the steps of a run (rounded up to whole rollouts)."""
        per_update = self.base.algo_config.needs.steps_per_update
        return len(self.seeds) * per_update * max(1, -(-self.base.run.total_steps // per_update))

    def param_counts(self, arch: Arch) -> tuple[int, int]:
        """(actor, total) parameter counts of an architecture's own networks (no compilation)."""
        from tandem.nets.spec import num_params

        params = jax.eval_shape(self._agent(arch).init, jax.random.PRNGKey(0)).learner.params
        return num_params(params["actor"]), num_params(params)

    def check_fits(self, arch: Arch, members: int) -> None:
        """Preflight of ``members`` copies of ``arch`` (e.g. the space's widest): the networks build and the state
        fits in memory, before anything is allocated (TandemInputError naming the problem)."""
        from tandem.runners.build import preflight

        preflight(self.config(arch, members * len(self.seeds), 0), self.spec)

    def _agent(self, arch: Arch):
        from tandem.runners.agent import make_agent
        from tandem.runners.build import make_learner
        from tandem.runners.schedule import schedule

        cfg = self.config(arch, 1, 0)
        return make_agent(make_learner(cfg, self.spec, schedule(cfg)), cfg.algo_config.needs, self.spec)

    # -- training ---------------------------------------------------------------------------------
    def train(self, archs: list[Arch], root: Path, on_bucket=None) -> list[MemberResult]:
        """Train ``archs`` (each with every seed) in run directories under ``root``, resuming any left unfinished.
        Returns their results in order. ``on_bucket(done, total)`` is called after each bucket."""
        groups: dict[tuple, list[int]] = {}
        if self.runner == "jax":
            for i, a in enumerate(archs):
                groups.setdefault(bucket_key(a), []).append(i)
        else:  # a Gymnasium env: one run per architecture, its seeds together
            groups = {(i,): [i] for i in range(len(archs))}
        results: list[MemberResult | None] = [None] * len(archs)
        for b, idx in enumerate(groups.values()):
            for i, r in zip(idx, self._bucket([archs[i] for i in idx], root / f"bucket-{b}")):
                results[i] = r
            if on_bucket is not None:
                on_bucket(b + 1, len(groups))
        return results

    def _bucket(self, archs: list[Arch], run_dir: Path) -> list[MemberResult]:
        from tandem.io.run_dir import write_json

        S = len(self.seeds)
        shape = padded(archs)
        members = {"archs": [a.to_dict() for a in archs], "seeds": list(self.seeds), "shape": shape.to_dict(),
                   "positions": [[m * S + k for k in range(S)] for m in range(len(archs))]}
        summary_path, eval_path = run_dir / "summary.json", run_dir / EVAL_FILE
        positions = [s for _ in archs for s in self.seeds]
        if not summary_path.exists():
            pop_file = run_dir / POPULATION_FILE
            resume = (pop_file.exists() and json.loads(pop_file.read_text()) == members
                      and (run_dir / "checkpoints").is_dir())
            if not resume and run_dir.exists():
                import shutil

                shutil.rmtree(run_dir)  # started, but not one checkpoint written: start it again
            driver, state = self._run(archs, shape, positions, run_dir, resume, members)
        elif not eval_path.exists():
            from tandem.api import _load_final

            _, _, driver, state = _load_final(run_dir)
        else:
            driver = None
        if driver is not None:
            try:
                E = self.base.run.eval_episodes
                returns = (driver.evaluate(state, E, self.seeds[0], seeds=positions) if self.runner == "jax"
                           else driver.evaluate(state, E, self.seeds[0]))
            finally:
                driver.close()
            write_json(eval_path, {"episodes": E, "seeds": positions, "returns": np.asarray(returns).tolist()})
        summary, evals = json.loads(summary_path.read_text()), json.loads(eval_path.read_text())
        out = []
        for m, a in enumerate(archs):
            actor, total = self.param_counts(a)
            rets = [float(np.mean(evals["returns"][p])) for p in members["positions"][m]]
            out.append(MemberResult(a, self.seeds, tuple(rets), int(summary["env_steps"]), actor, total))
        return out

    def _run(self, archs, shape, positions, run_dir: Path, resume: bool, members: dict):
        """Train one bucket (the final evaluation is the caller's: by each member's seed). Returns (driver, state)."""
        from tandem.io.run_dir import write_json
        from tandem.runners.build import preflight
        from tandem.runners.loop import run_training

        S = len(self.seeds)
        single = len(set(archs)) == 1 and self.runner != "jax"
        cfg = self.config(shape, len(positions), self.seeds[0], run_dir, eval_episodes=0)
        preflight(cfg, self.spec)
        if not resume:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / "config.json", cfg.to_dict())
            write_json(run_dir / POPULATION_FILE, members)
        init = None
        if not single:
            if self.runner != "jax":
                raise TandemInputError("search: several architectures in one run need the JAX runner.")
            init = lambda driver: self._initial_state(driver, archs, positions, S)  # noqa: E731
        elif self.seeds != tuple(range(self.seeds[0], self.seeds[0] + S)):
            raise TandemInputError(f"search: the seeds {self.seeds} of a Gymnasium env must be consecutive.")
        _, driver, state, _ = run_training(cfg, run_dir, self.spec, resume=resume, initial_state=init)
        return driver, state

    def _initial_state(self, driver, archs: list[Arch], positions: list[int], S: int):
        """Position m*S+k starts as seed k of member m alone would, its agent zero-padded to the bucket's shape."""
        state = driver.init_seeds(positions)
        template = jax.tree_util.tree_map(lambda x: x[0], state.agent)
        distinct = list(dict.fromkeys(archs))
        fns = [self._agent(a).init for a in distinct]
        keys = jax.numpy.stack([driver.split_key(jax.random.PRNGKey(s))[0] for s in self.seeds])
        # Every shape's initialisation in one compiled program: 7 shapes compiled in 13.5 s together; one shape alone
        # took 2.3-2.9 s (4 measured), so about 17 s for 7 one by one (extrapolated).
        own = jax.tree_util.tree_map(np.asarray, jax.jit(lambda ks: [jax.lax.map(f, ks) for f in fns])(keys))
        inits = dict(zip(distinct, own))
        agents = [pad_to(jax.tree_util.tree_map(lambda x: x[k], inits[a]), template) for a in archs for k in range(S)]
        stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *agents)
        return state.replace(agent=jax.device_put(stacked, driver.sharding))

    # -- a member as a run of its own -------------------------------------------------------------
    def write_member(self, root: Path, archs: list[Arch], index: int, out_dir: Path) -> Path:
        """Cut architecture ``archs[index]`` (trained by :meth:`train` under ``root``) out of its bucket's latest
        checkpoint into ``out_dir``: a standalone run directory (config.json, one checkpoint, member.json)."""
        from tandem.io.checkpoint import latest_checkpoint, load_checkpoint, read_manifest, save_checkpoint
        from tandem.io.run_dir import write_json
        from tandem.runners.build import build
        from tandem.runners.checkpointing import manifest_for

        run_dir = self._bucket_dir(root, archs, index)
        members = json.loads((run_dir / POPULATION_FILE).read_text())
        m = [Arch.from_dict(d) for d in members["archs"]].index(archs[index])
        pos = members["positions"][m]
        ckpt = latest_checkpoint(run_dir / "checkpoints")
        manifest = read_manifest(ckpt)
        bucket_cfg = self.config(Arch.from_dict(members["shape"]), len(members["archs"]) * len(self.seeds),
                                 self.seeds[0], run_dir)
        _, driver, _ = build(bucket_cfg, self.spec)
        template = jax.tree_util.tree_map(np.asarray, driver.template(self.seeds[0]))
        driver.close()
        state, _ = load_checkpoint(ckpt, template, expect_algo=self.algo)
        mine = jax.tree_util.tree_map(lambda x: x[np.asarray(pos)], state)
        own = jax.eval_shape(self._agent(archs[index]).init, jax.random.PRNGKey(0))  # one seed's shapes
        agent = cut_to(mine.agent, own, lead=1)
        mine = dataclasses.replace(mine, agent=agent) if dataclasses.is_dataclass(mine) else mine._replace(agent=agent)
        cfg = self.config(archs[index], len(self.seeds), self.seeds[0], out_dir)
        from tandem.runners.build import make_learner
        from tandem.runners.schedule import schedule

        learner = make_learner(cfg, self.spec, schedule(cfg))
        position = {k: manifest[k] for k in ("phase", "phase_index", "phase_updates", "counters")}
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / "config.json", cfg.to_dict())
        write_json(out_dir / "member.json", {"arch": archs[index].to_dict(), "seeds": list(self.seeds),
                                             "bucket": str(run_dir), "positions": pos})
        save_checkpoint(out_dir / "checkpoints", 1, mine,
                        manifest_for(cfg, learner, self.spec, position, float(manifest.get("wall_seconds", 0.0))),
                        keep=1)
        return out_dir

    def _bucket_dir(self, root: Path, archs: list[Arch], index: int) -> Path:
        for d in sorted(root.glob("bucket-*")):
            f = d / POPULATION_FILE
            if f.exists() and archs[index].to_dict() in json.loads(f.read_text())["archs"]:
                return d
        raise TandemInputError(f"no trained bucket under {root} holds {archs[index].label()!r}.")
