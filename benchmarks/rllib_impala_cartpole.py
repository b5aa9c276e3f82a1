"""RLlib's IMPALA (or APPO) on CartPole-v1 until the mean episode return reaches a target: the peer of
bench_ray.py. Runs in its own virtual environment (RLlib 2.60 pins gymnasium 1.2.2, tandem 1.3.0).

RLlib's tuned CartPole example (rllib/tuned_examples/impala/cartpole_impala.py: train batches of 500, global-norm
clipping at 40, lr 5e-4, value-loss coefficient 0.05, no entropy bonus), with tandem's network sizes: separate
64x64 tanh policy and value networks, and the mean return over the last 20 episodes (tandem's --target-return
window; RLlib's default is 100). Prints one JSON line at the end (times from this process's start).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--algo", choices=("impala", "appo"), default="impala")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--envs-per-worker", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=475.0)
    p.add_argument("--max-steps", type=int, default=600_000)
    p.add_argument("--max-seconds", type=float, default=300.0)
    a = p.parse_args()

    import ray
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    if a.algo == "impala":
        from ray.rllib.algorithms.impala import IMPALAConfig as Config
    else:
        from ray.rllib.algorithms.appo import APPOConfig as Config

    # Logical CPUs for RLlib's actors (env runners, the aggregator, the learner): with only the 2 physical cores'
    # worth, its actors wait for resources forever. The processes still share this machine's 2 cores.
    ray.init(num_cpus=a.workers + 3, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    config = (Config()
              .environment("CartPole-v1")
              .env_runners(num_env_runners=a.workers, num_envs_per_env_runner=a.envs_per_worker)
              .training(train_batch_size_per_learner=500, grad_clip=40.0, grad_clip_by="global_norm", lr=0.0005,
                        vf_loss_coeff=0.05, entropy_coeff=0.0)
              .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[64, 64], fcnet_activation="tanh",
                                                         vf_share_layers=False))
              .reporting(metrics_num_episodes_for_smoothing=20)  # tandem's --target-return window
              .debugging(seed=a.seed))
    algo = config.build_algo()
    t_built = time.perf_counter() - T0
    steps, ret, reached_at, reached_steps, t_train0 = 0, float("nan"), None, None, time.perf_counter()
    while steps < a.max_steps and time.perf_counter() - T0 < a.max_seconds:
        res = algo.train()
        runners = res.get("env_runners", {})
        steps = int(runners.get("num_env_steps_sampled_lifetime", res.get("num_env_steps_sampled_lifetime", steps)))
        ret = float(runners.get("episode_return_mean", float("nan")))
        print(f"{time.perf_counter() - T0:7.1f}s {steps:8d} steps return {ret:7.1f}", file=sys.stderr, flush=True)
        if ret >= a.target:
            reached_at, reached_steps = time.perf_counter() - T0, steps
            break
    run_seconds = time.perf_counter() - t_train0
    algo.stop()
    ray.shutdown()
    print(json.dumps({"lib": f"rllib-{a.algo}", "workers": a.workers, "seed": a.seed, "reached": reached_at is not None,
                      "seconds_to_target": reached_at, "steps_to_target": reached_steps, "steps": steps,
                      "last_return": ret, "startup_seconds": t_built, "sps": steps / max(run_seconds, 1e-9),
                      "process_seconds": time.perf_counter() - T0}))


if __name__ == "__main__":
    main()
