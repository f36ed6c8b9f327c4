"""Stage 1, raw input -> :class:`Dataset`: tables (CSV, Parquet, frames, arrays) and images.

Tables are read with the same missing-value markers everywhere; images are
decoded once into one (N, H, W, C) array. The task (binary, multiclass,
regression) is inferred from the target and the reason kept; :data:`TASKS`
and :data:`CLASSIFICATION` are the one definition of the task names. Sample
weights are checked here and matched to the rows kept, which the Dataset
remembers. Nothing in this stage imports TensorFlow.
"""

from autoann.data._dataset import MIN_PER_CLASS, MIN_ROWS, Dataset
from autoann.data._images import ImageSet, image_rows, is_image_source, load_image_data, load_images
from autoann.data._pixels import conform
from autoann.data._tables import NA_MARKERS, as_dataset, load_data, read_table
from autoann.data._task import CLASSIFICATION, TASKS, infer_task, label_dtype, resolve_task
from autoann.data._weights import align_sample_weight, check_sample_weight

__all__ = [
    "MIN_PER_CLASS",
    "MIN_ROWS",
    "CLASSIFICATION",
    "NA_MARKERS",
    "TASKS",
    "Dataset",
    "ImageSet",
    "align_sample_weight",
    "as_dataset",
    "check_sample_weight",
    "conform",
    "image_rows",
    "infer_task",
    "is_image_source",
    "label_dtype",
    "load_data",
    "load_image_data",
    "load_images",
    "read_table",
    "resolve_task",
]
