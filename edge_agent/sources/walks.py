"""A scripted demo scene with known ground truth per person, for the per-person video metric.

People walk in from the left or the right edge, some pause, some turn round at the pause and walk back out
the side they came from, people going opposite ways pass each other in neighbouring lanes, and the light
is bright for the first half of the scene and dim for the second (``dim``: a darker exposure through a
camera's tone curve plus sensor noise, :func:`darken`). The faces and masks are the demo scene's
(``edge_agent.sources.demo``). The schedule is seeded and checked so that no two faces ever overlap: every
person is a separate, fully known track. ``ground_truth`` gives each person's label and box per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_agent.core.frames import Image
from edge_agent.sources.demo import KINDS, DemoScene, PersonInScene, paste, torso


def darken(img: Image, gamma: float = 2.2, gain: float = 0.35, shot: float = 0.6, read: float = 2.0,
           seed: int = 0) -> Image:
    """Night-time version of an image: ``255 * gain * (x / 255) ** gamma``, then shot noise (standard
    deviation ``shot * sqrt(v)``) and read noise (``read`` grey levels), rounded to 8 bits."""
    rng = np.random.default_rng(seed)
    v = 255.0 * gain * (img.astype(np.float32) / 255.0) ** gamma
    v += rng.normal(0.0, 1.0, v.shape).astype(np.float32) * (shot * np.sqrt(v) + read)
    out: Image = np.clip(np.rint(v), 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True, slots=True)
class Walk:
    person: int
    label: str
    sprite: int  # index into the scene's sprites (one of the two of this label)
    enter_t: float
    from_left: bool
    y: int  # sprite top, scene pixels
    speed: float  # px/s
    pause_x: float | None  # sprite left x where the person stops (None: walks straight through)
    pause_s: float
    turn: bool  # after the pause, walks back out the side they came in


class WalkScene:
    """``people`` walks over ``width`` x ``height``; scene time ``t`` in seconds."""

    def __init__(self, width: int = 1280, height: int = 720, people: int = 24, seed: int = 0,
                 gap_s: float = 2.5) -> None:
        self.width, self.height = width, height
        self._demo = DemoScene(width, height)
        self._sprites = self._demo._sprites
        self._mirrored = [(h[:, ::-1].copy(), a[:, ::-1].copy(), (h.shape[1] - b[2], b[1], h.shape[1] - b[0], b[3]), lab)
                          for h, a, b, lab in self._sprites]
        self.walks: list[Walk] = []
        rng = np.random.default_rng(seed)
        lanes = [int(height * f) for f in (0.05, 0.31, 0.57)]  # faces of neighbouring lanes never overlap
        t = 0.5
        while len(self.walks) < people:
            k = len(self.walks)
            label = KINDS[k % len(KINDS)]
            options = [i for i, s in enumerate(self._sprites) if s[3] == label]
            pause = rng.random() < 0.5
            w = Walk(k, label, options[int(rng.integers(len(options)))], t, bool(k % 2 == 0),
                     lanes[int(rng.integers(len(lanes)))], float(rng.uniform(70, 130)),
                     float(rng.uniform(0.2, 0.6) * width) if pause else None, float(rng.uniform(1.0, 2.0)),
                     bool(pause and rng.random() < 0.5))
            if self._clear(w):
                self.walks.append(w)
                t += gap_s
            else:
                t += 0.5  # wait for the lane to clear
        self.duration = max(self._exit_t(w) for w in self.walks) + 0.5
        self.dim_from = self.duration / 2  # bright, then dim

    # ------------------------------------------------------------ motion
    def _size(self, w: Walk) -> tuple[int, int]:
        head = self._sprites[w.sprite][0]
        return head.shape[1], head.shape[0]

    def _x(self, w: Walk, t: float) -> tuple[float, bool] | None:
        """Sprite left x and whether it faces its walking direction flipped (turned round), or None if not yet
        in / already gone."""
        sw, _ = self._size(w)
        start = -sw if w.from_left else self.width
        direction = 1.0 if w.from_left else -1.0
        dt = t - w.enter_t
        if dt < 0:
            return None
        if w.pause_x is None:
            x = start + direction * w.speed * dt
            return (x, False) if -sw <= x <= self.width else None
        reach = abs(w.pause_x - start) / w.speed
        if dt <= reach:
            return start + direction * w.speed * dt, False
        if dt <= reach + w.pause_s:
            return w.pause_x, w.turn and dt > reach + w.pause_s / 2  # turns round halfway through the pause
        back = -direction if w.turn else direction
        x = w.pause_x + back * w.speed * (dt - reach - w.pause_s)
        return (x, w.turn) if -sw <= x <= self.width else None

    def _exit_t(self, w: Walk) -> float:
        t = w.enter_t
        while self._x(w, t) is not None or t == w.enter_t:
            t += 0.2
        return t

    def _box(self, w: Walk, t: float) -> tuple[tuple[int, int, int, int], bool] | None:
        pos = self._x(w, t)
        if pos is None:
            return None
        x, turned = pos
        sprites = self._mirrored if turned else self._sprites
        bx1, by1, bx2, by2 = sprites[w.sprite][2]
        return (int(x) + bx1, w.y + by1, int(x) + bx2, w.y + by2), turned

    def _clear(self, new: Walk) -> bool:
        """No face of ``new`` overlaps another person's face (with a 10 px gap), at any time."""
        t = new.enter_t
        end = self._exit_t(new)
        while t <= end:
            a = self._box(new, t)
            if a is not None:
                for w in self.walks:
                    b = self._box(w, t)
                    if b is not None and _overlap(a[0], b[0], 10):
                        return False
            t += 0.1
        return True

    # ------------------------------------------------------------ ground truth and pixels
    def dim(self, t: float) -> bool:
        return t >= self.dim_from

    def people_at(self, t: float) -> list[PersonInScene]:
        """Face boxes (clipped to the frame) of everyone at least half in view, and what they wear."""
        out = []
        for w in self.walks:
            b = self._box(w, t)
            if b is None:
                continue
            (x1, y1, x2, y2), _ = b
            box = (max(x1, 0), max(y1, 0), min(x2, self.width), min(y2, self.height))
            if box[2] - box[0] > 0.5 * (x2 - x1):
                out.append(PersonInScene(box, w.label, w.person))
        return out

    def render(self, t: float) -> Image:
        frame = self._demo._background.copy()
        shown = [(w, pos) for w in self.walks if (pos := self._x(w, t)) is not None]
        for w, (x, _) in shown:  # bodies first, so that no body hides a face
            torso(frame, self._size(w), int(x), w.y, w.person)
        for w, (x, turned) in shown:
            head, alpha, _, _ = (self._mirrored if turned else self._sprites)[w.sprite]
            paste(frame, head, alpha, int(x), w.y)
        if self.dim(t):
            frame = darken(frame, seed=int(t * 1000))
        return frame

    def ground_truth(self, fps: float) -> dict[str, object]:
        """Each person's label, lighting and face box per frame at ``fps`` (JSON-ready)."""
        people: dict[int, dict[str, object]] = {
            w.person: {"person": w.person, "label": w.label, "from": "left" if w.from_left else "right",
                       "pauses": w.pause_x is not None, "turns": w.turn, "frames": []} for w in self.walks}
        n = int(self.duration * fps)
        for i in range(n):
            t = i / fps
            for p in self.people_at(t):
                people[p.person]["frames"].append([round(t, 3), *p.box])  # type: ignore[attr-defined]
        for w in self.walks:
            frames = people[w.person]["frames"]
            people[w.person]["dim"] = bool(frames) and self.dim(frames[len(frames) // 2][0])  # type: ignore[index]
        return {"width": self.width, "height": self.height, "fps": fps, "duration_s": round(self.duration, 2),
                "dim_from_s": round(self.dim_from, 2), "people": list(people.values())}


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int) -> bool:
    return a[0] - gap < b[2] and b[0] - gap < a[2] and a[1] - gap < b[3] and b[1] - gap < a[3]
