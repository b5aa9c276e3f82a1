"""The run's configuration: frozen, typed, validated before anything is compiled or written.

Fields carry their doc, range and config group (:mod:`tandem.fields`): run, environment, algorithm,
networks, logging. ``--help`` shows them by group.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tandem.errors import TandemInputError
from tandem.fields import INT32_MAX, SEED_MAX, field, range_error, validate_fields

GROUPS = ("run", "environment", "algorithm", "networks", "ray", "logging")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What to train on and how the run is driven (shared by every algorithm)."""

    env: str = field("CartPole-v1", "Environment: a Gymnasium ID (CartPole-v1), gymnax:<name> (gymnax:CartPole-v1), "
                                    "tandem:<name>[:key=value,...] (tandem:Restaurant-v0:error_rate=0.3), "
                                    "or package.module:ClassName.", group="environment")
    total_steps: int = field(100_000, "Environment steps per seed (rounded up to whole rollouts).", lo=1, group="run")
    seed: int = field(0, "Random seed; with --num-seeds K the seeds are seed, seed+1, ..., seed+K-1.", lo=0,
                      hi=SEED_MAX, group="run")
    num_seeds: int = field(1, "Independent seeds trained together in one program (vmapped over seeds).", lo=1,
                           hi=4096, group="run")
    target_return: float | None = field(None, "Stop once the mean return of the last 20 finished training episodes "
                                              "reaches this (every seed).", group="run")
    run_dir: str | None = field(None, "Run directory (default: runs/<algo>-<env>-<time>).", group="run")
    resume: str | None = field(None, "Resume the run in this directory from its latest checkpoint, up to its "
                                     "configured total.", group="run")
    eval_episodes: int = field(10, "Deterministic evaluation episodes per seed at the end of the run.", lo=0,
                               group="run")
    capture_video: bool = field(False, "Write one deterministic episode of seed 0 as a video at each checkpoint "
                                       "(the last one included): RUN_DIR/videos/step_<env steps>.mp4, or a PNG strip "
                                       "where video encoding is unavailable. Envs that render RGB frames only.",
                                group="logging")
    log_every: int = field(0, "Updates between metric rows (0: about 50 rows per run).", lo=0, group="logging")
    checkpoint_every: int = field(0, "Updates between checkpoints (0: about 5 per run); a final checkpoint is always "
                                     "written.", lo=0, group="logging")
    async_envs: bool = field(False, "Gymnasium envs in subprocesses (AsyncVectorEnv) instead of in this process.",
                             group="environment")
    num_workers: int | None = field(None, "Ray rollout workers (the Ray runner; on-policy algorithms, Gymnasium envs): "
                                          "the --num-envs envs are split evenly over them. Unset: no Ray.", lo=1,
                                    hi=4096, group="ray")
    envs_per_worker: int | None = field(None, "Envs per Ray worker; must equal --num-envs / --num-workers (unset: "
                                              "that quotient).", lo=1, group="ray")
    lag: int = field(1, "Ray runner: policy versions between the workers' parameters and the learner's. 1: the "
                        "workers collect the next rollout while the learner trains on theirs (Cleanba-style, "
                        "reproducible); 0: they wait for each update.", lo=0, hi=1, group="ray")
    async_workers: bool = field(False, "Ray runner, IMPALA-style: workers never wait for the learner, which trains on "
                                       "the oldest rollouts that have arrived (from any workers); not "
                                       "bit-reproducible. A3C is always asynchronous.", group="ray",
                                aliases=("--async",))
    max_policy_lag: int = field(8, "Asynchronous Ray runner: a rollout (or an A3C gradient) computed with parameters "
                                   "more than this many versions old is dropped, not learned from.", lo=0,
                                group="ray")
    max_worker_restarts: int = field(100, "Ray workers that may fail (process killed, env raising) and be replaced "
                                          "before the run stops with exit 1.", lo=0, group="ray")
    ray_address: str | None = field(None, "Join this Ray cluster ('auto' or HOST:PORT) instead of starting a local "
                                          "one for the run.", group="ray")
    dataset: str | None = field(None, "Offline algorithms (bc): the Minari dataset they train on, a path or a dataset "
                                      "ID under $MINARI_DATASETS_PATH; --total-steps then counts gradient steps.",
                                group="run")
    pretrain: str | None = field(None, "Online algorithms with --dataset: first clone the dataset's actions, "
                                       "ALGO:STEPS (bc:2000); a phase of the run (tandem/pipeline.py).", group="run")
    offline: str | None = field(None, "Online algorithms with --dataset: then batch RL on the dataset, ALGO:STEPS "
                                      "(iql:5000; td3bc, sacrnd for continuous actions), before --total-steps online.",
                                group="run")
    init_from: str | None = field(None, "Start from this earlier run's actor (and its critic, or its state-value "
                                        "network, where one fits): any algorithm on the same env, same --actor-net "
                                        "and --activation.", group="run")
    prefill: str | None = field(None, "Replay algorithms: the replay buffer starts holding this dataset's "
                                      "transitions (a path or ID; in a staged run, usually the --dataset), so online "
                                      "fine-tuning first learns from the data its networks were trained on.",
                                group="run")
    tensorboard: bool = field(True, "Write TensorBoard events under <run_dir>/tb.", group="logging")
    quiet: bool = field(False, "No progress bar or final report on the terminal.", group="logging")

    def validate(self) -> None:
        """Raise TandemInputError naming the first field of the wrong type or out of range."""
        validate_fields(self)
        if not self.env:
            raise range_error("env", self.env, "a Gymnasium ID, gymnax:<name> or package.module:ClassName")
        if self.num_workers is None:
            for name in ("envs_per_worker", "ray_address"):
                if getattr(self, name) is not None:
                    raise TandemInputError(f"--{name.replace('_', '-')} is a Ray runner option; allowed with "
                                           f"--num-workers N (N >= 1).")
            return
        if self.num_seeds != 1:
            raise TandemInputError(f"--num-seeds {self.num_seeds} with --num-workers: the Ray runner trains one "
                                   f"seed; allowed: --num-seeds 1 (or no Ray, to train seeds together).")
        from tandem.runners.ray_cluster import check_address, require_ray

        require_ray()
        check_address(self.ray_address)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The full resolved configuration of a run: what config.json holds."""

    algo: str
    run: RunConfig
    algo_config: Any

    def to_dict(self) -> dict:
        """The config as plain data: what config.json holds."""
        return {"algo": self.algo, "run": dataclasses.asdict(self.run), "algo_config": dataclasses.asdict(self.algo_config)}

    def validate(self) -> None:
        """Each group, then the combinations: the step counters are int32 on the device."""
        self.run.validate()
        self.algo_config.validate()
        needs = self.algo_config.needs
        per_update = needs.steps_per_update
        updates = max(1, -(-self.run.total_steps // per_update))  # exact for any size
        if updates * per_update > INT32_MAX:
            raise TandemInputError(
                f"--total-steps {self.run.total_steps} rounded up to whole rollouts of --num-envs {needs.num_envs} x "
                f"{needs.rollout_flag} {needs.rollout_steps} = {per_update} steps "
                f"is {updates * per_update} env steps per seed; allowed: at most {INT32_MAX}.")
        if self.run.num_workers is not None:
            self._validate_ray(needs)
        self._validate_dataset(needs)
        if needs.dataset is not None and self.run.num_workers is not None:
            raise TandemInputError(f"--num-workers: {self.algo} trains on a dataset, not on Ray workers' rollouts; "
                                   f"allowed: no --num-workers.")
        grad_steps = needs.gradient_steps_per_call
        if grad_steps is not None and updates * grad_steps > INT32_MAX:
            raise TandemInputError(
                f"--total-steps {self.run.total_steps} with --utd {self.algo_config.utd} makes {updates * grad_steps} "
                f"gradient steps per seed; allowed: at most {INT32_MAX} (lower --utd or --total-steps).")

    def _validate_dataset(self, needs) -> None:
        """--dataset: an offline algorithm needs one; an online one takes one only to train in stages first."""
        from tandem.algos import OFFLINE_ALGOS

        staged = self.run.pretrain is not None or self.run.offline is not None
        if self.run.prefill is not None and needs.replay is None:
            raise TandemInputError(f"--prefill with {self.algo}: it keeps no replay buffer; allowed: a replay "
                                   f"algorithm (sac, td3, ddpg), e.g. after --offline iql:STEPS.")
        if needs.dataset is not None:
            if self.run.dataset is None:
                raise TandemInputError(f"{self.algo} trains on a dataset; allowed: --dataset PATH_OR_ID (e.g. one "
                                       f"written by tandem collect).")
            if staged:
                raise TandemInputError(f"--pretrain/--offline are stages before an online algorithm; {self.algo} is "
                                       f"itself offline: allowed: tandem train ONLINE_ALGO --dataset D --pretrain "
                                       f"bc:STEPS, or {self.algo} alone.")
            return
        if staged:
            from tandem.pipeline import stages

            stages(self)   # the stage flags' format and algorithms
            if self.run.dataset is None:
                raise TandemInputError("--pretrain/--offline train on a dataset; allowed: with --dataset PATH_OR_ID.")
            if self.run.num_workers is not None:
                raise TandemInputError("--pretrain/--offline with --num-workers: stages run without Ray; allowed: "
                                       "one or the other.")
            if self.run.init_from is not None:
                raise TandemInputError("--init-from with --pretrain/--offline: the online phase starts from the "
                                       "last stage; allowed: one or the other.")
        elif self.run.dataset is not None:
            raise TandemInputError(f"--dataset with {self.algo}, an online algorithm: allowed: an offline algorithm "
                                   f"({', '.join(OFFLINE_ALGOS)}) with it, or stages first: --pretrain bc:STEPS "
                                   f"and/or --offline iql:STEPS.")

    def _validate_ray(self, needs) -> None:
        W, N, M = self.run.num_workers, needs.num_envs, self.run.envs_per_worker
        if needs.worker_gradients:  # each worker steps --num-envs envs
            if M is not None and M != N:
                raise TandemInputError(f"--envs-per-worker {M}: {self.algo}'s --num-envs is each worker's ({N}); "
                                       f"allowed: --envs-per-worker {N} or unset.")
            return
        if self.run.async_workers and self.algo_config.normalize_reward:
            raise TandemInputError("--async with --normalize-reward: the learner's batches mix rollouts of any "
                                   "workers, and reward scaling follows each env's running return; allowed: "
                                   "--no-normalize-reward with --async, or --lag 1.")
        if needs.replay is not None:
            raise TandemInputError(f"--num-workers: the Ray runner drives on-policy learners, and {self.algo} learns "
                                   f"from a replay buffer; allowed: ppo, a2c, impala with --num-workers, or {self.algo} "
                                   f"without it.")
        if N % W:
            raise TandemInputError(f"--num-envs {N} is not a multiple of --num-workers {W} (each worker steps "
                                   f"--num-envs / --num-workers envs); allowed: --num-envs {W * max(1, N // W)} or "
                                   f"{W * (N // W + 1)}, or another number of workers.")
        if M is not None and M * W != N:
            raise TandemInputError(f"--envs-per-worker {M} with --num-workers {W} makes {M * W} envs, but --num-envs "
                                   f"is {N}; allowed: --num-envs {M * W} (or --envs-per-worker {N // W} or unset).")


def config_from_dict(d: dict) -> TrainConfig:
    """Rebuild a TrainConfig from config.json (e.g. for resume and eval)."""
    from tandem.algos import get_algo

    algo = get_algo(d["algo"])
    return TrainConfig(d["algo"], RunConfig(**d["run"]), algo.config_cls(**d["algo_config"]))
