"""LiteRT (TensorFlow Lite) from a run's SavedModel with built-in ops only, run with ``ai-edge-litert``.

Built-in ops only: a model needing Select TF ops ("Flex") would not run in the
Python LiteRT runtime nor in most mobile builds, so such a model is refused
with the converter's reason rather than written. String lookups convert to
LiteRT's built-in hash table ops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autoann._extras import require
from autoann.errors import ExportError
from autoann.export._run_dir import SIGNATURE


def convert(saved_model: Path) -> bytes:
    """The LiteRT flatbuffer of ``saved_model``'s serving signature (built-in ops only)."""
    require("litert")
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        return converter.convert()
    except Exception as exc:  # the converter raises ConverterError (a private class) with the op list
        raise ExportError(f"The model cannot be converted to LiteRT with built-in ops only: {exc}. Select TF ops "
                          "(Flex) are not used because Python LiteRT runtimes cannot run them; the SavedModel and "
                          "ONNX exports remain.") from exc


def run(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``inputs`` (by signature name) through the LiteRT model at ``path``."""
    require("litert")
    from ai_edge_litert.interpreter import Interpreter

    try:
        runner = Interpreter(model_path=str(path)).get_signature_runner(SIGNATURE)
        return runner(**{k: v.astype(bytes) if v.dtype == object else v for k, v in inputs.items()})
    except Exception as exc:  # the interpreter raises ValueError/RuntimeError with the kernel's message
        raise ExportError(f"LiteRT cannot run {path}: {exc}. The file was not kept.") from exc
