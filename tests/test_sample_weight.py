"""Sample weights through ``fit_run``: checked, aligned with the rows, split like them, and trained with.

The learning tests use a *conflicting* dataset: every row appears twice with
opposite labels, so without weights nothing can be learnt; weights that zero
out one copy must make the network learn the other one.
"""


import keras
import numpy as np
import pandas as pd
import pytest

from autoann.data import _tables as tables
from autoann.data import load_data
from autoann.errors import DataError
from autoann.search._fit import TrainingData, fit_network
from autoann.search._network import build_network
from autoann.search._preprocessing import fit_preprocessing, transform
from autoann.schema import Column
from autoann.search._splits import split_dataset
from autoann.search._trainer import fit_run
from autoann.data._weights import check_sample_weight

pytestmark = pytest.mark.train

SCHEMA = [Column("a", "numeric"), Column("b", "numeric")]
VALUES = {"task": "binary", "output_units": 1, "output_activation": "sigmoid", "loss": "binary_crossentropy",
          "metric": "roc_auc", "n_layers": 1, "units_first": 16, "activation_family": "elu", "optimizer": "adam",
          "learning_rate": 0.02, "batch_size": 16, "patience": 100, "schedule": "constant"}


def conflicting(n: int = 100, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """2n rows: n points labelled (a > 0), then the same n points labelled the other way.

    Returns the features, the labels and a 0/1 mask of the first copy.
    """
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"a": np.concatenate([a, a]), "b": np.concatenate([b, b])})
    y = np.concatenate([a > 0, a <= 0]).astype(int)
    first = np.concatenate([np.ones(n), np.zeros(n)])
    return frame, y, first


def training_data(frame, y, w_train=None, w_val=None, class_weight=None) -> tuple:
    prep = fit_preprocessing(frame, SCHEMA)
    (x,) = transform(prep, SCHEMA, [frame])
    target = y.astype("float32").reshape(-1, 1)
    return prep, TrainingData(x, target, x, target, class_weight, w_train=w_train, w_val=w_val)


def fitted(prep, data, values=VALUES, epochs=15, built_weighted=None):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    weighted = data.sample_weighted if built_weighted is None else built_weighted
    model = build_network(values, prep, weighted_metrics=weighted)
    record = fit_network(model, values, data, epochs=epochs, seed=0)
    return model, record


# -- checks: what is refused, with which message ---------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, -0.5, 2.0], "must be >= 0; 1 value(s) are negative (row(s) 1: -0.5)"),
        ([1.0, np.nan, 2.0], "must be finite; 1 value(s) are NaN or infinite (row(s) 1)"),
        ([1.0, np.inf, 2.0], "must be finite"),
        ([[1.0, 2.0], [3.0, 4.0]], "must be 1-D, one weight per row; got shape (2, 2)"),
        (["heavy", "light"], "must be numbers"),
        ([0.0, 0.0, 0.0], "0 for every row"),
    ],
)
def test_bad_weights_are_refused_with_a_clear_message(weights, message):
    with pytest.raises(DataError) as info:
        check_sample_weight(weights)
    assert message in str(info.value)


def test_zero_weights_and_a_column_vector_are_accepted():
    assert check_sample_weight(np.array([[0.0], [2.0], [0.0]])).tolist() == [0.0, 2.0, 0.0]


def test_fit_run_refuses_bad_weights_before_any_training(tmp_path):
    frame, y, _ = conflicting(20)
    frame["y"] = np.where(y == 1, "yes", "no")
    with pytest.raises(DataError, match="sample_weight has 39 values but the data has 40 rows"):
        fit_run(frame, "y", workdir=tmp_path / "w", sample_weight=np.ones(39))
    with pytest.raises(DataError, match="negative"):
        fit_run(frame, "y", workdir=tmp_path / "w", sample_weight=-np.ones(40))
    assert not (tmp_path / "w").exists()  # refused before the search state was created


def test_weights_follow_their_rows_when_targets_are_missing(tmp_path, monkeypatch):
    """load_data drops rows without a target; their weights go with them, by the Dataset's kept-row mask."""
    frame, y, _ = conflicting(20)
    frame["y"] = pd.Series(np.where(y == 1, "yes", "no"), dtype=object)
    frame.loc[[3, 17], "y"] = None
    frame["rid"] = np.arange(40.0)  # a row id, to check which weight each kept row got
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    reads = []
    monkeypatch.setattr(tables, "read_table", lambda p, read=tables.read_table: reads.append(p) or read(p))

    for data in (frame, path):
        dataset = load_data(data, "y", sample_weight=frame["rid"].to_numpy() * 10)
        assert len(dataset.sample_weight) == 38 and dataset.n_rows_dropped_missing_target == 2
        assert (dataset.sample_weight == dataset.features["rid"].to_numpy() * 10).all()
        assert not dataset.kept_rows[[3, 17]].any() and dataset.kept_rows.sum() == 38
    assert reads == [path]  # the file was read once: the weights did not read it again
    with pytest.raises(DataError, match="sample_weight has 39 values but the data has 40 rows"):
        load_data(frame, "y", sample_weight=np.ones(39))


def test_split_uses_the_rows_indices_for_the_weights():
    frame, y, _ = conflicting(50)
    frame["y"] = np.where(y == 1, "yes", "no")
    frame["rid"] = np.arange(100.0)
    dataset = load_data(frame, "y")
    splits = split_dataset(dataset, "binary", test_size=0.2, validation_size=0.25, seed=3, target_scaling=False,
                           sample_weight=np.arange(100.0) + 0.5)
    for part, weights in ((splits.train, splits.w_train), (splits.val, splits.w_val), (splits.test, splits.w_test)):
        assert (weights == part["rid"].to_numpy() + 0.5).all()
    # and the split itself is the one without weights (stratified on the labels only)
    plain = split_dataset(dataset, "binary", test_size=0.2, validation_size=0.25, seed=3, target_scaling=False)
    assert plain.w_train is None and (plain.train.index == splits.train.index).all()


# -- the network trains with them --------------------------------------------------------------------


def test_training_weights_are_class_weights_times_sample_weights():
    frame, y, first = conflicting(10)
    w = np.linspace(0.0, 2.0, 20)
    _, data = training_data(frame, y, w_train=w, w_val=first, class_weight={0: 0.5, 1: 2.0})
    expected = np.where(y == 1, 2.0, 0.5) * w
    assert np.allclose(data.train_weights(weighted=True), expected)
    assert np.allclose(data.train_weights(weighted=False), w)
    batch = next(iter(data.val_dataset()))
    assert len(batch) == 3 and np.allclose(batch[2].numpy(), first)
    # without sample weights nothing changes: class weights only when asked, no validation weights
    _, plain = training_data(frame, y, class_weight={0: 0.5, 1: 2.0})
    assert plain.train_weights(weighted=False) is None and not plain.sample_weighted
    assert len(next(iter(plain.val_dataset()))) == 2 and len(next(iter(plain.train_dataset(8, 0)))) == 2


@pytest.mark.parametrize("keep", ["first", "second"])
def test_zero_weights_make_the_network_learn_the_other_half(keep):
    frame, y, first = conflicting()
    w = first if keep == "first" else 1.0 - first
    prep, data = training_data(frame, y, w_train=w, w_val=w)
    model, record = fitted(prep, data)
    (x,) = transform(prep, SCHEMA, [frame])
    p = model.predict(x, verbose=0)[:, 0]
    kept = w == 1
    accuracy = ((p > 0.5) == (y == 1))[kept].mean()
    assert accuracy > 0.9, accuracy
    assert record.history["val_roc_auc"][-1] > 0.9  # the validation objective is weighted too


@pytest.mark.parametrize("built_weighted", [True, False], ids=["trial", "refit"])
def test_validation_objective_is_the_weighted_metric(built_weighted):
    """val_rmse with validation weights equals the weighted RMSE of the model's predictions.

    Trials build the network knowing the data is weighted; the calibration and
    the final refit (autoann.search._tuner) build it without, and fit_network recompiles it.
    """
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = (2 * frame["a"] + rng.normal(scale=0.1, size=60)).to_numpy()
    w_val = np.where(np.arange(60) % 3 == 0, 0.0, 1.5)
    prep = fit_preprocessing(frame, SCHEMA)
    (x,) = transform(prep, SCHEMA, [frame])
    target = y.astype("float32").reshape(-1, 1)
    data = TrainingData(x, target, x, target, w_train=np.ones(60), w_val=w_val)
    values = {**VALUES, "task": "regression", "output_activation": "linear", "loss": "mse", "metric": "rmse"}
    model, record = fitted(prep, data, values, epochs=1, built_weighted=built_weighted)
    p = model.predict(x, verbose=0)[:, 0]
    weighted = np.sqrt(np.sum(w_val * (y - p) ** 2) / np.sum(w_val))
    unweighted = np.sqrt(np.mean((y - p) ** 2))
    assert record.history["val_rmse"][0] == pytest.approx(weighted, rel=1e-4)
    assert abs(weighted - unweighted) > 1e-3  # the test would not notice unweighted scoring otherwise


def test_unit_weights_train_exactly_like_no_weights():
    frame, y, _ = conflicting(40)
    y = (frame["a"] > 0).astype(int).to_numpy()
    prep, plain = training_data(frame, y)
    _, ones = training_data(frame, y, w_train=np.ones(80), w_val=np.ones(80))
    _, a = fitted(prep, plain, epochs=3)
    _, b = fitted(prep, ones, epochs=3)
    assert np.allclose(a.history["loss"], b.history["loss"], rtol=1e-5)
    assert np.allclose(a.history["val_roc_auc"], b.history["val_roc_auc"], rtol=1e-5)


# -- end to end through fit_run ----------------------------------------------------------------------


def test_fit_run_with_weights_learns_the_weighted_half(tmp_path):
    frame, y, first = conflicting(100)
    frame["y"] = np.where(y == 1, "yes", "no")
    run = fit_run(frame, "y", workdir=tmp_path / "w", time_budget="5m", max_trials=1, max_epochs=20, seed=0,
                  test_size=0.0, pins=["learning_rate=0.01", "batch_size=16"], sample_weight=first * 3.0)
    model, meta = run.model, run.metadata
    from autoann.schema import to_model_inputs

    p = model.predict(to_model_inputs(frame, meta.schema), verbose=0)[:, 0]
    assert meta.classes == ["no", "yes"]
    kept = first == 1
    accuracy = ((p > 0.5) == (y == 1))[kept].mean()
    confidence = 1 - np.abs(p - y)[kept].mean()  # about 0.5 when the conflict is left unresolved
    assert accuracy > 0.85 and confidence > 0.7, (accuracy, confidence, meta.final_model)
    assert any("sample weights" in note for note in meta.notes)
