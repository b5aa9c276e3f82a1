"""What every benchmark with a JSON record does at its end: write the record, its PNG beside it, print its table."""

from __future__ import annotations

import json
import time
from pathlib import Path


def finish(results: dict, out: str, plot, table, t0: float) -> None:
    """Record the total seconds since ``t0``, write ``results`` to ``out`` (JSON) and ``plot(results, PNG)`` beside
    it, and print ``table(results)``."""
    results["seconds"] = time.time() - t0
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(results, indent=1))
    plot(results, str(Path(out).with_suffix(".png")))
    print(table(results))
    print(f"wrote {out} and its .png in {results['seconds']:.0f} s")


def print_tables(paths: list[str], table) -> None:
    """Print ``table`` of each record in ``paths``."""
    for path in paths:
        print(table(json.loads(Path(path).read_text())) + "\n")
