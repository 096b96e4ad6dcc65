"""``maskwatch config check|schema``: validate a config file (and load its detector and classifier and run
them once on a shipped photo), or print the config's JSON schema."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

#: the model of the whole config file: the agent's Config with the dashboard side's sections typed. Reached by
#: module name (as ``cli.COMMANDS`` reaches the dashboard): the agent's own code never imports the dashboard.
FULL_MODEL = "dashboard.settings:Settings"

HELP = "validate a config file and run its models once (check) or print the config JSON schema (schema)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["check", "schema"])
    p.add_argument("--config", type=Path, help="config file (default: $MASKWATCH_CONFIG, ./config.yaml)")
    p.add_argument("--agent", action="store_true",
                   help="check: as the agent service loads it (the dashboard side's secrets need not be set)")
    p.add_argument("--no-models", action="store_true",
                   help="check: validate only; do not load the detector and classifier or run them")


def full_model() -> Any:
    """The class that validates every section (``FULL_MODEL``)."""
    module, name = FULL_MODEL.split(":")
    return getattr(importlib.import_module(module), name)


def config_json_schema() -> dict[str, object]:
    schema: dict[str, object] = full_model().model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "MaskWatch configuration"
    return schema


def run(args: argparse.Namespace) -> int:
    from edge_agent.config import load_config

    if args.action == "schema":
        print(json.dumps(config_json_schema(), indent=2, sort_keys=True))
        return 0
    from edge_agent.config import agent_sections

    # every section, also with --agent (then only the dashboard side's ${VAR}s may be unset)
    cfg = load_config(args.config, own_sections=agent_sections if args.agent else None, model=full_model())
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
