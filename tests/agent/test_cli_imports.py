"""``maskwatch agent`` imports only the agent's command: not the dashboard's Flask stack or the demo (RSS)."""

from __future__ import annotations

import subprocess
import sys

from edge_agent import cli

PROBE = """
import sys
from edge_agent import cli
args = cli.build_parser(cli.chosen_command({argv!r})).parse_args({argv!r})
print(args.command, args._run.__module__)
print(sorted(m for m in ("flask", "dashboard.cli", "sqlalchemy", "edge_agent.commands.demo") if m in sys.modules))
"""


def probe(argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True,
                         check=True, timeout=120)
    return out.stdout.splitlines()


def test_the_agent_command_does_not_import_the_dashboard_or_the_demo():
    lines = probe(["agent", "--config", "x.yaml"])
    assert lines == ["agent edge_agent.commands.agent", "[]"]


def test_other_commands_still_parse_with_only_their_module():
    assert probe(["config", "check", "--config", "x.yaml"])[0] == "config edge_agent.commands.config_cmd"


def test_no_command_or_help_lists_every_command(capsys):
    assert cli.chosen_command([]) is None
    assert cli.chosen_command(["--help"]) is None
    assert cli.chosen_command(["agent", "--config", "x"]) == "agent"
    help_text = cli.build_parser().format_help()
    for name in cli.COMMANDS:
        assert name in help_text
