"""Hyperband arithmetic and budget planning (no training)."""


import pytest

from autoann.params import parse_duration
from autoann.search._budget import hyperband_schedule, iteration_cost, n_brackets, plan_search
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
@pytest.mark.parametrize("brackets", [None, 1, 2])
def test_schedule_matches_keras_tuner_oracle(brackets):
    """Drive the real HyperbandOracle through one iteration (all brackets, or the ones
    ``OracleAdapter.limit_brackets`` keeps) and compare round sizes."""
    import keras_tuner as kt

    from autoann.search._kt import OracleAdapter

    oracle = OracleAdapter(objective=kt.Objective("score", "max"), max_epochs=10, factor=3,
                           hyperband_iterations=1, seed=0)
    if brackets:
        oracle.limit_brackets(brackets)
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
    expected = [r.epochs for r in hyperband_schedule(10, 3, brackets) for _ in range(r.models)]
    assert sorted(created) == sorted(expected)


def _seconds(max_epochs: int, brackets: int) -> float:
    trials, epochs = iteration_cost(max_epochs, 3, brackets)
    return trials * 0.5 + epochs * 0.1


@pytest.mark.parametrize("budget", [20, 60, 100, 300, 1000, 20000])
def test_plan_runs_the_most_brackets_that_fit_and_never_fewer_epochs(budget):
    """A short budget drops brackets (configurations), never the epochs the top rung trains."""
    plan = plan_search(budget, seconds_per_epoch=0.1, seconds_per_trial=0.5, max_epochs=40, reserve_seconds=10)
    assert plan.max_epochs == 40
    fitting = [k for k in range(1, n_brackets(40, 3) + 1) if _seconds(40, k) <= budget - 10]
    assert plan.brackets == max(fitting, default=1)
    assert plan.iteration_seconds == pytest.approx(_seconds(40, plan.brackets))


def test_one_bracket_is_the_floor_even_when_it_does_not_fit():
    plan = plan_search(8, seconds_per_epoch=1.0, seconds_per_trial=1.0, max_epochs=50, reserve_seconds=1)
    assert (plan.brackets, plan.max_epochs) == (1, 50)


def test_an_iteration_costs_more_with_every_bracket_added():
    """plan_search adds brackets while the next one fits, which is exact only while this holds."""
    for max_epochs in range(1, 400):
        costs = [iteration_cost(max_epochs, 3, k) for k in range(1, n_brackets(max_epochs, 3) + 1)]
        assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(costs, costs[1:]))
    assert iteration_cost(81, 3, n_brackets(81, 3)) == iteration_cost(81, 3)


def test_one_bracket_trains_every_configuration_to_max_epochs():
    assert [(r.models, r.epochs) for r in hyperband_schedule(81, 3, brackets=1)] == [(5, 81)]


def test_budget_too_small_names_the_minimum():
    with pytest.raises(BudgetError, match="at least --time-budget"):
        plan_search(5, seconds_per_epoch=1.0, seconds_per_trial=2.0, max_epochs=10, reserve_seconds=4)


@pytest.mark.parametrize(("text", "seconds"), [(90, 90.0), ("90", 90.0), ("90s", 90.0), ("5m", 300.0),
                                               ("1h30m", 5400.0), ("1.5m", 90.0)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5", 0, -3, "5x", float("inf")])
def test_parse_duration_rejects(text):
    with pytest.raises(BudgetError):
        parse_duration(text)
