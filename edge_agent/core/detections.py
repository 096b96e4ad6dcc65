"""Faces found in one frame: parallel NumPy arrays, shape-checked, filtered with boolean masks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Faces:
    """``xyxy (n, 4)`` pixel boxes in the original frame, ``score (n,)`` detector confidence.

    After classification ``class_id (n,)`` (index into the model's labels, -1 = not classified) and
    ``class_score (n,)`` (probability of that class) are filled in. ``landmarks (n, 5, 2)``, where the
    detector gives them: frame pixels (x, y) of the two eyes, the nose tip and the two mouth corners
    (``None`` when it does not).
    """

    xyxy: F32
    score: F32
    class_id: I32 = field(default_factory=lambda: np.empty(0, np.int32))
    class_score: F32 = field(default_factory=lambda: np.empty(0, np.float32))
    landmarks: F32 | None = None

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, dtype=np.float32).reshape(n, 4))
        object.__setattr__(self, "score", np.asarray(self.score, dtype=np.float32).reshape(-1))
        if self.score.shape != (n,):
            raise ValueError(f"score must have shape ({n},), got {self.score.shape}")
        cid = np.asarray(self.class_id, dtype=np.int32).reshape(-1)
        cs = np.asarray(self.class_score, dtype=np.float32).reshape(-1)
        if len(cid) == 0 and n:
            cid = np.full(n, -1, np.int32)
        if len(cs) == 0 and n:
            cs = np.zeros(n, np.float32)
        if cid.shape != (n,) or cs.shape != (n,):
            raise ValueError(f"class_id and class_score must have shape ({n},)")
        object.__setattr__(self, "class_id", cid)
        object.__setattr__(self, "class_score", cs)
        if self.landmarks is not None:
            lm = np.asarray(self.landmarks, dtype=np.float32)
            if lm.size == 0 and n == 0:
                lm = lm.reshape(0, 5, 2)
            if lm.shape != (n, 5, 2):
                raise ValueError(f"landmarks must have shape ({n}, 5, 2), got {lm.shape}")
            object.__setattr__(self, "landmarks", lm)

    @classmethod
    def empty(cls) -> Faces:
        return cls(np.empty((0, 4), np.float32), np.empty(0, np.float32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Faces:
        return Faces(self.xyxy[mask], self.score[mask], self.class_id[mask], self.class_score[mask],
                     None if self.landmarks is None else self.landmarks[mask])

    @property
    def width(self) -> F32:
        out: F32 = self.xyxy[:, 2] - self.xyxy[:, 0]
        return out

    @property
    def height(self) -> F32:
        out: F32 = self.xyxy[:, 3] - self.xyxy[:, 1]
        return out

    def with_classes(self, class_id: npt.ArrayLike, class_score: npt.ArrayLike) -> Faces:
        return Faces(self.xyxy, self.score, np.asarray(class_id), np.asarray(class_score), self.landmarks)

    def scaled(self, sx: float, sy: float) -> Faces:
        """The same faces with boxes (and landmarks) scaled by ``sx`` horizontally, ``sy`` vertically."""
        lm = None if self.landmarks is None else self.landmarks * np.array([sx, sy], np.float32)
        return Faces(self.xyxy * np.array([sx, sy, sx, sy], np.float32), self.score, self.class_id,
                     self.class_score, lm)


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
