"""The run directory's records: summary.json of a finished run and the rows of metrics.csv (DESIGN.md, Contracts)."""

from __future__ import annotations

import jax
import numpy as np

from tandem._version import __version__
from tandem.io.run_dir import clean_float
from tandem.algos.prune import nonzero
from tandem.nets.spec import num_params
from tandem.runners.common import params_fingerprint, window_mean


def build_summary(cfg, driver, state, timing: dict, eval_returns, seconds_to_target) -> dict:
    """Every field of summary.json. ``timing``: wall_seconds, compile_seconds, run_seconds, and sps_steps (env
    steps of all seeds collected by this process); eval_returns [K, E] or None."""
    K = cfg.run.num_seeds
    agent = jax.tree_util.tree_map(np.asarray, driver.agent(state))
    params = agent.learner.params
    counters = driver.counters(state)
    per_seed_fp = [params_fingerprint(jax.tree_util.tree_map(lambda x: x[k], params)) for k in range(K)]
    reached_steps = np.asarray(driver.episodes(state).reached_step)
    reached_all = bool(cfg.run.target_return is not None and np.all(reached_steps >= 0))
    per_seed_eval = eval_returns.mean(axis=1).tolist() if eval_returns is not None else []
    one = jax.tree_util.tree_map(lambda x: x[0], params)
    return {
        "algo": cfg.algo,
        "env": cfg.run.env,
        "runner": driver.name,
        "seeds": [cfg.run.seed + k for k in range(K)],
        "env_steps": counters.env_steps,
        "env_steps_all_seeds": counters.env_steps * K,
        "updates": counters.updates,
        "episodes": counters.episodes,
        "wall_seconds": timing["wall_seconds"],
        "compile_seconds": timing["compile_seconds"],
        "run_seconds": timing["run_seconds"],
        "sps": timing["sps_steps"] / max(timing["run_seconds"], 1e-9),
        "final_eval_return": clean_float(np.mean(per_seed_eval)) if per_seed_eval else None,
        "final_eval_return_std": clean_float(eval_returns.std()) if eval_returns is not None else None,
        "final_eval_return_per_seed": [clean_float(x) for x in per_seed_eval],
        "eval_episodes": int(cfg.run.eval_episodes),
        "target_return": cfg.run.target_return,
        "reached_target": reached_all,
        "steps_to_target": int(reached_steps.max()) if reached_all else None,
        "steps_to_target_per_seed": [int(s) if s >= 0 else None for s in reached_steps.tolist()],
        "seconds_to_target": seconds_to_target if reached_all else None,
        "params_fingerprint": params_fingerprint(params),
        "params_fingerprint_per_seed": per_seed_fp,
        "num_params": num_params(one),
        "num_params_actor": num_params(one["actor"]),
        "num_params_critic": num_params(one["critic"]),
        # Non-zero: what pruning (--prune-sparsity) leaves; equal to num_params for a dense network.
        "num_nonzero_params": nonzero(one),
        "num_nonzero_params_actor": nonzero(one["actor"]),
        "num_nonzero_params_critic": nonzero(one["critic"]),
        "tandem_version": __version__,
        **(driver.report(state) if hasattr(driver, "report") else {}),  # runners registered before report() existed
    }


def metrics_row(phase: str, counters, pending, episodes, wall, sps, K) -> dict:
    """One metrics.csv row: losses averaged over the interval's updates and the seeds."""
    merged = {k: np.concatenate([np.asarray(m[k]).reshape(-1, K) for m in pending]) for k in pending[0]}
    merged.pop("fault"), merged.pop("fault_step")  # checked by raise_if_faulted, not logged
    fin_n = merged.pop("finished_episodes").sum()
    fin_sum = merged.pop("finished_return_sum").sum()
    per_seed = np.asarray(jax.vmap(window_mean)(episodes))
    row = {"env_steps": counters.env_steps, "wall_seconds": round(wall, 4),
           "episode_return_mean": clean_float(np.nanmean(per_seed)) if np.isfinite(per_seed).any() else None,
           "episode_return_recent": clean_float(fin_sum / fin_n) if fin_n else None,
           "episodes": counters.episodes, "phase": phase, "updates": counters.updates,
           "charts/sps": round(float(sps), 1)}
    for k, v in sorted(merged.items()):
        v = np.asarray(v, np.float64)  # NaN marks updates without that metric (before learning starts, delayed steps)
        row[k] = clean_float(np.nanmean(v)) if np.isfinite(v).any() else None
    if K > 1:
        for k in range(K):
            row[f"episode_return_mean/seed{k}"] = clean_float(per_seed[k])
    return row
