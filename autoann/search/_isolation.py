"""A fit leaves the caller's process as it found it.

A search reseeds Python's ``random``, NumPy's global generator and
TensorFlow's global seed before every build (that is what makes a seed's
leaderboard repeatable), clears Keras' session between trials (memory; layer
names start afresh) and keeps TensorFlow's per-trial retracing warnings
quiet. :func:`kept_global_state` lets it: the fit runs in a Keras session of
its own, and the caller's random states, Keras session (layer-name counters,
dtype policy, seed generator) and ``tensorflow`` logger level are put back
when it ends, however it ends. Neither Keras nor TensorFlow offers a public
way to read and restore their global seed state or session, so this module
uses the undocumented names in :data:`PRIVATE_NAMES`
(tests/test_side_effects.py checks they exist).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
from typing import Iterator

import keras
import numpy as np
from keras.src.backend.common import global_state
from tensorflow.python.eager import context

#: (module, name) read or written here; a Keras or TensorFlow upgrade that drops one breaks the restore
PRIVATE_NAMES: tuple[tuple[object, str], ...] = (
    (global_state, "GLOBAL_STATE_TRACKER"),  # layer-name counters, dtype policy, Keras' seed generator
    (global_state, "GLOBAL_SETTINGS_TRACKER"),
    (context.context(), "_seed"),  # TensorFlow's global seed (``tf.random.set_seed``)
    (context.context(), "_rng"),  # the operation seeds drawn from it: exists once a seed was set
)


@contextlib.contextmanager
def kept_global_state() -> Iterator[None]:
    """Run the body in a fresh Keras session, then restore the caller's global state (see the module doc)."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras_state = global_state.GLOBAL_STATE_TRACKER, global_state.GLOBAL_SETTINGS_TRACKER
    tf_context = context.context()
    tf_seed, tf_operation_seeds = tf_context._seed, tf_context.__dict__.get("_rng")
    tf_logger = logging.getLogger("tensorflow")
    tf_log_level = tf_logger.level
    if not os.environ.get("AUTOANN_DEBUG"):
        tf_logger.setLevel(logging.ERROR)  # a new model per trial by design: retracing warnings say nothing
    # The caller's session objects are set aside, not cleared: clear_session binds new ones.
    keras.backend.clear_session(free_memory=False)
    try:
        yield
    finally:
        global_state.GLOBAL_STATE_TRACKER, global_state.GLOBAL_SETTINGS_TRACKER = keras_state
        tf_context._seed = tf_seed
        if tf_operation_seeds is None:
            tf_context.__dict__.pop("_rng", None)
        else:
            tf_context._rng = tf_operation_seeds
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        tf_logger.setLevel(tf_log_level)
