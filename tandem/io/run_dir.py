"""The run directory contract: config.json, metrics.csv, summary.json, checkpoints/, tb/."""

from __future__ import annotations

import csv
import json
import math
import os
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


class MetricsWriter:
    """metrics.csv (always) and TensorBoard events under tb/ (when enabled)."""

    def __init__(self, run_dir: Path, tensorboard: bool, resume: bool):
        self.path = run_dir / "metrics.csv"
        self._columns = None
        if resume and self.path.exists():
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), None)
            self._columns = header
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tb"), flush_secs=30)

    def write(self, row: dict) -> None:
        if self._columns is None:
            self._columns = list(row)
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self._columns)
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow(["" if row.get(c) is None else row.get(c) for c in self._columns])
        if self._tb is not None:
            step = int(row["env_steps"])
            for k, v in row.items():
                if k != "env_steps" and isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: Path) -> list[dict]:
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))
