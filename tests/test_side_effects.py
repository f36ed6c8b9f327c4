"""A library fit leaves the caller's process as it was: random states, TensorFlow's global seed, the Keras
session (the caller's models, layer names, dtype policy) and the ``tensorflow`` logger level."""

import logging
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from _helpers import TINY_SEEDED
from autoann.estimators._estimators import AutoANNClassifier
from autoann.search import _isolation

pytestmark = pytest.mark.train



def test_private_names_exist_in_installed_keras_and_tensorflow():
    tf.random.set_seed(1)  # creates TensorFlow's operation-seed sequence
    for owner, name in _isolation.PRIVATE_NAMES:
        assert hasattr(owner, name), (f"{type(owner).__name__}.{name} is gone: autoann.search._isolation cannot "
                                      f"restore the caller's state with Keras {keras.__version__}, TF {tf.__version__}")


def test_kept_global_state_restores_everything_the_body_changes():
    random.seed(5)
    np.random.seed(5)
    tf.random.set_seed(7)
    first = tf.random.uniform([1])
    keras.config.set_dtype_policy("float64")
    try:
        before = keras.layers.Dense(1).name
        python, numpy = random.getstate(), np.random.get_state()[1].copy()
        with _isolation.kept_global_state():
            keras.utils.set_random_seed(0)
            assert keras.config.dtype_policy().name == "float32"  # autoann builds in a session of its own
            keras.layers.Dense(1)
            keras.backend.clear_session()
            logging.getLogger("tensorflow").setLevel(logging.DEBUG)
        assert random.getstate() == python and (np.random.get_state()[1] == numpy).all()
        assert keras.config.dtype_policy().name == "float64"
        assert keras.layers.Dense(1).name != before  # the caller's layer-name counter goes on
        second = tf.random.uniform([1])
    finally:
        keras.config.set_dtype_policy("float32")
    tf.random.set_seed(7)
    assert first == tf.random.uniform([1]) and second == tf.random.uniform([1])  # the TF sequence went on


@pytest.mark.usefixtures("tiny_search")
def test_estimator_fit_leaves_the_callers_state(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    random.seed(5)
    np.random.seed(5)
    tf.random.set_seed(7)
    first = tf.random.uniform([1])
    level = logging.getLogger("tensorflow").level
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    before = model.predict(X, verbose=0)
    python, numpy = random.getstate(), np.random.get_state()[1].copy()

    AutoANNClassifier(**TINY_SEEDED, working_dir=str(tmp_path)).fit(X, y)

    assert random.getstate() == python and (np.random.get_state()[1] == numpy).all()
    second = tf.random.uniform([1])
    tf.random.set_seed(7)
    assert first == tf.random.uniform([1]) and second == tf.random.uniform([1])
    assert logging.getLogger("tensorflow").level == level
    np.testing.assert_allclose(model.predict(X, verbose=0), before)  # the caller's model still works
    mine = keras.layers.Dense(1)
    assert mine.name not in {layer.name for layer in model.layers}  # and new layers do not take its names
