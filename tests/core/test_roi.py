"""Region of interest: face centre inside a polygon of frame fractions."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.core.roi import Roi

SQUARE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
# An L shape: the top-right quarter is cut out
L_SHAPE = [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]


@pytest.mark.parametrize(("poly", "box", "inside"), [
    (SQUARE, (90, 90, 110, 110), True),  # centre (100, 100) of a 200x200 frame
    (SQUARE, (0, 0, 20, 20), False),
    (SQUARE, (140, 40, 160, 80), False),  # centre (150, 60): above the square
    (SQUARE, (45, 45, 155, 155), True),  # a big face whose centre is inside
    (L_SHAPE, (140, 20, 160, 40), False),  # centre (150, 30) in the cut-out quarter
    (L_SHAPE, (20, 20, 40, 40), True),
    (L_SHAPE, (140, 140, 160, 160), True),
    ([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)], (10, 10, 30, 30), True),  # triangle, centre (20, 20)
    ([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)], (150, 150, 170, 170), False),
])
def test_contains(poly: list[tuple[float, float]], box: tuple[int, int, int, int], inside: bool) -> None:
    assert Roi.from_points(poly).contains(np.array([box]), 200, 200).tolist() == [inside]


def test_many_boxes_and_non_square_frame() -> None:
    roi = Roi.from_points([(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)])  # right half
    boxes = np.array([[10, 10, 20, 20], [700, 10, 720, 30], [630, 0, 660, 10]], np.float32)
    assert roi.contains(boxes, 1280, 720).tolist() == [False, True, True]


def test_empty() -> None:
    assert Roi.from_points(SQUARE).contains(np.empty((0, 4)), 100, 100).shape == (0,)


@pytest.mark.parametrize(("points", "word"), [
    ([(0.1, 0.1), (0.2, 0.2)], "at least 3"),
    ([(0.1, 0.1), (1.2, 0.2), (0.5, 0.9)], "fractions"),
])
def test_invalid(points: list[tuple[float, float]], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        Roi.from_points(points)
