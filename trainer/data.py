"""Import every configured source (cached), crop the faces, and split them."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.core.crop import CropSpec
from trainer.dataset import FaceSet, load_or_crop
from trainer.importers import FaceFinder, FaceRecord, ImportReport, import_folders, import_voc
from trainer.options import SourceOptions, TrainerOptions
from trainer.splits import assign_splits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitData:
    train: FaceSet
    val: FaceSet
    test: FaceSet
    reports: list[dict[str, Any]]


def source_fingerprint(path: Path) -> str:
    """Hash of every file's relative name, size and modification time under ``path`` (cheap, content-ish)."""
    h = hashlib.sha1()
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(path)}|{st.st_size}|{int(st.st_mtime)}\n".encode())
    return h.hexdigest()[:16]


def centerface_finder(input_scale: float = 1.0) -> FaceFinder:
    """The agent's CenterFace detector + its photo helper (largest face, retries with a border)."""
    from edge_agent.config import CenterFaceConfig
    from edge_agent.detectors import create_detector
    from edge_agent.photo import find_face_in_photo

    detector = create_detector(CenterFaceConfig(type="centerface", input_scale=input_scale, min_face_px=8))
    return lambda img: find_face_in_photo(img, detector)


def _progress(what: str):  # type: ignore[no-untyped-def]
    step = {"last": -1}

    def report(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1)) // 10 * 10
        if pct != step["last"]:
            step["last"] = pct
            log.info("%s: %d/%d (%d%%)", what, done, total, pct)

    return report


def import_source(src: SourceOptions, opts: TrainerOptions, finder: FaceFinder | None = None) -> tuple[list[FaceRecord], ImportReport, str]:
    """Records of one source; a folders import (face detection) is cached by folder fingerprint."""
    labels = tuple(opts.labels)
    fingerprint = source_fingerprint(src.path)
    if src.type == "voc":
        records, report = import_voc(src.path, src.label, labels)
    else:
        key = hashlib.sha1(json.dumps([fingerprint, src.label, labels, opts.detector_scale, src.max_per_class, opts.seed if src.max_per_class else None, "centerface+photo"]).encode()).hexdigest()[:16]
        cache = opts.cache_dir / f"import-{key}.json"
        if cache.is_file():
            data = json.loads(cache.read_text())
            records = [FaceRecord(r["source"], Path(r["path"]), tuple(r["box"]), r["label"], r["group"]) for r in data["records"]]
            report = ImportReport(data["report"]["source"], data["report"]["files"],
                                  Counter(data["report"]["faces"]), Counter(data["report"]["dropped"]))
            log.info("%s: import from cache %s", src.label, cache)
        else:
            records, report = import_folders(src.path, finder or centerface_finder(opts.detector_scale), src.label,
                                             labels, progress=_progress(f"{src.label}: finding faces"),
                                             max_per_class=src.max_per_class, seed=opts.seed)
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"records": [{"source": r.source, "path": str(r.path), "box": list(r.box),
                                                      "label": r.label, "group": r.group} for r in records],
                                         "report": report.as_dict()}))
    if src.max_per_class:
        records = _limit(records, src.max_per_class, opts.seed)
    log.info("%s: %d files, faces %s, dropped %s", src.label, report.files, dict(report.faces), dict(report.dropped))
    return records, report, fingerprint


def _limit(records: list[FaceRecord], per_class: int, seed: int) -> list[FaceRecord]:
    """At most ``per_class`` faces per label, chosen by whole groups in a seeded order."""
    rng = np.random.default_rng(seed)
    groups = sorted({r.group for r in records})
    order = {groups[j]: rank for rank, j in enumerate(rng.permutation(len(groups)))}
    kept: list[FaceRecord] = []
    counts: Counter[str] = Counter()
    for r in sorted(records, key=lambda r: (order[r.group], str(r.path))):
        if counts[r.label] < per_class:
            kept.append(r)
            counts[r.label] += 1
    return kept


def load_data(opts: TrainerOptions, finder: FaceFinder | None = None) -> SplitData:
    spec = CropSpec(size=opts.input_size, margin=opts.crop_margin)
    sets, reports = [], []
    for src in opts.sources:
        records, report, fingerprint = import_source(src, opts, finder)
        if not records:
            raise ValueError(f"{src.label}: no faces imported from {src.path}")
        sets.append(load_or_crop(records, spec, opts.cache_dir, _progress(f"{src.label}: cropping")))
        reports.append({**report.as_dict(), "path": str(src.path), "type": src.type, "fingerprint": fingerprint,
                        "faces_used": dict(Counter(r.label for r in records))})
    faces = FaceSet.concat(sets)
    split = assign_splits(faces.labels, faces.groups, faces.sources, opts.val_fraction, opts.test_fraction, opts.splits_seed)
    parts = {name: faces.subset(np.flatnonzero(split == name)) for name in ("train", "val", "test")}
    for name, part in parts.items():
        log.info("%s split: %d faces %s", name, len(part), dict(Counter(part.labels.tolist())))
    return SplitData(parts["train"], parts["val"], parts["test"], reports)
