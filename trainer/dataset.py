"""Face records -> crop arrays, cached as .npz so reruns skip decoding and cropping.

Two crops per face, both cut by the agent's own ``crop_face``:
* ``exact``: the model's CropSpec, exactly what the agent feeds the classifier (evaluation, calibration);
* ``context``: the same centre with a wider margin, for scale/shift jitter during training.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_agent.core.crop import CropSpec, crop_face
from edge_agent.imaging import resize_square
from trainer.importers import FaceRecord, read_image

log = logging.getLogger(__name__)

CONTEXT_MARGIN = 0.4


def context_spec(spec: CropSpec, margin: float = CONTEXT_MARGIN) -> CropSpec:
    """A wider crop whose centre part at ``spec.margin`` is ``spec.size`` pixels across."""
    margin = max(margin, spec.margin)
    size = int(round(spec.size * (1 + 2 * margin) / (1 + 2 * spec.margin)))
    return CropSpec(size=min(size, 512), margin=margin)


@dataclass(frozen=True)
class FaceSet:
    """Parallel arrays, one row per face."""

    exact: npt.NDArray[np.uint8]  # (n, S, S, 3) RGB
    context: npt.NDArray[np.uint8]  # (n, C, C, 3) RGB
    labels: npt.NDArray[np.str_]
    groups: npt.NDArray[np.str_]
    sources: npt.NDArray[np.str_]
    names: npt.NDArray[np.str_]
    face_px: npt.NDArray[np.float32]  # longer side of the face box in the source photo (pixels)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: npt.ArrayLike) -> FaceSet:
        i = np.asarray(idx, dtype=np.int64)
        return FaceSet(*(getattr(self, f)[i] for f in FIELDS))

    @staticmethod
    def concat(sets: Sequence[FaceSet]) -> FaceSet:
        return FaceSet(*(np.concatenate([getattr(s, f) for s in sets]) for f in FIELDS))


FIELDS = ("exact", "context", "labels", "groups", "sources", "names", "face_px")


def records_key(records: Sequence[FaceRecord], spec: CropSpec, ctx: CropSpec) -> str:
    h = hashlib.sha1()
    h.update(json.dumps([2, spec.size, spec.margin, ctx.size, ctx.margin]).encode())  # 2: cache format
    for r in records:
        h.update(f"{r.source}|{r.path}|{r.box}|{r.label}|{r.group}\n".encode())
    return h.hexdigest()[:16]


def crop_records(
    records: Sequence[FaceRecord], spec: CropSpec, progress: Callable[[int, int], None] | None = None
) -> FaceSet:
    ctx = context_spec(spec)
    n = len(records)
    exact = np.empty((n, spec.size, spec.size, 3), np.uint8)
    context = np.empty((n, ctx.size, ctx.size, 3), np.uint8)
    by_path: dict[Path, list[int]] = {}
    for i, r in enumerate(records):
        by_path.setdefault(r.path, []).append(i)
    done = 0
    for path, rows in by_path.items():
        try:
            img = read_image(path)
        except OSError:
            raise ValueError(f"{path}: cannot decode image") from None
        for i in rows:
            exact[i] = crop_face(img, records[i].box, spec, resize_square)
            context[i] = crop_face(img, records[i].box, ctx, resize_square)
        done += len(rows)
        if progress is not None:
            progress(done, n)
    return FaceSet(
        exact, context,
        np.array([r.label for r in records]), np.array([r.group for r in records]),
        np.array([r.source for r in records]), np.array([str(r.path) for r in records]),
        np.array([max(r.box[2] - r.box[0], r.box[3] - r.box[1]) for r in records], np.float32),
    )


def load_or_crop(
    records: Sequence[FaceRecord], spec: CropSpec, cache_dir: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> FaceSet:
    """Crops for ``records``, from ``cache_dir/crops-<key>.npz`` when present."""
    key = records_key(records, spec, context_spec(spec))
    path = None if cache_dir is None else Path(cache_dir) / f"crops-{key}.npz"
    if path is not None and path.is_file():
        with np.load(path) as z:
            log.info("crops from cache %s", path)
            return FaceSet(*(z[f] for f in FIELDS))
    faces = crop_records(records, spec, progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **{f: getattr(faces, f) for f in FIELDS})
        tmp.replace(path)
    return faces
