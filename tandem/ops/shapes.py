"""Trace-time shape checks: JAX broadcasts a [B] array against a [B, 1] one into [B, B] without a word.

Shapes are static under jit, so these cost nothing at run time. The messages name the function, the
arrays and both shapes.
"""

from __future__ import annotations

import numpy as np


def check_same_shape(where: str, **arrays) -> tuple[int, ...]:
    """Raise ValueError unless every named array has the shape of the first one; return that shape.

    A trace-time check (shapes are static under jit, so it costs nothing at run time): JAX would
    otherwise broadcast a [B] array against a [B, 1] one into [B, B] without a word. The message
    names the function, both arrays and both shapes.
    """
    (first, x0), *rest = arrays.items()
    expected = tuple(np.shape(x0))
    for name, x in rest:
        actual = tuple(np.shape(x))
        if actual != expected:
            raise ValueError(f"{where}: {name} shape {actual} does not match expected {expected} (the shape of "
                             f"{first}); arrays are never broadcast against each other here.")
    return expected


def check_rank(where: str, rank: int, what: str, **arrays) -> None:
    """Raise ValueError unless every named array has ``rank`` dimensions (``what`` describes the expected shape)."""
    for name, x in arrays.items():
        actual = tuple(np.shape(x))
        if len(actual) != rank:
            raise ValueError(f"{where}: {name} shape {actual} does not match expected {what} (rank {rank}).")
