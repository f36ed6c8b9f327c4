"""AutoANNClassifier / AutoANNRegressor inside scikit-learn: labels, shapes, pickling, export, meta-estimators.

Every model is fitted once per module (fixtures below) with the tiny search of
docs/estimators.md ("Tiny searches for tests"): one trial, at most 10 epochs,
no calibration run and no refit.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from _helpers import TINY_SEEDED as TINY
import autoann
from autoann.errors import AutoANNError, ExportError, ParameterError
from autoann.estimators._checks import check_weights
from autoann.estimators._estimators import AutoANNClassifier, AutoANNRegressor, NotFittedError
from autoann.params import CONSTRAINTS

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("tiny_search")]

def frame_data(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers with NaN, a string column with None, and a label that depends on both."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    X = pd.DataFrame({"a": a, "b b": b, "colour": colour})
    X.loc[::11, "b b"] = np.nan
    X.loc[::13, "colour"] = None
    y = np.where(a + (colour == "red") > 0.3, "yes", "no")
    return X, y


def blobs(n: int = 150, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, 4)) * 0.5
    X[:, 0] += 2.0 * y
    X[:, 1] -= 1.5 * y
    return X, y


def regression(n: int = 150, targets: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    Y = np.column_stack([X[:, 0] * 3.0 + X[:, 1] + 10.0, X[:, 2] - 2.0 * X[:, 3]])[:, :targets]
    return X, (Y[:, 0] if targets == 1 else Y)


@pytest.fixture(scope="module")
def binary():
    X, y = frame_data()
    return AutoANNClassifier(**TINY).fit(X, y), X, y


@pytest.fixture(scope="module")
def multiclass():
    X, y = blobs()
    return AutoANNClassifier(**TINY).fit(X, y), X, y


@pytest.fixture(scope="module")
def regressor():
    X, y = regression()
    return AutoANNRegressor(**TINY).fit(X, y), X, y


# -- construction, parameters, tags -------------------------------------------------


def test_import_and_construction_do_not_import_tensorflow():
    code = ("import sys, autoann; from sklearn.base import clone; "
            "est = clone(autoann.AutoANNClassifier(time_budget=5)); autoann.AutoANNRegressor(); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_init_only_stores_and_clone_keeps_params():
    est = AutoANNClassifier(time_budget=-1, goal="nonsense", pins={"n_layers": 2})  # no validation in __init__
    copy = clone(est)
    assert copy.get_params() == est.get_params() and copy.pins is not est.pins
    assert AutoANNRegressor().get_params()["time_budget"] == "1m"


def test_bad_parameters_are_all_reported_in_one_error():
    shared = ("time_budget", "max_trials", "max_epochs", "goal", "verbose")
    bad = {name: CONSTRAINTS[name].invalid_example() for name in shared}
    bad.update(validation_fraction=1.5, random_state=-3, pins={"n_layer": 2}, rules="rules.yaml")
    with pytest.raises(ParameterError) as info:
        AutoANNClassifier(**bad).fit(*blobs(30))
    message = str(info.value)
    for name in [*shared, "validation_fraction", "random_state", "pins", "rules"]:
        assert f"The {name!r} parameter of AutoANNClassifier" in message, name
    assert "did you mean 'n_layers'?" in message
    assert isinstance(info.value, ValueError)


def test_tags_are_honest():
    tags = get_tags(AutoANNClassifier())
    assert tags.input_tags.allow_nan and tags.input_tags.categorical and not tags.input_tags.sparse
    assert tags.non_deterministic and tags.estimator_type == "classifier"
    reg = get_tags(AutoANNRegressor())
    assert reg.target_tags.multi_output and reg.estimator_type == "regressor"


def test_predict_before_fit_raises_not_fitted():
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(NotFittedError) as info:
            getattr(AutoANNClassifier(), method)(np.zeros((3, 2)))
        assert isinstance(info.value, (AutoANNError, SklearnNotFittedError))
    with pytest.raises(SklearnNotFittedError):
        AutoANNRegressor().export("never-written")


# -- classification ---------------------------------------------------------------------


def test_binary_string_labels_with_strings_and_nan_in_a_dataframe(binary):
    est, X, y = binary
    assert list(est.classes_) == ["no", "yes"]
    assert list(est.feature_names_in_) == ["a", "b b", "colour"] and est.n_features_in_ == 3
    pred = est.predict(X)
    assert set(pred) <= {"no", "yes"} and len(pred) == len(X)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    decision = est.decision_function(X)
    assert decision.shape == (len(X),) and np.isfinite(decision).all()
    np.testing.assert_array_equal(pred == "yes", decision > 0)
    assert est.score(X, y) > 0.7


def test_multiclass_int_labels_from_an_array(multiclass):
    est, X, y = multiclass
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    pred = est.predict(X)
    assert pred.dtype.kind == "i"
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(np.exp(est.decision_function(X)), proba, rtol=1e-6, atol=1e-12)
    assert est.score(X, y) > 0.8
    assert est.metadata_["task"] == "multiclass" and est.metadata_["classes"] == ["0", "1", "2"]


def test_bool_labels_come_back_as_bool():
    X, y = blobs(60, k=2)
    est = AutoANNClassifier(**TINY).fit(X, y == 1)
    assert est.classes_.dtype == bool
    assert est.predict(X).dtype == bool


def test_fitted_attributes(binary):
    est, _, _ = binary
    assert est.best_params_["task"] == "binary" and est.best_params_["learning_rate"] == 0.01
    assert {"trial_id", "score", "status"} <= set(est.leaderboard_.columns) and len(est.leaderboard_) == 1
    assert est.space_.fixed("task") == "binary"
    assert est.profile_.target.task == "binary"
    assert est.metadata_["splits"]["test"] == 0  # no test split: the caller cross-validates
    assert est.metadata_["class_dtype"] == "str" and est.metadata_["target_names"] == ["y"]
    assert est.history_ and isinstance(est.fit_seconds_, float)


def test_rare_classes_are_repeated_with_a_warning():
    X, y = blobs(40, k=2)
    y = np.where(y == 0, "low", "high").astype(object)
    y[:2] = "rare"
    with pytest.warns(UserWarning, match="'rare' \\(2\\)"):
        est = AutoANNClassifier(**TINY).fit(X, y)
    assert "rare" in est.classes_


def test_bad_inputs_raise_clear_errors(multiclass):
    est, X, _ = multiclass
    with pytest.raises(ValueError, match="X has 3 features, but AutoANNClassifier is expecting 4"):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match="1 class"):
        AutoANNClassifier(**TINY).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="n_samples=5"):
        AutoANNClassifier(**TINY).fit(X[:5], [0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match="Unknown label type"):
        AutoANNClassifier(**TINY).fit(X, X[:, 0])
    cells = X.astype(object)
    cells[3, 1] = {"a": 1}
    with pytest.raises(TypeError, match=r"X\[3, 1\] holds a dict"):
        AutoANNClassifier(**TINY).fit(cells, np.arange(len(X)) % 2)


def test_renamed_columns_are_refused(binary):
    est, X, _ = binary
    with pytest.raises(ValueError, match="feature names"):
        est.predict(X.rename(columns={"a": "A"}))


# -- regression -------------------------------------------------------------------------


def test_single_target_regression(regressor):
    est, X, y = regressor
    pred = est.predict(X)
    assert pred.shape == (len(X),) and est.n_outputs_ == 1
    assert est.score(X, y) > 0.5
    assert abs(pred.mean() - y.mean()) < 0.5 * y.std()  # predictions in target units, not standardized


def test_multi_target_regression():
    X, Y = regression(targets=2)
    est = AutoANNRegressor(**TINY).fit(X, Y)
    assert est.n_outputs_ == 2 and est.metadata_["task"] == "multi_regression"
    assert est.predict(X).shape == (len(X), 2)
    assert est.metadata_["target_names"] == ["y0", "y1"]


# -- pickling, export ----------------------------------------------------------------------


def test_pickle_and_joblib_round_trip(binary, tmp_path):
    est, X, _ = binary
    before = est.predict_proba(X)
    blob = pickle.dumps(est)
    assert not isinstance(est.model_, bytes)  # pickling never touches the live estimator
    np.testing.assert_array_equal(pickle.loads(blob).predict_proba(X), before)
    joblib.dump(est, tmp_path / "est.joblib")
    again = joblib.load(tmp_path / "est.joblib")
    np.testing.assert_array_equal(again.predict_proba(X), before)
    assert list(again.classes_) == ["no", "yes"]


def test_unpickle_in_a_fresh_process(multiclass, tmp_path):
    est, X, _ = multiclass
    (tmp_path / "est.pkl").write_bytes(pickle.dumps(est))
    np.save(tmp_path / "X.npy", X)
    code = textwrap.dedent(f"""
        import pickle, sys, json, numpy as np
        est = pickle.loads(open({str(tmp_path / 'est.pkl')!r}, 'rb').read())
        print(json.dumps(est.predict_proba(np.load({str(tmp_path / 'X.npy')!r})).tolist()))
    """)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    np.testing.assert_allclose(np.array(json.loads(out.strip().splitlines()[-1])), est.predict_proba(X),
                               rtol=1e-6, atol=1e-7)


def test_export_then_autoann_load(binary, tmp_path):
    est, X, _ = binary
    run_dir = est.export(tmp_path / "run")
    assert (run_dir / "model.keras").exists() and (run_dir / "metadata.json").exists()
    predictor = autoann.load(run_dir)
    np.testing.assert_array_equal(predictor.predict(X), est.predict(X))
    np.testing.assert_allclose(predictor.predict_proba(X), est.predict_proba(X), rtol=1e-5, atol=1e-6)
    with pytest.raises(ExportError, match="already exists"):
        est.export(run_dir)
    est.export(run_dir, overwrite=True)
    assert not list(tmp_path.glob(".run*"))  # no staging folder left behind


def test_regressor_export_then_autoann_load(regressor, tmp_path):
    est, X, _ = regressor
    predictor = autoann.load(est.export(tmp_path / "reg"))
    np.testing.assert_allclose(predictor.predict(X), est.predict(X), rtol=1e-5, atol=1e-5)


# -- inside scikit-learn ---------------------------------------------------------------------


def test_pipeline_with_a_column_transformer():
    X, y = frame_data()
    prep = ColumnTransformer([("scale", StandardScaler(), ["a", "b b"])], remainder="passthrough")
    pipe = make_pipeline(prep, AutoANNClassifier(**TINY)).fit(X, y)
    assert pipe.score(X, y) > 0.7
    assert pipe.predict(X.iloc[:5]).dtype == y.dtype


def test_sample_weight_decides_which_rows_are_learned():
    """The same points twice with opposite labels: the weights pick which copy the model learns."""
    from test_sample_weight import conflicting

    X, y, first = conflicting(80)
    for weights, copy in ((first, slice(0, 80)), (1 - first, slice(80, 160))):
        est = AutoANNClassifier(**TINY).fit(X, y, sample_weight=weights)
        assert (est.predict(X[copy]) == y[copy]).mean() > 0.8


def test_bad_sample_weight_raises_before_training():
    X, y = blobs(40)
    with pytest.raises(ValueError, match="sample_weight"):
        AutoANNClassifier(**TINY).fit(X, y, sample_weight=np.ones(39))
    with pytest.raises(ValueError, match="(?i)negative"):
        AutoANNClassifier(**TINY).fit(X, y, sample_weight=-np.ones(40))


def test_cross_val_score():
    X, y = blobs(80)
    scores = cross_val_score(AutoANNClassifier(**TINY), X, y, cv=2)
    assert scores.shape == (2,) and (scores > 0.6).all()


def test_working_dir_keeps_the_search_state(tmp_path):
    X, y = regression(60)
    AutoANNRegressor(**TINY, working_dir=str(tmp_path / "state")).fit(X, y)
    assert (tmp_path / "state" / "search" / "oracle.json").exists()


def test_workers_run_the_trials_in_worker_processes():
    X, y = regression(60)
    model = AutoANNRegressor(**{**TINY, "max_trials": 3}, workers=2).fit(X, y)
    assert len(model.leaderboard_) == 3 and set(model.leaderboard_["worker"]) <= {"local1", "local2"}
    assert model.get_params()["workers"] == 2 and model.predict(X).shape == (60,)


@pytest.mark.slow
def test_grid_search_over_max_epochs():
    X, y = blobs(80)
    grid = GridSearchCV(AutoANNClassifier(**TINY), {"max_epochs": [3, 10]}, cv=2, scoring="neg_log_loss").fit(X, y)
    # Accuracy ties on these blobs; log loss does not, and ten epochs at the pinned constant rate fit them better.
    assert grid.best_params_["max_epochs"] == 10, grid.cv_results_["mean_test_score"]
    assert grid.best_estimator_.best_params_["max_epochs"] == grid.best_params_["max_epochs"]


@pytest.mark.slow
def test_calibrated_classifier():
    X, y = blobs(90)
    calibrated = CalibratedClassifierCV(AutoANNClassifier(**TINY), cv=2).fit(X, y)
    proba = calibrated.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (calibrated.predict(X) == y).mean() > 0.8


@pytest.mark.slow
def test_the_time_budget_alone_ends_the_search():
    """No max_trials: only the budget stops it (if it does not, the test's timeout fails it), and the fit
    ends as usual, with completed trials and the search inside the time the fit reports (how close to the
    budget: bench/compare_mlp.py)."""
    X, y = frame_data(300)
    est = AutoANNClassifier(time_budget=25, random_state=0).fit(X, y)
    budget = est.metadata_["budget"]
    assert not est.metadata_["interrupted"] and (est.leaderboard_["status"] == "completed").any()
    assert 0 < budget["search_seconds"] <= budget["seconds_before_export"]


@pytest.mark.parametrize(("weights", "message"), [
    (np.ones((40, 1)), "must be 1D array or scalar"),
    (np.ones(39), r"sample_weight.shape == \(39,\), expected \(40,\)!"),
    (-np.ones(40), "Negative values in data passed to `sample_weight`"),
    (np.zeros(40), "at least one non-zero number"),
    ([np.nan] * 40, "Input sample_weight contains NaN"),
])
def test_sample_weight_checks_give_scikit_learns_messages(weights, message):
    with pytest.raises(ValueError, match=message):
        check_weights(weights, 40)


def test_scalar_sample_weight_weights_every_row():
    assert check_weights(2, 3).tolist() == [2.0, 2.0, 2.0]
