"""Face detector plugins, chosen by the config's ``detector.type``.

Explicit registry ``{type: (ConfigModel, factory)}``, keyed by each config model's own ``type`` (the models
are in edge_agent/detectors/configs.py; the schema's ``detector`` union is built from this registry); every
kind passes the same contract tests (tests/agent/test_detectors.py). Heavy imports happen in the factories, on
first use, so that the config schema imports this package without OpenCV.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from edge_agent.config_base import registry
from edge_agent.detectors.base import Detector, DetectorError
from edge_agent.detectors.configs import BlazeFaceConfig, CenterFaceConfig, FakeDetectorConfig


def _centerface(cfg: Any) -> Detector:
    from edge_agent.detectors.centerface import CenterFaceDetector

    return CenterFaceDetector(cfg)


def _blazeface(cfg: Any) -> Detector:
    from edge_agent.detectors.blazeface import BlazeFaceDetector

    return BlazeFaceDetector(cfg)


def _fake(cfg: Any) -> Detector:
    from edge_agent.detectors.fake import FakeDetector

    return FakeDetector(cfg)


REGISTRY: dict[str, tuple[type[BaseModel], Callable[[Any], Detector]]] = registry(
    (CenterFaceConfig, _centerface),
    (BlazeFaceConfig, _blazeface),
    (FakeDetectorConfig, _fake),
)


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
