"""Read image datasets into one numpy array, once: the decoded pixels are what the search trains on.

Sources: a folder of image files (one sub-folder per class), an ``.npz`` archive
of ``x`` (images) and ``y`` (targets), or numpy arrays. All images of a set get
one size and one channel count, so a network can take them as a batch; each
change is one sentence in ``ImageSet.notes``. Unusable files (corrupt, not an
image, outside a class folder) are skipped and listed, never fatal; unusable
input raises :class:`~autoann.errors.DataError` saying what is wrong, what was
received and how to fix it. Pillow decodes PNG, JPEG, BMP and GIF without
importing TensorFlow, so ``autoann profile images/`` stays fast. A folder is
read in two passes, headers (sizes, modes) then pixels, each image resized as
it is decoded: memory holds the resized set, not every original photo.
:func:`load_image_data` makes the labeled set a :class:`~autoann.data.Dataset`;
resizing and channel conversion live in :mod:`autoann.data._pixels`.
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from autoann._io import not_found
from autoann.data._dataset import Dataset, array_target_names, rows_with_target
from autoann.data._pixels import (MODE_OF, check_request, conform, convert_channels, hw_text, requested_size_notes,
                                 resize, resize_all)
from autoann.data._task import check_task_name, decide_task
from autoann.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")  # a folder of these was meant as a table
#: Images are downscaled (keeping their aspect ratio) so that neither side exceeds this many
#: pixels: a network's memory and time grow with the pixel count, and larger images rarely pay.
MAX_SIDE = 256
LAYOUT = "one sub-folder per class, e.g. images/cat/1.png, images/dog/2.png"
SAVE_NPZ = "np.savez(path, x=images, y=labels)"


@dataclass
class ImageSet:
    """Images of one size and channel count, their labels, and what was done to get them."""

    images: np.ndarray  # (N, H, W, C): uint8 from files; from npz/arrays uint8 kept, other numbers float32
    labels: np.ndarray | None  # folders: class folder names (str, object array); npz/arrays: y as given
    files: list[str]  # folder input: each image's path relative to the root, '/'-separated; else []
    source: str  # the path given, or "<array>"
    original_sizes: dict[str, int]  # "HxW" -> number of images of that size before any resizing
    modes: dict[str, int]  # folder input: Pillow mode -> number of images before conversion; else {}
    skipped: list[tuple[str, str]]  # (relative path, reason): corrupt files, non-image files, loose files
    notes: list[str]  # one sentence each: conversions, resizing, skipped files


def is_image_source(data: Any) -> bool:
    """Whether ``data`` is read by :func:`load_images`: a folder, a path ending in ``.npz`` (existing or
    not, so a missing one gets this module's "not found" message), or an ndarray of 3 or 4 dimensions."""
    if isinstance(data, (str, os.PathLike)):
        return os.path.isdir(data) or Path(data).suffix.lower() == ".npz"
    return isinstance(data, np.ndarray) and data.ndim in (3, 4)


def load_images(data: Any, target: Any = None, *, labeled: bool = True, size: tuple[int, int] | None = None,
                channels: int | None = None) -> ImageSet:
    """Read a folder, an ``.npz`` archive or an array of images; ``target`` is ``y`` for an array only."""
    if isinstance(data, np.ndarray):
        if labeled and target is None:
            raise DataError("Images given as an array need their labels or targets: pass y, one per image "
                            f"(x has {len(data)}).")
        return from_arrays(data, target, size=size, channels=channels)
    if isinstance(data, (str, os.PathLike)):
        read = read_npz if Path(data).suffix.lower() == ".npz" else read_image_folder
        return read(data, labeled=labeled, size=size, channels=channels)
    raise DataError(f"Cannot read images from a {type(data).__name__}. Pass a folder ({LAYOUT}), an .npz path, "
                    f"or a numpy array of shape (N, H, W) or (N, H, W, C).")


def load_image_data(data: Any, target: Any = None, *, task: str | None = None, sample_weight: np.ndarray | None = None,
                    task_reason: str | None = None) -> Dataset:
    """Image data as a :class:`Dataset`: the labels are the target, the decoded images ride along.

    A folder's target is its class sub-folder names (column ``label``); a
    ``.npz``'s is its ``y``, an array's the ``target`` given (``y`` or
    ``y0..yK``). Unlike tables, classes come from folder names, so a folder
    of ``0/``, ``1/`` ... is multiclass, never regression. ``sample_weight``
    (checked, one per image) and ``task_reason``: as for ``load_data``.
    """
    check_task_name(task)
    images = load_images(data, target, labeled=True)
    if images.labels is None:
        raise DataError(f"{images.source} has no labels: give y with the images (target=y, or 'y' in the .npz), "
                        "or sort the images into one sub-folder per class.")
    labels = np.asarray(images.labels)
    names = ["label"] if images.files else array_target_names(labels)
    y = pd.DataFrame(labels.reshape(len(labels), -1), columns=names).infer_objects()
    kept = rows_with_target(y, "images", "Add images.")
    if not kept.all():
        images = replace(images, images=images.images[kept], labels=labels[kept],
                         files=[f for f, keep in zip(images.files, kept) if keep])
        y = y[kept].reset_index(drop=True)
    chosen, reason = decide_task(y, task, task_reason)
    if images.files and task is None:
        reason = (f"The labels are the names of the {y.iloc[:, 0].nunique()} class folders, so the task is "
                  f"{chosen} classification.")
    dataset = Dataset(image_rows(images), y, names, chosen, reason, images.source, kept_rows=kept, images=images)
    return dataset if sample_weight is None else dataset.with_sample_weight(sample_weight)


def image_rows(images: ImageSet) -> pd.DataFrame:
    """One row per image of an :class:`ImageSet`: its ``file`` (folder input), else no columns."""
    if images.files:
        return pd.DataFrame({"file": images.files})
    return pd.DataFrame(index=range(len(images.images)))


# -- folders ------------------------------------------------------------------------


def read_image_folder(path: str | Path, *, labeled: bool = True, size: tuple[int, int] | None = None,
                      channels: int | None = None) -> ImageSet:
    """Read every image below ``path``: labeled by class sub-folder, or (``labeled=False``) a flat folder too.

    Images are taken in a fixed order (class folder, then relative path). They get one channel count (1 if
    every image is greyscale, else 3; transparency composited on white, 16-bit greys divided by 257) and one
    size (their own if shared, else the most common size if at least half have it, else the median height
    and width; then at most :data:`MAX_SIDE` a side), unless ``size`` and ``channels`` are given.
    """
    check_request(size, channels)
    root = Path(path)
    if not root.exists():
        raise DataError(f"Image folder not found: {root} (looked in {root.resolve().parent}). Check the path "
                        f"and spelling; expected {LAYOUT}.")
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a folder of images or an .npz archive. Pass the folder holding "
                        f"the images ({LAYOUT}), or an .npz saved with {SAVE_NPZ}.")
    candidates, skipped = _scan(root, labeled)
    headers = []  # (relative path, (H, W), mode) of the files Pillow can identify
    for rel in candidates:
        try:
            with Image.open(root / rel) as img:
                headers.append((rel, (img.height, img.width), img.mode))
        except Exception as exc:  # any undecodable file is skipped, whatever the plugin raises
            skipped.append((rel, _corrupt(exc, root / rel)))
    if not headers:
        raise _no_images(root, labeled, candidates, skipped)
    chosen, why = _plan_size(Counter(hw for _, hw, _ in headers))
    final = tuple(size) if size else _capped(chosen)
    kept, pixels = [], []
    for rel, hw, mode in headers:
        try:
            pixels.append(_read_file(root / rel, final))
            kept.append((rel, hw, mode))
        except Exception as exc:  # truncated data shows only when the pixels are decoded
            skipped.append((rel, _corrupt(exc, root / rel)))
    if not kept:
        raise _no_images(root, labeled, candidates, skipped)
    files = [rel for rel, _, _ in kept]
    labels = np.array([rel.split("/")[0] for rel in files], dtype=object) if all("/" in f for f in files) else None
    if labeled and len(set(labels)) < 2:
        raise DataError(f"Only one class folder in {root} has images ({labels[0]!r}); training needs at least "
                        f"2 classes. Add a sub-folder of images per class ({LAYOUT}).")
    natural = 3 if any(p.shape[-1] == 3 for p in pixels) else 1
    count = channels or natural
    sizes, modes = Counter(hw for _, hw, _ in kept), Counter(mode for _, _, mode in kept)
    notes = _mode_notes(modes, count, natural) + _skip_notes(skipped)
    if size:
        notes += requested_size_notes(len(files) - sizes[final], len(files), final)
    else:
        notes += _size_notes(sizes, chosen, why, final)
    return ImageSet(np.stack([convert_channels(p, count) for p in pixels]), labels, files, str(path),
                    {hw_text(hw): n for hw, n in sizes.items()}, dict(modes), skipped, notes)


def _scan(root: Path, labeled: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """Relative paths of the image files below root, in class-then-path order, and the files passed over."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder, name).relative_to(root).as_posix() for name in names if not name.startswith(".")]
    candidates, skipped = [], []
    for rel in sorted(found, key=lambda rel: (rel.split("/")[0], rel)):
        suffix = Path(rel).suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            skipped.append((rel, f"not an image file ({suffix or 'no extension'})"))
        elif labeled and "/" not in rel:
            skipped.append((rel, "not in a class folder"))
        else:
            candidates.append(rel)
    return candidates, skipped


def _read_file(path: Path, size: tuple[int, int]) -> np.ndarray:
    """One image file's pixels, (H, W, 1) or (H, W, 3) uint8, at ``size``: the first frame of an animation."""
    with Image.open(path) as img:
        img.load()
        if img.mode.startswith("I"):  # "I", "I;16", "I;16B", ...: 16-bit greys, 65535 -> 255
            pixels = np.clip(np.rint(np.asarray(img, dtype=np.float32) / 257), 0, 255).astype(np.uint8)[..., None]
        else:
            grey = _is_grey(img)
            if img.has_transparency_data:
                img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
            pixels = np.asarray(img.convert("L" if grey else "RGB"))
            pixels = pixels[..., None] if grey else pixels
    return pixels if pixels.shape[:2] == size else resize(pixels, size)


def _is_grey(img: Image.Image) -> bool:
    """Whether an image has no colour by its mode: greyscale modes, and palettes of greys only."""
    if img.mode in ("P", "PA"):
        palette = np.asarray(img.getpalette() or [], dtype=int).reshape(-1, 3)
        return bool((palette == palette[:, :1]).all())
    return Image.getmodebase(img.mode) == "L"


def _corrupt(exc: Exception, path: Path) -> str:
    """The skip reason for a file Pillow cannot decode, without the path Pillow puts in its message."""
    message = str(exc).replace(f" {str(path)!r}", "").replace(str(path), "").strip() or type(exc).__name__
    return f"corrupt: {message}"


def _no_images(root: Path, labeled: bool, candidates: list[str], skipped: list[tuple[str, str]]) -> DataError:
    """The error for a folder in which no image could be read."""
    if candidates:
        tried = set(candidates)
        example = next(f"{rel}: {reason}" for rel, reason in skipped if rel in tried)
        return DataError(f"None of the {len(candidates)} image files in {root} could be decoded (e.g. {example}). "
                         f"Check that they are valid {', '.join(IMAGE_SUFFIXES)} files.")
    reasons = ", ".join(f"{n} {reason}" for reason, n in Counter(reason for _, reason in skipped).items())
    ignored = f"{_files(len(skipped))} ignored: {reasons}" if skipped else "the folder is empty"
    expected = LAYOUT if labeled else "image files in the folder or in its sub-folders"
    tables = [rel for rel, _ in skipped if Path(rel).suffix.lower() in TABLE_SUFFIXES]
    hint = f" For a table, pass the file itself, e.g. {root / tables[0]}." if tables else ""
    return DataError(f"No image files found in {root} ({ignored}). Expected {expected}, with names ending in "
                     f"{', '.join(IMAGE_SUFFIXES)}.{hint}")


def _mode_notes(modes: Counter, channels: int, natural: int) -> list[str]:
    """The note on converting images whose Pillow mode is not that of the final channel count."""
    target = MODE_OF[channels]
    converted = {mode: n for mode, n in modes.items() if mode != target}
    if not converted:
        return []
    counts = [f"{n} {'1-bit' if mode == '1' else mode}" for mode, n in sorted(converted.items())]
    counts = ", ".join(counts[:-1]) + " and " + counts[-1] if len(counts) > 1 else counts[0]
    why = ["as requested"] if channels != natural else []
    if natural == 3 and channels >= 3 and any(Image.getmodebase(mode) == "L" for mode in converted):
        why.append("some images are in colour, so greyscale ones are repeated in 3 channels")
    if any(mode in ("RGBA", "LA", "PA", "P") for mode in converted):
        why.append("any transparency is composited on white")
    if any(mode.startswith("I") for mode in converted):
        why.append("16-bit values are divided by 257")
    return [f"Converted {counts} images to {target}" + (f" ({'; '.join(why)})." if why else ".")]


def _skip_notes(skipped: list[tuple[str, str]]) -> list[str]:
    """One note for the files outside class folders, one for all other skipped files."""
    loose = [rel for rel, reason in skipped if reason == "not in a class folder"]
    other = [f"{rel} ({reason})" for rel, reason in skipped if reason != "not in a class folder"]
    notes = []
    if loose:
        notes.append(f"Ignored {_files(len(loose))} at the top level ({', '.join(loose[:3])}"
                     f"{', ...' if len(loose) > 3 else ''}): each image must be in its class folder.")
    if other:
        notes.append(f"Skipped {_files(len(other))}: {'; '.join(other[:3])}{'; ...' if len(other) > 3 else ''}.")
    return notes


# -- sizes and channels -------------------------------------------------------------


def _plan_size(sizes: Counter) -> tuple[tuple[int, int], str]:
    """The size to bring all images to before the MAX_SIDE cap, and why (empty when all share it)."""
    if len(sizes) == 1:
        return next(iter(sizes)), ""
    top, count = sizes.most_common(1)[0]
    if 2 * count >= sum(sizes.values()):
        return top, "the most common size"
    hs, ws, counts = (np.array(v) for v in zip(*((h, w, n) for (h, w), n in sizes.items())))
    median = (int(round(np.median(np.repeat(hs, counts)))), int(round(np.median(np.repeat(ws, counts)))))
    return median, "the median height and width, as no size is shared by half the images"


def _capped(size: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled down, keeping its aspect ratio, so that neither side exceeds MAX_SIDE."""
    scale = MAX_SIDE / max(size)
    return size if scale >= 1 else (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def _size_notes(sizes: Counter, chosen: tuple[int, int], why: str, final: tuple[int, int]) -> list[str]:
    """Notes on resizing images of varied sizes to ``chosen``, and on capping it to ``final``."""
    n, notes = sum(sizes.values()), []
    if len(sizes) > 1:
        hs, ws = [h for h, _ in sizes], [w for _, w in sizes]
        notes.append(f"Resized {n - sizes[chosen]} of {n} images to {hw_text(chosen)}, {why} (heights were "
                     f"{min(hs)}..{max(hs)}, widths {min(ws)}..{max(ws)}).")
    if final != chosen:
        notes.append(f"Downscaled all {n} images from {hw_text(chosen)} to {hw_text(final)}, keeping the aspect ratio, "
                     f"so that neither side exceeds {MAX_SIDE} pixels.")
    return notes


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


# -- npz archives and arrays --------------------------------------------------------


def _is_npy(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(6) == b"\x93NUMPY"


def read_npz(path: str | Path, *, labeled: bool = True, size: tuple[int, int] | None = None,
             channels: int | None = None) -> ImageSet:
    """Read images ``x`` and targets ``y`` from an ``.npz`` archive (``y`` optional when ``labeled=False``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(not_found(path))
    if not zipfile.is_zipfile(path) and not _is_npy(path):  # numpy would call text "pickled data", to load unsafely
        raise DataError(f"{path} is not a valid .npz archive (a zip of .npy arrays): it is truncated or another "
                        f"kind of file. Save the images with {SAVE_NPZ}.")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a valid .npz archive ({exc}). Save the images with {SAVE_NPZ}.") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path} holds a single array of shape {archive.shape} (an .npy file), not an .npz "
                        f"archive with keys x and y. Save the images with {SAVE_NPZ}.")
    with archive:
        keys = list(archive.files)
        for key in ("x", "y") if labeled else ("x",):
            if key not in keys:
                what = "the images" if key == "x" else "the labels or targets, one per image"
                raise DataError(f"{path} has no array {key!r} ({what}); it holds {keys or 'no arrays'}. Save "
                                f"the images with {SAVE_NPZ}.")
        x, y = (_member(archive, key, path) if key in keys else None for key in ("x", "y"))
    return _array_set(x, y, str(path), size, channels)


def _member(archive: Any, key: str, path: Path) -> np.ndarray:
    """One array of an npz archive, refusing pickled Python objects."""
    try:
        return archive[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if "pickle" in str(exc):
            raise DataError(f"{key!r} in {path} holds Python objects (dtype=object), which are not loaded, as "
                            f"unpickling can run code. Save numeric images and numeric or string labels, e.g. "
                            f"np.savez(path, x=np.stack(images), y=np.asarray(labels, dtype=str)).") from exc
        raise DataError(f"Cannot read {key!r} from {path} ({exc}). Save it again with {SAVE_NPZ}.") from exc


def from_arrays(x: Any, y: Any = None, *, size: tuple[int, int] | None = None,
                channels: int | None = None) -> ImageSet:
    """Images from an array ``x`` of shape (N, H, W) or (N, H, W, C) with C in 1..4, and targets ``y``."""
    return _array_set(x, y, "<array>", size, channels)


def _array_set(x: Any, y: Any, source: str, size: Any, channels: Any) -> ImageSet:
    """The ImageSet of checked arrays: uint8 kept, other numbers as float32, at most MAX_SIDE a side."""
    check_request(size, channels)
    images, notes = _check_x(np.asarray(x), source)
    labels = None if y is None else np.asarray(y)
    if labels is not None and (labels.ndim not in (1, 2) or len(labels) != len(images)):
        raise DataError(f"y in {source} must have one value (1-D) or one row (2-D) per image: x holds "
                        f"{len(images)} images, y has shape {labels.shape}. Pass y with {len(images)} entries.")
    original = tuple(images.shape[1:3])
    if size or channels:
        images, more = conform(images, size or original, channels or images.shape[-1])
    else:
        final = _capped(original)
        more = _size_notes(Counter({original: len(images)}), original, "", final)
        images = images if final == original else resize_all(images, final)
    return ImageSet(images, labels, [], source, {hw_text(original): len(images)}, {}, [], notes + more)


def _check_x(x: np.ndarray, source: str) -> tuple[np.ndarray, list[str]]:
    """Images of x as (N, H, W, C), C in 1..4, uint8 or float32, refusing what cannot be pixels."""
    fix = "Pass images as a numeric array of shape (N, H, W) or (N, H, W, C)"
    if x.dtype.kind not in "biuf":
        raise DataError(f"x in {source} must hold numbers; got dtype {x.dtype}. {fix}, e.g. np.stack(images).")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in MODE_OF:
        hint = " (channels first? use np.moveaxis(x, 1, -1))" if x.ndim == 4 and x.shape[1] in MODE_OF else ""
        raise DataError(f"x in {source} has shape {x.shape}; expected (N, H, W) or (N, H, W, C) with C 1, 2, 3 "
                        f"or 4 channels last{hint}. {fix}.")
    if min(x.shape[:3]) == 0:
        raise DataError(f"x in {source} holds no pixels: shape {x.shape}. {fix}, with at least one image.")
    if x.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1))
        if len(bad):
            raise DataError(f"x in {source} holds NaN or infinite values in {len(bad)} images (e.g. image "
                            f"{bad[0]}). Replace or drop them, e.g. x = np.nan_to_num(x).")
    if x.dtype == np.uint8:
        return x, []
    if x.dtype == bool:
        return x.astype(np.uint8) * 255, ["Converted the boolean images to uint8: False 0, True 255."]
    return x.astype(np.float32), ([] if x.dtype == np.float32 else [f"Converted the {x.dtype} pixels to float32."])
