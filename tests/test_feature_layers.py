"""The feature layers on given strings (compared with pandas), and a tiny run on a frame with a date, a
text column, a skewed input and a skewed positive target: model.keras and the SavedModel, reloaded (the
SavedModel also in a process that cannot import autoann), predict from raw strings what the in-process
model predicts, in target units."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from autoann.layers import DateTimeFeatures, HashedText, StandardizeImpute, parse_datetime
from autoann.predict import SchemaWarning, check_frame, load
from autoann.schema import Column, model_input_names
from autoann.search import SearchOptions, fit_run

from _runkit import WITHOUT_AUTOANN, export_run

pytestmark = pytest.mark.train

VALID = ["2021-03-04", "2021/3/4", "2021.03.04 10:22", "2020-02-29T23:59:59.5Z", "1999-12-31 00:00:00+01:00",
         "1970-01-01", "1900-03-01 06:30", "2400-02-29"]
INVALID = ["", "junk", "2021-02-29", "2021-13-01", "2021-04-31", "2021-03-04 24:00", "03/04/2021", "2021-03"]


def expected_parts(strings: list[str]) -> pd.DataFrame:
    """What pandas reads from the same strings (time zones ignored, as the layer does)."""
    stamps = pd.to_datetime(pd.Series(strings).str.replace(r"(Z|[+-]\d{2}:\d{2})$", "", regex=True),
                            format="mixed")
    days = (stamps.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days
    return pd.DataFrame({"year": stamps.dt.year, "month": stamps.dt.month, "day": stamps.dt.day, "days": days,
                         "seconds": stamps.dt.hour * 3600 + stamps.dt.minute * 60 + stamps.dt.second,
                         "weekday": stamps.dt.day_of_week, "day_of_year": stamps.dt.day_of_year - 1})


def test_parse_datetime_agrees_with_pandas():
    parts = {k: np.asarray(v) for k, v in parse_datetime(VALID).items()}
    assert parts["valid"].tolist() == [1.0] * len(VALID)
    expected = expected_parts(VALID)
    for name in expected.columns:
        np.testing.assert_array_equal(parts[name], expected[name].to_numpy("float64"), err_msg=name)


def test_missing_and_garbage_are_missing():
    layer = DateTimeFeatures(2000.0, 10.0, 0.0, 1000.0, True)
    out = np.asarray(layer(tf.constant(INVALID)))
    assert out.shape == (len(INVALID), 11)
    np.testing.assert_array_equal(out[:, -1], 1.0)
    np.testing.assert_array_equal(out[:, :-1], 0.0)


def test_datetime_features_values():
    layer = DateTimeFeatures(year_mean=2020.0, year_std=2.0, min_days=18000.0, span_days=1000.0, has_time=True)
    out = np.asarray(layer(tf.constant(["2021-03-04 06:00"])))[0]
    turn = 2 * math.pi
    days = (pd.Timestamp("2021-03-04") - pd.Timestamp("1970-01-01")).days
    want = [0.5, math.sin(turn * 2 / 12), math.cos(turn * 2 / 12),
            math.sin(turn * 3 / 7), math.cos(turn * 3 / 7),  # Thursday
            math.sin(turn * 62 / 365.25), math.cos(turn * 62 / 365.25),
            math.sin(turn / 4), math.cos(turn / 4), (days + 0.25 - 18000) / 1000, 0.0]
    np.testing.assert_allclose(out, want, atol=1e-5)
    assert DateTimeFeatures(0.0, 1.0, 0.0, 1.0, False)(tf.constant(["2021-03-04"])).shape == (1, 9)


def test_hashed_text_shares_words_whatever_the_spelling_of_case_and_punctuation():
    layer = HashedText([1.0] * 32)
    out = np.asarray(layer(tf.constant(["Chevrolet Chevelle-Malibu", "chevrolet chevelle malibu", "", "ford"])))
    np.testing.assert_allclose(out[0], out[1])
    np.testing.assert_array_equal(out[2], 0.0)
    np.testing.assert_allclose(np.linalg.norm(out[[0, 1, 3]], axis=1), 1.0, rtol=1e-6)
    assert (out[0] > 0).sum() <= 3 and (out[3] > 0).sum() == 1


def test_signed_log1p_before_standardizing():
    x = np.array([[0.0, 1.0], [9.0, -99.0], [np.nan, 3.0]], dtype="float32")
    layer = StandardizeImpute([1.0, 0.0], [2.0, 1.0], [True, False], log=[False, True])
    out = np.asarray(layer(x))
    logged = np.sign(x[:, 1]) * np.log1p(np.abs(x[:, 1]))
    np.testing.assert_allclose(out[:, 0], [-0.5, 4.0, 0.0])
    np.testing.assert_allclose(out[:, 1], logged, rtol=1e-6)
    np.testing.assert_array_equal(out[:, 2], [0.0, 0.0, 1.0])
    assert StandardizeImpute.from_config(layer.get_config()).log == [False, True]
    assert StandardizeImpute([0.0], [1.0], [False]).get_config()["log"] is None


def test_smooth_clipping_bends_outliers_and_leaves_ordinary_values_almost_alone():
    """RealMLP's smooth clip z / sqrt(1 + (z/3)^2): monotone, about z near 0, bounded by 3, saved in the config."""
    z = np.array([[-100.0], [-3.0], [0.0], [0.5], [3.0], [1e6]], dtype="float32")
    layer = StandardizeImpute([0.0], [1.0], [False], clip=3.0)
    out = np.asarray(layer(z))[:, 0]
    np.testing.assert_allclose(out, z[:, 0] / np.sqrt(1 + (z[:, 0] / 3) ** 2), rtol=1e-6)
    assert np.all(np.diff(out) > 0) and np.all(np.abs(out) <= 3) and abs(out[3] - 0.5) < 0.01
    assert StandardizeImpute.from_config(layer.get_config()).clip == 3.0
    assert StandardizeImpute([0.0], [1.0], [False]).clip == 0.0  # models saved before the option load unchanged


def raw_frame(n: int = 150, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = ["chevrolet", "ford", "malibu", "impala", "torino", "pinto", "civic", "corolla", "gt", "sw"]
    frame = pd.DataFrame({
        "sold on": pd.date_range("2020-01-01", periods=n, freq="37h"),
        "name": [" ".join(rng.choice(words, 3)) + f" {i}" for i in range(n)],
        "miles": rng.lognormal(8, 1.2, n),
    })
    frame["price"] = np.exp(1 + 0.2 * np.log(frame["miles"]) + 0.5 * (frame["sold on"].dt.month > 6)
                            + rng.normal(0, 0.3, n))
    frame.loc[3, "sold on"] = pd.NaT
    frame.loc[5, "name"] = None
    return frame


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    frame = raw_frame()
    tmp = tmp_path_factory.mktemp("features")
    fitted = fit_run(frame, "price", workdir=tmp / "work", time_budget="5m", max_trials=1, max_epochs=2, seed=0,
                     options=SearchOptions(calibrate=False, refit=False, workers=1))
    return fitted, export_run(fitted, tmp / "run"), frame


def client_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows as a client sends them: ISO strings (with and without time), an unparseable date, empty text."""
    rows = frame.drop(columns="price").head(8).copy()
    rows["sold on"] = rows["sold on"].dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")
    rows.loc[1, "sold on"] = "2021-07-15"
    rows.loc[2, "sold on"] = "not a date"
    rows.loc[4, "name"] = "ford pinto never seen"
    return rows


def test_run_uses_the_new_features(run):
    fitted, _, _ = run
    meta = fitted.metadata
    assert {c.name: c.kind for c in meta.schema} == {"sold on": "datetime", "name": "text", "miles": "numeric"}
    assert meta.space["hyperparameters"]["target_scaling"]["value"] == "log_standardize"
    assert meta.preprocessing["log"] == [True]
    assert [d["has_time"] for d in meta.preprocessing["datetime"]] == [True]
    assert len(meta.preprocessing["text"][0]["idf"]) == 64
    assert fitted.model.layers[-1].name == "target_expm1"


def test_reloaded_exports_predict_like_the_in_process_model(run):
    fitted, run_dir, frame = run
    rows = client_rows(frame)
    keys = model_input_names(fitted.metadata.schema)
    feed = {keys["miles"]: rows["miles"].to_numpy("float32"),
            keys["sold on"]: rows["sold on"].to_numpy(object).astype(str),
            keys["name"]: rows["name"].fillna("").to_numpy(object).astype(str)}
    in_process = np.asarray(fitted.model({k: tf.constant(v) for k, v in feed.items()})).ravel()
    reloaded = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(reloaded({k: tf.constant(v) for k, v in feed.items()})).ravel(),
                               in_process, rtol=1e-5)
    names = json.loads((run_dir / "metadata.json").read_text())["serving"]["inputs"]
    serve = tf.saved_model.load(str(run_dir / "saved_model" / "1")).signatures["serving_default"]
    served = serve(**{names[column]: tf.constant(feed[keys[column]]) for column in ("miles", "sold on", "name")})
    np.testing.assert_allclose(np.asarray(next(iter(served.values()))).ravel(), in_process, rtol=1e-5)
    with pytest.warns(SchemaWarning, match="1 value\\(s\\) are not dates"):
        np.testing.assert_allclose(load(run_dir).predict(rows), in_process, rtol=1e-5)
    script = WITHOUT_AUTOANN + (
        "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "feed = json.loads(sys.argv[2])\n"
        "out = serve(**{k: tf.constant(v, tf.float32 if k == sys.argv[3] else tf.string) for k, v in feed.items()})\n"
        "print(json.dumps(next(iter(out.values())).numpy().ravel().tolist()))\n")
    feed_json = json.dumps({names[column]: feed[keys[column]].tolist() for column in ("miles", "sold on", "name")})
    done = subprocess.run([sys.executable, "-c", script, str(run_dir / "saved_model" / "1"), feed_json,
                           names["miles"]], capture_output=True, text=True, check=True)
    np.testing.assert_allclose(json.loads(done.stdout.strip().splitlines()[-1]), in_process, rtol=1e-5)


def test_skewed_target_comes_back_in_target_units(run):
    fitted, run_dir, frame = run
    predicted = load(run_dir).predict(frame.drop(columns="price"))
    price = frame["price"].to_numpy()
    assert np.all(predicted > -1)
    # trained on standardized log1p(price): even a barely trained model predicts near its geometric centre
    assert price.min() < np.median(predicted) < price.max()
    assert 0.3 < np.median(predicted) / np.median(price) < 3


def test_predict_warns_about_unreadable_dates():
    frame = pd.DataFrame({"t": ["2021-03-04", "03/04/2021", None, "soon"]})
    _, notes = check_frame(frame, [Column("t", "datetime")])
    assert len(notes) == 1 and "2 value(s) are not dates" in notes[0] and "'03/04/2021'" in notes[0]
    assert check_frame(frame.head(1), [Column("t", "datetime")])[1] == []
