"""Evaluation: metrics (hand-computed), data readers, and ``maskwatch eval`` on a small ../shared subset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edge_agent.assets import ASTRONAUT_JPG
from edge_agent.config import PACKAGED_MODEL
from edge_agent.evaluation.data import is_voc, read_class_folders, read_voc
from edge_agent.evaluation.metrics import (
    ImageDetections,
    average_precision,
    classification_report,
    detection_ap,
    face_recall,
)
from edge_agent.evaluation.run import class_columns

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.parametrize(("tp", "scores", "n_gt", "ap"), [
    ([True, False, True, False], [0.9, 0.8, 0.7, 0.6], 3, 1 / 3 + 1 / 3 * 2 / 3),
    ([True, True], [0.9, 0.8], 2, 1.0),
    ([False, True], [0.9, 0.8], 1, 0.5),  # precision 1/2 at recall 1
    ([True, False], [0.8, 0.9], 1, 0.5),  # ranked by score, not by order given
    ([], [], 4, 0.0),
    ([True], [0.5], 4, 0.25),
])
def test_average_precision(tp: list[bool], scores: list[float], n_gt: int, ap: float) -> None:
    assert average_precision(tp, scores, n_gt) == pytest.approx(ap)


def test_average_precision_without_ground_truth_is_nan() -> None:
    assert math.isnan(average_precision([False], [0.3], 0))


def _img(gt: list, gl: list, pb: list, pl: list, ps: list) -> ImageDetections:
    return ImageDetections(np.array(gt, np.float32).reshape(-1, 4), gl, np.array(pb, np.float32).reshape(-1, 4),
                           pl, np.array(ps, np.float32))


def test_detection_ap_and_recall_hand_computed() -> None:
    a, b = [0, 0, 10, 10], [20, 20, 30, 30]
    shifted = [0, 5, 10, 15]  # IoU with a = 50 / 150 = 0.33: a hit at 0.3, a miss at 0.5
    images = [
        _img([a, b], ["with_mask", "without_mask"], [a, b], ["with_mask", "with_mask"], [0.9, 0.6]),
        _img([a], ["with_mask"], [shifted, a], ["with_mask", "with_mask"], [0.95, 0.3]),
    ]
    ap = detection_ap(images, ["with_mask", "without_mask", "mask_incorrect"])
    # with_mask ranked: 0.95 FP (IoU .33), 0.9 TP, 0.6 FP (b is without_mask), 0.3 TP; 2 GT
    # precision/recall: (0, 0), (1/2, 1/2), (1/3, 1/2), (1/2, 1) -> AP = 0.5 * 0.5 + 0.5 * 0.5 = 0.5
    assert ap["with_mask"] == pytest.approx(0.5)
    assert ap["without_mask"] == 0.0  # its one face was labelled with_mask
    assert math.isnan(ap["mask_incorrect"])
    assert face_recall(images, 0.5) == pytest.approx(3 / 3)
    assert face_recall([images[1]], 0.5) == pytest.approx(1.0)
    assert face_recall([_img([a], ["with_mask"], [shifted], ["with_mask"], [0.9])], 0.5) == 0.0
    assert face_recall([_img([a], ["with_mask"], [shifted], ["with_mask"], [0.9])], 0.3) == 1.0


def test_duplicate_detection_is_a_false_positive() -> None:
    a = [0, 0, 10, 10]
    ap = detection_ap([_img([a], ["with_mask"], [a, a], ["with_mask", "with_mask"], [0.9, 0.8])], ["with_mask"])
    assert ap["with_mask"] == pytest.approx(1.0)  # the duplicate comes after full recall
    ap = detection_ap([_img([a, [50, 50, 60, 60]], ["with_mask"] * 2, [a, a], ["with_mask"] * 2, [0.9, 0.8])],
                      ["with_mask"])
    assert ap["with_mask"] == pytest.approx(0.5)


def test_classification_report_hand_computed() -> None:
    labels = ["with_mask", "without_mask", "mask_incorrect"]
    true = ["with_mask"] * 4 + ["without_mask"] * 2
    pred = ["with_mask", "with_mask", "with_mask", "without_mask", "without_mask", "mask_incorrect"]
    r = classification_report(true, pred, labels)
    assert r["confusion"] == [[3, 1, 0], [0, 1, 1], [0, 0, 0]]
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["balanced_accuracy"] == pytest.approx((3 / 4 + 1 / 2) / 2)  # mask_incorrect has no support
    pc = r["per_class"]
    assert pc["with_mask"]["precision"] == 1.0 and pc["without_mask"]["precision"] == 0.5
    assert pc["mask_incorrect"]["precision"] == 0.0 and math.isnan(pc["mask_incorrect"]["recall"])


@pytest.mark.parametrize(("model", "truth", "cols"), [
    (("with_mask", "without_mask", "mask_incorrect"), ["with_mask", "without_mask"], [0, 1]),
    (("with_mask", "without_mask", "mask_incorrect"), ["with_mask", "mask_incorrect", "without_mask"], [0, 1, 2]),
    (("with_mask", "without_mask"), ["with_mask", "without_mask", "mask_incorrect"], [0, 1]),
    (("with_mask", "without_mask", "mask_incorrect"), ["with_mask"], [0, 1, 2]),  # 1 class: no restriction
])
def test_argmax_over_classes_present(model: tuple[str, ...], truth: list[str], cols: list[int]) -> None:
    assert class_columns(model, truth) == cols


def test_voc_reader_maps_labels_and_clips(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    (tmp_path / "images" / "scene2.png").write_bytes(b"")
    (tmp_path / "annotations" / "scene2.xml").write_text(
        "<annotation><filename>scene2.png</filename><size><width>100</width><height>50</height></size>"
        "<object><name>mask_weared_incorrect</name><bndbox><xmin>90</xmin><ymin>-1</ymin><xmax>101</xmax>"
        "<ymax>20</ymax></bndbox></object>"
        "<object><name>without_mask</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax>"
        "</bndbox></object></annotation>")
    (tmp_path / "annotations" / "orphan.xml").write_text("<annotation><filename>x.png</filename></annotation>")
    assert is_voc(tmp_path)
    [s] = read_voc(tmp_path)
    assert s.labels == ("mask_incorrect", "without_mask")
    np.testing.assert_allclose(s.boxes, [[90, 0, 100, 20], [1, 2, 3, 4]])


def test_class_folder_reader_loose_names_and_interleaved_limit(tmp_path: Path) -> None:
    for d, n in (("WithMask", 3), ("without-mask", 2), ("other", 1)):
        (tmp_path / d).mkdir()
        for i in range(n):
            (tmp_path / d / f"{i}.jpg").write_bytes(b"")
    assert not is_voc(tmp_path)
    assert [s.label for s in read_class_folders(tmp_path)].count("with_mask") == 3
    assert [s.label for s in read_class_folders(tmp_path, limit=3)] == ["with_mask", "without_mask", "with_mask"]


need_model = pytest.mark.skipif(not PACKAGED_MODEL.is_file(),
                                reason=f"no packaged model yet ({PACKAGED_MODEL} missing; the trainer ships it)")


def _run_eval(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    from edge_agent.cli import main

    assert main(["eval", *args, "--json"]) == 0  # default: the accuracy profile the evaluators get
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.data
@pytest.mark.slow
@need_model
def test_eval_voc_subset(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    voc = DATA / "andrewmvd"
    if not is_voc(voc):
        pytest.skip(f"{voc} not found (../shared/data is absent here)")
    preds = tmp_path / "p.jsonl"
    r = _run_eval(["--data", str(voc), "--limit", "8", "--predictions", str(preds)], capsys)
    assert r["format"] == "voc" and r["images"] == 8
    det = r["detection"]
    assert det["gt_faces"] == r["classification"]["n"] > 0
    assert 0.7 <= det["face_recall_iou30"] <= 1.0
    assert 0.0 <= det["map50_with_without"] <= 1.0
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    gt_rows = [x for x in rows if x["kind"] == "ground_truth"]
    assert len(gt_rows) == det["gt_faces"]
    assert {"image", "box", "true", "pred", "score"} <= set(gt_rows[0])
    assert r["classification"]["accuracy"] > 0.5


@pytest.mark.data
@pytest.mark.slow
@need_model
def test_eval_class_folders_subset(capsys: pytest.CaptureFixture[str]) -> None:
    root = DATA / "chandrikadeb7"
    if not root.is_dir():
        pytest.skip(f"{root} not found (../shared/data is absent here)")
    r = _run_eval(["--data", str(root), "--limit", "10"], capsys)
    c = r["classification"]
    assert r["format"] == "class_folders" and c["n"] == 10
    assert c["per_class"]["with_mask"]["support"] == 5 and c["per_class"]["without_mask"]["support"] == 5
    assert c["argmax_over"] == [lab for lab in c["labels"] if lab != "mask_incorrect"]
    assert 0 <= c["no_face_found"] <= 10


@need_model
def test_detect_command_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    from edge_agent.cli import main

    img = cv2.imread(str(ASTRONAUT_JPG))
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "astronaut.png"), img)
    cv2.imwrite(str(tmp_path / "half.jpg"), cv2.resize(img, (256, 256)))
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert main(["detect", str(tmp_path / "sub"), str(tmp_path / "half.jpg"), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [Path(x["image"]).name for x in lines] == ["astronaut.png", "half.jpg"]
    for line, k in zip(lines, (1.0, 0.5), strict=True):
        assert len(line["faces"]) >= 1
        face = max(line["faces"], key=lambda f: f["score"])
        assert set(face) == {"box", "label", "score"} and face["label"] in ("with_mask", "without_mask", "mask_incorrect")
        assert 0.0 < face["score"] <= 1.0
        x1, y1, x2, y2 = face["box"]  # original pixels: the half-size image gives half-size boxes
        assert abs((x1 + x2) / 2 - 226 * k) < 20 * k and abs((y1 + y2) / 2 - 125 * k) < 25 * k
    assert main(["detect", str(tmp_path / "broken.jpg"), str(tmp_path / "half.jpg")]) == 1
    out = capsys.readouterr()
    assert "cannot read image" in out.err and "half.jpg" in out.out
