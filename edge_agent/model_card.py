"""The model card: the one type the trainer writes (``runs/<name>/model_card.json``) and the agent reads.

The agent needs ``model_file``, ``labels``, ``crop`` and ``input_size``; everything else is what the trainer
records about the run (data, splits, metrics, training) and is optional, so a hand-written card of the four
needed keys still loads. The metrics sections are in the shape of
``edge_agent.evaluation.metrics.split_metrics``; an undefined figure (precision of a class never predicted,
recall of a class absent from the truth, F1 of either) is ``null``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from edge_agent.core.labels import check_labels


class ModelError(Exception):
    """The model or its card is missing, corrupt or inconsistent. Fatal at load (exit code 2)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CropCard(_Section):
    size: int = Field(ge=16, le=512)
    margin: float = Field(ge=0.0, le=1.0)


class ClassFigures(_Section):
    """One class on one set of faces; ``None`` where the figure is undefined (nothing to divide by)."""

    precision: float | None
    recall: float | None
    f1: float | None
    support: int = Field(ge=0)


class Confusion(_Section):
    labels: list[str]
    rows_true_cols_pred: list[list[int]]


class _OmitNone(_Section):
    """Optional sub-sections that are absent (not ``null``) when there is nothing to say."""

    _omit_if_none: tuple[str, ...] = ()

    @model_serializer(mode="wrap")
    def _omit(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for key in self._omit_if_none:
            if out.get(key) is None:
                out.pop(key, None)
        return out


class SourceMetrics(_OmitNone):
    """The faces of one data set within a split."""

    _omit_if_none = ("two_class_accuracy",)
    n: int = Field(ge=0)
    accuracy: float | None
    two_class_accuracy: float | None = Field(
        None, description="A set without mask_incorrect faces: with vs without by the larger of those two probabilities")
    per_class: dict[str, ClassFigures]


class SplitMetrics(_OmitNone):
    """One model on one split (``edge_agent.evaluation.metrics.split_metrics``)."""

    _omit_if_none = ("by_source",)
    n: int = Field(ge=0)
    accuracy: float | None
    per_class: dict[str, ClassFigures]
    confusion: Confusion
    by_source: dict[str, SourceMetrics] | None = None


class SplitSet(_Section):
    val: SplitMetrics
    test: SplitMetrics
    test_dark: SplitMetrics = Field(description="The test split darkened (trainer.augment.darkened_copy)")


class CardMetrics(_Section):
    float_: SplitSet = Field(alias="float")
    int8: SplitSet
    float_int8_agreement: float = Field(ge=0.0, le=1.0)
    fit_on: str
    val_held_out: bool

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class DatasetCard(_Section):
    source: str
    files: int = Field(ge=0)
    faces: dict[str, int]
    dropped: dict[str, int]
    path: str
    type: str
    fingerprint: str
    faces_used: dict[str, int]


class SyntheticCard(_Section):
    mask_incorrect: int = Field(ge=0)
    with_mask: int = Field(ge=0)
    transplanted_fraction: float = Field(ge=0.0, le=1.0)
    drawn_on: str


class TrainingCard(_Section):
    best_epoch: int | None
    epochs_run: int = Field(ge=0)
    seconds: float = Field(ge=0.0)
    history: list[dict[str, int | float]] = Field(description="Per epoch: epoch, loss, accuracy, val_loss, val_accuracy, ...")
    options: dict[str, Any] = Field(description="The TrainerOptions of the run (trainer/options.py)")
    options_json: str


class ModelCard(BaseModel):
    """What the agent needs (the first four fields), then what the trainer records about the run."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    model_file: str = Field(description="The .tflite file, relative to the card")
    labels: list[str] = Field(description="Canonical labels in the model's output order")
    crop: CropCard
    input_size: int = Field(ge=16, le=512)
    input_color: str = Field("RGB", description="Channel order of the input crops")
    normalisation: str | None = None
    quantization: str | None = None
    architecture: str | None = None
    parameters: int | None = Field(None, ge=0)
    model_bytes: int | None = Field(None, ge=0)
    trainer_version: str | None = None
    created: str | None = Field(None, description="ISO 8601 UTC time the run wrote the card")
    datasets: list[DatasetCard] | None = None
    splits: dict[str, dict[str, int]] | None = Field(None, description="Faces per label in train, val, test")
    fit_on: str | None = None
    synthetic_training_faces: SyntheticCard | None = None
    command: str | None = None
    metrics: CardMetrics | None = None
    training: TrainingCard | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        return check_labels(v)

    def to_json(self) -> str:
        """The card file's text (what the trainer writes; ``load_model_card`` reads it back unchanged)."""
        return self.model_dump_json(indent=2, by_alias=True)

    def write(self, path: Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")


def load_model_card(path: Path) -> ModelCard:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ModelError(f"cannot read model card {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ModelError(f"model card {path} is not valid JSON: {err}") from None
    try:
        return ModelCard.model_validate(data)
    except ValidationError as err:
        raise ModelError(f"model card {path} is invalid: {err}") from None
