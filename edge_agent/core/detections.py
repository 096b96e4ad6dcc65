"""Faces found in one frame: parallel NumPy arrays, shape-checked, filtered with boolean masks.

Every per-face value is a column of :class:`Faces` (like supervision's ``Detections``: ``xyxy``,
``confidence``, ``class_id``, ``tracker_id``), so a face's box, class and track travel together through
the pipeline instead of in separate tuples zipped back later. A column is one line: a field declared with
:func:`column` (its dtype, the shape of one face's value and the fill for "not set yet"); construction,
shape checks and mask indexing follow from the declarations.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]


def column(dtype: type[np.generic], shape: tuple[int, ...] = (), fill: float | None = None) -> Any:
    """A :class:`Faces` column of ``dtype``, one value of ``shape`` per face. With ``fill`` the column may
    be left out (every face gets ``fill``); without it the column is required."""
    meta = {"dtype": dtype, "shape": shape, "fill": fill}
    if fill is None:
        return field(metadata=meta)
    return field(default_factory=lambda: np.empty((0, *shape), dtype), metadata=meta)


@dataclass(frozen=True, slots=True)
class Faces:
    """The faces of one frame, one row per face in every column.

    ``xyxy (n, 4)`` pixel boxes in the original frame and ``score (n,)`` detector confidence come from
    the detector; after classification ``class_id (n,)`` (index into the model's labels, -1 = not
    classified) and ``class_score (n,)`` (probability of that class) are filled in, after tracking
    ``track_id (n,)`` (0 = not tracked). ``landmarks (n, 5, 2)``: frame pixels (x, y) of the two eyes, the
    nose tip and the two mouth corners, from detectors that give them (NaN from those that do not).
    """

    xyxy: F32 = column(np.float32, (4,))
    score: F32 = column(np.float32)
    class_id: I32 = column(np.int32, fill=-1)
    class_score: F32 = column(np.float32, fill=0.0)
    track_id: I32 = column(np.int32, fill=0)
    landmarks: F32 = column(np.float32, (5, 2), fill=float("nan"))

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        for f in fields(self):
            dtype, shape, fill = f.metadata["dtype"], f.metadata["shape"], f.metadata["fill"]
            value = np.asarray(getattr(self, f.name), dtype=dtype)
            if fill is not None and value.size == 0 and n:
                value = np.full((n, *shape), fill, dtype)
            try:
                value = value.reshape(n, *shape)
            except ValueError:
                raise ValueError(f"{f.name} must have shape {(n, *shape)}, got {value.shape}") from None
            object.__setattr__(self, f.name, value)

    @classmethod
    def empty(cls) -> Faces:
        return cls(np.empty((0, 4), np.float32), np.empty(0, np.float32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Faces:
        return Faces(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    @property
    def width(self) -> F32:
        out: F32 = self.xyxy[:, 2] - self.xyxy[:, 0]
        return out

    @property
    def height(self) -> F32:
        out: F32 = self.xyxy[:, 3] - self.xyxy[:, 1]
        return out

    def with_classes(self, class_id: npt.ArrayLike, class_score: npt.ArrayLike) -> Faces:
        return dataclasses.replace(self, class_id=np.asarray(class_id), class_score=np.asarray(class_score))

    def scaled(self, sx: float, sy: float) -> Faces:
        """The same faces with boxes and landmarks scaled by ``sx`` horizontally and ``sy`` vertically."""
        return dataclasses.replace(self, xyxy=self.xyxy * np.array([sx, sy, sx, sy], np.float32),
                                   landmarks=self.landmarks * np.array([sx, sy], np.float32))

    def with_track_ids(self, track_id: npt.ArrayLike) -> Faces:
        return dataclasses.replace(self, track_id=np.asarray(track_id))

    @property
    def track_ids(self) -> tuple[int, ...]:
        """The track id of each face, in face order."""
        return tuple(int(t) for t in self.track_id.tolist())


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> F32:
    """Pairwise IoU of ``a (n, 4)`` and ``b (m, 4)`` xyxy boxes -> ``(n, m)``."""
    aa = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    bb = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    x1 = np.maximum(aa[:, None, 0], bb[None, :, 0])
    y1 = np.maximum(aa[:, None, 1], bb[None, :, 1])
    x2 = np.minimum(aa[:, None, 2], bb[None, :, 2])
    y2 = np.minimum(aa[:, None, 3], bb[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (aa[:, 2] - aa[:, 0]) * (aa[:, 3] - aa[:, 1])
    area_b = (bb[:, 2] - bb[:, 0]) * (bb[:, 3] - bb[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: F32 = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)
    return out
