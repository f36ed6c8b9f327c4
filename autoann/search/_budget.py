"""Hyperband arithmetic and the wall-clock plan of a search.

Keras Tuner's Hyperband has no time budget and its docstring's cost estimate
is off by up to 2.7x, so autoann replays the oracle's exact schedule
(:func:`hyperband_schedule`). ``max_epochs`` is what the space's default network
needed before early stopping ended it; :func:`plan_search` then chooses how many
brackets an iteration runs so that one iteration fits the time left after
reserving the final model and the export. The search repeats iterations until
the deadline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from autoann.errors import BudgetError


@dataclass(frozen=True)
class Round:
    bracket: int
    round: int
    models: int
    epochs: int  # cumulative epochs each model reaches in this round


def n_brackets(max_epochs: int, factor: int) -> int:
    """Brackets of a full Hyperband iteration. Mirrors Keras Tuner's HyperbandOracle
    (tests/test_budget.py replays the real oracle)."""
    epochs, brackets = max_epochs, 0
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    return brackets


def hyperband_schedule(max_epochs: int, factor: int, brackets: int | None = None) -> list[Round]:
    """Every round of one Hyperband iteration, most aggressive bracket first.

    ``brackets`` keeps only that many of the least aggressive brackets (all by default).
    """
    brackets = n_brackets(max_epochs, factor) if brackets is None else brackets
    end_size = math.ceil(1 + math.log(max_epochs, factor))  # as Keras Tuner's HyperbandOracle sizes rounds
    out = []
    for b in reversed(range(brackets)):
        for r in range(b + 1):
            models = math.ceil(end_size / (b + 1) * factor ** (b - r))
            epochs = math.ceil(max_epochs / factor ** (b - r))
            out.append(Round(b, r, models, epochs))
    return out


def iteration_cost(max_epochs: int, factor: int, brackets: int | None = None) -> tuple[int, int]:
    """(trials, epochs) of one iteration; a promoted trial trains only its new epochs."""
    trials = epochs = 0
    previous: dict[int, int] = {}
    for rnd in hyperband_schedule(max_epochs, factor, brackets):
        trials += rnd.models
        epochs += rnd.models * (rnd.epochs - previous.get(rnd.bracket, 0))
        previous[rnd.bracket] = rnd.epochs
    return trials, epochs


@dataclass
class SearchPlan:
    """How the budget is spent, shown to the user and stored in metadata."""

    budget_seconds: float
    max_epochs: int
    factor: int
    seconds_per_epoch: float
    seconds_per_trial: float
    iteration_trials: int
    iteration_epochs: int
    iteration_seconds: float
    search_seconds: float
    reserve_seconds: float
    #: brackets per Hyperband iteration (the least aggressive ones); 0 in plans of earlier versions: all
    brackets: int = 0
    #: processes running trials side by side (the iteration's seconds are wall seconds: its cost shared among them)
    workers: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def _shared(self) -> str:
        return f", shared by {self.workers} worker processes" if self.workers > 1 else ""

    def describe(self) -> str:
        full = n_brackets(self.max_epochs, self.factor)
        brackets = self.brackets or full
        return (
            f"Hyperband max_epochs={self.max_epochs} (the default network's epochs to early stopping, within the "
            f"space's max_epochs), "
            f"factor={self.factor}, {brackets} of {full} brackets: one iteration = "
            f"{self.iteration_trials} trials, {self.iteration_epochs} epochs, "
            f"~{self.iteration_seconds:.0f}s (measured {self.seconds_per_epoch * 1000:.0f} ms/epoch, "
            f"{self.seconds_per_trial:.1f}s/trial overhead{self._shared()}); search {self.search_seconds:.0f}s, "
            f"{self.reserve_seconds:.0f}s kept for the final model and export."
        )


def plan_search(
    budget_seconds: float,
    *,
    seconds_per_epoch: float,
    seconds_per_trial: float,
    max_epochs: int,
    reserve_seconds: float,
    factor: int = 3,
    workers: int = 1,
) -> SearchPlan:
    """Choose how many Hyperband brackets an iteration runs so that it fits the budget.

    ``budget_seconds`` is what is left for search + final model + export;
    ``reserve_seconds`` of it is kept for the final model and export.
    ``max_epochs`` (the epochs the default network trained before early stopping
    ended it) is what every configuration reaching the top rung trains: a short
    budget runs fewer brackets (fewer configurations, culled less
    aggressively), never fewer epochs (G-BATCH-2). One bracket is the least:
    if even its configurations do not all fit, the search runs as many as
    the deadline allows, each to ``max_epochs``. ``workers`` processes run trials
    side by side, each at the measured cost: an iteration's wall time is its cost
    divided among them.
    """
    search_seconds = budget_seconds - reserve_seconds
    minimum = seconds_per_trial + seconds_per_epoch
    if search_seconds < minimum:
        raise BudgetError(
            f"The time budget leaves {max(search_seconds, 0):.1f}s for the search, but one trial of one "
            f"epoch takes about {minimum:.1f}s here and {reserve_seconds:.0f}s are needed for the final "
            f"model and export. Give at least --time-budget {math.ceil(budget_seconds - search_seconds + minimum + 1)}s "
            f"(or use a smaller space)."
        )

    def cost(brackets: int) -> tuple[int, int, float]:
        trials, epochs = iteration_cost(max_epochs, factor, brackets)
        return trials, epochs, (trials * seconds_per_trial + epochs * seconds_per_epoch) / workers

    # An iteration's cost grows with every bracket added (tests/test_budget.py checks it).
    chosen = 1
    while chosen < n_brackets(max_epochs, factor) and cost(chosen + 1)[2] <= search_seconds:
        chosen += 1
    trials, epochs, seconds = cost(chosen)
    return SearchPlan(
        budget_seconds=budget_seconds,
        max_epochs=max_epochs,
        factor=factor,
        seconds_per_epoch=seconds_per_epoch,
        seconds_per_trial=seconds_per_trial,
        iteration_trials=trials,
        iteration_epochs=epochs,
        iteration_seconds=seconds,
        search_seconds=search_seconds,
        reserve_seconds=reserve_seconds,
        brackets=chosen,
        workers=workers,
    )
