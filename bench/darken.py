"""Make a darkened copy of a VOC folder (images/ + annotations/): a night-time version of the same scenes.

    python bench/darken.py /tmp/andrewmvd-test /tmp/andrewmvd-test-dark
    maskwatch eval --data /tmp/andrewmvd-test-dark

Per image, in linear-ish terms: ``v = 255 * gain * (x / 255) ** gamma`` (a darker exposure through a camera's
tone curve), then sensor noise: Poisson-like shot noise (standard deviation ``shot * sqrt(v)``) plus Gaussian
read noise (``read`` grey levels), rounded to 8 bits. Seeded by the file name, so a rerun writes the same
pixels. Annotations are linked, not copied. Defaults: gamma 2.2, gain 0.35, shot 0.6, read 2.0 (the issue's
recipe; an independent check uses a recipe this script does not know).
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

from edge_agent.sources.walks import darken  # the one darkening recipe (the walks scene's dim light too)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--gamma", type=float, default=2.2)
    p.add_argument("--gain", type=float, default=0.35)
    p.add_argument("--shot", type=float, default=0.6)
    p.add_argument("--read", type=float, default=2.0)
    a = p.parse_args()
    (a.out / "images").mkdir(parents=True, exist_ok=True)
    (a.out / "annotations").mkdir(parents=True, exist_ok=True)
    n = 0
    means = []
    for img_path in sorted((a.src / "images").iterdir()):
        img = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
        if img is None:
            continue
        seed = int.from_bytes(hashlib.sha1(img_path.name.encode()).digest()[:4], "little")
        dark = darken(img, a.gamma, a.gain, a.shot, a.read, seed)
        cv2.imwrite(str(a.out / "images" / (img_path.stem + ".png")), dark)
        means.append((float(img.mean()), float(dark.mean())))
        n += 1
    for xml in sorted((a.src / "annotations").glob("*.xml")):
        link = a.out / "annotations" / xml.name
        if not link.exists():
            os.symlink(xml.resolve(), link)
    m = np.array(means)
    print(f"{n} images darkened: mean grey {m[:, 0].mean():.1f} -> {m[:, 1].mean():.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
