"""autoann.profiling: column kinds, drops, leaks, target shape, facts, and the JSON form."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoann.data._tables import load_data
from autoann.errors import DataError, ParameterError
from autoann.profiling._facts import FACTS
from autoann.profiling._columns import ONEHOT_MAX_CARDINALITY, ColumnProfile, encoded_width
from autoann.profiling._profile import SAMPLE_ROWS, Profile, profile, profile_dataset

N = 60


def column(prof: Profile, name: str) -> ColumnProfile:
    return next(c for c in prof.columns if c.name == name)


def kind_of(make_frame, values, name: str = "c") -> ColumnProfile:
    return column(profile(make_frame(**{name: values}), "y"), name)


# -- column kinds -----------------------------------------------------------------


def test_numeric(make_frame):
    col = kind_of(make_frame, np.linspace(-2, 3, N))
    assert (col.kind, col.kept, col.encoded_width) == ("numeric", True, 1)
    assert col.min == -2 and col.max == 3 and col.mean == pytest.approx(0.5) and col.std > 0


def test_numeric_with_missing_gets_an_indicator(make_frame):
    values = np.linspace(0, 1, N)
    values[::4] = np.nan
    col = kind_of(make_frame, values)
    assert col.kind == "numeric" and col.missing_fraction == 0.25 and col.encoded_width == 2


def test_numbers_held_as_objects_are_numeric(make_frame):
    assert kind_of(make_frame, pd.Series(np.linspace(0, 1, N), dtype=object)).kind == "numeric"


def test_categorical(make_frame):
    col = kind_of(make_frame, ["x", "y", "z", "x"] * 15)
    assert (col.kind, col.kept, col.cardinality, col.encoded_width) == ("categorical", True, 3, 4)
    assert col.top_levels == {"x": 30, "y": 15, "z": 15}


def test_categorical_missing_is_a_level(make_frame):
    col = kind_of(make_frame, ["x", "y", None] * 20)
    assert col.cardinality == 2 and col.encoded_width == 4  # x, y, missing, out-of-vocabulary


def test_category_dtype_is_categorical(make_frame):
    assert kind_of(make_frame, pd.Categorical(["lo", "hi"] * 30)).kind == "categorical"


def test_high_cardinality_categorical_is_embedded():
    n = 400
    frame = pd.DataFrame({"city": [f"c{i % 100}" for i in range(n)], "a": np.arange(n) % 7,
                          "y": ["p", "q"] * (n // 2)})
    prof = profile(frame, "y")
    city = column(prof, "city")
    assert city.kind == "categorical" and city.cardinality == 100 > ONEHOT_MAX_CARDINALITY
    assert city.encoded_width == round(1.6 * 100 ** 0.56)
    assert any("embedded" in note for note in prof.notes)


@pytest.mark.parametrize("values", [[True, False] * 30, ["yes", "no"] * 30, ["True", "false", "TRUE", "False"] * 15,
                                    [True, False, None] * 20])
def test_boolean(make_frame, values):
    col = kind_of(make_frame, values)
    assert col.kind == "boolean" and col.kept


def test_two_other_strings_are_categorical(make_frame):
    assert kind_of(make_frame, ["yes", "maybe"] * 30).kind == "categorical"


@pytest.mark.parametrize("values, name", [(np.arange(N), "c"), (np.arange(100, 100 + 5 * N, 5), "c"),
                                          (np.random.default_rng(0).permutation(N) * 7 + 3, "customer_id"),
                                          ([f"user-{i}" for i in range(N)], "c")])
def test_identifier_dropped(make_frame, values, name):
    col = kind_of(make_frame, values, name)
    assert col.kind == "identifier" and not col.kept and "G-IN-4" in col.drop_reason and col.encoded_width == 0


def test_unique_integers_without_a_pattern_stay_numeric(make_frame):
    assert kind_of(make_frame, np.random.default_rng(0).permutation(N) * 7 + np.arange(N) % 3).kind == "numeric"


@pytest.mark.parametrize("values", [[4.2] * N, ["same"] * N, [None] * (N - 1) + ["x"]])
def test_constant_dropped(make_frame, values):
    col = kind_of(make_frame, values)
    assert not col.kept and col.cardinality <= 1
    assert col.kind == "constant" and ("G-IN-4" in col.drop_reason or "missing" in col.drop_reason)


@pytest.mark.parametrize("values", [pd.date_range("2020-01-01", periods=N, freq="D"),
                                    pd.date_range("2020-01-01", periods=N, freq="D").strftime("%Y-%m-%d"),
                                    pd.date_range("2020-01-01", periods=N, freq="h").strftime("%Y/%m/%d %H:%M")])
def test_datetime_kept(make_frame, values):
    col = kind_of(make_frame, values)
    assert col.kind == "datetime" and col.kept and col.drop_reason is None
    assert col.encoded_width == (11 if col.has_time else 9)


@pytest.mark.parametrize("values", [pd.date_range("2020-01-01", periods=N, freq="h").strftime("%d/%m/%Y %H:%M"),
                                    pd.date_range("2020-01-01", periods=N, freq="D").strftime("%b %d, %Y")])
def test_non_iso_dates_dropped_saying_how_to_keep_them(make_frame, values):
    col = kind_of(make_frame, values)
    assert col.kind == "datetime" and not col.kept and "ISO" in col.drop_reason


def test_durations_dropped(make_frame):
    col = kind_of(make_frame, pd.to_timedelta(np.arange(N), unit="h"))
    assert col.kind == "datetime" and not col.kept and "durations" in col.drop_reason


def test_ranges_are_not_dates(make_frame):
    assert kind_of(make_frame, ["1-2", "3-4", "5-6"] * 20).kind == "categorical"


def test_free_text_kept_as_hashed_tokens(make_frame):
    words = ["red", "fast", "car", "slow", "boat", "big", "small", "house"]
    rng = np.random.default_rng(0)
    text = [" ".join(rng.choice(words, 5)) + f" {i}" for i in range(N)]
    col = kind_of(make_frame, text)
    assert col.kind == "text" and col.kept and col.encoded_width == 64


def test_mostly_missing_dropped(make_frame):
    values = [np.nan] * N
    values[0], values[1] = 1.0, 2.0
    col = kind_of(make_frame, values)
    assert col.kind == "numeric" and not col.kept and "missing" in col.drop_reason


def test_all_features_dropped_explains_each(make_frame):
    frame = make_frame()[["y"]].assign(row=np.arange(N), k=1)
    with pytest.raises(DataError) as info:
        profile(frame, "y")
    message = str(info.value)
    assert "No usable feature columns" in message and "'row': row identifier" in message and "'k': constant" in message


# -- leaks --------------------------------------------------------------------------


def test_classification_leak_is_kept_but_warned(make_frame):
    frame = make_frame(n=200)  # with fewer than ~100 rows no column can look like a leak
    frame["copy"] = frame["y"].map({"yes": "Y", "no": "N"})
    frame["score"] = np.where(frame["y"] == "yes", 10.0, 0.0) + np.random.default_rng(0).random(200)
    prof = profile(frame, "y")
    for name in ("copy", "score"):
        col = column(prof, name)
        assert col.kept and any("suspected leak" in w and "G-IN-4" in w for w in col.warnings)
    assert not column(prof, "a").warnings and not column(prof, "colour").warnings
    assert prof.facts()["suspected_leaks"] == 2


def test_regression_leak(make_frame):
    rng = np.random.default_rng(1)
    t = rng.normal(size=N)
    prof = profile(make_frame(t=t, twice=np.exp(t), noisy=t + rng.normal(size=N)).drop(columns="y"), "t")
    # exp(t) is a monotone function of t: Spearman 1, although Pearson is not
    assert any("Spearman" in w for w in column(prof, "twice").warnings)
    assert not column(prof, "noisy").warnings and prof.facts()["suspected_leaks"] == 1


def test_many_small_groups_are_not_a_leak():
    # every level seen once or twice: majority vote would memorize, leave-one-out does not
    n = 200
    frame = pd.DataFrame({"k": [f"k{i // 2}" for i in range(n)], "a": np.arange(n) % 9,
                          "y": np.random.default_rng(0).choice(["p", "q"], n)})
    assert not column(profile(frame, "y"), "k").warnings


# -- target, facts, derived values ---------------------------------------------------------


def test_classification_target_profile(make_frame):
    t = profile(make_frame(t=["a"] * 40 + ["b"] * 15 + ["c"] * 5), "t").target
    assert (t.task, t.n_classes, t.class_counts) == ("multiclass", 3, {"a": 40, "b": 15, "c": 5})
    assert t.imbalance_ratio == 8.0 and t.minority_fraction == pytest.approx(5 / 60)
    assert (t.min, t.max, t.positive, t.outlier_fraction) == (0.0, 0.0, False, 0.0)


@pytest.mark.parametrize("values, positive, unit, symmetric", [
    (np.linspace(0.1, 5, N), True, False, False),
    (np.linspace(0, 1, N), False, True, False),
    (np.linspace(-1, 1, N), False, False, True),
    (np.linspace(-3, 5, N), False, False, False),
])
def test_regression_target_shape(make_frame, values, positive, unit, symmetric):
    t = profile(make_frame(t=values), "t").target
    assert (t.positive, t.in_unit_interval, t.symmetric_bounded) == (positive, unit, symmetric)
    assert t.min == values.min() and t.max == values.max() and t.n_classes == 0 and t.imbalance_ratio == 1.0


def test_regression_outliers(make_frame):
    values = np.linspace(0, 1, N)
    values[:3] = [50.0, -40.0, 100.0]
    assert profile(make_frame(t=values), "t").target.outlier_fraction == pytest.approx(3 / N)


def test_facts_match_the_declarations(make_frame):
    facts = profile(make_frame(), "y").facts(goal="latency", sparse=True, uncertainty=True)
    assert list(facts) == list(FACTS)
    types = {"int": int, "float": float, "bool": bool, "str": str}
    for name, fact in FACTS.items():
        assert type(facts[name]) is types[fact.kind], name
    assert (facts["goal"], facts["sparse"], facts["uncertainty"]) == ("latency", True, True)
    assert facts["image_height"] == facts["image_width"] == facts["image_channels"] == 0
    assert facts["data_kind"] == "tabular" and facts["cpu_count"] >= 1


def test_facts_reject_an_unknown_goal(make_frame):
    with pytest.raises(ParameterError, match="'goal'.*'fastest'"):
        profile(make_frame(), "y").facts(goal="fastest")


def test_derived_values(make_frame):
    values = np.linspace(0, 1000, N)
    values[0] = np.nan
    prof = profile(make_frame(big=values, flag=[True, False] * 30, id=np.arange(N)), "y")
    facts = prof.facts()
    # a: 1, colour: 3 levels + OOV, big: 1 + indicator, flag: 2 levels + OOV; id dropped
    assert prof.input_width == facts["input_width"] == 1 + 4 + 2 + 3
    assert (facts["n_features"], facts["n_numeric"], facts["n_categorical"], facts["n_dropped"]) == (4, 3, 1, 1)
    assert facts["max_cardinality"] == 3 and facts["has_missing"]
    assert facts["missing_fraction"] == pytest.approx(1 / N / 4)
    assert facts["rows_per_input"] == pytest.approx(N / 10)
    stds = [column(prof, "big").std, column(prof, "a").std]
    assert prof.scale_spread == pytest.approx(np.log10(max(stds) / min(stds)))
    assert prof.feature_schema() == [("a", "numeric"), ("colour", "categorical"), ("big", "numeric"),
                                     ("flag", "categorical")]
    assert prof.n_columns == 6 and prof.n_rows == N  # the target counts as a column


def test_scale_spread_zero_with_one_numeric(make_frame):
    assert profile(make_frame(), "y").scale_spread == 0.0


def test_encoded_width_rules():
    assert encoded_width("numeric", 500, False) == 1 and encoded_width("numeric", 500, True) == 2
    assert encoded_width("categorical", 30, False) == 31  # one-hot + out-of-vocabulary
    assert encoded_width("categorical", 30, True) == round(1.6 * 31 ** 0.56)  # missing makes 31 levels: embedded
    assert encoded_width("categorical", 10_000, False) == 50


def test_large_data_uses_a_sample(monkeypatch, make_frame):
    monkeypatch.setattr("autoann.profiling._profile.SAMPLE_ROWS", 100)
    prof = profile(make_frame(n=300), "y")
    assert any("sample of 100 of the 300 rows" in note for note in prof.notes)
    assert SAMPLE_ROWS == 20_000


# -- the JSON form -------------------------------------------------------------------


def test_json_round_trip_is_exact(make_frame, tmp_path):
    frame = make_frame(when=pd.date_range("2021-01-01", periods=N, freq="D"), flag=["yes", "no"] * 30)
    frame.loc[[1, 2], "y"] = None
    prof = profile(frame, "y")
    data = prof.to_dict()
    assert Profile.from_dict(data) == prof and Profile.from_dict(data).to_dict() == data
    assert json.loads(prof.to_json()) == data
    prof.save(tmp_path / "sub" / "p.json")
    assert Profile.load(tmp_path / "sub" / "p.json") == prof
    assert prof.autoann_version and prof.data_kind == "tabular"
    assert any("2 row(s) with a missing target" in note for note in prof.notes)


def test_loading_a_bad_profile(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DataError, match="does not hold a profile"):
        Profile.load(bad)
    bad.write_text('{"source": "x"}')
    with pytest.raises(DataError, match="Not an autoann profile"):
        Profile.load(bad)


# -- shipped datasets ---------------------------------------------------------------------


@pytest.mark.parametrize("name, target, task, n_rows", [
    ("breast_cancer.csv", "diagnosis", "binary", 569),
    ("penguins.csv", "species", "multiclass", 344),
    ("diabetes.csv", "progression", "regression", 442),
])
def test_shipped_datasets(datasets_dir, name, target, task, n_rows):
    path = datasets_dir / name
    assert path.stat().st_size < 1_000_000
    prof = profile(path, target)
    assert (prof.target.task, prof.n_rows) == (task, n_rows)
    assert all(c.kept for c in prof.columns) and prof.facts()["suspected_leaks"] == 0


def test_penguins_details(datasets_dir):
    prof = profile(datasets_dir / "penguins.csv", "species")
    assert column(prof, "island").kind == column(prof, "sex").kind == "categorical"
    assert column(prof, "sex").missing_fraction > 0 and prof.facts()["has_missing"]


def test_no_heavy_imports():
    code = ("import sys, autoann.profiling._profile, autoann.data._tables; "
            "print(sorted(m for m in ('sklearn', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- property: any small frame profiles or raises DataError ------------------------------------

_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(-5, 5),
    st.sampled_from(["a", "b", "yes", "no", "?", "", "2020-01-01", "3", "some words here", None]),
    st.booleans(),
    st.none(),
)


@st.composite
def _frames(draw):
    n = draw(st.integers(1, 30))
    n_cols = draw(st.integers(1, 4))
    frame = pd.DataFrame({f"f{i}": draw(st.lists(_cells, min_size=n, max_size=n)) for i in range(n_cols)})
    frame = frame.apply(lambda c: c.infer_objects()) if draw(st.booleans()) else frame
    frame["target"] = draw(st.lists(_cells, min_size=n, max_size=n))
    return frame, draw(st.sampled_from([None, None, "binary", "multiclass", "regression", "multi_regression"]))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_frames())
def test_any_small_frame_profiles_or_raises_data_error(case):
    frame, task = case
    try:
        prof = profile(frame, "target", task=task)
    except DataError:
        return
    assert Profile.from_dict(json.loads(prof.to_json())) == prof
    assert set(prof.facts()) == set(FACTS)
    assert load_data(frame, "target", task=task).task == prof.target.task


def test_profile_dataset_takes_a_dataset(make_frame):
    data = load_data(make_frame(), "y")
    assert profile_dataset(data).target.task_reason == data.task_reason


def test_profile_takes_a_dataset_as_it_is(datasets_dir, monkeypatch):
    """autoann.profile(dataset) profiles the Dataset handed to it, never loading the data again."""
    from autoann.data import _tables

    dataset = load_data(datasets_dir / "penguins.csv", "species")

    def reload(*args, **kwargs):
        raise AssertionError("the data was loaded again")

    monkeypatch.setattr(_tables, "load_data", reload)
    assert profile(dataset).to_dict() == profile_dataset(dataset).to_dict()
    with pytest.raises(DataError, match="already holds its target"):
        profile(dataset, "species")
    with pytest.raises(AssertionError, match="loaded again"):  # the patch is live: raw data does reload
        profile(datasets_dir / "penguins.csv", "species")
