"""The progress bar on the terminal (rich), silent with --quiet."""

from __future__ import annotations


class Progress:
    """A bar over ``total`` env steps with a one-line ``info`` (return, SPS)."""

    def __init__(self, quiet: bool, total: int, label: str):
        self._p = None
        if quiet:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

        self._p = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TextColumn("{task.fields[info]}"), TimeElapsedColumn(), transient=False)
        self._p.start()
        self._task = self._p.add_task(label, total=total, info="compiling...")

    def update(self, done: int, row: dict) -> None:
        """Show ``done`` steps and the row's return and SPS."""
        if self._p is None:
            return
        self._p.update(self._task, completed=done, info=info_line(row))

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()


def info_line(row: dict) -> str:
    """The bar's text for a metrics row: return and SPS; on the Ray runner also the workers alive, the policy lag,
    the rollouts queued, each worker's SPS and the workers replaced so far."""
    ret, sps = row.get("episode_return_mean"), row["charts/sps"]
    info = f"return {ret:8.2f}  sps {sps:9.0f}" if ret is not None else f"sps {sps:9.0f}"
    if row.get("ray/workers_alive") is not None:
        info += (f"  workers {row['ray/workers_alive']:.0f}  lag {row.get('ray/policy_lag') or 0:.1f}  queue "
                 f"{row.get('ray/queue_length') or 0:.0f}  sps/worker {row.get('ray/sps_per_worker') or 0:.0f}  "
                 f"restarts {row.get('ray/worker_restarts') or 0:.0f}")
    return info
