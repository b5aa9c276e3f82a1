"""The run directory contract: config.json, metrics.csv, summary.json, checkpoints/, tb/."""

from __future__ import annotations

import csv
import json
import math
import os
import queue
import threading
from pathlib import Path


def write_json(path: Path, obj) -> None:
    """Write JSON via a temporary file and rename, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(x):
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:
        pass
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def clean_float(x):
    """JSON has no NaN/Inf: write them as null."""
    x = float(x)
    return x if math.isfinite(x) else None


class _TensorBoardThread:
    """TensorBoard events written from a background thread.

    Importing a TensorBoard writer can take seconds (tensorboardX imports torch when it is
    installed); on a thread it overlaps with compilation instead of delaying the run.
    """

    def __init__(self, logdir: Path):
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, args=(str(logdir),), name="tandem-tb", daemon=True)
        self._thread.start()

    def _work(self, logdir: str) -> None:
        import sys

        # tensorboardX imports torch, when installed, only to accept torch tensors; tandem never
        # passes any, and the import costs seconds. A None entry makes that optional import fail fast.
        blocked = "torch" not in sys.modules
        if blocked:
            sys.modules["torch"] = None
        try:
            from tensorboardX import SummaryWriter
        finally:
            if blocked and sys.modules.get("torch", 0) is None:
                del sys.modules["torch"]

        writer = SummaryWriter(logdir, flush_secs=30)
        while (item := self._queue.get()) is not None:
            step, row = item
            for k, v in row.items():
                writer.add_scalar(k, v, step)
        writer.close()

    def write(self, step: int, row: dict) -> None:
        """Queue one row of scalars for the writer thread."""
        self._queue.put((step, row))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


class MetricsWriter:
    """metrics.csv (always) and TensorBoard events under tb/ (when enabled)."""

    def __init__(self, run_dir: Path, tensorboard: bool, resume: bool, upto_updates: int = 0):
        """On resume, rows past ``upto_updates`` (the run-wide update count of the checkpoint resumed from)
        are dropped: a run killed after logging them redoes those updates and logs them again."""
        self.path = run_dir / "metrics.csv"
        self._columns = None
        if resume and self.path.exists():
            with open(self.path, newline="") as f:
                rows = list(csv.reader(f))
            if rows:
                self._columns = rows[0]
                i = self._columns.index("updates") if "updates" in self._columns else 0
                kept = [r for r in rows[1:] if r and r[i].isdigit() and int(r[i]) <= upto_updates]
                if len(kept) != len(rows) - 1:
                    tmp = self.path.with_name(self.path.name + ".tmp")
                    with open(tmp, "w", newline="") as f:
                        csv.writer(f).writerows([self._columns] + kept)
                    os.replace(tmp, self.path)
        self._tb = _TensorBoardThread(run_dir / "tb") if tensorboard else None

    def write(self, row: dict) -> None:
        """Append one metrics row to metrics.csv (and TensorBoard)."""
        if self._columns is None:
            self._columns = list(row)
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self._columns)
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow(["" if row.get(c) is None else row.get(c) for c in self._columns])
        if self._tb is not None:
            scalars = {k: v for k, v in row.items()
                       if k != "env_steps" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
            self._tb.write(int(row["env_steps"]), scalars)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def run_file(run_dir, name: str) -> Path:
    """``run_dir/name``, or a TandemInputError saying which of the two is missing."""
    from tandem.errors import TandemInputError

    d = Path(run_dir)
    if not d.is_dir():
        raise TandemInputError(f"run directory {str(d)!r} does not exist.")
    path = d / name
    if not path.is_file():
        raise TandemInputError(f"{str(d)!r} is not a tandem run directory: {name} is missing.")
    return path

