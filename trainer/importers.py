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
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.core.labels import UnknownLabelError, canonical_label

log = logging.getLogger(__name__)

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
Box = tuple[float, float, float, float]
#: Finds the face to keep in a photo: BGR image -> (x1, y1, x2, y2) or None when there is none.
FaceFinder = Callable[[npt.NDArray[np.uint8]], Box | None]


class DataImportError(Exception):
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


def read_image(path: Path) -> npt.NDArray[np.uint8] | None:
    """BGR uint8, or None when the file cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if img is None else np.ascontiguousarray(img)


def clip_box(box: Box, width: int, height: int) -> Box | None:
    """Clip to the image; None when nothing is left."""
    x1, y1, x2, y2 = box
    x1, x2 = max(0.0, min(x1, width)), max(0.0, min(x2, width))
    y1, y2 = max(0.0, min(y1, height)), max(0.0, min(y2, height))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return (x1, y1, x2, y2)


def parse_voc(xml_path: Path) -> tuple[str, int, int, list[tuple[str, Box]]]:
    """(filename, width, height, [(raw label, box)]) from one PASCAL VOC annotation."""
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as err:
        raise DataImportError(f"{xml_path}: not valid XML: {err}") from None
    filename = root.findtext("filename") or ""
    width = int(float(root.findtext("size/width") or 0))
    height = int(float(root.findtext("size/height") or 0))
    objects = []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        name = obj.findtext("name") or ""
        if bb is None:
            continue
        box = tuple(float(bb.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
        objects.append((name, (box[0], box[1], box[2], box[3])))
    return filename, width, height, objects


def import_voc(root: Path, name: str | None = None, labels: tuple[str, ...] | None = None) -> tuple[list[FaceRecord], ImportReport]:
    """Import ``root/annotations/*.xml`` + ``root/images/``; labels outside ``labels`` are dropped and counted."""
    root = Path(root)
    ann_dir, img_dir = root / "annotations", root / "images"
    if not ann_dir.is_dir() or not img_dir.is_dir():
        raise DataImportError(f"{root}: a VOC data set needs annotations/ and images/ folders")
    report = ImportReport(name or root.name)
    records: list[FaceRecord] = []
    for xml_path in sorted(ann_dir.glob("*.xml")):
        filename, width, height, objects = parse_voc(xml_path)
        img_path = img_dir / filename
        if not img_path.is_file():
            candidates = [p for p in img_dir.glob(xml_path.stem + ".*") if p.suffix.lower() in IMAGE_EXTS]
            if not candidates:
                report.dropped["missing image"] += 1
                continue
            img_path = candidates[0]
        if width <= 0 or height <= 0:
            img = read_image(img_path)
            if img is None:
                report.dropped["unreadable image"] += 1
                continue
            height, width = img.shape[:2]
        report.files += 1
        group = file_hash(img_path)
        for raw, box in objects:
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
        img = read_image(path)
        if img is None:
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
