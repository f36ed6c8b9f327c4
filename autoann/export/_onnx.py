"""ONNX from a run's SavedModel with tf2onnx's SavedModel converter, run with onnxruntime.

``keras.Model.export(format="onnx")`` cannot convert autoann's string lookups;
tf2onnx's SavedModel path can, because it reads the lookup tables the
SavedModel initializes (the ``onnx`` extra pins tf2onnx < 1.18 as this module
drives its converter through ``tf2onnx.convert._convert_common``). One fix on
top: tf2onnx turns ``tf.where`` on floats into ``cond * x + (1 - cond) * y``
unless the condition is a bare ``IsNaN``/``IsInf``, which gives NaN for the
NaN that autoann's imputation replaces (``where(not isfinite(x), mean, x)``);
:func:`_select_as_where` converts every select to ONNX's ``Where`` instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autoann._extras import require
from autoann.errors import ExportError
from autoann.export._run_dir import SIGNATURE

OPSET = 17


def _select_as_where(ctx, node, name, args) -> None:
    """tf2onnx's handler for Select/SelectV2, told the inputs may hold NaN (so ONNX ``Where``, not Mul/Add)."""
    from tf2onnx.onnx_opset.controlflow import Select

    node.set_attr("handles_nan", True)
    Select.version_9(ctx, node)


def convert(saved_model: Path) -> bytes:
    """The ONNX model of ``saved_model``'s serving signature, inputs and outputs named as in the signature."""
    require("onnx")
    import tensorflow as tf
    from tf2onnx import tf_loader
    from tf2onnx.convert import _convert_common

    try:
        graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
            str(saved_model), None, None, tag="serve", signatures=[SIGNATURE], return_initialized_tables=True,
            return_tensors_to_rename=True)
        with tf.device("/cpu:0"):
            model, _ = _convert_common(graph_def, name=str(saved_model), opset=OPSET, input_names=inputs,
                                       output_names=outputs, initialized_tables=tables, tensors_to_rename=renames,
                                       custom_op_handlers={"Select": (_select_as_where, []),
                                                           "SelectV2": (_select_as_where, [])})
    except Exception as exc:  # tf2onnx raises bare ValueError/KeyError/TypeError for an op it cannot convert
        raise ExportError(f"tf2onnx cannot convert {saved_model} to ONNX: {type(exc).__name__}: {exc}. The model "
                          "holds an op tf2onnx has no ONNX equivalent for; the SavedModel and LiteRT exports "
                          "remain (autoann export RUN_DIR --format litert).") from exc
    return model.SerializeToString()


def run(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``inputs`` (by signature name) through the ONNX model at ``path`` with onnxruntime."""
    _, onnxruntime = require("onnx")
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, inputs)))
    except Exception as exc:  # onnxruntime's errors have no common public base class
        raise ExportError(f"onnxruntime cannot run {path}: {exc}. The file was not kept.") from exc
