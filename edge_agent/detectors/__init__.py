"""Face detector plugins, chosen by the config's ``detector.type``.

Explicit registry ``{type: (ConfigModel, factory)}``; every kind passes the same contract tests
(tests/agent/test_detectors.py). Heavy imports happen in the factories, on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from edge_agent.config import BlazeFaceConfig, CenterFaceConfig, FakeDetectorConfig
from edge_agent.detectors.base import Detector, DetectorError


def _centerface(cfg: Any) -> Detector:
    from edge_agent.detectors.centerface import CenterFaceDetector

    return CenterFaceDetector(cfg)


def _blazeface(cfg: Any) -> Detector:
    from edge_agent.detectors.blazeface import BlazeFaceDetector

    return BlazeFaceDetector(cfg)


def _fake(cfg: Any) -> Detector:
    from edge_agent.detectors.fake import FakeDetector

    return FakeDetector(cfg)


REGISTRY: dict[str, tuple[type[BaseModel], Callable[[Any], Detector]]] = {
    "centerface": (CenterFaceConfig, _centerface),
    "blazeface": (BlazeFaceConfig, _blazeface),
    "fake": (FakeDetectorConfig, _fake),
}


def create_detector(cfg: BaseModel) -> Detector:
    """Build the detector a validated config section describes."""
    kind = getattr(cfg, "type", None)
    if kind not in REGISTRY:
        raise DetectorError(f"detector.type: unknown {kind!r}; allowed: {', '.join(REGISTRY)}")
    model, factory = REGISTRY[kind]
    if not isinstance(cfg, model):
        raise DetectorError(f"detector config for {kind!r} must be a {model.__name__}, got {type(cfg).__name__}")
    return factory(cfg)


__all__ = ["REGISTRY", "Detector", "DetectorError", "create_detector"]
