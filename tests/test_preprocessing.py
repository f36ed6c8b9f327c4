"""Preprocessing is fitted on training rows only and handles NaN and unseen levels."""

import numpy as np
import pytest

from _tiny import SCHEMA, tiny_frame
from autoann.search._preprocessing import Preprocessing, build_preprocessor, fit_preprocessing, transform
from autoann.schema import to_model_inputs

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def fitted():
    frame, _ = tiny_frame()
    return frame, fit_preprocessing(frame, SCHEMA)


def test_statistics_come_from_training_rows(fitted):
    frame, prep = fitted
    assert prep.mean[0] == pytest.approx(frame["a"].mean())
    assert prep.indicators == [False, True, False, False]  # only 'b c' has NaN
    colour = prep.categorical[0]
    assert colour.encoding == "onehot" and colour.vocabulary == ["", "blue", "red"]
    assert prep.dense_width == 4 + 1 + 3 + 1  # numbers + indicator + one-hot with OOV bucket


def test_transform_is_standardized_and_finite(fitted):
    frame, prep = fitted
    (out,) = transform(prep, SCHEMA, [frame])
    dense = out["features"]
    assert dense.shape == (len(frame), prep.dense_width)
    assert np.isfinite(dense).all()
    assert abs(dense[:, 0].mean()) < 1e-5 and dense[:, 0].std() == pytest.approx(1.0, abs=1e-3)


def test_unseen_level_and_nan_at_serving_time(fitted):
    frame, prep = fitted
    rows = frame.head(2).copy()
    rows["colour"] = ["green", None]
    rows["a"] = [np.nan, 1.0]
    out = build_preprocessor(prep, SCHEMA).predict(to_model_inputs(rows, SCHEMA), verbose=0)["features"]
    assert np.isfinite(out).all()
    assert out[0, 0] == pytest.approx(0.0)  # NaN -> training mean -> 0 after standardizing
    onehot = out[0, -4:]
    assert onehot[0] == 1.0  # unseen level -> out-of-vocabulary bucket


def test_round_trip(fitted):
    _, prep = fitted
    assert Preprocessing.from_dict(prep.to_dict()) == prep


def test_high_cardinality_is_embedded():
    frame, _ = tiny_frame()
    frame["colour"] = [f"level{i}" for i in range(len(frame))]
    prep = fit_preprocessing(frame, SCHEMA, onehot_max_cardinality=30)
    assert prep.embedded and prep.embedded[0].embedding_dim >= 2
