"""The live view of a running search: one progress bar over the time budget.

It listens to the events :func:`autoann.trainer.train` emits (``space``,
``plan``, ``trial``) and shows trials done, the best validation score so far
and the time left. It holds no training state, so Keras Tuner never has to
copy it.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


class SearchProgress:
    """A context manager whose :meth:`__call__` is ``train``'s ``on_event`` hook."""

    def __init__(self, console: Console, budget_seconds: float):
        self.console = console
        self.budget = budget_seconds
        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("[bold]search"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("calibrating", total=budget_seconds)

    def __enter__(self) -> "SearchProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._advance("done")
        self.progress.stop()

    def _advance(self, description: str) -> None:
        elapsed = min(time.monotonic() - self.started, self.budget)
        self.progress.update(self.task, completed=elapsed, description=description)

    def __call__(self, kind: str, payload: Any) -> None:
        if kind == "plan":
            self.console.print(f"[dim]{payload.describe()}[/]")
            self._advance("searching")
        elif kind == "trial":
            best = payload.best_so_far()
            failed = sum(1 for r in payload.rows.values() if r["status"] == "failed")
            name = payload.oracle.objective.name
            best_text = "-" if best is None else f"{best:.4f}"
            extra = f", {failed} failed" if failed else ""
            left = max(self.budget - (time.monotonic() - self.started), 0)
            self._advance(f"{payload.finished()} trials{extra} | best {name} {best_text} | {left:.0f}s left")
