"""Stage 1, raw input -> :class:`Dataset`: tables (CSV, Parquet, frames, arrays) and images.

Tables are read with the same missing-value markers everywhere; images are
decoded once into one (N, H, W, C) array. The task (binary, multiclass,
regression) is inferred from the target and the reason kept. Sample weights
are checked here and matched to the rows kept. Nothing in this stage imports
TensorFlow.
"""

from autoann.data._images import ImageSet, is_image_source, load_images
from autoann.data._tables import (
    CLASSIFICATION,
    NA_MARKERS,
    TASKS,
    Dataset,
    image_rows,
    label_dtype,
    load_data,
    read_table,
)
from autoann.data._weights import align_sample_weight, check_sample_weight

__all__ = [
    "CLASSIFICATION",
    "NA_MARKERS",
    "TASKS",
    "Dataset",
    "ImageSet",
    "align_sample_weight",
    "check_sample_weight",
    "image_rows",
    "is_image_source",
    "label_dtype",
    "load_data",
    "load_images",
    "read_table",
]
