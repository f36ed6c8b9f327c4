"""SearchSpace: exact round trips and clear errors for hand-edited files."""

import pytest

from autoann.errors import SpaceError
from autoann.space._space import Hyperparameter, SearchSpace, parse_assignment

SPACE = {
    "hyperparameters": {
        "task": "binary",
        "n_layers": {"int": [1, 4], "rules": ["ARCH-DEPTH"], "why": ["start small"]},
        "learning_rate": {"float": [1e-4, 1e-2], "log": True, "active_if": {"optimizer": ["nadam"]}},
        "optimizer": {"choice": ["nadam", "sgd_nesterov"], "default": "nadam"},
        "dropout": {"float": [0.0, 0.5], "step": 0.1},
    }
}


def test_yaml_round_trip_is_exact():
    space = SearchSpace.from_dict(SPACE)
    again = SearchSpace.from_yaml(space.to_yaml())
    assert again.to_dict() == space.to_dict()
    assert again["n_layers"].rules == ["ARCH-DEPTH"]


def test_file_round_trip(tmp_path):
    space = SearchSpace.from_dict(SPACE)
    space.save(tmp_path / "space.yaml")
    assert SearchSpace.load(tmp_path / "space.yaml").to_dict() == space.to_dict()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"n_layrs": 3}, "unknown hyperparameter 'n_layrs' \\(did you mean 'n_layers'"),
        ({"n_layers": {"int": [5, 1]}}, "range is empty"),
        ({"n_layers": {"int": [1.5, 3]}}, "whole numbers"),
        ({"learning_rate": {"float": [0, 1e-2], "log": True}}, "low bound must be > 0"),
        ({"optimizer": {"choice": []}}, "non-empty list"),
        ({"optimizer": {"choice": ["adamq"]}}, "cannot be 'adamq'"),
        ({"dropout": {"float": [0.0, 2.0]}}, "cannot be 2.0"),
        ({"n_layers": {"int": [1, 3], "float": [1, 2]}}, "exactly one of"),
        ({"n_layers": {"int": [1, 3], "sampling": "log"}}, "unknown key"),
        ({"optimizer": {"int": [1, 2]}}, "cannot be a int range"),
        ({"learning_rate": {"float": [1e-4, 1e-2], "active_if": {"optimizer": ["adam"]}}}, "not in the space"),
    ],
)
def test_bad_space_names_the_key(spec, message):
    with pytest.raises(SpaceError, match=message):
        SearchSpace.from_dict({"hyperparameters": spec})


def test_not_a_space():
    with pytest.raises(SpaceError, match="'hyperparameters' mapping"):
        SearchSpace.from_yaml("- a\n- b\n")
    with pytest.raises(SpaceError, match="not valid YAML"):
        SearchSpace.from_yaml("a: [1, 2\n")


def test_missing_file(tmp_path):
    with pytest.raises(SpaceError, match="not found"):
        SearchSpace.load(tmp_path / "nope.yaml")


def test_pin_and_assignment():
    space = SearchSpace.from_dict(SPACE)
    space.pin(*parse_assignment("n_layers=3"))
    assert space.fixed("n_layers") == 3
    assert space["n_layers"].rules == ["user"]
    with pytest.raises(SpaceError, match="did you mean 'n_layers'"):
        parse_assignment("n_layer=3")
    with pytest.raises(SpaceError, match="name=value"):
        parse_assignment("n_layers")
    with pytest.raises(SpaceError, match="cannot be -1"):
        space.pin(*parse_assignment("n_layers=-1"))


def test_candidates():
    assert Hyperparameter("x", "choice", values=[1, 2]).candidates() == [1, 2]
    assert Hyperparameter("x", "int", low=1, high=3).candidates() == [1, 3]


@pytest.mark.parametrize("text, value", [("1e-3", 0.001), ("2E-4", 0.0002), ("1.0e-3", 0.001), ("0.001", 0.001)])
def test_exponents_without_a_dot_are_numbers_in_space_files_and_pins(text, value):
    """YAML 1.1 (PyYAML) reads 1e-3 as text; users mean the number (issue 14)."""
    space = SearchSpace.from_yaml(f"hyperparameters:\n  learning_rate: {text}\n  l2: {{float: [{text}, 1]}}\n")
    assert space["learning_rate"].value == value and space["l2"].low == value
    assert parse_assignment(f"learning_rate={text}") == ("learning_rate", value)
