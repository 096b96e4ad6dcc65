"""bench/cross_source.py: a model scored on every face of a data set, refusing one it trained on."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from edge_agent.config import PACKAGED_MODEL

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "cross_source.py"
FACES = [("with_mask", (10, 10, 50, 50)), ("without_mask", (70, 12, 110, 52)), ("mask_incorrect", (130, 8, 172, 50))]


def _voc(root: Path, n: int = 4) -> None:
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(root / "images" / f"p{i}.png"), rng.integers(0, 255, (70, 190, 3), dtype=np.uint8))
        objs = "".join(f"<object><name>{lab}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
                       f"<ymax>{b[3]}</ymax></bndbox></object>" for lab, b in FACES)
        (root / "annotations" / f"p{i}.xml").write_text(
            f"<annotation><filename>p{i}.png</filename><size><width>190</width><height>70</height></size>{objs}</annotation>")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_scores_every_face_and_the_two_class_subset(tmp_path: Path) -> None:
    _voc(tmp_path / "voc")
    out = tmp_path / "figures.json"
    r = _run("--voc", str(tmp_path / "voc"), "--json", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert r.returncode == 0, r.stderr
    figures = json.loads(out.read_text())
    assert figures["n"] == 12 and figures["seen"] is False
    assert {k: v["support"] for k, v in figures["per_class"].items()} == {"with_mask": 4, "without_mask": 4,
                                                                         "mask_incorrect": 4}
    assert figures["two_class"]["n"] == 8 and 0.0 <= figures["two_class"]["accuracy"] <= 1.0
    assert "two-class accuracy on its 8 with_mask/without_mask faces" in r.stdout


def test_refuses_a_source_the_model_trained_on(tmp_path: Path) -> None:
    _voc(tmp_path / "voc")
    card = json.loads(PACKAGED_MODEL.read_text())
    card["training"]["options"]["sources"] = [{"type": "voc", "path": str(tmp_path / "voc")}]
    (tmp_path / "card.json").write_text(json.dumps(card))
    r = _run("--voc", str(tmp_path / "voc"), "--card", str(tmp_path / "card.json"))
    assert r.returncode == 2
    assert "was trained on" in r.stderr and "--allow-seen" in r.stderr
