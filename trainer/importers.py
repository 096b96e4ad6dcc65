"""Importers: labelled photos -> face records (which file, which box, which label, which group).

* ``import_voc``: scene photos with PASCAL VOC XML; every annotated face becomes a record; boxes are clipped
  to the image.
* ``import_folders``: one folder per class (loose names, see ``canonical_label``); a file that is a whole
  photo is searched for faces and the largest is kept; files with no face are dropped and counted.

Records carry a group key: the SHA-1 of the source file's bytes, so all faces of one photo and byte-identical
photos share a group and never straddle a split.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_agent.core.labels import UnknownLabelError, canonical_label
from edge_agent.evaluation.data import IMAGE_EXTS, Box, DataError, clip_box, find_image, parse_voc, read_image

log = logging.getLogger(__name__)

__all__ = ["IMAGE_EXTS", "Box", "DataImportError", "FaceRecord", "ImportReport", "clip_box", "import_folders",
           "import_voc", "read_image"]
#: Finds the face to keep in a photo: BGR image -> (x1, y1, x2, y2) or None when there is none.
FaceFinder = Callable[[npt.NDArray[np.uint8]], Box | None]


class DataImportError(DataError):
    """A data set cannot be imported (missing folder, unreadable annotation)."""


@dataclass(frozen=True, slots=True)
class FaceRecord:
    source: str
    path: Path
    box: Box
    label: str
    group: str


@dataclass(slots=True)
class ImportReport:
    source: str
    files: int = 0
    faces: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "files": self.files, "faces": dict(self.faces), "dropped": dict(self.dropped)}


def file_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def import_voc(root: Path, name: str | None = None, labels: tuple[str, ...] | None = None) -> tuple[list[FaceRecord], ImportReport]:
    """Import ``root/annotations/*.xml`` + ``root/images/``; labels outside ``labels`` are dropped and counted."""
    root = Path(root)
    ann_dir, img_dir = root / "annotations", root / "images"
    if not ann_dir.is_dir() or not img_dir.is_dir():
        raise DataImportError(f"{root}: a VOC data set needs annotations/ and images/ folders")
    report = ImportReport(name or root.name)
    records: list[FaceRecord] = []
    for xml_path in sorted(ann_dir.glob("*.xml")):
        try:
            ann = parse_voc(xml_path)
        except DataError as err:
            raise DataImportError(str(err)) from None
        width, height = ann.width, ann.height
        img_path = find_image(img_dir, ann.filename, xml_path.stem)
        if img_path is None:
            report.dropped["missing image"] += 1
            continue
        if width <= 0 or height <= 0:
            try:
                height, width = read_image(img_path).shape[:2]
            except OSError:
                report.dropped["unreadable image"] += 1
                continue
        report.files += 1
        group = file_hash(img_path)
        for raw, box in ann.objects:
            try:
                label = canonical_label(raw)
            except UnknownLabelError:
                report.dropped[f"unknown label {raw}"] += 1
                continue
            if labels is not None and label not in labels:
                report.dropped[f"label {label} not trained"] += 1
                continue
            clipped = clip_box(box, width, height)
            if clipped is None:
                report.dropped["empty box"] += 1
                continue
            records.append(FaceRecord(report.source, img_path, clipped, label, group))
            report.faces[label] += 1
    return records, report


def _class_folders(root: Path) -> Iterator[tuple[str, Path]]:
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            yield canonical_label(folder.name), folder
        except UnknownLabelError:
            log.warning("skipping folder %s: not a class name", folder)


def import_folders(
    root: Path,
    find_face: FaceFinder,
    name: str | None = None,
    labels: tuple[str, ...] | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_per_class: int | None = None,
    seed: int = 0,
) -> tuple[list[FaceRecord], ImportReport]:
    """Import ``root/<class>/*``; ``find_face`` picks the face box of each file (or None: dropped).

    ``max_per_class`` looks at only that many files per class (a seeded choice), for quick runs.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataImportError(f"{root}: not a folder")
    report = ImportReport(name or root.name)
    folders = list(_class_folders(root))
    if not folders:
        raise DataImportError(f"{root}: no class folders (e.g. with_mask/, without_mask/)")
    files = [(label, p) for label, folder in folders for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTS]
    if max_per_class is not None:
        rng = np.random.default_rng(seed)
        picked = []
        for label in sorted({lab for lab, _ in files}):
            mine = [f for f in files if f[0] == label]
            picked += [mine[i] for i in sorted(rng.permutation(len(mine))[:max_per_class])]
        files = picked
    records: list[FaceRecord] = []
    for i, (label, path) in enumerate(files):
        if progress is not None:
            progress(i, len(files))
        if labels is not None and label not in labels:
            report.dropped[f"label {label} not trained"] += 1
            continue
        try:
            img = read_image(path)
        except OSError:
            report.dropped["unreadable image"] += 1
            continue
        report.files += 1
        box = find_face(img)
        if box is None:
            report.dropped["no face found"] += 1
            continue
        clipped = clip_box(box, img.shape[1], img.shape[0])
        if clipped is None:
            report.dropped["no face found"] += 1
            continue
        records.append(FaceRecord(report.source, path, clipped, label, file_hash(path)))
        report.faces[label] += 1
    return records, report
