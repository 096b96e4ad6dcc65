"""``maskwatch config check|schema``: validate a config file (and load its detector and classifier and run
them once on a shipped photo), or print the config's JSON schema."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "validate a config file and run its models once (check) or print the config JSON schema (schema)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["check", "schema"])
    p.add_argument("--config", type=Path, help="config file (default: $MASKWATCH_CONFIG, ./config.yaml)")
    p.add_argument("--agent", action="store_true",
                   help="check: as the agent service loads it (the dashboard side's secrets need not be set)")
    p.add_argument("--no-models", action="store_true",
                   help="check: validate only; do not load the detector and classifier or run them")


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
    from edge_agent.config import agent_sections

    cfg = load_config(args.config, own_sections=agent_sections if args.agent else None)
    valid = f"site {cfg.site}, agent {cfg.agent_id}, {len(cfg.cameras)} camera(s), detector {cfg.detector.type}"
    if args.no_models:
        print(f"ok: {valid} (models not loaded: --no-models)")
    else:
        from edge_agent.config import ConfigError
        from edge_agent.selfcheck import self_check

        check = self_check(cfg)
        if not check.faces:
            raise ConfigError(f"detector ({cfg.detector.type}): found no face in the shipped test photo; "
                              "check detector.score_threshold and detector.min_face_px")
        print(f"ok: {valid}\nok: {check.summary()}")
    return 0
