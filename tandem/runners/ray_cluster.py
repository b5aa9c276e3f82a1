"""The Ray cluster a run uses: a local one sized to the machine, started for the run and shut down after it, or
an existing one (``--ray-address auto|HOST:PORT``) that the run joins and leaves running.

Ray is imported here only, lazily: it is the optional ``ray`` extra.
"""

from __future__ import annotations

import os
import socket

from tandem.errors import TandemInputError, TandemRuntimeError

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a --ray-address HOST:PORT to accept a connection before giving up (exit 1)."""

_joined = False  # this process joined (or started) a cluster for a run, and leaves it at the run's end


def require_ray() -> None:
    """TandemInputError when Ray is not installed (the run was asked for workers)."""
    import importlib

    try:
        importlib.import_module("ray")
    except ImportError:
        raise TandemInputError("--num-workers needs Ray, which is not installed; install the extra with "
                               "`pip install -e \".[ray]\"` (or `pip install tandem-rl[ray]`), or drop --num-workers.") from None


def check_address(address: str | None) -> None:
    """TandemInputError for a --ray-address that is neither 'auto' nor HOST:PORT."""
    if address is None or address == "auto":
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TandemInputError(f"--ray-address {address!r}: allowed: 'auto' (the cluster this machine runs, started "
                               f"with `ray start --head`) or HOST:PORT of a cluster's head (e.g. 10.0.0.5:6379).")


def probe(address: str | None) -> None:
    """Before anything is written: a HOST:PORT that does not accept a TCP connection within CONNECT_TIMEOUT is a
    TandemRuntimeError (exit 1)."""
    check_address(address)
    if address is None or address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as e:
        raise TandemRuntimeError(f"--ray-address {address!r}: no Ray cluster answered there within "
                                 f"{CONNECT_TIMEOUT:.0f} s ({e}); start one with `ray start --head` (see the README) "
                                 f"or leave --ray-address out to run a local cluster for this run.") from None


def connect(address: str | None):
    """The ``ray`` module, connected: to the cluster this process already uses, to ``address``, or to a new local
    cluster with one CPU per core."""
    global _joined
    require_ray()
    import logging

    import ray

    if ray.is_initialized():
        return ray  # e.g. a test's cluster: used, and left as it was
    probe(address)
    import warnings

    common = dict(logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
    try:
        with warnings.catch_warnings():
            # Ray starts its processes with fork+exec; JAX's warning about fork in a threaded process does not apply.
            warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
            if address is None:
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
                ray.init(num_cpus=cores, include_dashboard=False, **common)
            else:
                ray.init(address=address, **common)
        _joined = True
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise TandemRuntimeError(f"Ray: could not {'start a local cluster' if address is None else 'join ' + address}"
                                 f" ({' '.join(str(e).split())[:300]}).") from None
    return ray


def disconnect() -> None:
    """Leave the cluster this run joined; a local cluster started for the run stops with it."""
    global _joined
    if not _joined:
        return
    import ray

    ray.shutdown()
    _joined = False
