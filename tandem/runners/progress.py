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
        ret, sps = row.get("episode_return_mean"), row["charts/sps"]
        info = f"return {ret:8.2f}  sps {sps:9.0f}" if ret is not None else f"sps {sps:9.0f}"
        self._p.update(self._task, completed=done, info=info)

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()
