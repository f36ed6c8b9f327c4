"""Pixel algebra on decoded images: resizing and channel conversion, the same for training and prediction.

:func:`conform` brings a batch of images to a run's size and channel count
(what ``autoann.load(run).predict`` does to new images); the image readers of
:mod:`autoann.data._images` use the same resizing and conversion, so a picture
becomes the same pixels whichever way it arrives. Pillow does the resampling.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from autoann.errors import DataError

#: The Pillow mode of an image with this many channels.
MODE_OF = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
#: ITU-R 601 luminance in 16-bit fixed point, the weights and rounding of Pillow's RGB -> "L".
LUMA = np.array([19595, 38470, 7471])


def requested_size_notes(resized: int, n: int, size: tuple[int, int]) -> list[str]:
    """The note on resizing ``resized`` of ``n`` images to a size the caller asked for (none when 0)."""
    return [f"Resized {resized} of {n} images to the requested {hw_text(size)}."] if resized else []


def hw_text(size: tuple[int, int]) -> str:
    """(H, W) as the notes write it: ``"32x48"``."""
    return f"{size[0]}x{size[1]}"


def check_request(size: Any, channels: Any) -> None:
    """Refuse a requested size that is not two positive integers, or a channel count outside 1..4."""
    if size is not None and not (isinstance(size, (tuple, list)) and len(size) == 2
                                 and all(isinstance(s, (int, np.integer)) and s > 0 for s in size)):
        raise DataError(f"size must be (height, width) in pixels, two positive integers; got {size!r}.")
    if channels is not None and channels not in MODE_OF:
        raise DataError(f"channels must be 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA); got {channels!r}.")


def conform(images: np.ndarray, size: tuple[int, int], channels: int) -> tuple[np.ndarray, list[str]]:
    """Bring (N, H, W, C) images to ``size`` = (H, W) and ``channels``, keeping the dtype; with notes.

    Resizing is Pillow's bilinear filter, per image and channel. Channels: an alpha channel (C = 2 or 4) is
    composited on white first; greys are repeated to make RGB; RGB becomes grey by ITU-R 601 luminance, as
    Pillow's "L"; a requested alpha channel is opaque. Float images are taken to be in 0..1 when no value
    exceeds 1, else in 0..255 (this sets "white" and "opaque").
    """
    check_request(size, channels)
    if images.ndim != 4:
        raise DataError(f"conform() needs images of shape (N, H, W, C); got shape {images.shape}.")
    size, notes = tuple(int(s) for s in size), []
    before = images.shape[-1]
    if channels < before:  # fewer channels first: less to resize
        images = convert_channels(images, channels)
    if images.shape[1:3] != size:
        notes += requested_size_notes(len(images), len(images), size)
        images = resize_all(images, size)
    images = convert_channels(images, channels)
    if before != channels:
        notes.append(f"Converted the images from {before} to {channels} channels ({MODE_OF[before]} to "
                     f"{MODE_OF[channels]}), as requested.")
    return images, notes


def resize_all(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, H, W, C) images resized to ``size`` = (H, W), one by one."""
    return np.stack([resize(image, size) for image in images]) if len(images) else \
        np.empty((0, *size, images.shape[-1]), images.dtype)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One (H, W, C) image resized to ``size`` = (H, W), bilinear, channel by channel, dtype kept."""
    float_like = image.dtype != np.uint8
    planes = []
    for c in range(image.shape[-1]):
        plane = np.ascontiguousarray(image[..., c], dtype=np.float32 if float_like else np.uint8)
        planes.append(np.asarray(Image.fromarray(plane).resize(size[::-1], Image.Resampling.BILINEAR)))
    resized = np.stack(planes, axis=-1)
    if float_like and image.dtype.kind in "iu":
        resized = np.rint(resized)
    return resized.astype(image.dtype, copy=False)


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Images (..., C) with ``channels`` channels instead: see :func:`conform`."""
    have = images.shape[-1]
    if have == channels:
        return images
    white = 255.0 if images.dtype.kind in "iu" or images.max(initial=0) > 1 else 1.0
    pixels = images
    if have in (2, 4):  # composite the colour on white by its alpha
        alpha = images[..., -1:].astype(np.float32) / white
        pixels = images[..., :-1] * alpha + white * (1 - alpha)
    if pixels.shape[-1] == 1 and channels >= 3:
        pixels = np.repeat(pixels, 3, axis=-1)
    elif pixels.shape[-1] == 3 and channels <= 2:
        weighted = pixels @ LUMA[:, None]  # integers for integer pixels: Pillow's rounding exactly
        pixels = (weighted + 0x8000) >> 16 if weighted.dtype.kind == "i" else weighted / 65536
    if channels in (2, 4):
        pixels = np.concatenate([pixels, np.full(pixels.shape[:-1] + (1,), white, np.float32)], axis=-1)
    if images.dtype.kind in "iu":
        pixels = np.clip(np.rint(pixels), 0, 255) if pixels.dtype.kind == "f" else pixels
    return pixels.astype(images.dtype, copy=False)
