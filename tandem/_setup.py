"""Process-level JAX set-up, done once before JAX is first imported.

- On a CPU-only machine, split the host platform into one XLA device per core (at most 8), so
  the JAX runner can shard seeds over cores: one compiled program otherwise runs on one core.
- A persistent compilation cache (``$TANDEM_CACHE_DIR``, default ``~/.cache/tandem/xla``), so a
  second run of the same configuration skips most of the compilation.
"""

from __future__ import annotations

import os
import sys

_done = False


def setup_jax() -> None:
    global _done
    if _done:
        return
    _done = True
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags and not os.environ.get("TANDEM_NO_CPU_SPLIT"):
            n = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
            os.environ["XLA_FLAGS"] = (flags + f" --xla_force_host_platform_device_count={n}").strip()
    import jax

    cache = os.environ.get("TANDEM_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "tandem", "xla"))
    if cache and cache.lower() not in ("0", "off", "none"):
        try:
            os.makedirs(cache, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", cache)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        except OSError:
            pass  # an unwritable cache directory only costs compile time
