"""The generated JSON Schemas (payloads and config) must match the models; regenerate with
``python -m edge_agent.schemas``."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.schemas import expected_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("path", "text"), sorted(expected_files(ROOT).items()), ids=lambda v: getattr(v, "name", ""))
def test_generated_schema_is_current(path: Path, text: str) -> None:
    assert path.is_file(), f"{path} is missing: run python -m edge_agent.schemas"
    assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python -m edge_agent.schemas"
