"""Which faces an image may show, per privacy mode (docs/privacy.md). Decided on the device, before encoding.

- ``blur_bystanders`` (default): a snapshot shows the violator it was taken for and blurs everyone else; a
  preview shows only people whose track has been decided a violation, everyone else blurred.
- ``blur_all``: every face blurred in snapshots and previews (compliance statistics only).
- ``no_images``: no snapshot and no preview is produced; events and statistics still are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from edge_agent.config import PrivacyMode


@dataclass(frozen=True, slots=True)
class Privacy:
    mode: PrivacyMode

    @property
    def images(self) -> bool:
        """Whether any frame or face crop may leave the device."""
        return self.mode != "no_images"

    @property
    def blur_violator(self) -> bool:
        return self.mode != "blur_bystanders"

    def preview_blur(self, track_ids: Sequence[int], violators: ViolatorTracks) -> list[bool]:
        """Per face of a frame: blur it in the preview?"""
        if self.blur_violator:
            return [True] * len(track_ids)
        return [t not in violators.ids for t in track_ids]


@dataclass(slots=True)
class ViolatorTracks:
    """Track ids decided a violation that are still in view (for the preview); ids of tracks that left
    the frame are forgotten, so a new person in a reused position is blurred until decided."""

    ids: set[int] = field(default_factory=set)

    def update(self, decided: Iterable[int], in_view: Iterable[int]) -> None:
        self.ids.update(decided)
        self.ids.intersection_update(in_view)
