"""Stage 6, a run directory -> :class:`Predictor`: schema-checked predictions on raw rows or images.

Rows are checked against the schema the model was trained on before any
model call, so a mistake names the column and rows. This stage loads a saved
model with :mod:`autoann.layers` only: it never imports the training code.
"""

from autoann._io import save_predictions
from autoann.predict._inputs import SchemaWarning, call_eagerly, check_frame, read_data
from autoann.predict._predictor import Predictor, load, load_keras_model

__all__ = [
    "Predictor",
    "SchemaWarning",
    "call_eagerly",
    "check_frame",
    "load",
    "load_keras_model",
    "read_data",
    "save_predictions",
]
