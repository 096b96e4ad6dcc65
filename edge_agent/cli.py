"""``maskwatch`` command: one entry point, subcommands loaded lazily so the agent never imports TensorFlow.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int`` and
keeps heavy imports inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from edge_agent import __version__
from edge_agent.config import ConfigError

#: subcommand -> module. trainer and dashboard are separate packages, reached only through here.
COMMANDS: dict[str, str] = {
    "agent": "edge_agent.commands.agent",
    "detect": "edge_agent.commands.detect",
    "eval": "edge_agent.commands.evaluate",
    "demo": "edge_agent.commands.demo",
    "config": "edge_agent.commands.config_cmd",
    "train": "trainer.cli",
    "dashboard": "dashboard.cli",
}

EXIT_CONFIG = 2


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names (its first word), or None (no command, ``--help``, ``--version``)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's module is imported (the others get a bare entry):
    ``maskwatch agent`` must not import the dashboard's Flask stack (~23 MB of RSS) or the demo's modules."""
    parser = argparse.ArgumentParser(prog="maskwatch", description="MaskWatch mask-compliance monitor")
    parser.add_argument("--version", action="version", version=f"maskwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name)
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:  # an optional part not installed (e.g. the [train] extra)
            p = sub.add_parser(name, help=f"(unavailable: {err.name} not installed)")
            p.set_defaults(_missing=err)
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(chosen_command(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    missing = getattr(args, "_missing", None)
    if missing is not None:
        print(f"maskwatch {args.command}: needs {missing.name}, which is not installed "
              f"(pip install 'maskwatch[{'train' if args.command == 'train' else args.command}]')",
              file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(getattr(args, "log_level", None) or "INFO")
    try:
        return int(args._run(args) or 0)
    except ConfigError as err:
        print(f"maskwatch {args.command}: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
