"""``maskwatch agent --config FILE``: run the edge agent until SIGTERM/SIGINT; SIGHUP reloads the config."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

HELP = "run the edge agent: cameras -> mask verdicts -> MQTT"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="config file (default: $MASKWATCH_CONFIG, ./config.yaml, "
                   "/etc/maskwatch/config.yaml)")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="overrides the config's log_level")


def run(args: argparse.Namespace) -> int:
    import sys

    from edge_agent.classifier import ModelError
    from edge_agent.config import agent_sections, find_config, load_config
    from edge_agent.detectors.base import DetectorError
    from edge_agent.memory import tune_malloc
    from edge_agent.runtime import Runtime

    path = find_config(args.config)
    config = load_config(path, own_sections=agent_sections)  # the dashboard's secrets are not ours
    level = args.log_level or config.log_level
    logging.getLogger().setLevel(level)
    tune_malloc()  # frame-sized blocks unmapped when freed (edge_agent/memory.py); logs at the chosen level
    if not config.cameras:
        logging.getLogger(__name__).warning("no cameras configured: only availability will be published")
    try:
        return Runtime(config, config_path=path).run()
    except (ModelError, DetectorError) as err:
        print(f"maskwatch agent: {err}", file=sys.stderr)
        return 2
