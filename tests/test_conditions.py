"""The safe condition evaluator: its grammar works, anything else is refused on load."""

import numpy as np
import pytest

from autoann.rules._conditions import compile_condition, format_value, plain_fact
from autoann.errors import RuleFileError
from autoann.rules._loader import DEFAULT_FACTS


def facts(**changes):
    return {**DEFAULT_FACTS, **changes}


@pytest.mark.parametrize(
    ("condition", "changes", "expected"),
    [
        ({"fact": "n_rows", "eq": 569}, {"n_rows": 569}, True),
        ({"fact": "n_rows", "ne": 569}, {"n_rows": 569}, False),
        ({"fact": "n_rows", "lt": 1000}, {"n_rows": 999}, True),
        ({"fact": "n_rows", "lt": 1000}, {"n_rows": 1000}, False),
        ({"fact": "n_rows", "le": 1000}, {"n_rows": 1000}, True),
        ({"fact": "n_rows", "gt": 1000}, {"n_rows": 1000}, False),
        ({"fact": "n_rows", "ge": 1000}, {"n_rows": 1000}, True),
        ({"fact": "imbalance_ratio", "ge": 3}, {"imbalance_ratio": 3.0}, True),
        ({"fact": "task", "in": ["binary", "multiclass"]}, {"task": "multiclass"}, True),
        ({"fact": "task", "not_in": ["binary", "multiclass"]}, {"task": "multiclass"}, False),
        ({"fact": "n_rows", "between": [1000, 9999]}, {"n_rows": 9999}, True),
        ({"fact": "n_rows", "between": [1000, 9999]}, {"n_rows": 10000}, False),
        ({"fact": "sparse", "is": True}, {"sparse": True}, True),
        ({"fact": "sparse", "is": False}, {"sparse": True}, False),
        ({"all": [{"fact": "n_rows", "ge": 10}, {"fact": "task", "eq": "binary"}]}, {}, True),
        ({"all": [{"fact": "n_rows", "ge": 10}, {"fact": "task", "eq": "regression"}]}, {}, False),
        ({"any": [{"fact": "n_rows", "lt": 10}, {"fact": "task", "eq": "binary"}]}, {}, True),
        ({"any": [{"fact": "n_rows", "lt": 10}, {"fact": "task", "eq": "regression"}]}, {}, False),
        ({"not": {"fact": "has_missing", "is": True}}, {"has_missing": False}, True),
    ],
)
def test_operators(condition, changes, expected):
    assert compile_condition(condition).evaluate(facts(**changes)) is expected


def test_numpy_fact_values_evaluate_like_python_ones():
    cond = compile_condition({"all": [{"fact": "n_rows", "ge": 500}, {"fact": "has_missing", "is": True}]})
    assert cond.evaluate(facts(n_rows=np.int64(569), has_missing=np.bool_(True)))
    assert plain_fact("n_rows", np.int64(5)) == 5 and type(plain_fact("n_rows", np.int64(5))) is int
    assert type(plain_fact("has_missing", np.bool_(True))) is bool


def test_explain_states_the_facts_and_their_values():
    cond = compile_condition({"all": [{"fact": "task", "in": ["binary", "multiclass"]},
                                      {"fact": "n_rows", "ge": 1000}]})
    assert cond.explain(facts(n_rows=569)) == "n_rows=569 < 1000"  # only the failing part
    assert cond.explain(facts(n_rows=5000)) == "task=binary in [binary, multiclass] and n_rows=5000 >= 1000"
    either = compile_condition({"any": [{"fact": "n_rows", "lt": 100}, {"fact": "sparse", "is": True}]})
    assert either.explain(facts(n_rows=569)) == "n_rows=569 >= 100 and sparse=false"
    assert compile_condition({"fact": "task", "eq": "binary"}).explain(facts()) == "task=binary"
    assert compile_condition({"fact": "n_rows", "between": [1, 9]}).explain(facts(n_rows=50)) == "n_rows=50 outside [1, 9]"


def test_render_is_readable():
    cond = compile_condition({"all": [{"fact": "n_rows", "ge": 1000},
                                      {"fact": "task", "in": ["binary", "multiclass"]},
                                      {"any": [{"fact": "sparse", "is": True}, {"not": {"fact": "goal", "eq": "latency"}}]}]})
    assert cond.render() == ("n_rows >= 1000 and task in [binary, multiclass] and "
                             "(sparse or not goal == latency)")


def test_format_value():
    assert format_value(1.0) == "1.0" and format_value(1e-5) == "1e-05" and format_value(0.75) == "0.75"
    assert format_value([True, "a"]) == "[true, a]"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("__import__('os').system('echo pwned')", "must be a mapping"),
        ("n_rows > 1000", "Conditions are data, never code"),
        (["fact", "n_rows"], "must be a mapping"),
        (42, "must be a mapping"),
        (None, "must be a mapping"),
        ({"fact": "n_row", "ge": 1}, r"when.fact: unknown fact 'n_row' \(did you mean 'n_rows'"),
        ({"fact": "n_rows", "gte": 1}, r"when.gte: unknown operator 'gte' \(did you mean 'gt', 'ge'"),
        ({"fact": "n_rows", "matches": ".*"}, "unknown operator 'matches'"),
        ({"fact": "n_rows"}, "exactly one operator"),
        ({"fact": "n_rows", "ge": 1, "le": 5}, "exactly one operator"),
        ({"fact": "task", "lt": "binary"}, "'lt' does not apply to 'task', a str fact"),
        ({"fact": "sparse", "eq": True}, "'eq' does not apply to 'sparse', a bool fact"),
        ({"fact": "n_rows", "is": True}, "'is' does not apply to 'n_rows'"),
        ({"fact": "n_rows", "ge": "1000"}, "'n_rows' is an int fact; '1000' is not an int"),
        ({"fact": "n_rows", "ge": 1.5}, "is not an int"),
        ({"fact": "n_rows", "ge": True}, "is not an int"),
        ({"fact": "imbalance_ratio", "ge": float("nan")}, "is not a float"),
        ({"fact": "task", "eq": 3}, "is not a str"),
        ({"fact": "task", "eq": "multi-class"}, r"never 'multi-class' \(did you mean 'multiclass'"),
        ({"fact": "goal", "in": ["fast"]}, "goal' is never 'fast'"),
        ({"fact": "sparse", "is": "yes"}, "'is' takes true or false"),
        ({"fact": "task", "in": "binary"}, "non-empty list"),
        ({"fact": "task", "in": []}, "non-empty list"),
        ({"fact": "n_rows", "between": [1]}, r"\[low, high\]"),
        ({"fact": "n_rows", "between": [10, 1]}, "range is empty"),
        ({"all": []}, "non-empty list"),
        ({"all": {"fact": "n_rows", "ge": 1}}, "non-empty list"),
        ({"all": [{"fact": "n_rows", "ge": 1}], "fact": "task"}, "must be the only key"),
        ({"al": [{"fact": "n_rows", "ge": 1}]}, r"unknown condition keys \['al'\] \(did you mean 'all'"),
        ({"all": [{"fact": "n_rows", "ge": 1}, {"fact": "n_row", "ge": 1}]}, r"when.all\[1\].fact: unknown fact"),
        ({"not": {"any": [{"fact": "task", "le": "x"}]}}, r"when.not.any\[0\].le: operator 'le'"),
    ],
)
def test_refuses_anything_but_the_grammar(condition, message):
    with pytest.raises(RuleFileError, match=message):
        compile_condition(condition)


def test_never_evaluates_strings(monkeypatch):
    import builtins

    def forbidden(*args, **kwargs):  # pragma: no cover - would mean the evaluator ran code
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    with pytest.raises(RuleFileError):
        compile_condition({"fact": "__import__('os')", "eq": 1})
    assert compile_condition({"fact": "n_rows", "ge": 1}).evaluate(facts())
