"""The shared parameter table: every constraint rejects a bad value with sklearn's wording."""

import pytest

from autoann.errors import ParameterError
from autoann.params import CONSTRAINTS, validate_params


@pytest.mark.parametrize("name", sorted(CONSTRAINTS))
def test_invalid_value_is_reported_in_sklearn_words(name):
    bad = CONSTRAINTS[name].invalid_example()
    with pytest.raises(ParameterError, match=rf"The '{name}' parameter of train must be .* Got {bad!r} instead"):
        validate_params("train", {name: bad})


def test_all_problems_reported_at_once():
    with pytest.raises(ParameterError) as info:
        validate_params("AutoANNClassifier", {"time_budget": -5, "seed": -1, "goal": "fast"})
    message = str(info.value)
    assert message.count("\n") == 2
    assert "AutoANNClassifier" in message


def test_valid_values_pass():
    validate_params("train", {"time_budget": "5m", "max_trials": None, "max_epochs": 10, "seed": 0,
                              "test_size": 0.2, "validation_size": 0.2, "goal": "latency", "verbose": 1})
