import os

# Tests run on the CPU with a private compilation cache (shared across the session, so repeated
# configurations compile once) and no progress bars.
os.environ.setdefault("TANDEM_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "xla"))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import tandem  # noqa: E402,F401  (sets up JAX: one XLA device per core, the compilation cache)
