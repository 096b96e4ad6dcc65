"""Region of interest: a polygon in frame fractions; a face counts when its box centre lies inside."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Roi:
    points: tuple[tuple[float, float], ...]  # (x, y) fractions of the frame, 0..1

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise ValueError(f"a region of interest needs at least 3 points, got {len(self.points)}")
        for x, y in self.points:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"roi points are fractions of the frame (0..1), got ({x}, {y})")

    @classmethod
    def from_points(cls, points: Sequence[Sequence[float]]) -> Roi:
        return cls(tuple((float(p[0]), float(p[1])) for p in points))

    def contains(self, xyxy: npt.ArrayLike, width: int, height: int) -> npt.NDArray[np.bool_]:
        """Which boxes (n, 4, frame pixels) have their centre inside the polygon (even-odd rule)."""
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        px = (b[:, 0] + b[:, 2]) / 2.0 / width
        py = (b[:, 1] + b[:, 3]) / 2.0 / height
        poly = np.asarray(self.points, dtype=np.float64)
        inside = np.zeros(len(b), dtype=np.bool_)
        for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
            crosses = (y1 > py) != (y2 > py)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
            inside ^= crosses & (px < x_at)
        return inside
