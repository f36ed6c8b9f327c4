"""Date/time, text and skewed columns without TensorFlow: how the profile classifies them, the facts,
the FEAT-* rules they fire, and the strings ``to_model_inputs`` feeds for them."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from autoann.profiling import SKEW_THRESHOLD, Profile, is_skewed, profile
from autoann.rules import recommend
from autoann.schema import DATETIME_PATTERN, Column, to_model_inputs

N = 200
WORDS = ["chevrolet", "ford", "malibu", "impala", "torino", "pinto", "civic", "corolla", "gt", "sw"]


def columns_frame(seed: int = 0) -> pd.DataFrame:
    """A date, a free-text column, a near-unique car-name column, a low-cardinality string, a skewed and a
    symmetric number, and a positive right-skewed regression target."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "when": pd.date_range("2020-01-01", periods=N, freq="37h").strftime("%Y-%m-%d %H:%M"),
        "day": pd.date_range("2019-05-01", periods=N, freq="D"),
        "review": [" ".join(rng.choice(WORDS, 6)) + f" {i}" for i in range(N)],
        "car": [f"model-{i // 2}" for i in range(N)],  # 100 levels, 2 rows each: still embedded
        "colour": rng.choice(["red", "green", "blue"], N),
        "income": rng.lognormal(0, 1.5, N),
        "height": rng.normal(170, 10, N),
        "price": rng.lognormal(2, 1, N),
    })


@pytest.fixture(scope="module")
def prof() -> Profile:
    return profile(columns_frame(), "price")


def kinds(prof: Profile) -> dict[str, tuple[str, bool]]:
    return {c.name: (c.kind, c.kept) for c in prof.columns}


def test_profile_keeps_dates_and_text_and_measures_skew(prof):
    assert kinds(prof) == {"when": ("datetime", True), "day": ("datetime", True), "review": ("text", True),
                           "car": ("categorical", True), "colour": ("categorical", True),
                           "income": ("numeric", True), "height": ("numeric", True)}
    by_name = {c.name: c for c in prof.columns}
    assert by_name["when"].has_time and by_name["when"].encoded_width == 11
    assert not by_name["day"].has_time and by_name["day"].encoded_width == 9
    assert by_name["review"].encoded_width == 64
    assert is_skewed(by_name["income"].skew) and not is_skewed(by_name["height"].skew)
    assert by_name["income"].skew == pytest.approx(pd.Series(columns_frame()["income"]).skew())


def test_near_unique_names_are_hashed_not_embedded(make_frame):
    # 304 levels in 398 rows, like auto-mpg's car names: under 2 rows per level
    rng = np.random.default_rng(0)
    names = [f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i % 304}" for i in range(398)]
    col = profile(make_frame(n=398, name=names), "y").columns[-1]
    assert (col.kind, col.kept, col.encoded_width) == ("text", True, 64)


def test_facts_count_the_new_columns(prof):
    facts = prof.facts()
    assert (facts["n_datetime"], facts["n_text"], facts["n_skewed"]) == (2, 1, 1)
    assert facts["target_skew"] > SKEW_THRESHOLD
    assert Profile.from_dict(prof.to_dict()).facts() == facts


def test_feature_schema_passes_raw_strings(prof):
    assert dict(prof.feature_schema()) == {"when": "datetime", "day": "datetime", "review": "text",
                                           "car": "categorical", "colour": "categorical", "income": "numeric",
                                           "height": "numeric"}


def test_rules_pick_the_transforms_and_say_why(prof):
    rec = recommend(prof)
    space = rec.space
    assert space.setting("numeric_skew_transform") == "signed_log1p"
    assert space.setting("text_hash_buckets") == 64
    assert space.setting("target_scaling") == "log_standardize"
    assert space.setting("output_activation") == "linear"
    fired = {o.rule_id for o in rec.trace if o.fired}
    assert {"FEAT-DATETIME", "FEAT-TEXT", "FEAT-SKEWED-INPUTS", "FEAT-LOG-TARGET"} <= fired
    assert space.hyperparameters["target_scaling"].rules == ["FEAT-LOG-TARGET"]  # replaces OUT-REGRESSION's


def test_no_transform_without_skew(make_frame):
    rec = recommend(profile(make_frame(t=np.random.default_rng(0).normal(50, 10, 60)).drop(columns="y"), "t"))
    assert rec.space.setting("numeric_skew_transform") == "none"
    assert rec.space.setting("target_scaling") == "standardize"


def test_datetime_inputs_are_iso_strings():
    stamps = pd.Series(pd.to_datetime(["2021-03-04 10:22:05", None, "1999-12-31 00:00:00"]))
    periods = pd.Series(pd.period_range("2021-01", periods=2, freq="M"))
    frame = pd.DataFrame({"t": stamps, "text": ["2021-03-04", None, "junk"]})
    inputs = to_model_inputs(frame, [Column("t", "datetime"), Column("text", "datetime")])
    assert inputs["t"].tolist() == ["2021-03-04T10:22:05", "", "1999-12-31T00:00:00"]
    assert inputs["text"].tolist() == ["2021-03-04", "", "junk"]
    assert to_model_inputs(pd.DataFrame({"p": periods}), [Column("p", "datetime")])["p"].tolist() == \
        ["2021-01-01T00:00:00", "2021-02-01T00:00:00"]


@pytest.mark.parametrize(("text", "ok"), [
    ("2021-03-04", True), ("2021/3/4", True), ("2021.03.04", True), ("2021-03-04 10:22", True),
    ("2021-03-04T10:22:05.123Z", True), ("2021-03-04 10:22:05+01:00", True), (" 2021-03-04 ", True),
    ("03/04/2021", False), ("Mar 4, 2021", False), ("2021-03", False), ("", False), ("10:22", False),
])
def test_accepted_datetime_formats(text, ok):
    assert bool(re.fullmatch(DATETIME_PATTERN, text)) is ok

