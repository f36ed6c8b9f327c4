"""Stage 5, a :class:`~autoann.fitted_run.FittedRun` -> a run directory.

The run directory holds model.keras, the SavedModel on raw columns, metadata.json, leaderboard.csv and the report.

Files are staged in a folder that is moved into place in one rename, so a run
directory is complete or absent, and a user's earlier run is never
half-overwritten.
"""

from autoann._io import to_jsonable
from autoann.export._formats import FORMATS, check_formats, export_format
from autoann.export._run_dir import (
    HISTORY_FILE,
    LEADERBOARD_FILE,
    METADATA_FILE,
    MODEL_FILE,
    SAVED_MODEL_DIR,
    SAVED_MODEL_VERSION,
    SIGNATURE,
    complete_metadata,
    finalize_run,
    saved_model_path,
    serving_names,
    write_run_files,
)
from autoann.fitted_run import FORMAT

__all__ = [
    "FORMATS",
    "FORMAT",
    "HISTORY_FILE",
    "LEADERBOARD_FILE",
    "METADATA_FILE",
    "MODEL_FILE",
    "SAVED_MODEL_DIR",
    "SAVED_MODEL_VERSION",
    "SIGNATURE",
    "complete_metadata",
    "check_formats",
    "export_format",
    "finalize_run",
    "saved_model_path",
    "serving_names",
    "to_jsonable",
    "write_run_files",
]
