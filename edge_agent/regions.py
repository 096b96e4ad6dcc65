"""Where the detector runs when the motion gate lets it (Frigate's "where"): the moving regions and the live
tracks, widened by a margin, instead of the whole frame.

With people in view the motion gate alone saves nothing (there is motion on every frame), but the moving
part is usually a small part of a 720p frame and the detector's cost is proportional to the area it sees
(CenterFace at 640x384: ~50 ms; a 320x192 crop: ~12 ms). The plan is the whole frame whenever that is
safer or not dearer: the first frame, a lighting change, every ``refresh_s`` (someone who walked in between
two frames and stopped), and whenever the regions together cover more than ``region_max_area`` of the frame.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

Box = tuple[int, int, int, int]


def plan_regions(boxes: Iterable[npt.ArrayLike], width: int, height: int, margin: float,
                 max_area: float) -> list[Box] | None:
    """Regions (x0, y0, x1, y1 frame pixels) covering every box widened by ``margin`` (a fraction of the
    frame's width and height on each side), overlapping ones merged; None = run on the whole frame."""
    mx, my = margin * width, margin * height
    regions: list[list[float]] = []
    for b in boxes:
        x0, y0, x1, y1 = (float(v) for v in np.asarray(b, np.float32).reshape(4))
        regions.append([max(x0 - mx, 0.0), max(y0 - my, 0.0), min(x1 + mx, width), min(y1 + my, height)])
    if not regions:
        return None
    merged = True
    while merged and len(regions) > 1:  # a handful of boxes: the quadratic merge is cheap
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                a, b = regions[i], regions[j]
                if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                    regions[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    area = sum((r[2] - r[0]) * (r[3] - r[1]) for r in regions)
    if area > max_area * width * height:
        return None
    return [(int(r[0]), int(r[1]), int(np.ceil(r[2])), int(np.ceil(r[3]))) for r in regions]
