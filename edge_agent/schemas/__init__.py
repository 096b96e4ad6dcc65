"""JSON Schemas of the MQTT payloads (from the pydantic models in ``edge_agent.events``) and of the config.

The ``*.json`` files here, ``docs/config.schema.json`` and the ``Event`` schema in ``dashboard/openapi.yaml``
(:data:`GENERATORS`) are generated; a test fails when they are stale.
Regenerate with ``python -m edge_agent.schemas`` (from the repository root).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_agent.core.topics import Kind

HERE = Path(__file__).parent
#: payload kind -> schema file name in this folder
FILES: dict[Kind, str] = {Kind.EVENT: "violation.schema.json", Kind.STATS: "stats.schema.json",
                          Kind.STATUS: "camera_status.schema.json"}


def payload_schemas() -> dict[str, dict[str, Any]]:
    """``{file name: JSON Schema}`` for every JSON payload the agent publishes."""
    from edge_agent.events import JSON_PAYLOADS

    out = {}
    for kind, model in JSON_PAYLOADS.items():
        schema = model.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://maskwatch.invalid/schemas/{FILES[kind]}"
        out[FILES[kind]] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


#: modules outside the agent that generate files from these models, each with ``expected_files(repo_root)``;
#: reached by name, as ``edge_agent.cli.COMMANDS`` reaches the dashboard (the agent imports none of them)
GENERATORS = ("dashboard.api_schema",)


def expected_files(repo_root: Path) -> dict[Path, str]:
    """Every generated file and its expected content."""
    import importlib

    from edge_agent.commands.config_cmd import config_json_schema

    files = {HERE / name: render(schema) for name, schema in payload_schemas().items()}
    files[repo_root / "docs" / "config.schema.json"] = render(config_json_schema())
    for module in GENERATORS:
        files.update(importlib.import_module(module).expected_files(repo_root))
    return files


def load(kind: Kind | str) -> dict[str, Any]:
    """The stored schema of payload ``kind`` (event, stats, status)."""
    result: dict[str, Any] = json.loads((HERE / FILES[Kind(kind)]).read_text(encoding="utf-8"))
    return result


def main() -> None:
    root = HERE.parents[1]
    for path, text in expected_files(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(root)}")


if __name__ == "__main__":
    main()
