"""Tests of agent: see tests/README.md."""
