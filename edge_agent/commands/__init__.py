"""Subcommands of ``maskwatch`` (see edge_agent.cli)."""
