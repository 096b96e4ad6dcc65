"""``maskwatch config check|schema``: validate a config file, or print the config's JSON schema."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "validate a config file (check) or print the config JSON schema (schema)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["check", "schema"])
    p.add_argument("--config", type=Path, help="config file (default: $MASKWATCH_CONFIG, ./config.yaml)")


def config_json_schema() -> dict[str, object]:
    from edge_agent.config import Config

    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "MaskWatch configuration"
    return schema


def run(args: argparse.Namespace) -> int:
    from edge_agent.config import load_config

    if args.action == "schema":
        print(json.dumps(config_json_schema(), indent=2, sort_keys=True))
        return 0
    cfg = load_config(args.config)
    print(f"ok: site {cfg.site}, agent {cfg.agent_id}, {len(cfg.cameras)} camera(s), detector {cfg.detector.type}")
    return 0
