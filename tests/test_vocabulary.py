"""The vocabulary: one valid default per name, and fixed-only names refused as a choice everywhere."""

import pytest

from autoann.errors import RuleFileError, SpaceError
from autoann.estimators._checks import _pin_problems
from autoann.rules._loader import parse_rules
from autoann.space import KNOWN, Hyperparameter, SearchSpace, default_of, normalized, parse_assignment, value
from autoann.space._vocabulary import APPLIES_TO

FIXED_ONLY = [name for name, declared in KNOWN.items() if declared.fixed_only]


@pytest.mark.parametrize("name", list(KNOWN))
def test_every_default_is_a_value_the_name_takes(name):
    declared = KNOWN[name]
    assert declared.accepts(declared.default), (name, declared.default)
    assert normalized(Hyperparameter(name, "fixed", value=declared.default)).value == declared.default
    assert declared.applies_to in APPLIES_TO


def test_the_data_stage_and_output_names_are_fixed_only():
    assert {"metric", "numeric_scaling", "target_scaling", "missing_indicators", "onehot_max_cardinality",
            "embedding_dim_max", "task", "output_units", "output_activation"} <= set(FIXED_ONLY)
    assert not KNOWN["loss"].fixed_only  # the built-in rules search huber against mae


def test_value_falls_back_to_the_declared_default():
    assert value({}, "units_min") == default_of("units_min") == 8
    assert value({"units_min": None}, "units_min") == 8  # an inactive conditional
    assert value({"units_min": 16}, "units_min") == 16


def test_setting_and_largest_use_the_declared_default():
    space = SearchSpace.from_dict({"hyperparameters": {"n_layers": {"int": [1, 4]}, "metric": "roc_auc"}})
    assert space.setting("metric") == "roc_auc" and space.setting("numeric_scaling") == "standardize"
    assert space.largest("n_layers") == 4 and space.largest("units_min") == 8
    with pytest.raises(ValueError, match="can be searched"):
        space.setting("n_layers")


def test_normalized_returns_a_canonical_copy_and_leaves_its_input_alone():
    given = Hyperparameter("l2", "int", low=0, high=1)
    canonical = normalized(given)
    assert (canonical.kind, canonical.low, canonical.high) == ("float", 0, 1)
    assert (given.kind, given.low, given.high) == ("int", 0, 1)
    whole = Hyperparameter("n_layers", "int", low=1.0, high=3.0)
    assert isinstance(normalized(whole).high, int) and isinstance(whole.high, float)
    fixed = normalized(Hyperparameter("learning_rate", "fixed", value=1))
    assert isinstance(fixed.value, float)


def _offered(name):
    """A choice of two values of ``name`` (a str name: two of its values; numbers: a range too)."""
    declared = KNOWN[name]
    if declared.kind == "str":
        return list(declared.values[:2])
    if declared.kind == "bool":
        return [True, False]
    base = declared.default
    return [base, base + 1]


def _space_file(name):
    return SearchSpace.from_dict({"hyperparameters": {name: {"choice": _offered(name)}}}, "space.yaml")


def _space_file_list(name):
    return SearchSpace.from_dict({"hyperparameters": {name: _offered(name)}}, "space.yaml")


def _space_file_range(name):
    low, high = _offered(name)
    return SearchSpace.from_dict({"hyperparameters": {name: {KNOWN[name].kind: [low, high]}}}, "space.yaml")


def _set_option(name):
    values = ", ".join(str(v).lower() for v in _offered(name))
    SearchSpace().pin(*parse_assignment(f"{name}=[{values}]"))


def _rule_file(name):
    values = ", ".join(str(v).lower() for v in _offered(name))
    text = ("autoann_rules: 1\nrules:\n  - id: TEST-CHOICE\n    guideline: [G-ARCH-2]\n"
            f"    then: {{{name}: {{choice: [{values}]}}}}\n    why: test\n")
    try:
        parse_rules(text, "rules.yaml")
    except RuleFileError as exc:
        raise SpaceError(str(exc)) from None


def _pins(name):
    problems = _pin_problems("AutoANNClassifier", {name: _offered(name)})
    assert problems
    raise SpaceError(problems[0])


@pytest.mark.parametrize(("name", "where"), [
    (name, where) for name in FIXED_ONLY
    for where in (_space_file, _space_file_list, _space_file_range, _set_option, _rule_file, _pins)
    if where is not _space_file_range or KNOWN[name].kind in ("int", "float")  # only numbers have ranges
])
def test_fixed_only_names_are_refused_as_a_choice(name, where):
    with pytest.raises(SpaceError, match=rf"'{name}' takes one value per run"):
        where(name)


@pytest.mark.parametrize("where", [_space_file, _set_option, _rule_file])
def test_the_message_says_to_fix_one_value(where):
    with pytest.raises(SpaceError, match=r"'metric' takes one value per run .* fix one value, e\.g\. 'metric(: |=)accuracy'"):
        where("metric")


def test_a_searchable_name_may_still_be_a_choice():
    space = SearchSpace.from_dict({"hyperparameters": {"loss": {"choice": ["huber", "mae"]}}})
    assert space["loss"].values == ["huber", "mae"]
