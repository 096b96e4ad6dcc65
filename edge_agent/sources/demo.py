"""A generated scene of real faces walking across a corridor, some masked, some not, some with the mask
below the nose. Needs no download: the two faces ship inside this package (``edge_agent/assets``).
Deterministic in scene time, so tests can render clips and know where every face is (``DemoScene.people_at``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_agent.assets import ASTRONAUT_JPG, GRACE_HOPPER_JPG
from edge_agent.config import CameraConfig
from edge_agent.core.frames import Frame, Image
from edge_agent.core.labels import MASK_INCORRECT, WITH_MASK, WITHOUT_MASK
from edge_agent.sources.base import FrameSource, SourceError
from edge_agent.sources.configs import DemoSource

KINDS = (WITHOUT_MASK, WITH_MASK, MASK_INCORRECT)


@dataclass(frozen=True, slots=True)
class FaceImage:
    """A photo with its face box and landmarks (eyes, nose tip, mouth corners), measured once with
    CenterFace on the packaged image."""

    name: str
    image: Image  # BGR
    box: tuple[int, int, int, int]
    eyes_y: float
    nose: tuple[float, float]
    mouth_y: float


@dataclass(frozen=True, slots=True)
class PersonInScene:
    box: tuple[int, int, int, int]  # face box in scene pixels
    label: str  # what the person wears: canonical label
    person: int


def _face(path: Path, box: tuple[int, int, int, int], eyes_y: float, nose: tuple[float, float],
          mouth_y: float) -> FaceImage:
    img = cv2.imread(str(path))
    if img is None:
        raise SourceError(f"demo source: cannot read the packaged face image {path}")
    return FaceImage(path.stem, img, box, eyes_y, nose, mouth_y)


def packaged_faces() -> list[FaceImage]:
    """The two public-domain portraits shipped in ``edge_agent/assets`` (see its PROVENANCE.md)."""
    return [
        _face(ASTRONAUT_JPG, (182, 58, 270, 178), 103.5, (223.0, 125.0), 143.0),
        _face(GRACE_HOPPER_JPG, (174, 128, 358, 334), 196.0, (265.0, 238.0), 275.5),
    ]


def draw_mask(face: FaceImage, label: str) -> Image:
    """The face photo with a surgical-style mask drawn: over nose and mouth (with_mask), below the nose
    (mask_incorrect), or none (without_mask)."""
    img = face.image.copy()
    if label == WITHOUT_MASK:
        return img
    x1, _, x2, y2 = face.box
    nose_x, nose_y = face.nose
    if label == WITH_MASK:
        top = face.eyes_y + 0.45 * (nose_y - face.eyes_y)
    else:
        top = nose_y + 0.6 * (face.mouth_y - nose_y)  # nostrils visible, mouth covered
    bottom = min(y2 + 0.05 * (y2 - face.box[1]), img.shape[0] - 1)
    w = x2 - x1
    left, right = x1 + 0.02 * w, x2 - 0.02 * w
    pts = np.array([
        (left, top + 0.12 * (bottom - top)), (nose_x - 0.15 * w, top), (nose_x + 0.15 * w, top),
        (right, top + 0.12 * (bottom - top)), (right - 0.06 * w, bottom - 0.1 * (bottom - top)),
        (nose_x, bottom), (left + 0.06 * w, bottom - 0.1 * (bottom - top)),
    ], np.int32)
    cv2.fillPoly(img, [pts], (235, 215, 170), lineType=cv2.LINE_AA)  # pale surgical blue (BGR)
    for k in (0.3, 0.5, 0.7):  # pleats
        y = int(top + k * (bottom - top))
        cv2.line(img, (int(left + 0.04 * w), y), (int(right - 0.04 * w), y), (200, 180, 140), 2, cv2.LINE_AA)
    cv2.polylines(img, [pts], True, (190, 170, 130), 2, cv2.LINE_AA)
    for side in (left, right):  # ear loops
        cv2.line(img, (int(side), int(top + 0.15 * (bottom - top))),
                 (int(side + (-0.08 if side == left else 0.08) * w), int(top - 0.1 * (bottom - top))),
                 (245, 245, 245), 2, cv2.LINE_AA)
    return img


def torso(frame: Image, size: tuple[int, int], x: int, y: int, k: int) -> None:
    """A person's torso (a rectangle in person ``k``'s shirt colour) under a head of ``size`` at (x, y)."""
    w, h = size
    shirt = ((k * 67) % 200 + 30, (k * 131) % 200 + 30, (k * 29) % 200 + 30)
    cv2.rectangle(frame, (x + w // 8, y + int(h * 0.9)), (x + w - w // 8, y + int(h * 2.6)), shirt, -1)


def paste(frame: Image, head: Image, alpha: Image, x: int, y: int) -> None:
    """Blend ``head`` onto ``frame`` at (x, y) through its ``alpha`` mask, clipped to the frame (in place)."""
    h, w = head.shape[:2]
    H, W = frame.shape[:2]
    fx1, fy1, fx2, fy2 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if fx2 <= fx1 or fy2 <= fy1:
        return
    sx1, sy1 = fx1 - x, fy1 - y
    a = alpha[sy1:sy1 + fy2 - fy1, sx1:sx1 + fx2 - fx1, None].astype(np.float32) / 255.0
    region = frame[fy1:fy2, fx1:fx2].astype(np.float32)
    patch = head[sy1:sy1 + fy2 - fy1, sx1:sx1 + fx2 - fx1].astype(np.float32)
    frame[fy1:fy2, fx1:fx2] = (patch * a + region * (1.0 - a)).astype(np.uint8)


class DemoScene:
    """People cross a ``width`` x ``height`` corridor left to right; scene time ``t`` in seconds."""

    def __init__(self, width: int = 1280, height: int = 720, face_px: int | None = None,
                 speed_px_s: float | None = None) -> None:
        self.width, self.height = width, height
        self.face_px = face_px or max(40, height // 6)  # face box height in the scene
        # slow walkers: an IoU tracker must still match a face between analysed frames on a slow CPU
        # (0.6 s per 720p frame measured on 2 busy cores: 20 px, under a quarter of a face width)
        self.speed = speed_px_s or width / 40.0
        self.lanes = 3
        self.spacing_s = (width + 2 * self.face_px) / self.speed / self.lanes
        self._background = self._make_background()
        self._sprites: list[tuple[Image, Image, tuple[int, int, int, int], str]] = []
        faces = packaged_faces()
        for i in range(len(KINDS) * len(faces)):
            face = faces[i % len(faces)]
            label = KINDS[i % len(KINDS)]
            flip = (i // len(faces)) % 2 == 1
            self._sprites.append(self._make_sprite(face, label, flip))

    def _make_background(self) -> Image:
        h, w = self.height, self.width
        ramp = np.linspace(150, 95, h, dtype=np.float32)[:, None]
        bg = np.repeat(np.repeat(ramp, w, axis=1)[:, :, None], 3, axis=2)
        bg[:, :, 0] += 12  # a cool tint
        floor = int(h * 0.78)
        bg[floor:] = (70, 80, 90)
        for x in range(0, w, max(w // 8, 1)):
            cv2.line(bg, (x, 0), (x, floor), (120, 125, 130), 2)
        return np.clip(bg, 0, 255).astype(np.uint8)

    def _make_sprite(self, face: FaceImage, label: str, flip: bool) -> tuple[Image, Image, tuple[int, int, int, int], str]:
        """Head (face photo cut with an oval) scaled so the face box is ``face_px`` tall, plus its alpha."""
        img = draw_mask(face, label)
        x1, y1, x2, y2 = face.box
        fw, fh = x2 - x1, y2 - y1
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        hw, hh = fw * 0.85, fh * 0.85  # half size of the head region
        H, W = img.shape[:2]
        rx1, ry1 = int(max(cx - hw, 0)), int(max(cy - hh, 0))
        rx2, ry2 = int(min(cx + hw, W)), int(min(cy + hh * 1.1, H))
        head = img[ry1:ry2, rx1:rx2]
        alpha = np.zeros(head.shape[:2], np.uint8)
        cv2.ellipse(alpha, (int(cx - rx1), int(cy - ry1)), (int(fw * 0.8), int(fh * 0.85)), 0, 0, 360, 255, -1)
        alpha = cv2.GaussianBlur(alpha, (0, 0), max(fw * 0.04, 1))
        scale = self.face_px / fh
        size = (max(int(head.shape[1] * scale), 1), max(int(head.shape[0] * scale), 1))
        head = cv2.resize(head, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
        box = (int((x1 - rx1) * scale), int((y1 - ry1) * scale), int((x2 - rx1) * scale), int((y2 - ry1) * scale))
        if flip:
            head, alpha = head[:, ::-1].copy(), alpha[:, ::-1].copy()
            box = (size[0] - box[2], box[1], size[0] - box[0], box[3])
        return head, alpha, box, label

    def _positions(self, t: float) -> list[tuple[int, int, int]]:
        """(person index, sprite left x, sprite top y) of everyone in view at time t."""
        out = []
        cross_s = (self.width + 2 * self.face_px * 2) / self.speed
        first = int(np.floor((t - cross_s) / self.spacing_s))
        for k in range(max(first, -self.lanes), int(np.floor(t / self.spacing_s)) + 1):
            start = k * self.spacing_s
            x = int(-2 * self.face_px + (t - start) * self.speed)
            if x > self.width or t < start:
                continue
            lane = k % self.lanes
            y = int(self.height * (0.12 + 0.2 * lane))
            out.append((k, x, y))
        return out

    def people_at(self, t: float) -> list[PersonInScene]:
        """Ground truth: face boxes (clipped to the frame) and what each person wears."""
        out = []
        for k, x, y in self._positions(t):
            _, _, (bx1, by1, bx2, by2), label = self._sprites[k % len(self._sprites)]
            box = (max(x + bx1, 0), max(y + by1, 0), min(x + bx2, self.width), min(y + by2, self.height))
            if box[2] - box[0] > 0.5 * (bx2 - bx1):
                out.append(PersonInScene(box, label, k))
        return out

    def render(self, t: float) -> Image:
        frame = self._background.copy()
        for k, x, y in self._positions(t):
            head, alpha, _, _ = self._sprites[k % len(self._sprites)]
            h, w = head.shape[:2]
            torso(frame, (w, h), x, y, k)  # a torso under the head
            paste(frame, head, alpha, x, y)
        return frame

    def write_clip(self, path: Path, seconds: float, fps: float = 15.0, start_s: float = 0.0) -> Path:
        """Render ``seconds`` of the scene into a video file (MJPG .avi, or mp4v .mp4)."""
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if str(path).endswith(".mp4") else "MJPG"))
        writer = cv2.VideoWriter(str(path), fourcc, fps, (self.width, self.height))
        if not writer.isOpened():
            raise SourceError(f"cannot write video {path}")
        try:
            for i in range(int(round(seconds * fps))):
                writer.write(self.render(start_s + i / fps))
        finally:
            writer.release()
        return path


class DemoCamera(FrameSource):
    """The demo scene as a live camera at ``fps``."""

    def __init__(self, source: DemoSource, camera: CameraConfig) -> None:
        self.config = source
        self.camera = camera
        self.scene: DemoScene | None = None
        self._seq = 0
        self._t0 = 0.0

    @property
    def what(self) -> str:
        return "demo source"

    def open(self) -> None:
        if self.scene is None:
            self.scene = DemoScene(self.config.width, self.config.height)
        self._t0 = time.monotonic() - self._seq / self.config.fps

    def read(self) -> Frame:
        if self.scene is None:
            raise SourceError("demo source is not open")
        due = self._t0 + self._seq / self.config.fps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        image = self.scene.render(self._seq / self.config.fps)
        self._seq += 1
        return Frame(image=image, time=time.time(), seq=self._seq)

    def close(self) -> None:
        pass
