"""Hyperband arithmetic and the wall-clock plan of a search.

Keras Tuner's Hyperband has no time budget and its docstring's cost estimate
is off by up to 2.7x, so autoann replays the oracle's exact schedule
(:func:`hyperband_schedule`) and sizes ``max_epochs`` so that at least one full
Hyperband iteration fits the time left after reserving the refit and the
export (:func:`plan_search`). The search then repeats iterations until the
deadline.
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


def _n_brackets(max_epochs: int, factor: int) -> int:
    # Mirrors Keras Tuner's HyperbandOracle (tests/test_budget.py replays the real oracle).
    epochs, brackets = max_epochs, 0
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    return brackets


def hyperband_schedule(max_epochs: int, factor: int) -> list[Round]:
    """Every round of one Hyperband iteration, most aggressive bracket first."""
    brackets = _n_brackets(max_epochs, factor)
    end_size = math.ceil(1 + math.log(max_epochs, factor))  # as Keras Tuner's HyperbandOracle sizes rounds
    out = []
    for b in reversed(range(brackets)):
        for r in range(b + 1):
            models = math.ceil(end_size / (b + 1) * factor ** (b - r))
            epochs = math.ceil(max_epochs / factor ** (b - r))
            out.append(Round(b, r, models, epochs))
    return out


def iteration_cost(max_epochs: int, factor: int) -> tuple[int, int]:
    """(trials, epochs) of one iteration; a promoted trial trains only its new epochs."""
    trials = epochs = 0
    previous: dict[int, int] = {}
    for rnd in hyperband_schedule(max_epochs, factor):
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

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        return (
            f"Hyperband max_epochs={self.max_epochs}, factor={self.factor}: one iteration = "
            f"{self.iteration_trials} trials, {self.iteration_epochs} epochs, "
            f"~{self.iteration_seconds:.0f}s (measured {self.seconds_per_epoch * 1000:.0f} ms/epoch, "
            f"{self.seconds_per_trial:.1f}s/trial overhead); search {self.search_seconds:.0f}s, "
            f"{self.reserve_seconds:.0f}s kept for the final model and export."
        )


def plan_search(
    budget_seconds: float,
    *,
    seconds_per_epoch: float,
    seconds_per_trial: float,
    max_epochs_cap: int,
    reserve_seconds: float,
    factor: int = 3,
) -> SearchPlan:
    """Choose Hyperband's ``max_epochs`` so one full iteration fits the budget.

    ``budget_seconds`` is what is left for search + refit + export;
    ``reserve_seconds`` of it is kept for the final model and export. The
    largest ``max_epochs`` up to ``max_epochs_cap`` whose iteration fits wins
    (longer training finds better models, G-BATCH-2); below 3 epochs Hyperband
    cannot discard anything, so 3 is the floor unless the cap is lower.
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

    def cost(m: int) -> tuple[int, int, float]:
        trials, epochs = iteration_cost(m, factor)
        return trials, epochs, trials * seconds_per_trial + epochs * seconds_per_epoch

    # An iteration's trials and epochs never decrease as max_epochs grows (tests/test_budget.py checks it),
    # so the largest fitting max_epochs is found by bisection: O(log cap), whatever --set max_epochs says.
    chosen, high = min(3, max_epochs_cap), max_epochs_cap
    while chosen < high:
        middle = (chosen + high + 1) // 2
        if cost(middle)[2] <= search_seconds:
            chosen = middle
        else:
            high = middle - 1
    trials, epochs, seconds = cost(chosen)
    return SearchPlan(
        budget_seconds=budget_seconds,
        max_epochs=chosen,
        factor=factor,
        seconds_per_epoch=seconds_per_epoch,
        seconds_per_trial=seconds_per_trial,
        iteration_trials=trials,
        iteration_epochs=epochs,
        iteration_seconds=seconds,
        search_seconds=search_seconds,
        reserve_seconds=reserve_seconds,
    )
