"""Evaluation data: a PASCAL VOC folder (images/ + annotations/*.xml) or class folders (DIR/<label>/*.jpg)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

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


def _find_image(images: Path, xml_root: ET.Element, stem: str) -> Path | None:
    name = xml_root.findtext("filename")
    if name and (images / name).is_file():
        return images / name
    for ext in sorted(IMAGE_EXTS):
        if (images / f"{stem}{ext}").is_file():
            return images / f"{stem}{ext}"
    return None


def read_voc_annotation(xml_path: Path, images: Path) -> SceneSample | None:
    """One annotation file; labels mapped to canonical ones, boxes clipped to the image size."""
    root = ET.parse(xml_path).getroot()
    image = _find_image(images, root, xml_path.stem)
    if image is None:
        return None
    size = root.find("size")
    w = float(size.findtext("width", "0")) if size is not None else 0.0
    h = float(size.findtext("height", "0")) if size is not None else 0.0
    boxes, labels = [], []
    for obj in root.findall("object"):
        name = obj.findtext("name", "")
        try:
            label = canonical_label(name)
        except UnknownLabelError as err:
            raise DataError(f"{xml_path}: {err}") from None
        bb = obj.find("bndbox")
        if bb is None:
            continue
        x1, y1, x2, y2 = (float(bb.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax"))
        if w > 0 and h > 0:
            x1, x2 = min(max(x1, 0.0), w), min(max(x2, 0.0), w)
            y1, y2 = min(max(y1, 0.0), h), min(max(y2, 0.0), h)
        if x2 <= x1 or y2 <= y1:
            continue
        boxes.append((x1, y1, x2, y2))
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
