"""autoann.predict._predictor: loading a run, schema checks with clear messages, labels in the user's dtype."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from _runkit import artifacts, build_model, export_run, metadata, raw_frame
from autoann import metrics
from autoann.errors import DataError, ExportError, ParameterError, SchemaError
from autoann.predict import Predictor, SchemaWarning, load, save_predictions
from autoann.schema import to_model_inputs

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return export_run(artifacts("binary", ["no", "yes"], "str"), tmp_path_factory.mktemp("p") / "run")


@pytest.fixture(scope="module")
def binary(run):
    return load(run)


@pytest.fixture(scope="module")
def models():
    return {task: build_model(task) for task in ("binary", "regression", "multi_regression")}


@pytest.fixture
def rows():
    return raw_frame(20, seed=1)


def quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SchemaWarning)  # these rows must not warn
        return call(*args, **kwargs)


# -- loading ---------------------------------------------------------------------------
def test_load_names_what_is_missing(tmp_path, run):
    with pytest.raises(ExportError, match="No run directory at .*nowhere"):
        load(tmp_path / "nowhere")
    with pytest.raises(ExportError, match="not an autoann run directory: metadata.json and model.keras are missing"):
        load(tmp_path)
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(ExportError, match="model.keras is missing"):
        load(tmp_path)
    (tmp_path / "model.keras").write_bytes((run / "model.keras").read_bytes())
    with pytest.raises(ExportError, match="Cannot read .*metadata.json"):
        load(tmp_path)
    (tmp_path / "metadata.json").write_text(json.dumps({"task": "binary"}))
    with pytest.raises(ExportError, match="lacks schema, target_names"):
        load(tmp_path)
    newer = {**json.loads((run / "metadata.json").read_text()), "format": 99}
    (tmp_path / "metadata.json").write_text(json.dumps(newer))
    with pytest.raises(ExportError, match="newer autoann"):
        load(tmp_path)


def test_loaded_predictor_attributes(binary):
    assert binary.task == "binary" and list(binary.classes) == ["no", "yes"]
    assert [c.name for c in binary.schema] == ["a", "b c", "colour"] and binary.target_names == ["y"]
    assert binary.metadata.format == 1 and "binary" in repr(binary)


# -- predictions -----------------------------------------------------------------------
def test_predict_proba_predict_and_frame_agree(binary, rows):
    proba = quiet(binary.predict_proba, rows)
    raw = binary.model.predict(to_model_inputs(rows, binary.schema), verbose=0)
    assert proba.shape == (20, 2) and np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 1], raw[:, 0], atol=1e-6)
    labels = quiet(binary.predict, rows)
    assert list(labels) == ["yes" if p > 0.5 else "no" for p in proba[:, 1]]
    frame = quiet(binary.predict_frame, rows.set_index(rows.index + 100))
    assert list(frame.columns) == ["label", "proba_no", "proba_yes"] and frame.index[0] == 100
    assert list(frame["label"]) == list(labels)


@pytest.mark.parametrize("classes, class_dtype, expected", [
    (["0", "1"], "int", np.int64), (["False", "True"], "bool", np.bool_), (["-0.5", "2.5"], "float", np.float64),
    (["cat", "dog"], "str", object),
])
def test_labels_come_back_in_the_users_dtype(models, rows, classes, class_dtype, expected):
    p = Predictor(models["binary"], metadata("binary", classes, class_dtype))
    labels = quiet(p.predict, rows)
    assert labels.dtype == expected and set(labels.tolist()) <= set(p.classes.tolist())
    column = p.predict_frame(rows)["label"]
    assert pd.api.types.is_string_dtype(column) if expected is object else column.dtype == expected


def test_regression_outputs(models, rows):
    single = Predictor(models["regression"], metadata("regression"))
    assert quiet(single.predict, rows).shape == (20,)
    assert list(single.predict_frame(rows).columns) == ["y"]
    multi = Predictor(models["multi_regression"], metadata("multi_regression"))
    assert quiet(multi.predict, rows).shape == (20, 2)
    assert list(multi.predict_frame(rows).columns) == ["y1", "y2"]
    with pytest.raises(TypeError, match="predict_proba is for classifiers"):
        multi.predict_proba(rows)


def test_inputs_as_dict_records_one_row_and_files(binary, rows, tmp_path):
    expected = quiet(binary.predict_proba, rows)
    as_dict = {c: rows[c].tolist() for c in rows}
    np.testing.assert_allclose(quiet(binary.predict_proba, as_dict), expected, atol=1e-6)
    np.testing.assert_allclose(quiet(binary.predict_proba, rows.to_dict("records")), expected, atol=1e-6)
    one = quiet(binary.predict_proba, {"a": 0.3, "b c": None, "colour": "red"})
    assert one.shape == (1, 2)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "rows.parquet", index=False)
    np.testing.assert_allclose(quiet(binary.predict_proba, tmp_path / "rows.csv"), expected, atol=1e-6)
    np.testing.assert_allclose(quiet(binary.predict_proba, str(tmp_path / "rows.parquet")), expected, atol=1e-6)


def test_empty_input_gives_empty_predictions(binary, rows):
    assert quiet(binary.predict_proba, rows.iloc[:0]).shape == (0, 2)
    assert quiet(binary.predict_frame, rows.iloc[:0]).shape == (0, 3)


# -- schema checks ---------------------------------------------------------------------
def test_missing_columns_are_listed(binary, rows):
    with pytest.raises(SchemaError, match=r"lacks 2 column\(s\).*'b c', 'colour'.*expects: 'a', 'b c', 'colour'"):
        binary.predict(rows[["a"]])


def test_text_in_a_numeric_column_names_column_rows_and_values(binary, rows, tmp_path):
    bad = rows.astype({"b c": object})
    bad.loc[3, "b c"] = "12,5"
    bad.loc[7, "b c"] = "abc"
    bad.loc[8, "b c"] = "?"  # a missing-value marker (as when training read the CSV), not an error
    bad.loc[9, "b c"] = "4.5"  # numbers as text are fine
    message = r"Column 'b c' is numeric .* text in 2 row\(s\), e.g. row 3: '12,5', row 7: 'abc'"
    with pytest.raises(SchemaError, match=message):
        binary.predict(bad)
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SchemaError, match=r"holds text in 2 row\(s\), e.g. line 5: '12,5', line 9: 'abc'"):
        binary.predict(tmp_path / "bad.csv")
    bad.loc[[3, 7], "b c"] = None
    quiet(binary.predict, bad)


def test_rows_need_column_names(binary, rows):
    with pytest.raises(SchemaError, match="Cannot read rows from a ndarray"):
        binary.predict(rows.to_numpy())


def test_extra_columns_and_unseen_categories_warn(binary, rows):
    rows = rows.assign(id=range(20), note="x")
    rows.loc[[2, 5], "colour"] = ["purple", "teal"]
    with pytest.warns(SchemaWarning) as record:
        binary.predict(rows)
    messages = [str(w.message) for w in record]
    assert any("Ignoring 2 column(s) the model does not use: 'id', 'note'" in m for m in messages)
    assert any("'colour': 2 row(s) have categories not seen in training (e.g. 'purple', 'teal')" in m for m in messages)


def test_missing_values_are_silent(binary, rows):
    rows.loc[:, "a"] = np.nan
    rows.loc[:, "colour"] = None
    assert np.isfinite(quiet(binary.predict_proba, rows)).all()


def test_missing_data_file_is_a_data_error(binary, tmp_path):
    with pytest.raises(DataError, match="not found"):
        binary.predict(tmp_path / "absent.csv")


# -- evaluate --------------------------------------------------------------------------
def test_evaluate_uses_the_trained_target_column_by_default(binary, rows):
    labelled = rows.assign(y=np.where(np.arange(20) % 2, "yes", "no"))
    scores = quiet(binary.evaluate, labelled)
    raw = binary.model.predict(to_model_inputs(rows, binary.schema), verbose=0)
    assert scores == pytest.approx(metrics.evaluate_predictions("binary", labelled["y"], raw, ["no", "yes"]))
    assert quiet(binary.evaluate, rows, labelled["y"].to_numpy()) == pytest.approx(scores)
    assert quiet(binary.evaluate, labelled.rename(columns={"y": "truth"}), "truth") == pytest.approx(scores)
    assert quiet(binary.evaluate, labelled.rename(columns={"y": "t"}), target=["t"]) == pytest.approx(scores)


def test_evaluate_drops_rows_without_a_target(binary, rows):
    labelled = rows.assign(y=np.where(np.arange(20) % 2, "yes", "no"))
    labelled.loc[[0, 1], "y"] = None
    with pytest.warns(SchemaWarning, match=r"Dropped 2 row\(s\) whose target is missing"):
        binary.evaluate(labelled)


def test_evaluate_errors(binary, models, rows):
    with pytest.raises(SchemaError, match="target column.*'y' are not in the data"):
        binary.evaluate(rows)
    with pytest.raises(DataError, match="20 rows but 3 target values"):
        binary.evaluate(rows, ["no", "yes", "no"])
    with pytest.raises(DataError, match="not among the model's classes"):
        binary.evaluate(rows, ["maybe"] * 20)
    ints = Predictor(models["binary"], metadata("binary", ["0", "1"], "int"))
    assert 0 <= quiet(ints.evaluate, rows, np.arange(20) % 2)["accuracy"] <= 1
    reg = Predictor(models["multi_regression"], metadata("multi_regression"))
    assert set(quiet(reg.evaluate, rows.assign(y1=1.0, y2=2.0))) == {"rmse", "mae", "r2"}


# -- writing predictions ---------------------------------------------------------------
def test_save_predictions_never_overwrites_by_accident(tmp_path):
    frame = pd.DataFrame({"label": ["a"], "proba_a": [1.0]})
    path = save_predictions(frame, tmp_path / "out" / "p.csv")
    assert pd.read_csv(path).equals(frame)
    with pytest.raises(ExportError, match="already exists.*--overwrite"):
        save_predictions(frame.assign(proba_a=0.5), path)
    assert pd.read_csv(path)["proba_a"].iloc[0] == 1.0
    save_predictions(frame.assign(proba_a=0.5), path, overwrite=True)
    assert pd.read_csv(path)["proba_a"].iloc[0] == 0.5
    save_predictions(frame, tmp_path / "p.parquet")
    assert pd.read_parquet(tmp_path / "p.parquet").equals(frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "p.parquet"]


# -- Monte Carlo dropout (--uncertainty, G-REG-5) ---------------------------------------------------------


def mc_predictor(task: str, classes=None, samples: int = 30, dropout: float = 0.3) -> Predictor:
    meta = metadata(task, classes, "str" if classes else None)
    meta["best_hyperparameters"]["mc_dropout_samples"] = samples
    return Predictor(build_model(task, dropout=dropout), meta)


def test_mc_dropout_regression_spreads_around_the_deterministic_prediction():
    frame = raw_frame(30)
    mc = mc_predictor("regression")
    mean, std = quiet(mc.predict_uncertainty, frame)
    deterministic = Predictor(mc.model, metadata("regression")).predict(frame)
    assert mean.shape == std.shape == (30,) and (std > 0).all()
    assert np.corrcoef(mean, deterministic)[0, 1] > 0.9  # dropout's inference scaling approximates the MC mean
    table = quiet(mc.predict_frame, frame)
    assert list(table.columns) == ["y", "y_std"] and (table["y_std"] > 0).all()


def test_mc_dropout_classifier_averages_probabilities():
    frame = raw_frame(20)
    mc = mc_predictor("multiclass", ["a", "b", "c"])
    mean, std = quiet(mc.predict_uncertainty, frame)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0, rtol=1e-6)
    assert std.shape == (20, 3) and (std.max(axis=1) > 0).all()
    table = quiet(mc.predict_frame, frame)
    assert list(table.columns) == ["label", "proba_a", "proba_b", "proba_c",
                                   "proba_a_std", "proba_b_std", "proba_c_std"]
    assert set(table["label"]) <= {"a", "b", "c"}


def test_mc_dropout_needs_dropout():
    plain = Predictor(build_model("regression"), metadata("regression"))
    assert plain.mc_samples == 0 and not plain.has_dropout
    with pytest.raises(ParameterError, match="needs a model with dropout"):
        plain.predict_uncertainty(raw_frame(5), samples=10)
    no_rate = mc_predictor("regression", dropout=0.0)
    assert no_rate.mc_samples == 0  # dropout 0 was chosen: one deterministic pass
