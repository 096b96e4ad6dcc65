"""Evaluation data: a PASCAL VOC folder (images/ + annotations/*.xml) or class folders (DIR/<label>/*.jpg).

The one reader of both, and of images: ``maskwatch eval``, the trainer's importers (trainer/importers.py) and
bench/ use :func:`parse_voc`, :func:`find_image`, :func:`clip_box` and :func:`read_image` from here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.core.labels import UnknownLabelError, canonical_label

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


class DataError(Exception):
    """The evaluation data folder is not in a form we read."""


@dataclass(frozen=True, slots=True)
class SceneSample:
    """One annotated scene image: ground-truth boxes (n, 4, pixels, clipped to the image) and labels."""

    image: Path
    boxes: npt.NDArray[np.float32]
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PhotoSample:
    image: Path
    label: str


def is_voc(root: Path) -> bool:
    return (root / "annotations").is_dir() and (root / "images").is_dir()


Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class VocAnnotation:
    """One PASCAL VOC XML file as written: the image file name, its size (0 when not given) and the objects
    (raw label name, box in pixels, not clipped)."""

    filename: str
    width: int
    height: int
    objects: tuple[tuple[str, Box], ...]


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    """A BGR uint8 image (any path, also non-ASCII); ``OSError`` naming the file when it cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise OSError(f"cannot read image {path}")
    return np.ascontiguousarray(img)


def parse_voc(xml_path: Path) -> VocAnnotation:
    """Read one annotation file; :class:`DataError` when it is not XML."""
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as err:
        raise DataError(f"{xml_path}: not valid XML: {err}") from None
    objects = []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        if bb is None:
            continue
        x1, y1, x2, y2 = (float(bb.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
        objects.append((obj.findtext("name") or "", (x1, y1, x2, y2)))
    return VocAnnotation(root.findtext("filename") or "", int(float(root.findtext("size/width") or 0)),
                         int(float(root.findtext("size/height") or 0)), tuple(objects))


def find_image(images: Path, filename: str, stem: str) -> Path | None:
    """The image an annotation names, else ``<stem>.<ext>`` for the first known extension present."""
    if filename and (images / filename).is_file():
        return images / filename
    for ext in sorted(IMAGE_EXTS):
        if (images / f"{stem}{ext}").is_file():
            return images / f"{stem}{ext}"
    return None


def clip_box(box: Box, width: float, height: float) -> Box | None:
    """Clip to the image; ``None`` when less than a pixel is left on either side (or a coordinate is missing)."""
    x1, y1, x2, y2 = box
    x1, x2 = max(0.0, min(x1, width)), max(0.0, min(x2, width))
    y1, y2 = max(0.0, min(y1, height)), max(0.0, min(y2, height))
    if not x2 - x1 >= 1 or not y2 - y1 >= 1:
        return None
    return (x1, y1, x2, y2)


def read_voc_annotation(xml_path: Path, images: Path) -> SceneSample | None:
    """One annotation file; labels mapped to canonical ones, boxes clipped to the image size (when given)."""
    ann = parse_voc(xml_path)
    image = find_image(images, ann.filename, xml_path.stem)
    if image is None:
        return None
    boxes, labels = [], []
    for name, box in ann.objects:
        try:
            label = canonical_label(name)
        except UnknownLabelError as err:
            raise DataError(f"{xml_path}: {err}") from None
        clipped = clip_box(box, ann.width or float("inf"), ann.height or float("inf"))
        if clipped is None:
            continue
        boxes.append(clipped)
        labels.append(label)
    arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return SceneSample(image, arr, tuple(labels))


def read_voc(root: Path, limit: int | None = None) -> list[SceneSample]:
    """Annotated images in name order (natural order of the numbers in them), at most ``limit``."""
    xmls = sorted((root / "annotations").glob("*.xml"), key=_natural)
    out: list[SceneSample] = []
    for x in xmls:
        s = read_voc_annotation(x, root / "images")
        if s is not None:
            out.append(s)
            if limit is not None and len(out) >= limit:
                break
    if not out:
        raise DataError(f"{root}: no annotation in annotations/*.xml names an image in images/")
    return out


def read_class_folders(root: Path, limit: int | None = None) -> list[PhotoSample]:
    """Images of DIR/<label>/; folder names matched loosely (WithMask, with_mask, ...).

    With ``limit`` the first images of each class are taken in turn, so a short run sees every class.
    """
    per_class: list[list[PhotoSample]] = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            label = canonical_label(d.name)
        except UnknownLabelError:
            continue
        files = sorted((f for f in d.iterdir() if f.suffix.lower() in IMAGE_EXTS), key=_natural)
        per_class.append([PhotoSample(f, label) for f in files])
    if not per_class or not any(per_class):
        raise DataError(f"{root}: neither a VOC folder (images/ + annotations/) nor class folders with images")
    out: list[PhotoSample] = []
    i = 0
    while any(i < len(c) for c in per_class):
        for c in per_class:
            if i < len(c):
                out.append(c[i])
                if limit is not None and len(out) >= limit:
                    return out
        i += 1
    return out


def _natural(p: Path) -> tuple[str, int, str]:
    digits = "".join(ch for ch in p.stem if ch.isdigit())
    prefix = p.stem.rstrip("0123456789")
    return (prefix, int(digits) if digits else -1, p.name)
