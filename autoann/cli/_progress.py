"""The live view of a running search: one progress bar over the time budget.

It listens to the events :func:`autoann.search._trainer.train` emits (``space``,
``plan``, ``workers``, and a :class:`~autoann.fitted_run.TrialEvent` whenever a
trial starts or ends) and shows trials done, the best validation score so far,
the trial each worker runs now and the time left, on one line. It holds no
training state and never sees the tuner. With workers the events come from the
thread that serves them; rich's progress bar takes updates from any thread.

The budget is per command: ``--resume`` continues the search with a fresh
``--time-budget`` of its own (the trials done before are kept, not re-run).
The view says so when it starts, so a resumed search's bar is not mistaken
for the whole run's.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from autoann.fitted_run import TrialEvent


class SearchProgress:
    """A context manager whose :meth:`__call__` is ``train``'s ``on_event`` hook."""

    def __init__(self, console: Console, budget_seconds: float, resumed: bool = False):
        self.console = console
        self.budget = budget_seconds
        self.resumed = resumed
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
        # The bar appears with the first event (the space is known): an error in the
        # options or the data is then printed alone, with no empty progress bar.
        return self

    def _start(self) -> None:
        if not self.progress.live.is_started:
            if self.resumed:
                self.console.print(f"[dim]resuming: the trials done before are kept; this command has its own "
                                   f"budget of {self.budget:.0f}s (--time-budget is per command)[/]")
            self.progress.start()

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if not self.progress.live.is_started:
            return
        if exc_type is None:
            # Done, maybe early: show the whole bar and the real duration, not the unused budget.
            elapsed = time.monotonic() - self.started
            self.progress.update(self.task, completed=self.budget, description=f"done in {elapsed:.0f}s")
        else:
            # An error or Ctrl-C: the message that follows says what happened; no bar claiming "done".
            self.progress.update(self.task, visible=False)
        self.progress.stop()

    def _advance(self, description: str) -> None:
        elapsed = min(time.monotonic() - self.started, self.budget)
        self.progress.update(self.task, completed=elapsed, description=description)

    def __call__(self, kind: str, payload: Any) -> None:
        self._start()
        if kind in ("plan", "workers"):
            self.console.print(f"[dim]{payload.describe() if kind == 'plan' else payload}[/]", highlight=False)
            self._advance("searching")
        elif kind == "trial":
            self._trial(payload)

    def _trial(self, event: TrialEvent) -> None:
        best = "-" if event.best is None else f"{event.best:.4g}"
        extra = f", {event.failed} failed" if event.failed else ""
        left = max(self.budget - (time.monotonic() - self.started), 0)
        self._advance(f"{event.finished} trials{extra} | best {event.objective} {best}{running(event)} | "
                      f"{left:.0f}s left")


#: workers named one by one on the progress line; more are counted
SHOWN_WORKERS = 4


def running(event: TrialEvent) -> str:
    """`` | running local1:0012 local2:0013``: the trial each worker runs now (none in a one-process search)."""
    if not event.running:
        return ""
    shown = " ".join(f"{worker}:{trial}" for worker, trial, _ in event.running[:SHOWN_WORKERS])
    more = len(event.running) - SHOWN_WORKERS
    return f" | running {shown}" + (f" +{more}" if more > 0 else "")
