"""The convolutional feature extractor of image models, and their data augmentation.

:func:`conv_features` builds what the image rules (``autoann/rules/builtin/images.yaml``)
describe on the standardized pixels: an optional resize to ``image_size``,
augmentation active only while training (G-CNN-3), then ``conv_blocks``
blocks of ``convs_per_block`` small convolutions (zero padding) each
followed by 2x2 pooling, the filters doubling after every pooling step
(G-CNN-1, G-CNN-2), batch norm and the activation family's activation and
initializer (G-BN-*, G-ACT-3), and a global-average-pooling head. The dense
head (dropout, output layer) is :mod:`autoann.search._network`'s, shared with
tabular models. With ``image_network: dense`` (tiny images),
:func:`flat_pixels` hands the same resized, augmented pixels, flattened, to
the tabular dense stack instead.

:func:`backbone_features` starts instead from a pretrained network the user
has on disk (transfer learning, G-ARCH-8; nothing is downloaded): the images
are resized and given the channels it expects, it runs in inference mode
(its batch norm keeps its statistics), and ``backbone_trainable`` says how
much of it trains: nothing, its top quarter, or all of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
from keras import layers

from autoann._io import check_keras_file
from autoann.errors import DataError
from autoann.layers import Augmentation, walk_layers
from autoann.space import value

#: augmentation hyperparameter -> the Keras layer doing it
AUGMENTATIONS = ("augment_flip", "augment_rotation", "augment_shift", "augment_zoom")


#: Batch norm's running-average momentum. Keras' 0.99 needs a few hundred steps before the averages
#: used at inference mean anything; Hyperband scores its first trials after one epoch, which on
#: small data is a few dozen steps, so with 0.99 their validation scores would be noise.
BATCH_NORM_MOMENTUM = 0.9


def activated(x, family: dict[str, Any], bn_before: bool):
    """The family's activation on ``x``, with batch norm before or after it (G-BN-3) if the family has it."""
    if family["batch_norm"] and bn_before:
        x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM)(x)
    x = layers.Activation(family["activation"])(x)
    if family["batch_norm"] and not bn_before:
        x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM)(x)
    return x


def _augmented(x, values: dict[str, Any]):
    """``x`` through the :class:`Augmentation` the values ask for (none: ``x`` itself)."""
    flip = str(value(values, "augment_flip"))
    rotation, shift, zoom = (float(value(values, n)) for n in AUGMENTATIONS[1:])
    if flip != "none" or rotation or shift or zoom:
        return Augmentation(flip, rotation, shift, zoom, name="augmentation")(x)
    return x


def _resized_augmented(pixels, values: dict[str, Any]):
    """Standardized ``pixels`` resized to ``image_size`` (if set) and augmented while training."""
    x = pixels
    size = int(value(values, "image_size"))
    if size and tuple(x.shape[1:3]) != (size, size):
        x = layers.Resizing(size, size, name="resize")(x)
    return _augmented(x, values)


def flat_pixels(pixels, values: dict[str, Any]):
    """``image_network: dense``: the resized, augmented pixels as one flat vector per image, for the dense stack."""
    return layers.Flatten(name="flat_pixels")(_resized_augmented(pixels, values))


def conv_features(pixels, values: dict[str, Any], family: dict[str, Any], regularizer: Any):
    """Convolutional blocks from standardized ``pixels`` to one feature vector per image."""
    x = _resized_augmented(pixels, values)
    conv = layers.SeparableConv2D if value(values, "conv_type") == "separable" else layers.Conv2D
    pool = layers.AveragePooling2D if value(values, "pooling") == "average" else layers.MaxPooling2D
    bn_before = value(values, "batch_norm_position") == "before"
    kernel = int(value(values, "kernel_size"))
    filters = int(value(values, "filters_first"))
    initializer = {"depthwise_initializer": family["initializer"], "pointwise_initializer": family["initializer"]} \
        if conv is layers.SeparableConv2D else {"kernel_initializer": family["initializer"]}
    for _ in range(int(value(values, "conv_blocks"))):
        for _ in range(int(value(values, "convs_per_block"))):
            x = conv(filters, kernel, padding="same", use_bias=not (family["batch_norm"] and bn_before),
                     **initializer, **_regularized(conv, regularizer))(x)
            x = activated(x, family, bn_before)
        if min(x.shape[1], x.shape[2]) >= 2:  # never pool an image down to nothing
            x = pool(2)(x)
            filters *= 2  # G-CNN-1: double the filters after each pooling step
    return layers.GlobalAveragePooling2D(name="global_average")(x)


def _regularized(conv: type, regularizer: Any) -> dict[str, Any]:
    if regularizer is None:
        return {}
    if conv is layers.SeparableConv2D:
        return {"depthwise_regularizer": regularizer, "pointwise_regularizer": regularizer}
    return {"kernel_regularizer": regularizer}


#: the share of a backbone's weighted layers that ``backbone_trainable: top`` fine-tunes
TOP_SHARE = 0.25


def load_backbone(path: str | Path, channels: int | None = None) -> keras.Model:
    """The pretrained network saved at ``path`` (a ``.keras`` file), checked to take images.

    ``channels``: the stored images' channels; one channel is repeated for a
    three-channel backbone, anything else that differs is refused.
    """
    path = Path(path)
    how = ("Save one with model.save('backbone.keras'), e.g. keras.applications.EfficientNetB0(include_top=False, "
           "weights=LOCAL_WEIGHTS_FILE, input_shape=(96, 96, 3)).save('backbone.keras').")
    check_keras_file(path, "backbone file", how, DataError)
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError/TypeError/OSError for a bad or foreign file
        raise DataError(f"Cannot load the backbone {path}: {exc}. {how}") from None
    shape = tuple(model.inputs[0].shape) if len(model.inputs) == 1 else ()
    out = tuple(model.outputs[0].shape) if len(model.outputs) == 1 else ()
    if len(shape) != 4 or len(out) not in (2, 4):
        raise DataError(f"The backbone {path} must take one batch of images (N, height, width, channels) and give "
                        f"feature maps or vectors; it takes {[tuple(i.shape) for i in model.inputs]} and gives "
                        f"{[tuple(o.shape) for o in model.outputs]}. {how}")
    wanted = shape[-1]
    if channels is not None and wanted is not None and wanted != channels and not (channels == 1 and wanted == 3):
        raise DataError(f"The backbone {path} takes images with {wanted} channel(s), but these images have "
                        f"{channels}. Use a backbone for {channels}-channel images.")
    return model


def _set_trainable(backbone: keras.Model, mode: str) -> None:
    """``frozen``: nothing trains; ``top``: the last quarter of its weighted layers; ``all``: every layer.
    Batch norm never trains: fine-tuning keeps its statistics and scales (Keras' transfer-learning advice)."""
    weighted = [layer for layer in walk_layers(backbone) if layer.weights and not isinstance(layer, keras.Model)]
    first = {"frozen": len(weighted), "top": int(len(weighted) * (1 - TOP_SHARE)), "all": 0}[mode]
    backbone.trainable = mode != "frozen"
    for i, layer in enumerate(weighted):
        layer.trainable = i >= first and not isinstance(layer, layers.BatchNormalization)


def backbone_features(pixels, values: dict[str, Any], path: str):
    """The user's pretrained network on the (unscaled) ``pixels``: resized, channels matched, augmented."""
    backbone = load_backbone(path, int(pixels.shape[-1]))
    _, height, width, channels = backbone.inputs[0].shape
    x = pixels
    if channels == 3 and x.shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if height and width and tuple(x.shape[1:3]) != (height, width):
        x = layers.Resizing(int(height), int(width), name="resize")(x)
    x = _augmented(x, values)
    _set_trainable(backbone, str(value(values, "backbone_trainable")))
    x = backbone(x, training=False)
    return layers.GlobalAveragePooling2D(name="global_average")(x) if len(x.shape) == 4 else x
