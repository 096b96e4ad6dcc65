"""A tracked person's decided verdict: what the tracker hands the runtime (typed, frozen, no MQTT or I/O).

The tracker guarantees what the payloads require (a canonical label, a confidence in [0, 1], at least one
vote, an integer box), and the constructor checks it, so consumers convert instead of re-validating.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.core.labels import LABELS, Verdict


@dataclass(frozen=True, slots=True)
class Decision:
    """A tracked person's verdict, decided once from several agreeing frames."""

    track_id: int
    verdict: Verdict  # canonical label
    confidence: float  # mean class probability over the agreeing votes, in [0, 1]
    votes: int  # >= 1
    box: tuple[int, int, int, int]  # face box in the deciding frame, pixels of the original frame
    time: float  # capture time (UNIX seconds) of the deciding frame

    def __post_init__(self) -> None:
        if self.verdict not in LABELS:
            raise ValueError(f"verdict {self.verdict!r} must be one of {', '.join(LABELS)}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")
        if self.votes < 1:
            raise ValueError(f"votes must be >= 1, got {self.votes}")
        if len(self.box) != 4 or not all(isinstance(v, int) for v in self.box):
            raise ValueError(f"box must be 4 integers, got {self.box!r}")
