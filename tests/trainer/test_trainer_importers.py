"""Importers: VOC scene photos and class folders, on small files written here (and on ../shared/data when present)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.importers import DataImportError, clip_box, import_folders, import_voc

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

VOC = """<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height><depth>3</depth></size>
{objects}</annotation>"""
OBJ = "<object><name>{label}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"


def _voc(root: Path, name: str, objects: list[tuple[str, tuple[int, int, int, int]]], w: int = 120, h: int = 80,
         pixels: int = 0) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(exist_ok=True)
    img = np.full((h, w, 3), pixels, np.uint8)
    cv2.imwrite(str(root / "images" / f"{name}.png"), img)
    objs = "".join(OBJ.format(label=lab, x1=b[0], y1=b[1], x2=b[2], y2=b[3]) for lab, b in objects)
    (root / "annotations" / f"{name}.xml").write_text(VOC.format(name=f"{name}.png", w=w, h=h, objects=objs))


def test_voc_maps_labels_clips_boxes_and_groups_by_photo(tmp_path):
    _voc(tmp_path, "a", [("with_mask", (10, 10, 30, 30)), ("mask_weared_incorrect", (100, 60, 121, 81))], pixels=1)
    _voc(tmp_path, "b", [("without_mask", (5, 5, 20, 20)), ("cat", (1, 1, 5, 5))], pixels=2)
    records, report = import_voc(tmp_path)
    assert [r.label for r in records] == ["with_mask", "mask_incorrect", "without_mask"]
    assert records[1].box == (100.0, 60.0, 120.0, 80.0)  # 1 px past the edge: clipped
    assert records[0].group == records[1].group != records[2].group
    assert report.files == 2
    assert report.dropped == {"unknown label cat": 1}


def test_voc_identical_files_share_a_group(tmp_path):
    _voc(tmp_path, "a", [("with_mask", (10, 10, 30, 30))], pixels=7)
    _voc(tmp_path, "b", [("without_mask", (10, 10, 30, 30))], pixels=7)  # same bytes, other label
    records, _ = import_voc(tmp_path)
    assert records[0].group == records[1].group


def test_voc_drops_labels_not_trained(tmp_path):
    _voc(tmp_path, "a", [("with_mask", (10, 10, 30, 30)), ("mask_weared_incorrect", (40, 10, 60, 30))])
    records, report = import_voc(tmp_path, labels=("with_mask", "without_mask"))
    assert [r.label for r in records] == ["with_mask"]
    assert report.dropped == {"label mask_incorrect not trained": 1}


def test_voc_needs_its_folders(tmp_path):
    with pytest.raises(DataImportError, match="annotations"):
        import_voc(tmp_path)


@pytest.mark.parametrize(("box", "expected"), [
    ((-1, -2, 50, 40), (0.0, 0.0, 50.0, 40.0)),
    ((90, 70, 101, 81), (90.0, 70.0, 100.0, 80.0)),
    ((100, 10, 120, 20), None),
])
def test_clip_box(box, expected):
    assert clip_box(box, 100, 80) == expected


def test_folders_uses_loose_names_and_drops_files_without_a_face(tmp_path):
    for folder, values in (("WithMask", (10, 20)), ("no_mask", (30, 40, 50)), ("README-folder", (60,))):
        (tmp_path / folder).mkdir()
        for v in values:
            cv2.imwrite(str(tmp_path / folder / f"{v}.jpg"), np.full((40, 40, 3), v, np.uint8))
    (tmp_path / "no_mask" / "broken.jpg").write_bytes(b"not an image")

    def finder(img):  # a fake detector: "finds" a face unless the image is the one with value 50
        return None if abs(int(img[0, 0, 0]) - 50) <= 2 else (2.0, 3.0, 30.0, 35.0)

    records, report = import_folders(tmp_path, finder)
    assert sorted(r.label for r in records) == ["with_mask", "with_mask", "without_mask", "without_mask"]
    assert report.dropped == {"no face found": 1, "unreadable image": 1}
    assert all(r.box == (2.0, 3.0, 30.0, 35.0) for r in records)
    assert len({r.group for r in records}) == 4


@pytest.mark.data
def test_andrewmvd_imports_as_the_data_readme_says():
    if not (DATA / "andrewmvd").is_dir():
        pytest.skip(f"{DATA / 'andrewmvd'} is absent (the shared data sets live beside the checkout)")
    records, report = import_voc(DATA / "andrewmvd")
    assert report.files == 681
    assert dict(report.faces) == {"with_mask": 2629, "without_mask": 596, "mask_incorrect": 96}
    group_of = {r.path.stem: r.group for r in records}
    pairs = [(f"maksssksksss{a}", f"maksssksksss{b}") for a, b in ((146, 219), (410, 428), (656, 690), (13, 737), (653, 775))]
    present = [(a, b) for a, b in pairs if a in group_of and b in group_of]
    assert len(present) >= 3  # the others are in the part kept aside
    assert all(group_of[a] == group_of[b] for a, b in present)
    assert len({group_of[a] for a, _ in present}) == len(present)
    h, w = 10**6, 10**6
    assert all(0 <= r.box[0] < r.box[2] <= w and 0 <= r.box[1] < r.box[3] <= h for r in records)
