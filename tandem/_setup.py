"""Process-level JAX set-up, done when tandem is imported, before JAX is.

- On a CPU-only machine, split the host platform into one XLA device per core (at most 8), so
  the JAX runner can shard seeds over cores: one compiled program otherwise runs on one core.
- A persistent compilation cache (``$TANDEM_CACHE_DIR``, default ``~/.cache/tandem/xla``; ``off``
  disables it), so a second run of the same configuration skips most of the compilation.

Both are set through environment variables, so importing tandem does not import JAX. If JAX was
imported first, the cache is configured through ``jax.config`` and the device split is left alone.
"""

from __future__ import annotations

import os
import sys

_done = False


def _cache_dir() -> str | None:
    cache = os.environ.get("TANDEM_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "tandem", "xla"))
    if not cache or cache.lower() in ("0", "off", "none"):
        return None
    try:
        os.makedirs(cache, exist_ok=True)
    except OSError:
        return None  # an unwritable cache directory only costs compile time
    return cache


def setup_jax() -> None:
    """Split the CPU into devices and set the compilation cache, once, before JAX is imported."""
    global _done
    if _done:
        return
    _done = True
    cache = _cache_dir()
    if "jax" in sys.modules:
        if cache:
            import jax

            jax.config.update("jax_compilation_cache_dir", cache)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags and not os.environ.get("TANDEM_NO_CPU_SPLIT"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        os.environ["XLA_FLAGS"] = (flags + f" --xla_force_host_platform_device_count={max(1, min(8, cores))}").strip()
    if cache:
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", cache)
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
