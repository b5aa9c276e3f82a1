"""`tandem plot RUN_DIR... -o FILE.png`: learning curves from run directories' metrics.csv."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import NamedTuple

from tandem.errors import TandemInputError

FORMATS = (".png", ".pdf", ".svg")
X_AXES = ("env_steps", "wall_seconds")
RETURN = "episode_return_mean"
_SEED_COLUMN = re.compile(re.escape(RETURN) + r"/seed(\d+)$")


class Curve(NamedTuple):
    """One run's learning curve: x, mean over seeds, and the min/max over seeds at each x."""

    label: str
    x: list[float]
    mean: list[float]
    low: list[float]
    high: list[float]
    num_seeds: int


def plot_runs(run_dirs: list[str], output: str, x: str = "env_steps") -> str:
    """Draw one learning curve per run directory into ``output`` (.png, .pdf or .svg); return its path.

    Each curve is the mean episode return over the run's seeds, with a shaded min-max band when the
    run had more than one seed. ``x`` is ``env_steps`` or ``wall_seconds``. Raises TandemInputError
    (exit 2) for a missing run directory or metrics.csv, or an unsupported output format.
    """
    suffix = Path(output).suffix.lower()
    if suffix not in FORMATS:
        raise TandemInputError(f"-o {output!r}: unsupported image format {suffix or '(none)'!r}; "
                               f"allowed: {', '.join(FORMATS)}.")
    if x not in X_AXES:
        raise TandemInputError(f"--x {x!r}: allowed: {', '.join(X_AXES)}.")
    if not run_dirs:
        raise TandemInputError("plot needs at least one run directory.")
    searches = [d for d in run_dirs if (Path(d) / "search.json").is_file()]
    if searches:  # an architecture search's directory: its Pareto plot
        if len(run_dirs) > 1:
            raise TandemInputError(f"plot: {searches[0]} is a search directory; allowed: one search directory alone "
                                   f"(its Pareto front), or training run directories.")
        import json

        return str(plot_pareto(json.loads((Path(searches[0]) / "search.json").read_text()), Path(output)))
    # Read every run before drawing, so a bad path fails before anything is written.
    curves = [load_curve(d, x) for d in run_dirs]

    # The object-oriented API with an Agg canvas, not pyplot: no global backend switch, no GUI.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for c in curves:
        (line,) = ax.plot(c.x, c.mean, label=c.label, linewidth=1.5)
        if c.num_seeds > 1:
            ax.fill_between(c.x, c.low, c.high, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("environment steps (per seed)" if x == "env_steps" else "wall-clock seconds")
    ax.set_ylabel("episode return (mean over seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return str(out)


def load_curve(run_dir: str, x: str = "env_steps") -> Curve:
    """Read one run's metrics.csv into a :class:`Curve`; empty cells (no value yet) are skipped."""
    from tandem.io.run_dir import run_file

    d = Path(run_dir)
    metrics = run_file(d, "metrics.csv")
    with open(metrics, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        rows = list(reader)
    if x not in columns:
        raise TandemInputError(f"{str(metrics)!r} has no column {x!r} (columns: {', '.join(columns)}).")
    # Several seeds: one column per seed (the band needs them); one seed: the plain mean column.
    seed_cols = sorted((c for c in columns if _SEED_COLUMN.match(c)), key=lambda c: int(_SEED_COLUMN.match(c)[1]))
    value_cols = seed_cols or [RETURN]
    if value_cols == [RETURN] and RETURN not in columns:
        raise TandemInputError(f"{str(metrics)!r} has no column {RETURN!r} (columns: {', '.join(columns)}).")

    xs, means, lows, highs = [], [], [], []
    for row in rows:
        xv = _number(row.get(x))
        values = [v for v in (_number(row.get(c)) for c in value_cols) if v is not None]
        if xv is None or not values:
            continue  # no episode finished yet in this interval (or a seed had none): nothing to draw
        xs.append(xv)
        means.append(sum(values) / len(values))
        lows.append(min(values))
        highs.append(max(values))
    return Curve(_label(d), xs, means, lows, highs, len(value_cols))


def _label(d: Path) -> str:
    """``algo env (dirname)`` from config.json; just the directory name when that cannot be read."""
    try:
        cfg = json.loads((d / "config.json").read_text())
        return f"{cfg['algo']} {cfg['run']['env']} ({d.resolve().name})"
    except (OSError, ValueError, KeyError, TypeError):
        return d.resolve().name


def _number(cell) -> float | None:
    """A finite float, or None for an empty cell, text, NaN or Inf."""
    if cell is None or not str(cell).strip():
        return None
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def plot_pareto(record: dict, output: Path) -> Path:
    """An architecture search's record (search.json): actor parameters (log scale) against mean return for every
    architecture tried, the Pareto front as a line, the target if any."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    members = record["members"]
    fig = Figure(figsize=(6, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter([m["actor_params"] for m in members], [m["mean_return"] for m in members], s=14, alpha=0.5,
               label="tried")
    front = sorted((m for m in members if m["on_front"]), key=lambda m: m["actor_params"])
    ax.plot([m["actor_params"] for m in front], [m["mean_return"] for m in front], "o-", color="C3", label="front")
    if record.get("target") is not None:
        ax.axhline(record["target"], color="gray", ls="--", lw=1, label="target")
    ax.set_xscale("log")
    ax.set_xlabel("actor parameters")
    ax.set_ylabel("mean evaluation return")
    ax.set_title(f"{record['strategy']} search: {record['algo']} on {record['env']} ({len(members)} tried)")
    ax.legend(loc="lower right")
    fig.savefig(output, dpi=110)
    return output
