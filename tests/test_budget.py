"""Hyperband arithmetic and budget planning (no training)."""

import pytest

from autoann.params import parse_duration
from autoann.search._budget import hyperband_schedule, iteration_cost, plan_search
from autoann.errors import BudgetError

# (max_epochs, factor) -> (trials incl. promotions, epochs) from the keras-tuner notes,
# replayed from HyperbandOracle's code.
KNOWN_COSTS = {
    (5, 3): (10, 31), (10, 3): (30, 120), (20, 3): (30, 226), (27, 3): (70, 375),
    (30, 3): (90, 576), (50, 3): (90, 922), (81, 3): (211, 1767), (100, 3): (254, 2672),
    (10, 2): (46, 170), (20, 2): (92, 468), (100, 2): (359, 4148),
    (10, 4): (11, 62), (30, 4): (44, 352), (100, 4): (161, 1940),
}


@pytest.mark.parametrize(("max_epochs", "factor"), sorted(KNOWN_COSTS))
def test_iteration_cost_matches_oracle_replay(max_epochs, factor):
    assert iteration_cost(max_epochs, factor) == KNOWN_COSTS[(max_epochs, factor)]


def test_schedule_81_3_is_the_papers():
    first_bracket = [r for r in hyperband_schedule(81, 3) if r.bracket == 4]
    assert [r.models for r in first_bracket] == [81, 27, 9, 3, 1]
    assert [r.epochs for r in first_bracket] == [1, 3, 9, 27, 81]


@pytest.mark.train  # keras_tuner imports TensorFlow
def test_schedule_matches_keras_tuner_oracle():
    """Drive the real HyperbandOracle through one iteration and compare round sizes."""
    import keras_tuner as kt

    oracle = kt.oracles.HyperbandOracle(objective=kt.Objective("score", "max"), max_epochs=10, factor=3,
                                        hyperband_iterations=1, seed=0)
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    oracle.hyperparameters = hp
    oracle._set_project_dir("/tmp/unused", "p")  # never written: we do not save
    created = []
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        created.append(trial.hyperparameters.values["tuner/epochs"])
        oracle.update_trial(trial.trial_id, {"score": trial.hyperparameters.values["x"]})
        trial.status = "COMPLETED"
        oracle.ongoing_trials.pop("tuner0", None)
        oracle.trials[trial.trial_id].status = "COMPLETED"
        oracle.trials[trial.trial_id].score = trial.hyperparameters.values["x"]
    expected = [r.epochs for r in hyperband_schedule(10, 3) for _ in range(r.models)]
    assert sorted(created) == sorted(expected)


def test_plan_picks_largest_max_epochs_that_fits():
    plan = plan_search(100, seconds_per_epoch=0.1, seconds_per_trial=0.5, max_epochs_cap=81, reserve_seconds=10)
    trials, epochs = iteration_cost(plan.max_epochs, 3)
    assert trials * 0.5 + epochs * 0.1 <= 90
    bigger = iteration_cost(plan.max_epochs + 1, 3)
    assert plan.max_epochs == 81 or bigger[0] * 0.5 + bigger[1] * 0.1 > 90


def test_plan_floor_is_three_epochs_when_budget_is_short():
    plan = plan_search(5, seconds_per_epoch=1.0, seconds_per_trial=1.0, max_epochs_cap=50, reserve_seconds=1)
    assert plan.max_epochs == 3


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_iteration_cost_never_decreases_with_max_epochs(factor):
    """plan_search bisects on max_epochs, which is exact only while this holds."""
    costs = [iteration_cost(m, factor) for m in range(1, 3000)]
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(costs, costs[1:]))


@pytest.mark.parametrize("budget", [15, 100, 1000, 20000])
def test_plan_bisection_matches_the_largest_fitting_max_epochs(budget):
    plan = plan_search(budget, seconds_per_epoch=0.05, seconds_per_trial=0.2, max_epochs_cap=500, reserve_seconds=5)
    fits = [m for m in range(3, 501) if sum(c * s for c, s in zip(iteration_cost(m, 3), (0.2, 0.05))) <= budget - 5]
    assert plan.max_epochs == max(fits, default=3)


def test_plan_with_a_huge_cap_costs_log_many_evaluations(monkeypatch):
    """--set max_epochs=1000000 once looped over every epoch count (110 s) and ignored the budget."""
    from autoann.search import _budget

    calls = []
    monkeypatch.setattr(_budget, "iteration_cost", lambda m, f: calls.append(m) or iteration_cost(m, f))
    plan = plan_search(60, seconds_per_epoch=0.1, seconds_per_trial=0.5, max_epochs_cap=1_000_000, reserve_seconds=10)
    assert len(calls) <= 25 and plan.max_epochs < 100


def test_budget_too_small_names_the_minimum():
    with pytest.raises(BudgetError, match="at least --time-budget"):
        plan_search(5, seconds_per_epoch=1.0, seconds_per_trial=2.0, max_epochs_cap=10, reserve_seconds=4)


@pytest.mark.parametrize(("text", "seconds"), [(90, 90.0), ("90", 90.0), ("90s", 90.0), ("5m", 300.0),
                                               ("1h30m", 5400.0), ("1.5m", 90.0)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5", 0, -3, "5x", float("inf")])
def test_parse_duration_rejects(text):
    with pytest.raises(BudgetError):
        parse_duration(text)
